//! `runner init [DIR]`: a starter plan that `runner apply` runs as is (local
//! hosts, a step, a monitor, an armed test, a collect and an analysis),
//! with its resource. Nothing is overwritten.

use std::path::Path;

use crate::error::{Error, Result};
use crate::exit::Exit;

const FILES: &[(&str, &str)] = &[
    ("plan.toml", include_str!("plan.toml")),
    ("resources/probe.env.j2", include_str!("probe.env.j2")),
];

pub fn run(dir: &Path) -> Result<Exit> {
    let existing: Vec<String> = FILES
        .iter()
        .map(|(f, _)| dir.join(f))
        .filter(|p| p.exists())
        .map(|p| crate::paths::shown(&p))
        .collect();
    if !existing.is_empty() {
        return Err(Error::msg(format!(
            "{} already exist{}: nothing was written",
            existing.join(", "),
            if existing.len() == 1 { "s" } else { "" }
        ))
        .help("run `runner init` in an empty directory, or name one: `runner init my-test`"));
    }
    for (file, text) in FILES {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        fs_err::write(&path, text)?;
    }
    let shown = crate::paths::shown(dir);
    let cd = if shown.is_empty() || shown == "." {
        String::new()
    } else {
        format!("cd {shown} && ")
    };
    crate::out::outln!(
        "Wrote a starter plan: {}plan.toml and resources/probe.env.j2.\n\nNext:\n  {cd}runner plan plan.toml          # preview\n  runner apply plan.toml --yes      # 3 local hosts, a trial, tables in trials/starter/\n  runner destroy plan.toml --yes    # stop the hosts",
        if cd.is_empty() {
            String::new()
        } else {
            format!("{shown}/")
        }
    );
    Ok(Exit::Success)
}
