//! `[[publish]]` nodes: each after the report of the plan's trial or
//! series (everything the page shows is made by then). Its hash covers
//! where the page goes and how it is made; what it says is weighed by the
//! diff against what the last publish wrote.

use petgraph::graph::{DiGraph, NodeIndex};

use super::{Node, NodeId, NodeKind, Payload, What};
use crate::hash::Hasher;
use crate::plan::Plan;
use crate::plan::model::{Publish, Target};

pub(super) fn add(plan: &Plan, dag: &mut DiGraph<Node, ()>) {
    let reports: Vec<NodeIndex> = dag
        .node_indices()
        .filter(|&i| match dag[i].kind {
            NodeKind::HtmlReport => dag[i].slot.is_none(),
            NodeKind::SeriesReport => true,
            _ => false,
        })
        .collect();
    if reports.is_empty() {
        return;
    }
    for (i, p) in plan.publishes.iter().enumerate() {
        let n = dag.add_node(Node {
            slot: None,
            id: NodeId::new(What::Publish {
                publish: p.name.clone(),
            }),
            summary: where_to(p),
            kind: NodeKind::Publish { publish: i },
            hash: hash(p),
            payload: Payload::None,
        });
        for &r in &reports {
            dag.add_edge(r, n, ());
        }
    }
}

/// `page Perf/Nightly on http://wiki/api.php`, `Nightly.md in ../wiki`.
pub fn where_to(p: &Publish) -> String {
    match &p.target {
        Target::Mediawiki { api, section, .. } => match section {
            Some(s) => format!("{} (section {s}) on {api}", p.page),
            None => format!("{} on {api}", p.page),
        },
        Target::Git { folder } => format!("{}.md in {}", p.page, crate::paths::shown(folder)),
    }
}

fn hash(p: &Publish) -> String {
    let mut h = Hasher::default()
        .part("page", p.page.as_bytes())
        .part("target", format!("{:?}", p.target).as_bytes());
    for a in &p.analyses {
        h = h.part("analysis", a.as_bytes());
    }
    if let Some(s) = &p.summary {
        h = h.part("summary", s.as_bytes());
    }
    if let Some((_, text)) = &p.template {
        h = h.part("template", text.as_bytes());
    }
    h.finish()
}
