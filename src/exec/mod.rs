//! `Changes` → `State`: runs the changed nodes of the graph with at most
//! `parallelism` at once, each as soon as what it depends on is done.
//!
//! `schedule` decides what may start (pure); `dispatcher` owns the state
//! and the running tasks, one method per event; each kind of node is a
//! file: `host`, `step`, `trial` (the trial and its tests), `collect`,
//! `tables` (analyses, checks, the HTML report), `publish` (a page); `conn` keeps one SSH
//! connection per host. Tasks return what they changed ([`Done`]) and only
//! the dispatcher records it; a task that must have something durable
//! before it goes on (a trial armed) asks the dispatcher by message.

mod collect;
mod conn;
pub use conn::target;
mod dispatcher;
mod host;
mod publish;
mod schedule;
mod series;
mod step;
mod tables;
mod trial;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::diff::{Action, Change, Changes, Forgotten, Work};
use crate::graph::{Graph, NodeKind};
use crate::provider::Provider;
use crate::state::{Op, Paths, State, Store};

pub struct Options {
    pub parallelism: usize,
    /// Destroy goes on when the state cannot be written (a full disk):
    /// removing hosts is safe to repeat, leaving them running is not.
    pub keep_going_without_state: bool,
    /// The trial `regression` checks compare with (`--baseline`).
    pub baseline: Option<String>,
    /// The new trial's or series' label (`--label`).
    pub label: Option<String>,
}

/// What `runner apply` is given beside the plan: `--baseline`, `--label`.
pub struct Given {
    pub baseline: Option<String>,
    pub label: Option<String>,
}

/// What the executor tells whoever shows progress (the terminal's reporter).
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
}

/// What an apply (or a destroy) came to.
#[derive(Debug, Default)]
pub struct Applied {
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
}

impl Applied {
    pub fn complete(&self) -> bool {
        self.failures.is_empty()
            && !self.interrupted
            && self.not_started == 0
            && self.abandoned == 0
            && self.state_error.is_none()
    }
}

/// A node that did not do what it should, where, and where its log is.
#[derive(Debug)]
pub struct Failure {
    pub host: String,
    pub what: String,
    pub message: String,
    pub log: Option<PathBuf>,
}

/// Runs `changes` on `graph`, recording each node's result in `store`.
pub async fn execute(
    graph: &Graph,
    changes: &Changes,
    store: &mut Store,
    opts: &Options,
    reporter: &dyn Events,
) -> Applied {
    dispatcher::Dispatcher::new(graph, changes, store, opts, reporter)
        .run()
        .await
}

/// What every task shares: the plan, its provider, the connections, and
/// the way back to the dispatcher.
pub(crate) struct Shared {
    paths: Paths,
    provider: Box<dyn Provider>,
    pool: Arc<conn::Pool>,
    /// Tasks' messages to the dispatcher: progress lines, and state changes
    /// that must be durable before the task goes on (a trial armed).
    msgs: tokio::sync::mpsc::UnboundedSender<Msg>,
    plan: Arc<crate::plan::Plan>,
    baseline: Option<String>,
    label: Option<String>,
}

/// Whether the dispatcher recorded something (written and fsynced).
type Recorded = Result<(), Arc<crate::state::Error>>;

/// What a running task tells the dispatcher.
pub(crate) enum Msg {
    Line(String),
    Armed {
        trigger: f64,
        end: f64,
    },
    /// Record this now (journal written and fsynced), then answer.
    Record(Box<Op>, tokio::sync::oneshot::Sender<Recorded>),
}

impl Shared {
    /// A line for the terminal, through the dispatcher.
    fn say(&self, text: String) {
        let _ = self.msgs.send(Msg::Line(text));
    }

    /// Records `op` durably before the caller goes on.
    async fn record_now(&self, op: Op) -> Result<(), RecordError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.msgs
            .send(Msg::Record(Box::new(op), tx))
            .map_err(|_| RecordError::Ending)?;
        rx.await
            .map_err(|_| RecordError::Ending)?
            .map_err(RecordError::State)
    }
}

/// Why something could not be recorded before going on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordError {
    #[error("the apply is ending")]
    Ending,
    #[error("{0}")]
    State(Arc<crate::state::Error>),
}

impl From<RecordError> for crate::provider::Error {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Ending => crate::provider::Error::Ending,
            RecordError::State(e) => crate::provider::Error::Other(e.to_string()),
        }
    }
}

/// A node's work, started by the dispatcher.
pub(crate) type Task =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Done, Failure>> + Send>>;

/// What a finished task changed.
pub(crate) enum Done {
    /// A host exists now (it must be recorded, or destroyed again).
    HostCreated(crate::state::HostState),
    Recorded(Op),
    /// Done and recorded; `lines` go to the closing summary; `failures`
    /// (a test that failed on some hosts) fail the apply without stopping
    /// what follows.
    Summary {
        op: Op,
        lines: Vec<String>,
        failures: Vec<Failure>,
    },
    /// Checks evaluated and recorded; `failed` of them did not pass.
    Checked {
        op: Op,
        lines: Vec<String>,
        failed: usize,
    },
}

impl Done {
    /// Checks evaluated: a line for each, and how many did not pass.
    fn checked(op: Op, results: &[crate::check::CheckResult]) -> Done {
        Done::Checked {
            op,
            lines: results
                .iter()
                .map(crate::check::CheckResult::line)
                .collect(),
            failed: results.iter().filter(|r| !r.passed).count(),
        }
    }
}

/// The task of one change, with everything it needs copied in. `tag`
/// marks the remote processes of a step, so that they can be found and
/// stopped if the step is abandoned.
fn task(graph: &Graph, change: &Change, state: &State, shared: &Arc<Shared>, tag: String) -> Task {
    let cx = Cx {
        shared: shared.clone(),
        graph,
        change,
        state,
        fail: Fail::new(graph, change),
    };
    match &change.work {
        Work::DestroyOrphan(orphan) => host::destroy_orphan(cx, orphan.clone()),
        Work::DestroyHost => host::destroy(cx),
        Work::FinishTrial(finish) => trial::finish_armed(cx, finish.clone(), None),
        Work::Forget(what) => forget(change, *what),
        Work::Host { node, adopt } => host::create(cx, *node, adopt.clone()),
        Work::Node { node, .. } => match graph.dag[*node].kind.clone() {
            NodeKind::Host => host::create(cx, *node, None),
            NodeKind::Step { step } => step::run(cx, *node, step, tag),
            NodeKind::Trial => trial::run(cx, *node),
            NodeKind::Test { test } => trial::results(cx, *node, test),
            NodeKind::Collect { collect } => collect::run(cx, *node, collect),
            kind @ (NodeKind::Analyze { .. } | NodeKind::Checks | NodeKind::HtmlReport) => {
                tables::run(cx, *node, kind)
            }
            NodeKind::Series => series::start(cx),
            kind @ (NodeKind::SeriesAnalyze { .. }
            | NodeKind::SeriesChecks
            | NodeKind::SeriesReport) => series::tables(cx, *node, kind),
            NodeKind::Publish { publish: i } => publish::run(cx, *node, i),
            NodeKind::Barrier { .. } => {
                let failure = cx.fail.with("a barrier is not a change");
                Box::pin(async move { Err(failure) })
            }
        },
    }
}

/// What a node's task is made from.
pub(crate) struct Cx<'a> {
    shared: Arc<Shared>,
    graph: &'a Graph,
    change: &'a Change,
    state: &'a State,
    fail: Fail,
}

/// A step or node that left the plan: forgotten (its outputs stay).
fn forget(change: &Change, what: Forgotten) -> Task {
    let id = change.id.to_string();
    let op = match what {
        Forgotten::Node => Op::NodeGone { id },
        Forgotten::Step => Op::StepGone { id },
    };
    Box::pin(async move { Ok(Done::Recorded(op)) })
}

/// How a change's failures are said: its host and what it is.
#[derive(Clone)]
pub(crate) struct Fail {
    host: String,
    what: String,
}

impl Fail {
    fn new(graph: &Graph, change: &Change) -> Fail {
        let what = match (&change.work, change.node().map(|n| &graph.dag[n].kind)) {
            (_, Some(NodeKind::Step { step })) => {
                format!("step `{}`", graph.plan.steps[*step].name)
            }
            (_, Some(NodeKind::Host)) => "provisioning".to_string(),
            (Work::DestroyHost | Work::DestroyOrphan(_), _) => "destroying".to_string(),
            _ => change.id.to_string(),
        };
        Fail {
            host: change.host.clone(),
            what,
        }
    }

    fn of(&self, message: String, log: Option<PathBuf>) -> Failure {
        Failure {
            host: self.host.clone(),
            what: self.what.clone(),
            message,
            log,
        }
    }

    /// `e` as this change's failure.
    fn with(&self, e: impl std::fmt::Display) -> Failure {
        self.of(e.to_string(), None)
    }
}
