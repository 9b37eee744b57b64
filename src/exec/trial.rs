//! The trial's nodes as tasks: the trial itself (arm, wait, stop, fetch),
//! each test's results, each `[[collect]]`, each `[[analyze]]`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::tasks::Done;
use super::{Failure, Msg, Shared};
use crate::graph::TrialSpec;
use crate::paths::host_file_name;
use crate::state::{HostState, HostStatus, NodeRecord, Op, TrialRecord, TrialStatus};
use crate::style::plural;
use crate::trial::{self, Trial, run as phases};

fn say(shared: &Shared, text: String) {
    let _ = shared.msgs.send(Msg::Line(text));
}

/// Records `op` durably before going on.
async fn record_now(shared: &Shared, op: Op) -> Result<(), String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    shared
        .msgs
        .send(Msg::Record(Box::new(op), tx))
        .map_err(|_| "the dispatcher is gone".to_string())?;
    rx.await
        .map_err(|_| "the dispatcher is gone".to_string())?
        .map_err(|e| format!("the trial cannot be recorded as armed, so nothing was started: {e}"))
}

fn trial_dir(shared: &Shared, id: &str) -> PathBuf {
    shared.paths.trials().join(id)
}

/// Connections to `wanted`, all at once, from the pool the steps use.
async fn sessions(
    shared: &Arc<Shared>,
    wanted: &[String],
    hosts: &BTreeMap<String, HostState>,
) -> Result<phases::Sessions, String> {
    let mut set = tokio::task::JoinSet::new();
    for host in wanted {
        let h = hosts
            .get(host)
            .filter(|h| h.status == HostStatus::Ready)
            .cloned()
            .ok_or_else(|| format!("host `{host}` is not provisioned"))?;
        let (host, shared) = (host.clone(), shared.clone());
        set.spawn(async move {
            let r = shared.pool.get(&host, &h).await;
            (host, r)
        });
    }
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    while let Some(Ok((host, r))) = set.join_next().await {
        match r {
            Ok(s) => {
                out.insert(host, s);
            }
            Err(e) => errors.push(format!("{host}: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join("; "))
    }
}

/// The trial node: a new trial, from arming to its outputs fetched.
pub async fn run(
    shared: Arc<Shared>,
    spec: Arc<TrialSpec>,
    hosts: BTreeMap<String, HostState>,
    hash: String,
) -> Result<Done, String> {
    phases::check_times(&spec)?;
    let sessions = sessions(&shared, &spec.hosts, &hosts).await?;
    let id = trial::new_id(&shared.paths.name);
    let dir = trial_dir(&shared, &id);
    fs_err::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let addresses = hosts
        .iter()
        .map(|(n, h)| (n.clone(), h.address.clone()))
        .collect();
    let mut trial = phases::skeleton(
        &shared.paths.name,
        &id,
        &shared.plan.file_hash,
        &hash,
        &spec,
        &addresses,
    );
    for e in phases::clocks(&sessions, &mut trial).await {
        say(&shared, format!("warning: {e}"));
    }
    trial.write(&dir).map_err(|e| e.to_string())?;
    // Durable before anything starts on a host: a crash from here on
    // finishes this trial instead of starting it again.
    record_now(
        &shared,
        Op::Trial {
            trial: TrialRecord {
                id: id.clone(),
                hash: hash.clone(),
                status: TrialStatus::Armed,
            },
        },
    )
    .await?;
    let failed = phases::start_monitors(&sessions, &spec, &mut trial).await;
    if !failed.is_empty() {
        // Stop what did start; the trial ends here, recorded as finished.
        phases::stop_monitors(&sessions, &spec, &mut trial).await;
        trial.status = "failed".into();
        let _ = trial.write(&dir);
        let _ = phases::fetch_outputs(&sessions, &spec, &trial, &dir).await;
        // Recorded as finished, with no hash: the next plan runs it again.
        let _ = record_now(&shared, finished(&trial, "")).await;
        return Err(format!("monitors did not start: {}", failed.join("; ")));
    }
    let lead = 1.0 + 0.02 * spec.hosts.len() as f64;
    let trigger = phases::now() + lead.min(30.0);
    // The start times are on disk before any host is armed: a crash while
    // arming is finished by waiting for them, not taken for "never armed".
    phases::set_times(&spec, &mut trial, trigger);
    trial.status = "arming".into();
    trial.write(&dir).map_err(|e| e.to_string())?;
    let errors = phases::arm(&sessions, &spec, &mut trial, trigger).await;
    trial.status = "armed".into();
    trial.write(&dir).map_err(|e| e.to_string())?;
    for e in &errors {
        say(&shared, format!("error: {e}"));
    }
    let last = trial
        .tests
        .iter()
        .map(|t| t.armed_at + t.timeout_s)
        .fold(trigger, f64::max);
    let first = trial
        .tests
        .iter()
        .map(|t| t.armed_at)
        .fold(f64::INFINITY, f64::min);
    let _ = shared.msgs.send(Msg::Armed {
        trigger: if first.is_finite() { first } else { trigger },
        end: last,
    });
    say(
        &shared,
        format!(
            "trial {id}: {} armed on {}; trigger in {:.1} s; results by {} at the latest",
            plural(trial.tests.len(), "test"),
            plural(spec.hosts.len(), "host"),
            trigger - phases::now(),
            humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(last)
            )
        ),
    );
    finish(&spec, &sessions, trial, &dir, &hash).await
}

/// A trial armed by an apply that was interrupted: waited for, monitors
/// stopped, outputs fetched — driven by its `trial.json`, whatever the
/// plan says now.
/// A trial that cannot be finished (its hosts are gone or unreachable) is
/// recorded as finished all the same, and said to be abandoned: it must not
/// hold up every later apply.
pub async fn finish_armed(
    shared: Arc<Shared>,
    hosts: BTreeMap<String, HostState>,
    id: String,
    hash: String,
) -> Result<Done, String> {
    say(
        &shared,
        format!("trial {id}: finishing it (armed by an earlier apply)"),
    );
    let dir = trial_dir(&shared, &id);
    let attempt = async {
        let trial = Trial::read(&dir)
            .map_err(|e| format!("the armed trial {id} cannot be read back: {e}"))?;
        let spec = phases::spec_of(&trial);
        let sessions = sessions(&shared, &spec.hosts, &hosts).await?;
        finish(&spec, &sessions, trial, &dir, &hash).await
    };
    match attempt.await {
        Ok(done) => Ok(done),
        Err(e) => Ok(Done::Summary {
            op: Op::Trial {
                trial: TrialRecord {
                    id: id.clone(),
                    hash,
                    status: TrialStatus::Finished,
                },
            },
            lines: vec![format!(
                "trial {id} abandoned: it could not be finished; what it left on its hosts was not collected"
            )],
            failures: vec![Failure {
                host: "-".into(),
                what: format!("finishing trial {id}"),
                message: e,
                log: None,
            }],
        }),
    }
}

fn finished(trial: &Trial, hash: &str) -> Op {
    Op::Trial {
        trial: TrialRecord {
            id: trial.trial.clone(),
            hash: hash.to_string(),
            status: TrialStatus::Finished,
        },
    }
}

/// Wait, stop, fetch, conclude: the end of every trial.
async fn finish(
    spec: &TrialSpec,
    sessions: &phases::Sessions,
    mut trial: Trial,
    dir: &std::path::Path,
    hash: &str,
) -> Result<Done, String> {
    if trial.trigger_epoch > 0.0 {
        phases::wait(sessions, spec, &mut trial).await;
    }
    for t in &mut trial.tests {
        for host in &t.on {
            t.hosts
                .entry(host.clone())
                .or_insert_with(|| crate::trial::TestRun {
                    error: Some("never armed: runner stopped before arming it".into()),
                    ..Default::default()
                });
        }
    }
    let mut problems = phases::stop_monitors(sessions, spec, &mut trial).await;
    problems.extend(phases::fetch_outputs(sessions, spec, &trial, dir).await);
    phases::conclude(&mut trial);
    trial.write(dir).map_err(|e| e.to_string())?;
    crate::trial::collect::write_manifest(dir).map_err(|e| e.to_string())?;
    let mut lines = vec![format!(
        "trial {} {} → {}",
        trial.trial,
        trial.status,
        crate::paths::shown(dir)
    )];
    let mut failures = Vec::new();
    for m in &trial.monitors {
        for (host, run) in &m.hosts {
            if let Some(code) = run.exited {
                failures.push(Failure {
                    host: host.clone(),
                    what: format!("monitor `{}`", m.name),
                    message: format!(
                        "it ended on its own with exit status {code} before the tests were over"
                    ),
                    log: Some(dir.join(host_file_name(host)).join(&m.name).join("stderr")),
                });
            }
        }
    }
    // A trial finished by its own node reports its tests through the test
    // nodes; a trial finished after an interruption reports them here.
    if spec.tests.iter().all(|t| t.command.is_empty()) {
        for t in &trial.tests {
            let (l, f) = test_summary(t, dir);
            lines.extend(l);
            failures.extend(f);
        }
    }
    for p in problems {
        lines.push(format!("  warning: {p}"));
    }
    Ok(Done::Summary {
        op: finished(&trial, hash),
        lines,
        failures,
    })
}

/// A test that starts this much after its time on a host is said to be late.
const LATE_S: f64 = 0.05;

/// A test's summary line, a warning per host where it started late, and its
/// failures, one per host that did not succeed.
fn test_summary(t: &crate::trial::TrialTest, dir: &std::path::Path) -> (Vec<String>, Vec<Failure>) {
    let name = &t.name;
    let ok = t.hosts.values().filter(|r| r.succeeded()).count();
    let skew = t.skew_ms.map_or("-".to_string(), |s| format!("{s:.1} ms"));
    let mut lines = vec![format!(
        "test {name}: {}, {ok} succeeded, start skew {skew}",
        plural(t.hosts.len(), "host"),
    )];
    for (host, r) in &t.hosts {
        let late = r.start - t.armed_at;
        if r.start <= 0.0 || late <= LATE_S {
            continue;
        }
        let why = match r.arrived {
            Some(a) if a > t.armed_at => format!(
                "its arming reached the host {:.0} ms after that by the host's clock (runner or the host was slow to answer, or the host's clock is ahead of runner's); give `at` more lead",
                (a - t.armed_at) * 1000.0
            ),
            _ => "the host was too busy to wake it on time".into(),
        };
        lines.push(format!(
            "  warning: test {name} on {host} started {:.0} ms after its start time: {why}",
            late * 1000.0
        ));
    }
    let failures = t
        .hosts
        .iter()
        .filter(|(_, r)| !r.succeeded())
        .map(|(host, r)| {
            let folder = dir.join(host_file_name(host)).join(name);
            let message = match (&r.error, r.timed_out, r.exit_code) {
                (Some(e), _, _) => e.clone(),
                (None, true, _) => format!("timed out after {} s (its `timeout`)", t.timeout_s),
                (None, false, Some(c)) => format!("exit status {c}"),
                (None, false, None) => "no exit status".into(),
            };
            Failure {
                host: host.clone(),
                what: format!("test `{name}`"),
                message,
                log: Some(folder.join("stderr")),
            }
        })
        .collect();
    (lines, failures)
}

/// A test node: its results in the trial just run.
pub fn test_results(
    shared: &Shared,
    name: &str,
    record: Option<TrialRecord>,
    id: String,
    hash: String,
) -> Result<Done, Failure> {
    let fail = |message: String| Failure {
        host: "-".into(),
        what: format!("test `{name}`"),
        message,
        log: None,
    };
    let record = record.ok_or_else(|| fail("no trial ran".into()))?;
    let dir = trial_dir(shared, &record.id);
    let trial = Trial::read(&dir).map_err(|e| fail(e.to_string()))?;
    let t = trial
        .tests
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| fail(format!("trial {} has no test `{name}`", record.id)))?;
    let (lines, failures) = test_summary(t, &dir);
    let op = Op::Node {
        id,
        node: NodeRecord {
            hash,
            trial: record.id.clone(),
        },
    };
    Ok(Done::Summary {
        op,
        lines,
        failures,
    })
}

/// A `[[collect]]` node: its files from each of its hosts into the latest trial.
pub async fn collect(
    shared: Arc<Shared>,
    spec: crate::plan::model::Collect,
    hosts: BTreeMap<String, HostState>,
    record: Option<TrialRecord>,
    id: String,
    hash: String,
) -> Result<Done, String> {
    let record = record.ok_or("no trial to collect into")?;
    let dir = trial_dir(&shared, &record.id);
    let sessions = sessions(&shared, &spec.hosts, &hosts).await?;
    let globs = crate::glob::glob_set(&spec.files).map_err(|e| e.to_string())?;
    let mut set = tokio::task::JoinSet::new();
    for (host, s) in sessions {
        let dest = dir.join(host_file_name(&host)).join(&spec.name);
        let globs = globs.clone();
        set.spawn(async move {
            // Commands run in the host's working directory already.
            let f = crate::trial::collect::fetch(
                &s,
                &host,
                ".",
                true,
                &|rel| globs.is_match(rel),
                &dest,
            )
            .await;
            (host, f)
        });
    }
    let mut errors = Vec::new();
    let mut files = 0;
    let mut bytes = 0;
    let mut empty = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((host, f)) => {
                if f.files.is_empty() && f.errors.is_empty() {
                    empty.push(host);
                }
                files += f.files.len();
                bytes += f.bytes;
                errors.extend(f.errors);
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    crate::trial::collect::write_manifest(&dir).map_err(|e| e.to_string())?;
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    let op = Op::Node {
        id,
        node: NodeRecord {
            hash,
            trial: record.id.clone(),
        },
    };
    let mut lines = vec![format!(
        "collect {}: {files} files, {bytes} bytes into {}",
        spec.name,
        crate::paths::shown(&dir)
    )];
    if !empty.is_empty() {
        empty.sort();
        lines.push(format!(
            "  warning: nothing matched {} on {} (a glob does not follow symlinked folders)",
            spec.files.join(", "),
            crate::graph::hosts_summary(&empty)
        ));
    }
    Ok(Done::Summary {
        op,
        lines,
        failures: Vec::new(),
    })
}

/// An `[[analyze]]` node: its tables from the latest trial.
pub fn analyze(
    shared: &Shared,
    index: usize,
    record: Option<TrialRecord>,
    id: String,
    hash: String,
) -> Result<Done, String> {
    let record = record.ok_or("no trial to analyse")?;
    let dir = trial_dir(shared, &record.id);
    let trial = Trial::read(&dir).map_err(|e| e.to_string())?;
    let a = &shared.plan.analyses[index];
    let written = crate::trial::analysis::run_one(&shared.plan, a, &dir, &trial)
        .map_err(|e| e.to_string())?;
    let op = Op::Node {
        id,
        node: NodeRecord {
            hash,
            trial: record.id,
        },
    };
    let tables: Vec<String> = written
        .tables
        .iter()
        .map(|p| crate::paths::shown(p))
        .collect();
    if !written.ok {
        // Not recorded: the plan shows it again until its inputs are good.
        return Err(if tables.is_empty() {
            format!("{}; no table was written", written.problems.join("; "))
        } else {
            format!(
                "{}; tables written all the same: {}",
                written.problems.join("; "),
                tables.join(", ")
            )
        });
    }
    Ok(Done::Summary {
        op,
        lines: vec![format!("analyze {}: {}", a.name, tables.join(", "))],
        failures: Vec::new(),
    })
}

/// Evaluates every `[[check]]` on the latest trial's tables and writes the
/// results into its trial.json.
pub fn checks(
    shared: &Shared,
    record: Option<TrialRecord>,
    id: String,
    hash: String,
) -> Result<Done, String> {
    let record = record.ok_or("no trial to check")?;
    let dir = trial_dir(shared, &record.id);
    let trials = crate::paths::trials_dir(&shared.plan.name);
    let previous = crate::trial::previous_trial(&trials, &record.id);
    let results = crate::check::evaluate(
        &shared.plan.checks,
        &dir,
        &trials,
        shared.baseline.as_deref(),
        previous.as_deref(),
    );
    let mut trial = Trial::read(&dir).map_err(|e| e.to_string())?;
    trial.checks = results.clone();
    trial.write(&dir).map_err(|e| e.to_string())?;
    let failed = results.iter().filter(|r| !r.passed).count();
    Ok(Done::Checked {
        op: Op::Node {
            id,
            node: NodeRecord {
                hash,
                trial: record.id,
            },
        },
        lines: results
            .iter()
            .map(crate::check::CheckResult::line)
            .collect(),
        failed,
    })
}

/// Writes the latest trial's `report.html`.
pub fn report(
    shared: &Shared,
    record: Option<TrialRecord>,
    id: String,
    hash: String,
) -> Result<Done, String> {
    let record = record.ok_or("no trial to report")?;
    let dir = trial_dir(shared, &record.id);
    let trial = Trial::read(&dir).map_err(|e| e.to_string())?;
    let path = crate::html::write(&shared.plan, &dir, &trial)?;
    Ok(Done::Summary {
        op: Op::Node {
            id,
            node: NodeRecord {
                hash,
                trial: record.id,
            },
        },
        lines: vec![format!("report: {}", crate::paths::shown(&path))],
        failures: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trial::{TestRun, TrialTest};

    fn run(start: f64, arrived: f64) -> TestRun {
        TestRun {
            start,
            end: start + 1.0,
            exit_code: Some(0),
            arrived: Some(arrived),
            ..TestRun::default()
        }
    }

    #[test]
    fn a_late_start_is_said_with_its_reason() {
        let mut t = TrialTest {
            name: "tcp".into(),
            armed_at: 100.0,
            ..TrialTest::default()
        };
        t.hosts.insert("on-time".into(), run(100.0004, 98.0));
        t.hosts.insert("armed-late".into(), run(100.527, 100.4));
        t.hosts.insert("busy".into(), run(100.3, 99.0));
        let (lines, failures) = test_summary(&t, std::path::Path::new("/t"));
        assert!(failures.is_empty());
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].starts_with("test tcp: 3 hosts, 3 succeeded"));
        assert_eq!(
            lines[1],
            "  warning: test tcp on armed-late started 527 ms after its start time: its arming reached the host 400 ms after that by the host's clock (runner or the host was slow to answer, or the host's clock is ahead of runner's); give `at` more lead"
        );
        assert_eq!(
            lines[2],
            "  warning: test tcp on busy started 300 ms after its start time: the host was too busy to wake it on time"
        );
    }
}
