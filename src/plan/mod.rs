//! Parse and validate a plan file: text → `RawPlan` (syntax) → `Plan` (validate).

mod analyses;
pub mod checks;
pub mod ec2;
mod groups;
pub mod model;
pub mod monitoring;
pub mod network;
pub mod publish;
mod series;
mod steps;
pub mod syntax;
mod trial;
pub mod validate;
pub mod values;

use std::path::{Path, PathBuf};

use crate::diag::{self, Diagnostic};
pub use model::{Action, HostSpec, Plan, Step};
pub use series::STATISTICS;

/// The plan file's text, kept for rendering diagnostics from any stage.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    /// Diagnostics against this file, as data.
    pub fn report(&self, diagnostics: Vec<Diagnostic>) -> diag::Report {
        diag::Report {
            file: self.path.display().to_string(),
            source: self.text.clone(),
            diagnostics,
        }
    }
}

/// Why a plan could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: the plan is not UTF-8 text", path.display())]
    NotUtf8 { path: PathBuf },
    /// Diagnostics against the file.
    #[error("{}", .0.render("the plan has errors").trim_end())]
    Invalid(Box<diag::Report>),
}

impl Error {
    pub fn help(&self) -> Option<String> {
        match self {
            Error::Read { .. } => Some("check the plan's path".into()),
            _ => None,
        }
    }
}

/// Reads, parses and validates `path`; resource paths resolve against `base`.
pub fn load(path: &Path, base: &Path) -> Result<(Plan, Source), Error> {
    let bytes = fs_err::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| Error::NotUtf8 {
        path: path.to_path_buf(),
    })?;
    let source = Source {
        path: path.to_path_buf(),
        text,
    };
    let raw =
        syntax::parse(&source.text).map_err(|d| Error::Invalid(Box::new(source.report(d))))?;
    let cx = validate::Context {
        file: path,
        file_hash: crate::hash::sha256_hex(source.text.as_bytes()),
        base,
    };
    let plan =
        validate::validate(raw, cx).map_err(|d| Error::Invalid(Box::new(source.report(d))))?;
    Ok((plan, source))
}
