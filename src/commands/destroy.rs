//! `runner destroy PLAN`: remove every host and step the state knows.
//! Destroying is the diff against an empty plan, executed like any other.

use std::path::Path;

use crate::diff;
use crate::error::{Error, Result};
use crate::exec::{self, Options};
use crate::graph;
use crate::report::Reporter;
use crate::state::lock::Lock;
use crate::state::{Paths, State};

pub fn run(path: &Path, yes: bool, parallelism: usize) -> Result<i32> {
    let name = plan_name(path)?;
    let paths = Paths::new(Path::new("."), &name);
    let reporter = Reporter;
    let _lock = Lock::acquire(&paths.lock(), &mut |m| reporter.line(m))?;
    let mut state = State::load(&paths.state(), &name)?;
    let empty = crate::plan::Plan {
        name: name.clone(),
        file: path.to_path_buf(),
        file_hash: String::new(),
        provider: crate::plan::Provider::Local,
        workdir: None,
        vars: Default::default(),
        groups: Vec::new(),
        steps: Vec::new(),
        analyses: Vec::new(),
    };
    let graph = graph::compile(empty).map_err(|_| Error::msg("cannot build the destroy graph"))?;
    let changes = diff::diff(&graph, &state, &Default::default());
    if changes.is_empty() {
        println!("Nothing to destroy: the state of `{name}` records no hosts.");
        let _ = fs_err::remove_file(paths.saved_plan());
        return Ok(0);
    }
    let n_hosts = state.hosts.len();
    println!(
        "runner will destroy {n_hosts} hosts and forget {} steps of plan `{name}`.",
        state.steps.len()
    );
    if !super::confirm("Destroy them?", yes)? {
        eprintln!("Destroy cancelled.");
        return Ok(1);
    }
    let rt = super::runtime()?;
    let report = rt.block_on(exec::execute(
        &graph,
        &changes,
        &mut state,
        &Options { parallelism },
        &reporter,
    ));
    reporter.summary("Destroy", &report);
    let _ = fs_err::remove_file(paths.saved_plan());
    if report.failures.is_empty() && !report.interrupted {
        // Empty folders of the plan go too; keys and logs stay.
        let _ = fs_err::remove_dir(paths.hosts_dir());
        Ok(0)
    } else {
        Ok(1)
    }
}

/// Only the name is needed: destroy works even when the plan no longer validates.
fn plan_name(path: &Path) -> Result<String> {
    let text = fs_err::read_to_string(path)?;
    let raw = crate::plan::syntax::parse(&text).map_err(|d| {
        let src = crate::plan::Source {
            path: path.to_path_buf(),
            text: text.clone(),
        };
        Error::Diagnostics(src.render(&d, "nothing was destroyed"))
    });
    match raw.ok().and_then(|r| r.name) {
        Some(n) => Ok(n.value),
        None => {
            // Fall back to a plain read of `name = "…"`.
            let v: toml::Table = toml::from_str(&text)
                .map_err(|e| Error::msg(format!("{}: {e}", path.display())))?;
            v.get("name")
                .and_then(|n| n.as_str())
                .map(str::to_string)
                .ok_or_else(|| Error::msg(format!("{}: the plan has no `name`", path.display())))
        }
    }
}
