//! Plan text → `RawPlan`: the plan as typed, every value with its byte span.
//!
//! A hand-written walker over `toml::de::DeTable` rather than serde derive, so
//! that *every* structural problem (unknown key, wrong type, missing key) is
//! reported in one pass, each at its own location, with "did you mean".

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::Diagnostic;

/// A value and where it was written.
#[derive(Debug, Clone)]
pub struct Sp<T> {
    pub value: T,
    pub span: Range<usize>,
}

impl<T> Sp<T> {
    fn new(value: T, span: Range<usize>) -> Self {
        Sp { value, span }
    }
}

#[derive(Debug, Default)]
pub struct RawPlan {
    pub name: Option<Sp<String>>,
    pub provider: RawProvider,
    pub vars: serde_json::Map<String, serde_json::Value>,
    pub groups: Vec<RawGroup>,
    pub steps: Vec<RawStep>,
    pub monitors: Vec<RawMonitor>,
    pub tests: Vec<RawTest>,
    pub collects: Vec<RawCollect>,
    pub analyses: Vec<RawAnalysis>,
    pub checks: Vec<RawCheck>,
    pub series: Option<RawSeries>,
    pub monitoring: Option<RawMonitoring>,
    pub publishes: Vec<RawPublish>,
}

/// A `[[publish]]` section: the latest trial's or series' tables on a wiki
/// page (MediaWiki's API) or in a git repository's folder.
#[derive(Debug)]
pub struct RawPublish {
    pub span: Range<usize>,
    pub name: Option<Sp<String>>,
    pub page: Option<Sp<String>>,
    pub wiki: Option<Sp<String>>,
    pub git: Option<Sp<String>>,
    pub user: Option<Sp<String>>,
    pub password_env: Option<Sp<String>>,
    pub password_file: Option<Sp<String>>,
    pub section: Option<Sp<i64>>,
    pub summary: Option<Sp<String>>,
    pub template: Option<Sp<String>>,
    pub analyses: Option<Sp<Vec<Sp<String>>>>,
    pub overwrite: Option<Sp<bool>>,
}

/// `[monitoring]`: Prometheus on one host, node_exporter on the hosts it
/// scrapes (expanded into two monitors).
#[derive(Debug)]
pub struct RawMonitoring {
    pub span: Range<usize>,
    pub prometheus: Option<Sp<String>>,
    pub scrape: Option<Sp<Vec<Sp<String>>>>,
    pub interval: Option<Sp<String>>,
    pub port: Option<Sp<i64>>,
    pub retention: Option<Sp<String>>,
}

/// `[series]`: trials per point, warm-ups, order, and the swept vars.
#[derive(Debug)]
pub struct RawSeries {
    pub span: Range<usize>,
    pub repeat: Option<Sp<i64>>,
    pub discard: Option<Sp<i64>>,
    pub order: Option<Sp<String>>,
    /// `[series.vars]`: each a list of values, with its span and its items'.
    pub vars: Vec<(Sp<String>, Sp<Vec<SpValue>>)>,
}

/// A value as written, with its span.
pub type SpValue = Sp<serde_json::Value>;

/// A `[[check]]`: a figure of an analysis table held to a limit.
#[derive(Debug)]
pub struct RawCheck {
    pub span: Range<usize>,
    pub name: Option<Sp<String>>,
    pub table: Option<Sp<String>>,
    /// `row = { tag = "cql" }`: column → value.
    pub row: Vec<(Sp<String>, Sp<String>)>,
    pub column: Option<Sp<String>>,
    pub max: Option<Sp<String>>,
    pub min: Option<Sp<String>>,
    pub regression: Option<Sp<String>>,
    pub better: Option<Sp<String>>,
    pub baseline: Option<Sp<String>>,
    pub significance: Option<Sp<String>>,
    pub statistic: Option<Sp<String>>,
}

/// A `[[monitor]]`: a long-running command around a trial's tests.
#[derive(Debug)]
pub struct RawMonitor {
    pub span: Range<usize>,
    pub name: Option<Sp<String>>,
    pub on: Option<Sp<Vec<Sp<String>>>>,
    pub run: Option<Sp<String>>,
    pub stop_timeout: Option<Sp<String>>,
}

/// A `[[test]]`: a command armed to start at a set time on every host.
#[derive(Debug)]
pub struct RawTest {
    pub span: Range<usize>,
    pub name: Option<Sp<String>>,
    pub on: Option<Sp<Vec<Sp<String>>>>,
    pub run: Option<Sp<String>>,
    pub at: Option<Sp<String>>,
    pub timeout: Option<Sp<String>>,
}

/// A `[[collect]]`: files fetched from hosts into the trial.
#[derive(Debug)]
pub struct RawCollect {
    pub span: Range<usize>,
    pub name: Option<Sp<String>>,
    pub on: Option<Sp<Vec<Sp<String>>>>,
    pub files: Option<Sp<Vec<Sp<String>>>>,
}

/// An `[[analyze]]` section: a table made from a trial's collected files.
#[derive(Debug)]
pub struct RawAnalysis {
    pub span: Range<usize>,
    pub name: Option<Sp<String>>,
    pub parser: Option<Sp<String>>,
    pub files: Option<Sp<Vec<Sp<String>>>>,
    pub by: Vec<Sp<String>>,
    pub formats: Option<Sp<Vec<Sp<String>>>>,
    /// The series report: the figure to plot others against.
    pub x: Option<Sp<String>>,
    /// The series report's y axis: `log`, `linear` (default: log when a
    /// figure spans more than a decade).
    pub scale: Option<Sp<String>>,
    /// The series' wide table: `{ figures = […], unit = "ms", statistic = "median" }`.
    pub wide: Option<RawWide>,
    /// Every other key: the parser's options, checked against its
    /// declaration when the parser is known (`validate`).
    pub options: Vec<(Sp<String>, SpValue)>,
}

#[derive(Debug, Default)]
pub struct RawWide {
    pub span: Range<usize>,
    pub figures: Option<Sp<Vec<Sp<String>>>>,
    pub unit: Option<Sp<String>>,
    pub statistic: Option<Sp<String>>,
}

#[derive(Debug, Default)]
pub struct RawProvider {
    pub kind: Option<Sp<String>>,
    pub user: Option<Sp<String>>,
    pub identity: Option<Sp<String>>,
    pub workdir: Option<Sp<String>>,
    /// The table itself, for errors about a missing key.
    pub span: Option<Range<usize>>,
    // ec2
    pub region: Option<Sp<String>>,
    pub ami: Option<Sp<String>>,
    pub instance_type: Option<Sp<String>>,
    pub key_name: Option<Sp<String>>,
    pub subnet: Option<Sp<String>>,
    pub security_group: Option<Sp<String>>,
    pub endpoint: Option<Sp<String>>,
    pub max_instances: Option<Sp<i64>>,
    pub expire_after: Option<Sp<String>>,
    pub ssh_from: Option<Sp<Vec<Sp<String>>>>,
    pub ssh_timeout: Option<Sp<String>>,
    pub name_tags: Option<Sp<String>>,
    // local
    pub network: Option<Sp<String>>,
    pub addresses: Option<Sp<String>>,
}

#[derive(Debug)]
pub struct RawGroup {
    pub name: Sp<String>,
    pub count: Option<Sp<i64>>,
    pub vars: serde_json::Map<String, serde_json::Value>,
    pub hosts: Option<Sp<Vec<RawHost>>>,
    // ec2 overrides
    pub instance_type: Option<Sp<String>>,
    pub ami: Option<Sp<String>>,
    pub spot: Option<Sp<bool>>,
    /// `link = { rate, delay, jitter, loss }`: each host's access link.
    pub link: Option<RawLink>,
    /// `links = [{…}, …]`: host by host (index order), over `link`.
    pub links: Option<Sp<Vec<RawLink>>>,
}

/// A link as written: each property with its span.
#[derive(Debug, Clone, Default)]
pub struct RawLink {
    pub span: std::ops::Range<usize>,
    pub rate: Option<Sp<String>>,
    pub delay: Option<Sp<String>>,
    pub jitter: Option<Sp<String>>,
    pub loss: Option<Sp<String>>,
}

#[derive(Debug)]
pub struct RawHost {
    pub span: Range<usize>,
    pub address: Option<Sp<String>>,
    pub port: Option<Sp<i64>>,
    pub user: Option<Sp<String>>,
    pub identity: Option<Sp<String>>,
    pub host_key: Option<Sp<String>>,
}

#[derive(Debug)]
pub struct RawStep {
    pub span: Range<usize>,
    pub name: Option<Sp<String>>,
    pub on: Option<Sp<Vec<Sp<String>>>>,
    pub run: Option<Sp<String>>,
    pub upload: Option<Sp<String>>,
    pub template: Option<Sp<String>>,
    pub dest: Option<Sp<String>>,
    pub after: Vec<Sp<String>>,
    pub timeout: Option<Sp<String>>,
}

const TOP_KEYS: &[&str] = &[
    "name",
    "provider",
    "vars",
    "groups",
    "step",
    "monitor",
    "test",
    "collect",
    "analyze",
    "check",
    "series",
    "monitoring",
    "publish",
];
const PUBLISH_KEYS: &[&str] = &[
    "name",
    "page",
    "wiki",
    "git",
    "user",
    "password_env",
    "password_file",
    "section",
    "summary",
    "template",
    "analyses",
    "overwrite",
];
const MONITORING_KEYS: &[&str] = &["prometheus", "scrape", "interval", "port", "retention"];
const SERIES_KEYS: &[&str] = &["repeat", "discard", "order", "vars"];
const CHECK_KEYS: &[&str] = &[
    "name",
    "table",
    "row",
    "column",
    "max",
    "min",
    "regression",
    "better",
    "baseline",
    "significance",
    "statistic",
];
const MONITOR_KEYS: &[&str] = &["name", "on", "run", "stop_timeout"];
const TEST_KEYS: &[&str] = &["name", "on", "run", "at", "timeout"];
const COLLECT_KEYS: &[&str] = &["name", "on", "files"];
const PROVIDER_KEYS: &[&str] = &[
    "kind",
    "user",
    "identity",
    "workdir",
    "region",
    "ami",
    "instance_type",
    "key_name",
    "subnet",
    "security_group",
    "endpoint",
    "max_instances",
    "expire_after",
    "ssh_from",
    "ssh_timeout",
    "name_tags",
    "network",
    "addresses",
];
const GROUP_KEYS: &[&str] = &[
    "count",
    "vars",
    "hosts",
    "instance_type",
    "ami",
    "spot",
    "link",
    "links",
];
const LINK_KEYS: &[&str] = &["rate", "delay", "jitter", "loss"];
const HOST_KEYS: &[&str] = &["address", "port", "user", "identity", "host_key"];
/// An analysis's own keys; the others are its parser's options.
pub const ANALYZE_KEYS: &[&str] = &[
    "name", "parser", "files", "by", "formats", "x", "scale", "wide",
];
const WIDE_KEYS: &[&str] = &["figures", "unit", "statistic"];
const STEP_KEYS: &[&str] = &[
    "name", "on", "run", "upload", "template", "dest", "after", "timeout",
];

/// Parses the plan text. TOML syntax errors stop at the first one (the
/// document has no shape after it); everything after parsing is collected.
pub fn parse(source: &str) -> Result<RawPlan, Vec<Diagnostic>> {
    let doc = DeTable::parse(source).map_err(|e| {
        let msg = e.message().trim_end().to_string();
        vec![Diagnostic::new(format!("invalid TOML: {msg}"), e.span())]
    })?;
    let mut diags = Vec::new();
    let top = doc.get_ref();
    check_keys(top, TOP_KEYS, "the plan", &mut diags, |_, _| None);
    let d = &mut diags;
    let plan = RawPlan {
        name: get_string(top, "name", "the plan", d),
        provider: provider(top, d),
        vars: get_table(top, "vars", "the plan", d).map_or_else(Default::default, to_json_map),
        groups: groups(top, d),
        steps: steps(top, d),
        monitors: sections(top, "monitor", Some(MONITOR_KEYS), d)
            .into_iter()
            .map(|(t, span, ctx)| RawMonitor {
                span,
                name: get_string(t, "name", &ctx, d),
                on: get_string_list(t, "on", &ctx, d),
                run: get_string(t, "run", &ctx, d),
                stop_timeout: get_string(t, "stop_timeout", &ctx, d),
            })
            .collect(),
        tests: sections(top, "test", Some(TEST_KEYS), d)
            .into_iter()
            .map(|(t, span, ctx)| RawTest {
                span,
                name: get_string(t, "name", &ctx, d),
                on: get_string_list(t, "on", &ctx, d),
                run: get_string(t, "run", &ctx, d),
                at: get_string(t, "at", &ctx, d),
                timeout: get_string(t, "timeout", &ctx, d),
            })
            .collect(),
        collects: sections(top, "collect", Some(COLLECT_KEYS), d)
            .into_iter()
            .map(|(t, span, ctx)| RawCollect {
                span,
                name: get_string(t, "name", &ctx, d),
                on: get_string_list(t, "on", &ctx, d),
                files: get_string_list(t, "files", &ctx, d),
            })
            .collect(),
        analyses: analyses(top, d),
        checks: checks(top, d),
        series: series(top, d),
        monitoring: monitoring(top, d),
        publishes: publishes(top, d),
    };
    if diags.is_empty() {
        Ok(plan)
    } else {
        Err(diags)
    }
}

fn provider(top: &DeTable<'_>, diags: &mut Vec<Diagnostic>) -> RawProvider {
    let Some(t) = get_table(top, "provider", "the plan", diags) else {
        return RawProvider::default();
    };
    let ctx = "`[provider]`";
    check_keys(t, PROVIDER_KEYS, ctx, diags, |_, _| None);
    RawProvider {
        kind: get_string(t, "kind", ctx, diags),
        user: get_string(t, "user", ctx, diags),
        identity: get_string(t, "identity", ctx, diags),
        workdir: get_string(t, "workdir", ctx, diags),
        span: lookup(top, "provider").map(|v| v.span()),
        region: get_string(t, "region", ctx, diags),
        ami: get_string(t, "ami", ctx, diags),
        instance_type: get_string(t, "instance_type", ctx, diags),
        key_name: get_string(t, "key_name", ctx, diags),
        subnet: get_string(t, "subnet", ctx, diags),
        security_group: get_string(t, "security_group", ctx, diags),
        endpoint: get_string(t, "endpoint", ctx, diags),
        max_instances: get_int(t, "max_instances", ctx, diags),
        expire_after: get_string(t, "expire_after", ctx, diags),
        ssh_from: get_string_list(t, "ssh_from", ctx, diags),
        ssh_timeout: get_string(t, "ssh_timeout", ctx, diags),
        name_tags: get_string(t, "name_tags", ctx, diags),
        network: get_string(t, "network", ctx, diags),
        addresses: get_string(t, "addresses", ctx, diags),
    }
}

fn groups(top: &DeTable<'_>, diags: &mut Vec<Diagnostic>) -> Vec<RawGroup> {
    let Some(groups) = get_table(top, "groups", "the plan", diags) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, value) in groups {
        let name = Sp::new(name.get_ref().to_string(), name.span());
        let ctx = format!("group `{}`", name.value);
        let Some(t) = expect_table(value, &ctx, diags) else {
            continue;
        };
        check_keys(t, GROUP_KEYS, &ctx, diags, |_, _| None);
        out.push(RawGroup {
            count: get_int(t, "count", &ctx, diags),
            vars: get_table(t, "vars", &ctx, diags).map_or_else(Default::default, to_json_map),
            hosts: get_array(t, "hosts", &ctx, diags)
                .map(|(items, span)| Sp::new(hosts(items, &ctx, diags), span)),
            instance_type: get_string(t, "instance_type", &ctx, diags),
            ami: get_string(t, "ami", &ctx, diags),
            spot: get_bool(t, "spot", &ctx, diags),
            link: lookup(t, "link").and_then(|v| link(v, &format!("{ctx}, `link`"), diags)),
            links: get_array(t, "links", &ctx, diags).map(|(items, span)| {
                let links = items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| link(v, &format!("{ctx}, `links` {i}"), diags))
                    .collect();
                Sp::new(links, span)
            }),
            name,
        });
    }
    out
}

/// A link table: rate, delay, jitter and loss, each a string or a number.
fn link(v: &Spanned<DeValue<'_>>, ctx: &str, diags: &mut Vec<Diagnostic>) -> Option<RawLink> {
    let t = expect_table(v, ctx, diags)?;
    check_keys(t, LINK_KEYS, ctx, diags, |_, _| None);
    Some(RawLink {
        span: v.span(),
        rate: get_number_or_string(t, "rate", ctx, diags),
        delay: get_string(t, "delay", ctx, diags),
        jitter: get_string(t, "jitter", ctx, diags),
        loss: get_number_or_string(t, "loss", ctx, diags),
    })
}

/// A static group's `hosts`.
fn hosts(items: &[Spanned<DeValue<'_>>], ctx: &str, diags: &mut Vec<Diagnostic>) -> Vec<RawHost> {
    items
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let ctx = format!("{ctx}, host {i}");
            let t = expect_table(v, &ctx, diags)?;
            check_keys(t, HOST_KEYS, &ctx, diags, |_, _| None);
            Some(RawHost {
                span: v.span(),
                address: get_string(t, "address", &ctx, diags),
                port: get_int(t, "port", &ctx, diags),
                user: get_string(t, "user", &ctx, diags),
                identity: get_string(t, "identity", &ctx, diags),
                host_key: get_string(t, "host_key", &ctx, diags),
            })
        })
        .collect()
}

fn steps(top: &DeTable<'_>, diags: &mut Vec<Diagnostic>) -> Vec<RawStep> {
    sections(top, "step", Some(STEP_KEYS), diags)
        .into_iter()
        .map(|(t, span, ctx)| RawStep {
            span,
            name: get_string(t, "name", &ctx, diags),
            on: get_string_list(t, "on", &ctx, diags),
            run: get_string(t, "run", &ctx, diags),
            upload: get_string(t, "upload", &ctx, diags),
            template: get_string(t, "template", &ctx, diags),
            dest: get_string(t, "dest", &ctx, diags),
            after: get_string_list(t, "after", &ctx, diags).map_or_else(Vec::new, |l| l.value),
            timeout: get_string(t, "timeout", &ctx, diags),
        })
        .collect()
}

fn analyses(top: &DeTable<'_>, diags: &mut Vec<Diagnostic>) -> Vec<RawAnalysis> {
    sections(top, "analyze", None, diags)
        .into_iter()
        .map(|(t, span, ctx)| RawAnalysis {
            span,
            name: get_string(t, "name", &ctx, diags),
            parser: get_string(t, "parser", &ctx, diags),
            files: get_string_list(t, "files", &ctx, diags),
            by: get_string_list(t, "by", &ctx, diags).map_or_else(Vec::new, |l| l.value),
            formats: get_string_list(t, "formats", &ctx, diags),
            x: get_string(t, "x", &ctx, diags),
            scale: get_string(t, "scale", &ctx, diags),
            wide: wide(t, &ctx, diags),
            options: t
                .iter()
                .filter(|(k, _)| !ANALYZE_KEYS.contains(&AsRef::<str>::as_ref(k.get_ref())))
                .map(|(k, v)| {
                    (
                        Sp::new(k.get_ref().to_string(), k.span()),
                        Sp::new(to_json(v.get_ref()), v.span()),
                    )
                })
                .collect(),
        })
        .collect()
}

/// An analysis's `wide = { … }`.
fn wide(t: &DeTable<'_>, ctx: &str, diags: &mut Vec<Diagnostic>) -> Option<RawWide> {
    let span = lookup(t, "wide")?.span();
    let w = get_table(t, "wide", ctx, diags)?;
    let ctx = format!("{ctx}, `wide`");
    check_keys(w, WIDE_KEYS, &ctx, diags, |_, _| None);
    Some(RawWide {
        span,
        figures: get_string_list(w, "figures", &ctx, diags),
        unit: get_string(w, "unit", &ctx, diags),
        statistic: get_string(w, "statistic", &ctx, diags),
    })
}

fn checks(top: &DeTable<'_>, diags: &mut Vec<Diagnostic>) -> Vec<RawCheck> {
    sections(top, "check", Some(CHECK_KEYS), diags)
        .into_iter()
        .map(|(t, span, ctx)| RawCheck {
            span,
            name: get_string(t, "name", &ctx, diags),
            table: get_string(t, "table", &ctx, diags),
            row: string_table(t, "row", &ctx, diags),
            column: get_string(t, "column", &ctx, diags),
            max: get_number_or_string(t, "max", &ctx, diags),
            min: get_number_or_string(t, "min", &ctx, diags),
            regression: get_string(t, "regression", &ctx, diags),
            better: get_string(t, "better", &ctx, diags),
            baseline: get_string(t, "baseline", &ctx, diags),
            significance: get_number_or_string(t, "significance", &ctx, diags),
            statistic: get_string(t, "statistic", &ctx, diags),
        })
        .collect()
}

fn monitoring(top: &DeTable<'_>, diags: &mut Vec<Diagnostic>) -> Option<RawMonitoring> {
    let t = get_table(top, "monitoring", "the plan", diags)?;
    let ctx = "`[monitoring]`";
    check_keys(t, MONITORING_KEYS, ctx, diags, |_, _| None);
    Some(RawMonitoring {
        span: lookup(top, "monitoring").map_or(0..0, |v| v.span()),
        prometheus: get_string(t, "prometheus", ctx, diags),
        scrape: get_string_list(t, "scrape", ctx, diags),
        interval: get_string(t, "interval", ctx, diags),
        port: get_int(t, "port", ctx, diags),
        retention: get_string(t, "retention", ctx, diags),
    })
}

fn publishes(top: &DeTable<'_>, diags: &mut Vec<Diagnostic>) -> Vec<RawPublish> {
    let password = |k: &str, span: Range<usize>| {
        (k == "password").then(|| {
            Diagnostic::at("a password is never written in the plan".to_string(), span).help(
                "name where it is instead: `password_env = \"RUNNER_WIKI_PASSWORD\"` (the default) or `password_file = \"~/.config/runner/wiki-password\"`",
            )
        })
    };
    let mut out = Vec::new();
    for (t, span, ctx) in sections(top, "publish", None, diags) {
        check_keys(t, PUBLISH_KEYS, &ctx, diags, password);
        out.push(RawPublish {
            span,
            name: get_string(t, "name", &ctx, diags),
            page: get_string(t, "page", &ctx, diags),
            wiki: get_string(t, "wiki", &ctx, diags),
            git: get_string(t, "git", &ctx, diags),
            user: get_string(t, "user", &ctx, diags),
            password_env: get_string(t, "password_env", &ctx, diags),
            password_file: get_string(t, "password_file", &ctx, diags),
            section: get_int(t, "section", &ctx, diags),
            summary: get_string(t, "summary", &ctx, diags),
            template: get_string(t, "template", &ctx, diags),
            analyses: get_string_list(t, "analyses", &ctx, diags),
            overwrite: get_bool(t, "overwrite", &ctx, diags),
        });
    }
    out
}

fn series(top: &DeTable<'_>, diags: &mut Vec<Diagnostic>) -> Option<RawSeries> {
    let t = get_table(top, "series", "the plan", diags)?;
    let ctx = "`[series]`";
    check_keys(t, SERIES_KEYS, ctx, diags, |_, _| None);
    let mut vars = Vec::new();
    if let Some(v) = get_table(t, "vars", ctx, diags) {
        for (k, val) in v {
            let name = Sp::new(k.get_ref().to_string(), k.span());
            match val.get_ref() {
                DeValue::Array(items) => {
                    let items = items
                        .iter()
                        .map(|i| Sp::new(to_json(i.get_ref()), i.span()))
                        .collect();
                    vars.push((name, Sp::new(items, val.span())));
                }
                _ => diags.push(
                    type_error(k.get_ref(), "`[series.vars]`", "a list of values", val)
                        .help("each series var lists its values: `streams = [1, 2, 4]`"),
                ),
            }
        }
    }
    Some(RawSeries {
        span: lookup(top, "series").map_or(0..0, |v| v.span()),
        repeat: get_int(t, "repeat", ctx, diags),
        discard: get_int(t, "discard", ctx, diags),
        order: get_string(t, "order", ctx, diags),
        vars,
    })
}

/// A table of strings (`row = { column = "value" }`), each with its spans.
fn string_table(
    t: &DeTable<'_>,
    key: &str,
    ctx: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(Sp<String>, Sp<String>)> {
    let mut out = Vec::new();
    let Some(r) = get_table(t, key, ctx, diags) else {
        return out;
    };
    for (k, val) in r {
        match val.get_ref() {
            DeValue::String(s) => out.push((
                Sp::new(k.get_ref().to_string(), k.span()),
                Sp::new(s.to_string(), val.span()),
            )),
            _ => diags.push(type_error(
                k.get_ref(),
                &format!("{ctx}, `{key}`"),
                "a string",
                val,
            )),
        }
    }
    out
}

/// `max = 5` or `max = "5ms"`: the text either way.
fn get_number_or_string(
    table: &DeTable<'_>,
    key: &str,
    ctx: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Sp<String>> {
    let v = lookup(table, key)?;
    match v.get_ref() {
        DeValue::String(s) => Some(Sp::new(s.to_string(), v.span())),
        DeValue::Integer(i) => Some(Sp::new(i.as_str().to_string(), v.span())),
        DeValue::Float(f) => Some(Sp::new(f.as_str().to_string(), v.span())),
        _ => {
            diags.push(type_error(
                key,
                ctx,
                "a number or a string such as \"5ms\"",
                v,
            ));
            None
        }
    }
}

/// The tables of an array of tables (`[[key]]`), each with its span and a
/// context for messages (`test `tcp``, or `test 2` without a name);
/// unknown keys are reported.
fn sections<'a, 'i>(
    top: &'a DeTable<'i>,
    key: &str,
    allowed: Option<&[&str]>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(&'a DeTable<'i>, Range<usize>, String)> {
    let mut out = Vec::new();
    let Some((items, _)) = get_array(top, key, "the plan", diags) else {
        return out;
    };
    let noun = match key {
        "analyze" => "analysis",
        other => other,
    };
    for (i, v) in items.iter().enumerate() {
        let ctx_n = format!("{noun} {}", i + 1);
        let Some(t) = expect_table(v, &ctx_n, diags) else {
            continue;
        };
        let ctx = match lookup(t, "name").map(|n| n.get_ref()) {
            Some(DeValue::String(n)) => format!("{noun} `{n}`"),
            _ => ctx_n,
        };
        if let Some(allowed) = allowed {
            check_keys(t, allowed, &ctx, diags, |_, _| None);
        }
        out.push((t, v.span(), ctx));
    }
    out
}

/// Reports keys not in `allowed`; `special` may give a better message for a key.
fn check_keys(
    table: &DeTable<'_>,
    allowed: &[&str],
    ctx: &str,
    diags: &mut Vec<Diagnostic>,
    special: impl Fn(&str, Range<usize>) -> Option<Diagnostic>,
) {
    for key in table.keys() {
        let k: &str = key.get_ref();
        if allowed.contains(&k) {
            continue;
        }
        let d = special(k, key.span()).unwrap_or_else(|| {
            Diagnostic::at(format!("unknown key `{k}` in {ctx}"), key.span())
                .suggest(k, allowed.iter().copied())
        });
        let d = if d.help.is_none() {
            d.help(format!("expected one of {}", backticked(allowed)))
        } else {
            d
        };
        diags.push(d);
    }
}

fn backticked(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn lookup<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
    table
        .iter()
        .find(|(k, _)| AsRef::<str>::as_ref(k.get_ref()) == key)
        .map(|(_, v)| v)
}

fn type_error(key: &str, ctx: &str, want: &str, v: &Spanned<DeValue<'_>>) -> Diagnostic {
    Diagnostic::at(
        format!(
            "`{key}` in {ctx} must be {want}, found {}",
            v.get_ref().type_str()
        ),
        v.span(),
    )
}

fn get_string(
    table: &DeTable<'_>,
    key: &str,
    ctx: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Sp<String>> {
    let v = lookup(table, key)?;
    match v.get_ref() {
        DeValue::String(s) => Some(Sp::new(s.to_string(), v.span())),
        _ => {
            diags.push(type_error(key, ctx, "a string", v));
            None
        }
    }
}

fn get_int(
    table: &DeTable<'_>,
    key: &str,
    ctx: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Sp<i64>> {
    let v = lookup(table, key)?;
    let parsed = match v.get_ref() {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    };
    match parsed {
        Some(n) => Some(Sp::new(n, v.span())),
        None => {
            diags.push(type_error(key, ctx, "an integer", v));
            None
        }
    }
}

fn get_bool(
    table: &DeTable<'_>,
    key: &str,
    ctx: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Sp<bool>> {
    let v = lookup(table, key)?;
    match v.get_ref() {
        DeValue::Boolean(b) => Some(Sp::new(*b, v.span())),
        _ => {
            diags.push(type_error(key, ctx, "`true` or `false`", v));
            None
        }
    }
}

fn get_table<'a, 'i>(
    table: &'a DeTable<'i>,
    key: &str,
    ctx: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'a DeTable<'i>> {
    let v = lookup(table, key)?;
    match v.get_ref() {
        DeValue::Table(t) => Some(t),
        _ => {
            diags.push(type_error(key, ctx, "a table", v));
            None
        }
    }
}

fn expect_table<'a, 'i>(
    v: &'a Spanned<DeValue<'i>>,
    ctx: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'a DeTable<'i>> {
    match v.get_ref() {
        DeValue::Table(t) => Some(t),
        other => {
            diags.push(Diagnostic::at(
                format!("{ctx} must be a table, found {}", other.type_str()),
                v.span(),
            ));
            None
        }
    }
}

fn get_array<'a, 'i>(
    table: &'a DeTable<'i>,
    key: &str,
    ctx: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<(&'a [Spanned<DeValue<'i>>], Range<usize>)> {
    let v = lookup(table, key)?;
    match v.get_ref() {
        DeValue::Array(a) => Some((&a[..], v.span())),
        _ => {
            diags.push(type_error(key, ctx, "an array", v));
            None
        }
    }
}

/// A string or an array of strings.
fn get_string_list(
    table: &DeTable<'_>,
    key: &str,
    ctx: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Sp<Vec<Sp<String>>>> {
    let v = lookup(table, key)?;
    match v.get_ref() {
        DeValue::String(s) => Some(Sp::new(vec![Sp::new(s.to_string(), v.span())], v.span())),
        DeValue::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                match item.get_ref() {
                    DeValue::String(s) => out.push(Sp::new(s.to_string(), item.span())),
                    _ => diags.push(type_error(key, ctx, "a list of strings", item)),
                }
            }
            Some(Sp::new(out, v.span()))
        }
        _ => {
            diags.push(type_error(key, ctx, "a string or a list of strings", v));
            None
        }
    }
}

fn to_json_map(table: &DeTable<'_>) -> serde_json::Map<String, serde_json::Value> {
    table
        .iter()
        .map(|(k, v)| (k.get_ref().to_string(), to_json(v.get_ref())))
        .collect()
}

fn to_json(v: &DeValue<'_>) -> serde_json::Value {
    use serde_json::Value;
    match v {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .map_or_else(|_| Value::String(i.as_str().to_string()), Value::from),
        // `nan` and `inf` have no JSON number: null, which TOML cannot
        // write otherwise (a series var refuses it by that).
        DeValue::Float(f) => f
            .as_str()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Array(a) => Value::Array(a.iter().map(|v| to_json(v.get_ref())).collect()),
        DeValue::Table(t) => Value::Object(to_json_map(t)),
    }
}
