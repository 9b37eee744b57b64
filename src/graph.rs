//! `Plan` → `Graph`: one node per host (provision) and per (step, host), each
//! with a content hash. Edges: a host before its steps; a host's steps in file
//! order; `after = ["x"]` makes a step wait for `x` on every host.
//! Templates are rendered here, per host, so that their output is what the
//! hash covers. No I/O.

use std::collections::HashMap;
use std::fmt::Write as _;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::diag::Diagnostic;
use crate::hash::Hasher;
use crate::plan::{Action, Plan, Provider};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// Provision one host.
    Host,
    /// Run step number `step` (index into `plan.steps`) on one host.
    Step { step: usize },
}

#[derive(Debug, Clone)]
pub struct Node {
    /// Stable identity, the key in the state: `host client[0]`, `step conf client[0]`.
    pub id: String,
    pub host: String,
    pub kind: NodeKind,
    pub hash: String,
    /// What the step sends: the command, the rendered template, the file bytes.
    pub payload: Payload,
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
    },
}

#[derive(Debug)]
pub struct Graph {
    pub plan: Plan,
    pub dag: DiGraph<Node, ()>,
}

pub fn host_id(host: &str) -> String {
    format!("host {host}")
}

pub fn step_id(step: &str, host: &str) -> String {
    format!("step {step} {host}")
}

/// The address a host is reached at, known before it is provisioned for
/// the providers of this version.
fn address_of(plan: &Plan, host: &crate::plan::HostSpec) -> String {
    match (&plan.provider, &host.fixed) {
        (Provider::Static, Some(f)) => f.address.clone(),
        _ => "127.0.0.1".to_string(),
    }
}

pub fn compile(plan: Plan) -> Result<Graph, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    check_cycles(&plan, &mut diags);
    if !diags.is_empty() {
        return Err(diags);
    }
    let mut dag = DiGraph::new();
    let mut host_nodes: HashMap<&str, NodeIndex> = HashMap::new();
    let host_json = |h: &crate::plan::HostSpec| serde_json::json!({"name": h.name, "group": h.group, "index": h.index, "address": address_of(&plan, h)});
    let groups_json: serde_json::Map<String, serde_json::Value> = plan
        .groups
        .iter()
        .map(|g| (g.name.clone(), g.hosts.iter().map(host_json).collect()))
        .collect();
    for group in &plan.groups {
        for h in &group.hosts {
            let mut hasher = Hasher::default().part("provider", plan.provider.name().as_bytes());
            if let Some(f) = &h.fixed {
                hasher = hasher.part("fixed", &serde_json::to_vec(f).unwrap_or_default());
            }
            if let Some(w) = &plan.workdir {
                hasher = hasher.part("workdir", w.as_bytes());
            }
            let idx = dag.add_node(Node {
                id: host_id(&h.name),
                host: h.name.clone(),
                kind: NodeKind::Host,
                hash: hasher.finish(),
                payload: Payload::None,
            });
            host_nodes.insert(h.name.as_str(), idx);
        }
    }
    let specs: HashMap<&str, &crate::plan::HostSpec> =
        plan.hosts().map(|h| (h.name.as_str(), h)).collect();
    let mut step_nodes: Vec<Vec<NodeIndex>> = Vec::with_capacity(plan.steps.len());
    let mut last_on_host: HashMap<&str, NodeIndex> = HashMap::new();
    for (si, step) in plan.steps.iter().enumerate() {
        let mut nodes = Vec::with_capacity(step.hosts.len());
        // Uploads and commands are the same on every host: hash them once.
        let shared_hash = match &step.action {
            Action::Run { command } => {
                Some(Hasher::default().part("run", command.as_bytes()).finish())
            }
            Action::Upload { bytes, dest, .. } => Some(
                Hasher::default()
                    .part("upload", bytes)
                    .part("dest", dest.as_bytes())
                    .finish(),
            ),
            Action::Template { .. } => None,
        };
        for host_name in &step.hosts {
            let (payload, hash) = match &step.action {
                Action::Run { command } => (
                    Payload::Run {
                        command: command.clone(),
                    },
                    shared_hash.clone(),
                ),
                Action::Upload { bytes, dest, .. } => (
                    Payload::Write {
                        bytes: bytes.clone(),
                        dest: dest.clone(),
                    },
                    shared_hash.clone(),
                ),
                Action::Template {
                    name, text, dest, ..
                } => {
                    let Some(spec) = specs.get(host_name.as_str()) else {
                        continue;
                    };
                    let group = plan.groups.iter().find(|g| g.name == spec.group);
                    let mut vars = plan.vars.clone();
                    if let Some(g) = group {
                        vars.extend(g.vars.clone());
                    }
                    let ctx = serde_json::json!({"host": host_json(spec), "groups": groups_json, "vars": vars});
                    match crate::template::render(name, text, &ctx) {
                        Ok(out) => {
                            let hash = Hasher::default()
                                .part("template", out.as_bytes())
                                .part("dest", dest.as_bytes())
                                .finish();
                            (
                                Payload::Write {
                                    bytes: std::sync::Arc::new(out.into_bytes()),
                                    dest: dest.clone(),
                                },
                                Some(hash),
                            )
                        }
                        Err(e) => {
                            diags.push(
                                Diagnostic::at(format!("template of step `{}` fails for host `{host_name}`: {e}", step.name), step.action_span.clone())
                                    .help("template variables are `host`, `groups` and `vars`; names that are not defined are errors"),
                            );
                            break;
                        }
                    }
                }
            };
            let idx = dag.add_node(Node {
                id: step_id(&step.name, host_name),
                host: host_name.clone(),
                kind: NodeKind::Step { step: si },
                hash: hash.unwrap_or_default(),
                payload,
            });
            if let Some(&h) = host_nodes.get(host_name.as_str()) {
                dag.add_edge(h, idx, ());
            }
            if let Some(prev) = last_on_host.insert(host_name.as_str(), idx) {
                dag.add_edge(prev, idx, ());
            }
            nodes.push(idx);
        }
        step_nodes.push(nodes);
    }
    for (si, step) in plan.steps.iter().enumerate() {
        for dep in &step.after {
            if let Some(di) = plan.steps.iter().position(|s| &s.name == dep) {
                for &from in &step_nodes[di] {
                    for &to in &step_nodes[si] {
                        dag.update_edge(from, to, ());
                    }
                }
            }
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(Graph { plan, dag })
}

/// Cycles among steps (file order on a shared host plus `after`), each named.
fn check_cycles(plan: &Plan, diags: &mut Vec<Diagnostic>) {
    let mut g = DiGraph::<usize, ()>::new();
    let idx: Vec<NodeIndex> = (0..plan.steps.len()).map(|i| g.add_node(i)).collect();
    let mut last_on_host: HashMap<&str, usize> = HashMap::new();
    for (si, step) in plan.steps.iter().enumerate() {
        for h in &step.hosts {
            if let Some(prev) = last_on_host.insert(h.as_str(), si) {
                g.update_edge(idx[prev], idx[si], ());
            }
        }
        for dep in &step.after {
            if let Some(di) = plan.steps.iter().position(|s| &s.name == dep) {
                g.update_edge(idx[di], idx[si], ());
            }
        }
    }
    for scc in tarjan_scc(&g) {
        if scc.len() < 2 {
            continue;
        }
        let mut members: Vec<usize> = scc.iter().map(|n| g[*n]).collect();
        members.sort_unstable();
        let names: Vec<String> = members
            .iter()
            .map(|&i| format!("`{}`", plan.steps[i].name))
            .collect();
        // Point at the `after` entry that closes the loop.
        let span = members
            .iter()
            .flat_map(|&i| plan.steps[i].after.iter().zip(&plan.steps[i].after_spans))
            .find(|(a, _)| members.iter().any(|&m| &plan.steps[m].name == *a))
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| plan.steps[members[0]].span.clone());
        diags.push(
            Diagnostic::at(format!("dependency cycle between steps {}", names.join(", ")), span).help(
                "steps on a host run in file order; `after` must not point at a step that comes later on the same host",
            ),
        );
    }
}

impl Graph {
    /// The DAG as Graphviz DOT.
    pub fn to_dot(&self) -> String {
        let mut out = format!("digraph \"{}\" {{\n  rankdir=LR;\n", self.plan.name);
        for i in self.dag.node_indices() {
            let n = &self.dag[i];
            let shape = if n.kind == NodeKind::Host {
                "box"
            } else {
                "ellipse"
            };
            let _ = writeln!(out, "  n{} [label=\"{}\", shape={shape}];", i.index(), n.id);
        }
        for e in self.dag.raw_edges() {
            let _ = writeln!(out, "  n{} -> n{};", e.source().index(), e.target().index());
        }
        out.push_str("}\n");
        out
    }
}
