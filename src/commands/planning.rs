//! What `plan` and `apply` share: compile a plan file, refresh the state's
//! hosts, diff, and print the changes.

use std::fmt::Write as _;
use std::path::Path;

use crate::diff::{self, Changes};
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

/// Refuses a fresh start over what an earlier apply left, unless asked.
pub fn check_leftovers(paths: &Paths, force_new: bool) -> Result<()> {
    match State::leftovers(paths) {
        Some(found) if !force_new => {
            let restore = if paths.backup().exists() {
                format!(
                    "restore the state (cp {0}.bak {0}), or ",
                    crate::paths::shown(&paths.state())
                )
            } else {
                String::new()
            };
            Err(Error::msg(format!(
                "{found}: planning from an empty state would replace hosts that may be running"
            ))
            .help(format!(
                "{restore}pass --force-new to start over (existing local hosts are stopped and replaced), or run `runner destroy` to stop them"
            )))
        }
        _ => Ok(()),
    }
}

/// What a plan is asked for beyond the plan file.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags {
    pub force_new: bool,
    pub new_trial: bool,
}

/// Plans `graph` against `state` (the caller loaded it, under the lock if it writes).
pub fn make_with(graph: Graph, paths: Paths, state: State, new_trial: bool) -> Result<Planned> {
    let refresh = crate::provider::refresh(&state, &paths, Some(&graph.plan)).map_err(|e| {
        Error::msg(format!("refreshing plan `{}`: {e}", graph.plan.name))
            .help("nothing was changed; fix the cause and plan again")
    })?;
    let mut changes = diff::diff(&graph, &state, &refresh, new_trial);
    changes.notes = refresh.notes;
    if let Some(c) = &graph.plan.ec2
        && changes
            .changes
            .iter()
            .any(|c| c.is_host && c.action != diff::Action::Destroy)
    {
        let name = crate::provider::ec2::resource_name(&graph.plan.name, &paths);
        let recorded = state.ec2.clone().unwrap_or_default();
        match &c.key_name {
            Some(k) => changes
                .notes
                .push(format!("instances use the key pair `{k}`")),
            None => changes.notes.push(format!(
                "key pair `{name}`: the public half of {} (made here if missing) is imported{}",
                crate::paths::shown(
                    &c.identity
                        .clone()
                        .unwrap_or_else(|| crate::provider::ec2::generated_key(&paths))
                ),
                if recorded.key_pair.is_some() {
                    " again"
                } else {
                    ""
                }
            )),
        }
        match (&c.security_group, &recorded.security_group) {
            (Some(g), _) => changes
                .notes
                .push(format!("instances use the security group `{g}`")),
            (None, Some(id)) => changes
                .notes
                .push(format!("instances use the security group {id} ({name})")),
            (None, None) => changes.notes.push(format!(
                "security group `{name}` (created if missing): SSH (22/tcp) from {} only",
                if c.ssh_from.is_empty() {
                    "this machine's address".to_string()
                } else {
                    c.ssh_from.join(", ")
                }
            )),
        }
    }
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
            "notes": changes.notes,
        });
        crate::out::outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return;
    }
    for note in &changes.notes {
        crate::out::errln!(
            "{} {note}",
            crate::style::err("note:", crate::style::Color::Yellow)
        );
    }
    if changes.is_empty() {
        crate::out::outln!("No changes. {} nodes are up to date.", changes.unchanged);
        return;
    }
    // One write: a plan of 100k changes is not 100k locks and flushes.
    let mut text = format!(
        "runner will make these changes to plan `{}`:\n\n",
        planned.graph.plan.name
    );
    for c in &changes.changes {
        let symbol = c.action.symbol();
        let shown = crate::style::out(&format!("{symbol:>5}"), crate::style::of_symbol(symbol));
        if c.reason.is_empty() {
            let _ = writeln!(text, "{shown} {}", c.id);
        } else {
            let _ = writeln!(text, "{shown} {}  ({})", c.id, c.reason);
        }
    }
    let _ = writeln!(text, "\n{} nodes unchanged.", changes.unchanged);
    let _ = writeln!(
        text,
        "Plan: {} to add, {} to change, {} to replace, {} to destroy.",
        summary.add, summary.change, summary.replace, summary.destroy
    );
    crate::out::out!("{text}");
}
