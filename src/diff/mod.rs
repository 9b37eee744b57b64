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
mod series;
mod steps;
mod trial;

use std::collections::HashMap;

use petgraph::graph::NodeIndex;
use serde::Serialize;

use crate::graph::{Graph, Node, NodeKind};
use crate::state::State;

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

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub id: String,
    pub host: String,
    /// Whether the change is to a host (provision) or to a step.
    pub is_host: bool,
    pub action: Action,
    pub reason: String,
    /// The graph node, absent for destroys.
    #[serde(skip)]
    pub node: Option<NodeIndex>,
    /// Finish the trial of this id, armed by an apply that was interrupted:
    /// done before every other change, whatever the plan says now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub armed_trial: Option<String>,
    /// With `armed_trial`: the tests whose results the plan's own test
    /// nodes report (the others are reported when the trial is finished).
    #[serde(skip)]
    pub reported_by_nodes: Vec<String>,
    /// Host creates: take over this cloud instance, which an interrupted
    /// apply launched for the host, instead of launching another.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adopt: Option<String>,
    /// Destroys: a cloud instance tagged with the plan that no state records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orphan: Option<Orphan>,
}

/// A cloud instance tagged with the plan that no state records, and where
/// it is.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Orphan {
    pub id: String,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
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

/// What refresh found: hosts of the state that no longer exist (with why),
/// cloud instances tagged with the plan, and warnings (expired instances).
#[derive(Debug, Clone, Default)]
pub struct Refresh {
    pub gone: std::collections::BTreeMap<String, String>,
    pub tagged: Vec<Tagged>,
    pub notes: Vec<String>,
    /// The `runner:key` an instance must carry to be adopted (the key runner
    /// logs in with now); `None`: nothing can be adopted.
    pub key: Option<String>,
}

/// One instance tagged with a plan, as refresh sees it.
#[derive(Debug, Clone)]
pub struct Tagged {
    pub id: String,
    /// The host it was launched for (its `runner:host` tag, or its launch
    /// index in `runner:hosts`).
    pub host: Option<String>,
    pub hash: String,
    pub state: String,
    pub expires: Option<String>,
    pub market: String,
    /// The fingerprint of the key it authorises (`runner:key`).
    pub key: String,
    /// Where it is: orphans are destroyed there.
    pub region: String,
    pub endpoint: Option<String>,
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
    gone(graph, state, &mut out);
    // Listed in the order it is done: an armed trial is finished first.
    out.changes.sort_by_key(|c| c.armed_trial.is_none());
    out
}

/// How each host of the plan changes, by name (absent: unchanged).
type HostActions<'a> = HashMap<&'a str, Action>;

/// Whatever the state has and the graph lacks is destroyed (a node's
/// outputs stay in its trial).
fn gone(graph: &Graph, state: &State, out: &mut Changes) {
    let in_graph: std::collections::HashSet<&str> =
        graph.dag.node_weights().map(|n| n.id.as_str()).collect();
    let hosts = state.hosts.keys().map(|name| {
        (
            crate::graph::host_id(name),
            name.clone(),
            true,
            "no longer in the plan",
        )
    });
    let steps = state
        .steps
        .iter()
        .map(|(id, s)| (id.clone(), s.host.clone(), false, "no longer in the plan"));
    let nodes = state.nodes.keys().map(|id| {
        (
            id.clone(),
            String::new(),
            false,
            "no longer in the plan (its outputs stay in the trial)",
        )
    });
    for (id, host, is_host, reason) in hosts.chain(steps).chain(nodes) {
        if !in_graph.contains(id.as_str()) {
            out.changes.push(Change {
                is_host,
                ..Change::new(id, host, Action::Destroy, reason.to_string(), None)
            });
        }
    }
}

impl Change {
    /// A change with nothing special about it (no trial to finish, no
    /// instance to adopt, no orphan).
    fn new(
        id: String,
        host: String,
        action: Action,
        reason: String,
        node: Option<NodeIndex>,
    ) -> Change {
        Change {
            id,
            host,
            is_host: false,
            action,
            reason,
            node,
            armed_trial: None,
            reported_by_nodes: Vec::new(),
            adopt: None,
            orphan: None,
        }
    }
}

impl Change {
    /// The change of a node of the graph.
    fn of_node(node: &Node, idx: NodeIndex, action: Action, reason: String) -> Change {
        Change {
            is_host: node.kind == NodeKind::Host,
            ..Change::new(
                node.id.clone(),
                node.host.clone(),
                action,
                reason,
                Some(idx),
            )
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
