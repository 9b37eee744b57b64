//! `Graph` + `State` (+ what refresh found) → `Changes`. No I/O: pure.
//!
//! One file per kind of node: `hosts` (created when the state lacks them,
//! replaced when their provider arguments changed, their creation was
//! interrupted or refresh found them gone; cloud instances adopted or
//! destroyed as orphans), `steps` (created when they never ran, updated
//! when their content hash changed or their host is (re)created), `trial`
//! (a new trial, a reattach, a re-collect, a re-render). Whatever the state
//! has and the graph lacks is destroyed.

mod hosts;
mod publish;
mod series;
mod steps;
mod trial;

use std::collections::HashMap;

use petgraph::graph::NodeIndex;
use serde::Serialize;

use crate::graph::{Graph, Node, NodeId, NodeKind};
use crate::state::State;
pub use crate::state::id::Phase;
pub use crate::state::refresh::{Orphan, Refresh, Tagged};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Replace,
    Destroy,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Destroy => "-",
        }
    }
}

/// One change: what it is (`id`), the host it concerns, the action and
/// why, and the work it takes.
#[derive(Debug, Clone)]
pub struct Change {
    pub id: ChangeId,
    /// The host a host's or a step's change is for (`""` for the others).
    pub host: String,
    pub action: Action,
    pub reason: String,
    pub work: Work,
}

/// A change's identity: a node of the graph, or something the state
/// records that the graph no longer has (known by its key only when the
/// state is older than typed identities).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeId {
    Node(NodeId),
    Recorded(String),
    /// A cloud instance tagged with the plan that no state records.
    Orphan(String),
    /// A trial the state records (to finish), by its id.
    Trial(String),
}

impl std::fmt::Display for ChangeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChangeId::Node(id) => write!(f, "{id}"),
            ChangeId::Recorded(key) => f.write_str(key),
            ChangeId::Orphan(instance) => write!(f, "orphan {instance}"),
            ChangeId::Trial(trial) => write!(f, "trial {trial}"),
        }
    }
}

impl ChangeId {
    /// The stage it belongs to, as progress is shown.
    pub fn phase(&self) -> Phase {
        match self {
            ChangeId::Node(id) => id.phase(),
            ChangeId::Orphan(_) => Phase::Hosts,
            ChangeId::Trial(_) => Phase::Trial,
            ChangeId::Recorded(_) => Phase::Other,
        }
    }

    pub fn node(&self) -> Option<&NodeId> {
        match self {
            ChangeId::Node(id) => Some(id),
            ChangeId::Recorded(_) | ChangeId::Orphan(_) | ChangeId::Trial(_) => None,
        }
    }
}

/// What carrying out a change takes, each with what it needs.
#[derive(Debug, Clone)]
pub enum Work {
    /// Create, replace or update a host: its node, and a cloud instance an
    /// interrupted apply launched for it, to take over.
    Host {
        node: NodeIndex,
        adopt: Option<String>,
    },
    /// Run a node of the graph; for a series' trial, finish the trial an
    /// interrupted apply armed for its slot instead of starting one.
    Node {
        node: NodeIndex,
        finish: Option<Finish>,
    },
    /// Finish the plain trial an interrupted apply armed (or whose outputs
    /// could not all be stored), whatever the plan says now: done before
    /// every other change.
    FinishTrial(Finish),
    /// Remove a host the state records and the plan no longer has.
    DestroyHost,
    /// Terminate a cloud instance tagged with the plan that no state records.
    DestroyOrphan(Orphan),
    /// Forget a step or a node that left the plan (its outputs stay).
    Forget(Forgotten),
}

/// A trial to finish: its id, and the tests whose results the plan's own
/// test nodes report (the others are reported when it is finished).
#[derive(Debug, Clone)]
pub struct Finish {
    pub trial: String,
    pub reported_by_nodes: Vec<String>,
}

/// What the state forgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgotten {
    Step,
    Node,
}

impl Change {
    /// The graph node it runs, if any.
    pub fn node(&self) -> Option<NodeIndex> {
        match self.work {
            Work::Host { node, .. } | Work::Node { node, .. } => Some(node),
            Work::FinishTrial(_) | Work::DestroyHost | Work::DestroyOrphan(_) | Work::Forget(_) => {
                None
            }
        }
    }

    /// A host is made, changed or removed.
    pub fn is_host(&self) -> bool {
        matches!(
            self.work,
            Work::Host { .. } | Work::DestroyHost | Work::DestroyOrphan(_)
        )
    }

    /// A host is made (created or replaced).
    pub fn creates_host(&self) -> bool {
        matches!(self.work, Work::Host { .. }) && self.action != Action::Destroy
    }

    /// The trial this change finishes (an interrupted apply armed it).
    pub fn finishes(&self) -> Option<&Finish> {
        match &self.work {
            Work::FinishTrial(f) => Some(f),
            Work::Node { finish, .. } => finish.as_ref(),
            Work::Host { .. } | Work::DestroyHost | Work::DestroyOrphan(_) | Work::Forget(_) => {
                None
            }
        }
    }
}

/// As `runner plan --json` writes it (the fields it always had).
impl Serialize for Change {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &self.id.to_string())?;
        m.serialize_entry("host", &self.host)?;
        m.serialize_entry("is_host", &self.is_host())?;
        m.serialize_entry("action", &self.action)?;
        m.serialize_entry("reason", &self.reason)?;
        if let Some(f) = self.finishes() {
            m.serialize_entry("armed_trial", &f.trial)?;
        }
        if let Work::Host {
            adopt: Some(id), ..
        } = &self.work
        {
            m.serialize_entry("adopt", id)?;
        }
        if let Work::DestroyOrphan(o) = &self.work {
            m.serialize_entry("orphan", o)?;
        }
        m.end()
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Changes {
    pub changes: Vec<Change>,
    pub unchanged: usize,
    /// What refresh and planning found worth saying (expired instances,
    /// the key pair and security group an EC2 plan uses).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub destroy: usize,
}

impl Changes {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => s.replace += 1,
                Action::Destroy => s.destroy += 1,
            }
        }
        s
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// The changes that make the state what `graph` says, given what refresh
/// found; `new_trial` runs a trial even if nothing changed.
pub fn diff(graph: &Graph, state: &State, refresh: &Refresh, new_trial: bool) -> Changes {
    let mut out = Changes::default();
    let host_action = hosts::changes(graph, state, refresh, &mut out);
    steps::changes(graph, state, &host_action, &mut out);
    let armed_in_series = series::changes(graph, state, new_trial, &host_action, &mut out);
    trial::changes(
        graph,
        state,
        new_trial,
        armed_in_series,
        &host_action,
        &mut out,
    );
    publish::changes(graph, state, refresh, &mut out);
    gone(graph, state, &mut out);
    // Listed in the order it is done: an armed trial is finished first.
    out.changes.sort_by_key(|c| c.finishes().is_none());
    out
}

/// How each host of the plan changes, by name (absent: unchanged).
type HostActions<'a> = HashMap<&'a str, Action>;

/// Whatever the state has and the graph lacks is destroyed (a node's
/// outputs stay in its trial).
fn gone(graph: &Graph, state: &State, out: &mut Changes) {
    let in_graph: std::collections::HashSet<&str> =
        graph.dag.node_weights().map(|n| n.id.key()).collect();
    for name in state.hosts.keys() {
        let id = NodeId::host(name);
        if !in_graph.contains(id.key()) {
            out.changes.push(Change {
                id: ChangeId::Node(id),
                host: name.clone(),
                action: Action::Destroy,
                reason: "no longer in the plan".into(),
                work: Work::DestroyHost,
            });
        }
    }
    for (key, s) in &state.steps {
        if !in_graph.contains(key.as_str()) {
            let id = match &s.step {
                Some(step) => ChangeId::Node(NodeId::step(step, &s.host)),
                None => ChangeId::Recorded(key.clone()),
            };
            out.changes.push(Change {
                id,
                host: s.host.clone(),
                action: Action::Destroy,
                reason: "no longer in the plan".into(),
                work: Work::Forget(Forgotten::Step),
            });
        }
    }
    for (key, n) in &state.nodes {
        if !in_graph.contains(key.as_str()) {
            out.changes.push(Change {
                id: n
                    .id
                    .clone()
                    .map_or_else(|| ChangeId::Recorded(key.clone()), ChangeId::Node),
                host: String::new(),
                action: Action::Destroy,
                reason: "no longer in the plan (its outputs stay in the trial)".into(),
                work: Work::Forget(Forgotten::Node),
            });
        }
    }
}

impl Change {
    /// The change of a node of the graph.
    fn of_node(node: &Node, idx: NodeIndex, action: Action, reason: String) -> Change {
        let work = match node.kind {
            NodeKind::Host => Work::Host {
                node: idx,
                adopt: None,
            },
            _ => Work::Node {
                node: idx,
                finish: None,
            },
        };
        Change {
            id: ChangeId::Node(node.id.clone()),
            host: node.host().to_string(),
            action,
            reason,
            work,
        }
    }
}

/// A node's change, or one more unchanged node.
fn push(out: &mut Changes, idx: NodeIndex, node: &Node, verdict: Option<(Action, String)>) {
    match verdict {
        Some((action, reason)) => out.changes.push(Change::of_node(node, idx, action, reason)),
        None => out.unchanged += 1,
    }
}
