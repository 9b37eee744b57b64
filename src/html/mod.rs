//! `trials/<plan>/<id>/report.html`: one self-contained page per trial —
//! inline CSS and SVG, no script, nothing fetched — readable offline and
//! attached to a ticket. It shows the trial's header, the checks, the
//! hosts, a timeline, every analysis table (the CSV's figures) and charts:
//! monitored time series with the test windows shaded, iperf3 interval
//! throughput, HdrHistogram percentile spectra, per-host bars.

pub mod chart;
pub mod compare;
mod forest;
pub mod history;
pub mod index;
pub mod series;
mod series_charts;
mod sweep;

use std::path::{Path, PathBuf};

use minijinja::{Value, context};

use chart::{Lane, Span};

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
    /// The table at `path`: none when it was not written, an error
    /// (said on the page) when it cannot be read.
    pub(crate) fn read(path: &Path) -> Result<Option<Shown>, String> {
        if !path.exists() {
            return Ok(None);
        }
        let t = crate::table::Csv::read(path)
            .map_err(|e| format!("{} cannot be read: {e}", crate::paths::shown(path)))?;
        Ok(Some(Shown {
            headers: t.headers,
            rows: t.rows,
        }))
    }

    /// Headers, and per row each cell as `{shown, exact}` (`exact` none
    /// for text).
    pub(crate) fn value(&self) -> Value {
        // A long table (dstat) carries its figures' unit in a `unit` column.
        let unit_col = self.headers.iter().position(|h| h == "unit");
        let units: Vec<Option<String>> = self
            .headers
            .iter()
            .map(|h| crate::table::Header::parse(h).unit)
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
                        let unit = units[i].as_deref().or_else(|| {
                            // Percentiles of the row's values (`p99`) too.
                            let h = self.headers[i].as_str();
                            let percentile = h
                                .strip_prefix('p')
                                .is_some_and(|r| !r.is_empty() && r.parse::<f64>().is_ok());
                            (percentile
                                || matches!(
                                    h,
                                    "mean"
                                        | "min"
                                        | "max"
                                        | "stddev"
                                        | "ci95_low"
                                        | "ci95_high"
                                        | "median"
                                        | "median_ci95_low"
                                        | "median_ci95_high"
                                        | "pooled"
                                        | "mean_a"
                                        | "mean_b"
                                ))
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
    let read = Shown::read(&dir.join("analysis").join(format!("{}.csv", a.name)));
    let (table, table_error) = match read {
        Ok(t) => (t, None),
        Err(e) => (None, Some(e)),
    };
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
        table_error,
        charts,
    }
}

/// The charts of an analysis's input files, as its parser draws them
/// (time series with the tests' windows shaded, latency spectra).
fn charts(a: &Analysis, dir: &Path, trial: &Trial) -> Vec<String> {
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
    a.parser
        .parser()
        .plots(&input_files(a, dir), &a.options, t0)
        .iter()
        .filter_map(|p| draw(&a.name, p, &spans))
        .collect()
}

/// An analysis's input files in the trial or series folder `dir`: (path
/// relative to it, path).
pub(crate) fn input_files(a: &Analysis, dir: &Path) -> Vec<(String, PathBuf)> {
    crate::trial::matching_files(dir, &a.files)
        .unwrap_or_default()
        .into_iter()
        .map(|f| (f.display().to_string(), dir.join(f)))
        .collect()
}

/// A parser's plot as an SVG chart, titled with the analysis.
pub(crate) fn draw(analysis: &str, p: &chart::Plot, spans: &[Span]) -> Option<String> {
    chart::lines(
        &format!("{analysis}: {}", p.title),
        p.x,
        &p.y,
        &p.series,
        if p.windows { spans } else { &[] },
        p.height,
    )
}

/// Bars of each row's headline figure by host, when the table has hosts.
fn host_bars(a: &Analysis, headers: &[String], rows: &[Vec<String>]) -> Option<String> {
    // Rows are named by `host`, or by `source` (`tcp / client[0]` with `by`).
    let host_col = headers
        .iter()
        .position(|c| c == "host")
        .or_else(|| headers.iter().position(|c| c == "source"))?;
    // The first headline figure, when its column has a unit: a column of
    // one quantity (not a long table's `mean` of mixed columns).
    let first = a.parser.decl().headline.first()?;
    let col = headers.iter().position(|c| {
        let h = crate::table::Header::parse(c);
        h.unit.is_some() && h.is(first)
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
