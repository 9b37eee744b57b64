//! `Plan` → `Graph`: one node per host (provision) and per (step, host), a
//! trial, and a node per test, collect, analysis, the checks and the HTML
//! report, each with a content hash. One file per kind: `hosts`, `steps`
//! (edges: a host before its steps; a host's steps in file order; `after =
//! ["x"]` makes a step wait for `x` on every host, through one barrier
//! node), `trial`. Templates (and templated `run` commands) are rendered
//! here, per host (`context`), so that their output is what the hash
//! covers; addresses known only after apply are `markers`. No I/O.

mod context;
mod hosts;
mod markers;
mod publish;
pub mod series;
mod steps;
mod trial;

use std::fmt::Write as _;

use petgraph::graph::DiGraph;

use crate::diag::Diagnostic;
use crate::plan::Plan;
pub use crate::state::id::{NodeId, SlotId, What};
pub use markers::{KNOWN_AFTER_APPLY, Unknown, deferred_refs, effective_hash, resolve};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// Provision one host.
    Host,
    /// Run step number `step` (index into `plan.steps`) on one host.
    Step { step: usize },
    /// Done when step number `step` is done on every host (`after`); not
    /// a change, never in the state.
    Barrier { step: usize },
    /// A trial: monitors started, tests armed, waited for, outputs fetched.
    Trial,
    /// Test number `test`: its results in the trial (done by the trial).
    Test { test: usize },
    /// `[[collect]]` number `collect`, into the latest trial.
    Collect { collect: usize },
    /// `[[analyze]]` number `analysis`, on the latest trial.
    Analyze { analysis: usize },
    /// Every `[[check]]`, evaluated on the latest trial's tables.
    Checks,
    /// The trial's `report.html`, after everything else of the trial.
    HtmlReport,
    /// A series: its folder and `series.json`, before its first trial.
    Series,
    /// `[[analyze]]` number `analysis` over every trial of the series.
    SeriesAnalyze { analysis: usize },
    /// Every `[[check]]` on the series' tables.
    SeriesChecks,
    /// The series' `report.html`, last.
    SeriesReport,
    /// `[[publish]]` number `publish`: the latest trial's or series'
    /// tables on a page, after its report.
    Publish { publish: usize },
}

/// What a trial runs, rendered per host. `out` and `trial` in commands are
/// [`TRIAL_ID`] placeholders until the trial has an id (see [`fill`]).
#[derive(Debug, Clone, Default)]
pub struct TrialSpec {
    pub monitors: Vec<Armed>,
    pub tests: Vec<Armed>,
    /// Every host a monitor or test runs on, in plan order.
    pub hosts: Vec<String>,
}

/// One monitor or test on one host.
#[derive(Debug, Clone)]
pub struct Armed {
    pub name: String,
    pub host: String,
    pub command: String,
    /// Tests: when to start. Monitors: `None`.
    pub at: Option<crate::plan::model::At>,
    /// Tests: how long they may run. Monitors: grace between TERM and KILL.
    pub timeout: std::time::Duration,
}

/// Stands for the trial id in rendered commands until the trial has one.
pub const TRIAL_ID: &str = "@@runner-trial-id@@";

/// A rendered command with the trial id filled in.
pub fn fill(command: &str, trial: &str) -> String {
    command.replace(TRIAL_ID, trial)
}

#[derive(Debug, Clone)]
pub struct Node {
    /// Stable identity; its text is the key in the state.
    pub id: NodeId,
    /// What it does, for people (`tests tcp on 3 hosts`, `3 checks`).
    pub summary: String,
    pub kind: NodeKind,
    pub hash: String,
    /// What the step sends: the command, the rendered template, the file bytes.
    pub payload: Payload,
    /// A series' trial and its nodes: the slot (index into the series'
    /// slots) whose trial they belong to.
    pub slot: Option<usize>,
}

#[derive(Debug, Clone)]
pub enum Payload {
    None,
    Run {
        command: String,
    },
    /// Upload bytes are shared by every host's node, not copied.
    Write {
        bytes: std::sync::Arc<Vec<u8>>,
        dest: String,
        /// A rendered template, which may hold addresses known after
        /// apply; an `upload` is sent as it is (and may be binary).
        rendered: bool,
    },
    Trial(std::sync::Arc<TrialSpec>),
    Series(std::sync::Arc<series::SeriesSpec>),
}

#[derive(Debug)]
pub struct Graph {
    pub plan: Plan,
    pub dag: DiGraph<Node, ()>,
}

impl Node {
    /// The host a host's or a step's node is for (`""` for the others).
    pub fn host(&self) -> &str {
        match self.id.what() {
            What::Host { host } | What::Step { host, .. } => host,
            _ => "",
        }
    }
}

/// The plan's graph, or every diagnostic found while rendering it.
pub fn compile(plan: Plan) -> Result<Graph, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    steps::check_cycles(&plan, &mut diags);
    series::check_steps(&plan, &mut diags);
    if !diags.is_empty() {
        return Err(diags);
    }
    let mut dag = DiGraph::new();
    let host_nodes = hosts::add(&plan, &mut dag);
    let contexts = context::Contexts::of(&plan);
    let step_nodes = steps::add(&plan, &contexts, &host_nodes, &mut dag, &mut diags);
    steps::add_barriers(&plan, &step_nodes, &mut dag);
    if plan.series.is_some() {
        series::add(&plan, &contexts, &mut dag, &mut diags);
    } else if !plan.tests.is_empty() || !plan.monitors.is_empty() {
        let spec = trial::spec(&plan, &contexts, &mut diags);
        trial::add(&plan, &mut dag, spec);
    }
    publish::add(&plan, &mut dag);
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(Graph { plan, dag })
}

/// `client[0..2], server[0]`: hosts of a group with consecutive indices as a range.
pub fn hosts_summary(hosts: &[String]) -> String {
    let mut parts: Vec<(String, usize, usize)> = Vec::new();
    for h in hosts {
        let parsed = h
            .strip_suffix(']')
            .and_then(|x| x.split_once('['))
            .and_then(|(g, i)| i.parse::<usize>().ok().map(|i| (g.to_string(), i)));
        match (parsed, parts.last_mut()) {
            (Some((g, i)), Some((lg, _, hi))) if *lg == g && *hi + 1 == i => *hi = i,
            (Some((g, i)), _) => parts.push((g, i, i)),
            (None, _) => parts.push((h.clone(), usize::MAX, usize::MAX)),
        }
    }
    parts
        .into_iter()
        .map(|(g, lo, hi)| match (lo, hi) {
            (usize::MAX, _) => g,
            (lo, hi) if lo == hi => format!("{g}[{lo}]"),
            (lo, hi) => format!("{g}[{lo}..{hi}]"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Graph {
    /// The DAG as Graphviz DOT.
    pub fn to_dot(&self) -> String {
        let mut out = format!(
            "digraph \"{}\" {{\n  rankdir=LR;\n",
            dot_escaped(&self.plan.name)
        );
        for i in self.dag.node_indices() {
            let n = &self.dag[i];
            let shape = match n.kind {
                NodeKind::Host => "box",
                NodeKind::Step { .. } => "ellipse",
                NodeKind::Barrier { .. } => "point",
                NodeKind::Trial | NodeKind::Series => "doubleoctagon",
                NodeKind::Test { .. }
                | NodeKind::Collect { .. }
                | NodeKind::Analyze { .. }
                | NodeKind::Checks
                | NodeKind::HtmlReport
                | NodeKind::SeriesAnalyze { .. }
                | NodeKind::SeriesChecks
                | NodeKind::SeriesReport => "note",
                NodeKind::Publish { .. } => "tab",
            };
            let _ = writeln!(
                out,
                "  n{} [label=\"{}\", shape={shape}];",
                i.index(),
                dot_escaped(n.id.key())
            );
        }
        for e in self.dag.raw_edges() {
            let _ = writeln!(out, "  n{} -> n{};", e.source().index(), e.target().index());
        }
        out.push_str("}\n");
        out
    }
}

/// Text inside a DOT double-quoted string: `"` and `\` escaped, line
/// breaks as `\n` (a step or host name may hold any of them).
fn dot_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}
