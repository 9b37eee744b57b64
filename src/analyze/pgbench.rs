//! pgbench's output, whichever it wrote: its summary on stdout (tps,
//! latency average and stddev, initial connection time, failures, rate
//! lag), its `--log` per-transaction logs (`client_id transaction_no time
//! script_no time_epoch time_us [schedule_lag] [retries]`: read as
//! per-event samples, latencies in µs merged exactly through
//! HdrHistogram), or its `--aggregate-interval` logs (a line per interval:
//! count, sum and sum of squares, min and max — merged exactly: means and
//! standard deviations from the sums, never averaged). One analysis reads
//! one kind; the kind is seen from each file's first line.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use super::file_kind::{self, FileKind};
use super::parser::{Declaration, Options, Parser, Refusal};
use super::samples::{self, Spec};
use super::{Analysed, FileError, Found, Group, Parsed, Window, latency, sequential};
use crate::table::{Cell, Column, Table};

pub struct Pgbench;

static DECLARATION: Declaration = Declaration {
    name: "pgbench",
    aliases: &[],
    reads: "pgbench's summary (stdout), its --log per-transaction logs (latency percentiles merged exactly) or its --aggregate-interval logs",
    options: &[latency::OPTION, samples::PRECISION],
    keys: &["source", "label"],
    headline: &["tps", "p99", "p50"],
    histograms: true,
    spans_tests: false,
};

/// What a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KindOf {
    Summary,
    Transactions,
    Aggregate,
}

impl FileKind for KindOf {
    const TOOL: &'static str = "pgbench";

    fn name(self) -> &'static str {
        match self {
            KindOf::Summary => "a summary (stdout)",
            KindOf::Transactions => "a per-transaction log (--log)",
            KindOf::Aggregate => "an aggregate log (--aggregate-interval)",
        }
    }

    /// A file's kind, from its first line that is not empty.
    fn of(path: &Path) -> Result<KindOf, FileError> {
        let head = file_kind::head(path)?;
        let Some(t) = head.lines().map(str::trim).find(|l| !l.is_empty()) else {
            return Err(FileError::whole(
                path,
                "the file is empty; expected pgbench output".into(),
            ));
        };
        if t.starts_with("pgbench") || t.contains(':') || t.contains('=') {
            return Ok(KindOf::Summary);
        }
        let fields: Vec<&str> = t.split_whitespace().collect();
        // An aggregate line starts with an epoch; a transaction's with a client id.
        match fields.first().and_then(|f| f.parse::<f64>().ok()) {
            Some(first) if first > 1e8 && fields.len() >= 6 => Ok(KindOf::Aggregate),
            Some(_) if fields.len() >= 6 => Ok(KindOf::Transactions),
            _ => Err(FileError::at(
                path,
                1,
                format!("`{t}`: not pgbench output (a summary, a --log line or an aggregate line)"),
            )),
        }
    }
}

/// The per-transaction logs as samples: latency (µs) in column 3, the
/// completion time in columns 5 and 6 (epoch, µs).
fn spec(opts: &Options) -> Result<Spec, Refusal> {
    samples::fixed(
        opts,
        &[
            ("latency", "3"),
            ("unit", "us"),
            ("time", "5"),
            ("time_us", "6"),
            ("separator", "space"),
            ("header", "no"),
        ],
        &[],
    )
}

impl Parser for Pgbench {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn check(&self, opts: &Options) -> Vec<Refusal> {
        samples::check_spec(opts, spec(opts))
    }

    fn analyze(&self, groups: &[Group], opts: &Options, found: &mut Found) -> Analysed {
        let Some((kind, readable)) = file_kind::one_kind(groups, found) else {
            return (None, Vec::new());
        };
        match kind {
            KindOf::Summary => summaries(&readable, found),
            KindOf::Aggregate => aggregates(&readable, &opts.windows, found),
            KindOf::Transactions => {
                samples::analyze_spec(spec(opts), &readable, &opts.windows, found)
            }
        }
    }

    fn plots(
        &self,
        files: &[(String, PathBuf)],
        opts: &Options,
        _t0: f64,
    ) -> Vec<crate::plot::Plot> {
        latency::spectra(self, files, opts, "us")
    }

    fn histograms(&self, files: &[PathBuf], opts: &Options) -> Vec<(String, Histogram<u64>)> {
        let logs = file_kind::only(files, KindOf::Transactions);
        samples::histograms_spec(spec(opts), &logs)
    }
}

/// A summary's figures (`None`: not printed).
#[derive(Debug, Clone, Default, PartialEq)]
struct Summary {
    clients: Option<f64>,
    threads: Option<f64>,
    transactions: Option<f64>,
    failed: Option<f64>,
    tps: Option<f64>,
    latency_avg_ms: Option<f64>,
    latency_stddev_ms: Option<f64>,
    connect_ms: Option<f64>,
    lag_avg_ms: Option<f64>,
    lag_max_ms: Option<f64>,
    /// `--latency-limit` with `-R`: transactions skipped (too late to start).
    skipped: Option<f64>,
    /// `--latency-limit`: transactions above it.
    above_limit: Option<f64>,
}

/// Each figure of a summary, by name: to tell one that only some files
/// have (it is left empty when merged).
/// A summary's figure.
type Get = fn(&Summary) -> Option<f64>;

const FIGURES: &[(&str, Get)] = &[
    ("clients", |s| s.clients),
    ("threads", |s| s.threads),
    ("failed", |s| s.failed),
    ("skipped", |s| s.skipped),
    ("above the latency limit", |s| s.above_limit),
    ("latency average", |s| s.latency_avg_ms),
    ("latency stddev", |s| s.latency_stddev_ms),
    ("initial connection time", |s| s.connect_ms),
    ("lag average", |s| s.lag_avg_ms),
    ("lag max", |s| s.lag_max_ms),
];

/// The first number in `text` (`4.078 ms`, `0 (0.000%)`).
fn first_number(text: &str) -> Option<f64> {
    text.split(|c: char| c.is_whitespace() || c == '(')
        .find_map(|w| w.trim().parse::<f64>().ok())
}

fn read_summary(path: &Path) -> Result<Summary, FileError> {
    let text = fs_err::read_to_string(path).map_err(|e| FileError::whole(path, e.to_string()))?;
    let mut s = Summary::default();
    for line in text.lines() {
        let (key, value) = match line.split_once('=').or_else(|| line.split_once(':')) {
            Some(kv) => kv,
            None => continue,
        };
        let v = first_number(value);
        match key.trim() {
            "number of clients" => s.clients = v,
            "number of threads" => s.threads = v,
            "number of transactions actually processed" => s.transactions = v,
            "number of failed transactions" => s.failed = v,
            "number of transactions skipped" => s.skipped = v,
            k if k.starts_with("number of transactions above the") => s.above_limit = v,
            "tps" => s.tps = v,
            "latency average" => s.latency_avg_ms = v,
            "latency stddev" => s.latency_stddev_ms = v,
            "initial connection time" => s.connect_ms = v,
            "rate limit schedule lag" => {
                // `avg 0.409 (max 8.549) ms`
                let nums: Vec<f64> = value
                    .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
                    .filter_map(|w| w.parse().ok())
                    .collect();
                s.lag_avg_ms = nums.first().copied();
                s.lag_max_ms = nums.get(1).copied();
            }
            _ => {}
        }
    }
    if s.tps.is_none() || s.transactions.is_none() {
        return Err(FileError::whole(
            path,
            "no `tps = …` or `number of transactions actually processed`: a pgbench summary that did not finish?".into(),
        ));
    }
    Ok(s)
}

/// Several hosts' summaries as one: counts and tps add up; the latency's
/// mean and (population) standard deviation combine exactly by their
/// transactions; the connection time and the lag's maximum are the
/// largest, the lag's mean weighted by transactions.
fn merge_summaries(parts: &[&Summary]) -> Summary {
    if let [one] = parts {
        return (*one).clone();
    }
    let sum = |f: fn(&Summary) -> Option<f64>| -> Option<f64> { parts.iter().map(|s| f(s)).sum() };
    let max = |f: fn(&Summary) -> Option<f64>| {
        parts
            .iter()
            .map(|s| f(s))
            .collect::<Option<Vec<f64>>>()
            .and_then(|v| v.into_iter().reduce(f64::max))
    };
    let n = sum(|s| s.transactions).unwrap_or(0.0);
    let weighted = |f: fn(&Summary) -> Option<f64>| -> Option<f64> {
        let parts: Option<Vec<(f64, f64)>> = parts
            .iter()
            .map(|s| Some((f(s)?, s.transactions?)))
            .collect();
        parts
            .filter(|_| n > 0.0)
            .map(|p| p.iter().map(|(v, w)| v * w).sum::<f64>() / n)
    };
    let mean = weighted(|s| s.latency_avg_ms);
    let second_moment: Option<f64> = parts
        .iter()
        .map(|s| {
            let (m, sd, k) = (s.latency_avg_ms?, s.latency_stddev_ms?, s.transactions?);
            Some(k * (sd * sd + m * m))
        })
        .sum::<Option<f64>>()
        .filter(|_| n > 0.0)
        .map(|x| x / n);
    Summary {
        clients: sum(|s| s.clients),
        threads: sum(|s| s.threads),
        transactions: Some(n),
        failed: sum(|s| s.failed),
        tps: sum(|s| s.tps),
        latency_avg_ms: mean,
        latency_stddev_ms: second_moment
            .zip(mean)
            .map(|(m2, m)| (m2 - m * m).max(0.0).sqrt()),
        connect_ms: max(|s| s.connect_ms),
        lag_avg_ms: weighted(|s| s.lag_avg_ms),
        lag_max_ms: max(|s| s.lag_max_ms),
        skipped: sum(|s| s.skipped),
        above_limit: sum(|s| s.above_limit),
    }
}

fn summaries(groups: &[Group], found: &mut Found) -> Analysed {
    let parsed = Parsed::new(groups, sequential(read_summary), &mut found.errors);
    if !parsed.any() {
        return (None, parsed.read_files());
    }
    let columns = vec![
        Column::text("source"),
        Column::int("clients", None),
        Column::int("threads", None),
        Column::int("transactions", None),
        Column::int("failed", None),
        Column::int("skipped", None),
        Column::int("above the latency limit", None),
        Column::float("tps", Some("1/s"), 2),
        Column::float("latency average", Some("ms"), 3),
        Column::float("latency stddev", Some("ms"), 3),
        Column::float("initial connection time", Some("ms"), 3),
        Column::float("lag average", Some("ms"), 3),
        Column::float("lag max", Some("ms"), 3),
    ];
    let mut rows = Vec::new();
    for g in groups {
        let parts: Vec<&Summary> = parsed.of(g).into_iter().map(|(_, s)| s).collect();
        if parts.is_empty() {
            continue;
        }
        let some: Vec<&str> = FIGURES
            .iter()
            .filter(|(_, get)| {
                let n = parts.iter().filter(|s| get(s).is_some()).count();
                n > 0 && n < parts.len()
            })
            .map(|(name, _)| *name)
            .collect();
        if !some.is_empty() {
            found.problems.push(format!(
                "{}: left empty, as only some of its summaries have them: {}",
                g.label,
                some.join(", ")
            ));
        }
        let s = merge_summaries(&parts);
        let int = |v: Option<f64>| v.map_or(Cell::Empty, |x| Cell::Int(x as i128));
        let f = |v: Option<f64>| v.map_or(Cell::Empty, Cell::Float);
        rows.push(vec![
            Cell::Text(g.label.clone()),
            int(s.clients),
            int(s.threads),
            int(s.transactions),
            int(s.failed),
            int(s.skipped),
            int(s.above_limit),
            f(s.tps),
            f(s.latency_avg_ms),
            f(s.latency_stddev_ms),
            f(s.connect_ms),
            f(s.lag_avg_ms),
            f(s.lag_max_ms),
        ]);
    }
    let mut t = Table {
        title: "pgbench summary".into(),
        columns,
        rows,
        notes: Vec::new(),
    };
    t.notes.push("Summaries of several files (hosts) merged: transactions, failures and tps added; the latency's average and standard deviation combined exactly by transactions (pgbench's stddev is the population's); initial connection time and lag max the largest; lag average weighted by transactions. Percentiles need the --log files (parser `pgbench` on them, or `samples`).".into());
    (Some(t), parsed.read_files())
}

/// One aggregate log's intervals: (start, count, sum, sum², min, max, lag
/// sum, lag max, skipped), latencies in µs.
#[derive(Debug, Clone, Default)]
struct Agg {
    intervals: Vec<[f64; 9]>,
    /// Whether the log has a schedule lag (pgbench -R): pgbench 15 writes
    /// the lag's fields as zeros without it.
    lag: bool,
}

fn read_aggregate(path: &Path) -> Result<Agg, FileError> {
    let text = fs_err::read_to_string(path).map_err(|e| FileError::whole(path, e.to_string()))?;
    let mut out = Agg::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<f64> = line
            .split_whitespace()
            .map(|w| w.parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| FileError::at(path, i + 1, format!("`{line}`: not numbers")))?;
        if f.len() < 6 {
            return Err(FileError::at(
                path,
                i + 1,
                format!(
                    "{} fields; an aggregate line has interval_start, num_transactions, sum_latency, sum_latency_2, min_latency, max_latency …",
                    f.len()
                ),
            ));
        }
        let at = |j: usize| f.get(j).copied().unwrap_or(0.0);
        out.intervals.push([
            at(0),
            at(1),
            at(2),
            at(3),
            at(4),
            at(5),
            at(6),
            at(9),
            at(10),
        ]);
    }
    if out.intervals.is_empty() {
        return Err(FileError::whole(path, "no intervals".into()));
    }
    out.lag = out.intervals.iter().any(|i| i[6] != 0.0 || i[7] != 0.0);
    Ok(out)
}

fn aggregates(groups: &[Group], windows: &[Window], found: &mut Found) -> Analysed {
    let parsed = Parsed::new(groups, sequential(read_aggregate), &mut found.errors);
    if !parsed.any() {
        return (None, parsed.read_files());
    }
    let mut rows = Vec::new();
    for g in groups {
        let files = parsed.of(g);
        let all: Vec<[f64; 9]> = files
            .iter()
            .flat_map(|(_, a)| a.intervals.iter().copied())
            .collect();
        if all.is_empty() {
            continue;
        }
        let lagged = files.iter().all(|(_, a)| a.lag);
        if !lagged && files.iter().any(|(_, a)| a.lag) {
            found.problems.push(format!(
                "{}: the schedule lag is left empty: only some of its logs have one (pgbench -R)",
                g.label
            ));
        }
        // An interval's length: the least gap between starts of one file
        // (the files of several clients share the starts).
        let mut starts: Vec<f64> = all.iter().map(|i| i[0]).collect();
        starts.sort_by(f64::total_cmp);
        starts.dedup();
        let length = starts
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(f64::INFINITY, f64::min);
        let length = if length.is_finite() { length } else { 1.0 };
        let cut = super::windowed(
            &g.label,
            windows,
            &all,
            |i| Some(i[0]),
            ("pgbench interval", "pgbench interval"),
            &mut found.problems,
        );
        for (label, inside) in cut {
            rows.push(aggregate_row(label, &inside, length, lagged));
        }
    }
    let columns = vec![
        Column::text("source"),
        Column::int("intervals", None),
        Column::int("transactions", None),
        Column::float("tps", Some("1/s"), 2),
        Column::float("latency mean", Some("us"), 3),
        Column::float("latency stddev", Some("us"), 3),
        Column::float("latency min", Some("us"), 0),
        Column::float("latency max", Some("us"), 0),
        Column::float("lag mean", Some("us"), 3),
        Column::float("lag max", Some("us"), 0),
        Column::int("skipped", None),
    ];
    let t = Table {
        title: "pgbench aggregate log".into(),
        columns,
        rows,
        notes: vec!["Aggregate intervals merged exactly: transactions and sums added, the mean and (population) standard deviation from the sums, min and max the extremes; tps is transactions over the distinct intervals' time. Percentiles need the per-transaction --log.".into()],
    };
    (Some(t), parsed.read_files())
}

fn aggregate_row(label: String, intervals: &[[f64; 9]], length: f64, lagged: bool) -> Vec<Cell> {
    let n: f64 = intervals.iter().map(|i| i[1]).sum();
    let sum: f64 = intervals.iter().map(|i| i[2]).sum();
    let sum2: f64 = intervals.iter().map(|i| i[3]).sum();
    let busy = intervals.iter().filter(|i| i[1] > 0.0);
    let min = busy.clone().map(|i| i[4]).fold(f64::INFINITY, f64::min);
    let max = busy.map(|i| i[5]).fold(f64::NEG_INFINITY, f64::max);
    let mut distinct: Vec<f64> = intervals.iter().map(|i| i[0]).collect();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let some = n > 0.0;
    let f = |v: f64| {
        if some && v.is_finite() {
            Cell::Float(v)
        } else {
            Cell::Empty
        }
    };
    let lag = |v: f64| {
        if lagged && some && v.is_finite() {
            Cell::Float(v)
        } else {
            Cell::Empty
        }
    };
    let mean = sum / n;
    vec![
        Cell::Text(label),
        Cell::Int(intervals.len() as i128),
        Cell::Int(n as i128),
        Cell::Float(n / (distinct.len() as f64 * length)),
        f(mean),
        f((sum2 / n - mean * mean).max(0.0).sqrt()),
        f(min),
        f(max),
        lag(intervals.iter().map(|i| i[6]).sum::<f64>() / n),
        lag(intervals
            .iter()
            .map(|i| i[7])
            .fold(f64::NEG_INFINITY, f64::max)),
        Cell::Int(intervals.iter().map(|i| i[8]).sum::<f64>() as i128),
    ]
}
