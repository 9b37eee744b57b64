//! A saved plan: the changes `runner plan` showed and fingerprints of
//! everything they were computed from. `apply` carries out exactly those
//! changes: it refuses the plan as stale when the plan file, a resource, the
//! state, or what a refresh finds now differs from when it was made.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::planning::Planned;
use crate::diff::Change;
use crate::error::{Error, Result};
use crate::state::{State, file_fingerprint, shown};

/// A saved plan's schema: what this runner writes and the newest it reads.
const SCHEMA: u32 = 2;

#[derive(Debug, Serialize, Deserialize)]
pub struct SavedPlan {
    pub runner_saved_plan: u32,
    pub plan_name: String,
    pub plan_file: PathBuf,
    pub plan_hash: String,
    pub resources: BTreeMap<PathBuf, String>,
    pub state_fingerprint: String,
    /// `runner plan --new-trial`.
    #[serde(default)]
    pub new_trial: bool,
    pub changes: Vec<SavedChange>,
}

/// One change as `runner plan` showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedChange {
    pub id: String,
    pub action: crate::diff::Action,
    #[serde(default)]
    pub reason: String,
}

impl SavedChange {
    fn of(c: &Change) -> Self {
        SavedChange {
            id: c.id.to_string(),
            action: c.action,
            reason: c.reason.clone(),
        }
    }
}

impl SavedPlan {
    pub fn of(planned: &Planned, new_trial: bool) -> Result<Self> {
        let plan = &planned.graph.plan;
        let plan_file = std::path::absolute(&plan.file)?;
        Ok(SavedPlan {
            runner_saved_plan: SCHEMA,
            plan_name: plan.name.clone(),
            plan_file,
            plan_hash: plan.file_hash.clone(),
            resources: plan
                .resource_files()
                .into_iter()
                .map(|p| {
                    let f = file_fingerprint(&p);
                    (std::path::absolute(&p).unwrap_or(p), f)
                })
                .collect(),
            state_fingerprint: planned.state.fingerprint(),
            new_trial,
            changes: planned
                .changes
                .changes
                .iter()
                .map(SavedChange::of)
                .collect(),
        })
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::msg(e.to_string()))?;
        Ok(crate::state::write_atomic(path, &bytes)?)
    }

    /// `Ok(None)` when the file is a plan file (`*.toml`, or TOML text);
    /// a saved plan that does not parse is an error saying it is corrupt.
    pub fn read(path: &Path) -> Result<Option<Self>> {
        let bytes = fs_err::read(path)?;
        let is_toml = path.extension().is_some_and(|x| x == "toml");
        let looks_saved = path.extension().is_some_and(|x| x == "plan")
            || bytes
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_none_or(|b| *b == b'{');
        if is_toml || !looks_saved {
            return Ok(None);
        }
        #[derive(Deserialize)]
        struct Schema {
            #[serde(default)]
            runner_saved_plan: u32,
        }
        if let Ok(s) = serde_json::from_slice::<Schema>(&bytes) {
            crate::state::check_schema("saved plan", path, s.runner_saved_plan, SCHEMA)
                .map_err(|e| Error::from(e).help("make a new one with `runner plan PLAN`"))?;
        }
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::msg(format!(
                "the saved plan {} is corrupt ({}): nothing was applied",
                shown(path),
                if bytes.is_empty() {
                    "it is empty".to_string()
                } else {
                    e.to_string()
                }
            ))
            .help("make a new one with `runner plan PLAN`, or apply the plan file with `runner apply PLAN.toml`")
        })
    }

    /// What changed since the plan was made, if anything, before planning again.
    pub fn staleness(&self, state: &State) -> Option<String> {
        if file_fingerprint(&self.plan_file) != self.plan_hash {
            return Some(format!(
                "the plan file {} changed",
                self.plan_file.display()
            ));
        }
        for (path, hash) in &self.resources {
            if &file_fingerprint(path) != hash {
                return Some(format!("the resource file {} changed", path.display()));
            }
        }
        if state.fingerprint() != self.state_fingerprint {
            return Some("the state changed (another apply or destroy ran)".to_string());
        }
        None
    }

    /// How the changes planned now differ from the saved ones (a refresh
    /// found the world different), if they do.
    pub fn differences(&self, now: &[Change]) -> Option<String> {
        let now: Vec<SavedChange> = now.iter().map(SavedChange::of).collect();
        let key = |c: &SavedChange| (c.id.clone(), c.action);
        if now.iter().map(key).eq(self.changes.iter().map(key)) {
            return None;
        }
        let saved: BTreeMap<&str, &SavedChange> =
            self.changes.iter().map(|c| (c.id.as_str(), c)).collect();
        let current: BTreeMap<&str, &SavedChange> =
            now.iter().map(|c| (c.id.as_str(), c)).collect();
        let mut lines = Vec::new();
        let show = |c: Option<&&SavedChange>| match c {
            Some(c) if c.reason.is_empty() => c.action.symbol().to_string(),
            Some(c) => format!("{} ({})", c.action.symbol(), c.reason),
            None => "no change".to_string(),
        };
        for id in saved
            .keys()
            .chain(current.keys())
            .collect::<std::collections::BTreeSet<_>>()
        {
            let (a, b) = (saved.get(id), current.get(id));
            if a.map(|c| c.action) != b.map(|c| c.action) {
                lines.push(format!("  {id}: saved {}, now {}", show(a), show(b)));
            }
        }
        lines.truncate(20);
        Some(lines.join("\n"))
    }
}
