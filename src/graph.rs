//! `Plan` → `Graph`: one node per host (provision) and per (step, host), each
//! with a content hash. Edges: a host before its steps; a host's steps in file
//! order; `after = ["x"]` makes a step wait for `x` on every host, through one
//! barrier node. Templates (and templated `run` commands) are rendered here,
//! per host, so that their output is what the hash covers. No I/O.

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

pub const TRIAL_NODE: &str = "trial";

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
        /// A rendered template, which may hold addresses known after
        /// apply; an `upload` is sent as it is (and may be binary).
        rendered: bool,
    },
    Trial(std::sync::Arc<TrialSpec>),
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

/// The address a host is reached at: known before it is provisioned for
/// local and static hosts; for EC2 a marker that stands for it until the
/// host exists ("known after apply").
fn address_of(plan: &Plan, host: &crate::plan::HostSpec, field: &str) -> String {
    match (&plan.provider, &host.fixed) {
        (Provider::Static, Some(f)) => f.address.clone(),
        (Provider::Ec2, _) => deferred(field, &host.name),
        _ => "127.0.0.1".to_string(),
    }
}

const MARK_OPEN: char = '\u{E000}';
const MARK_SEP: char = '\u{E002}';
const MARK_CLOSE: char = '\u{E001}';
/// How `runner plan` shows a value known only after apply.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// The marker for `field` (`address`, `private_address`) of `host`.
pub fn deferred(field: &str, host: &str) -> String {
    format!("{MARK_OPEN}{field}{MARK_SEP}{host}{MARK_CLOSE}")
}

/// The markers in `text`: (field, host), in order.
fn markers(text: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(MARK_OPEN) {
        let after = &rest[start + MARK_OPEN.len_utf8()..];
        let Some(end) = after.find(MARK_CLOSE) else {
            break;
        };
        if let Some((field, host)) = after[..end].split_once(MARK_SEP) {
            out.push((field, host));
        }
        rest = &after[end + MARK_CLOSE.len_utf8()..];
    }
    out
}

fn payload_texts(payload: &Payload) -> Vec<std::borrow::Cow<'_, str>> {
    match payload {
        Payload::None => Vec::new(),
        Payload::Run { command } => vec![command.as_str().into()],
        Payload::Write {
            bytes,
            rendered: true,
            ..
        } => vec![String::from_utf8_lossy(bytes)],
        Payload::Write { .. } => Vec::new(),
        Payload::Trial(spec) => spec
            .monitors
            .iter()
            .chain(&spec.tests)
            .map(|a| a.command.as_str().into())
            .collect(),
    }
}

/// The hosts whose addresses a node's payload uses before they are known.
pub fn deferred_refs(payload: &Payload) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for text in payload_texts(payload) {
        if !text.contains(MARK_OPEN) {
            continue;
        }
        for (_, host) in markers(&text) {
            if !out.iter().any(|h| h == host) {
                out.push(host.to_string());
            }
        }
    }
    out
}

fn field_of(h: &crate::state::HostState, field: &str) -> Option<String> {
    if h.status != crate::state::HostStatus::Ready {
        return None;
    }
    match field {
        "private_address" => h.ec2.as_ref().map(|e| e.private_address.clone()),
        _ => Some(h.address.clone()),
    }
}

/// An address a command names that is not known yet.
#[derive(Debug, thiserror::Error)]
#[error("the {field} of `{host}` is not known: the host is not provisioned")]
pub struct Unknown {
    pub field: String,
    pub host: String,
}

/// `text` with every marker replaced by the value the state records, or
/// an error naming the host whose address is not known.
pub fn resolve(
    text: &str,
    hosts: &std::collections::BTreeMap<String, crate::state::HostState>,
) -> Result<String, Unknown> {
    if !text.contains(MARK_OPEN) {
        return Ok(text.to_string());
    }
    let mut out = text.to_string();
    for (field, host) in markers(text) {
        let value = hosts
            .get(host)
            .and_then(|h| field_of(h, field))
            .ok_or_else(|| Unknown {
                field: field.to_string(),
                host: host.to_string(),
            })?;
        out = out.replace(&deferred(field, host), &value);
    }
    Ok(out)
}

/// The hash a node is recorded with: its own, plus the values its markers
/// stand for. `None` while one of them is not known.
pub fn effective_hash(
    node: &Node,
    hosts: &std::collections::BTreeMap<String, crate::state::HostState>,
) -> Option<String> {
    let mut hasher = Hasher::default().part("node", node.hash.as_bytes());
    let mut any = false;
    for text in payload_texts(&node.payload) {
        for (field, host) in markers(&text) {
            let value = hosts.get(host).and_then(|h| field_of(h, field))?;
            hasher = hasher.part(field, value.as_bytes());
            any = true;
        }
    }
    Some(if any {
        hasher.finish()
    } else {
        node.hash.clone()
    })
}

pub fn compile(plan: Plan) -> Result<Graph, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    check_cycles(&plan, &mut diags);
    if !diags.is_empty() {
        return Err(diags);
    }
    let mut dag = DiGraph::new();
    let mut host_nodes: HashMap<&str, NodeIndex> = HashMap::new();
    let host_json = |h: &crate::plan::HostSpec| {
        let mut v = serde_json::json!({"name": h.name, "group": h.group, "index": h.index, "address": address_of(&plan, h, "address")});
        if plan.provider == Provider::Ec2 {
            v["private_address"] = address_of(&plan, h, "private_address").into();
        }
        v
    };
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
            if let (Some(e), Some(c)) = (&h.ec2, &plan.ec2) {
                // What a launch asks for; not the expiry, which changes
                // nothing. The key decides who can log in: a new one needs
                // new instances.
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
    // Template contexts: `groups` and each group's `vars` built once, shared.
    let groups_value = crate::template::value(&&groups_json);
    let vars_by_group: HashMap<&str, minijinja::Value> = plan
        .groups
        .iter()
        .map(|g| {
            let mut vars = plan.vars.clone();
            vars.extend(g.vars.clone());
            (g.name.as_str(), crate::template::value(&&vars))
        })
        .collect();
    let context = |spec: &crate::plan::HostSpec| {
        minijinja::context! {
            host => crate::template::value(&host_json(spec)),
            groups => groups_value.clone(),
            vars => vars_by_group.get(spec.group.as_str()).cloned().unwrap_or_default(),
        }
    };
    let mut step_nodes: Vec<Vec<NodeIndex>> = Vec::with_capacity(plan.steps.len());
    let mut last_on_host: HashMap<&str, NodeIndex> = HashMap::new();
    for (si, step) in plan.steps.iter().enumerate() {
        let mut nodes = Vec::with_capacity(step.hosts.len());
        // What the step sends on each host: the same bytes everywhere
        // (hashed once), or a template rendered per host.
        let (template, dest, kind) = match &step.action {
            Action::Run { command } if crate::template::is_template(command) => (
                Some(crate::template::Template::new("run", command)),
                None,
                "run",
            ),
            Action::Template {
                name, text, dest, ..
            } => (
                Some(crate::template::Template::new(name, text)),
                Some(dest.clone()),
                "template",
            ),
            _ => (None, None, ""),
        };
        let template = match template {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                diags.push(template_error(step, &e, None));
                continue;
            }
            None => None,
        };
        let shared = match &step.action {
            Action::Run { command } if template.is_none() => Some((
                Payload::Run {
                    command: command.clone(),
                },
                Hasher::default().part("run", command.as_bytes()).finish(),
            )),
            Action::Upload { bytes, dest, .. } => Some((
                Payload::Write {
                    bytes: bytes.clone(),
                    dest: dest.clone(),
                    rendered: false,
                },
                Hasher::default()
                    .part("upload", bytes)
                    .part("dest", dest.as_bytes())
                    .finish(),
            )),
            _ => None,
        };
        for host_name in &step.hosts {
            let (payload, hash) = match (&shared, &template) {
                (Some((payload, hash)), _) => (payload.clone(), hash.clone()),
                (None, Some(t)) => {
                    let Some(spec) = specs.get(host_name.as_str()) else {
                        continue;
                    };
                    match t.render(&context(spec)) {
                        Ok(out) if kind == "run" => {
                            let hash = Hasher::default().part("run", out.as_bytes()).finish();
                            (Payload::Run { command: out }, hash)
                        }
                        Ok(out) => {
                            let dest = dest.clone().unwrap_or_default();
                            let hash = Hasher::default()
                                .part("template", out.as_bytes())
                                .part("dest", dest.as_bytes())
                                .finish();
                            (
                                Payload::Write {
                                    bytes: std::sync::Arc::new(out.into_bytes()),
                                    dest,
                                    rendered: true,
                                },
                                hash,
                            )
                        }
                        Err(e) => {
                            diags.push(template_error(step, &e, Some(host_name)));
                            break;
                        }
                    }
                }
                (None, None) => continue,
            };
            let idx = dag.add_node(Node {
                id: step_id(&step.name, host_name),
                host: host_name.clone(),
                kind: NodeKind::Step { step: si },
                hash,
                payload,
            });
            if let Some(&h) = host_nodes.get(host_name.as_str()) {
                dag.add_edge(h, idx, ());
            }
            // A step that uses another host's address runs after that host exists.
            for other in deferred_refs(&dag[idx].payload) {
                if let Some(&h) = host_nodes.get(other.as_str()) {
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
    // `after = ["x"]`: every node of `x` → one barrier → every node of the
    // step (N + M edges, not N × M).
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
                    id: format!("after {dep}"),
                    host: String::new(),
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
    if !plan.tests.is_empty() || !plan.monitors.is_empty() {
        let trial = trial_spec(&plan, &specs, &context, &mut diags);
        add_trial_nodes(&plan, &mut dag, trial);
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(Graph { plan, dag })
}

/// Renders every monitor and test per host (`out`, `trial` as placeholders).
fn trial_spec(
    plan: &Plan,
    specs: &HashMap<&str, &crate::plan::HostSpec>,
    context: &dyn Fn(&crate::plan::HostSpec) -> minijinja::Value,
    diags: &mut Vec<Diagnostic>,
) -> TrialSpec {
    let mut spec = TrialSpec::default();
    let sections = plan
        .monitors
        .iter()
        .map(|m| {
            (
                "monitor",
                &m.name,
                &m.hosts,
                &m.run,
                &m.run_span,
                None,
                m.stop_timeout,
            )
        })
        .chain(plan.tests.iter().map(|t| {
            (
                "test",
                &t.name,
                &t.hosts,
                &t.run,
                &t.run_span,
                Some(t.at),
                t.timeout,
            )
        }));
    for (kind, name, hosts, run, span, at, timeout) in sections {
        let t = match crate::template::Template::new("run", run) {
            Ok(t) => t,
            Err(e) => {
                diags.push(run_error(kind, name, None, &e, span));
                continue;
            }
        };
        for host in hosts {
            let Some(h) = specs.get(host.as_str()) else {
                continue;
            };
            let ctx = minijinja::context! {
                out => crate::paths::out_dir(TRIAL_ID, host, name),
                trial => TRIAL_ID,
                ..context(h)
            };
            match t.render(&ctx) {
                Ok(command) => {
                    let armed = Armed {
                        name: name.clone(),
                        host: host.clone(),
                        command,
                        at,
                        timeout,
                    };
                    if kind == "test" {
                        spec.tests.push(armed);
                    } else {
                        spec.monitors.push(armed);
                    }
                    if !spec.hosts.contains(host) {
                        spec.hosts.push(host.clone());
                    }
                }
                Err(e) => {
                    diags.push(run_error(kind, name, Some(host), &e, span));
                    break;
                }
            }
        }
    }
    spec
}

fn run_error(
    kind: &str,
    name: &str,
    host: Option<&String>,
    e: &str,
    span: &std::ops::Range<usize>,
) -> Diagnostic {
    let on = host.map_or(String::new(), |h| format!(" for host `{h}`"));
    Diagnostic::at(format!("`run` of {kind} `{name}` fails{on}: {e}"), span.clone()).help(
        "template variables are `host`, `groups`, `vars`, `out` (this one's output folder) and `trial`; a name that is not defined is an error; a literal `{{` is written `{{ \"{{\" }}`",
    )
}

/// The trial node (after every host and step), a node per test, collect
/// and analysis. The trial's hash covers what it runs and the
/// configuration of the hosts it runs on.
fn add_trial_nodes(plan: &Plan, dag: &mut DiGraph<Node, ()>, spec: TrialSpec) {
    let mut hasher = Hasher::default();
    for a in spec.monitors.iter().chain(&spec.tests) {
        hasher = hasher
            .part("name", a.name.as_bytes())
            .part("host", a.host.as_bytes())
            .part("command", a.command.as_bytes())
            .part("at", a.at.map(|t| t.show()).unwrap_or_default().as_bytes())
            .part("timeout", &a.timeout.as_millis().to_le_bytes());
    }
    let config: Vec<NodeIndex> = dag
        .node_indices()
        .filter(|&i| matches!(dag[i].kind, NodeKind::Host | NodeKind::Step { .. }))
        .collect();
    for &i in &config {
        if spec.hosts.contains(&dag[i].host) {
            hasher = hasher
                .part("config", dag[i].id.as_bytes())
                .part("hash", dag[i].hash.as_bytes());
        }
    }
    let summary = {
        let count = |items: &[Armed]| {
            let mut hosts: Vec<&str> = items.iter().map(|a| a.host.as_str()).collect();
            hosts.sort_unstable();
            hosts.dedup();
            match hosts.len() {
                1 => "1 host".to_string(),
                n => format!("{n} hosts"),
            }
        };
        let tests: Vec<&str> = plan.tests.iter().map(|t| t.name.as_str()).collect();
        let monitors: Vec<&str> = plan.monitors.iter().map(|m| m.name.as_str()).collect();
        let mut text = String::new();
        if !tests.is_empty() {
            text.push_str(&format!(
                "tests {} on {}",
                tests.join(", "),
                count(&spec.tests)
            ));
        }
        if !monitors.is_empty() {
            if !text.is_empty() {
                text.push_str("; ");
            }
            text.push_str(&format!(
                "monitors {} on {}",
                monitors.join(", "),
                count(&spec.monitors)
            ));
        }
        text
    };
    let trial = dag.add_node(Node {
        id: TRIAL_NODE.to_string(),
        host: summary,
        kind: NodeKind::Trial,
        hash: hasher.finish(),
        payload: Payload::Trial(std::sync::Arc::new(spec)),
    });
    for i in config {
        dag.add_edge(i, trial, ());
    }
    for (i, t) in plan.tests.iter().enumerate() {
        let hash = Hasher::default().part("test", t.name.as_bytes()).finish();
        let n = dag.add_node(Node {
            id: format!("test {}", t.name),
            host: format!("{} at {}", hosts_summary(&t.hosts), t.at.show()),
            kind: NodeKind::Test { test: i },
            hash,
            payload: Payload::None,
        });
        dag.add_edge(trial, n, ());
    }
    let mut collects = Vec::new();
    for (i, c) in plan.collects.iter().enumerate() {
        let mut h = Hasher::default().part("collect", c.name.as_bytes());
        for f in &c.files {
            h = h.part("file", f.as_bytes());
        }
        for host in &c.hosts {
            h = h.part("host", host.as_bytes());
        }
        let n = dag.add_node(Node {
            id: format!("collect {}", c.name),
            host: hosts_summary(&c.hosts),
            kind: NodeKind::Collect { collect: i },
            hash: h.finish(),
            payload: Payload::None,
        });
        dag.add_edge(trial, n, ());
        collects.push(n);
    }
    let mut analyses = Vec::new();
    for (i, a) in plan.analyses.iter().enumerate() {
        let n = dag.add_node(Node {
            id: format!("analyze {}", a.name),
            host: a.parser.name().to_string(),
            kind: NodeKind::Analyze { analysis: i },
            hash: analysis_hash(a),
            payload: Payload::None,
        });
        dag.add_edge(trial, n, ());
        for &c in &collects {
            dag.add_edge(c, n, ());
        }
        analyses.push(n);
    }
    let mut last = analyses.clone();
    if !plan.checks.is_empty() {
        let mut h = Hasher::default();
        for c in &plan.checks {
            h = h.part("check", format!("{c:?}").as_bytes());
        }
        let n = dag.add_node(Node {
            id: "checks".to_string(),
            host: match plan.checks.len() {
                1 => "1 check".to_string(),
                k => format!("{k} checks"),
            },
            kind: NodeKind::Checks,
            hash: h.finish(),
            payload: Payload::None,
        });
        dag.add_edge(trial, n, ());
        for &a in &analyses {
            dag.add_edge(a, n, ());
        }
        last.push(n);
    }
    // The report reads everything the trial made: last.
    let report = dag.add_node(Node {
        id: "report".to_string(),
        host: "report.html".to_string(),
        kind: NodeKind::HtmlReport,
        hash: Hasher::default().part("report", b"1").finish(),
        payload: Payload::None,
    });
    dag.add_edge(trial, report, ());
    for &c in &collects {
        dag.add_edge(c, report, ());
    }
    for n in last {
        dag.add_edge(n, report, ());
    }
}

fn analysis_hash(a: &crate::plan::model::Analysis) -> String {
    let mut h = Hasher::default()
        .part("name", a.name.as_bytes())
        .part("parser", a.parser.name().as_bytes())
        .part("unit", a.unit.as_bytes())
        .part("tag", a.tag.as_bytes());
    for f in &a.files {
        h = h.part("file", f.as_bytes());
    }
    for b in &a.by {
        h = h.part("by", format!("{b:?}").as_bytes());
    }
    for f in &a.formats {
        h = h.part("format", f.extension().as_bytes());
    }
    for c in &a.columns {
        h = h.part("column", c.as_bytes());
    }
    h.finish()
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

fn template_error(step: &crate::plan::Step, e: &str, host: Option<&String>) -> Diagnostic {
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
            let shape = match n.kind {
                NodeKind::Host => "box",
                NodeKind::Step { .. } => "ellipse",
                NodeKind::Barrier { .. } => "point",
                NodeKind::Trial => "doubleoctagon",
                NodeKind::Test { .. }
                | NodeKind::Collect { .. }
                | NodeKind::Analyze { .. }
                | NodeKind::Checks
                | NodeKind::HtmlReport => "note",
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
