//! The trial and the nodes that hang off it. The trial runs (all its tests,
//! into a new trial folder) when what it runs changed since the last
//! finished trial, when its hosts are (re)created, or on `--new-trial`; an
//! armed trial that did not finish is finished first. Without a new trial,
//! a collect runs again into the latest trial when it changed; an analysis
//! when it or what it reads changed; the checks and the report when their
//! tables did.

use petgraph::graph::NodeIndex;

use super::{Action, Change, ChangeId, Changes, Finish, HostActions, Work};
use crate::graph::{Graph, Node, NodeKind, Payload};
use crate::state::{NodeRecord, State, TrialStatus};

type Verdict = Option<(Action, String)>;

pub(super) fn changes(
    graph: &Graph,
    state: &State,
    new_trial: bool,
    armed_in_series: bool,
    host_action: &HostActions,
    out: &mut Changes,
) {
    // The plan's own trial (a series' trials are the series').
    let trial_idx = graph
        .dag
        .node_indices()
        .find(|&i| graph.dag[i].kind == NodeKind::Trial && graph.dag[i].slot.is_none());
    let trial =
        trial_idx.and_then(|i| trial_verdict(graph, &graph.dag[i], state, new_trial, host_action));
    // Without a new trial, the plan's test nodes report their results in
    // the latest trial: the armed one, once finished.
    let by_nodes: Vec<String> = match &trial {
        Some(_) => Vec::new(),
        None => graph.plan.tests.iter().map(|t| t.name.clone()).collect(),
    };
    if !armed_in_series {
        unfinished(graph, state, by_nodes, out);
    }
    let Some(trial_idx) = trial_idx else {
        return;
    };
    let cx = Nodes {
        graph,
        state,
        trial_action: trial.as_ref().map(|(a, _)| *a),
        latest: state.trial.as_ref().map_or("", |t| t.id.as_str()),
    };
    push(out, graph, trial_idx, trial);
    let mut collected = false;
    for idx in cx.of(|k| matches!(k, NodeKind::Test { .. } | NodeKind::Collect { .. })) {
        let verdict = cx.test_or_collect(&graph.dag[idx]);
        collected |= matches!(graph.dag[idx].kind, NodeKind::Collect { .. }) && verdict.is_some();
        push(out, graph, idx, verdict);
    }
    let mut rendered = false;
    for idx in cx.of(|k| matches!(k, NodeKind::Analyze { .. })) {
        let verdict = cx.analysis(&graph.dag[idx], collected);
        rendered |= verdict.is_some();
        push(out, graph, idx, verdict);
    }
    for kind in [NodeKind::Checks, NodeKind::HtmlReport] {
        for idx in cx.of(|k| *k == kind) {
            let verdict = cx.checks_or_report(&graph.dag[idx], rendered || collected);
            rendered |= verdict.is_some();
            push(out, graph, idx, verdict);
        }
    }
}

/// An armed trial is finished first (its tests are running on the hosts
/// whatever the plan says now), also when the plan has no trial any more;
/// the plan is then weighed against it as against any finished trial.
/// (`destroy`, whose graph is empty, stops it instead.) A trial whose
/// outputs could not all be stored is finished the same way: fetched again.
/// `by_nodes`: the tests whose results the plan's test nodes report.
fn unfinished(graph: &Graph, state: &State, by_nodes: Vec<String>, out: &mut Changes) {
    let Some(t) = state
        .trial
        .as_ref()
        .filter(|t| t.status.unfinished() && graph.dag.node_count() > 0)
    else {
        return;
    };
    let reason = if t.status == TrialStatus::Armed {
        format!(
            "finish the trial armed by an interrupted apply: wait for its tests, stop its monitors, collect → trials/{}/{}",
            graph.plan.name, t.id
        )
    } else {
        format!(
            "fetch the outputs of trial {} that could not be stored → trials/{}/{}",
            t.id, graph.plan.name, t.id
        )
    };
    out.changes.push(Change {
        id: ChangeId::Trial(t.id.clone()),
        host: String::new(),
        action: Action::Update,
        reason,
        work: Work::FinishTrial(Finish {
            trial: t.id.clone(),
            reported_by_nodes: by_nodes,
        }),
    });
}

/// Whether a new trial runs, and why.
fn trial_verdict(
    graph: &Graph,
    node: &Node,
    state: &State,
    new_trial: bool,
    host_action: &HostActions,
) -> Verdict {
    let plan = &graph.plan.name;
    let Payload::Trial(spec) = &node.payload else {
        return None;
    };
    // Its hosts, and the hosts whose addresses its commands use.
    let refs = crate::graph::deferred_refs(&node.payload);
    let mut recreated: Vec<String> = spec
        .hosts
        .iter()
        .chain(refs.iter())
        .filter(|h| host_action.contains_key(h.as_str()))
        .cloned()
        .collect();
    recreated.sort_unstable();
    recreated.dedup();
    let what = &node.summary;
    let why = match &state.trial {
        _ if new_trial => format!("{what}; --new-trial"),
        None => what.clone(),
        Some(t) if t.hash != node.hash => format!("{what}; changed since trial {}", t.id),
        Some(t) if t.status.did_not_run() => {
            format!("{what}; trial {} did not run its tests", t.id)
        }
        Some(_) if !recreated.is_empty() => format!(
            "{what}; its hosts are (re)created ({})",
            crate::graph::hosts_summary(&recreated)
        ),
        Some(_) => return None,
    };
    Some((Action::Create, format!("{why} → trials/{plan}/<new id>")))
}

/// What the nodes after the trial are weighed with.
struct Nodes<'a> {
    graph: &'a Graph,
    state: &'a State,
    /// A new trial: every node runs with it.
    trial_action: Option<Action>,
    /// The latest trial's id (`""` if none).
    latest: &'a str,
}

impl Nodes<'_> {
    fn of(&self, kind: impl Fn(&NodeKind) -> bool) -> Vec<NodeIndex> {
        self.graph
            .dag
            .node_indices()
            .filter(|&i| kind(&self.graph.dag[i].kind))
            .collect()
    }

    fn previous(&self, n: &Node) -> Option<&NodeRecord> {
        self.state.nodes.get(n.id.key())
    }

    /// Done for the latest trial, with the hash it has now.
    fn current(&self, n: &Node) -> bool {
        self.previous(n)
            .is_some_and(|p| p.hash == n.hash && p.trial == self.latest)
    }

    fn test_or_collect(&self, n: &Node) -> Verdict {
        if let Some(a) = self.trial_action {
            return Some((a, n.summary.clone()));
        }
        let latest = self.latest;
        match n.kind {
            // Its results were never reported (interrupted): report them.
            NodeKind::Test { .. } if self.previous(n).is_some_and(|p| p.trial == latest) => None,
            NodeKind::Test { .. } => Some((
                Action::Update,
                format!("{}; report its results in trial {latest}", n.summary),
            )),
            _ if self.current(n) => None,
            _ => Some((
                Action::Update,
                format!("{}; re-collect into trial {latest}", n.summary),
            )),
        }
    }

    fn analysis(&self, n: &Node, collected: bool) -> Verdict {
        if let Some(a) = self.trial_action {
            return Some((a, n.summary.clone()));
        }
        if collected {
            return Some((
                Action::Update,
                format!("{}; its files were re-collected", n.summary),
            ));
        }
        (!self.current(n)).then(|| {
            (
                Action::Update,
                format!("{}; re-render from trial {}", n.summary, self.latest),
            )
        })
    }

    fn checks_or_report(&self, n: &Node, tables_changed: bool) -> Verdict {
        if let Some(a) = self.trial_action {
            return Some((a, n.summary.clone()));
        }
        if tables_changed {
            return Some((
                Action::Update,
                format!("{}; its tables are re-rendered", n.summary),
            ));
        }
        (!self.current(n)).then(|| {
            (
                Action::Update,
                format!("{}; for trial {}", n.summary, self.latest),
            )
        })
    }
}

/// A trial node's change (listed without a host), or one more unchanged.
fn push(out: &mut Changes, graph: &Graph, idx: NodeIndex, verdict: Verdict) {
    match verdict {
        Some((action, reason)) => {
            out.changes
                .push(Change::of_node(&graph.dag[idx], idx, action, reason))
        }
        None => out.unchanged += 1,
    }
}
