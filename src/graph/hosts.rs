//! Host nodes: one per host of the plan, hashed over what its provider is
//! asked for (so that a change to it replaces the host).

use std::collections::HashMap;

use petgraph::graph::{DiGraph, NodeIndex};

use super::{Node, NodeId, NodeKind, Payload};
use crate::hash::Hasher;
use crate::plan::{HostSpec, Plan};

/// Adds every host's node; their indices by host name.
pub(super) fn add(plan: &Plan, dag: &mut DiGraph<Node, ()>) -> HashMap<String, NodeIndex> {
    let mut nodes = HashMap::new();
    for h in plan.hosts() {
        let idx = dag.add_node(Node {
            slot: None,
            id: NodeId::host(&h.name),
            summary: String::new(),
            kind: NodeKind::Host,
            hash: hash(plan, h),
            payload: Payload::None,
        });
        nodes.insert(h.name.clone(), idx);
    }
    nodes
}

fn hash(plan: &Plan, h: &HostSpec) -> String {
    let mut hasher = Hasher::default().part("provider", plan.provider.name().as_bytes());
    if let Some(f) = &h.fixed {
        hasher = hasher.part("fixed", &serde_json::to_vec(f).unwrap_or_default());
    }
    if let Some(w) = &plan.workdir {
        hasher = hasher.part("workdir", w.as_bytes());
    }
    if let (Some(e), Some(c)) = (&h.ec2, &plan.ec2) {
        // What a launch asks for; not the expiry, which changes nothing.
        // The key decides who can log in: a new one needs new instances.
        let args = serde_json::json!([
            e,
            c.region,
            c.endpoint,
            c.key_name,
            c.identity,
            c.subnet,
            c.security_group
        ]);
        hasher = hasher.part("ec2", args.to_string().as_bytes());
    }
    if let crate::plan::model::Network::Namespaces { base, prefix } = &plan.network {
        // A host in a namespace is made with its range and its link: a
        // change to either makes it again (loopback hashes stay as they were).
        hasher = hasher.part("network", format!("{base}/{prefix}").as_bytes());
        if let Some(link) = &h.link {
            hasher = hasher.part("link", &serde_json::to_vec(link).unwrap_or_default());
        }
    }
    hasher.finish()
}
