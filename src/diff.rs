//! `Graph` + `State` (+ what refresh found) → `Changes`. No I/O.
//!
//! A host is created when the state lacks it, replaced when its provider
//! arguments changed, its creation was interrupted or refresh found it gone.
//! A step is created when it never ran, updated when its content hash changed
//! or its host is (re)created. Whatever the state has and the graph lacks is
//! destroyed.

use std::collections::HashMap;

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
    /// Finish the trial of this id, armed by an apply that was interrupted:
    /// done before every other change, whatever the plan says now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub armed_trial: Option<String>,
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

pub fn diff(
    graph: &Graph,
    state: &State,
    refresh: &crate::provider::Refresh,
    new_trial: bool,
) -> Changes {
    let gone = &refresh.gone;
    let mut out = Changes::default();
    let mut host_action: HashMap<&str, Action> = HashMap::new();
    // Cloud instances tagged with the plan that no host of the state
    // records as its own: adopted by the host they were launched for when
    // it is (re)created now, destroyed as orphans otherwise.
    let recorded: std::collections::HashSet<&str> = state
        .hosts
        .values()
        .filter(|h| h.status == HostStatus::Ready)
        .filter_map(|h| h.ec2.as_ref()?.id.as_deref())
        .collect();
    let mut unclaimed: Vec<&crate::provider::ec2::Tagged> = refresh
        .tagged
        .iter()
        .filter(|t| !recorded.contains(t.id.as_str()) && t.state != "shutting-down")
        .collect();
    // Adopted only if it runs (or is starting), was launched as the plan
    // asks, and authorises the key runner logs in with now.
    let adoptable = |t: &crate::provider::ec2::Tagged, hash: &str| {
        matches!(t.state.as_str(), "pending" | "running")
            && t.hash == hash
            && refresh.key.as_deref() == Some(t.key.as_str())
    };
    let specs: HashMap<&str, &crate::plan::HostSpec> =
        graph.plan.hosts().map(|h| (h.name.as_str(), h)).collect();
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
        let Some((action, mut reason)) = verdict else {
            push(&mut out, idx, node, None);
            continue;
        };
        host_action.insert(node.host.as_str(), action);
        let mut adopt = None;
        if let Some(e) = specs.get(node.host.as_str()).and_then(|s| s.ec2.as_ref()) {
            reason.push_str(&format!(
                "; {}, {}, {}",
                e.instance_type,
                if e.spot { "spot" } else { "on-demand" },
                e.ami
            ));
            // The instance the state recorded while creating, else any
            // launched for this host, if it was launched as the plan asks.
            let own = state
                .hosts
                .get(&node.host)
                .and_then(|h| h.ec2.as_ref()?.id.clone());
            let hash = crate::provider::ec2::short_hash(&node.hash);
            if let Some(k) = unclaimed
                .iter()
                .position(|t| own.as_deref() == Some(t.id.as_str()) && adoptable(t, &hash))
                .or_else(|| {
                    unclaimed.iter().position(|t| {
                        t.host.as_deref() == Some(node.host.as_str()) && adoptable(t, &hash)
                    })
                })
            {
                let t = unclaimed.remove(k);
                reason.push_str(&format!(
                    "; adopts {}, launched for it but not recorded (an interrupted apply)",
                    t.id
                ));
                adopt = Some(t.id.clone());
            }
        }
        out.changes.push(Change {
            id: node.id.clone(),
            host: node.host.clone(),
            is_host: true,
            action,
            reason,
            node: Some(idx),
            armed_trial: None,
            adopt,
            orphan: None,
        });
    }
    // Instances of hosts that leave the plan go with their host's destroy.
    let in_plan: std::collections::HashSet<&str> =
        graph.plan.hosts().map(|h| h.name.as_str()).collect();
    let leaving: std::collections::HashSet<&str> = state
        .hosts
        .iter()
        .filter(|(name, _)| !in_plan.contains(name.as_str()))
        .filter_map(|(_, h)| h.ec2.as_ref()?.id.as_deref())
        .collect();
    for t in unclaimed
        .into_iter()
        .filter(|t| !leaving.contains(t.id.as_str()))
    {
        out.changes.push(Change {
            id: format!("orphan {}", t.id),
            host: t.host.clone().unwrap_or_else(|| "?".into()),
            is_host: true,
            action: Action::Destroy,
            reason: format!(
                "orphan: instance {} ({}, {}) is tagged with this plan but no state records it",
                t.id, t.market, t.state
            ),
            node: None,
            armed_trial: None,
            adopt: None,
            orphan: Some(Orphan {
                id: t.id.clone(),
                region: t.region.clone(),
                endpoint: t.endpoint.clone(),
            }),
        });
    }
    for idx in graph.dag.node_indices() {
        let node = &graph.dag[idx];
        let NodeKind::Step { step } = node.kind else {
            continue;
        };
        let kind = graph.plan.steps[step].action.kind();
        let previous = state.steps.get(&node.id);
        let host_instance = state.hosts.get(&node.host).map(|h| h.instance.as_str());
        // Addresses known only after apply: the step changes when a host
        // it names is (re)created, or when the address it used changed.
        let refs = crate::graph::deferred_refs(&node.payload);
        let recreated_ref = refs.iter().find(|h| host_action.contains_key(h.as_str()));
        let hash = if refs.is_empty() {
            Some(node.hash.clone())
        } else {
            crate::graph::effective_hash(node, &state.hosts)
        };
        let verdict = match (previous, host_action.get(node.host.as_str())) {
            (None, _) if !refs.is_empty() => Some((
                Action::Create,
                format!(
                    "uses the address of {}: {}",
                    refs.join(", "),
                    crate::graph::KNOWN_AFTER_APPLY
                ),
            )),
            (None, _) => Some((Action::Create, String::new())),
            (Some(_), Some(_)) => Some((Action::Update, "its host is (re)created".to_string())),
            (Some(_), None) if recreated_ref.is_some() => Some((
                Action::Update,
                format!(
                    "`{}` is (re)created: its address is (known after apply)",
                    recreated_ref.map_or("", |h| h.as_str())
                ),
            )),
            (Some(p), None) if Some(&p.hash) != hash.as_ref() => {
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
    trial_changes(graph, state, new_trial, &host_action, &mut out);
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
                armed_trial: None,
                adopt: None,
                orphan: None,
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
                armed_trial: None,
                adopt: None,
                orphan: None,
            });
        }
    }
    for id in state.nodes.keys() {
        if !in_graph.contains(id.as_str()) {
            out.changes.push(Change {
                id: id.clone(),
                host: String::new(),
                is_host: false,
                action: Action::Destroy,
                reason: "no longer in the plan (its outputs stay in the trial)".to_string(),
                node: None,
                armed_trial: None,
                adopt: None,
                orphan: None,
            });
        }
    }
    // Listed in the order it is done: an armed trial is finished first.
    out.changes.sort_by_key(|c| c.armed_trial.is_none());
    out
}

/// The trial runs (all its tests, into a new trial folder) when what it
/// runs changed since the last finished trial, or on `--new-trial`; an
/// armed trial that did not finish is reattached to. A collect runs again
/// into the latest trial when it changed; an analysis when it or what it
/// reads changed.
fn trial_changes(
    graph: &Graph,
    state: &State,
    new_trial: bool,
    host_action: &HashMap<&str, Action>,
    out: &mut Changes,
) {
    use crate::state::TrialStatus;
    let plan = &graph.plan.name;
    // An armed trial is finished first (its tests are running on the hosts
    // whatever the plan says now), also when the plan has no trial any more;
    // the plan is then weighed against it as against any finished trial.
    // (`destroy`, whose graph is empty, stops it instead.)
    if graph.dag.node_count() > 0
        && let Some(t) = state
            .trial
            .as_ref()
            .filter(|t| t.status == TrialStatus::Armed)
    {
        out.changes.push(Change {
            id: format!("trial {}", t.id),
            host: String::new(),
            is_host: false,
            action: Action::Update,
            reason: format!(
                "finish the trial armed by an interrupted apply: wait for its tests, stop its monitors, collect → trials/{plan}/{}",
                t.id
            ),
            node: None,
            armed_trial: Some(t.id.clone()),
            adopt: None,
            orphan: None,
        });
    }
    let Some(trial_idx) = graph
        .dag
        .node_indices()
        .find(|&i| graph.dag[i].kind == NodeKind::Trial)
    else {
        return;
    };
    let node = &graph.dag[trial_idx];
    let crate::graph::Payload::Trial(spec) = &node.payload else {
        return;
    };
    // Its hosts, and the hosts whose addresses its commands use.
    let refs = crate::graph::deferred_refs(&node.payload);
    let mut recreated: Vec<&str> = spec
        .hosts
        .iter()
        .chain(refs.iter())
        .filter(|h| host_action.contains_key(h.as_str()))
        .map(String::as_str)
        .collect();
    recreated.sort_unstable();
    recreated.dedup();
    let trial = match &state.trial {
        _ if new_trial => Some((
            Action::Create,
            format!("{}; --new-trial → trials/{plan}/<new id>", node.host),
        )),
        None => Some((
            Action::Create,
            format!("{} → trials/{plan}/<new id>", node.host),
        )),
        Some(t) if t.hash != node.hash => Some((
            Action::Create,
            format!(
                "{}; changed since trial {} → trials/{plan}/<new id>",
                node.host, t.id
            ),
        )),
        Some(_) if !recreated.is_empty() => Some((
            Action::Create,
            format!(
                "{}; its hosts are (re)created ({}) → trials/{plan}/<new id>",
                node.host,
                crate::graph::hosts_summary(
                    &recreated.iter().map(|h| h.to_string()).collect::<Vec<_>>()
                )
            ),
        )),
        Some(_) => None,
    };
    let latest = state.trial.as_ref().map(|t| t.id.as_str()).unwrap_or("");
    let mut push = |idx: NodeIndex, verdict: Option<(Action, String)>| {
        let n = &graph.dag[idx];
        match verdict {
            Some((action, reason)) => out.changes.push(Change {
                id: n.id.clone(),
                host: String::new(),
                is_host: false,
                action,
                reason,
                node: Some(idx),
                armed_trial: None,
                adopt: None,
                orphan: None,
            }),
            None => out.unchanged += 1,
        }
    };
    let trial_runs = trial.is_some();
    let trial_action = trial.as_ref().map(|(a, _)| *a);
    push(trial_idx, trial);
    let mut collect_changed = false;
    let nodes: Vec<NodeIndex> = graph.dag.node_indices().collect();
    for &idx in &nodes {
        let n = &graph.dag[idx];
        let previous = state.nodes.get(&n.id);
        let verdict = match n.kind {
            NodeKind::Test { .. } => match (trial_action, previous) {
                (Some(a), _) => Some((a, n.host.clone())),
                // Its results were never reported (interrupted): report them.
                (None, Some(p)) if p.trial == latest => None,
                (None, _) => Some((
                    Action::Update,
                    format!("{}; report its results in trial {latest}", n.host),
                )),
            },
            NodeKind::Collect { .. } => {
                if let Some(a) = trial_action {
                    Some((a, n.host.clone()))
                } else {
                    match previous {
                        Some(p) if p.hash == n.hash && p.trial == latest => None,
                        _ => Some((
                            Action::Update,
                            format!("{}; re-collect into trial {latest}", n.host),
                        )),
                    }
                }
            }
            _ => continue,
        };
        collect_changed |= matches!(n.kind, NodeKind::Collect { .. }) && verdict.is_some();
        push(idx, verdict);
    }
    let mut analysis_changed = false;
    for &idx in &nodes {
        let n = &graph.dag[idx];
        let NodeKind::Analyze { .. } = n.kind else {
            continue;
        };
        let previous = state.nodes.get(&n.id);
        let verdict = if let Some(a) = trial_action {
            Some((a, n.host.clone()))
        } else if collect_changed {
            Some((
                Action::Update,
                format!("{}; its files were re-collected", n.host),
            ))
        } else {
            match previous {
                Some(p) if p.hash == n.hash && p.trial == latest => None,
                _ => Some((
                    Action::Update,
                    format!("{}; re-render from trial {latest}", n.host),
                )),
            }
        };
        analysis_changed |= verdict.is_some();
        push(idx, verdict);
    }
    let mut checks_changed = false;
    for kind in [NodeKind::Checks, NodeKind::HtmlReport] {
        for &idx in &nodes {
            let n = &graph.dag[idx];
            if n.kind != kind {
                continue;
            }
            let previous = state.nodes.get(&n.id);
            let verdict = if let Some(a) = trial_action {
                Some((a, n.host.clone()))
            } else if analysis_changed || checks_changed || collect_changed {
                Some((
                    Action::Update,
                    format!("{}; its tables are re-rendered", n.host),
                ))
            } else {
                match previous {
                    Some(p) if p.hash == n.hash && p.trial == latest => None,
                    _ => Some((Action::Update, format!("{}; for trial {latest}", n.host))),
                }
            };
            checks_changed |= verdict.is_some();
            push(idx, verdict);
        }
    }
    let _ = trial_runs;
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
            armed_trial: None,
            adopt: None,
            orphan: None,
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
