//! Step nodes: one per (step, host). What a step sends is the same bytes on
//! every host (hashed once) or a template rendered per host. A host's steps
//! run in file order after the host; `after = ["x"]` makes a step wait for
//! `x` on every host through one barrier node (N + M edges, not N × M).

use std::collections::HashMap;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::context::Contexts;
use super::markers::deferred_refs;
use super::{Node, NodeId, NodeKind, Payload, What};
use crate::diag::Diagnostic;
use crate::hash::Hasher;
use crate::plan::{Action, Plan, Step};
use crate::template::Template;

/// Adds every step's node on each of its hosts; the nodes, by step.
pub(super) fn add(
    plan: &Plan,
    contexts: &Contexts,
    host_nodes: &HashMap<String, NodeIndex>,
    dag: &mut DiGraph<Node, ()>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Vec<NodeIndex>> {
    let mut step_nodes: Vec<Vec<NodeIndex>> = Vec::with_capacity(plan.steps.len());
    let mut last_on_host: HashMap<&str, NodeIndex> = HashMap::new();
    for (si, step) in plan.steps.iter().enumerate() {
        let step_name: std::sync::Arc<str> = step.name.as_str().into();
        let sends = match Sends::of(step) {
            Ok(s) => s,
            Err(e) => {
                diags.push(template_error(step, &e, None));
                continue;
            }
        };
        let mut nodes = Vec::with_capacity(step.hosts.len());
        for host_name in &step.hosts {
            let (payload, hash) = match sends.on(contexts, host_name) {
                Some(Ok(p)) => p,
                Some(Err(e)) => {
                    diags.push(template_error(step, &e, Some(host_name)));
                    break;
                }
                None => continue,
            };
            // The host's name as its node holds it: shared, not copied.
            let host_node = host_nodes.get(host_name).copied();
            let id = match host_node.and_then(|h| dag[h].id.host_name().cloned()) {
                Some(shared) => NodeId::shared_step(&step_name, &shared),
                None => NodeId::shared_step(&step_name, &host_name.as_str().into()),
            };
            let idx = dag.add_node(Node {
                slot: None,
                id,
                summary: String::new(),
                kind: NodeKind::Step { step: si },
                hash,
                payload,
            });
            if let Some(h) = host_node {
                dag.add_edge(h, idx, ());
            }
            // A step that uses another host's address runs after that host exists.
            for other in deferred_refs(&dag[idx].payload) {
                if let Some(&h) = host_nodes.get(&other) {
                    dag.update_edge(h, idx, ());
                }
            }
            if let Some(prev) = last_on_host.insert(host_name.as_str(), idx) {
                dag.add_edge(prev, idx, ());
            }
            nodes.push(idx);
        }
        step_nodes.push(nodes);
    }
    step_nodes
}

/// What a step sends.
enum Sends {
    /// The same on every host, with its hash.
    Same(Payload, String),
    /// A `run` command rendered per host.
    Run(Template),
    /// A template file rendered per host, written to `dest`.
    File(Template, String),
}

impl Sends {
    fn of(step: &Step) -> Result<Sends, String> {
        Ok(match &step.action {
            Action::Run { command } if crate::template::is_template(command) => {
                Sends::Run(Template::new("run", command)?)
            }
            Action::Run { command } => Sends::Same(
                Payload::Run {
                    command: command.clone(),
                },
                Hasher::default().part("run", command.as_bytes()).finish(),
            ),
            Action::Template {
                name, text, dest, ..
            } => Sends::File(Template::new(name, text)?, dest.clone()),
            Action::Upload { bytes, dest, .. } => Sends::Same(
                Payload::Write {
                    bytes: bytes.clone(),
                    dest: dest.clone(),
                    rendered: false,
                },
                Hasher::default()
                    .part("upload", bytes)
                    .part("dest", dest.as_bytes())
                    .finish(),
            ),
        })
    }

    /// The payload and hash on `host` (`None`: not a host of the plan).
    fn on(&self, contexts: &Contexts, host: &str) -> Option<Result<(Payload, String), String>> {
        let rendered = |t: &Template| {
            let spec = contexts.specs.get(host)?;
            Some(t.render(&contexts.of_host(spec)))
        };
        Some(match self {
            Sends::Same(payload, hash) => Ok((payload.clone(), hash.clone())),
            Sends::Run(t) => rendered(t)?.map(|out| {
                let hash = Hasher::default().part("run", out.as_bytes()).finish();
                (Payload::Run { command: out }, hash)
            }),
            Sends::File(t, dest) => rendered(t)?.map(|out| {
                let hash = Hasher::default()
                    .part("template", out.as_bytes())
                    .part("dest", dest.as_bytes())
                    .finish();
                let payload = Payload::Write {
                    bytes: std::sync::Arc::new(out.into_bytes()),
                    dest: dest.clone(),
                    rendered: true,
                };
                (payload, hash)
            }),
        })
    }
}

/// `after = ["x"]`: every node of `x` → one barrier → every node of the step.
pub(super) fn add_barriers(
    plan: &Plan,
    step_nodes: &[Vec<NodeIndex>],
    dag: &mut DiGraph<Node, ()>,
) {
    let mut barriers: HashMap<usize, NodeIndex> = HashMap::new();
    for (si, step) in plan.steps.iter().enumerate() {
        for dep in &step.after {
            let Some(di) = plan.steps.iter().position(|s| &s.name == dep) else {
                continue;
            };
            if di >= step_nodes.len() || si >= step_nodes.len() {
                continue;
            }
            let barrier = *barriers.entry(di).or_insert_with(|| {
                let b = dag.add_node(Node {
                    slot: None,
                    id: NodeId::new(What::Barrier { step: dep.clone() }),
                    summary: String::new(),
                    kind: NodeKind::Barrier { step: di },
                    hash: String::new(),
                    payload: Payload::None,
                });
                for &from in &step_nodes[di] {
                    dag.add_edge(from, b, ());
                }
                b
            });
            for &to in &step_nodes[si] {
                dag.update_edge(barrier, to, ());
            }
        }
    }
}

fn template_error(step: &Step, e: &str, host: Option<&String>) -> Diagnostic {
    let what = if step.action.kind() == "run" {
        "`run` of step"
    } else {
        "template of step"
    };
    let on = host.map_or(String::new(), |h| format!(" for host `{h}`"));
    Diagnostic::at(
        format!("{what} `{}` fails{on}: {e}", step.name),
        step.action_span.clone(),
    )
    .help(
        "template variables are `host` (name, group, index, address), `groups` and `vars`; a name that is not defined is an error; a literal `{{`, `{%` or `{#` (as in shell's `${#x}`) is written `{{ \"{{\" }}`, `{{ \"{%\" }}`, `{{ \"{#\" }}`",
    )
}

/// Cycles among steps (file order on a shared host plus `after`), each named.
pub(super) fn check_cycles(plan: &Plan, diags: &mut Vec<Diagnostic>) {
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
