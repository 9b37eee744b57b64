//! The trial node and its test nodes. The trial: clocks read, the trial
//! recorded as armed (durably) before anything starts on a host, monitors
//! started, tests armed, waited for, monitors stopped, outputs fetched. A
//! trial armed by an interrupted apply is finished from its `trial.json`,
//! whatever the plan says now. A test node reports its results in the
//! trial just run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use petgraph::graph::NodeIndex;

use super::{Cx, Done, Failure, Msg, Shared, Task};
use crate::diff::Finish;
use crate::error::{Error, Result};
use crate::graph::{Payload, TrialSpec};
use crate::paths::host_file_name;
use crate::state::{HostState, Op, TrialRecord, TrialStatus};
use crate::style::plural;
use crate::trial::run::{self as phases, Sessions};
use crate::trial::{self, Trial, TrialTest};

/// A test that starts this much after its time on a host is said to be late.
const LATE_S: f64 = 0.05;

/// The trial node: a new trial, from arming to its outputs fetched. A
/// series' trial (a slot) finishes the trial of its slot an interrupted
/// apply armed, or runs a new one into the series.
pub(super) fn run(cx: Cx<'_>, node_idx: NodeIndex) -> Task {
    let fresh = match Fresh::of(&cx, node_idx) {
        Ok(f) => f,
        Err(e) => {
            let failure = cx.fail.with(e);
            return Box::pin(async move { Err(failure) });
        }
    };
    if let Some(finish) = cx.change.finishes().cloned() {
        // A series' trial an interrupted apply armed: finished, or, if its
        // tests never were armed, run anew in its place.
        return finish_armed(cx, finish, Some(fresh));
    }
    let (shared, fail) = (cx.shared, cx.fail);
    Box::pin(async move { fresh.run(shared).await.map_err(|e| fail.with(e)) })
}

/// What a new trial of a trial node needs.
pub(super) struct Fresh {
    spec: Arc<TrialSpec>,
    hosts: BTreeMap<String, HostState>,
    hash: String,
    series: Option<crate::trial::TrialSeries>,
}

impl Fresh {
    fn of(cx: &Cx<'_>, node_idx: NodeIndex) -> Result<Fresh> {
        let node = &cx.graph.dag[node_idx];
        let Payload::Trial(spec) = node.payload.clone() else {
            return Err(Error::msg("no trial to run"));
        };
        let series = node
            .slot
            .map(|k| super::series::placement(cx, k))
            .transpose()?;
        let hosts = cx.state.hosts.clone();
        let spec = resolve(&spec, &hosts).map_err(|e| Error::msg(e.to_string()))?;
        Ok(Fresh {
            spec,
            hosts,
            hash: node.hash.clone(),
            series,
        })
    }

    async fn run(self, shared: Arc<Shared>) -> Result<Done> {
        new_trial(shared, self.spec, self.hosts, self.hash, self.series).await
    }
}

async fn new_trial(
    shared: Arc<Shared>,
    spec: Arc<TrialSpec>,
    hosts: BTreeMap<String, HostState>,
    hash: String,
    series: Option<crate::trial::TrialSeries>,
) -> Result<Done> {
    phases::check_times(&spec).map_err(Error::msg)?;
    let sessions = shared
        .pool
        .sessions(&spec.hosts, &hosts)
        .await
        .map_err(Error::msg)?;
    let id = trial::new_id(&shared.paths.name);
    let dir = shared.paths.trials().join(&id);
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
    trial.series = series;
    trial.label = shared.label.clone().filter(|l| !l.trim().is_empty());
    for e in phases::clocks(&sessions, &mut trial).await {
        shared.say(format!("warning: {e}"));
    }
    // A link that cannot be measured is a network the tests would run on
    // dead: the trial does not start.
    let broken = links(&shared.plan, &hosts, &mut trial).await;
    if !broken.is_empty() {
        return Err(Error::msg(format!(
            "{}; the trial was not started: its tests would run on a network that does not carry (the next apply makes the hosts' links again if refresh finds them broken)",
            broken.join("; ")
        )));
    }
    // The folder appears just before the trial is recorded; one a kill
    // leaves between the two is removed by the next apply.
    fs_err::create_dir_all(&dir)?;
    trial.write(&dir)?;
    // Durable before anything starts on a host: a crash from here on
    // finishes this trial instead of starting it again.
    let armed = record(&trial, &hash, TrialStatus::Armed);
    shared.record_now(armed).await.map_err(|e| {
        Error::msg(format!(
            "the trial cannot be recorded as armed, so nothing was started: {e}"
        ))
    })?;
    let failed = phases::start_monitors(&sessions, &spec, &mut trial).await;
    if !failed.is_empty() {
        return Err(monitors_failed(&shared, &sessions, &spec, trial, &dir, failed).await);
    }
    arm(&shared, &sessions, &spec, &mut trial, &dir).await?;
    in_series(&shared, &trial, TrialStatus::Armed);
    // Its test nodes report the tests; a series' trial has none.
    let by_trial = trial.series.is_some();
    finish(&shared, &spec, &sessions, trial, &dir, &hash, &|_| by_trial).await
}

/// A series' trial in its `series.json`: a failure to write it is said,
/// and the trial goes on (the state records it all the same).
fn in_series(shared: &Shared, trial: &Trial, status: TrialStatus) {
    if let Err(e) = crate::series::record_trial(&shared.paths.trials(), trial, status) {
        shared.say(format!("warning: trial {}: series.json: {e}", trial.trial));
    }
}

/// Each host in a network namespace: its link as configured, and as
/// measured from the plan's hub (round trip; the rate of a short UDP
/// probe when it is shaped). At most `PROBES` hosts at a time, so that the
/// probes do not measure the hub's CPU. What could not be measured, said.
async fn links(
    plan: &crate::plan::Plan,
    hosts: &BTreeMap<String, crate::state::HostState>,
    trial: &mut Trial,
) -> Vec<String> {
    const PROBES: usize = 4;
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(PROBES));
    let mut set = tokio::task::JoinSet::new();
    for name in trial.hosts.keys() {
        let Some(h) = hosts.get(name) else { continue };
        let Some(net) = h.network().cloned() else {
            continue;
        };
        let Ok(addr) = h.address.parse::<std::net::Ipv4Addr>() else {
            continue;
        };
        let configured = plan
            .hosts()
            .find(|s| &s.name == name)
            .and_then(|s| s.link.clone());
        let name = name.clone();
        let rate = configured.as_ref().and_then(|l| l.rate_bps);
        let permits = permits.clone();
        set.spawn(async move {
            let _one = permits.acquire_owned().await;
            let measured = tokio::task::spawn_blocking(move || {
                crate::provider::netns::probe::measure(&net.hub, &net.netns, addr, rate)
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
            (name, configured, measured)
        });
    }
    let mut warnings = Vec::new();
    while let Some(Ok((name, configured, measured))) = set.join_next().await {
        let (measured, error) = match measured {
            Ok(m) => (
                Some(crate::trial::LinkMeasured {
                    rtt_ms: m.rtt_ms,
                    rate_bps: m.rate_bps,
                    rate_at_least: m.rate_at_least,
                }),
                None,
            ),
            Err(e) => {
                warnings.push(format!("{name}: its link could not be measured: {e}"));
                (None, Some(e.to_string()))
            }
        };
        if let Some(h) = trial.hosts.get_mut(&name) {
            h.link = Some(crate::trial::TrialLink {
                configured,
                measured,
                error,
            });
        }
    }
    warnings
}

/// Monitors that did not start end the trial: what did start is stopped,
/// and the trial is recorded as finished with no hash, so that the next
/// plan runs it again.
async fn monitors_failed(
    shared: &Shared,
    sessions: &Sessions,
    spec: &TrialSpec,
    mut trial: Trial,
    dir: &Path,
    failed: Vec<String>,
) -> Error {
    phases::stop_monitors(sessions, spec, &mut trial).await;
    trial.status = TrialStatus::Failed;
    let _ = trial.write(dir);
    let _ = phases::fetch_outputs(sessions, spec, &trial, dir).await;
    let _ = shared
        .record_now(record(&trial, "", TrialStatus::Failed))
        .await;
    in_series(shared, &trial, TrialStatus::Failed);
    Error::msg(format!("monitors did not start: {}", failed.join("; ")))
}

/// Arms every test a moment from now, the start times on disk first: a
/// crash while arming is finished by waiting for them, not taken for
/// "never armed".
async fn arm(
    shared: &Shared,
    sessions: &Sessions,
    spec: &TrialSpec,
    trial: &mut Trial,
    dir: &Path,
) -> Result<()> {
    let lead = 1.0 + 0.02 * spec.hosts.len() as f64;
    let trigger = phases::now() + lead.min(30.0);
    phases::set_times(spec, trial, trigger);
    trial.status = TrialStatus::Arming;
    trial.write(dir)?;
    let errors = phases::arm(sessions, spec, trial, trigger).await;
    trial.status = TrialStatus::Armed;
    trial.write(dir)?;
    for e in &errors {
        shared.say(format!("error: {e}"));
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
    shared.say(format!(
        "trial {}: {} armed on {}; trigger in {:.1} s; results by {} at the latest",
        trial.trial,
        plural(trial.tests.len(), "test"),
        plural(spec.hosts.len(), "host"),
        trigger - phases::now(),
        humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(last)
        )
    ));
    Ok(())
}

/// A trial armed by an apply that was interrupted: waited for, monitors
/// stopped, outputs fetched — driven by its `trial.json`, whatever the
/// plan says now. A trial that cannot be finished (its hosts are gone or
/// unreachable) is recorded as finished all the same, and said to be
/// abandoned: it must not hold up every later apply.
pub(super) fn finish_armed(cx: Cx<'_>, armed: Finish, then: Option<Fresh>) -> Task {
    let Finish {
        trial: id,
        reported_by_nodes: by_nodes,
    } = armed;
    let hosts = cx.state.hosts.clone();
    // What it ran and which slot it fills: its own, as its trial.json
    // says — the state's latest trial may be a later one (a series went
    // on with other slots before this one was finished).
    let latest = cx.state.trial.as_ref().filter(|t| t.id == id);
    let recorded_hash = latest.map(|t| t.hash.clone());
    let recorded_slot = latest.and_then(|t| t.slot.clone());
    let shared = cx.shared;
    Box::pin(async move {
        shared.say(format!(
            "trial {id}: finishing it (armed by an earlier apply)"
        ));
        let dir = shared.paths.trials().join(&id);
        let own = Trial::read(&dir).ok();
        let hash = own
            .as_ref()
            .map(|t| t.trial_hash.clone())
            .filter(|h| !h.is_empty())
            .or(recorded_hash)
            .unwrap_or_default();
        let slot = own
            .as_ref()
            .and_then(|t| t.series.as_ref().map(|s| s.slot.clone()))
            .or(recorded_slot);
        let attempt = async {
            let trial = Trial::read(&dir).map_err(|e| {
                Error::msg(format!("the armed trial {id} cannot be read back: {e}"))
            })?;
            let spec = phases::spec_of(&trial);
            let sessions = shared
                .pool
                .sessions(&spec.hosts, &hosts)
                .await
                .map_err(Error::msg)?;
            if trial.trigger_epoch <= 0.0 {
                // Killed before its tests were armed: nothing ran.
                return Ok(None);
            }
            let report = |test: &str| !by_nodes.iter().any(|t| t == test);
            finish(&shared, &spec, &sessions, trial, &dir, &hash, &report)
                .await
                .map(Some)
        };
        match attempt.await {
            Ok(Some(done)) => Ok(done),
            Ok(None) => Ok(never_armed(&shared, &hosts, &id, &dir, (hash, slot), then).await),
            Err(e) => {
                if let Ok(trial) = Trial::read(&dir) {
                    in_series(&shared, &trial, TrialStatus::Abandoned);
                }
                Ok(abandoned(&id, hash, slot, &e))
            }
        }
    })
}

/// A trial whose tests were never armed (runner was killed first): its
/// monitors stopped, it is recorded as abandoned, and it runs again — at
/// once for a series' trial (`then`), by the next apply for a plain one.
async fn never_armed(
    shared: &Arc<Shared>,
    hosts: &BTreeMap<String, HostState>,
    id: &str,
    dir: &Path,
    (hash, slot): (String, Option<String>),
    then: Option<Fresh>,
) -> Done {
    if let Ok(mut trial) = Trial::read(dir) {
        let spec = phases::spec_of(&trial);
        if let Ok(sessions) = shared.pool.sessions(&spec.hosts, hosts).await {
            phases::stop_monitors(&sessions, &spec, &mut trial).await;
        }
        trial.status = TrialStatus::Abandoned;
        let _ = trial.write(dir);
        in_series(shared, &trial, TrialStatus::Abandoned);
    }
    let line =
        format!("trial {id}: its tests were never armed (runner stopped first); nothing ran");
    if let Some(fresh) = then {
        shared.say(format!("{line}; it runs again now"));
        return match fresh.run(shared.clone()).await {
            Ok(done) => done,
            Err(e) => abandoned(id, hash, slot, &e),
        };
    }
    let mut done = abandoned(id, hash, slot, &Error::msg("never armed"));
    if let Done::Summary {
        lines, failures, ..
    } = &mut done
    {
        *lines = vec![format!("{line}; the next apply runs it")];
        failures.clear();
    }
    done
}

fn abandoned(id: &str, hash: String, slot: Option<String>, e: &Error) -> Done {
    Done::Summary {
        op: Op::Trial {
            trial: TrialRecord {
                id: id.to_string(),
                hash,
                status: TrialStatus::Abandoned,
                slot,
            },
        },
        lines: vec![format!(
            "trial {id} abandoned: it could not be finished; what it left on its hosts was not collected"
        )],
        failures: vec![Failure {
            host: "-".into(),
            what: format!("finishing trial {id}"),
            message: e.to_string(),
            log: None,
        }],
    }
}

fn record(trial: &Trial, hash: &str, status: TrialStatus) -> Op {
    Op::Trial {
        trial: TrialRecord {
            id: trial.trial.clone(),
            hash: hash.to_string(),
            status,
            slot: trial.series.as_ref().map(|s| s.slot.clone()),
        },
    }
}

/// Wait, stop, fetch, conclude: the end of every trial. `report` says
/// which tests' results are said here (the others by their test nodes).
/// Output that could not be stored leaves the trial unfetched: partial,
/// a failure, fetched again by the next apply.
async fn finish(
    shared: &Shared,
    spec: &TrialSpec,
    sessions: &Sessions,
    mut trial: Trial,
    dir: &Path,
    hash: &str,
    report: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Done> {
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
    let problems = phases::stop_monitors(sessions, spec, &mut trial).await;
    let unstored = phases::fetch_outputs(sessions, spec, &trial, dir).await;
    phases::conclude(&mut trial);
    if !unstored.is_empty() {
        trial.status = TrialStatus::Partial;
    }
    trial.write(dir)?;
    crate::trial::collect::write_manifest(dir)?;
    in_series(shared, &trial, trial.status);
    let mut lines = vec![format!(
        "trial {} {} → {}",
        trial.trial,
        trial.status,
        crate::paths::shown(dir)
    )];
    let mut failures = monitor_failures(&trial, dir);
    for t in trial.tests.iter().filter(|t| report(&t.name)) {
        let (l, f) = test_summary(t, dir);
        lines.extend(l);
        failures.extend(f);
    }
    for p in problems {
        lines.push(format!("  warning: {p}"));
    }
    let status = if unstored.is_empty() {
        trial.status
    } else {
        failures.push(Failure {
            host: "-".into(),
            what: format!("fetching the outputs of trial {}", trial.trial),
            message: format!(
                "{}; the next `runner apply` fetches them again",
                unstored.join("; ")
            ),
            log: None,
        });
        TrialStatus::Unfetched
    };
    Ok(Done::Summary {
        op: record(&trial, hash, status),
        lines,
        failures,
    })
}

/// What a monitor's own end says: its status as `ssh` tells any command's
/// (a status past 128 named as the signal it likely was).
fn ended_on_its_own(code: i32) -> String {
    let status = u32::try_from(code).map_or_else(
        |_| format!("exit status {code}"),
        |c| crate::ssh::Outcome::Exit(c).to_string(),
    );
    format!("it ended on its own with {status} before the tests were over")
}

/// Monitors that ended on their own before the tests were over.
fn monitor_failures(trial: &Trial, dir: &Path) -> Vec<Failure> {
    let mut failures = Vec::new();
    for m in &trial.monitors {
        for (host, run) in &m.hosts {
            if let Some(code) = run.exited {
                failures.push(Failure {
                    host: host.clone(),
                    what: format!("monitor `{}`", m.name),
                    message: ended_on_its_own(code),
                    log: Some(dir.join(host_file_name(host)).join(&m.name).join("stderr")),
                });
            }
        }
    }
    failures
}

/// A test node: its results in the trial just run.
pub(super) fn results(cx: Cx<'_>, node: NodeIndex, test: usize) -> Task {
    let name = cx.graph.plan.tests[test].name.clone();
    let record = cx.state.trial.clone();
    let hash = cx.graph.dag[node].hash.clone();
    let id = cx.graph.dag[node].id.clone();
    let trials = cx.shared.paths.trials();
    Box::pin(async move {
        let fail = |message: String| Failure {
            host: "-".into(),
            what: format!("test `{name}`"),
            message,
            log: None,
        };
        let record = record.ok_or_else(|| fail("no trial ran".into()))?;
        let dir = trials.join(&record.id);
        let trial = Trial::read(&dir).map_err(|e| fail(e.to_string()))?;
        let t = trial
            .tests
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| fail(format!("trial {} has no test `{name}`", record.id)))?;
        let (lines, failures) = test_summary(t, &dir);
        Ok(Done::Summary {
            op: Op::node(&id, hash, &record.id),
            lines,
            failures,
        })
    })
}

/// A test's summary line, a warning per host where it started late, and its
/// failures, one per host that did not succeed.
fn test_summary(t: &TrialTest, dir: &Path) -> (Vec<String>, Vec<Failure>) {
    let ok = t.hosts.values().filter(|r| r.succeeded()).count();
    let skew = t.skew_ms.map_or("-".to_string(), |s| format!("{s:.1} ms"));
    let mut lines = vec![format!(
        "test {}: {}, {ok} succeeded, start skew {skew}",
        t.name,
        plural(t.hosts.len(), "host"),
    )];
    lines.extend(late_starts(t));
    let failures = t
        .hosts
        .iter()
        .filter(|(_, r)| !r.succeeded())
        .map(|(host, r)| {
            let folder: PathBuf = dir.join(host_file_name(host)).join(&t.name);
            let message = match (&r.error, r.timed_out, r.exit_code) {
                (Some(e), _, _) => e.clone(),
                (None, true, _) => format!("timed out after {} s (its `timeout`)", t.timeout_s),
                (None, false, Some(c)) => format!("exit status {c}"),
                (None, false, None) => "no exit status".into(),
            };
            Failure {
                host: host.clone(),
                what: format!("test `{}`", t.name),
                message,
                log: Some(folder.join("stderr")),
            }
        })
        .collect();
    (lines, failures)
}

/// A warning per host where the test started late, with the reason.
fn late_starts(t: &TrialTest) -> Vec<String> {
    let mut lines = Vec::new();
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
            "  warning: test {} on {host} started {:.0} ms after its start time: {why}",
            t.name,
            late * 1000.0
        ));
    }
    lines
}

/// The trial's commands with the addresses they name filled in.
fn resolve(
    spec: &Arc<TrialSpec>,
    hosts: &BTreeMap<String, HostState>,
) -> std::result::Result<Arc<TrialSpec>, crate::graph::Unknown> {
    if crate::graph::deferred_refs(&Payload::Trial(spec.clone())).is_empty() {
        return Ok(spec.clone());
    }
    let mut out = (**spec).clone();
    for a in out.monitors.iter_mut().chain(out.tests.iter_mut()) {
        a.command = crate::graph::resolve(&a.command, &|h, f| hosts.get(h)?.field(f))?;
    }
    Ok(Arc::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trial::TestRun;

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
    fn a_status_past_128_names_its_signal() {
        assert!(
            ended_on_its_own(137).contains("(SIGKILL)"),
            "{}",
            ended_on_its_own(137)
        );
        assert!(ended_on_its_own(143).contains("(SIGTERM)"));
        assert!(ended_on_its_own(140).contains("signal 12"));
        assert!(ended_on_its_own(1).contains("exit status 1 before"));
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
