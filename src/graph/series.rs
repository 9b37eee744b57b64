//! A series: the trial swept over points and repeated. Nodes: `series`
//! (after every host and step), then per trial of the series (a slot:
//! point × repetition, warm-ups first) its trial, collects, analyses and
//! report — the same kinds as a plain trial's, each marked with its slot —
//! and after all of them the series' own analyses, checks and report.
//! Slots run one after another, in rounds (every point once per round),
//! each round shuffled by a seed ([`Graph::order_series`]): the diff decides
//! the seed (a new series' or the one recorded), so compiling stays pure.

use std::sync::Arc;

use petgraph::graph::{DiGraph, NodeIndex};

use super::context::Contexts;
use super::{Node, NodeId, NodeKind, Payload, SlotId, What};
use crate::diag::Diagnostic;
use crate::hash::Hasher;
use crate::plan::Plan;
use crate::plan::model::{At, Series, SeriesOrder, Vars};

/// One point of the sweep.
#[derive(Debug, Clone)]
pub struct Point {
    /// `streams=4,protocol=udp` (empty without series vars).
    pub label: String,
    pub vars: Vars,
}

/// One trial of the series.
#[derive(Debug, Clone)]
pub struct Slot {
    /// Its trial node's id (`trial streams=4 #2`, `trial streams=4 #w1`):
    /// the key the state and `series.json` know the slot by.
    pub id: String,
    pub point: usize,
    /// 1-based; warm-ups count separately.
    pub repetition: usize,
    /// A warm-up: run and kept, left out of the statistics.
    pub warmup: bool,
    /// The slot's trial node and its last node (the report).
    pub trial: NodeIndex,
    pub last: NodeIndex,
}

/// What the series node carries.
#[derive(Debug, Clone, Default)]
pub struct SeriesSpec {
    pub points: Vec<Point>,
    /// Point by point, warm-ups first.
    pub slots: Vec<Slot>,
    /// Indices into `slots`, in the order they run ([`Graph::order_series`]).
    pub order: Vec<usize>,
    pub seed: u64,
    /// The series vars' names, in the order written.
    pub vars: Vec<String>,
    pub repeat: usize,
    pub discard: usize,
}

impl SeriesSpec {
    /// The slot of a trial node id.
    pub fn slot(&self, id: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| s.id == id)
    }
}

/// Every point: the cartesian product of the series vars, the first var
/// varying slowest.
pub fn points(series: &Series) -> Vec<Point> {
    let mut points = vec![Point {
        label: String::new(),
        vars: Vars::new(),
    }];
    for (name, values) in &series.vars {
        let mut next = Vec::with_capacity(points.len() * values.len());
        for p in &points {
            for v in values {
                let mut vars = p.vars.clone();
                vars.insert(name.clone(), v.clone());
                let shown = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let label = if p.label.is_empty() {
                    format!("{name}={shown}")
                } else {
                    format!("{},{name}={shown}", p.label)
                };
                next.push(Point { label, vars });
            }
        }
        points = next;
    }
    points
}

/// Steps configure hosts once for every trial: a series var or `series`
/// in one is an error that says so.
pub(super) fn check_steps(plan: &Plan, diags: &mut Vec<Diagnostic>) {
    let Some(series) = &plan.series else {
        return;
    };
    for step in &plan.steps {
        let text = match &step.action {
            crate::plan::Action::Run { command } => command,
            crate::plan::Action::Template { text, .. } => text,
            crate::plan::Action::Upload { .. } => continue,
        };
        let Ok(t) = crate::template::Template::new("step", text) else {
            continue;
        };
        let refs = t.references();
        let used = series.vars.iter().map(|(n, _)| n).find(|n| {
            refs.iter()
                .any(|r| r == &format!("vars.{n}") || r.starts_with(&format!("vars.{n}.")))
        });
        let what = match (
            used,
            refs.iter()
                .any(|r| r == "series" || r.starts_with("series.")),
        ) {
            (Some(n), _) => format!("series var `{n}`"),
            (None, true) => "`series`".to_string(),
            (None, false) => continue,
        };
        diags.push(
            Diagnostic::at(format!("step `{}` uses {what}", step.name), step.action_span.clone())
                .help("steps configure hosts once for every trial of the series; what changes per point belongs in a `[[monitor]]` or a `[[test]]` (the system under test can be a monitor)"),
        );
    }
}

/// Adds the series and every node of its trials.
pub(super) fn add(
    plan: &Plan,
    contexts: &Contexts,
    dag: &mut DiGraph<Node, ()>,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(series) = &plan.series else {
        return;
    };
    let config: Vec<NodeIndex> = dag
        .node_indices()
        .filter(|&i| matches!(dag[i].kind, NodeKind::Host | NodeKind::Step { .. }))
        .collect();
    let points = points(series);
    let mut spec = SeriesSpec {
        vars: series.vars.iter().map(|(n, _)| n.clone()).collect(),
        repeat: series.repeat,
        discard: series.discard,
        ..SeriesSpec::default()
    };
    let head = dag.add_node(Node {
        slot: None,
        id: NodeId::new(What::Series),
        summary: String::new(),
        kind: NodeKind::Series,
        hash: Hasher::default().part("series", b"1").finish(),
        payload: Payload::None,
    });
    for &i in &config {
        dag.add_edge(i, head, ());
    }
    let mut seen = std::collections::HashSet::new();
    for (pi, point) in points.iter().enumerate() {
        let reps = (1..=series.discard)
            .map(|r| (r, true))
            .chain((1..=series.repeat).map(|r| (r, false)));
        for (repetition, warmup) in reps {
            let index = spec.slots.len();
            let slot = SlotId {
                point: point.label.clone(),
                repetition,
                warmup,
            };
            let ctx = minijinja::context! {
                point => &point.label,
                repetition => repetition,
                warmup => warmup,
            };
            let mut errors = Vec::new();
            let trial =
                super::trial::spec(plan, &contexts.for_point(&point.vars, ctx), &mut errors);
            // The same mistake in every slot is said once.
            for e in errors {
                if seen.insert(e.message.clone()) {
                    diags.push(e);
                }
            }
            let (trial_node, last) = add_slot(plan, dag, &config, head, index, &slot, trial);
            spec.slots.push(Slot {
                id: NodeId::new(What::Trial).in_slot(&slot).key().to_string(),
                point: pi,
                repetition,
                warmup,
                trial: trial_node,
                last,
            });
        }
    }
    spec.points = points;
    let lasts: Vec<NodeIndex> = spec.slots.iter().map(|s| s.last).collect();
    add_tail(plan, dag, &lasts);
    dag[head].summary = summary(plan, &spec);
    dag[head].payload = Payload::Series(Arc::new(spec));
}

/// The series' analyses, checks and report, after every trial's last node.
fn add_tail(plan: &Plan, dag: &mut DiGraph<Node, ()>, lasts: &[NodeIndex]) {
    let mut tail = Vec::new();
    let analyses: Vec<NodeIndex> = plan
        .analyses
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let n = dag.add_node(Node {
                slot: None,
                id: NodeId::new(What::SeriesAnalyze {
                    analysis: a.name.clone(),
                }),
                summary: a.parser.name().to_string(),
                kind: NodeKind::SeriesAnalyze { analysis: i },
                hash: super::trial::analysis_hash(a),
                payload: Payload::None,
            });
            for &l in lasts {
                dag.add_edge(l, n, ());
            }
            n
        })
        .collect();
    tail.extend(&analyses);
    if !plan.checks.is_empty() {
        let mut c = super::trial::checks_node(plan);
        c.id = NodeId::new(What::SeriesChecks);
        c.kind = NodeKind::SeriesChecks;
        let n = dag.add_node(c);
        for &a in &analyses {
            dag.add_edge(a, n, ());
        }
        tail.push(n);
    }
    let report = dag.add_node(Node {
        slot: None,
        id: NodeId::new(What::SeriesReport),
        summary: "report.html".into(),
        kind: NodeKind::SeriesReport,
        hash: Hasher::default().part("series report", b"1").finish(),
        payload: Payload::None,
    });
    for &l in lasts.iter().chain(&tail) {
        dag.add_edge(l, report, ());
    }
}

/// One slot's trial, collects, analyses and report; (trial, report).
fn add_slot(
    plan: &Plan,
    dag: &mut DiGraph<Node, ()>,
    config: &[NodeIndex],
    head: NodeIndex,
    index: usize,
    slot: &SlotId,
    spec: super::TrialSpec,
) -> (NodeIndex, NodeIndex) {
    let trial = dag.add_node(Node {
        slot: Some(index),
        id: NodeId::new(What::Trial).in_slot(slot),
        summary: super::trial::summary(plan, &spec),
        kind: NodeKind::Trial,
        hash: super::trial::trial_hash(dag, config, &spec),
        payload: Payload::Trial(Arc::new(spec)),
    });
    dag.add_edge(head, trial, ());
    let mut add = |mut node: Node, before: &[NodeIndex]| {
        node.slot = Some(index);
        node.id = node.id.in_slot(slot);
        let n = dag.add_node(node);
        dag.add_edge(trial, n, ());
        for &b in before {
            dag.add_edge(b, n, ());
        }
        n
    };
    let collects: Vec<NodeIndex> = plan
        .collects
        .iter()
        .enumerate()
        .map(|(i, c)| add(super::trial::collect_node(i, c), &[]))
        .collect();
    let analyses: Vec<NodeIndex> = plan
        .analyses
        .iter()
        .enumerate()
        .map(|(i, a)| add(super::trial::analysis_node(i, a), &collects))
        .collect();
    let before: Vec<NodeIndex> = collects.iter().chain(&analyses).copied().collect();
    let report = add(super::trial::report_node(), &before);
    (trial, report)
}

/// `4 points × 5 repetitions (+1 warm-up each) = 24 trials, at least 2m`.
fn summary(plan: &Plan, spec: &SeriesSpec) -> String {
    let per_point = spec.repeat + spec.discard;
    let trials = spec.points.len() * per_point;
    let lead = plan
        .tests
        .iter()
        .map(|t| match t.at {
            At::Offset(d) => d.as_secs_f64(),
            At::Epoch(_) => 0.0,
        })
        .fold(0.0, f64::max)
        + 1.0;
    let least = std::time::Duration::from_secs((lead * trials as f64).ceil() as u64);
    let warm = match spec.discard {
        0 => String::new(),
        n => format!(" (+{} each)", crate::style::plural(n, "warm-up")),
    };
    format!(
        "{} × {}{warm} = {}, at least {} of start offsets alone",
        crate::style::plural(spec.points.len(), "point"),
        crate::style::plural(spec.repeat, "repetition"),
        crate::style::plural(trials, "trial"),
        humantime::format_duration(least)
    )
}

/// Splitmix64: a stable, seedable generator (the order must be the same
/// from the same seed in every version).
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The slots' run order: rounds of every point once (warm-up rounds
/// first), each round shuffled from `seed` and its number when shuffled.
pub fn run_order(spec: &SeriesSpec, order: SeriesOrder, seed: u64) -> Vec<usize> {
    let per_point = spec.discard + spec.repeat;
    let mut out = Vec::with_capacity(spec.slots.len());
    for round in 0..per_point {
        let mut points: Vec<usize> = (0..spec.points.len()).collect();
        if order == SeriesOrder::Shuffled {
            let mut state = seed ^ (round as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93);
            for i in (1..points.len()).rev() {
                let j = (next(&mut state) % (i as u64 + 1)) as usize;
                points.swap(i, j);
            }
        }
        out.extend(points.into_iter().map(|p| p * per_point + round));
    }
    out
}

impl super::Graph {
    /// The series, if the plan has one.
    pub fn series(&self) -> Option<&SeriesSpec> {
        self.dag.node_weights().find_map(|n| match &n.payload {
            Payload::Series(s) => Some(s.as_ref()),
            _ => None,
        })
    }

    /// Orders the series' trials from `seed`: each runs after the one
    /// before it is done (its report written).
    /// How many trials a series of this plan runs (warm-ups included).
    pub fn series_trials(&self) -> usize {
        self.dag
            .node_indices()
            .find_map(|i| match &self.dag[i].payload {
                Payload::Series(spec) => Some(spec.points.len() * (spec.repeat + spec.discard)),
                _ => None,
            })
            .unwrap_or(0)
    }

    pub fn order_series(&mut self, seed: u64) {
        let Some(order) = self.plan.series.as_ref().map(|s| s.order) else {
            return;
        };
        let Some(head) = self
            .dag
            .node_indices()
            .find(|&i| self.dag[i].kind == NodeKind::Series)
        else {
            return;
        };
        let Payload::Series(spec) = &mut self.dag[head].payload else {
            return;
        };
        let spec = Arc::make_mut(spec);
        spec.seed = seed;
        spec.order = run_order(spec, order, seed);
        let chain: Vec<(NodeIndex, NodeIndex)> = spec
            .order
            .windows(2)
            .map(|w| (spec.slots[w[0]].last, spec.slots[w[1]].trial))
            .collect();
        let lasts: std::collections::HashSet<NodeIndex> =
            spec.slots.iter().map(|s| s.last).collect();
        let trials: std::collections::HashSet<NodeIndex> =
            spec.slots.iter().map(|s| s.trial).collect();
        // An order set before is replaced.
        self.dag.retain_edges(|g, e| {
            g.edge_endpoints(e)
                .is_none_or(|(a, b)| !(lasts.contains(&a) && trials.contains(&b)))
        });
        for (a, b) in chain {
            self.dag.update_edge(a, b, ());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(points: usize, repeat: usize, discard: usize) -> SeriesSpec {
        SeriesSpec {
            points: (0..points)
                .map(|i| Point {
                    label: format!("p={i}"),
                    vars: Vars::new(),
                })
                .collect(),
            slots: Vec::new(),
            repeat,
            discard,
            ..SeriesSpec::default()
        }
    }

    #[test]
    fn every_round_runs_each_point_once_and_the_seed_decides_the_shuffle() {
        let s = spec(4, 3, 1);
        let a = run_order(&s, SeriesOrder::Shuffled, 7);
        assert_eq!(a.len(), 16);
        for round in a.chunks(4) {
            let mut points: Vec<usize> = round.iter().map(|i| i / 4).collect();
            points.sort_unstable();
            assert_eq!(points, [0, 1, 2, 3]);
        }
        // The warm-up round first: slot index % 4 == 0 is each point's warm-up.
        assert!(a[..4].iter().all(|i| i % 4 == 0));
        assert_eq!(a, run_order(&s, SeriesOrder::Shuffled, 7));
        assert_ne!(a, run_order(&s, SeriesOrder::Shuffled, 8));
        let in_order = run_order(&s, SeriesOrder::InOrder, 7);
        assert_eq!(&in_order[..4], [0, 4, 8, 12]);
        // Raising `repeat` keeps the rounds already there.
        let more = run_order(&spec(4, 5, 1), SeriesOrder::Shuffled, 7);
        let slot = |i: usize, per: usize| (i / per, i % per);
        let first: Vec<_> = a.iter().map(|&i| slot(i, 4)).collect();
        let again: Vec<_> = more[..16].iter().map(|&i| slot(i, 6)).collect();
        assert_eq!(first, again);
    }

    #[test]
    fn points_are_the_product_first_var_slowest() {
        let series = Series {
            repeat: 1,
            discard: 0,
            order: SeriesOrder::Shuffled,
            vars: vec![
                ("streams".into(), vec![1.into(), 2.into()]),
                ("protocol".into(), vec!["tcp".into(), "udp".into()]),
            ],
        };
        let labels: Vec<String> = points(&series).into_iter().map(|p| p.label).collect();
        assert_eq!(
            labels,
            [
                "streams=1,protocol=tcp",
                "streams=1,protocol=udp",
                "streams=2,protocol=tcp",
                "streams=2,protocol=udp"
            ]
        );
    }
}
