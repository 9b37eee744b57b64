//! Steps: created when they never ran; updated when their content hash
//! changed, their host is (re)created, or a host whose address they use
//! (known only after apply) is.

use super::{Action, Changes, HostActions, push};
use crate::graph::{Graph, Node, NodeKind};
use crate::state::State;

pub(super) fn changes(graph: &Graph, state: &State, host_action: &HostActions, out: &mut Changes) {
    for idx in graph.dag.node_indices() {
        let node = &graph.dag[idx];
        let NodeKind::Step { step } = node.kind else {
            continue;
        };
        let kind = graph.plan.steps[step].action.kind();
        push(out, idx, node, verdict(node, kind, state, host_action));
    }
}

fn verdict(
    node: &Node,
    kind: &str,
    state: &State,
    host_action: &HostActions,
) -> Option<(Action, String)> {
    let previous = state.steps.get(node.id.key());
    let host_instance = state.hosts.get(node.host()).map(|h| h.instance.as_str());
    // Addresses known only after apply: the step changes when a host it
    // names is (re)created, or when the address it used changed.
    let refs = crate::graph::deferred_refs(&node.payload);
    let recreated_ref = refs.iter().find(|h| host_action.contains_key(h.as_str()));
    let hash = if refs.is_empty() {
        Some(node.hash.clone())
    } else {
        crate::graph::effective_hash(node, &|h, f| state.host_field(h, f))
    };
    match (previous, host_action.get(node.host())) {
        (None, _) if !refs.is_empty() && (recreated_ref.is_some() || hash.is_none()) => Some((
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
    }
}

fn changed_reason(kind: &str) -> &'static str {
    match kind {
        "run" => "command changed",
        "template" => "rendered template changed",
        _ => "uploaded file changed",
    }
}
