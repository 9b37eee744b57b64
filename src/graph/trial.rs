//! The trial's nodes: the trial itself (after every host and step), a node
//! per test, collect and analysis, the checks, and the HTML report last.
//! Monitors and tests are rendered per host here (`out` and `trial` as
//! placeholders until the trial has an id). The trial's hash covers what
//! it runs and the configuration of the hosts it runs on.

use petgraph::graph::{DiGraph, NodeIndex};

use super::context::Contexts;
use super::{Armed, Node, NodeId, NodeKind, Payload, TRIAL_ID, TrialSpec, What, hosts_summary};
use crate::diag::Diagnostic;
use crate::hash::Hasher;
use crate::plan::Plan;
use crate::plan::model::{Analysis, At};
use crate::template::Template;

/// A monitor or a test, as the trial renders it.
struct Section<'p> {
    kind: &'static str,
    name: &'p str,
    hosts: &'p [String],
    run: &'p str,
    span: &'p std::ops::Range<usize>,
    at: Option<At>,
    timeout: std::time::Duration,
}

/// Renders every monitor and test per host.
pub(super) fn spec(plan: &Plan, contexts: &Contexts, diags: &mut Vec<Diagnostic>) -> TrialSpec {
    let monitors = plan.monitors.iter().map(|m| Section {
        kind: "monitor",
        name: &m.name,
        hosts: &m.hosts,
        run: &m.run,
        span: &m.run_span,
        at: None,
        timeout: m.stop_timeout,
    });
    let tests = plan.tests.iter().map(|t| Section {
        kind: "test",
        name: &t.name,
        hosts: &t.hosts,
        run: &t.run,
        span: &t.run_span,
        at: Some(t.at),
        timeout: t.timeout,
    });
    let mut spec = TrialSpec::default();
    for section in monitors.chain(tests) {
        render(&section, contexts, &mut spec, diags);
    }
    spec
}

/// One section on each of its hosts, into `spec`.
fn render(s: &Section, contexts: &Contexts, spec: &mut TrialSpec, diags: &mut Vec<Diagnostic>) {
    let t = match Template::new("run", s.run) {
        Ok(t) => t,
        Err(e) => {
            diags.push(run_error(s, None, &e));
            return;
        }
    };
    for host in s.hosts {
        let Some(h) = contexts.specs.get(host.as_str()) else {
            continue;
        };
        let ctx = minijinja::context! {
            out => crate::paths::out_dir(TRIAL_ID, host, s.name),
            trial => TRIAL_ID,
            ..contexts.of_host(h)
        };
        let command = match t.render(&ctx) {
            Ok(command) => command,
            Err(e) => {
                diags.push(run_error(s, Some(host), &e));
                return;
            }
        };
        let armed = Armed {
            name: s.name.to_string(),
            host: host.clone(),
            command,
            at: s.at,
            timeout: s.timeout,
        };
        if s.kind == "test" {
            spec.tests.push(armed);
        } else {
            spec.monitors.push(armed);
        }
        if !spec.hosts.contains(host) {
            spec.hosts.push(host.clone());
        }
    }
}

fn run_error(s: &Section, host: Option<&String>, e: &str) -> Diagnostic {
    let on = host.map_or(String::new(), |h| format!(" for host `{h}`"));
    Diagnostic::at(
        format!("`run` of {} `{}` fails{on}: {e}", s.kind, s.name),
        s.span.clone(),
    )
    .help(
        "template variables are `host`, `groups`, `vars`, `out` (this one's output folder), `trial`, and in a series `series` (`point`, `repetition`, `warmup`); a name that is not defined is an error; a literal `{{` is written `{{ \"{{\" }}`",
    )
}

/// Adds the trial and the nodes after it.
pub(super) fn add(plan: &Plan, dag: &mut DiGraph<Node, ()>, spec: TrialSpec) {
    let config: Vec<NodeIndex> = dag
        .node_indices()
        .filter(|&i| matches!(dag[i].kind, NodeKind::Host | NodeKind::Step { .. }))
        .collect();
    let trial = dag.add_node(Node {
        slot: None,
        id: NodeId::new(What::Trial),
        summary: summary(plan, &spec),
        kind: NodeKind::Trial,
        hash: trial_hash(dag, &config, &spec),
        payload: Payload::Trial(std::sync::Arc::new(spec)),
    });
    for i in config {
        dag.add_edge(i, trial, ());
    }
    let mut after = |node: Node, before: &[NodeIndex]| {
        let n = dag.add_node(node);
        dag.add_edge(trial, n, ());
        for &b in before {
            dag.add_edge(b, n, ());
        }
        n
    };
    for (i, t) in plan.tests.iter().enumerate() {
        after(test_node(i, t), &[]);
    }
    let collects: Vec<NodeIndex> = plan
        .collects
        .iter()
        .enumerate()
        .map(|(i, c)| after(collect_node(i, c), &[]))
        .collect();
    let analyses: Vec<NodeIndex> = plan
        .analyses
        .iter()
        .enumerate()
        .map(|(i, a)| after(analysis_node(i, a), &collects))
        .collect();
    let mut last = analyses.clone();
    if !plan.checks.is_empty() {
        last.push(after(checks_node(plan), &analyses));
    }
    // The report reads everything the trial made: last.
    let before: Vec<NodeIndex> = collects.iter().chain(&last).copied().collect();
    after(report_node(), &before);
}

/// What the trial runs, and the configuration of its hosts.
pub(super) fn trial_hash(
    dag: &DiGraph<Node, ()>,
    config: &[NodeIndex],
    spec: &TrialSpec,
) -> String {
    let mut hasher = Hasher::default();
    for a in spec.monitors.iter().chain(&spec.tests) {
        hasher = hasher
            .part("name", a.name.as_bytes())
            .part("host", a.host.as_bytes())
            .part("command", a.command.as_bytes())
            .part("at", a.at.map(|t| t.show()).unwrap_or_default().as_bytes())
            .part("timeout", &a.timeout.as_millis().to_le_bytes());
    }
    for &i in config {
        if spec.hosts.iter().any(|h| h == dag[i].host()) {
            hasher = hasher
                .part("config", dag[i].id.key().as_bytes())
                .part("hash", dag[i].hash.as_bytes());
        }
    }
    hasher.finish()
}

/// `tests tcp, udp on 3 hosts; monitors dstat on 1 host`.
pub(super) fn summary(plan: &Plan, spec: &TrialSpec) -> String {
    let count = |items: &[Armed]| {
        let mut hosts: Vec<&str> = items.iter().map(|a| a.host.as_str()).collect();
        hosts.sort_unstable();
        hosts.dedup();
        crate::style::plural(hosts.len(), "host")
    };
    let tests: Vec<&str> = plan.tests.iter().map(|t| t.name.as_str()).collect();
    let monitors: Vec<&str> = plan.monitors.iter().map(|m| m.name.as_str()).collect();
    let mut parts = Vec::new();
    if !tests.is_empty() {
        parts.push(format!(
            "tests {} on {}",
            tests.join(", "),
            count(&spec.tests)
        ));
    }
    if !monitors.is_empty() {
        parts.push(format!(
            "monitors {} on {}",
            monitors.join(", "),
            count(&spec.monitors)
        ));
    }
    parts.join("; ")
}

fn test_node(i: usize, t: &crate::plan::model::Test) -> Node {
    Node {
        slot: None,
        id: NodeId::new(What::Test {
            test: t.name.clone(),
        }),
        summary: format!("{} at {}", hosts_summary(&t.hosts), t.at.show()),
        kind: NodeKind::Test { test: i },
        hash: Hasher::default().part("test", t.name.as_bytes()).finish(),
        payload: Payload::None,
    }
}

pub(super) fn collect_node(i: usize, c: &crate::plan::model::Collect) -> Node {
    let mut h = Hasher::default().part("collect", c.name.as_bytes());
    for f in &c.files {
        h = h.part("file", f.as_bytes());
    }
    for host in &c.hosts {
        h = h.part("host", host.as_bytes());
    }
    Node {
        slot: None,
        id: NodeId::new(What::Collect {
            collect: c.name.clone(),
        }),
        summary: hosts_summary(&c.hosts),
        kind: NodeKind::Collect { collect: i },
        hash: h.finish(),
        payload: Payload::None,
    }
}

pub(super) fn analysis_node(i: usize, a: &Analysis) -> Node {
    Node {
        slot: None,
        id: NodeId::new(What::Analyze {
            analysis: a.name.clone(),
        }),
        summary: a.parser.name().to_string(),
        kind: NodeKind::Analyze { analysis: i },
        hash: analysis_hash(a),
        payload: Payload::None,
    }
}

pub(super) fn checks_node(plan: &Plan) -> Node {
    let mut h = Hasher::default();
    for c in &plan.checks {
        h = h.part("check", format!("{c:?}").as_bytes());
    }
    Node {
        slot: None,
        id: NodeId::new(What::Checks),
        summary: crate::style::plural(plan.checks.len(), "check"),
        kind: NodeKind::Checks,
        hash: h.finish(),
        payload: Payload::None,
    }
}

pub(super) fn report_node() -> Node {
    Node {
        slot: None,
        id: NodeId::new(What::Report),
        summary: "report.html".to_string(),
        kind: NodeKind::HtmlReport,
        hash: Hasher::default().part("report", b"1").finish(),
        payload: Payload::None,
    }
}

pub(super) fn analysis_hash(a: &Analysis) -> String {
    let mut h = Hasher::default()
        .part("name", a.name.as_bytes())
        .part("parser", a.parser.name().as_bytes());
    for f in &a.files {
        h = h.part("file", f.as_bytes());
    }
    for b in &a.by {
        h = h.part("by", format!("{b:?}").as_bytes());
    }
    for f in &a.formats {
        h = h.part("format", f.extension().as_bytes());
    }
    // Every option, whatever the parser: a new option is hashed without
    // anyone remembering to.
    for (name, value) in &a.options.values {
        h = h
            .part("option", name.as_bytes())
            .part("value", value.shown().as_bytes());
    }
    // How a series shows it (when asked: plans without it keep their
    // hashes), and the project's own templates.
    if a.shown != crate::plan::model::Shown::default() {
        h = h.part("shown", format!("{:?}", a.shown).as_bytes());
    }
    for (name, text) in &a.templates {
        h = h
            .part("template", name.as_bytes())
            .part("text", text.as_bytes());
    }
    h.finish()
}
