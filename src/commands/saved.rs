//! A saved plan: the changes `runner plan` showed and fingerprints of
//! everything they were computed from. `apply` refuses it when any of those
//! changed since ("stale plan").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::plan::Planned;
use crate::error::{Error, Result};
use crate::state::file_fingerprint;

#[derive(Debug, Serialize, Deserialize)]
pub struct SavedPlan {
    pub runner_saved_plan: u32,
    pub plan_name: String,
    pub plan_file: PathBuf,
    pub plan_hash: String,
    pub resources: BTreeMap<PathBuf, String>,
    pub state_fingerprint: String,
    pub changes: serde_json::Value,
}

impl SavedPlan {
    pub fn of(planned: &Planned) -> Result<Self> {
        let plan = &planned.graph.plan;
        let plan_file = std::path::absolute(&plan.file)?;
        Ok(SavedPlan {
            runner_saved_plan: 1,
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
            state_fingerprint: file_fingerprint(&planned.paths.state()),
            changes: serde_json::to_value(&planned.changes.changes).unwrap_or_default(),
        })
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::msg(e.to_string()))?;
        crate::state::write_atomic(path, &bytes)
    }

    /// `Ok(None)` when the file is not a saved plan (a plan file, say).
    pub fn read(path: &Path) -> Result<Option<Self>> {
        let bytes = fs_err::read(path)?;
        Ok(serde_json::from_slice(&bytes).ok())
    }

    /// What changed since the plan was made, if anything.
    pub fn staleness(&self, state_path: &Path) -> Option<String> {
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
        if file_fingerprint(state_path) != self.state_fingerprint {
            return Some("the state changed (another apply ran)".to_string());
        }
        None
    }
}
