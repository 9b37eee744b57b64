//! `runner plan PLAN`: compile, refresh the state's hosts, diff, print the
//! changes and save them for `runner apply`.

use std::path::Path;

use crate::diff::{self, Changes, Gone};
use crate::error::{Error, Result};
use crate::graph::{self, Graph};
use crate::plan::Source;
use crate::state::{Paths, State};

/// Everything `apply` needs, as `plan` computed it.
pub struct Planned {
    pub graph: Graph,
    pub paths: Paths,
    pub state: State,
    pub changes: Changes,
}

pub fn compile(path: &Path) -> Result<(Graph, Source)> {
    let base = std::env::current_dir()?;
    let (plan, source) = crate::plan::load(path, &base)?;
    let graph = graph::compile(plan)
        .map_err(|d| Error::Diagnostics(source.render(&d, "nothing was planned")))?;
    Ok((graph, source))
}

/// Asks each host's provider whether what the state records still exists.
pub fn refresh(state: &State, paths: &Paths) -> Gone {
    state
        .hosts
        .iter()
        .filter(|(_, h)| h.status == crate::state::HostStatus::Ready)
        .filter_map(|(name, h)| {
            let provider = crate::provider::for_state(h, paths, &state.plan);
            provider.refresh(name, h).map(|why| (name.clone(), why))
        })
        .collect()
}

pub fn make(path: &Path) -> Result<Planned> {
    let (graph, _) = compile(path)?;
    let paths = Paths::new(Path::new("."), &graph.plan.name);
    let state = State::load(&paths.state(), &graph.plan.name)?;
    let gone = refresh(&state, &paths);
    let changes = diff::diff(&graph, &state, &gone);
    Ok(Planned {
        graph,
        paths,
        state,
        changes,
    })
}

pub fn print_changes(planned: &Planned, json: bool) {
    let changes = &planned.changes;
    let summary = changes.summary();
    if json {
        let doc = serde_json::json!({
            "plan": planned.graph.plan.name,
            "changes": changes.changes,
            "unchanged": changes.unchanged,
            "summary": summary,
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return;
    }
    if changes.is_empty() {
        println!("No changes. {} nodes are up to date.", changes.unchanged);
        return;
    }
    println!(
        "runner will make these changes to plan `{}`:\n",
        planned.graph.plan.name
    );
    for c in &changes.changes {
        if c.reason.is_empty() {
            println!("{:>5} {}", c.action.symbol(), c.id);
        } else {
            println!("{:>5} {}  ({})", c.action.symbol(), c.id, c.reason);
        }
    }
    println!("\n{} nodes unchanged.", changes.unchanged);
    println!(
        "Plan: {} to add, {} to change, {} to replace, {} to destroy.",
        summary.add, summary.change, summary.replace, summary.destroy
    );
}

pub fn run(path: &Path, out: Option<&Path>, detailed_exitcode: bool, json: bool) -> Result<i32> {
    let planned = make(path)?;
    print_changes(&planned, json);
    let saved = super::saved::SavedPlan::of(&planned)?;
    let out = out.map_or_else(|| planned.paths.saved_plan(), Path::to_path_buf);
    saved.write(&out)?;
    if !planned.changes.is_empty() && !json {
        let shown = crate::state::shown(&out);
        eprintln!("\nSaved this plan to {shown}; carry it out with `runner apply {shown}`.");
    }
    Ok(if detailed_exitcode && !planned.changes.is_empty() {
        2
    } else {
        0
    })
}
