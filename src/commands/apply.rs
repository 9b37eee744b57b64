//! `runner apply [SAVED_PLAN | PLAN]`: carry out a saved plan (refused when
//! stale), or plan and apply a plan file in one go (confirmation on a
//! terminal, `--yes` otherwise).

use std::path::{Path, PathBuf};

use super::plan::{self, Planned};
use super::saved::SavedPlan;
use crate::error::{Error, Result};
use crate::exec::{self, Options};
use crate::report::Reporter;
use crate::state::lock::Lock;

pub fn run(arg: Option<&Path>, yes: bool, parallelism: usize) -> Result<i32> {
    let path = match arg {
        Some(p) => p.to_path_buf(),
        None => newest_saved_plan()?,
    };
    let reporter = Reporter;
    match SavedPlan::read(&path)? {
        Some(saved) => {
            let paths = crate::state::Paths::new(Path::new("."), &saved.plan_name);
            let _lock = Lock::acquire(&paths.lock(), &mut |m| reporter.line(m))?;
            if let Some(why) = saved.staleness(&paths.state()) {
                return Err(Error::msg(format!(
                    "stale plan {}: {why} since it was made",
                    path.display()
                ))
                .help(format!(
                    "run `runner plan {}` again",
                    saved.plan_file.display()
                )));
            }
            let planned = plan::make(&saved.plan_file)?;
            apply(planned, parallelism, &reporter)
        }
        None => {
            // A plan file: plan, show, confirm, apply. Without a terminal and
            // without --yes this fails before doing anything.
            if !yes && !crate::process::stdin_is_terminal() {
                return Err(Error::msg(
                    "refusing to apply without confirmation: stdin is not a terminal",
                )
                .help(
                    "pass --yes, or run `runner plan` and then `runner apply` on the saved plan",
                ));
            }
            // Plan under the lock, so that the state cannot move underneath.
            let paths = crate::state::Paths::new(Path::new("."), &super::plan_name(&path)?);
            let _lock = Lock::acquire(&paths.lock(), &mut |m| reporter.line(m))?;
            let planned = plan::make(&path)?;
            plan::print_changes(&planned, false);
            if planned.changes.is_empty() {
                return Ok(0);
            }
            if !super::confirm("\nApply these changes?", yes)? {
                eprintln!("Apply cancelled.");
                return Ok(1);
            }
            apply(planned, parallelism, &reporter)
        }
    }
}

fn apply(mut planned: Planned, parallelism: usize, reporter: &Reporter) -> Result<i32> {
    if planned.changes.is_empty() {
        println!(
            "No changes. {} nodes are up to date.",
            planned.changes.unchanged
        );
        return Ok(0);
    }
    let opts = Options { parallelism };
    let rt = super::runtime()?;
    let report = rt.block_on(exec::execute(
        &planned.graph,
        &planned.changes,
        &mut planned.state,
        &opts,
        reporter,
    ));
    reporter.summary("Apply", &report);
    // The saved plan is spent: applying it again would be stale anyway.
    let _ = fs_err::remove_file(planned.paths.saved_plan());
    Ok(
        if report.failures.is_empty() && !report.interrupted && report.not_started == 0 {
            0
        } else {
            1
        },
    )
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
