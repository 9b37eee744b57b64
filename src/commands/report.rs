//! `runner report PLAN [TRIAL]`: writes a trial's `report.html` again
//! (default: the latest trial) from its trial.json, tables and files.

use std::path::Path;

use crate::error::{Error, Result};
use crate::exit::Exit;

/// `runner report PLAN --index`: the plan's index.html written again.
pub fn index(plan_path: &Path) -> Result<Exit> {
    let name = super::plan_name(plan_path)?;
    let trials = crate::paths::trials_dir(&name);
    if !trials.is_dir() {
        return Err(Error::msg(format!(
            "no trials of `{name}` under {}: `runner apply` runs one",
            crate::paths::shown(&trials)
        )));
    }
    let path = crate::html::index::write(&name, &trials).map_err(|e| Error::msg(e.to_string()))?;
    crate::out::outln!("{}", crate::paths::shown(&path));
    Ok(Exit::Success)
}

pub fn run(
    plan_path: &Path,
    trial_id: Option<&str>,
    compare: Option<&[String]>,
    test: crate::stats::TestKind,
) -> Result<Exit> {
    let base = std::env::current_dir()?;
    let (plan, _) = crate::plan::load(plan_path, &base)
        .map_err(|e| Error::from(e).outcome("no report was written"))?;
    let paths = crate::paths::Paths::here(&plan.name);
    let _lock = crate::state::lock::Lock::acquire(&paths.lock(), "reported")?;
    if let Some([a, b]) = compare {
        let trials = crate::paths::trials_dir(&plan.name);
        let out = crate::html::compare::write(&plan, &trials, a, b, test).map_err(|e| {
            Error::msg(e.to_string())
                .help("name two trials, or two series, of this plan (folders under trials/<plan>/)")
        })?;
        for f in ["report.html", "delta.md", "delta.csv"] {
            crate::out::outln!("{}", crate::paths::shown(&out.join(f)));
        }
        return Ok(Exit::Success);
    }
    let latest_series = (trial_id.is_none() && plan.series.is_some())
        .then(|| crate::series::find(&plan.name, None).map(|(_, f)| f.series))
        .transpose()?;
    if let Some(id) = trial_id
        .filter(|id| crate::series::is_series_id(id))
        .or(latest_series.as_deref())
    {
        let (dir, file) = crate::series::find(&plan.name, Some(id))?;
        let path = crate::html::series::write(&plan, &dir, &file)?;
        crate::out::outln!("{}", crate::paths::shown(&path));
        return Ok(Exit::Success);
    }
    let (dir, trial) = crate::trial::find(&plan.name, trial_id)?;
    let path = crate::html::write(&plan, &dir, &trial)?;
    crate::out::outln!("{}", crate::paths::shown(&path));
    Ok(Exit::Success)
}
