//! A trial's Prometheus snapshot (`<host>/prometheus/snapshot.json`, the
//! TSDB beside it in `snapshot/`) → PromQL over each test's window: for
//! each query and each series it returns (a host, and its other labels),
//! n, mean, min, max and percentiles of the values at every `step` from
//! the window's start + `settle` to its end. Read by a throwaway
//! Prometheus on a copy of the snapshot ([`super::promql`]): the same
//! figures a year later, with no host left.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::parser::{Declaration, Kind, OptionDecl, Options, Parser, Refusal};
use super::promql::{PromError, Server};
use super::{Analysed, FileError, Found, Group, Window, stats};
use crate::plot::{self, Plot};
use crate::table::{Cell, Column, Table};

/// node_exporter's figures people ask first: (name, PromQL, unit).
pub const DEFAULT_QUERIES: &[(&str, &str, &str)] = &[
    (
        "cpu_busy",
        "100 * (1 - avg by (host) (rate(node_cpu_seconds_total{mode=\"idle\"}[3s])))",
        "%",
    ),
    (
        "memory_used",
        "node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes",
        "bytes",
    ),
    (
        "net_rx",
        "8 * rate(node_network_receive_bytes_total{device!=\"lo\"}[3s])",
        "bit/s",
    ),
    (
        "net_tx",
        "8 * rate(node_network_transmit_bytes_total{device!=\"lo\"}[3s])",
        "bit/s",
    ),
    (
        "disk_read",
        "rate(node_disk_read_bytes_total[3s])",
        "bytes/s",
    ),
    (
        "disk_write",
        "rate(node_disk_written_bytes_total[3s])",
        "bytes/s",
    ),
    (
        "disk_read_iops",
        "rate(node_disk_reads_completed_total[3s])",
        "1/s",
    ),
    (
        "disk_write_iops",
        "rate(node_disk_writes_completed_total[3s])",
        "1/s",
    ),
];

const DEFAULT_PERCENTILES: &[f64] = &[50.0, 95.0];

pub struct Prometheus;

static DECLARATION: Declaration = Declaration {
    name: "prometheus",
    aliases: &[],
    reads: "a trial's Prometheus snapshot (`*/prometheus/snapshot.json`): PromQL per test window — per series n, mean, min, max, percentiles",
    options: &[
        OptionDecl {
            name: "queries",
            kind: Kind::Map,
            help: "PromQL by name (`{ rx = '8 * rate(node_network_receive_bytes_total[3s])' }`); default node_exporter's CPU busy %, memory used, network rx/tx bit/s, disk read/write bytes/s and IOPS",
        },
        OptionDecl {
            name: "units",
            kind: Kind::Map,
            help: "each query's unit (`{ rx = \"bit/s\" }`); the defaults have theirs",
        },
        OptionDecl {
            name: "step",
            kind: Kind::Text,
            help: "how often in a window each query is evaluated (default 1s)",
        },
        OptionDecl {
            name: "settle",
            kind: Kind::Text,
            help: "time left out at the start of each window, so that a `rate(…[3s])` sees the window only (default 3s)",
        },
        OptionDecl {
            name: "grafana",
            kind: Kind::Text,
            help: "a Grafana dashboard's URL: the notes give a link per window (`from`/`to` in ms)",
        },
        OptionDecl {
            name: "percentiles",
            kind: Kind::Numbers,
            help: "percentiles of each series' values in a window (default 50, 95; linear between closest ranks)",
        },
    ],
    keys: &["source", "window", "query", "host", "labels", "unit"],
    headline: &["mean"],
    histograms: false,
    spans_tests: true,
};

impl Parser for Prometheus {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn check(&self, opts: &Options) -> Vec<Refusal> {
        let mut out = Vec::new();
        for key in ["step", "settle"] {
            if let Some(t) = opts.text(key)
                && humantime::parse_duration(t).is_err()
            {
                out.push(Refusal {
                    option: key.into(),
                    message: format!("`{t}` is not a duration"),
                    help: "write it as `1s`, `500ms`".into(),
                });
            }
        }
        let queries = opts.map("queries");
        for (name, _) in opts.map("units") {
            if !queries.is_empty() && !queries.iter().any(|(q, _)| q == name) {
                out.push(Refusal {
                    option: "units".into(),
                    message: format!("`{name}` is not one of the queries"),
                    help: "name a query of `queries`".into(),
                });
            }
        }
        out
    }

    fn analyze(&self, groups: &[Group], opts: &Options, found: &mut Found) -> Analysed {
        let ask = Ask::of(opts);
        let mut rows = Vec::new();
        let mut notes = vec![ask.note()];
        let mut read = Vec::new();
        for g in groups {
            for f in &g.files {
                match snapshot_rows(f, &g.label, &ask, opts, found) {
                    Ok((r, n)) => {
                        rows.extend(r);
                        notes.extend(n);
                        read.push(f.display().to_string());
                    }
                    Err(e) => found.errors.push(e),
                }
            }
        }
        if read.is_empty() {
            return (None, read);
        }
        let mut t = table(rows, &ask.percentiles, !opts.windows.is_empty());
        t.notes = notes;
        (Some(t), read)
    }

    /// A chart per query and snapshot over the trial (from its trigger
    /// `t0`; the monitoring host's TSDB holds earlier trials too), a line
    /// per series.
    fn plots(&self, files: &[(String, PathBuf)], opts: &Options, t0: f64) -> Vec<Plot> {
        let ask = Ask::of(opts);
        let mut out = Vec::new();
        for (label, f) in files {
            let dir = snapshot_dir(f);
            let Some(span) = time_span(&dir) else {
                continue;
            };
            let Ok(server) = Server::start(&dir) else {
                continue;
            };
            let (start, end) = (
                format!("{:.3}", span.0.max(t0 - 30.0)),
                format!("{:.3}", span.1),
            );
            let step = ask.step.to_string();
            for (name, q, unit) in &ask.queries {
                let Ok(data) = server.api(
                    "/api/v1/query_range",
                    &[
                        ("query", q),
                        ("start", &start),
                        ("end", &end),
                        ("step", &step),
                    ],
                ) else {
                    continue;
                };
                let series: Vec<plot::Series> = series(&data)
                    .into_iter()
                    .map(|(host, labels, points)| plot::Series {
                        name: if labels.is_empty() {
                            host
                        } else {
                            format!("{host} {labels}")
                        },
                        points: points.into_iter().map(|(t, v)| (t - t0, v)).collect(),
                    })
                    .collect();
                if series.is_empty() {
                    continue;
                }
                out.push(Plot {
                    title: format!("{name} ({label})"),
                    x: plot::XAxis::Seconds,
                    y: unit.clone(),
                    series,
                    windows: true,
                    height: 300,
                });
            }
        }
        out
    }
}

/// What the analysis asks: queries (name, PromQL, unit), times, percentiles.
struct Ask {
    queries: Vec<(String, String, String)>,
    step: f64,
    settle: f64,
    percentiles: Vec<f64>,
}

impl Ask {
    fn of(opts: &Options) -> Ask {
        let units = opts.map("units");
        let unit_of = |name: &str, default: &str| {
            units
                .iter()
                .find(|(n, _)| n == name)
                .map_or_else(|| default.to_string(), |(_, u)| u.clone())
        };
        let given = opts.map("queries");
        let queries = if given.is_empty() {
            DEFAULT_QUERIES
                .iter()
                .map(|(n, q, u)| (n.to_string(), q.to_string(), unit_of(n, u)))
                .collect()
        } else {
            given
                .iter()
                .map(|(n, q)| (n.clone(), q.clone(), unit_of(n, "")))
                .collect()
        };
        let secs = |key: &str, default: f64| {
            opts.text(key)
                .and_then(|t| humantime::parse_duration(t).ok())
                .map_or(default, |d| d.as_secs_f64())
        };
        Ask {
            queries,
            step: secs("step", 1.0).max(0.001),
            settle: secs("settle", 3.0),
            percentiles: opts
                .numbers("percentiles")
                .map_or_else(|| DEFAULT_PERCENTILES.to_vec(), <[f64]>::to_vec),
        }
    }

    fn note(&self) -> String {
        let qs: Vec<String> = self
            .queries
            .iter()
            .map(|(n, q, u)| {
                format!(
                    "{n} = `{q}`{}",
                    if u.is_empty() {
                        String::new()
                    } else {
                        format!(" ({u})")
                    }
                )
            })
            .collect();
        format!(
            "PromQL evaluated (query_range) every {} s from each window's start + {} s to its end, over the trial's Prometheus snapshot; percentiles linear between closest ranks. Queries: {}",
            self.step,
            self.settle,
            qs.join("; ")
        )
    }
}

type Row = (String, String, String, String, String, String, Vec<f64>);

/// One snapshot's rows, and its notes.
fn snapshot_rows(
    file: &Path,
    label: &str,
    ask: &Ask,
    opts: &Options,
    found: &mut Found,
) -> Result<(Vec<Row>, Vec<String>), FileError> {
    let whole = |m: String| FileError::whole(file, m);
    let manifest: serde_json::Value = std::fs::read(file)
        .map_err(|e| whole(e.to_string()))
        .and_then(|b| {
            serde_json::from_slice(&b).map_err(|e| whole(format!("not a snapshot manifest: {e}")))
        })?;
    let dir = snapshot_dir(file);
    let span =
        time_span(&dir).ok_or_else(|| whole(format!("{} holds no TSDB block", dir.display())))?;
    let server = Server::start(&dir).map_err(|e| whole(e.to_string()))?;
    let windows: Vec<Window> = if opts.windows.is_empty() {
        vec![Window {
            name: "whole recording".into(),
            start: span.0,
            end: span.1,
        }]
    } else {
        opts.windows.clone()
    };
    let mut rows = Vec::new();
    let mut notes = vec![format!(
        "{}: snapshot {} of {}, data from {:.3} to {:.3} (epoch s)",
        file.display(),
        manifest["name"].as_str().unwrap_or("?"),
        manifest["url"].as_str().unwrap_or("?"),
        span.0,
        span.1
    )];
    for w in &windows {
        let (r, n) =
            window_rows(&server, w, label, ask, opts, found).map_err(|e| whole(e.to_string()))?;
        rows.extend(r);
        notes.extend(n);
    }
    Ok((rows, notes))
}

/// One window's rows (a row per query and series) and notes.
fn window_rows(
    server: &Server,
    w: &Window,
    label: &str,
    ask: &Ask,
    opts: &Options,
    found: &mut Found,
) -> Result<(Vec<Row>, Vec<String>), PromError> {
    let (mut rows, mut notes) = (Vec::new(), Vec::new());
    let (start, end) = (
        format!("{:.3}", w.start + ask.settle),
        format!("{:.3}", w.end),
    );
    if w.start + ask.settle > w.end {
        found.warnings.push(format!(
            "window `{}` is shorter than `settle` ({} s): not evaluated",
            w.name, ask.settle
        ));
        return Ok((rows, notes));
    }
    notes.push(format!(
        "window `{}`: query_range start={start} end={end} step={}",
        w.name, ask.step
    ));
    if let Some(g) = opts.text("grafana") {
        let sep = if g.contains('?') { '&' } else { '?' };
        notes.push(format!(
            "window `{}` in Grafana: {g}{sep}from={}&to={}",
            w.name,
            (w.start * 1000.0).floor() as i64,
            (w.end * 1000.0).ceil() as i64
        ));
    }
    let step = ask.step.to_string();
    let range = |q: &str| {
        server.api(
            "/api/v1/query_range",
            &[
                ("query", q),
                ("start", &start),
                ("end", &end),
                ("step", &step),
            ],
        )
    };
    down_targets(range("up"), w, found);
    for (name, q, unit) in &ask.queries {
        let data = range(q).map_err(|e| PromError(format!("query `{name}` (`{q}`): {e}")))?;
        let found_series = series(&data);
        if found_series.is_empty() {
            found.warnings.push(format!(
                "query `{name}` (`{q}`) returned no series in window `{}`: a metric's name mistyped, or nothing scraped then",
                w.name
            ));
        }
        for (host, labels, points) in found_series {
            let values = points.into_iter().map(|(_, v)| v).collect();
            rows.push((
                label.to_string(),
                w.name.clone(),
                name.clone(),
                host,
                labels,
                unit.clone(),
                values,
            ));
        }
    }
    Ok((rows, notes))
}

/// The TSDB of a manifest: `snapshot/` beside it.
fn snapshot_dir(manifest: &Path) -> PathBuf {
    manifest
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("snapshot")
}

/// The first and last sample time of a snapshot's blocks (epoch s).
fn time_span(dir: &Path) -> Option<(f64, f64)> {
    let mut span: Option<(f64, f64)> = None;
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let Ok(meta) = std::fs::read(e.path().join("meta.json")) else {
            continue;
        };
        let Ok(m) = serde_json::from_slice::<serde_json::Value>(&meta) else {
            continue;
        };
        let (Some(a), Some(b)) = (m["minTime"].as_f64(), m["maxTime"].as_f64()) else {
            continue;
        };
        let (a, b) = (a / 1000.0, b / 1000.0);
        span = Some(span.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
    }
    span
}

/// Targets that were down in the window (`up` = 0): named.
fn down_targets(up: Result<serde_json::Value, PromError>, w: &Window, found: &mut Found) {
    let Ok(data) = up else {
        return;
    };
    for (host, _, values) in series(&data) {
        let down = values.iter().filter(|&&(_, v)| v == 0.0).count();
        if down > 0 {
            found.warnings.push(format!(
                "target `{host}` was down for {down} of {} scrapes evaluated in window `{}`: its figures there are missing or partial",
                values.len(),
                w.name
            ));
        }
    }
}

/// A series of a range query: host, other labels, (time, value) points.
type Series = (String, String, Vec<(f64, f64)>);

/// A range query's series: host (the `host` label runner gives each
/// target, else `instance`), the other labels, the values.
fn series(data: &serde_json::Value) -> Vec<Series> {
    let mut out = Vec::new();
    for s in data["result"].as_array().into_iter().flatten() {
        let metric = s["metric"].as_object();
        let get = |k: &str| {
            metric
                .and_then(|m| m.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let host = get("host").or_else(|| get("instance")).unwrap_or_default();
        let labels: BTreeMap<&String, &serde_json::Value> = metric
            .into_iter()
            .flatten()
            .filter(|(k, _)| {
                !["__name__", "job", "instance", "host", "group"].contains(&k.as_str())
            })
            .collect();
        let labels: Vec<String> = labels
            .into_iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect();
        let values = s["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some((
                    p.get(0)?.as_f64()?,
                    p.get(1)?.as_str()?.parse::<f64>().ok()?,
                ))
            })
            .collect();
        out.push((host, labels.join(","), values));
    }
    out
}

/// Linear between closest ranks (numpy's default) of sorted `v`.
fn percentile(v: &[f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let pos = p / 100.0 * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

fn table(rows: Vec<Row>, percentiles: &[f64], windowed: bool) -> Table {
    let name = |p: &f64| super::latency::name(*p);
    let mut columns: Vec<Column> = ["source", "window", "query", "host", "labels", "unit"]
        .into_iter()
        .map(Column::text)
        .chain(stats::columns())
        .collect();
    columns.extend(percentiles.iter().map(|p| Column::float(&name(p), None, 3)));
    let rows = rows
        .into_iter()
        .map(|(source, window, query, host, labels, unit, values)| {
            let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
            sorted.sort_by(f64::total_cmp);
            let mut r = vec![
                Cell::Text(source),
                Cell::Text(window),
                Cell::Text(query),
                Cell::Text(host),
                Cell::Text(labels),
                Cell::Text(unit),
            ];
            r.extend(stats::cells(stats::of(values.into_iter()).as_ref()));
            r.extend(
                percentiles
                    .iter()
                    .map(|p| percentile(&sorted, *p).map_or(Cell::Empty, Cell::Float)),
            );
            r
        })
        .collect();
    Table {
        title: if windowed {
            "Prometheus metrics, per test window".into()
        } else {
            "Prometheus metrics, whole recording".into()
        },
        columns,
        rows,
        notes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_as_numpy_computes_them() {
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert_eq!(percentile(&v, 50.0), Some(3.0));
        // numpy.percentile(v, [95, 30]) to the last bit.
        assert_eq!(percentile(&v, 95.0), Some(8.799999999999999));
        assert_eq!(percentile(&v, 30.0), Some(2.2));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn percentiles_equal_numpys_to_the_last_bit() {
        // (p, numpy.percentile(v, p), v sorted): numpy 2.2.6, random values.
        let cases: Vec<(f64, f64, Vec<f64>)> = vec![
            (
                55.64543226524334,
                44.55199773182795,
                vec![
                    0.21060533511106927,
                    2.1489705265908876,
                    2.54458609934608,
                    2.834747652200631,
                    2.9040787574867943,
                    3.0589983033553536,
                    9.385958677423488,
                    13.436424411240122,
                    21.659939713061338,
                    21.87810373376886,
                    22.169166627303504,
                    22.876222127045263,
                    23.08665415409843,
                    23.308445025757262,
                    25.50690257394217,
                    28.978161459048557,
                    38.12042376882124,
                    42.21165755827173,
                    43.27670679050534,
                    43.7887593650572,
                    44.538719405480144,
                    44.949106478873816,
                    45.96034657377336,
                    49.54350870919409,
                    49.581224138185064,
                    54.141247279349656,
                    65.15929727227629,
                    72.15400323407826,
                    76.2280082457942,
                    76.3774618976614,
                    78.87233511355132,
                    83.57651039198697,
                    83.75779756625728,
                    84.74337369372327,
                    90.14274576114836,
                    93.91491627785106,
                    94.52706955539223,
                ],
            ),
            (
                59.31837303800576,
                65.2227536070267,
                vec![
                    2.9574963966907064,
                    3.4525830151341586,
                    4.3487290356527435,
                    12.088995980580641,
                    17.300740157905093,
                    18.59062658947177,
                    24.273997354306765,
                    30.336851093291763,
                    33.26951853601291,
                    37.47030205016403,
                    39.325509496422605,
                    41.431399930077426,
                    42.21069999614152,
                    43.89616300445631,
                    48.96935204622582,
                    50.528382057960044,
                    50.84264882499818,
                    52.09384176131452,
                    54.8798761388153,
                    58.75806061435595,
                    58.90022579825517,
                    64.22943629324456,
                    67.0305566414071,
                    67.44858305023273,
                    70.30407620656315,
                    70.3382088603836,
                    71.11917696952797,
                    72.14844075832684,
                    77.84426150001458,
                    79.74042475543028,
                    83.0035693274327,
                    84.61974184283127,
                    85.99465287952899,
                    88.24790008318577,
                    93.64405867994596,
                    98.3187717309674,
                    99.25434121760651,
                ],
            ),
            (
                22.960503127702392,
                36.65732938604671,
                vec![
                    0.5709129450392925,
                    2.797498408384236,
                    5.612329752074041,
                    17.034919685568127,
                    19.983942017714305,
                    23.217612806301457,
                    26.927947744142124,
                    34.60779190181549,
                    35.67899645449557,
                    39.3599686377914,
                    42.60906796881502,
                    45.81468000997244,
                    45.91317319106684,
                    48.492511222773416,
                    50.22385584334831,
                    50.472046742886334,
                    51.3771663187637,
                    51.86782835230021,
                    53.84787957378443,
                    53.96174484497788,
                    54.79963094662489,
                    56.135786477837904,
                    56.99993338763802,
                    57.77948078012031,
                    61.24524647827256,
                    62.34894527975051,
                    74.05034118331963,
                    77.05231398308005,
                    78.36552326153898,
                    80.91399008724795,
                    82.04859119254819,
                    86.02897789205495,
                    87.00101551766399,
                    88.61795808260082,
                    95.24673882682694,
                    95.71162814602269,
                    98.20766375385342,
                ],
            ),
        ];
        for (p, want, v) in cases {
            assert_eq!(percentile(&v, p), Some(want), "p{p}");
        }
    }

    #[test]
    fn series_are_told_apart_by_host_and_labels() {
        let data: serde_json::Value = serde_json::from_str(
            r#"{"resultType":"matrix","result":[{"metric":{"host":"server[0]","instance":"10.0.0.2:9100","job":"node","device":"eth0"},"values":[[1,"1.5"],[2,"NaN"],[3,"2"]]}]}"#,
        )
        .unwrap();
        let s = series(&data);
        assert_eq!(s[0].0, "server[0]");
        assert_eq!(s[0].1, "device=eth0");
        assert_eq!(s[0].2.len(), 3);
        assert!(s[0].2[1].1.is_nan());
        assert_eq!(s[0].2[2], (3.0, 2.0));
    }
}
