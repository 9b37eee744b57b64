//! Hosts: created when the state lacks them; replaced when their provider
//! arguments changed, their creation was interrupted or refresh found them
//! gone. Cloud instances tagged with the plan that no host of the state
//! records are adopted by the host they were launched for when it is
//! (re)created now, and destroyed as orphans otherwise.

use std::collections::HashSet;

use super::{Action, Change, ChangeId, Changes, HostActions, Orphan, Refresh, Tagged, Work, push};
use crate::graph::{Graph, NodeKind};
use crate::state::{HostStatus, State};

/// Every host's change (and the orphans'); how each host changes.
pub(super) fn changes<'g>(
    graph: &'g Graph,
    state: &State,
    refresh: &Refresh,
    out: &mut Changes,
) -> HostActions<'g> {
    let mut host_action = HostActions::new();
    let mut unclaimed = unclaimed(state, refresh);
    for idx in graph.dag.node_indices() {
        let node = &graph.dag[idx];
        if node.kind != NodeKind::Host {
            continue;
        }
        let Some((action, mut reason)) = verdict(state, refresh, node.host(), &node.hash) else {
            push(out, idx, node, None);
            continue;
        };
        host_action.insert(node.host(), action);
        let mut adopt = None;
        if let Some(link) = graph.plan.host(node.host()).and_then(|s| s.link.as_ref()) {
            reason.push_str(&format!("; link {}", link.describe()));
        }
        if let Some(e) = graph.plan.host(node.host()).and_then(|s| s.ec2.as_ref()) {
            let market = if e.spot { "spot" } else { "on-demand" };
            reason.push_str(&format!("; {}, {market}, {}", e.instance_type, e.ami));
            if let Some(t) = adoption(state, refresh, &mut unclaimed, node.host(), &node.hash) {
                reason.push_str(&format!(
                    "; adopts {}, launched for it but not recorded (an interrupted apply)",
                    t.id
                ));
                adopt = Some(t.id.clone());
            }
        }
        out.changes.push(Change {
            work: Work::Host { node: idx, adopt },
            ..Change::of_node(node, idx, action, reason)
        });
    }
    orphans(graph, state, unclaimed, out);
    host_action
}

/// Why a host changes, if it does.
fn verdict(state: &State, refresh: &Refresh, host: &str, hash: &str) -> Option<(Action, String)> {
    match state.hosts.get(host) {
        None => Some((Action::Create, "new host".to_string())),
        Some(h) if h.status == HostStatus::Creating => {
            Some((Action::Replace, "its creation was interrupted".to_string()))
        }
        Some(_) if refresh.gone.contains_key(host) => {
            Some((Action::Replace, refresh.gone[host].clone()))
        }
        Some(h) if h.hash != hash => {
            Some((Action::Replace, "provider arguments changed".to_string()))
        }
        Some(_) => None,
    }
}

/// Instances tagged with the plan that no ready host of the state records.
fn unclaimed<'r>(state: &State, refresh: &'r Refresh) -> Vec<&'r Tagged> {
    let recorded: HashSet<&str> = state
        .hosts
        .values()
        .filter(|h| h.status == HostStatus::Ready)
        .filter_map(|h| h.cloud_id())
        .collect();
    refresh
        .tagged
        .iter()
        .filter(|t| !recorded.contains(t.id.as_str()) && t.state != "shutting-down")
        .collect()
}

/// The instance a (re)created host takes over: the one the state recorded
/// while creating it, else any launched for it — if it runs (or is
/// starting), was launched as the plan asks, and authorises the key runner
/// logs in with now.
fn adoption<'r>(
    state: &State,
    refresh: &Refresh,
    unclaimed: &mut Vec<&'r Tagged>,
    host: &str,
    hash: &str,
) -> Option<&'r Tagged> {
    let hash = crate::hash::short(hash);
    let adoptable = |t: &Tagged| {
        matches!(t.state.as_str(), "pending" | "running")
            && t.hash == hash
            && refresh.key.as_deref() == Some(t.key.as_str())
    };
    let own = state
        .hosts
        .get(host)
        .and_then(|h| h.cloud_id().map(str::to_string));
    let k = unclaimed
        .iter()
        .position(|t| own.as_deref() == Some(t.id.as_str()) && adoptable(t))
        .or_else(|| {
            unclaimed
                .iter()
                .position(|t| t.host.as_deref() == Some(host) && adoptable(t))
        })?;
    Some(unclaimed.remove(k))
}

/// Instances nobody adopted are destroyed, except those of hosts that leave
/// the plan: they go with their host's destroy.
fn orphans(graph: &Graph, state: &State, unclaimed: Vec<&Tagged>, out: &mut Changes) {
    let in_plan: HashSet<&str> = graph.plan.hosts().map(|h| h.name.as_str()).collect();
    let leaving: HashSet<&str> = state
        .hosts
        .iter()
        .filter(|(name, _)| !in_plan.contains(name.as_str()))
        .filter_map(|(_, h)| h.cloud_id())
        .collect();
    for t in unclaimed
        .into_iter()
        .filter(|t| !leaving.contains(t.id.as_str()))
    {
        let reason = format!(
            "orphan: instance {} ({}, {}) is tagged with this plan but no state records it",
            t.id, t.market, t.state
        );
        let host = t.host.clone().unwrap_or_else(|| "?".into());
        out.changes.push(Change {
            id: ChangeId::Orphan(t.id.clone()),
            host,
            action: Action::Destroy,
            reason,
            work: Work::DestroyOrphan(Orphan {
                id: t.id.clone(),
                region: t.region.clone(),
                endpoint: t.endpoint.clone(),
            }),
        });
    }
}
