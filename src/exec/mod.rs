//! `Changes` → `State`: runs the changed nodes of the graph with at most
//! `parallelism` at once, each as soon as what it depends on is done.
//!
//! The dispatcher is the only owner of the state: tasks return what they
//! changed and the dispatcher records it in the journal (`state::Store`)
//! at once, fsyncing in batches and always before a host is created. A
//! failed node stops only its dependents; a state that cannot be written
//! stops everything (no new node starts). On SIGINT/SIGTERM no new node is
//! started; running ones get a bounded grace period, after which their
//! remote commands are stopped on the hosts.

mod conn;
mod tasks;
mod trial;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use petgraph::Direction;
use petgraph::graph::NodeIndex;
use tokio::task::JoinSet;

use crate::diff::{Action, Change, Changes};
use crate::graph::{Graph, NodeKind};
use crate::provider::{self, Provider};
use crate::state::{Op, Paths, Store};
use tasks::Done;

/// How long running nodes may finish after an interrupt.
const INTERRUPT_GRACE: Duration = Duration::from_secs(30);
/// How long stopping abandoned remote commands may take, all hosts together.
const STOP_REMOTE_TIMEOUT: Duration = Duration::from_secs(10);
/// Journal records are written at once (they survive kill -9 of runner);
/// fsync, which only a machine crash needs, is batched to this interval.
const SYNC_INTERVAL: Duration = Duration::from_millis(200);

pub struct Options {
    pub parallelism: usize,
    /// Destroy goes on when the state cannot be written (a full disk):
    /// removing hosts is safe to repeat, leaving them running is not.
    pub keep_going_without_state: bool,
    /// The trial `regression` checks compare with (`--baseline`).
    pub baseline: Option<String>,
}

/// What the executor tells whoever shows progress (`report` on a terminal).
pub enum Event<'a> {
    Line(String),
    /// A trial's tests are armed: they start at `trigger` (at the earliest)
    /// and end by `end` (at the latest), seconds since the epoch.
    TrialArmed {
        trigger: f64,
        end: f64,
    },
    Done {
        change: &'a Change,
        elapsed: Duration,
    },
    Failed {
        change: &'a Change,
        failure: &'a Failure,
        elapsed: Duration,
    },
}

/// A consumer of the executor's events; the executor knows nothing else of it.
pub trait Events {
    fn event(&self, e: Event<'_>);

    fn line(&self, text: String) {
        self.event(Event::Line(text));
    }
    fn node_done(&self, change: &Change, elapsed: Duration) {
        self.event(Event::Done { change, elapsed });
    }
    fn node_failed(&self, change: &Change, failure: &Failure, elapsed: Duration) {
        self.event(Event::Failed {
            change,
            failure,
            elapsed,
        });
    }
}

/// What an apply ended with.
#[derive(Debug, Default)]
pub struct Report {
    pub succeeded: Vec<Action>,
    pub failures: Vec<Failure>,
    pub skipped: usize,
    pub not_started: usize,
    /// Running when the grace period ran out.
    pub abandoned: usize,
    /// Abandoned steps whose commands were stopped on their hosts.
    pub stopped_remote: usize,
    pub interrupted: bool,
    /// The state could not be written: the apply stopped.
    pub state_error: Option<String>,
    /// What the trial came to: per test, hosts, succeeded, skew; tables written.
    pub notes: Vec<String>,
    /// `[[check]]`s that failed (everything else may have gone well).
    pub checks_failed: usize,
    keep_going: bool,
}

impl Report {
    pub fn complete(&self) -> bool {
        self.failures.is_empty()
            && !self.interrupted
            && self.not_started == 0
            && self.abandoned == 0
            && self.state_error.is_none()
    }
}

#[derive(Debug)]
pub struct Failure {
    pub host: String,
    pub what: String,
    pub message: String,
    pub log: Option<PathBuf>,
}

pub(crate) struct Shared {
    paths: Paths,
    provider: Box<dyn Provider>,
    pool: conn::Pool,
    /// Tasks' messages to the dispatcher: progress lines, and state changes
    /// that must be durable before the task goes on (a trial armed).
    msgs: tokio::sync::mpsc::UnboundedSender<Msg>,
    plan: Arc<crate::plan::Plan>,
    baseline: Option<String>,
}

/// What a running task tells the dispatcher.
pub(crate) enum Msg {
    Line(String),
    Armed {
        trigger: f64,
        end: f64,
    },
    /// Record this now (journal written and fsynced), then answer.
    Record(Box<Op>, tokio::sync::oneshot::Sender<Result<(), String>>),
}

/// One unit of the dispatcher: a change, or a barrier (`after`) that is
/// done as soon as everything before it is.
#[derive(Clone, Copy)]
enum Item {
    Change(usize),
    Barrier,
}

pub async fn execute(
    graph: &Graph,
    changes: &Changes,
    store: &mut Store,
    opts: &Options,
    reporter: &dyn Events,
) -> Report {
    let paths = Paths::here(&graph.plan.name);
    let mut report = Report {
        keep_going: opts.keep_going_without_state,
        ..Report::default()
    };
    let (msgs, mut inbox) = tokio::sync::mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        provider: provider::for_plan(&graph.plan, &paths),
        paths,
        pool: conn::Pool::pinning(msgs.clone()),
        msgs,
        plan: Arc::new(graph.plan.clone()),
        baseline: opts.baseline.clone(),
    });
    let n_changes = changes.changes.len();
    let needs_hosts = changes
        .changes
        .iter()
        .any(|c| c.action != Action::Destroy && c.is_host);
    if needs_hosts {
        let creating: Vec<crate::plan::HostSpec> = changes
            .changes
            .iter()
            .filter(|c| c.is_host && c.action != Action::Destroy)
            .filter_map(|c| graph.plan.hosts().find(|h| h.name == c.host).cloned())
            .collect();
        let prepared = shared
            .provider
            .prepare(&creating)
            .await
            .and_then(|op| match op {
                Some(op) => store
                    .record(op)
                    .and_then(|()| store.sync())
                    .map_err(|e| e.to_string()),
                None => Ok(()),
            });
        if let Err(e) = prepared {
            report.failures.push(Failure {
                host: "-".into(),
                what: "provider".into(),
                message: e,
                log: None,
            });
            report.not_started = n_changes;
            return report;
        }
    }

    // Items: the changes, then the barriers. Unchanged nodes count as done.
    let mut items: Vec<Item> = (0..n_changes).map(Item::Change).collect();
    let mut by_node: HashMap<NodeIndex, usize> = changes
        .changes
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.node.map(|n| (n, i)))
        .collect();
    for idx in graph.dag.node_indices() {
        if matches!(graph.dag[idx].kind, NodeKind::Barrier { .. }) {
            by_node.insert(idx, items.len());
            items.push(Item::Barrier);
        }
    }
    let n = items.len();
    let mut waiting_on = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    // A change waits for the nearest changes upstream of it, through
    // unchanged nodes too: step 3 still follows step 1 when step 2 is
    // unchanged.
    for (&node, &i) in &by_node {
        let mut seen: std::collections::HashSet<NodeIndex> = std::collections::HashSet::new();
        let mut deps: std::collections::HashSet<usize> = std::collections::HashSet::new();
        let mut stack: Vec<NodeIndex> = graph
            .dag
            .neighbors_directed(node, Direction::Incoming)
            .collect();
        while let Some(up) = stack.pop() {
            if !seen.insert(up) {
                continue;
            }
            match by_node.get(&up) {
                Some(&j) => {
                    deps.insert(j);
                }
                None => stack.extend(graph.dag.neighbors_directed(up, Direction::Incoming)),
            }
        }
        for j in deps {
            waiting_on[i] += 1;
            dependents[j].push(i);
        }
    }
    // A trial armed by an interrupted apply is finished before anything
    // else changes on its hosts.
    if let Some(f) = changes.changes.iter().position(|c| c.armed_trial.is_some()) {
        for i in (0..n).filter(|&i| i != f) {
            waiting_on[i] += 1;
            dependents[f].push(i);
        }
    }
    let kind_of = |i: usize| match items[i] {
        Item::Change(c) => changes.changes[c].node.map(|n| &graph.dag[n].kind),
        Item::Barrier => None,
    };
    let soft = Softness {
        fails: (0..n)
            .map(|i| {
                matches!(
                    kind_of(i),
                    Some(NodeKind::Analyze { .. } | NodeKind::Collect { .. } | NodeKind::Checks)
                )
            })
            .collect(),
        tolerates: (0..n)
            .map(|i| matches!(kind_of(i), Some(NodeKind::Checks | NodeKind::Report)))
            .collect(),
    };
    let mut ready: VecDeque<usize> = (0..n).filter(|&i| waiting_on[i] == 0).collect();
    let mut blocked = vec![false; n];
    let mut running: JoinSet<(usize, Result<Done, Failure>, Duration)> = JoinSet::new();
    // Remote processes of running steps, by item: (host, tag).
    let mut remote: HashMap<usize, (String, String)> = HashMap::new();
    let run_id = crate::os::unique_id();
    let mut finished = 0usize;
    let mut last_sync = Instant::now();

    // Batched host creations and destroys (EC2) do not take a slot: they
    // are few API calls whatever their number, and mostly wait.
    let batched = shared.provider.batches();
    let mut free_items: std::collections::HashSet<usize> = std::collections::HashSet::new();
    let mut interrupts = Interrupts::new();
    let mut grace_deadline: Option<tokio::time::Instant> = None;
    let mut stopping = false;

    loop {
        // Start what is ready: record hosts as being created (durably)
        // before they exist, so a crash leaves a trace, never a duplicate.
        let mut starting: Vec<(usize, tasks::Task)> = Vec::new();
        // Batched host creations (EC2) do not take a slot: they are few
        // API calls whatever their number, and mostly wait.
        while !stopping {
            let Some(&i) = ready.front() else { break };
            let free = batched && matches!(items[i], Item::Change(c) if changes.changes[c].is_host);
            if !free && running.len() + starting.len() >= opts.parallelism.max(1) + free_items.len()
            {
                break;
            }
            ready.pop_front();
            if free {
                free_items.insert(i);
            }
            let Item::Change(c) = items[i] else {
                // A barrier is done at once.
                release(i, &dependents, &mut waiting_on, &blocked, &mut ready);
                continue;
            };
            let change = &changes.changes[c];
            let tag = format!("{run_id}-{i}");
            let task = tasks::prepare(graph, change, &store.state, &shared, tag.clone());
            if change.is_host && change.action != Action::Destroy {
                let dir = shared.provider.host_dir(&change.host);
                let host = tasks::creating(
                    store.state.hosts.get(&change.host),
                    dir,
                    &graph.plan.provider,
                );
                if let Err(e) = store.record(Op::Host {
                    name: change.host.clone(),
                    host,
                }) {
                    state_failed(&mut report, &mut stopping, e, reporter);
                    ready.push_front(i);
                    break;
                }
                shared.pool.forget(&change.host).await;
            } else if let Some(node) = change.node
                && matches!(graph.dag[node].kind, NodeKind::Step { .. })
            {
                remote.insert(i, (change.host.clone(), tag));
            }
            starting.push((i, task));
        }
        if starting
            .iter()
            .any(|&(i, _)| is_host_create(&items, changes, i))
            && let Err(e) = store.sync()
        {
            state_failed(&mut report, &mut stopping, e, reporter);
            for (i, _) in starting.drain(..).rev() {
                remote.remove(&i);
                ready.push_front(i);
            }
        }
        for (i, task) in starting {
            running.spawn(async move {
                let start = Instant::now();
                let result = task.await;
                (i, result, start.elapsed())
            });
        }
        if running.is_empty() {
            break;
        }
        if stopping && grace_deadline.is_none() {
            grace_deadline = Some(tokio::time::Instant::now() + INTERRUPT_GRACE);
        }
        // What finished: one join, or what abandoning found already done.
        let mut batch = Vec::new();
        let first = tokio::select! {
            j = running.join_next() => j,
            Some(msg) = inbox.recv() => {
                // What else is waiting goes with it: records that arrive
                // together (200 instance ids) share one fsync.
                let mut msgs = vec![msg];
                while let Ok(more) = inbox.try_recv() {
                    msgs.push(more);
                }
                let mut answers = Vec::new();
                let mut result: crate::error::Result<()> = Ok(());
                for msg in msgs {
                    match msg {
                        Msg::Line(text) => reporter.line(text),
                        Msg::Armed { trigger, end } => reporter.event(Event::TrialArmed { trigger, end }),
                        Msg::Record(op, answer) => {
                            if result.is_ok() {
                                result = store.record(*op);
                            }
                            answers.push(answer);
                        }
                    }
                }
                if !answers.is_empty() {
                    if result.is_ok() {
                        result = store.sync();
                    }
                    if let Err(e) = &result {
                        state_failed(&mut report, &mut stopping, crate::Error::msg(e.to_string()), reporter);
                    }
                    let r = result.map_err(|e| e.to_string());
                    for answer in answers {
                        let _ = answer.send(r.clone());
                    }
                }
                continue;
            }
            _ = interrupts.next() => {
                if report.interrupted {
                    reporter.line("second interrupt: abandoning running nodes".to_string());
                    batch = abandon(&mut running, &mut remote, &shared, &mut report).await;
                } else {
                    report.interrupted = true;
                    stopping = true;
                    reporter.line(format!(
                        "interrupted: starting no new nodes; waiting up to {}s for {} running",
                        INTERRUPT_GRACE.as_secs(), running.len()
                    ));
                    continue;
                }
                None
            }
            _ = sleep_until(grace_deadline) => {
                reporter.line("grace period over: abandoning running nodes".to_string());
                batch = abandon(&mut running, &mut remote, &shared, &mut report).await;
                None
            }
        };
        // Everything that finished by now, recorded as one batch.
        batch.extend(first);
        while let Some(j) = running.try_join_next() {
            batch.push(j);
        }
        for joined in batch {
            let Ok((i, result, elapsed)) = joined else {
                continue;
            };
            finished += 1;
            remote.remove(&i);
            free_items.remove(&i);
            let Item::Change(c) = items[i] else { continue };
            let change = &changes.changes[c];
            match result {
                Ok(done) => {
                    // Recorded, but with failures of its own (a test that failed on a host).
                    let mut partly = false;
                    let op = match done {
                        Done::HostCreated(mut h) => {
                            if let Some(node) = change.node {
                                h.hash = graph.dag[node].hash.clone();
                            }
                            Op::Host {
                                name: change.host.clone(),
                                host: h,
                            }
                        }
                        Done::Recorded(op) => op,
                        Done::Checked { op, lines, failed } => {
                            report.notes.extend(lines);
                            report.checks_failed += failed;
                            op
                        }
                        Done::Summary {
                            op,
                            lines,
                            failures,
                        } => {
                            partly = !failures.is_empty();
                            for f in failures {
                                reporter.node_failed(change, &f, elapsed);
                                report.failures.push(f);
                            }
                            report.notes.extend(lines);
                            op
                        }
                    };
                    if let Err(e) = store.record(op.clone()) {
                        state_failed(&mut report, &mut stopping, e, reporter);
                        if let Op::Host { name, host } = op {
                            // It exists but is not recorded: it must not be left behind.
                            unrecorded_host(&shared, name, host, reporter).await;
                        }
                        report.failures.push(Failure {
                            host: change.host.clone(),
                            what: change.id.clone(),
                            message: "done, but the state could not record it".into(),
                            log: None,
                        });
                        block(i, &dependents, &mut blocked);
                        continue;
                    }
                    if !partly {
                        reporter.node_done(change, elapsed);
                        report.succeeded.push(change.action);
                    }
                    release(i, &dependents, &mut waiting_on, &blocked, &mut ready);
                }
                Err(failure) => {
                    reporter.node_failed(change, &failure, elapsed);
                    report.failures.push(failure);
                    if soft.fails[i] {
                        // A failed analysis or collection: the checks and the
                        // report still run on what there is.
                        block_soft(
                            i,
                            &dependents,
                            &mut blocked,
                            &soft,
                            &mut waiting_on,
                            &mut ready,
                        );
                    } else {
                        block(i, &dependents, &mut blocked);
                    }
                }
            }
        }
        if last_sync.elapsed() >= SYNC_INTERVAL {
            if let Err(e) = store.sync() {
                state_failed(&mut report, &mut stopping, e, reporter);
            }
            last_sync = Instant::now();
        }
    }
    // Barriers are bookkeeping, not nodes the user counts.
    report.skipped = (0..n_changes).filter(|&i| blocked[i]).count();
    report.not_started = n_changes.saturating_sub(finished + report.skipped + report.abandoned);
    if let Err(e) = store.finish()
        && report.state_error.is_none()
    {
        report.state_error = Some(e.to_string());
    }
    shared.pool.close_all().await;
    report
}

fn is_host_create(items: &[Item], changes: &Changes, i: usize) -> bool {
    matches!(items[i], Item::Change(c) if changes.changes[c].is_host && changes.changes[c].action != Action::Destroy)
}

fn release(
    i: usize,
    dependents: &[Vec<usize>],
    waiting_on: &mut [usize],
    blocked: &[bool],
    ready: &mut VecDeque<usize>,
) {
    for &d in &dependents[i] {
        waiting_on[d] -= 1;
        if waiting_on[d] == 0 && !blocked[d] {
            ready.push_back(d);
        }
    }
}

/// Everything downstream of a failure is skipped.
/// Like [`block`] for a node whose failure leaves something to report
/// (an analysis, a collection, the checks): dependents that tolerate it
/// (the checks, the report) are released instead of skipped; soft nodes
/// downstream are skipped the same way.
fn block_soft(
    i: usize,
    dependents: &[Vec<usize>],
    blocked: &mut [bool],
    soft: &Softness,
    waiting_on: &mut [usize],
    ready: &mut VecDeque<usize>,
) {
    for &d in &dependents[i] {
        if blocked[d] {
            continue;
        }
        if soft.tolerates[d] {
            waiting_on[d] -= 1;
            if waiting_on[d] == 0 {
                ready.push_back(d);
            }
        } else if soft.fails[d] {
            blocked[d] = true;
            block_soft(d, dependents, blocked, soft, waiting_on, ready);
        } else {
            blocked[d] = true;
            block(d, dependents, blocked);
        }
    }
}

/// Which items fail softly and which run after soft failures.
struct Softness {
    fails: Vec<bool>,
    tolerates: Vec<bool>,
}

fn block(i: usize, dependents: &[Vec<usize>], blocked: &mut [bool]) {
    let mut stack = dependents[i].clone();
    while let Some(d) = stack.pop() {
        if !blocked[d] {
            blocked[d] = true;
            stack.extend(dependents[d].iter().copied());
        }
    }
}

fn state_failed(report: &mut Report, stopping: &mut bool, e: crate::Error, reporter: &dyn Events) {
    if report.state_error.is_none() {
        if report.keep_going {
            reporter.line(format!(
                "error: {e}; going on (destroying is safe to repeat)"
            ));
        } else {
            reporter.line(format!("error: {e}; starting no new nodes"));
        }
        report.state_error = Some(e.to_string());
    }
    *stopping |= !report.keep_going;
}

/// A host that was created but could not be recorded is destroyed again.
async fn unrecorded_host(
    shared: &Arc<Shared>,
    name: String,
    host: crate::state::HostState,
    reporter: &dyn Events,
) {
    match shared.provider.destroy(&name, &host).await {
        Ok(()) => reporter.line(format!(
            "host `{name}` was created but could not be recorded: it was destroyed again"
        )),
        Err(e) => reporter.line(format!(
            "error: host `{name}` was created but could not be recorded, and destroying it failed: {e}"
        )),
    }
}

/// A task's end as the `JoinSet` gives it.
type Joined = Result<(usize, Result<Done, Failure>, Duration), tokio::task::JoinError>;

/// Aborts the running tasks and stops their remote commands on the hosts
/// (every process carrying the node's tag), bounded in time. Returns what
/// had finished before it could be aborted: that is recorded like any
/// finished node, not thrown away.
async fn abandon(
    running: &mut JoinSet<(usize, Result<Done, Failure>, Duration)>,
    remote: &mut HashMap<usize, (String, String)>,
    shared: &Arc<Shared>,
    report: &mut Report,
) -> Vec<Joined> {
    let trial_running = running.len() > remote.len();
    running.abort_all();
    let mut done = Vec::new();
    let mut aborted = 0;
    while let Some(j) = running.join_next().await {
        match &j {
            Ok((i, ..)) => {
                remote.remove(i);
                done.push(j);
            }
            Err(_) => aborted += 1,
        }
    }
    report.abandoned += aborted;
    report.stopped_remote += remote.len();
    if trial_running {
        // A trial (or a collect, an analysis) was running: an armed trial's
        // tests and monitors go on without runner by design.
        report.notes.push(
            "a trial was running: its armed tests and monitors go on on the hosts; `runner apply` finishes it (waits, stops the monitors, collects) without running a test twice".into(),
        );
    }
    let mut stops = JoinSet::new();
    for (_, (host, tag)) in remote.drain() {
        let Some(session) = shared.pool.open(&host).await else {
            continue;
        };
        stops.spawn(async move { session.stop_tagged(&tag).await });
    }
    let _ = tokio::time::timeout(STOP_REMOTE_TIMEOUT, async {
        while stops.join_next().await.is_some() {}
    })
    .await;
    done
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// SIGINT and SIGTERM as one stream.
struct Interrupts {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
}

impl Interrupts {
    fn new() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Interrupts {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
        }
    }

    async fn next(&mut self) {
        let int = async {
            match &mut self.int {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        let term = async {
            match &mut self.term {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! { _ = int => {}, _ = term => {} }
    }
}
