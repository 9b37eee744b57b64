//! `runner check PLAN [TRIAL] [--baseline TRIAL]`: evaluates the plan's
//! `[[check]]`s on a trial's tables again (default: the latest trial) and
//! records the results in its trial.json. Exit 0 when all pass, 3 when one
//! fails (as `runner apply`), 1 on errors.

use std::path::Path;

use crate::error::{Error, Result};
use crate::exit::Exit;

pub fn run(plan_path: &Path, trial_id: Option<&str>, baseline: Option<&str>) -> Result<Exit> {
    let base = std::env::current_dir()?;
    let (plan, _) = crate::plan::load(plan_path, &base)
        .map_err(|e| Error::from(e).outcome("no check was evaluated"))?;
    if plan.checks.is_empty() {
        return Err(
            Error::msg(format!("plan `{}` has no `[[check]]` sections", plan.name)).help(
                "add one, e.g. `[[check]] table = \"latency\" column = \"p99\" max = \"5ms\"`",
            ),
        );
    }
    let paths = crate::paths::Paths::here(&plan.name);
    let _lock = crate::state::lock::Lock::acquire(&paths.lock(), "checked")?;
    if let Some(id) = trial_id.filter(|id| crate::series::is_series_id(id)) {
        return check_series(&plan, id, baseline);
    }
    // A series plan's checks are the series': its latest, by default.
    if trial_id.is_none() && plan.series.is_some() {
        let (_, file) = crate::series::find(&plan.name, None)?;
        return check_series(&plan, &file.series, baseline);
    }
    let (dir, trial) = crate::trial::find(&plan.name, trial_id)?;
    let trials = crate::paths::trials_dir(&plan.name);
    if let Some(b) = baseline
        && !trials.join(b).is_dir()
    {
        return Err(Error::msg(format!(
            "no trial `{b}` under {}",
            crate::paths::shown(&trials)
        ))
        .help("name a trial folder of this plan, e.g. one listed by `ls trials/<plan>`"));
    }
    let _ = trial;
    let (trial, results) = crate::trial::record_checks(&plan, &dir, baseline)?;
    for r in &results {
        crate::out::outln!("{}", r.line());
    }
    // The report shows the checks: kept in step.
    if dir.join("report.html").exists()
        && let Err(e) = crate::html::write(&plan, &dir, &trial)
    {
        crate::out::errln!("warning: report.html not updated: {e}");
    }
    let failed = results.iter().filter(|r| !r.passed).count();
    Ok(if failed > 0 {
        crate::out::errln!(
            "{failed} of {} checks failed on trial {}",
            results.len(),
            trial.trial
        );
        Exit::ChecksFailed
    } else {
        Exit::Success
    })
}

/// The checks on a series' tables, against `baseline` (a series) or the
/// series before; into its series.json and report.
fn check_series(plan: &crate::plan::Plan, id: &str, baseline: Option<&str>) -> Result<Exit> {
    let (dir, mut file) = crate::series::find(&plan.name, Some(id))?;
    let trials = crate::paths::trials_dir(&plan.name);
    if let Some(b) = baseline
        && !trials.join(b).join("series.json").is_file()
    {
        return Err(Error::msg(format!(
            "no series `{b}` under {}",
            crate::paths::shown(&trials)
        ))
        .help("a series' baseline is a series: name a `series-…` folder of this plan"));
    }
    let previous = crate::series::previous(&trials, id);
    let results =
        crate::series::checks::evaluate(&plan.checks, &dir, &trials, baseline, previous.as_deref());
    for r in &results {
        crate::out::outln!("{}", r.line());
    }
    file.checks = results.clone();
    file.write(&dir)?;
    if dir.join("report.html").exists()
        && let Err(e) = crate::html::series::write(plan, &dir, &file)
    {
        crate::out::errln!("warning: report.html not updated: {e}");
    }
    let failed = results.iter().filter(|r| !r.passed).count();
    Ok(if failed > 0 {
        crate::out::errln!("{failed} of {} checks failed on series {id}", results.len());
        Exit::ChecksFailed
    } else {
        Exit::Success
    })
}
