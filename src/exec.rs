//! `Changes` → `State`: runs the changed nodes of the graph with at most
//! `parallelism` at once, each as soon as what it depends on is done.
//!
//! The dispatcher is the only owner of the state: tasks return results and
//! the dispatcher records them and writes the state after every node. A
//! failed node stops only its dependents. On SIGINT/SIGTERM no new node is
//! started; running ones get a bounded grace period, then the state is saved
//! and the next apply finishes the rest.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use petgraph::Direction;
use petgraph::graph::NodeIndex;
use tokio::sync::{Mutex, OnceCell};
use tokio::task::JoinSet;

use crate::diff::{Action, Change, Changes};
use crate::graph::{Graph, NodeKind, Payload};
use crate::provider::{self, Provider};
use crate::report::Reporter;
use crate::ssh::{self, Outcome, Session};
use crate::state::{HostState, HostStatus, Paths, State, StepState, host_file_name};

/// How long running nodes may finish after an interrupt.
const INTERRUPT_GRACE: Duration = Duration::from_secs(30);

pub struct Options {
    pub parallelism: usize,
}

/// What an apply ended with.
#[derive(Debug, Default)]
pub struct Report {
    pub succeeded: Vec<Action>,
    pub failures: Vec<Failure>,
    pub skipped: usize,
    pub not_started: usize,
    pub interrupted: bool,
}

#[derive(Debug)]
pub struct Failure {
    pub host: String,
    pub what: String,
    pub message: String,
    pub log: Option<PathBuf>,
}

enum Done {
    HostCreated(HostState),
    HostDestroyed,
    StepRan(StepState),
    Forgotten,
}

type ConnCell = Arc<OnceCell<Result<Arc<Session>, String>>>;

struct Shared {
    paths: Paths,
    provider: Box<dyn Provider>,
    connections: Mutex<HashMap<String, ConnCell>>,
}

pub async fn execute(
    graph: &Graph,
    changes: &Changes,
    state: &mut State,
    opts: &Options,
    reporter: &Reporter,
) -> Report {
    let paths = Paths::new(Path::new("."), &graph.plan.name);
    let state_path = paths.state();
    let mut report = Report::default();
    let shared = Arc::new(Shared {
        provider: provider::for_plan(&graph.plan, &paths),
        paths,
        connections: Mutex::new(HashMap::new()),
    });
    let needs_hosts = changes
        .changes
        .iter()
        .any(|c| c.action != Action::Destroy && c.is_host);
    if needs_hosts && let Err(e) = shared.provider.prepare() {
        report.failures.push(Failure {
            host: "-".into(),
            what: "provider".into(),
            message: e,
            log: None,
        });
        report.not_started = changes.changes.len();
        return report;
    }

    // Dependencies among the changed nodes; unchanged nodes count as done.
    let by_node: HashMap<NodeIndex, usize> = changes
        .changes
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.node.map(|n| (n, i)))
        .collect();
    let n = changes.changes.len();
    let mut waiting_on = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, c) in changes.changes.iter().enumerate() {
        let Some(node) = c.node else { continue };
        for dep in graph.dag.neighbors_directed(node, Direction::Incoming) {
            if let Some(&j) = by_node.get(&dep) {
                waiting_on[i] += 1;
                dependents[j].push(i);
            }
        }
    }
    let mut ready: std::collections::VecDeque<usize> =
        (0..n).filter(|&i| waiting_on[i] == 0).collect();
    let mut blocked = vec![false; n];
    let mut running: JoinSet<(usize, Result<Done, Failure>, Duration)> = JoinSet::new();
    let mut finished = 0usize;

    let mut interrupts = Interrupts::new();
    let mut grace_deadline: Option<tokio::time::Instant> = None;

    loop {
        while grace_deadline.is_none() && running.len() < opts.parallelism.max(1) {
            let Some(i) = ready.pop_front() else { break };
            let change = &changes.changes[i];
            // Record a host as being created before it exists: a crash now
            // leaves a trace the next plan replaces, never a duplicate.
            let task = prepare_task(graph, change, state, &shared);
            if change.is_host && change.action != Action::Destroy {
                let dir = (graph.plan.provider == crate::plan::Provider::Local)
                    .then(|| shared.paths.hosts_dir().join(host_file_name(&change.host)));
                let entry = state
                    .hosts
                    .entry(change.host.clone())
                    .or_insert_with(|| creating(dir));
                entry.status = HostStatus::Creating;
                save(state, &state_path, reporter);
                shared.connections.lock().await.remove(&change.host);
            }
            running.spawn(async move {
                let start = Instant::now();
                let result = task.await;
                (i, result, start.elapsed())
            });
        }
        if running.is_empty() {
            break;
        }
        let joined = tokio::select! {
            j = running.join_next() => j,
            _ = interrupts.next() => {
                if grace_deadline.is_some() {
                    reporter.line("second interrupt: abandoning running nodes".to_string());
                    running.abort_all();
                } else {
                    report.interrupted = true;
                    reporter.line(format!(
                        "interrupted: starting no new nodes; waiting up to {}s for {} running",
                        INTERRUPT_GRACE.as_secs(), running.len()
                    ));
                    grace_deadline = Some(tokio::time::Instant::now() + INTERRUPT_GRACE);
                }
                continue;
            }
            _ = sleep_until(grace_deadline) => {
                reporter.line("grace period over: abandoning running nodes".to_string());
                running.abort_all();
                continue;
            }
        };
        let Some(joined) = joined else { break };
        let Ok((i, result, elapsed)) = joined else {
            continue;
        };
        finished += 1;
        let change = &changes.changes[i];
        match result {
            Ok(done) => {
                record(state, change, graph, done);
                save(state, &state_path, reporter);
                reporter.node_done(change, elapsed);
                report.succeeded.push(change.action);
                for &d in &dependents[i] {
                    waiting_on[d] -= 1;
                    if waiting_on[d] == 0 && !blocked[d] {
                        ready.push_back(d);
                    }
                }
            }
            Err(failure) => {
                reporter.node_failed(change, &failure, elapsed);
                report.failures.push(failure);
                // Everything downstream of a failure is skipped.
                let mut stack = dependents[i].clone();
                while let Some(d) = stack.pop() {
                    if !blocked[d] {
                        blocked[d] = true;
                        report.skipped += 1;
                        stack.extend(dependents[d].iter().copied());
                    }
                }
            }
        }
    }
    report.not_started = n - finished - report.skipped;
    for cell in shared.connections.lock().await.values() {
        if let Some(Ok(session)) = cell.get() {
            session.close().await;
        }
    }
    report
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn creating(dir: Option<PathBuf>) -> HostState {
    HostState {
        hash: String::new(),
        status: HostStatus::Creating,
        instance: String::new(),
        address: String::new(),
        port: 0,
        user: String::new(),
        identity: PathBuf::new(),
        host_key: String::new(),
        workdir: String::new(),
        dir,
        pid: None,
    }
}

fn save(state: &mut State, path: &Path, reporter: &Reporter) {
    if let Err(e) = state.save(path) {
        reporter.line(format!(
            "error: cannot write the state {}: {e}",
            path.display()
        ));
    }
}

fn record(state: &mut State, change: &Change, graph: &Graph, done: Done) {
    match done {
        Done::HostCreated(mut h) => {
            if let Some(n) = change.node {
                h.hash = graph.dag[n].hash.clone();
            }
            state.hosts.insert(change.host.clone(), h);
        }
        Done::HostDestroyed => {
            state.hosts.remove(&change.host);
            state.steps.retain(|_, s| s.host != change.host);
        }
        Done::StepRan(s) => {
            state.steps.insert(change.id.clone(), s);
        }
        Done::Forgotten => {
            state.steps.remove(&change.id);
        }
    }
}

type Task = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Done, Failure>> + Send>>;

/// Builds the future for one change with everything it needs copied in.
fn prepare_task(graph: &Graph, change: &Change, state: &State, shared: &Arc<Shared>) -> Task {
    let shared = shared.clone();
    let host = change.host.clone();
    let fail = {
        let host = host.clone();
        let what = match change.node.map(|n| &graph.dag[n].kind) {
            Some(NodeKind::Step { step }) => format!("step `{}`", graph.plan.steps[*step].name),
            Some(NodeKind::Host) => "provisioning".to_string(),
            None => change.id.clone(),
        };
        move |message: String, log: Option<PathBuf>| Failure {
            host: host.clone(),
            what: what.clone(),
            message,
            log,
        }
    };
    let old = state.hosts.get(&host).cloned();
    match (change.node, change.action) {
        (None, _) if change.is_host => Box::pin(async move {
            let Some(old) = old else {
                return Ok(Done::HostDestroyed);
            };
            let plan_name = shared.paths.name.clone();
            let paths = shared.paths.clone();
            tokio::task::spawn_blocking(move || {
                provider::for_state(&old, &paths, &plan_name).destroy(&host, &old)
            })
            .await
            .map_err(|e| fail(e.to_string(), None))?
            .map_err(|e| fail(e, None))?;
            Ok(Done::HostDestroyed)
        }),
        (None, _) => Box::pin(async { Ok(Done::Forgotten) }),
        (Some(node), _) => {
            let node = graph.dag[node].clone();
            match node.kind {
                NodeKind::Host => {
                    let spec = graph.plan.hosts().find(|h| h.name == host).cloned();
                    Box::pin(async move {
                        let spec =
                            spec.ok_or_else(|| fail("host is not in the plan".into(), None))?;
                        let result = tokio::task::spawn_blocking(move || {
                            // A replaced host's old instance goes first (the provider also cleans its directory).
                            if let Some(old) = old.filter(|o| o.status == HostStatus::Ready) {
                                shared.provider.destroy(&spec.name, &old)?;
                            }
                            shared.provider.create(&spec, &provider::new_instance())
                        })
                        .await
                        .map_err(|e| fail(e.to_string(), None))?;
                        result.map(Done::HostCreated).map_err(|e| fail(e, None))
                    })
                }
                NodeKind::Step { step } => {
                    let step = graph.plan.steps[step].clone();
                    Box::pin(async move {
                        let h = old
                            .filter(|h| h.status == HostStatus::Ready)
                            .ok_or_else(|| fail("its host is not provisioned".into(), None))?;
                        let session = connection(&shared, &host, &h)
                            .await
                            .map_err(|e| fail(e, None))?;
                        let dir = shared.paths.logs_dir().join(host_file_name(&host));
                        let out_path = dir.join(format!("{}.stdout", step.name));
                        let err_path = dir.join(format!("{}.stderr", step.name));
                        let log = Some(dir.join(format!("{}.{{stdout,stderr}}", step.name)));
                        let open = |p: &Path| -> Result<tokio::fs::File, String> {
                            let f = fs_err::File::create(p).map_err(|e| e.to_string())?;
                            Ok(tokio::fs::File::from_std(f.into()))
                        };
                        fs_err::create_dir_all(&dir).map_err(|e| fail(e.to_string(), None))?;
                        let mut out = open(&out_path).map_err(|e| fail(e, None))?;
                        let mut err = open(&err_path).map_err(|e| fail(e, None))?;
                        let outcome = match &node.payload {
                            Payload::Run { command } => {
                                session
                                    .exec(command, None, step.timeout, &mut out, &mut err)
                                    .await
                            }
                            Payload::Write { bytes, dest } => {
                                session
                                    .upload(bytes, dest, step.timeout, &mut out, &mut err)
                                    .await
                            }
                            Payload::None => Ok(Outcome::Exit(0)),
                        }
                        .map_err(|e| fail(e, log.clone()))?;
                        if outcome.success() {
                            Ok(Done::StepRan(StepState {
                                hash: node.hash.clone(),
                                host: host.clone(),
                                instance: h.instance,
                            }))
                        } else {
                            let mut message = outcome.to_string();
                            if outcome == Outcome::Exit(97) {
                                message.push_str(&format!(
                                    " (cannot enter the working directory {})",
                                    h.workdir
                                ));
                            }
                            Err(fail(message, log))
                        }
                    })
                }
            }
        }
    }
}

/// One connection per host, made on first use and shared by its steps.
async fn connection(shared: &Shared, host: &str, h: &HostState) -> Result<Arc<Session>, String> {
    let cell = shared
        .connections
        .lock()
        .await
        .entry(host.to_string())
        .or_default()
        .clone();
    let target = ssh::Target::of(host, h);
    cell.get_or_init(|| async move { ssh::connect(target).await.map(Arc::new) })
        .await
        .clone()
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
