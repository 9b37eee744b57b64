//! `runner apply [SAVED_PLAN | PLAN]`: carry out exactly the changes of a
//! saved plan (refused when stale), or plan and apply a plan file in one go
//! (confirmation on a terminal, `--yes` otherwise). Both hold the plan's
//! lock from planning to the end.

use std::path::{Path, PathBuf};

use super::planning::{self as plan, Planned};
use super::saved::SavedPlan;
use crate::error::{Error, Result};
use crate::exec::{self, Options};
use crate::exit::Exit;
use crate::reporter::Reporter;
use crate::state::lock::Lock;
use crate::state::{Paths, Store, shown};

pub fn run(
    arg: Option<&Path>,
    yes: bool,
    parallelism: usize,
    given: crate::exec::Given,
    flags: plan::Flags,
) -> Result<Exit> {
    let path = match arg {
        Some(p) => p.to_path_buf(),
        None => newest_saved_plan()?,
    };
    match SavedPlan::read(&path)? {
        Some(saved) => {
            let paths = Paths::here(&saved.plan_name);
            let _lock = Lock::acquire(&paths.lock(), "applied")?;
            let store = Store::open(&paths)?;
            let stale = |why: String| {
                Error::msg(format!("stale plan {}: {why}", shown(&path))).help(format!(
                    "nothing was applied; run `runner plan {}` again and review the changes",
                    shown(&saved.plan_file)
                ))
            };
            if let Some(why) = saved.staleness(&store.state) {
                return Err(stale(format!("{why} since it was made")));
            }
            let (graph, _) =
                plan::compile(&saved.plan_file).map_err(|e| e.outcome("nothing was applied"))?;
            let planned = plan::make_with(graph, paths, store.state.clone(), saved.new_trial)?;
            if let Some(diff) = saved.differences(&planned.changes.changes) {
                return Err(stale(format!(
                    "the hosts are not as they were when it was made:\n{diff}"
                )));
            }
            apply(planned, store, parallelism, given)
        }
        None => {
            // A plan file: plan, show, confirm, apply. Without a terminal and
            // without --yes this fails before doing anything.
            if !yes && !crate::os::stdin_is_terminal() {
                return Err(Error::msg(
                    "refusing to apply without confirmation: stdin is not a terminal",
                )
                .help(
                    "pass --yes, or run `runner plan` and then `runner apply` on the saved plan",
                ));
            }
            let (graph, _) =
                plan::compile(&path).map_err(|e| e.outcome("nothing was planned or applied"))?;
            // Plan under the lock, so that the state cannot move underneath.
            let paths = Paths::here(&graph.plan.name);
            let _lock = Lock::acquire(&paths.lock(), "applied")?;
            plan::check_leftovers(&paths, flags.force_new)?;
            let store = Store::open(&paths)?;
            let planned = plan::make_with(graph, paths, store.state.clone(), flags.new_trial)?;
            plan::print_changes(&planned, false);
            if planned.changes.is_empty() {
                return Ok(Exit::Success);
            }
            // Said before the question, not after the answer.
            check_open_files(&planned, parallelism)?;
            if !super::confirm("\nApply these changes?", yes)? {
                crate::out::errln!("Apply cancelled.");
                return Ok(Exit::Failure);
            }
            apply(planned, store, parallelism, given)
        }
    }
}

fn apply(
    planned: Planned,
    mut store: Store,
    parallelism: usize,
    given: crate::exec::Given,
) -> Result<Exit> {
    let crate::exec::Given { baseline, label } = given;
    // A mistyped baseline is an error before anything runs, not a
    // regression found after the trial.
    if let Some(b) = &baseline {
        let dir = crate::paths::trials_dir(&planned.graph.plan.name);
        if !crate::paths::is_trial_id(b) || !dir.join(b).join("trial.json").is_file() {
            return Err(Error::msg(format!(
                "--baseline {b}: no such trial under {}",
                crate::paths::shown(&dir)
            ))
            .help("name a trial folder of this plan; nothing was applied"));
        }
    }
    // A new trial whose fixed start time has passed: an error before
    // anything starts (hosts included). Only then: an armed trial, a
    // re-collect or a re-render of a plan with a past time are fine.
    if let Some(node) = planned
        .changes
        .changes
        .iter()
        .filter(|c| c.action == crate::diff::Action::Create)
        .filter_map(|c| c.node())
        .find(|&n| planned.graph.dag[n].kind == crate::graph::NodeKind::Trial)
        && let crate::graph::Payload::Trial(spec) = &planned.graph.dag[node].payload
    {
        crate::trial::run::check_times(spec).map_err(Error::msg)?;
    }
    check_open_files(&planned, parallelism)?;
    // The saved plan is spent, whatever happens next.
    let _ = fs_err::remove_file(planned.paths.saved_plan());
    let recorded = store.state.trial.as_ref().map(|t| t.id.as_str());
    for id in crate::trial::clean_unrecorded(&planned.graph.plan.name, recorded) {
        crate::out::errln!(
            "removed trials/{}/{id}: a trial folder an interrupted apply made before recording its trial",
            planned.graph.plan.name
        );
    }
    let reporter = &Reporter::for_changes(&planned.changes);
    if planned.changes.is_empty() {
        crate::out::outln!(
            "No changes. {} nodes are up to date.",
            planned.changes.unchanged
        );
        return Ok(Exit::Success);
    }
    let opts = Options {
        parallelism,
        keep_going_without_state: false,
        baseline,
        label,
    };
    let rt = super::runtime()?;
    let report = rt.block_on(exec::execute(
        &planned.graph,
        &planned.changes,
        &mut store,
        &opts,
        reporter,
    ));
    // A task abandoned after an interrupt may still block a thread (a wiki
    // that does not answer): the apply ends now, not when it returns.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    reporter.summary("Apply", &report);
    write_index(&planned.graph.plan.name);
    // Errors first (1); then failed checks (3), so that CI can gate on them.
    Ok(if !report.complete() {
        Exit::Failure
    } else if report.checks_failed > 0 {
        Exit::ChecksFailed
    } else {
        Exit::Success
    })
}

/// The plan's index of every trial, whenever one may have changed.
fn write_index(plan: &str) {
    let trials = crate::paths::trials_dir(plan);
    if trials.is_dir()
        && let Err(e) = crate::html::index::write(plan, &trials)
    {
        crate::out::errln!("warning: the trials' index.html was not written: {e}");
    }
}

/// Every host a change runs on keeps one SSH connection open for the whole
/// apply: more hosts than this process may open files for would fail one
/// by one with "Too many open files". Said once, before anything changes.
fn check_open_files(planned: &Planned, parallelism: usize) -> Result<()> {
    use crate::graph::NodeKind;
    let graph = &planned.graph;
    let all: std::collections::HashSet<&str> = graph
        .plan
        .groups
        .iter()
        .flat_map(|g| g.hosts.iter().map(|h| h.name.as_str()))
        .collect();
    let mut reached = std::collections::HashSet::new();
    let mut remote_nodes = 0usize;
    // Destroys and host changes make no SSH connection; analyses, checks
    // and the report run here.
    for c in &planned.changes.changes {
        let Some(node) = c.node().filter(|_| !c.is_host()) else {
            continue;
        };
        match graph.dag[node].kind {
            NodeKind::Analyze { .. }
            | NodeKind::Checks
            | NodeKind::HtmlReport
            | NodeKind::Publish { .. } => {}
            _ if all.contains(c.host.as_str()) => {
                remote_nodes += 1;
                reached.insert(c.host.as_str());
            }
            // A trial (its tests, collects) reaches every host.
            _ => {
                remote_nodes += all.len();
                reached.extend(all.iter().copied());
            }
        }
    }
    let parallelism = parallelism.min(remote_nodes);
    // Per node in flight: its stdout and stderr logs; and some for the
    // state, journal, lock, terminal and runtime.
    let needed = reached.len() as u64 + 2 * parallelism as u64 + 64;
    let limit = crate::os::raise_open_files();
    if limit == 0 || needed <= limit {
        return Ok(());
    }
    Err(Error::msg(format!(
        "this apply keeps an SSH connection open to each of {} hosts and writes up to {} logs at once: it needs about {needed} open files, and this process may open {limit} (its hard limit)",
        reached.len(),
        2 * parallelism
    ))
    .help(format!(
        "raise the limit (`ulimit -n {needed}`, or `LimitNOFILE=` for a service; the hard limit needs root) and run again; nothing was applied"
    )))
}

fn newest_saved_plan() -> Result<PathBuf> {
    let dir = Path::new(".runner");
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    if let Ok(entries) = fs_err::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "plan")
                && let Ok(m) = e.metadata().and_then(|m| m.modified())
                && best.as_ref().is_none_or(|(t, _)| m > *t)
            {
                best = Some((m, p));
            }
        }
    }
    best.map(|(_, p)| p).ok_or_else(|| {
        Error::msg("no saved plan in .runner/")
            .help("run `runner plan PLAN` first, or `runner apply PLAN --yes`")
    })
}
