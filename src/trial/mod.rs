//! A trial: `trials/<plan>/<trial-id>/` holding `trial.json`, a `manifest`
//! (sha256 of every collected file) and the collected files as
//! `<host>/<test>/…` and `<host>/<collect>/…` (host as a file name,
//! `client-0`). `run` carries a trial out on the hosts (monitors, armed
//! tests, waiting, stopping); `remote` holds the scripts it sends; `collect`
//! fetches files; `analysis` writes the tables.

pub mod analysis;
pub mod collect;
pub mod remote;
pub mod run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::analyze::Window;
use crate::error::{Error, Result};
use crate::state::TrialStatus;

/// `trial.json`'s schema: what this runner writes and the newest it reads.
pub const SCHEMA: u32 = 1;

/// `trial.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Trial {
    /// The file's schema ([`SCHEMA`]; files written before it was recorded: 0).
    #[serde(default)]
    pub schema: u32,
    pub plan: String,
    pub trial: String,
    #[serde(default)]
    pub plan_hash: String,
    /// What the trial ran (its node's hash).
    #[serde(default)]
    pub trial_hash: String,
    /// `RUNNER_TRIAL` of its monitors' and tests' processes on the hosts:
    /// unique (plan, id, a nonce), so that stopping one trial never touches
    /// another plan's trial of the same second on a shared machine.
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub runner_version: String,
    /// `starting`, `arming`, `armed` while it runs, then `complete` or
    /// `partial` (a test failed, timed out or left no result on some
    /// host), `failed` (its monitors did not start) or `abandoned`.
    #[serde(default)]
    pub status: TrialStatus,
    /// Tests start `at` after this (seconds since the epoch, runner's clock).
    #[serde(default)]
    pub trigger_epoch: f64,
    #[serde(default)]
    pub monitors: Vec<TrialMonitor>,
    /// By host name (`client[0]`).
    #[serde(default)]
    pub hosts: BTreeMap<String, TrialHost>,
    #[serde(default)]
    pub tests: Vec<TrialTest>,
    /// `[[check]]` results, once evaluated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<crate::check::CheckResult>,
    /// `runner apply --label` (a version, a commit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// A series' trial: which series, point and repetition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<TrialSeries>,
}

/// Where a series' trial belongs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TrialSeries {
    pub series: String,
    /// The trial node's id in the plan (`trial streams=4 #2`).
    pub slot: String,
    /// `streams=4,protocol=udp`.
    pub point: String,
    pub vars: serde_json::Map<String, serde_json::Value>,
    pub repetition: usize,
    /// A warm-up, left out of the statistics.
    pub warmup: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrialHost {
    /// The host's folder in the trial (`client-0`).
    pub dir: String,
    #[serde(default)]
    pub address: String,
    /// Host clock minus runner's clock, measured before the trigger.
    #[serde(default)]
    pub clock_offset_ms: f64,
    /// Round trip of the best clock sample.
    #[serde(default)]
    pub rtt_ms: f64,
    /// A host in a network namespace: its link as configured and as
    /// measured from the hub when the trial began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<TrialLink>,
}

/// A link as measured from the hub: round trip, and the rate that reaches
/// the host when it is shaped.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LinkMeasured {
    pub rtt_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_bps: Option<f64>,
    /// The probe was the limit, not the link: `rate_bps` is a lower bound.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rate_at_least: bool,
}

/// A host's link in a trial.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TrialLink {
    /// `None`: not shaped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configured: Option<crate::plan::model::Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<LinkMeasured>,
    /// Why it could not be measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrialMonitor {
    pub name: String,
    /// The hosts it runs on.
    #[serde(default)]
    pub on: Vec<String>,
    #[serde(default)]
    pub stop_timeout_s: f64,
    /// By host: started/stopped (host clock, seconds since the epoch).
    pub hosts: BTreeMap<String, MonitorRun>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MonitorRun {
    #[serde(default)]
    pub started: f64,
    #[serde(default)]
    pub stopped: f64,
    /// Still running `stop_timeout` after TERM: killed.
    #[serde(default)]
    pub killed: bool,
    /// It ended on its own before the tests were over (a crash, a bad
    /// command): its exit status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exited: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrialTest {
    pub name: String,
    /// The time the test was armed to start (seconds since the epoch).
    #[serde(default)]
    pub armed_at: f64,
    /// `at` as written (`+10s`).
    #[serde(default)]
    pub at: String,
    #[serde(default)]
    pub timeout_s: f64,
    /// The hosts it was armed on.
    #[serde(default)]
    pub on: Vec<String>,
    /// Actual start and end per host (seconds since the epoch, by the
    /// host's own clock; subtract its `clock_offset_ms` for runner's).
    pub hosts: BTreeMap<String, TestRun>,
    /// Max − min of the actual starts, offsets accounted for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skew_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TestRun {
    pub start: f64,
    pub end: f64,
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Killed by its `timeout`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
    /// Why there is no result (not armed, lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the test's script started on the host once armed (host clock,
    /// epoch seconds): after the test's start time means it could only
    /// start late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrived: Option<f64>,
}

impl TestRun {
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.exit_code == Some(0)
    }
}

impl Trial {
    /// Each test's window: earliest actual start to latest actual end across its hosts.
    pub fn windows(&self) -> Vec<Window> {
        self.tests
            .iter()
            .filter(|t| t.hosts.values().any(|r| r.start > 0.0))
            .map(|t| {
                let ran = || t.hosts.values().filter(|r| r.start > 0.0);
                Window {
                    name: t.name.clone(),
                    start: ran().map(|r| r.start).fold(f64::INFINITY, f64::min),
                    end: ran().map(|r| r.end).fold(f64::NEG_INFINITY, f64::max),
                }
            })
            .collect()
    }

    /// The `RUNNER_TRIAL` value of this trial's processes.
    pub fn process_tag(&self) -> String {
        if self.tag.is_empty() {
            self.trial.clone()
        } else {
            self.tag.clone()
        }
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        let written = Trial {
            schema: SCHEMA,
            ..self.clone()
        };
        let bytes = serde_json::to_vec_pretty(&written).map_err(|e| Error::msg(e.to_string()))?;
        Ok(crate::state::write_atomic(&dir.join("trial.json"), &bytes)?)
    }

    pub fn read(dir: &Path) -> Result<Trial> {
        let meta = dir.join("trial.json");
        let bytes = fs_err::read(&meta)?;
        Self::parse(&bytes, &meta)
    }

    /// `trial.json`'s bytes (at `meta`): refused when a newer runner wrote
    /// them.
    fn parse(bytes: &[u8], meta: &Path) -> Result<Trial> {
        #[derive(Deserialize)]
        struct Schema {
            #[serde(default)]
            schema: u32,
        }
        let schema = serde_json::from_slice::<Schema>(bytes).map_or(0, |s| s.schema);
        crate::state::check_schema("trial.json", meta, schema, SCHEMA)?;
        serde_json::from_slice(bytes)
            .map_err(|e| Error::msg(format!("{}:{}: error: {e}", meta.display(), e.line())))
    }

    /// The host whose folder is `dir`, else the folder name itself.
    pub fn host_of_dir(&self, dir: &str) -> String {
        self.hosts
            .iter()
            .find(|(_, h)| h.dir == dir)
            .map_or_else(|| dir.to_string(), |(name, _)| name.clone())
    }
}

/// Evaluates the plan's `[[check]]`s on the trial in `dir` and records the
/// results in its trial.json; `baseline` overrides each check's own. The
/// default baseline is the trial before (`previous_trial`).
pub fn record_checks(
    plan: &crate::plan::Plan,
    dir: &Path,
    baseline: Option<&str>,
) -> Result<(Trial, Vec<crate::check::CheckResult>)> {
    let mut trial = Trial::read(dir)?;
    let trials = crate::paths::trials_dir(&plan.name);
    let previous = previous_trial(&trials, &trial.trial);
    let results = crate::check::evaluate(&plan.checks, dir, &trials, baseline, previous.as_deref());
    trial.checks = results.clone();
    trial.write(dir)?;
    Ok((trial, results))
}

/// The trial before `id` in `trials` (ids sort by time) that has tables:
/// the default baseline of `regression` checks.
pub fn previous_trial(trials: &Path, id: &str) -> Option<String> {
    let mut ids: Vec<String> = fs_err::read_dir(trials)
        .ok()?
        .flatten()
        .filter(|e| e.path().join("analysis").is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|t| t.as_str() < id)
        .collect();
    ids.sort();
    ids.pop()
}

/// A new trial id: the UTC time, `20261123T084118Z`, sortable; `-2`, `-3`…
/// when a trial of that second exists.
pub fn new_id(plan: &str) -> String {
    new_id_with(plan, "")
}

/// `prefix` and the UTC time, unique among the plan's trial folders.
pub fn new_id_with(plan: &str, prefix: &str) -> String {
    let base = format!("{prefix}{}", new_id_at(std::time::SystemTime::now()));
    let root = crate::paths::trials_dir(plan);
    let mut id = base.clone();
    let mut n = 1;
    while root.join(&id).exists() {
        n += 1;
        id = format!("{base}-{n}");
    }
    id
}

/// Trial folders a kill left before their trial was recorded: empty, or
/// holding only a `trial.json` still "starting" (nothing ran on a host
/// before the trial is recorded armed), and not the state's trial. Removed
/// (call with the plan's lock held); their ids.
pub fn clean_unrecorded(plan: &str, recorded: Option<&str>) -> Vec<String> {
    let root = crate::paths::trials_dir(plan);
    let Ok(entries) = fs_err::read_dir(&root) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        if Some(id.as_str()) == recorded || !looks_like_id(&id) || !e.path().is_dir() {
            continue;
        }
        let names: Vec<String> = fs_err::read_dir(e.path())
            .map(|d| {
                d.flatten()
                    .map(|f| f.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let starting = names.iter().all(|n| n == "trial.json")
            && Trial::read(&e.path())
                .map_or(names.is_empty(), |t| t.status == TrialStatus::Starting);
        if starting && fs_err::remove_dir_all(e.path()).is_ok() {
            removed.push(id);
        }
    }
    removed
}

/// `20261123T084118Z`, `20261123T084118Z-2`: what `new_id` makes.
fn looks_like_id(id: &str) -> bool {
    let base = id.split('-').next().unwrap_or("");
    base.len() == 16
        && base.ends_with('Z')
        && base.as_bytes()[8] == b'T'
        && base[..8]
            .bytes()
            .chain(base[9..15].bytes())
            .all(|b| b.is_ascii_digit())
}

/// A time as a trial id: `20261123T084118Z`.
pub fn new_id_at(t: std::time::SystemTime) -> String {
    let text = humantime::format_rfc3339_seconds(t).to_string();
    text.chars().filter(|c| *c != '-' && *c != ':').collect()
}

/// The trial directory: the one named, or the latest (trial ids sort by time).
pub fn find(plan: &str, id: Option<&str>) -> Result<(PathBuf, Trial)> {
    let root = crate::paths::trials_dir(plan);
    let dir = match id {
        // A trial id is a folder name, never a path.
        Some(id) if !crate::paths::is_trial_id(id) => {
            return Err(Error::msg(format!("`{id}` is not a trial id"))
                .help("name a folder under trials/<plan>/, e.g. 20261123T192821Z"));
        }
        Some(id) => root.join(id),
        None => {
            let mut ids: Vec<String> = fs_err::read_dir(&root)
                .map_err(|_| {
                    Error::msg(format!(
                        "plan `{plan}` has no trials: {} does not exist",
                        root.display()
                    ))
                    .help("a trial is made by `runner apply` of a plan with tests")
                })?
                .flatten()
                .filter(|e| e.path().join("trial.json").is_file())
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .collect();
            ids.sort();
            let latest = ids.pop().ok_or_else(|| {
                Error::msg(format!("no trial with a trial.json in {}", root.display()))
            })?;
            root.join(latest)
        }
    };
    let meta = dir.join("trial.json");
    let bytes = fs_err::read(&meta).map_err(|e| {
        Error::msg(e.to_string()).help("name a trial that exists: `runner analyze PLAN TRIAL`")
    })?;
    let trial = Trial::parse(&bytes, &meta)?;
    Ok((dir, trial))
}

/// Files under `dir` whose path relative to it matches one of `globs`,
/// sorted; `trial.json` and `analysis/` are never inputs. A glob that does
/// not parse is an error naming it.
pub fn matching_files(dir: &Path, globs: &[String]) -> Result<Vec<PathBuf>> {
    let set = crate::glob::glob_set(globs)?;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs_err::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(rel) = path.strip_prefix(dir) else {
                continue;
            };
            if rel == Path::new("trial.json") || rel == Path::new("analysis") {
                continue;
            }
            // Symlinks are not followed: a trial never reads outside itself.
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && set.is_match(rel) {
                out.push(rel.to_path_buf());
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_span_all_hosts() {
        let mut t = Trial::default();
        let mut hosts = BTreeMap::new();
        hosts.insert(
            "a".into(),
            TestRun {
                start: 10.0,
                end: 20.0,
                exit_code: Some(0),
                ..TestRun::default()
            },
        );
        hosts.insert(
            "b".into(),
            TestRun {
                start: 9.5,
                end: 21.0,
                exit_code: Some(0),
                ..TestRun::default()
            },
        );
        t.tests.push(TrialTest {
            name: "tcp".into(),
            armed_at: 9.0,
            hosts,
            ..TrialTest::default()
        });
        assert_eq!(
            t.windows(),
            vec![Window {
                name: "tcp".into(),
                start: 9.5,
                end: 21.0
            }]
        );
    }
}
