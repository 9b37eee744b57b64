//! `runner show [PLAN] [--json]`: what the state records.

use std::path::Path;

use crate::error::{Error, Result};
use crate::state::{Paths, State};

pub fn run(plan: Option<&Path>, json: bool) -> Result<i32> {
    let name = match plan {
        Some(p) => super::plan::compile(p)?.0.plan.name,
        None => only_state()?,
    };
    let paths = Paths::new(Path::new("."), &name);
    let state = State::load(&paths)?;
    if json {
        crate::out::outln!(
            "{}",
            serde_json::to_string_pretty(&state).unwrap_or_default()
        );
        return Ok(0);
    }
    crate::out::outln!(
        "plan `{name}`: {} hosts, {} steps applied (state serial {})",
        state.hosts.len(),
        state.steps.len(),
        state.serial
    );
    for (host, h) in &state.hosts {
        let steps = state.steps.values().filter(|s| &s.host == host).count();
        let pid = h.pid.map_or(String::new(), |p| format!(" pid {p}"));
        crate::out::outln!(
            "  {host:<16} {}@{}:{}{pid}  {:?}, {steps} steps",
            h.user,
            h.address,
            h.port,
            h.status
        );
    }
    Ok(0)
}

fn only_state() -> Result<String> {
    let mut names = Vec::new();
    if let Ok(entries) = fs_err::read_dir(".runner") {
        for e in entries.flatten() {
            if let Some(n) = e
                .file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".state.json"))
            {
                names.push(n.to_string());
            }
        }
    }
    match names.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::msg("no state in .runner/").help("run `runner apply PLAN` first")),
        _ => Err(Error::msg(format!(
            "several plans have state here: {}",
            names.join(", ")
        ))
        .help("name the plan: `runner show PLAN`")),
    }
}
