//! `runner init [DIR]`: a starter plan that `runner apply` runs as is (local
//! hosts, a step, a monitor, an armed test, a collect and an analysis),
//! with its resource; `runner init --example NAME [DIR]` one of the ready
//! plans for the load tools (`runner init --list`). Nothing is overwritten.

mod examples;

use std::path::Path;

use crate::error::{Error, Result};
use crate::exit::Exit;

const FILES: &[(&str, &str)] = &[
    ("plan.toml", include_str!("plan.toml")),
    ("resources/probe.env.j2", include_str!("probe.env.j2")),
];

/// Every example, a line each.
/// `runner init [--example NAME | --list] [DIR]`.
pub fn command(dir: &Path, example: Option<&str>, list: bool) -> Result<Exit> {
    match (example, list) {
        (_, true) => self::list(),
        (Some(name), false) => self::example(name, dir),
        (None, false) => run(dir),
    }
}

fn list() -> Result<Exit> {
    for e in examples::EXAMPLES {
        crate::out::outln!("{:<15} {}", e.name, e.about);
    }
    Ok(Exit::Success)
}

/// Example `name`'s files into `dir`.
fn example(name: &str, dir: &Path) -> Result<Exit> {
    let Some(e) = examples::find(name) else {
        let names: Vec<&str> = examples::EXAMPLES.iter().map(|e| e.name).collect();
        return Err(Error::msg(format!("no example `{name}`")).help(
            match crate::diag::did_you_mean(name, names.iter().copied()) {
                Some(d) => format!("{d} (`runner init --list` lists them)"),
                None => format!("the examples are {}", names.join(", ")),
            },
        ));
    };
    write_files(dir, e.files)?;
    let shown = crate::paths::shown(dir);
    let shown = if shown.is_empty() {
        ".".to_string()
    } else {
        shown
    };
    crate::out::outln!(
        "Wrote example `{}` into {shown}: {}\n\nNext:\n  cd {shown} && runner apply plan.toml --yes",
        e.name,
        e.about,
    );
    Ok(Exit::Success)
}

/// `files` into `dir`, none of them there before.
fn write_files(dir: &Path, files: &[(&str, &str)]) -> Result<()> {
    let existing: Vec<String> = files
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
    for (file, text) in files {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        fs_err::write(&path, text)?;
    }
    Ok(())
}

pub fn run(dir: &Path) -> Result<Exit> {
    write_files(dir, FILES)?;
    let shown = crate::paths::shown(dir);
    let cd = if shown.is_empty() || shown == "." {
        String::new()
    } else {
        format!("cd {shown} && ")
    };
    crate::out::outln!(
        "Wrote a starter plan: {}plan.toml and resources/probe.env.j2.\n\nNext:\n  {cd}runner plan plan.toml          # preview\n  runner apply plan.toml --yes      # 3 local hosts, a trial, tables in trials/starter/\n  runner destroy plan.toml --yes    # stop the hosts\n\nReady plans for fio, pgbench, sysbench, wrk/ab, redis-benchmark and Locust: `runner init --list`.",
        if cd.is_empty() {
            String::new()
        } else {
            format!("{shown}/")
        }
    );
    Ok(Exit::Success)
}
