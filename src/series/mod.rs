//! A series: `trials/<plan>/<series-id>/` holding `series.json` — its
//! points, run order and seed, and each of its trials (an ordinary trial
//! folder beside it) with its point, repetition and status — and the
//! series' tables (`analysis/`, `tables`) and `report.html`.

pub mod analysis;
pub mod checks;
pub mod compare;
pub mod tables;
pub mod wide;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::state::TrialStatus;

/// Series ids: `series-` and the UTC time, so that they sort in the order
/// the series ran, and never look like a trial's.
pub const PREFIX: &str = "series-";

/// `series.json`'s schema: what this runner writes and the newest it reads.
pub const SCHEMA: u32 = 1;

/// `series.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SeriesFile {
    /// The file's schema ([`SCHEMA`]; files written before it was recorded: 0).
    #[serde(default)]
    pub schema: u32,
    pub plan: String,
    pub series: String,
    #[serde(default)]
    pub runner_version: String,
    /// The series vars' names, in the order written.
    #[serde(default)]
    pub vars: Vec<String>,
    pub points: Vec<PointEntry>,
    #[serde(default)]
    pub repeat: usize,
    #[serde(default)]
    pub discard: usize,
    /// `shuffled` or `in-order`.
    #[serde(default)]
    pub order: String,
    #[serde(default)]
    pub seed: u64,
    /// Every trial of the series (its slot), in the order they run.
    #[serde(default)]
    pub planned: Vec<String>,
    /// Every trial begun for the series, in the order they ran.
    #[serde(default)]
    pub trials: Vec<TrialEntry>,
    /// `runner apply --label` of the apply that began it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// `[[check]]` results on the series' tables, once evaluated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<crate::check::CheckResult>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PointEntry {
    /// `streams=4,protocol=udp`.
    pub label: String,
    pub vars: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TrialEntry {
    pub id: String,
    /// The point's label.
    pub point: String,
    pub repetition: usize,
    /// A warm-up: kept, left out of the statistics.
    pub discard: bool,
    /// `armed`, `complete`, `partial`, `failed` or `abandoned`.
    pub status: TrialStatus,
}

impl SeriesFile {
    /// `7 of 12 trials`: the measured trials done, of those planned.
    pub fn progress(&self) -> String {
        let done = self.trials.iter().filter(|t| !t.discard).count();
        format!("{done} of {} trials", self.planned.len().max(done))
    }

    pub fn read(dir: &Path) -> Result<SeriesFile> {
        #[derive(Deserialize)]
        struct Schema {
            #[serde(default)]
            schema: u32,
        }
        let path = dir.join("series.json");
        let bytes = fs_err::read(&path)?;
        let schema = serde_json::from_slice::<Schema>(&bytes).map_or(0, |s| s.schema);
        crate::state::check_schema("series.json", &path, schema, SCHEMA)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::msg(format!(
                "{} cannot be read: {e}",
                crate::paths::shown(&path)
            ))
        })
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        let written = SeriesFile {
            schema: SCHEMA,
            ..self.clone()
        };
        let mut text =
            serde_json::to_vec_pretty(&written).map_err(|e| Error::msg(e.to_string()))?;
        text.push(b'\n');
        crate::state::write_atomic(&dir.join("series.json"), &text)?;
        Ok(())
    }

    /// Records (or updates) one trial's entry.
    pub fn upsert(&mut self, entry: TrialEntry) {
        match self.trials.iter_mut().find(|t| t.id == entry.id) {
            Some(t) => *t = entry,
            None => self.trials.push(entry),
        }
    }

    /// Each point and its measured trials' folders (under `root`, the
    /// plan's trials folder).
    pub fn inputs(&self, root: &Path) -> Vec<tables::PointInput<'_>> {
        self.points
            .iter()
            .map(|p| tables::PointInput {
                label: &p.label,
                vars: &p.vars,
                trials: self
                    .measured(&p.label)
                    .iter()
                    .map(|t| root.join(&t.id))
                    .collect(),
            })
            .collect()
    }

    /// The measured trials (not warm-ups) that finished with results, by
    /// point label: their ids in the order they ran.
    pub fn measured(&self, point: &str) -> Vec<&TrialEntry> {
        // Repetitions beyond `repeat` (it was lowered) are left out; a
        // repetition that ran again counts once, its last run.
        let mut out: Vec<&TrialEntry> = Vec::new();
        for t in self
            .trials
            .iter()
            .filter(|t| t.point == point && !t.discard)
            .filter(|t| self.repeat == 0 || t.repetition <= self.repeat)
            .filter(|t| t.status.has_results())
        {
            out.retain(|o| o.repetition != t.repetition);
            out.push(t);
        }
        out
    }
}

/// A new series id; `-2`, `-3`… when one of that second exists.
pub fn new_id(plan: &str) -> String {
    crate::trial::new_id_with(plan, PREFIX)
}

/// Whether `id` names a series (not a trial).
/// Seconds since the epoch of a trial id (`20261206T040451Z`).
fn id_epoch(id: &str) -> Option<i64> {
    let t = id.strip_prefix("series-").unwrap_or(id);
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<u8>().ok();
    let (y, mo, d) = (t.get(0..4)?.parse::<i32>().ok()?, num(4..6)?, num(6..8)?);
    let (h, mi, s) = (num(9..11)?, num(11..13)?, num(13..15)?);
    let date = time::Date::from_calendar_date(y, time::Month::try_from(mo).ok()?, d).ok()?;
    let at = date.with_hms(h, mi, s).ok()?.assume_utc();
    Some(at.unix_timestamp())
}

/// How long the series in `dir` took a trial, from when its trials
/// started (their ids): `None` with fewer than two.
pub fn pace(dir: &Path) -> Option<std::time::Duration> {
    let file = SeriesFile::read(dir).ok()?;
    let mut starts: Vec<i64> = file.trials.iter().filter_map(|t| id_epoch(&t.id)).collect();
    starts.sort_unstable();
    let (first, last) = (*starts.first()?, *starts.last()?);
    let gaps = starts.len().checked_sub(1).filter(|n| *n > 0)?;
    Some(std::time::Duration::from_secs_f64(
        (last - first) as f64 / gaps as f64,
    ))
}

pub fn is_series_id(id: &str) -> bool {
    id.starts_with(PREFIX)
}

/// The series before `id` under `trials` that has tables: the default
/// baseline of a series' `regression` checks.
pub fn previous(trials: &Path, id: &str) -> Option<String> {
    let mut ids: Vec<String> = fs_err::read_dir(trials)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|s| is_series_id(s) && s.as_str() < id)
        .filter(|s| trials.join(s).join("analysis").is_dir())
        .collect();
    ids.sort();
    ids.pop()
}

/// The series folder named, or the latest.
pub fn find(plan: &str, id: Option<&str>) -> Result<(PathBuf, SeriesFile)> {
    let root = crate::paths::trials_dir(plan);
    let id = match id {
        Some(id) if !crate::paths::is_trial_id(id) => {
            return Err(Error::msg(format!("`{id}` is not a series id")));
        }
        Some(id) => id.to_string(),
        None => {
            let mut ids: Vec<String> = fs_err::read_dir(&root)
                .map(|d| {
                    d.flatten()
                        .filter_map(|e| e.file_name().to_str().map(str::to_string))
                        .filter(|s| is_series_id(s))
                        .collect()
                })
                .unwrap_or_default();
            ids.sort();
            ids.pop().ok_or_else(|| {
                Error::msg(format!("plan `{plan}` has no series yet"))
                    .help("a series is made by `runner apply` of a plan with `[series]`")
            })?
        }
    };
    let dir = root.join(&id);
    let file = SeriesFile::read(&dir)?;
    Ok((dir, file))
}

/// Records `trial` (a series' trial) in its series' `series.json` with
/// `status`; nothing for a trial of no series.
pub fn record_trial(trials: &Path, trial: &crate::trial::Trial, status: TrialStatus) -> Result<()> {
    let Some(s) = &trial.series else {
        return Ok(());
    };
    let dir = trials.join(&s.series);
    let mut file = SeriesFile::read(&dir)?;
    file.upsert(TrialEntry {
        id: trial.trial.clone(),
        point: s.point.clone(),
        repetition: s.repetition,
        discard: s.warmup,
        status,
    });
    file.write(&dir)
}
