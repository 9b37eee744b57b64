//! Parse and validate a plan file: text → `RawPlan` (syntax) → `Plan` (validate).

pub mod checks;
pub mod ec2;
pub mod model;
pub mod syntax;
pub mod validate;
pub mod values;

use std::path::{Path, PathBuf};

use crate::diag::{self, Diagnostic};
pub use model::{Action, HostSpec, Plan, Provider, Step};

/// The plan file's text, kept for rendering diagnostics from any stage.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    /// Renders diagnostics against this file, ending with a summary line.
    pub fn render(&self, diagnostics: &[Diagnostic], what_stopped: &str) -> String {
        diag::render(
            &self.path.display().to_string(),
            &self.text,
            diagnostics,
            what_stopped,
        )
    }
}

/// Reads, parses and validates `path`; resource paths resolve against `base`.
pub fn load(path: &Path, base: &Path) -> Result<(Plan, Source), crate::Error> {
    let bytes = fs_err::read(path)
        .map_err(|e| crate::Error::msg(e.to_string()).help("check the plan's path"))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        crate::Error::msg(format!("{}: the plan is not UTF-8 text", path.display()))
    })?;
    let source = Source {
        path: path.to_path_buf(),
        text,
    };
    let raw = syntax::parse(&source.text)
        .map_err(|d| crate::Error::Diagnostics(source.render(&d, "nothing was planned")))?;
    let cx = validate::Context {
        file: path,
        file_hash: crate::hash::sha256_hex(source.text.as_bytes()),
        base,
    };
    let plan = validate::validate(raw, cx)
        .map_err(|d| crate::Error::Diagnostics(source.render(&d, "nothing was planned")))?;
    Ok((plan, source))
}
