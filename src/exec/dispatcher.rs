//! The dispatcher: the only owner of the state during an apply. It starts
//! what the schedule says is ready, at most `parallelism` at once, records
//! what each task returns in the journal (`state::Store`) at once, fsyncing
//! in batches and always before a host is created, and answers tasks that
//! need something recorded before they go on.
//!
//! A failed node stops only its dependents; a state that cannot be written
//! stops everything (no new node starts). On SIGINT/SIGTERM no new node is
//! started; running ones get a bounded grace period, after which their
//! remote commands are stopped on the hosts.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinSet;

use super::schedule::{Item, Schedule};
use super::{Applied, Done, Event, Events, Failure, Msg, Options, Shared, Task};
use crate::diff::{Change, Changes};
use crate::graph::Graph;
use crate::state::{HostState, Op, Paths, Store};

/// How long running nodes may finish after an interrupt.
const INTERRUPT_GRACE: Duration = Duration::from_secs(30);
/// How long stopping abandoned remote commands may take, all hosts together.
const STOP_REMOTE_TIMEOUT: Duration = Duration::from_secs(10);
/// Journal records are written at once (they survive kill -9 of runner);
/// fsync, which only a machine crash needs, is batched to this interval.
const SYNC_INTERVAL: Duration = Duration::from_millis(200);

/// A task's end: its item, what it did, how long it took.
type Ended = (usize, Result<Done, Failure>, Duration);
/// A task joined: its end, or how it never ended (a panic, an abort), by
/// the task's id.
type Joined = Result<(tokio::task::Id, Ended), tokio::task::JoinError>;

pub struct Dispatcher<'a> {
    graph: &'a Graph,
    changes: &'a Changes,
    store: &'a mut Store,
    opts: &'a Options,
    reporter: &'a dyn Events,
    shared: Arc<Shared>,
    inbox: Option<UnboundedReceiver<Msg>>,
    schedule: Schedule,
    running: JoinSet<Ended>,
    /// The item of each running task, and when it started: a task that
    /// panics returns neither, and must still be its node's failure.
    tasks: HashMap<tokio::task::Id, (usize, Instant)>,
    /// Remote processes of running steps, by item: (host, tag).
    remote: HashMap<usize, (String, String)>,
    /// Batched host creations and destroys (EC2) do not take a slot: they
    /// are few API calls whatever their number, and mostly wait.
    free: HashSet<usize>,
    applied: Applied,
    stopping: bool,
    grace_deadline: Option<tokio::time::Instant>,
    finished: usize,
    last_sync: Instant,
    run_id: String,
}

impl<'a> Dispatcher<'a> {
    pub fn new(
        graph: &'a Graph,
        changes: &'a Changes,
        store: &'a mut Store,
        opts: &'a Options,
        reporter: &'a dyn Events,
    ) -> Self {
        let paths = Paths::here(&graph.plan.name);
        let (msgs, inbox) = tokio::sync::mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            provider: crate::provider::for_plan(&graph.plan, &paths),
            paths,
            pool: Arc::new(super::conn::Pool::pinning(msgs.clone())),
            msgs,
            plan: Arc::new(graph.plan.clone()),
            baseline: opts.baseline.clone(),
            label: opts.label.clone(),
        });
        Dispatcher {
            graph,
            changes,
            store,
            opts,
            reporter,
            shared,
            inbox: Some(inbox),
            schedule: Schedule::of(graph, changes),
            running: JoinSet::new(),
            tasks: HashMap::new(),
            remote: HashMap::new(),
            free: HashSet::new(),
            applied: Applied::default(),
            stopping: false,
            grace_deadline: None,
            finished: 0,
            last_sync: Instant::now(),
            run_id: crate::os::unique_id(),
        }
    }

    /// Runs every change to its end (or until the apply stops).
    pub async fn run(mut self) -> Applied {
        if let Err(failure) = self.prepare_provider().await {
            self.applied.failures.push(failure);
            self.applied.not_started = self.changes.changes.len();
            return self.applied;
        }
        let mut inbox = self.inbox.take().expect("an inbox");
        let mut interrupts = Interrupts::new();
        loop {
            self.start_ready().await;
            if self.running.is_empty() {
                break;
            }
            let deadline = self.grace_deadline;
            tokio::select! {
                Some(j) = self.running.join_next_with_id() => self.ended(vec![j]).await,
                Some(msg) = inbox.recv() => self.message(msg, &mut inbox),
                _ = interrupts.next() => self.interrupted().await,
                _ = sleep_until(deadline) => self.grace_over().await,
            }
            self.sync_now_and_then();
        }
        self.end().await
    }

    /// Once per apply, before any host is created: the provider's keys,
    /// folders, security group; what it made is recorded.
    async fn prepare_provider(&mut self) -> Result<(), Failure> {
        let creating: Vec<crate::plan::HostSpec> = self
            .changes
            .changes
            .iter()
            .filter(|c| c.creates_host())
            .filter_map(|c| self.graph.plan.host(&c.host).cloned())
            .collect();
        if creating.is_empty() {
            return Ok(());
        }
        let failure = |message: String| Failure {
            host: "-".into(),
            what: "provider".into(),
            message,
            log: None,
        };
        let made = self
            .shared
            .provider
            .prepare(&creating)
            .await
            .map_err(|e| failure(e.to_string()))?;
        if let Some(op) = made {
            self.store
                .record(op)
                .and_then(|()| self.store.sync())
                .map_err(|e| failure(e.to_string()))?;
        }
        Ok(())
    }

    /// Starts what is ready, within the parallelism. Hosts about to be
    /// created are recorded as being created (durably) before they exist,
    /// so that a crash leaves a trace, never a duplicate.
    async fn start_ready(&mut self) {
        let batched = self.shared.provider.batches();
        let mut starting: Vec<(usize, Task)> = Vec::new();
        while !self.stopping {
            let Some(i) = self.schedule.peek() else { break };
            let free = batched && self.change(i).is_some_and(|c| c.is_host());
            let slots = self.opts.parallelism.max(1) + self.free.len();
            if !free && self.running.len() + starting.len() >= slots {
                break;
            }
            self.schedule.take();
            let Some(change) = self.change(i) else {
                // A barrier is done at once.
                self.schedule.done(i);
                continue;
            };
            if free {
                self.free.insert(i);
            }
            let tag = format!("{}-{i}", self.run_id);
            // Built first: a host's task sees the state before its record below.
            let task = super::task(
                self.graph,
                change,
                &self.store.state,
                &self.shared,
                tag.clone(),
            );
            if change.creates_host() {
                if let Err(e) = self.record_creating(change).await {
                    self.state_failed(e.to_string());
                    self.schedule.put_back(i);
                    self.free.remove(&i);
                    break;
                }
            } else if self.is_step(change) {
                self.remote.insert(i, (change.host.clone(), tag.clone()));
            }
            starting.push((i, task));
        }
        let creates = starting
            .iter()
            .any(|&(i, _)| self.change(i).is_some_and(Change::creates_host));
        if creates && let Err(e) = self.store.sync() {
            self.state_failed(e.to_string());
            for (i, _) in starting.drain(..).rev() {
                self.remote.remove(&i);
                self.free.remove(&i);
                self.schedule.put_back(i);
            }
        }
        for (i, task) in starting {
            let handle = self.running.spawn(async move {
                let start = Instant::now();
                let result = task.await;
                (i, result, start.elapsed())
            });
            self.tasks.insert(handle.id(), (i, Instant::now()));
        }
        if self.stopping && self.grace_deadline.is_none() && !self.running.is_empty() {
            self.grace_deadline = Some(tokio::time::Instant::now() + INTERRUPT_GRACE);
        }
    }

    fn change(&self, i: usize) -> Option<&'a Change> {
        match self.schedule.items[i] {
            Item::Change(c) => Some(&self.changes.changes[c]),
            Item::Barrier => None,
        }
    }

    fn is_step(&self, change: &Change) -> bool {
        change
            .node()
            .is_some_and(|n| matches!(self.graph.dag[n].kind, crate::graph::NodeKind::Step { .. }))
    }

    /// The record of a host about to be created, written before it exists.
    async fn record_creating(&mut self, change: &Change) -> crate::state::Result<()> {
        let place = self.shared.provider.placeholder(&change.host);
        let host = super::host::creating(self.store.state.hosts.get(&change.host), place);
        self.store.record(Op::Host {
            name: change.host.clone(),
            host,
        })?;
        self.shared.pool.forget(&change.host).await;
        Ok(())
    }

    /// Tasks' messages, and whatever else is waiting with them: records
    /// that arrive together (200 instance ids) share one fsync.
    fn message(&mut self, first: Msg, inbox: &mut UnboundedReceiver<Msg>) {
        let mut msgs = vec![first];
        while let Ok(more) = inbox.try_recv() {
            msgs.push(more);
        }
        let mut answers = Vec::new();
        let mut result: crate::state::Result<()> = Ok(());
        for msg in msgs {
            match msg {
                Msg::Line(text) => self.reporter.line(text),
                Msg::Armed { trigger, end } => {
                    self.reporter.event(Event::TrialArmed { trigger, end })
                }
                Msg::Record(op, answer) => {
                    if result.is_ok() {
                        result = self.store.record(*op);
                    }
                    answers.push(answer);
                }
            }
        }
        if answers.is_empty() {
            return;
        }
        if result.is_ok() {
            result = self.store.sync();
        }
        let result = result.map_err(Arc::new);
        if let Err(e) = &result {
            self.state_failed(e.to_string());
        }
        for answer in answers {
            let _ = answer.send(result.clone());
        }
    }

    /// Tasks that ended: this one, and every other that has by now,
    /// recorded as one batch.
    async fn ended(&mut self, mut batch: Vec<Joined>) {
        while let Some(j) = self.running.try_join_next_with_id() {
            batch.push(j);
        }
        for joined in batch {
            let Some((i, result, elapsed)) = self.outcome(joined) else {
                continue;
            };
            self.finished += 1;
            self.remote.remove(&i);
            self.free.remove(&i);
            let Some(change) = self.change(i) else {
                continue;
            };
            match result {
                Ok(done) => self.succeeded(i, change, done, elapsed).await,
                Err(failure) => {
                    self.reporter.event(Event::Failed {
                        change,
                        failure: &failure,
                        elapsed,
                    });
                    self.applied.failures.push(failure);
                    self.schedule.failed(i);
                }
            }
        }
    }

    /// What a joined task came to. A task that panicked is its node's
    /// failure, with the panic's message (its dependents are skipped
    /// because of it); one aborted by an interrupt is counted as abandoned
    /// (`None`).
    fn outcome(&mut self, joined: Joined) -> Option<Ended> {
        let (id, ended) = match joined {
            Ok((id, ended)) => (id, Ok(ended)),
            Err(e) => (e.id(), Err(e)),
        };
        let (i, started) = self.tasks.remove(&id)?;
        match ended {
            Ok(ended) => Some(ended),
            Err(e) if e.is_panic() => {
                let panic = e.into_panic();
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".into());
                let change = self.change(i);
                let failure = Failure {
                    host: change.map_or(String::new(), |c| c.host.clone()),
                    what: change.map_or(String::new(), |c| c.id.to_string()),
                    message: format!("runner panicked while doing it: {message}"),
                    log: None,
                };
                Some((i, Err(failure), started.elapsed()))
            }
            Err(_) => {
                self.applied.abandoned += 1;
                None
            }
        }
    }

    /// A task's result recorded; its dependents released.
    async fn succeeded(&mut self, i: usize, change: &'a Change, done: Done, elapsed: Duration) {
        // Recorded, but with failures of its own (a test that failed on a host).
        let mut partly = false;
        let op = match done {
            Done::HostCreated(mut h) => {
                if let Some(node) = change.node() {
                    h.hash = self.graph.dag[node].hash.clone();
                }
                Op::Host {
                    name: change.host.clone(),
                    host: h,
                }
            }
            Done::Recorded(op) => op,
            Done::Checked { op, lines, failed } => {
                self.applied.notes.extend(lines);
                self.applied.checks_failed += failed;
                op
            }
            Done::Summary {
                op,
                lines,
                failures,
            } => {
                partly = !failures.is_empty();
                for f in failures {
                    self.reporter.event(Event::Failed {
                        change,
                        failure: &f,
                        elapsed,
                    });
                    self.applied.failures.push(f);
                }
                self.applied.notes.extend(lines);
                op
            }
        };
        if let Err(e) = self.store.record(op.clone()) {
            self.state_failed(e.to_string());
            if let Op::Host { name, host } = op {
                // It exists but is not recorded: it must not be left behind.
                self.unrecorded_host(name, host).await;
            }
            self.applied.failures.push(Failure {
                host: change.host.clone(),
                what: change.id.to_string(),
                message: "done, but the state could not record it".into(),
                log: None,
            });
            self.schedule.failed(i);
            return;
        }
        if !partly {
            self.reporter.event(Event::Done { change, elapsed });
            self.applied.succeeded.push(change.action);
        }
        self.schedule.done(i);
    }

    /// A host that was created but could not be recorded is destroyed again.
    async fn unrecorded_host(&self, name: String, host: HostState) {
        let said = match self.shared.provider.destroy(&name, &host).await {
            Ok(()) => format!(
                "host `{name}` was created but could not be recorded: it was destroyed again"
            ),
            Err(e) => format!(
                "error: host `{name}` was created but could not be recorded, and destroying it failed: {e}"
            ),
        };
        self.reporter.line(said);
    }

    /// First interrupt: no new node starts; running ones get a grace
    /// period. Second: they are abandoned now.
    async fn interrupted(&mut self) {
        if self.applied.interrupted {
            self.reporter
                .line("second interrupt: abandoning running nodes".to_string());
            let batch = self.abandon().await;
            self.ended(batch).await;
            return;
        }
        self.applied.interrupted = true;
        self.stopping = true;
        self.reporter.line(format!(
            "interrupted: starting no new nodes; waiting up to {}s for {} running",
            INTERRUPT_GRACE.as_secs(),
            self.running.len()
        ));
    }

    async fn grace_over(&mut self) {
        self.reporter
            .line("grace period over: abandoning running nodes".to_string());
        let batch = self.abandon().await;
        self.ended(batch).await;
    }

    /// Aborts the running tasks and stops their remote commands on the
    /// hosts (every process carrying the node's tag), bounded in time.
    /// Returns what had finished before it could be aborted: that is
    /// recorded like any finished node, not thrown away.
    async fn abandon(&mut self) -> Vec<Joined> {
        // A trial armed and not finished (an analysis or a publish running
        // after a finished trial leaves nothing on the hosts).
        let trial_running = self
            .store
            .state
            .trial
            .as_ref()
            .is_some_and(|t| t.status.unfinished());
        self.running.abort_all();
        let mut done = Vec::new();
        while let Some(j) = self.running.join_next_with_id().await {
            if let Ok((_, (i, ..))) = &j {
                self.remote.remove(i);
            }
            // Aborted ones are counted as abandoned when they are recorded.
            done.push(j);
        }
        self.applied.stopped_remote += self.remote.len();
        if trial_running {
            // An armed trial's tests and monitors go on without runner by design.
            self.applied.notes.push(
                "a trial was running: its armed tests and monitors go on on the hosts; `runner apply` finishes it (waits, stops the monitors, collects) without running a test twice".into(),
            );
        }
        let mut stops = JoinSet::new();
        for (_, (host, tag)) in self.remote.drain() {
            let Some(session) = self.shared.pool.open(&host).await else {
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

    fn sync_now_and_then(&mut self) {
        if self.last_sync.elapsed() >= SYNC_INTERVAL {
            if let Err(e) = self.store.sync() {
                self.state_failed(e.to_string());
            }
            self.last_sync = Instant::now();
        }
    }

    fn state_failed(&mut self, e: String) {
        let keep_going = self.opts.keep_going_without_state;
        if self.applied.state_error.is_none() {
            self.reporter.line(if keep_going {
                format!("error: {e}; going on (destroying is safe to repeat)")
            } else {
                format!("error: {e}; starting no new nodes")
            });
            self.applied.state_error = Some(e);
        }
        self.stopping |= !keep_going;
    }

    /// The counts of what did not run, the state compacted, connections closed.
    async fn end(mut self) -> Applied {
        let n_changes = self.changes.changes.len();
        // Barriers are bookkeeping, not nodes the user counts.
        self.applied.skipped = self.schedule.skipped(n_changes);
        self.applied.not_started =
            n_changes.saturating_sub(self.finished + self.applied.skipped + self.applied.abandoned);
        if let Err(e) = self.store.finish()
            && self.applied.state_error.is_none()
        {
            self.applied.state_error = Some(e.to_string());
        }
        self.shared.pool.close_all().await;
        self.applied
    }
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
