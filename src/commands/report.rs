//! `runner report PLAN [TRIAL]`: writes a trial's `report.html` again
//! (default: the latest trial) from its trial.json, tables and files.

use std::path::Path;

use crate::error::{Error, Result};
use crate::exit::Exit;

pub fn run(plan_path: &Path, trial_id: Option<&str>, compare: Option<&[String]>) -> Result<Exit> {
    let base = std::env::current_dir()?;
    let (plan, _) = crate::plan::load(plan_path, &base)?;
    let paths = crate::paths::Paths::here(&plan.name);
    let _lock = crate::state::lock::Lock::acquire(&paths.lock(), "reported")?;
    if let Some([a, b]) = compare {
        let trials = crate::paths::trials_dir(&plan.name);
        let out = crate::html::compare::write(&plan, &trials, a, b).map_err(|e| {
            Error::msg(e).help("name two trial folders of this plan (`ls trials/<plan>`)")
        })?;
        for f in ["report.html", "delta.md", "delta.csv"] {
            crate::out::outln!("{}", crate::paths::shown(&out.join(f)));
        }
        return Ok(Exit::Success);
    }
    let (dir, trial) = crate::trial::find(&plan.name, trial_id)?;
    let path = crate::html::write(&plan, &dir, &trial)?;
    crate::out::outln!("{}", crate::paths::shown(&path));
    Ok(Exit::Success)
}
