//! `Graph` + `State` (+ what refresh found) → `Changes`. No I/O.
//!
//! A host is created when the state lacks it, replaced when its provider
//! arguments changed, its creation was interrupted or refresh found it gone.
//! A step is created when it never ran, updated when its content hash changed
//! or its host is (re)created. Whatever the state has and the graph lacks is
//! destroyed.

use std::collections::{BTreeMap, HashMap};

use petgraph::graph::NodeIndex;
use serde::Serialize;

use crate::graph::{Graph, NodeKind};
use crate::state::{HostStatus, State};

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
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Changes {
    pub changes: Vec<Change>,
    pub unchanged: usize,
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

/// Hosts that refresh found missing, with why (e.g. "sshd is not running").
pub type Gone = BTreeMap<String, String>;

pub fn diff(graph: &Graph, state: &State, gone: &Gone) -> Changes {
    let mut out = Changes::default();
    let mut host_action: HashMap<&str, Action> = HashMap::new();
    for idx in graph.dag.node_indices() {
        let node = &graph.dag[idx];
        if node.kind != NodeKind::Host {
            continue;
        }
        let verdict = match state.hosts.get(&node.host) {
            None => Some((Action::Create, "new host".to_string())),
            Some(h) if h.status == HostStatus::Creating => {
                Some((Action::Replace, "its creation was interrupted".to_string()))
            }
            Some(_) if gone.contains_key(&node.host) => {
                Some((Action::Replace, gone[&node.host].clone()))
            }
            Some(h) if h.hash != node.hash => {
                Some((Action::Replace, "provider arguments changed".to_string()))
            }
            Some(_) => None,
        };
        push(
            &mut out,
            idx,
            node,
            verdict.map(|(a, r)| {
                host_action.insert(node.host.as_str(), a);
                (a, r)
            }),
        );
    }
    for idx in graph.dag.node_indices() {
        let node = &graph.dag[idx];
        let NodeKind::Step { step } = node.kind else {
            continue;
        };
        let kind = graph.plan.steps[step].action.kind();
        let previous = state.steps.get(&node.id);
        let host_instance = state.hosts.get(&node.host).map(|h| h.instance.as_str());
        let verdict = match (previous, host_action.get(node.host.as_str())) {
            (None, _) => Some((Action::Create, String::new())),
            (Some(_), Some(_)) => Some((Action::Update, "its host is (re)created".to_string())),
            (Some(p), None) if p.hash != node.hash => {
                Some((Action::Update, changed_reason(kind).to_string()))
            }
            (Some(p), None) if Some(p.instance.as_str()) != host_instance => Some((
                Action::Update,
                "its host was recreated since it ran".to_string(),
            )),
            _ => None,
        };
        push(&mut out, idx, node, verdict);
    }
    let in_graph: std::collections::HashSet<&str> =
        graph.dag.node_weights().map(|n| n.id.as_str()).collect();
    for name in state.hosts.keys() {
        let id = crate::graph::host_id(name);
        if !in_graph.contains(id.as_str()) {
            out.changes.push(Change {
                id,
                host: name.clone(),
                is_host: true,
                action: Action::Destroy,
                reason: "no longer in the plan".to_string(),
                node: None,
            });
        }
    }
    for (id, s) in &state.steps {
        if !in_graph.contains(id.as_str()) {
            out.changes.push(Change {
                id: id.clone(),
                host: s.host.clone(),
                is_host: false,
                action: Action::Destroy,
                reason: "no longer in the plan".to_string(),
                node: None,
            });
        }
    }
    out
}

fn push(
    out: &mut Changes,
    idx: NodeIndex,
    node: &crate::graph::Node,
    verdict: Option<(Action, String)>,
) {
    match verdict {
        Some((action, reason)) => out.changes.push(Change {
            id: node.id.clone(),
            host: node.host.clone(),
            is_host: node.kind == NodeKind::Host,
            action,
            reason,
            node: Some(idx),
        }),
        None => out.unchanged += 1,
    }
}

fn changed_reason(kind: &str) -> &'static str {
    match kind {
        "run" => "command changed",
        "template" => "rendered template changed",
        _ => "uploaded file changed",
    }
}
