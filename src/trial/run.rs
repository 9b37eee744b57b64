//! A trial's phases on its hosts, each over every host at once: clock
//! offsets, monitors started, tests armed, tests waited for, monitors
//! stopped, outputs fetched. The executor strings them together and records
//! the trial as armed (durably) before anything starts on a host.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{TestRun, Trial, TrialHost, TrialMonitor, TrialTest, collect, remote};
use crate::graph::{Armed, TrialSpec, fill};
use crate::paths::host_file_name;
use crate::plan::model::At;
use crate::ssh::{Limit, Session};
use crate::state::TrialStatus;

pub type Sessions = BTreeMap<String, Arc<Session>>;

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long after a test's timeout runner still waits for its result.
const RESULT_GRACE: Duration = Duration::from_secs(20);
/// The waits on hosts start polling this long after the first start.
const QUIET_AFTER_START: f64 = 0.1;

pub use crate::os::now;

/// Tests with a fixed time that has passed: an error before anything starts.
pub fn check_times(spec: &TrialSpec) -> Result<(), String> {
    let now = now();
    let late: Vec<String> = spec
        .tests
        .iter()
        .filter_map(|t| match t.at {
            Some(At::Epoch(e)) if e <= now + 1.0 => Some(format!(
                "test `{}` is set to start at {}, which has passed",
                t.name,
                At::Epoch(e).show()
            )),
            _ => None,
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if late.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}; nothing was started (give `at` a later time, or `+30s` after the trigger)",
            late.join("; ")
        ))
    }
}

/// A fresh trial.json for `id` (nothing started yet).
pub fn skeleton(
    plan: &str,
    id: &str,
    plan_hash: &str,
    trial_hash: &str,
    spec: &TrialSpec,
    addresses: &BTreeMap<String, String>,
) -> Trial {
    let mut trial = Trial {
        plan: plan.to_string(),
        trial: id.to_string(),
        plan_hash: plan_hash.to_string(),
        trial_hash: trial_hash.to_string(),
        runner_version: env!("CARGO_PKG_VERSION").to_string(),
        status: TrialStatus::Starting,
        tag: format!("{plan}-{id}-{}", crate::os::unique_id()),
        ..Trial::default()
    };
    for h in &spec.hosts {
        trial.hosts.insert(
            h.clone(),
            TrialHost {
                dir: host_file_name(h),
                address: addresses.get(h).cloned().unwrap_or_default(),
                ..TrialHost::default()
            },
        );
    }
    for m in &spec.monitors {
        match trial.monitors.iter_mut().find(|x| x.name == m.name) {
            Some(x) => x.on.push(m.host.clone()),
            None => trial.monitors.push(TrialMonitor {
                name: m.name.clone(),
                on: vec![m.host.clone()],
                stop_timeout_s: m.timeout.as_secs_f64(),
                ..TrialMonitor::default()
            }),
        }
    }
    for t in &spec.tests {
        match trial.tests.iter_mut().find(|x| x.name == t.name) {
            Some(x) => x.on.push(t.host.clone()),
            None => trial.tests.push(TrialTest {
                name: t.name.clone(),
                at: t.at.map(|a| a.show()).unwrap_or_default(),
                timeout_s: t.timeout.as_secs_f64(),
                on: vec![t.host.clone()],
                ..TrialTest::default()
            }),
        }
    }
    trial
}

/// What an armed trial runs, read back from its `trial.json` (for finishing
/// it; the commands are not needed any more).
pub fn spec_of(trial: &Trial) -> TrialSpec {
    let mut spec = TrialSpec::default();
    for m in &trial.monitors {
        for host in &m.on {
            spec.monitors.push(Armed {
                name: m.name.clone(),
                host: host.clone(),
                command: String::new(),
                at: None,
                timeout: Duration::from_secs_f64(m.stop_timeout_s.max(0.0)),
            });
        }
    }
    for t in &trial.tests {
        for host in &t.on {
            spec.tests.push(Armed {
                name: t.name.clone(),
                host: host.clone(),
                command: String::new(),
                at: Some(At::Epoch(t.armed_at)),
                timeout: Duration::from_secs_f64(t.timeout_s.max(0.0)),
            });
        }
    }
    spec.hosts = trial.hosts.keys().cloned().collect();
    spec
}

/// Each host's clock offset and round trip, best of 5 samples (NTP-style:
/// the sample with the shortest round trip).
pub async fn clocks(sessions: &Sessions, trial: &mut Trial) -> Vec<String> {
    let mut set = tokio::task::JoinSet::new();
    for (host, s) in sessions {
        let (host, s) = (host.clone(), s.clone());
        set.spawn(async move { (host, s.clock_samples(5, Duration::from_secs(5)).await) });
    }
    let mut errors = Vec::new();
    while let Some(Ok((host, samples))) = set.join_next().await {
        match samples {
            Ok(samples) => {
                if let Some((t0, remote, t1)) = samples
                    .into_iter()
                    .min_by(|a, b| (a.2 - a.0).total_cmp(&(b.2 - b.0)))
                    && let Some(h) = trial.hosts.get_mut(&host)
                {
                    h.clock_offset_ms = (remote - (t0 + t1) / 2.0) * 1000.0;
                    h.rtt_ms = (t1 - t0) * 1000.0;
                }
            }
            Err(e) => errors.push(format!("{host}: cannot read its clock: {e}")),
        }
    }
    errors
}

/// Runs one script on every host that has something to do, at once.
async fn on_hosts(
    sessions: &Sessions,
    scripts: BTreeMap<String, String>,
    limit: crate::ssh::Limit,
) -> BTreeMap<String, Result<String, String>> {
    let mut set = tokio::task::JoinSet::new();
    for (host, script) in scripts {
        let Some(s) = sessions.get(&host).cloned() else {
            continue;
        };
        let tag = format!("trial-{}", crate::os::unique_id());
        set.spawn(async move {
            let mut out: Vec<u8> = Vec::new();
            let mut err: Vec<u8> = Vec::new();
            let r = s.exec(&script, None, limit, &tag, &mut out, &mut err).await;
            let r = match r {
                Ok(o) if o.success() => Ok(String::from_utf8_lossy(&out).into_owned()),
                Ok(o) => Err(format!(
                    "{o}: {}",
                    crate::style::escape_controls(String::from_utf8_lossy(&err).trim())
                )),
                Err(e) => Err(e.to_string()),
            };
            (host, r)
        });
    }
    let mut results = BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        if let Ok((host, r)) = joined {
            results.insert(host, r);
        }
    }
    results
}

fn by_host(items: &[Armed]) -> BTreeMap<String, Vec<&Armed>> {
    let mut map: BTreeMap<String, Vec<&Armed>> = BTreeMap::new();
    for a in items {
        map.entry(a.host.clone()).or_default().push(a);
    }
    map
}

/// Starts every monitor; returns what failed to start.
pub async fn start_monitors(
    sessions: &Sessions,
    spec: &TrialSpec,
    trial: &mut Trial,
) -> Vec<String> {
    let id = trial.trial.clone();
    let ptag = trial.process_tag();
    let groups = by_host(&spec.monitors);
    let scripts = groups
        .iter()
        .map(|(host, ms)| {
            let commands: Vec<(String, String)> = ms
                .iter()
                .map(|m| (m.name.clone(), fill(&m.command, &id)))
                .collect();
            let refs: Vec<(&str, &str)> = commands
                .iter()
                .map(|(n, c)| (n.as_str(), c.as_str()))
                .collect();
            (
                host.clone(),
                remote::start_monitors(&id, &ptag, host, &refs),
            )
        })
        .collect();
    let mut errors = Vec::new();
    let limit = Limit::new(SCRIPT_TIMEOUT, "runner's limit on starting monitors");
    for (host, result) in on_hosts(sessions, scripts, limit).await {
        let lines = match result {
            Ok(text) => text,
            Err(e) => {
                errors.push(format!("{host}: monitors did not start: {e}"));
                continue;
            }
        };
        for line in lines.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(&what), Some(&name)) = (f.first(), f.get(1)) else {
                continue;
            };
            let Some(m) = trial.monitors.iter_mut().find(|m| m.name == name) else {
                continue;
            };
            let run = m.hosts.entry(host.clone()).or_default();
            if what == "started" {
                run.started = f.get(2).and_then(|t| t.parse().ok()).unwrap_or(0.0);
            } else {
                run.error = Some("did not start (no pid within 5 s)".into());
                errors.push(format!("{host}: monitor `{name}` did not start"));
            }
        }
    }
    errors
}

/// The trigger and each test's start time, in `trial`.
pub fn set_times(spec: &TrialSpec, trial: &mut Trial, trigger: f64) {
    trial.trigger_epoch = trigger;
    for t in &mut trial.tests {
        if let Some(a) = spec.tests.iter().find(|a| a.name == t.name) {
            t.armed_at = start_of(a, trigger);
        }
    }
}

/// When a test starts, runner's clock: the trigger plus `at`, or `at`.
fn start_of(t: &Armed, trigger: f64) -> f64 {
    match t.at {
        Some(At::Epoch(e)) => e,
        Some(At::Offset(d)) => trigger + d.as_secs_f64(),
        None => trigger,
    }
}

/// Arms every test to start at its time by each host's own clock.
pub async fn arm(
    sessions: &Sessions,
    spec: &TrialSpec,
    trial: &mut Trial,
    trigger: f64,
) -> Vec<String> {
    let id = trial.trial.clone();
    let ptag = trial.process_tag();
    set_times(spec, trial, trigger);
    let groups = by_host(&spec.tests);
    let scripts = groups
        .iter()
        .map(|(host, ts)| {
            let tests: Vec<(String, String, u64, Duration)> = ts
                .iter()
                .map(|t| {
                    let us = (start_of(t, trigger) * 1e6).round() as u64;
                    (t.name.clone(), fill(&t.command, &id), us, t.timeout)
                })
                .collect();
            let refs: Vec<(&str, &str, u64, Duration)> = tests
                .iter()
                .map(|(n, c, us, d)| (n.as_str(), c.as_str(), *us, *d))
                .collect();
            (host.clone(), remote::arm_tests(&id, &ptag, host, &refs))
        })
        .collect();
    let mut errors = Vec::new();
    let limit = Limit::new(SCRIPT_TIMEOUT, "runner's limit on arming tests");
    for (host, result) in on_hosts(sessions, scripts, limit).await {
        if let Err(e) = result {
            errors.push(format!("{host}: tests could not be armed: {e}"));
            for t in groups.get(&host).into_iter().flatten() {
                set_error(trial, &t.name, &host, format!("not armed: {e}"));
            }
        }
    }
    errors
}

fn set_error(trial: &mut Trial, test: &str, host: &str, error: String) {
    if let Some(t) = trial.tests.iter_mut().find(|t| t.name == test) {
        t.hosts.insert(
            host.to_string(),
            TestRun {
                error: Some(error),
                ..TestRun::default()
            },
        );
    }
}

/// Waits until every armed test has its result on its host (one waiting
/// command per host), or its timeout and a grace period have passed.
pub async fn wait(sessions: &Sessions, spec: &TrialSpec, trial: &mut Trial) {
    let id = trial.trial.clone();
    let now = now();
    let groups = by_host(&spec.tests);
    let mut scripts = BTreeMap::new();
    let mut longest = Duration::ZERO;
    for (host, ts) in &groups {
        let pending: Vec<&Armed> = ts
            .iter()
            .copied()
            .filter(|t| {
                !trial.tests.iter().any(|x| {
                    x.name == t.name && x.hosts.get(host).is_some_and(|r| r.error.is_some())
                })
            })
            .collect();
        if pending.is_empty() {
            continue;
        }
        let until = pending
            .iter()
            .map(|t| start_of(t, trial.trigger_epoch) + t.timeout.as_secs_f64())
            .fold(now, f64::max);
        let limit = Duration::from_secs_f64((until - now).max(0.0)) + RESULT_GRACE;
        longest = longest.max(limit);
        // Quiet until just after the first start: no poll near a start.
        let first = pending
            .iter()
            .map(|t| start_of(t, trial.trigger_epoch))
            .fold(f64::INFINITY, f64::min);
        let quiet = Duration::from_secs_f64((first - now + QUIET_AFTER_START).max(0.0));
        let names: Vec<&str> = pending.iter().map(|t| t.name.as_str()).collect();
        scripts.insert(
            host.clone(),
            remote::wait_tests(&id, &trial.process_tag(), host, &names, quiet, limit),
        );
    }
    let limit = Limit::new(
        longest + Duration::from_secs(30),
        "the tests' `timeout`s and 30 s to report",
    );
    let results = on_hosts(sessions, scripts, limit).await;
    for (host, ts) in &groups {
        let text = match results.get(host) {
            None => continue,
            Some(Ok(t)) => t.clone(),
            Some(Err(e)) => {
                for t in ts {
                    set_error(trial, &t.name, host, format!("no result: {e}"));
                }
                continue;
            }
        };
        for line in text.lines() {
            let Some((name, json)) = line.split_once('\t') else {
                continue;
            };
            if let Some(t) = trial.tests.iter_mut().find(|t| t.name == name) {
                t.hosts.insert(host.clone(), test_run(json));
            }
        }
    }
}

/// A test's result as its host's wait reported it (JSON): its start, end
/// and exit code, or that it has none.
fn test_run(json: &str) -> TestRun {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    match (v["start"].as_f64(), v["end"].as_f64()) {
        (Some(start), Some(end)) => {
            let code = v["exit_code"].as_i64().map(|c| c as i32);
            TestRun {
                start,
                end,
                exit_code: code,
                timed_out: code == Some(124),
                error: None,
                arrived: v["arrived_us"].as_f64().map(|us| us / 1e6),
            }
        }
        _ if v["gone"] == true => TestRun {
            error: Some(format!(
                "no result: its script ended without writing status.json ({} KiB free on the host's disk there: full?)",
                v["avail_kb"]
                    .as_str()
                    .filter(|k| !k.is_empty())
                    .unwrap_or("?")
            )),
            ..TestRun::default()
        },
        _ => TestRun {
            error: Some(
                "no result: it did not finish within its timeout, or was never armed".into(),
            ),
            ..TestRun::default()
        },
    }
}

/// Stops every monitor (TERM, KILL after its `stop_timeout`).
pub async fn stop_monitors(
    sessions: &Sessions,
    spec: &TrialSpec,
    trial: &mut Trial,
) -> Vec<String> {
    let id = trial.trial.clone();
    let ptag = trial.process_tag();
    let groups = by_host(&spec.monitors);
    let mut longest = Duration::ZERO;
    let scripts = groups
        .iter()
        .map(|(host, ms)| {
            let list: Vec<(&str, Duration)> =
                ms.iter().map(|m| (m.name.as_str(), m.timeout)).collect();
            longest = longest.max(ms.iter().map(|m| m.timeout).sum());
            (host.clone(), remote::stop_monitors(&id, &ptag, host, &list))
        })
        .collect();
    let mut errors = Vec::new();
    let limit = Limit::new(
        longest + SCRIPT_TIMEOUT,
        "the monitors' `stop_timeout`s and runner's limit on stopping them",
    );
    for (host, result) in on_hosts(sessions, scripts, limit).await {
        match result {
            Ok(text) => {
                for line in text.lines() {
                    let f: Vec<&str> = line.split_whitespace().collect();
                    let (Some(&how), Some(&name)) = (f.first(), f.get(1)) else {
                        continue;
                    };
                    if let Some(m) = trial.monitors.iter_mut().find(|m| m.name == name) {
                        let run = m.hosts.entry(host.clone()).or_default();
                        let value = f.get(2).copied().unwrap_or("");
                        match how {
                            "exited" => run.exited = value.parse().ok(),
                            "snapshot" if value == "ok" => {}
                            "snapshot" => {
                                let why = line.splitn(4, ' ').nth(3).unwrap_or("").trim();
                                run.error = Some(format!("its Prometheus snapshot failed: {why}"));
                            }
                            _ => {
                                run.stopped = value.parse().unwrap_or(0.0);
                                run.killed = how == "killed";
                            }
                        }
                    }
                }
            }
            Err(e) => errors.push(format!("{host}: monitors could not be stopped: {e}")),
        }
    }
    errors
}

/// Fetches every host's `runner-trials/<id>/` into `<trial dir>/<host>/`.
pub async fn fetch_outputs(
    sessions: &Sessions,
    spec: &TrialSpec,
    trial: &Trial,
    dir: &Path,
) -> Vec<String> {
    let mut set = tokio::task::JoinSet::new();
    for host in &spec.hosts {
        let Some(s) = sessions.get(host).cloned() else {
            continue;
        };
        let base = crate::paths::host_trial_dir(&trial.trial, host);
        let host = host.clone();
        let dest: PathBuf = dir.join(host_file_name(&host));
        set.spawn(async move { collect::fetch(&s, &host, &base, false, &|_| true, &dest).await });
    }
    let mut errors = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(f) => errors.extend(f.errors),
            Err(e) => errors.push(e.to_string()),
        }
    }
    errors
}

/// Skews, status: what the trial came to.
pub fn conclude(trial: &mut Trial) {
    let offsets: BTreeMap<String, f64> = trial
        .hosts
        .iter()
        .map(|(h, x)| (h.clone(), x.clock_offset_ms / 1000.0))
        .collect();
    let mut complete = true;
    for t in &mut trial.tests {
        let starts: Vec<f64> = t
            .hosts
            .iter()
            .filter(|(_, r)| r.error.is_none() && r.start > 0.0)
            .map(|(h, r)| r.start - offsets.get(h).copied().unwrap_or(0.0))
            .collect();
        t.skew_ms = (starts.len() > 1).then(|| {
            let max = starts.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let min = starts.iter().copied().fold(f64::INFINITY, f64::min);
            (max - min) * 1000.0
        });
        complete &= t.hosts.values().all(TestRun::succeeded);
    }
    complete &= trial.monitors.iter().all(|m| {
        m.hosts
            .values()
            .all(|r| r.exited.is_none() && r.error.is_none())
    });
    trial.status = if complete {
        TrialStatus::Complete
    } else {
        TrialStatus::Partial
    };
}
