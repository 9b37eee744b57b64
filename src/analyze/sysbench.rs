//! sysbench's text report: events/s, transactions and queries (and their
//! rates), errors and reconnects, the latency's min, avg, max, printed
//! percentile and sum. With `--histogram=on` its latency histogram (a
//! bucket's value and count): histograms of several hosts add exactly, and
//! the percentiles asked come from the merged one, by sysbench's own rule;
//! the printed percentile is one host's only (and left out where the
//! histogram is there to give it).

use std::path::Path;

use super::latency;
use super::parser::{Declaration, Options, Parser, Refusal};
use super::printed::{self, Fig, How, Record};
use super::{Analysed, FileError, Found, Group, Parsed, sequential};

pub struct Sysbench;

static DECLARATION: Declaration = Declaration {
    name: "sysbench",
    aliases: &[],
    reads: "sysbench's report (cpu, oltp_*, …); with --histogram=on the percentiles asked, merged exactly",
    options: &[latency::OPTION],
    keys: &["source"],
    headline: &["events/s", "transactions/s", "p95"],
    histograms: false,
    spans_tests: false,
};

/// A report's figures, and its histogram (ms, count) if it printed one.
#[derive(Debug, Clone)]
pub struct Report {
    record: Record,
    histogram: Vec<(f64, u64)>,
}

impl Parser for Sysbench {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn check(&self, opts: &Options) -> Vec<Refusal> {
        latency::check(opts)
    }

    fn analyze(&self, groups: &[Group], opts: &Options, found: &mut Found) -> Analysed {
        let parsed = Parsed::new(groups, sequential(read_file), &mut found.errors);
        if !parsed.any() {
            return (None, parsed.read_files());
        }
        let mut rows = printed::merged(
            groups,
            &parsed,
            |r: &Report| std::slice::from_ref(&r.record),
            found,
        );
        let asked = latency::asked(opts);
        for (row, g) in rows
            .iter_mut()
            .zip(groups.iter().filter(|g| !parsed.of(g).is_empty()))
        {
            let parts: Vec<&Report> = parsed.of(g).into_iter().map(|(_, r)| r).collect();
            if parts.len() > 1 {
                exact_average(row);
            }
            if parts.iter().any(|r| r.histogram.is_empty()) {
                continue;
            }
            let merged = merge(parts.iter().map(|r| r.histogram.as_slice()));
            for &p in &asked {
                let fig = Fig::new(&latency::name(p), Some("ms"), 0.0, How::Sum);
                row.figs.push((fig, percentile(&merged, p)));
            }
        }
        let mut t = printed::table_of("sysbench", None, rows);
        t.notes.push("Percentiles `pN`: with --histogram=on, from the latency histograms of the row's files added bucket by bucket (exact), by sysbench's rule (the value of the first bucket whose running count reaches ⌊N % of the events + 0.5⌋: a bucket's value can be above the max sysbench measured); without, as sysbench printed it, one host's only. The latency average of several files is their latency sum over their events.".into());
        (Some(t), parsed.read_files())
    }
}

/// A merged row's latency average from the sum and the events (the
/// averages sysbench prints are rounded to 2 decimals: weighting them
/// would carry the rounding).
fn exact_average(row: &mut printed::Merged) {
    let get = |row: &printed::Merged, name: &str| {
        row.figs
            .iter()
            .find(|(f, _)| f.name == name)
            .and_then(|(_, v)| *v)
    };
    if let (Some(sum), Some(events)) = (get(row, "latency sum"), get(row, "events"))
        && events > 0.0
        && let Some((_, avg)) = row.figs.iter_mut().find(|(f, _)| f.name == "latency avg")
    {
        *avg = Some(sum / events);
    }
}

/// Histograms added bucket by bucket (by their printed value).
fn merge<'a>(hists: impl Iterator<Item = &'a [(f64, u64)]>) -> Vec<(f64, u64)> {
    let mut out: Vec<(f64, u64)> = Vec::new();
    for h in hists {
        for &(v, n) in h {
            match out.iter_mut().find(|(x, _)| *x == v) {
                Some((_, c)) => *c += n,
                None => out.push((v, n)),
            }
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// sysbench's percentile of a histogram: the first bucket whose running
/// count reaches `floor(total × p / 100 + 0.5)`.
fn percentile(hist: &[(f64, u64)], p: f64) -> Option<f64> {
    let total: u64 = hist.iter().map(|(_, n)| n).sum();
    let target = (total as f64 * p / 100.0 + 0.5).floor() as u64;
    if total == 0 {
        return None;
    }
    let mut running = 0;
    for &(v, n) in hist {
        running += n;
        if running >= target.max(1) {
            return Some(v);
        }
    }
    hist.last().map(|h| h.0)
}

pub fn read_file(path: &Path) -> Result<Report, FileError> {
    let text = fs_err::read_to_string(path).map_err(|e| FileError::whole(path, e.to_string()))?;
    parse(&text, path)
}

/// `1240   (411.50 per sec.)` → (1240, 411.5).
fn count_and_rate(rest: &str) -> Option<(f64, Option<f64>)> {
    let mut words = rest
        .split(|c: char| c.is_whitespace() || c == '(')
        .filter(|w| !w.is_empty());
    let n = words.next()?.parse().ok()?;
    Some((n, words.next().and_then(|w| w.parse().ok())))
}

/// The report's lines of one figure: key, name, unit, merge rule.
const FIGURES: &[(&str, &str, Option<&str>, How)] = &[
    ("events per second", "events/s", Some("1/s"), How::Sum),
    ("total time", "total time", Some("s"), How::Max),
    ("total number of events", "events", None, How::Sum),
    ("min", "latency min", Some("ms"), How::Min),
    ("avg", "latency avg", Some("ms"), How::Mean("events")),
    ("max", "latency max", Some("ms"), How::Max),
    ("sum", "latency sum", Some("ms"), How::Sum),
];

/// The report's lines of a count and its rate: key, names of both.
const COUNTS: &[(&str, &str, &str)] = &[
    ("transactions", "transactions", "transactions/s"),
    ("queries", "queries", "queries/s"),
    ("ignored errors", "ignored errors", "ignored errors/s"),
    ("reconnects", "reconnects", "reconnects/s"),
];

/// A line of the histogram (`value |*** count`).
fn bucket(line: &str) -> Option<(f64, u64)> {
    let (v, rest) = line.split_once('|')?;
    let n = rest.split_whitespace().last()?.parse().ok()?;
    Some((v.trim().parse().ok()?, n))
}

pub fn parse(text: &str, path: &Path) -> Result<Report, FileError> {
    let mut figs = Vec::new();
    let mut histogram = Vec::new();
    let mut in_histogram = false;
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.starts_with("Latency histogram") {
            in_histogram = true;
            continue;
        }
        if in_histogram {
            if let Some(b) = bucket(l) {
                histogram.push(b);
                continue;
            }
            in_histogram = l.starts_with("value");
            if in_histogram {
                continue;
            }
        }
        let Some((key, rest)) = l.split_once(':') else {
            continue;
        };
        let rest = rest.trim();
        let num = rest
            .trim_end_matches('s')
            .parse::<f64>()
            .unwrap_or(f64::NAN);
        if let Some(&(_, name, unit, how)) = FIGURES.iter().find(|f| f.0 == key) {
            figs.push(Fig::new(name, unit, num, how));
        } else if let Some(&(_, name, rate)) = COUNTS.iter().find(|c| c.0 == key) {
            let (n, r) = count_and_rate(rest)
                .ok_or_else(|| FileError::at(path, i + 1, format!("`{l}`: expected a count")))?;
            figs.push(Fig::new(name, None, n, How::Sum));
            if let Some(r) = r {
                figs.push(Fig::new(rate, Some("1/s"), r, How::Sum));
            }
        } else if let Some(p) = key.strip_suffix("th percentile") {
            figs.push(Fig::new(&format!("p{p}"), Some("ms"), num, How::Alone));
        }
    }
    if let Some(bad) = figs.iter().find(|f| f.value.is_nan()) {
        return Err(FileError::whole(
            path,
            format!("`{}` is not a number", bad.name),
        ));
    }
    if !histogram.is_empty() {
        // The histogram gives every percentile exactly, and merges.
        figs.retain(|f| f.how != How::Alone);
    }
    if !figs.iter().any(|f| f.name == "events") {
        return Err(FileError::whole(
            path,
            "no `total number of events:`: not a sysbench report, or one that did not finish"
                .into(),
        ));
    }
    Ok(Report {
        record: Record { key: None, figs },
        histogram,
    })
}
