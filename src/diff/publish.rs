//! `[[publish]]` nodes. A page is published when this apply makes what it
//! shows (a new trial or series, tables or a report made again), when where
//! or how it publishes changed, or when the page it would make now (its
//! content hash, made by the planner from the latest run's files) is not
//! the one it published last. The same content is never published twice.

use super::{Action, Changes, Phase, Refresh};
use crate::graph::{Graph, Node, NodeKind};
use crate::state::State;

type Verdict = Option<(Action, String)>;

pub(super) fn changes(graph: &Graph, state: &State, refresh: &Refresh, out: &mut Changes) {
    // Anything of the run made again in this apply: the page follows it.
    let upstream = out.changes.iter().any(|c| {
        c.action != Action::Destroy
            && !c.is_host()
            && matches!(
                c.id.phase(),
                Phase::Trial | Phase::Collect | Phase::Analyze | Phase::Other
            )
    });
    let latest = state.latest_run(graph.plan.series.is_some());
    for idx in graph.dag.node_indices() {
        let node = &graph.dag[idx];
        if !matches!(node.kind, NodeKind::Publish { .. }) {
            continue;
        }
        let verdict = verdict(node, state, refresh, upstream, latest);
        super::push(out, idx, node, verdict);
    }
}

fn verdict(
    node: &Node,
    state: &State,
    refresh: &Refresh,
    upstream: bool,
    latest: Option<&str>,
) -> Verdict {
    let record = state.nodes.get(node.id.key());
    let action = if record.is_some() {
        Action::Update
    } else {
        Action::Create
    };
    let what = &node.summary;
    if upstream {
        return Some((action, format!("{what}; with the tables this apply makes")));
    }
    let latest = latest?;
    let Some(record) = record else {
        return Some((action, format!("{what}; from {latest}")));
    };
    let Some(published) = &record.published else {
        return Some((action, format!("{what}; never published")));
    };
    let page = refresh.pages.get(node.id.key());
    if record.hash != node.hash {
        let same = published.to == *what
            && published.run == latest
            && page.is_some_and(|h| *h == published.content);
        let why = if same {
            "its settings changed, its page did not: recorded, not published again"
        } else {
            "where or how it publishes changed"
        };
        return Some((action, format!("{what}; {why}")));
    }
    match page {
        _ if published.run != latest => Some((
            action,
            format!("{what}; it shows {}, the latest is {latest}", published.run),
        )),
        Some(hash) if *hash == published.content => None,
        Some(_) => Some((action, format!("{what}; its page of {latest} changed"))),
        None => Some((
            action,
            format!("{what}; its page of {latest} cannot be made now (apply says why)"),
        )),
    }
}
