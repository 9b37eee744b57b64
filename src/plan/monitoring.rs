//! `[monitoring]`: the short form of Prometheus in a plan. It expands into
//! two monitors like any others — `node-exporter` on every host it scrapes
//! and `prometheus` on one host, with a scrape config listing those hosts
//! by address (known when the trial renders it) and its admin API on, so
//! that every trial ends with a TSDB snapshot in its folder (the stop of a
//! monitor that wrote `prometheus-url`, see `trial::remote`). Ports come
//! from one range per plan (`port`, or one derived from the plan's name),
//! so that hosts sharing 127.0.0.1 never collide.

use std::fmt::Write as _;
use std::time::Duration;

use super::model::{Group, Monitor};
use super::syntax::{RawMonitoring, RawPlan, Sp};
use crate::diag::Diagnostic;

/// The monitors' names (and so their folders in each trial).
pub const PROMETHEUS: &str = "prometheus";
pub const NODE_EXPORTER: &str = "node-exporter";

const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
const DEFAULT_RETENTION: &str = "30d";

/// The monitors `[monitoring]` stands for (none without it); `taken`:
/// the names of the plan's own monitors and tests.
pub fn expand(
    raw: &RawPlan,
    plan: &str,
    groups: &[Group],
    taken: &[String],
    diags: &mut Vec<Diagnostic>,
) -> Vec<Monitor> {
    let Some(m) = &raw.monitoring else {
        return Vec::new();
    };
    for name in [PROMETHEUS, NODE_EXPORTER] {
        if taken.iter().any(|t| t == name) {
            diags.push(
                Diagnostic::at(
                    format!("`[monitoring]` adds a monitor `{name}`, and the plan has a monitor or test of that name"),
                    m.span.clone(),
                )
                .help("rename yours, or drop `[monitoring]` and keep your own monitors"),
            );
        }
    }
    let server = prometheus_host(m, groups, diags);
    let scraped = scraped_hosts(m, groups, diags);
    let interval =
        super::values::duration(m.interval.as_ref(), "interval", DEFAULT_INTERVAL, diags);
    let retention = retention(m, diags);
    let base = base_port(m, plan, scraped.len(), diags);
    let Some(server) = server else {
        return Vec::new();
    };
    let ports: Vec<(String, String, u32)> = scraped
        .iter()
        .enumerate()
        .map(|(i, (host, group))| (host.clone(), group.clone(), base + 1 + i as u32))
        .collect();
    let span = m.span.clone();
    vec![
        Monitor {
            name: NODE_EXPORTER.into(),
            hosts: scraped.into_iter().map(|(h, _)| h).collect(),
            run: node_exporter_run(&ports),
            run_span: span.clone(),
            stop_timeout: Duration::from_secs(10),
        },
        Monitor {
            name: PROMETHEUS.into(),
            hosts: vec![server],
            run: prometheus_run(&ports, base, interval, &retention),
            run_span: span,
            stop_timeout: Duration::from_secs(30),
        },
    ]
}

/// `prometheus = "server[0]"` (or a group: its first host).
fn prometheus_host(
    m: &RawMonitoring,
    groups: &[Group],
    diags: &mut Vec<Diagnostic>,
) -> Option<String> {
    let Some(p) = &m.prometheus else {
        diags.push(
            Diagnostic::at("`[monitoring]` has no `prometheus`", m.span.clone())
                .help("name the host that runs Prometheus: `prometheus = \"server[0]\"`"),
        );
        return None;
    };
    let on = Sp {
        value: vec![p.clone()],
        span: p.span.clone(),
    };
    let hosts =
        super::values::resolve_on(Some(&on), "`[monitoring]`", p.span.clone(), groups, diags);
    hosts.into_iter().next()
}

/// The hosts node_exporter runs on, with their groups: `scrape` (groups
/// or hosts), default every host of the plan.
fn scraped_hosts(
    m: &RawMonitoring,
    groups: &[Group],
    diags: &mut Vec<Diagnostic>,
) -> Vec<(String, String)> {
    let group_of = |h: &str| {
        groups
            .iter()
            .find(|g| g.hosts.iter().any(|x| x.name == h))
            .map_or_else(String::new, |g| g.name.clone())
    };
    match &m.scrape {
        Some(on) => super::values::resolve_on(
            Some(on),
            "`[monitoring]` `scrape`",
            on.span.clone(),
            groups,
            diags,
        )
        .into_iter()
        .map(|h| {
            let g = group_of(&h);
            (h, g)
        })
        .collect(),
        None => groups
            .iter()
            .flat_map(|g| g.hosts.iter().map(|h| (h.name.clone(), g.name.clone())))
            .collect(),
    }
}

/// `retention = "30d"`: as Prometheus writes durations.
fn retention(m: &RawMonitoring, diags: &mut Vec<Diagnostic>) -> String {
    let Some(r) = &m.retention else {
        return DEFAULT_RETENTION.into();
    };
    let digits = r.value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &r.value[digits.len()..];
    let ok = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && ["y", "w", "d", "h", "m", "s", "ms"].contains(&unit);
    if !ok {
        diags.push(
            Diagnostic::at(
                format!("`retention = \"{}\"` is not a Prometheus duration", r.value),
                r.span.clone(),
            )
            .help("a number and one unit: `30d`, `12h`, `1y`"),
        );
    }
    r.value.clone()
}

/// The range's first port (Prometheus'); node_exporters take the next.
fn base_port(m: &RawMonitoring, plan: &str, hosts: usize, diags: &mut Vec<Diagnostic>) -> u32 {
    match &m.port {
        Some(p) => {
            if !(1024..=65535 - hosts as i64).contains(&p.value) {
                diags.push(
                    Diagnostic::at(
                        format!(
                            "`port = {}` leaves no room for Prometheus and {} (ports {} to {})",
                            p.value,
                            if hosts == 1 {
                                "1 node_exporter".to_string()
                            } else {
                                format!("{hosts} node_exporters")
                            },
                            p.value,
                            p.value + hosts as i64
                        ),
                        p.span.clone(),
                    )
                    .help("a port from 1024 up, with a free port after it for each host scraped"),
                );
            }
            p.value.clamp(1024, 65535) as u32
        }
        // One of 400 ranges of 100 ports from 20000, by the plan's name.
        None => {
            let h = crate::hash::sha256_hex(plan.as_bytes());
            20_000 + (u32::from_str_radix(&h[..6], 16).unwrap_or(0) % 400) * 100
        }
    }
}

/// Every scraped host's node_exporter on its own address and port.
fn node_exporter_run(ports: &[(String, String, u32)]) -> String {
    let map: Vec<String> = ports
        .iter()
        .map(|(h, _, p)| format!("{}: {p}", json(h)))
        .collect();
    format!(
        "{{%- set ports = {{{}}} -%}}\n\
         ne=$(command -v prometheus-node-exporter || command -v node_exporter) || {{ echo \"node_exporter is not installed on {{{{ host.name }}}} (apt-get install prometheus-node-exporter)\" >&2; exit 127; }}\n\
         exec \"$ne\" --web.listen-address={{{{ host.address }}}}:{{{{ ports[host.name] }}}}\n",
        map.join(", ")
    )
}

/// Prometheus with its scrape config (every scraped host by address,
/// labelled with its host and group), its URL and data folder written
/// where the stop of the trial finds them for the snapshot.
fn prometheus_run(
    ports: &[(String, String, u32)],
    base: u32,
    interval: Duration,
    retention: &str,
) -> String {
    let every = format!("{}ms", interval.as_millis());
    let mut yml = format!(
        "global:\n  scrape_interval: {every}\n  scrape_timeout: {every}\n  evaluation_interval: {every}\nscrape_configs:\n  - job_name: node\n    static_configs:\n"
    );
    for (h, g, p) in ports {
        let (group, index) = h
            .rsplit_once('[')
            .map_or((g.as_str(), "0"), |(g, i)| (g, i.trim_end_matches(']')));
        let _ = write!(
            yml,
            "      - targets: ['{{{{ groups[{}][{index}].address }}}}:{p}']\n        labels:\n          host: {}\n          group: {}\n",
            json(group),
            json(h),
            json(g)
        );
    }
    format!(
        "mkdir -p prometheus-data\n\
         cat > {{{{ out }}}}/prometheus.yml <<'RUNNER_PROMETHEUS_YML'\n{yml}RUNNER_PROMETHEUS_YML\n\
         printf 'http://%s:%s' '{{{{ host.address }}}}' {base} > {{{{ out }}}}/prometheus-url\n\
         printf '%s' \"$PWD/prometheus-data\" > {{{{ out }}}}/prometheus-data\n\
         p=$(command -v prometheus) || {{ echo \"prometheus is not installed on {{{{ host.name }}}} (apt-get install prometheus)\" >&2; exit 127; }}\n\
         exec \"$p\" --config.file={{{{ out }}}}/prometheus.yml --storage.tsdb.path=prometheus-data --storage.tsdb.retention.time={retention} --web.listen-address={{{{ host.address }}}}:{base} --web.enable-admin-api\n"
    )
}

/// A string as a JSON (and minijinja, and YAML) literal.
fn json(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scrape_config_names_every_host_by_address_and_label() {
        let ports = vec![
            ("server[0]".to_string(), "server".to_string(), 20101),
            ("client[1]".to_string(), "client".to_string(), 20102),
        ];
        let run = prometheus_run(&ports, 20100, Duration::from_millis(500), "30d");
        assert!(run.contains("scrape_interval: 500ms"), "{run}");
        assert!(
            run.contains("- targets: ['{{ groups[\"client\"][1].address }}:20102']"),
            "{run}"
        );
        assert!(run.contains("host: \"client[1]\""), "{run}");
        assert!(run.contains("--web.enable-admin-api"), "{run}");
        let ne = node_exporter_run(&ports);
        assert!(
            ne.starts_with("{%- set ports = {\"server[0]\": 20101, \"client[1]\": 20102} -%}"),
            "{ne}"
        );
    }
}
