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
    let mut graph = graph::compile(plan).map_err(|d| Error::Diagnostics {
        report: Box::new(source.report(d)),
        outcome: None,
    })?;
    // An order for validate and graph; plan and apply set the series' own.
    graph.order_series(series_seed(&graph.plan.name, None));
    Ok((graph, source))
}

/// The seed of a new series of `plan` after series `previous`.
fn series_seed(plan: &str, previous: Option<&str>) -> u64 {
    let h = crate::hash::sha256_hex(
        format!("runner series {plan} {}", previous.unwrap_or("")).as_bytes(),
    );
    u64::from_str_radix(&h[..16], 16).unwrap_or(0)
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
pub fn make_with(mut graph: Graph, paths: Paths, state: State, new_trial: bool) -> Result<Planned> {
    let mut refresh = crate::provider::refresh(&state, &paths, Some(&graph.plan)).map_err(|e| {
        Error::msg(format!("refreshing plan `{}`: {e}", graph.plan.name))
            .help("nothing was changed; fix the cause and plan again")
    })?;
    refresh.pages = pages(&graph, &state, &paths);
    // A series goes on in the order its seed gave it; a new one gets a
    // seed of its own (from the series before: plan and apply agree).
    let fresh_seed = series_seed(
        &graph.plan.name,
        state.series.as_ref().map(|s| s.id.as_str()),
    );
    graph.order_series(state.series.as_ref().map_or(fresh_seed, |s| s.seed));
    let mut changes = diff::diff(&graph, &state, &refresh, new_trial);
    let begins = changes.changes.iter().any(|c| {
        c.id.node()
            .is_some_and(|id| *id.what() == crate::graph::What::Series)
            && c.action == diff::Action::Create
    });
    if begins && state.series.as_ref().is_some_and(|s| s.seed != fresh_seed) {
        graph.order_series(fresh_seed);
        changes = diff::diff(&graph, &state, &refresh, new_trial);
    }
    changes.notes = refresh.notes;
    changes.notes.extend(cleartext_notes(&graph, &changes));
    if begins {
        changes
            .notes
            .extend(pace_note(&graph, &paths, state.series.as_ref()));
    }
    if let Some(c) = &graph.plan.ec2
        && changes.changes.iter().any(diff::Change::creates_host)
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

/// What each `[[publish]]` page would say now, from the latest run's
/// files (by node key): the diff publishes only a page that changed.
fn pages(
    graph: &Graph,
    state: &State,
    paths: &Paths,
) -> std::collections::BTreeMap<String, String> {
    let series = graph.plan.series.is_some();
    let Some(run) = crate::publish::Run::latest(series, state, &paths.trials()) else {
        return Default::default();
    };
    graph
        .dag
        .node_weights()
        .filter_map(|n| match n.kind {
            crate::graph::NodeKind::Publish { publish } => {
                let p = &graph.plan.publishes[publish];
                let page = crate::publish::page::render(&graph.plan, p, &run).ok()?;
                Some((n.id.key().to_string(), page.hash))
            }
            _ => None,
        })
        .collect()
}

/// A publish about to log in to a wiki over plain HTTP beyond this machine.
fn cleartext_notes(graph: &Graph, changes: &Changes) -> Vec<String> {
    use crate::plan::model::Target;
    changes
        .changes
        .iter()
        .filter_map(|c| match graph.dag[c.node()?].kind {
            crate::graph::NodeKind::Publish { publish } => Some(&graph.plan.publishes[publish]),
            _ => None,
        })
        .filter_map(|p| match &p.target {
            Target::Mediawiki { api, .. } => {
                let host = api.strip_prefix("http://")?.split('/').next()?;
                let local = ["127.", "localhost", "[::1]"]
                    .iter()
                    .any(|l| host.starts_with(l));
                (!local).then(|| {
                    format!(
                        "publish {}: the bot password goes to {api} unencrypted (http://); use the wiki's https:// URL unless its network is yours alone",
                        p.name
                    )
                })
            }
            Target::Git { .. } => None,
        })
        .collect()
}

/// A new series' time, from the last series' pace (its trials' starts).
fn pace_note(
    graph: &Graph,
    paths: &Paths,
    last: Option<&crate::state::SeriesRecord>,
) -> Option<String> {
    let last = last?;
    let pace = crate::series::pace(&paths.trials().join(&last.id))?;
    let trials = graph.series_trials();
    let total = std::time::Duration::from_secs((pace.as_secs_f64() * trials as f64).round() as u64);
    Some(format!(
        "series {} took {} a trial: {} trials take about {}",
        last.id,
        humantime::format_duration(std::time::Duration::from_secs(pace.as_secs())),
        trials,
        humantime::format_duration(total)
    ))
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
    let verbose = matches!(crate::style::verbosity(), crate::style::Verbosity::Verbose);
    let folded = if verbose {
        Vec::new()
    } else {
        fold_series(planned)
    };
    let mut said = std::collections::HashSet::new();
    for (i, c) in changes.changes.iter().enumerate() {
        if let Some((n, line)) = folded
            .iter()
            .enumerate()
            .find(|(_, f)| f.members.contains(&i))
        {
            if said.insert(n) {
                let symbol = line.action.symbol();
                let shown =
                    crate::style::out(&format!("{symbol:>5}"), crate::style::of_symbol(symbol));
                let _ = writeln!(text, "{shown} {}", line.text);
            }
            continue;
        }
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

/// Lines that stand for many changes of a series' trials.
struct Folded {
    action: diff::Action,
    /// What the changes have in common: their node outside any slot
    /// (`analyze tcp`), or none for the trials themselves.
    group: Option<crate::graph::NodeId>,
    text: String,
    /// Indices into the changes.
    members: Vec<usize>,
}

/// A series' trials and their nodes, folded by identity: one line per
/// action for the trials (their points and repetitions, in the order they
/// run) and one per node of theirs (`analyze x`, in how many trials).
/// `-v` lists each.
fn fold_series(planned: &Planned) -> Vec<Folded> {
    let mut out: Vec<Folded> = Vec::new();
    for (i, c) in planned.changes.changes.iter().enumerate() {
        // A node of a series' trial (in the plan, or in a trial no longer
        // in it), not the one an interrupted apply armed.
        let Some(id) = c.id.node().filter(|id| id.slot().is_some()) else {
            continue;
        };
        if c.finishes().is_some() {
            continue;
        }
        let group = (*id.what() != crate::graph::What::Trial).then(|| id.without_slot());
        match out
            .iter_mut()
            .find(|f| f.action == c.action && f.group == group)
        {
            Some(f) => f.members.push(i),
            None => out.push(Folded {
                action: c.action,
                group,
                text: String::new(),
                members: vec![i],
            }),
        }
    }
    for f in &mut out {
        let n = f.members.len();
        f.text = match &f.group {
            None => {
                let labels: Vec<String> = f
                    .members
                    .iter()
                    .filter_map(|&i| planned.changes.changes[i].id.node()?.slot())
                    .map(ToString::to_string)
                    .collect();
                let shown = if labels.len() > 12 {
                    format!(
                        "{}, … {}",
                        labels[..10].join(", "),
                        labels[labels.len() - 1]
                    )
                } else {
                    labels.join(", ")
                };
                format!(
                    "{} of the series, in this order: {shown}",
                    crate::style::plural(n, "trial")
                )
            }
            Some(group) if f.action == diff::Action::Destroy => format!(
                "{group}  (of {} no longer in the plan; their outputs stay)",
                crate::style::plural(n, "trial")
            ),
            Some(group) => format!(
                "{group}  (in {} of the series)",
                crate::style::plural(n, "trial")
            ),
        };
    }
    out
}
