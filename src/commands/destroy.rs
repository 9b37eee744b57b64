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
    let name = super::plan_name(path)?;
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
