//! `runner plan PLAN`: compile, refresh the state's hosts, diff, print the
//! changes and save them for `runner apply`.

use std::path::Path;

use super::planning::{Flags, check_leftovers, compile, make_with, print_changes};
use crate::error::Result;
use crate::exit::Exit;
use crate::state::lock::Lock;
use crate::state::{Paths, State};

pub fn run(
    path: &Path,
    out: Option<&Path>,
    detailed_exitcode: bool,
    json: bool,
    flags: Flags,
) -> Result<Exit> {
    let (graph, _) = compile(path).map_err(|e| e.outcome("nothing was planned"))?;
    let paths = Paths::here(&graph.plan.name);
    // Saving the plan writes: one writer at a time.
    let _lock = Lock::acquire(&paths.lock(), "planned")?;
    check_leftovers(&paths, flags.force_new)?;
    let state = State::load(&paths)?;
    let planned = make_with(graph, paths, state, flags.new_trial)?;
    print_changes(&planned, json);
    let saved = super::saved::SavedPlan::of(&planned, flags.new_trial)?;
    let out = out.map_or_else(|| planned.paths.saved_plan(), Path::to_path_buf);
    saved.write(&out)?;
    if !planned.changes.is_empty() && !json {
        let shown = crate::paths::shown(&out);
        crate::out::errln!(
            "\nSaved this plan to {shown}; carry it out with `runner apply {shown}`."
        );
    }
    Ok(if detailed_exitcode && !planned.changes.is_empty() {
        Exit::Changes
    } else {
        Exit::Success
    })
}
