//! `trials/<plan>/<id>/report.html`: one self-contained page per trial —
//! inline CSS and SVG, no script, nothing fetched — readable offline and
//! attached to a ticket. It shows the trial's header, the checks, the
//! hosts, a timeline, every analysis table (the CSV's figures) and charts:
//! monitored time series with the test windows shaded, iperf3 interval
//! throughput, HdrHistogram percentile spectra, per-host bars.

pub mod chart;
pub mod compare;
pub mod series;
mod sweep;

use std::path::{Path, PathBuf};

use minijinja::{Value, context};

use chart::{Lane, Series, Span, XAxis};

use crate::kinds::ParserKind;
use crate::plan::Plan;
use crate::plan::model::Analysis;
use crate::trial::Trial;

pub const STYLE: &str = "body{font-family:sans-serif;max-width:1240px;margin:1em auto;padding:0 12px;color:#222}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0;font-size:.85em}td,th{border:1px solid #ccc;padding:2px 6px}\
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f2f2f2}\
.pass{color:#176b2c;font-weight:bold}.fail{color:#b3261e;font-weight:bold}.muted{color:#777}\
.panel{border:2px solid #ccc;padding:6px 10px;margin:.8em 0}.panel.ok{border-color:#176b2c}.panel.bad{border-color:#b3261e}\
svg{display:block;margin:.4em 0;max-width:100%;height:auto}";

/// Renders one of runner's HTML templates (`trial`, `compare`) with the
/// page's style and runner's version; text is HTML-escaped by the
/// template engine, charts go in as the SVG they are.
pub fn render(name: &str, ctx: Value) -> crate::error::Result<String> {
    let mut env = crate::template::environment();
    for (n, text) in [
        ("runner/page.html", include_str!("templates/page.html.j2")),
        ("runner/table.html", include_str!("templates/table.html.j2")),
        ("runner/trial.html", include_str!("templates/trial.html.j2")),
        (
            "runner/compare.html",
            include_str!("templates/compare.html.j2"),
        ),
        (
            "runner/series.html",
            include_str!("templates/series.html.j2"),
        ),
        (
            "runner/checks.html",
            include_str!("templates/checks.html.j2"),
        ),
    ] {
        env.add_template(n, text)
            .map_err(|e| crate::Error::msg(crate::template::describe(n, &e)))?;
    }
    let name = format!("runner/{name}.html");
    let ctx = context! {
        style => Value::from_safe_string(STYLE.to_string()),
        version => env!("CARGO_PKG_VERSION"),
        ..ctx
    };
    env.get_template(&name)
        .and_then(|t| t.render(ctx))
        .map_err(|e| crate::Error::msg(crate::template::describe(&name, &e)))
}

/// An SVG chart, to go into a page as it is.
fn svg(s: String) -> Value {
    Value::from_safe_string(s)
}

/// Writes the report of the trial in `dir`; its path.
pub fn write(plan: &Plan, dir: &Path, trial: &Trial) -> crate::error::Result<PathBuf> {
    let html = page(plan, dir, trial)?;
    let path = dir.join("report.html");
    crate::state::write_atomic(&path, html.as_bytes())?;
    // A page to share: readable by others, like the tables beside it.
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o644));
    }
    Ok(path)
}

fn time(epoch: f64) -> String {
    if epoch <= 0.0 {
        return "-".into();
    }
    humantime::format_rfc3339_millis(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(epoch),
    )
    .to_string()
}

pub fn page(plan: &Plan, dir: &Path, trial: &Trial) -> crate::error::Result<String> {
    let t0 = trial.trigger_epoch;
    let ends = trial
        .tests
        .iter()
        .flat_map(|t| t.hosts.values().map(|r| r.end))
        .chain(
            trial
                .monitors
                .iter()
                .flat_map(|m| m.hosts.values().map(|r| r.stopped)),
        )
        .fold(0.0f64, f64::max);
    let hosts: Vec<Value> = trial
        .hosts
        .iter()
        .map(|(name, h)| {
            context! {
                name, address => &h.address,
                offset => format!("{:+.3}", h.clock_offset_ms),
                rtt => format!("{:.3}", h.rtt_ms),
                link => h.link.as_ref().map(link_shown),
            }
        })
        .collect();
    let analyses: Vec<Value> = plan
        .analyses
        .iter()
        .map(|a| analysis(a, dir, trial))
        .collect();
    render(
        "trial",
        context! {
            trial => crate::template::value(trial),
            trigger => time(t0),
            last_activity => time(ends),
            after_trigger => format!("{:.1}", (ends - t0).max(0.0)),
            checks => checks_panel(trial),
            hosts,
            timeline => timeline(trial),
            analyses,
        },
    )
}

/// A host's link for people: as configured, and as measured.
fn link_shown(l: &crate::trial::TrialLink) -> Value {
    let configured = l
        .configured
        .as_ref()
        .map_or("not shaped".to_string(), |c| c.describe());
    let measured = match (&l.measured, &l.error) {
        (Some(m), _) => {
            let mut s = format!("round trip {:.2} ms", m.rtt_ms);
            if let Some(r) = m.rate_bps {
                let at_least = if m.rate_at_least { "at least " } else { "" };
                s.push_str(&format!(
                    ", {at_least}{}",
                    crate::units::human(r, Some("bit/s"))
                ));
            }
            s
        }
        (None, Some(e)) => format!("not measured: {e}"),
        (None, None) => String::new(),
    };
    context! { configured, measured }
}

fn checks_panel(trial: &Trial) -> Option<Value> {
    checks_of(&trial.checks)
}

/// The pass/fail panel of checks (a trial's or a series').
pub(crate) fn checks_of(checks: &[crate::check::CheckResult]) -> Option<Value> {
    if checks.is_empty() {
        return None;
    }
    let failed = checks.iter().filter(|c| !c.passed).count();
    let n = checks.len();
    let rows: Vec<Value> = checks
        .iter()
        .map(|c| {
            let (class, word) = match (c.passed, c.no_baseline) {
                (_, true) => ("muted", "no baseline"),
                (true, _) => ("pass", "pass"),
                (false, _) => ("fail", "FAIL"),
            };
            let line = c.line();
            let detail = line.split_once(" — ").map_or("", |x| x.1).to_string();
            context! { name => &c.name, class, word, column => &c.column, limit => &c.limit, detail }
        })
        .collect();
    Some(if failed == 0 {
        context! { class => "ok", head_class => "pass", head => format!("all {n} checks passed"), rows }
    } else {
        context! { class => "bad", head_class => "fail", head => format!("{failed} of {n} checks failed"), rows }
    })
}

fn timeline(trial: &Trial) -> Option<Value> {
    let t0 = trial.trigger_epoch;
    let mut lanes = Vec::new();
    let mut marks = Vec::new();
    for t in &trial.tests {
        marks.push((t.armed_at - t0, format!("{} armed", t.name)));
        for (host, r) in &t.hosts {
            if r.start <= 0.0 {
                lanes.push(Lane {
                    label: format!("test {} · {host} (no result)", t.name),
                    spans: Vec::new(),
                });
                continue;
            }
            lanes.push(Lane {
                label: format!("test {} · {host}", t.name),
                spans: vec![(r.start - t0, r.end.max(r.start) - t0, !r.succeeded())],
            });
        }
    }
    for m in &trial.monitors {
        for (host, r) in &m.hosts {
            if r.started > 0.0 {
                let failed = r.error.is_some() || r.exited.is_some();
                lanes.push(Lane {
                    label: format!("monitor {} · {host}", m.name),
                    spans: vec![(r.started - t0, r.stopped.max(r.started) - t0, failed)],
                });
            }
        }
    }
    chart::timeline(&lanes, &marks).map(svg)
}

/// A table as the page shows it: every cell's text, numbers in readable
/// units with the exact value beside them (`title`), as the CSV has it.
pub struct Shown {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Shown {
    pub(crate) fn read(path: &Path) -> Option<Shown> {
        let mut r = csv::Reader::from_path(path).ok()?;
        let headers: Vec<String> = r.headers().ok()?.iter().map(str::to_string).collect();
        let rows: Vec<Vec<String>> = r
            .records()
            .filter_map(Result::ok)
            .map(|rec| rec.iter().map(str::to_string).collect())
            .collect();
        Some(Shown { headers, rows })
    }

    /// Headers, and per row each cell as `{shown, exact}` (`exact` none
    /// for text).
    pub(crate) fn value(&self) -> Value {
        // A long table (dstat) carries its figures' unit in a `unit` column.
        let unit_col = self.headers.iter().position(|h| h == "unit");
        let units: Vec<Option<&str>> = self
            .headers
            .iter()
            .map(|h| h.rsplit_once(" (").and_then(|(_, u)| u.strip_suffix(')')))
            .collect();
        let rows: Vec<Vec<Value>> = self
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .enumerate()
                    .map(|(i, cell)| {
                        let Ok(v) = cell.parse::<f64>() else {
                            return context! { shown => cell, exact => () };
                        };
                        let unit = units[i].or_else(|| {
                            matches!(
                                self.headers[i].as_str(),
                                "mean"
                                    | "min"
                                    | "max"
                                    | "stddev"
                                    | "ci95_low"
                                    | "ci95_high"
                                    | "median"
                                    | "pooled"
                                    | "mean_a"
                                    | "mean_b"
                            )
                            .then(|| unit_col.and_then(|u| row.get(u)))
                            .flatten()
                            .map(String::as_str)
                        });
                        context! { shown => crate::units::human(v, unit), exact => cell }
                    })
                    .collect()
            })
            .collect();
        context! { headers => &self.headers, rows }
    }
}

fn analysis(a: &Analysis, dir: &Path, trial: &Trial) -> Value {
    let table = Shown::read(&dir.join("analysis").join(format!("{}.csv", a.name)));
    let mut charts: Vec<Value> = charts(a, dir, trial).into_iter().map(svg).collect();
    if let Some(t) = &table
        && let Some(bars) = host_bars(a, &t.headers, &t.rows)
    {
        charts.push(svg(bars));
    }
    context! {
        name => &a.name,
        parser => a.parser.name(),
        table => table.as_ref().map(Shown::value),
        charts,
    }
}

/// The charts of an analysis's input files: iperf3 interval throughput,
/// HDR latency spectra, dstat/dool series with the tests' windows shaded.
fn charts(a: &Analysis, dir: &Path, trial: &Trial) -> Vec<String> {
    // Relative to the trial directory.
    let files: Vec<PathBuf> = crate::trial::matching_files(dir, &a.files)
        .unwrap_or_default()
        .into_iter()
        .map(|f| dir.join(f))
        .collect();
    let label = |p: &PathBuf| p.strip_prefix(dir).unwrap_or(p).display().to_string();
    let t0 = trial.trigger_epoch;
    let spans: Vec<Span> = trial
        .windows()
        .into_iter()
        .map(|w| Span {
            from: w.start - t0,
            to: w.end - t0,
            label: w.name,
        })
        .collect();
    match a.parser {
        ParserKind::Iperf3 => {
            let series: Vec<Series> = files
                .iter()
                .filter_map(|f| {
                    iperf3_intervals(f, t0).map(|points| Series {
                        name: label(f),
                        points,
                    })
                })
                .collect();
            let title = format!("{}: interval throughput", a.name);
            chart::lines(&title, XAxis::Seconds, "bit/s", &series, &spans, 340)
                .into_iter()
                .collect()
        }
        ParserKind::Hdr => {
            let title = format!("{}: latency by percentile", a.name);
            let series = spectra(a, dir, "");
            chart::lines(
                &title,
                XAxis::Nines,
                "latency (as logged)",
                &series,
                &[],
                380,
            )
            .into_iter()
            .collect()
        }
        ParserKind::Dstat => {
            let recs: Vec<(String, crate::analyze::dstat::Recording)> = files
                .iter()
                .filter_map(|f| Some((label(f), crate::analyze::dstat::read_file(f).ok()?)))
                .collect();
            if recs.len() <= 3 {
                // A few hosts: one chart per column group and host.
                recs.iter()
                    .flat_map(|(name, rec)| dstat_charts(rec, t0, &spans, name))
                    .collect()
            } else {
                // Many hosts: one chart per column, a line per host.
                dstat_by_column(&recs, a, t0, &spans)
            }
        }
        _ => Vec::new(),
    }
}

/// Each interval's rate at its end, in seconds since the trigger.
fn iperf3_intervals(path: &Path, t0: f64) -> Option<Vec<(f64, f64)>> {
    let v: serde_json::Value = serde_json::from_slice(&fs_err::read(path).ok()?).ok()?;
    let start = v["start"]["timestamp"]["timesecs"].as_f64()?;
    let points: Vec<(f64, f64)> = v["intervals"]
        .as_array()?
        .iter()
        .filter_map(|i| {
            let s = &i["sum"];
            Some((
                start + s["end"].as_f64()? - t0,
                s["bits_per_second"].as_f64()?,
            ))
        })
        .collect();
    (!points.is_empty()).then_some(points)
}

/// One latency spectrum per HDR file of the analysis in `dir` and tag,
/// named `<prefix><file> [tag]`.
pub fn spectra(a: &Analysis, dir: &Path, prefix: &str) -> Vec<Series> {
    let filter = crate::analyze::hdr::TagFilter::parse(&a.tag);
    let mut series = Vec::new();
    for f in crate::trial::matching_files(dir, &a.files).unwrap_or_default() {
        let Ok(m) = crate::analyze::hdr::read_file(&dir.join(&f), &filter) else {
            continue;
        };
        for (tag, merged) in &m.groups {
            let tag = tag.as_ref().map_or(String::new(), |t| format!(" [{t}]"));
            series.push(Series {
                name: format!("{prefix}{}{tag}", f.display()),
                points: spectrum(&merged.hist),
            });
        }
    }
    series
}

/// Latency at percentiles spaced evenly on the nines axis, up to the
/// resolution the count allows.
pub fn spectrum(hist: &hdrhistogram::Histogram<u64>) -> Vec<(f64, f64)> {
    let n = hist.len();
    if n == 0 {
        return Vec::new();
    }
    let max_nines = (n as f64).log10().clamp(1.0, 6.0);
    let steps = 120;
    (0..=steps)
        .map(|i| {
            let x = max_nines * f64::from(i) / f64::from(steps);
            let p = 100.0 * (1.0 - 10f64.powf(-x));
            (x, crate::analyze::hdr::percentile(hist, p) as f64)
        })
        .collect()
}

fn series_of(rec: &crate::analyze::dstat::Recording, c: usize, t0: f64) -> Vec<(f64, f64)> {
    let width = rec.columns.len();
    rec.times
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let v = rec.values[i * width + c];
            v.is_finite().then_some((t - t0, v))
        })
        .collect()
}

/// The analysis's columns (or the first six that are not times), a chart
/// each with one line per host.
fn dstat_by_column(
    recs: &[(String, crate::analyze::dstat::Recording)],
    a: &Analysis,
    t0: f64,
    spans: &[Span],
) -> Vec<String> {
    let first = &recs[0].1;
    let columns: Vec<String> = if a.columns.is_empty() {
        first
            .columns
            .iter()
            .filter(|c| {
                !matches!(
                    c.split_once('.').map_or(c.as_str(), |g| g.0),
                    "time" | "epoch" | "system"
                )
            })
            .take(6)
            .cloned()
            .collect()
    } else {
        a.columns.clone()
    };
    columns
        .iter()
        .filter_map(|col| {
            let series: Vec<Series> = recs
                .iter()
                .filter_map(|(name, rec)| {
                    let c = rec.column_index(col)?;
                    Some(Series {
                        name: name.clone(),
                        points: series_of(rec, c, t0),
                    })
                })
                .collect();
            chart::lines(col, XAxis::Seconds, first.unit_of(col), &series, spans, 300)
        })
        .collect()
}

/// One small chart per column group (`total cpu usage`, `net/total`, …).
fn dstat_charts(
    rec: &crate::analyze::dstat::Recording,
    t0: f64,
    spans: &[Span],
    file: &str,
) -> Vec<String> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (c, name) in rec.columns.iter().enumerate() {
        let group_of = name.split_once('.').map_or(name.as_str(), |g| g.0);
        if matches!(group_of, "time" | "epoch" | "system") {
            continue;
        }
        let group = name
            .split_once('.')
            .map_or(name.as_str(), |g| g.0)
            .to_string();
        match groups.iter_mut().find(|g| g.0 == group) {
            Some(g) => g.1.push(c),
            None => groups.push((group, vec![c])),
        }
    }
    let mut out = Vec::new();
    for (group, cols) in groups.into_iter().take(12) {
        let series: Vec<Series> = cols
            .iter()
            .map(|&c| Series {
                name: rec.columns[c]
                    .split_once('.')
                    .map_or(rec.columns[c].clone(), |x| x.1.to_string()),
                points: series_of(rec, c, t0),
            })
            .collect();
        let unit = rec.unit_of(&rec.columns[cols[0]]);
        if let Some(svg) = chart::lines(
            &format!("{file}: {group}"),
            XAxis::Seconds,
            unit,
            &series,
            spans,
            260,
        ) {
            out.push(svg);
        }
    }
    out
}

/// Bars of each row's headline figure by host, when the table has hosts.
fn host_bars(a: &Analysis, headers: &[String], rows: &[Vec<String>]) -> Option<String> {
    // Rows are named by `host`, or by `source` (`tcp / client[0]` with `by`).
    let host_col = headers
        .iter()
        .position(|c| c == "host")
        .or_else(|| headers.iter().position(|c| c == "source"))?;
    let wanted: &[&str] = match a.parser {
        ParserKind::Iperf3 => &["received (bit/s)"],
        ParserKind::Iperf2 => &["rate (bit/s)"],
        ParserKind::Hdr => &["p99"],
        _ => &[],
    };
    let col = headers.iter().position(|c| {
        wanted
            .iter()
            .any(|w| c == w || c.split_once(" (").is_some_and(|x| x.0 == *w))
    })?;
    let test_col = headers.iter().position(|c| c == "test");
    // Rows of one host may differ by tag (HDR): the tag names the bar.
    let tag_col = headers.iter().position(|c| c == "tag");
    let items: Vec<(String, f64)> = rows
        .iter()
        .filter_map(|r| {
            let v = r.get(col)?.parse::<f64>().ok()?;
            let host = r.get(host_col)?;
            let mut label = match test_col.and_then(|t| r.get(t)) {
                Some(t) => format!("{t} · {host}"),
                None => host.clone(),
            };
            if let Some(tag) = tag_col.and_then(|t| r.get(t)).filter(|t| !t.is_empty()) {
                label.push_str(&format!(" [{tag}]"));
            }
            Some((label, v))
        })
        .collect();
    chart::bars(
        &format!(
            "{}: {} {}",
            a.name,
            headers[col],
            if a.by.contains(&crate::plan::model::By::Host) {
                "by host"
            } else {
                "per row"
            }
        ),
        &headers[col],
        &items,
    )
}
