//! Per-request (per-event) logs: a line per event with a latency column,
//! optionally a timestamp and label or status columns — pgbench's
//! `--log`, JMeter's JTL, ab's `-g`, any load generator's CSV. Streamed
//! into an HdrHistogram per label (memory bounded by the histograms, not by
//! the lines), merged exactly across files and hosts, cut into test windows
//! by timestamp. Figures: count, events/s, mean, stddev, min, max (exact:
//! running sums) and the percentiles asked (from the merged histograms,
//! Java HdrHistogram's definition, within its precision).
//!
//! A column is named by its header or by its number (1 is the first); a
//! file is comma-, tab- or whitespace-separated (seen from its first line).

mod columns;
mod fields;
mod moments;
mod read;

use std::collections::BTreeMap;
use std::path::PathBuf;

use moments::Moments;
use read::read_all;

use hdrhistogram::Histogram;

use super::latency;
use super::parser::{Declaration, Kind, OptionDecl, Options, Parser, Refusal, Value};
use super::{Analysed, FileError, Found, Group, Window};
use crate::table::{Cell, Column, Table};

/// Per-event logs, as the plan describes their columns.
pub struct Samples;

pub(super) const LATENCY: OptionDecl = OptionDecl {
    name: "latency",
    kind: Kind::Text,
    help: "the latency column: its header (`elapsed`) or its number (1 is the first); required",
};
pub(super) const UNIT: OptionDecl = OptionDecl {
    name: "unit",
    kind: Kind::Text,
    help: "the latency column's unit: ns, us, ms or s; required",
};
pub(super) const PRECISION: OptionDecl = OptionDecl {
    name: "precision",
    kind: Kind::Numbers,
    help: "the histograms' significant digits, 1 to 5 (default 3: percentiles within 0.1 %)",
};

static DECLARATION: Declaration = Declaration {
    name: "samples",
    aliases: &[],
    reads: "any per-request log (a line per event: latency, optionally time, label, status), merged exactly through HdrHistogram",
    options: &[
        LATENCY,
        UNIT,
        OptionDecl {
            name: "time",
            kind: Kind::Text,
            help: "the timestamp column (seconds since the epoch, with a fraction), for events/s and test windows",
        },
        OptionDecl {
            name: "time_us",
            kind: Kind::Text,
            help: "a column of microseconds to add to `time` (pgbench writes epoch and µs apart)",
        },
        OptionDecl {
            name: "time_unit",
            kind: Kind::Text,
            help: "the unit of `time`: s (default), ms or us",
        },
        OptionDecl {
            name: "label",
            kind: Kind::Texts,
            help: "columns whose values split the rows (a request's name)",
        },
        OptionDecl {
            name: "status",
            kind: Kind::Text,
            help: "a column that tells success from error: errors are rows of their own",
        },
        OptionDecl {
            name: "ok",
            kind: Kind::Texts,
            help: "the `status` values that mean success (default true, ok, 0, 200, success; any case)",
        },
        OptionDecl {
            name: "separator",
            kind: Kind::Text,
            help: "`comma`, `tab`, `semicolon`, `space` (any run of blanks) or `auto` (default: from the first line)",
        },
        OptionDecl {
            name: "header",
            kind: Kind::Text,
            help: "whether the first line names the columns: `yes`, `no`, or `auto` (default: yes when a column is named, or when its latency is not a number)",
        },
        OptionDecl {
            name: "skip",
            kind: Kind::Texts,
            help: "latency values that mean no latency, counted as skipped (default `skipped`, `failed`: pgbench's)",
        },
        latency::OPTION,
        PRECISION,
    ],
    keys: &["source", "label", "status"],
    headline: &["p99", "p50", "events/s"],
    histograms: true,
    spans_tests: false,
};

impl Parser for Samples {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn check(&self, opts: &Options) -> Vec<Refusal> {
        check_spec(opts, Spec::of(opts))
    }

    fn analyze(&self, groups: &[Group], opts: &Options, found: &mut Found) -> Analysed {
        analyze_spec(Spec::of(opts), groups, &opts.windows, found)
    }

    fn plots(
        &self,
        files: &[(String, PathBuf)],
        opts: &Options,
        _t0: f64,
    ) -> Vec<crate::plot::Plot> {
        let unit = opts.text("unit").unwrap_or("us");
        latency::spectra(self, files, opts, unit)
    }

    fn histograms(&self, files: &[PathBuf], opts: &Options) -> Vec<(String, Histogram<u64>)> {
        histograms_spec(Spec::of(opts), files)
    }
}

/// A tool's own per-event log read as samples: the columns as the tool's
/// format `fixed`s them (texts, and lists of texts), the user's
/// percentiles and precision kept.
pub(super) fn fixed(
    opts: &Options,
    fixed: &[(&str, &str)],
    lists: &[(&str, &str)],
) -> Result<Spec, Refusal> {
    let mut o = opts.clone();
    for (k, v) in fixed {
        o.values.insert(k.to_string(), Value::Text(v.to_string()));
    }
    for (k, v) in lists {
        o.values
            .insert(k.to_string(), Value::Texts(vec![v.to_string()]));
    }
    Spec::of(&o)
}

/// What a samples-backed parser refuses: the percentiles asked, the spec.
pub(super) fn check_spec(opts: &Options, spec: Result<Spec, Refusal>) -> Vec<Refusal> {
    let mut out = latency::check(opts);
    out.extend(spec.err());
    out
}

/// The table of the groups' logs, or the spec's refusal as a problem.
pub(super) fn analyze_spec(
    spec: Result<Spec, Refusal>,
    groups: &[Group],
    windows: &[Window],
    found: &mut Found,
) -> Analysed {
    match spec {
        Ok(spec) => analyze_with(&spec, groups, windows, found),
        Err(r) => {
            found.problems.push(r.message);
            (None, Vec::new())
        }
    }
}

/// The files' histograms merged per row name (none when refused).
pub(super) fn histograms_spec(
    spec: Result<Spec, Refusal>,
    files: &[PathBuf],
) -> Vec<(String, Histogram<u64>)> {
    match spec {
        Ok(spec) if !files.is_empty() => histograms_with(&spec, files),
        _ => Vec::new(),
    }
}

/// Every file's histograms merged per row name (label and status), in the
/// unit of the latency column: what spectra and pooled series figures use.
fn histograms_with(spec: &Spec, files: &[PathBuf]) -> Vec<(String, Histogram<u64>)> {
    let mut merged: BTreeMap<String, Acc> = BTreeMap::new();
    for f in read_all(spec, files, &[]).into_iter().flatten() {
        for (key, acc) in f.accs {
            let name = key.row_name();
            match merged.get_mut(&name) {
                Some(m) => m.add(&acc),
                None => {
                    merged.insert(name, acc);
                }
            }
        }
    }
    merged
        .into_iter()
        .map(|(name, acc)| (name, acc.in_unit()))
        .collect()
}

/// A column as the plan names it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Col {
    Name(String),
    /// 0-based.
    Index(usize),
}

impl Col {
    fn of(text: &str) -> Col {
        match text.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Col::Index(n - 1),
            _ => Col::Name(text.to_string()),
        }
    }

    fn shown(&self) -> String {
        match self {
            Col::Name(n) => format!("column `{n}`"),
            Col::Index(i) => format!("column {}", i + 1),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Sep {
    Auto,
    Comma,
    Tab,
    Semicolon,
    Space,
}

/// How a file's lines are read: which column is what.
#[derive(Debug, Clone)]
pub(super) struct Spec {
    pub latency: Col,
    /// The latency column's unit.
    pub unit: String,
    pub time: Option<Col>,
    pub time_us: Option<Col>,
    /// Seconds per unit of `time`, and that unit.
    pub time_scale: f64,
    pub time_unit: String,
    pub labels: Vec<Col>,
    pub status: Option<Col>,
    /// Lower-case success values.
    pub ok: Vec<String>,
    pub sep: Sep,
    /// `None`: decided from the first line.
    pub header: Option<bool>,
    pub skip: Vec<String>,
    pub sigfig: u8,
    pub percentiles: Vec<f64>,
}

fn refusal(option: &str, message: String, help: &str) -> Refusal {
    Refusal {
        option: option.into(),
        message,
        help: help.into(),
    }
}

/// The seconds in one `unit`.
pub(super) fn seconds_per(unit: &str) -> Option<f64> {
    match unit {
        "ns" => Some(1e-9),
        "us" | "µs" => Some(1e-6),
        "ms" => Some(1e-3),
        "s" => Some(1.0),
        _ => None,
    }
}

impl Spec {
    pub(super) fn of(opts: &Options) -> Result<Spec, Refusal> {
        let (latency, unit) = latency_column(opts)?;
        let time_unit = opts.text("time_unit").unwrap_or("s");
        let time_scale = seconds_per(time_unit).ok_or_else(|| {
            refusal(
                "time_unit",
                format!("unknown unit `{time_unit}`"),
                "a timestamp is in s (default), ms or us since the epoch",
            )
        })?;
        let lower = |v: &[String]| v.iter().map(|s| s.to_ascii_lowercase()).collect::<Vec<_>>();
        let ok = match opts.texts("ok") {
            [] => ["true", "ok", "0", "200", "success"]
                .map(String::from)
                .to_vec(),
            given => lower(given),
        };
        let skip = match opts.texts("skip") {
            [] => vec!["skipped".to_string(), "failed".to_string()],
            given => lower(given),
        };
        Ok(Spec {
            latency,
            unit,
            time: opts.text("time").map(Col::of),
            time_us: opts.text("time_us").map(Col::of),
            time_scale,
            time_unit: time_unit.to_string(),
            labels: opts.texts("label").iter().map(|l| Col::of(l)).collect(),
            status: opts.text("status").map(Col::of),
            ok,
            sep: separator(opts)?,
            header: header(opts)?,
            skip,
            sigfig: sigfig(opts)?,
            percentiles: latency::asked(opts),
        })
    }

    fn names_a_column(&self) -> bool {
        let named = |c: &Col| matches!(c, Col::Name(_));
        named(&self.latency)
            || self.time.as_ref().is_some_and(named)
            || self.time_us.as_ref().is_some_and(named)
            || self.status.as_ref().is_some_and(named)
            || self.labels.iter().any(named)
    }
}

/// The latency column and its unit, both required.
fn latency_column(opts: &Options) -> Result<(Col, String), Refusal> {
    let latency = opts.text("latency").ok_or_else(|| {
        refusal(
            "latency",
            "`samples` needs `latency`: the column of the latency".into(),
            "name it by its header (`latency = \"elapsed\"`) or number (`latency = 3`)",
        )
    })?;
    let unit = opts.text("unit").ok_or_else(|| {
        refusal(
            "unit",
            "`samples` needs `unit`: a log does not say the latency's unit".into(),
            "add `unit = \"us\"` (ns, us, ms or s)",
        )
    })?;
    seconds_per(unit).ok_or_else(|| {
        refusal(
            "unit",
            format!("unknown unit `{unit}`"),
            "the latency's unit is ns, us, ms or s",
        )
    })?;
    Ok((Col::of(latency), unit.to_string()))
}

fn separator(opts: &Options) -> Result<Sep, Refusal> {
    Ok(match opts.text("separator").unwrap_or("auto") {
        "auto" => Sep::Auto,
        "comma" | "," => Sep::Comma,
        "tab" | "\t" => Sep::Tab,
        "semicolon" | ";" => Sep::Semicolon,
        "space" | "whitespace" | " " => Sep::Space,
        other => {
            return Err(refusal(
                "separator",
                format!("unknown separator `{other}`"),
                "`comma`, `tab`, `semicolon`, `space` or `auto`",
            ));
        }
    })
}

fn header(opts: &Options) -> Result<Option<bool>, Refusal> {
    Ok(match opts.text("header").unwrap_or("auto") {
        "auto" => None,
        "yes" | "true" => Some(true),
        "no" | "false" => Some(false),
        other => {
            return Err(refusal(
                "header",
                format!("`header = \"{other}\"`"),
                "`yes`, `no` or `auto`",
            ));
        }
    })
}

/// The histograms' significant digits (`precision`, default 3).
fn sigfig(opts: &Options) -> Result<u8, Refusal> {
    match opts.numbers("precision").and_then(|p| p.first().copied()) {
        None => Ok(3),
        Some(p) if (1.0..=5.0).contains(&p) && p.fract() == 0.0 => Ok(p as u8),
        Some(p) => Err(refusal(
            "precision",
            format!("`precision = {p}`"),
            "significant digits from 1 to 5",
        )),
    }
}

/// A row of the table: its labels, whether errors, its window.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Key {
    labels: Vec<String>,
    /// `Some(false)`: the status said error.
    ok: Option<bool>,
    window: Option<usize>,
}

impl Key {
    fn row_name(&self) -> String {
        let mut name = self.labels.join(" / ");
        if self.ok == Some(false) {
            if !name.is_empty() {
                name.push(' ');
            }
            name.push_str("(errors)");
        }
        name
    }
}

/// One row's figures as they are gathered: a histogram (in thousandths of
/// the latency's unit), exact running sums, the time span seen.
#[derive(Debug, Clone)]
pub(super) struct Acc {
    hist: Histogram<u64>,
    n: u64,
    moments: Moments,
    min: f64,
    max: f64,
    skipped: u64,
    first: f64,
    last: f64,
    /// Every timestamp whole in its unit (ab's `-g` has whole seconds).
    whole_stamps: bool,
    /// Decimals of the latency values as written (at most 3): the
    /// precision percentiles are shown to.
    decimals: u8,
}

/// An event's time: seconds since the epoch, and whether the log wrote
/// it as a whole number of its unit.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stamp {
    pub t: f64,
    pub whole: bool,
}

/// A span of whole timestamps shorter than this many of their unit gives
/// no events/s: its ends are uncertain by one unit each (1 %).
const COARSE: f64 = 100.0;

/// Histogram ticks per unit of the latency column: a thousandth of it, so
/// that fractions (ms with µs) are kept.
const TICKS: f64 = 1000.0;

impl Acc {
    fn new(sigfig: u8) -> Acc {
        let mut hist = Histogram::new(sigfig).expect("1 to 5 significant digits");
        hist.auto(true);
        Acc {
            hist,
            n: 0,
            moments: Moments::default(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            skipped: 0,
            first: f64::INFINITY,
            last: f64::NEG_INFINITY,
            whole_stamps: true,
            decimals: 0,
        }
    }

    fn record(&mut self, v: f64, stamp: Option<Stamp>, decimals: u8) {
        self.n += 1;
        self.moments.record(v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.decimals = self.decimals.max(decimals.min(3));
        let _ = self.hist.record((v * TICKS).round().max(0.0) as u64);
        if let Some(s) = stamp {
            self.first = self.first.min(s.t);
            self.last = self.last.max(s.t);
            self.whole_stamps &= s.whole;
        }
    }

    /// `other` merged in: histograms added, moments combined.
    fn add(&mut self, other: &Acc) {
        let _ = self.hist.add(&other.hist);
        self.n += other.n;
        self.moments.add(&other.moments);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.skipped += other.skipped;
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
        self.whole_stamps &= other.whole_stamps;
        self.decimals = self.decimals.max(other.decimals);
    }

    /// Seconds between the first and last event, when they tell a rate:
    /// `Err(())` for whole timestamps too coarse for the span.
    fn span(&self, resolution: f64) -> Option<Result<f64, ()>> {
        let span = self.last - self.first;
        if span.is_nan() || span <= 0.0 {
            return None;
        }
        Some(if self.whole_stamps && span < COARSE * resolution {
            Err(())
        } else {
            Ok(span)
        })
    }

    /// The histogram in units of the latency column (ticks rescaled), for
    /// spectra: each value's count at its value.
    fn in_unit(&self) -> Histogram<u64> {
        let mut h = Histogram::new(self.hist.sigfig()).expect("valid sigfig");
        h.auto(true);
        for v in self.hist.iter_recorded() {
            let value = (v.value_iterated_to() as f64 / TICKS).round() as u64;
            let _ = h.record_n(value, v.count_at_value());
        }
        h
    }

    /// A percentile in the latency's unit, shown to the input's
    /// precision, and never beyond the exact min and max (a histogram's
    /// bucket reaches past the largest value in it).
    fn percentile(&self, p: f64) -> f64 {
        let ticks = latency::percentile(&self.hist, p) as f64;
        let scale = 10f64.powi(i32::from(self.decimals));
        ((ticks / TICKS * scale).round() / scale).clamp(self.min, self.max)
    }
}

fn analyze_with(spec: &Spec, groups: &[Group], windows: &[Window], found: &mut Found) -> Analysed {
    let parsed = super::Parsed::new(
        groups,
        |files| read_all(spec, files, windows),
        &mut found.errors,
    );
    if !parsed.any() {
        return (None, parsed.read_files());
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut coarse: Vec<String> = Vec::new();
    for g in groups {
        let mut merged: BTreeMap<Key, Acc> = BTreeMap::new();
        let mut outside = 0;
        for (_, f) in parsed.of(g) {
            outside += f.outside;
            for (k, a) in &f.accs {
                match merged.get_mut(k) {
                    Some(m) => m.add(a),
                    None => {
                        merged.insert(k.clone(), a.clone());
                    }
                }
            }
        }
        if outside > 0 {
            found.problems.push(format!(
                "{}: {} outside every test window (left out)",
                g.label,
                crate::style::plural(outside as usize, "event")
            ));
        }
        for (k, acc) in merged {
            let (source, span) = match k.window.map(|w| &windows[w]) {
                Some(w) => (format!("{} / {}", g.label, w.name), Some(w.end - w.start)),
                None => match acc.span(spec.time_scale) {
                    Some(Err(())) => {
                        coarse.push(g.label.clone());
                        (g.label.clone(), None)
                    }
                    span => (g.label.clone(), span.and_then(Result::ok)),
                },
            };
            rows.push(Row {
                source,
                key: k,
                acc,
                span,
            });
        }
    }
    let mut t = table(spec, rows);
    if !coarse.is_empty() {
        coarse.dedup();
        t.notes.push(format!(
            "events/s left empty for {}: the timestamps are whole numbers of {} and span fewer than {COARSE} of them, so a rate would be off by up to one at each end (give the test's window, or a log with finer timestamps).",
            coarse.join(", "),
            spec.time_unit
        ));
    }
    t.notes.push(format!(
        "Latencies in {} from {}; each row's events in one HdrHistogram ({} significant digits), merged exactly across files and hosts; percentiles from the merged histograms (never averaged), within their precision; count, mean, stddev (the population's) min and max exact. events/s: count over the test's window, else over the time between the first and last event.",
        spec.unit,
        spec.latency.shown(),
        spec.sigfig
    ));
    (Some(t), parsed.read_files())
}

/// A row of the table, gathered.
pub(super) struct Row {
    pub source: String,
    pub key: Key,
    pub acc: Acc,
    /// Seconds the row's events span (its window, or first to last).
    pub span: Option<f64>,
}

/// The table: source, label and status where given, then the figures.
pub(super) fn table(spec: &Spec, rows: Vec<Row>) -> Table {
    let unit = spec.unit.as_str();
    let labels = rows.iter().any(|r| !r.key.labels.is_empty());
    let status = rows.iter().any(|r| r.key.ok.is_some());
    let skipped = rows.iter().any(|r| r.acc.skipped > 0);
    let mut columns = vec![Column::text("source")];
    if labels {
        columns.push(Column::text("label"));
    }
    if status {
        columns.push(Column::text("status"));
    }
    columns.push(Column::int("count", None));
    if skipped {
        columns.push(Column::int("skipped", None));
    }
    // Values as precise as the log wrote them (whole µs stay whole); the
    // mean and stddev to 3 decimals.
    let written = rows.iter().map(|r| r.acc.decimals).max().unwrap_or(0) as usize;
    columns.push(Column::float("events/s", Some("1/s"), 2));
    columns.push(Column::float("min", Some(unit), written));
    columns.push(Column::float("mean", Some(unit), 3));
    columns.push(Column::float("stddev", Some(unit), 3));
    for &p in &spec.percentiles {
        columns.push(Column::float(&latency::name(p), Some(unit), written));
    }
    columns.push(Column::float("max", Some(unit), written));
    let rows = rows
        .into_iter()
        .map(|r| {
            let a = &r.acc;
            let some = a.n > 0;
            let f = |v: f64| if some { Cell::Float(v) } else { Cell::Empty };
            let mut cells = vec![Cell::Text(r.source)];
            if labels {
                cells.push(Cell::Text(r.key.labels.join(" / ")));
            }
            if status {
                cells.push(Cell::Text(
                    match r.key.ok {
                        Some(false) => "error",
                        _ => "ok",
                    }
                    .into(),
                ));
            }
            cells.push(Cell::Int(i128::from(a.n)));
            if skipped {
                cells.push(Cell::Int(i128::from(a.skipped)));
            }
            cells.push(
                r.span
                    .filter(|s| *s > 0.0)
                    .map_or(Cell::Empty, |s| Cell::Float(a.n as f64 / s)),
            );
            cells.extend([f(a.min), f(a.moments.mean())]);
            // The population's (as HdrHistogram's and pgbench's own).
            cells.push(f(a.moments.variance().sqrt()));
            cells.extend(spec.percentiles.iter().map(|&p| f(a.percentile(p))));
            cells.push(f(a.max));
            cells
        })
        .collect();
    Table {
        title: "latency (per-event samples, merged)".into(),
        columns,
        rows,
        notes: Vec::new(),
    }
}
