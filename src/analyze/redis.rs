//! redis-benchmark's output, a row per test (`SET`, `GET`): its `--csv`
//! (`test,rps,avg_latency_ms,min_latency_ms,p50…,max_latency_ms`) or its
//! default report (requests completed, throughput summary, latency
//! summary). Hosts' requests/s add up; a mean latency is weighted by
//! requests where the report gives them (the CSV does not: one host's
//! only); percentiles are one host's only.

use std::path::Path;

use super::parser::{Declaration, Options, Parser};
use super::printed::{self, Fig, How, Record};
use super::{Analysed, FileError, Found, Group};

pub struct RedisBenchmark;

static DECLARATION: Declaration = Declaration {
    name: "redis-benchmark",
    aliases: &["redis"],
    reads: "redis-benchmark --csv or its default report: a row per test; percentiles per host only",
    options: &[],
    keys: &["source", "test"],
    headline: &["requests/s", "p99"],
    histograms: false,
    spans_tests: false,
};

impl Parser for RedisBenchmark {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn analyze(&self, groups: &[Group], _opts: &Options, found: &mut Found) -> Analysed {
        printed::analyze("redis-benchmark", Some("test"), groups, read_file, found)
    }
}

pub fn read_file(path: &Path) -> Result<Vec<Record>, FileError> {
    let text = fs_err::read_to_string(path).map_err(|e| FileError::whole(path, e.to_string()))?;
    // Progress lines end in `\r` and are overwritten on a terminal.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let recs = if text.trim_start().starts_with("\"test\"") {
        csv_records(&text, path)?
    } else {
        report_records(&text)
    };
    if recs.is_empty() {
        return Err(FileError::whole(
            path,
            "no test: expected redis-benchmark --csv or its report (`====== SET ======`)".into(),
        ));
    }
    Ok(recs)
}

fn csv_records(text: &str, path: &Path) -> Result<Vec<Record>, FileError> {
    let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers: Vec<String> = r
        .headers()
        .map_err(|e| FileError::whole(path, e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| FileError::at(path, i + 2, e.to_string()))?;
        let mut figs = Vec::new();
        for (h, cell) in headers.iter().zip(rec.iter()).skip(1) {
            let v: f64 = cell.parse().map_err(|_| {
                FileError::at(path, i + 2, format!("`{h}` = `{cell}` is not a number"))
            })?;
            let (name, unit, how) = match h.as_str() {
                "rps" => ("requests/s".to_string(), Some("1/s"), How::Sum),
                "avg_latency_ms" => ("latency avg".into(), Some("ms"), How::Mean("requests")),
                "min_latency_ms" => ("latency min".into(), Some("ms"), How::Min),
                "max_latency_ms" => ("latency max".into(), Some("ms"), How::Max),
                other => (
                    other.trim_end_matches("_latency_ms").to_string(),
                    Some("ms"),
                    How::Alone,
                ),
            };
            figs.push(Fig::new(&name, unit, v, how));
        }
        out.push(Record {
            key: rec.get(0).map(str::to_string),
            figs,
        });
    }
    Ok(out)
}

/// The report: `====== SET ======`, `N requests completed in S seconds`,
/// `throughput summary: R requests per second`, and the latency summary's
/// header and values (`avg min p50 p95 p99 max`).
/// A line of `-q`'s output: `SET: 80000.00 requests per second, p50=0.311 msec`.
fn quiet(line: &str) -> Option<Record> {
    let (name, rest) = line.split_once(": ")?;
    let words: Vec<&str> = rest.split_whitespace().collect();
    let ["requests", "per", "second,", ..] = words.get(1..)? else {
        return None;
    };
    let mut figs = vec![Fig::new(
        "requests/s",
        Some("1/s"),
        words[0].parse().ok()?,
        How::Sum,
    )];
    for w in &words[4..] {
        if let Some((p, v)) = w.split_once('=')
            && let Ok(v) = v.parse()
        {
            figs.push(Fig::new(p, Some("ms"), v, How::Alone));
        }
    }
    Some(Record {
        key: Some(name.trim().to_string()),
        figs,
    })
}

fn report_records(text: &str) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::new();
    let mut latency_header: Option<Vec<String>> = None;
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() {
            continue;
        }
        if let Some(rec) = quiet(l) {
            out.push(rec);
            continue;
        }
        if let Some(name) = l
            .strip_prefix("======")
            .and_then(|x| x.strip_suffix("======"))
        {
            out.push(Record {
                key: Some(name.trim().to_string()),
                figs: Vec::new(),
            });
            continue;
        }
        let Some(rec) = out.last_mut() else { continue };
        let words: Vec<&str> = l.split_whitespace().collect();
        match words.as_slice() {
            [n, "requests", "completed", "in", s, "seconds"] => {
                if let (Ok(n), Ok(s)) = (n.parse(), s.parse()) {
                    rec.figs.push(Fig::new("requests", None, n, How::Sum));
                    rec.figs.push(Fig::new("duration", Some("s"), s, How::Max));
                }
            }
            ["throughput", "summary:", r, ..] => {
                if let Ok(r) = r.parse() {
                    rec.figs
                        .push(Fig::new("requests/s", Some("1/s"), r, How::Sum));
                }
            }
            ["latency", "summary", ..] => latency_header = Some(Vec::new()),
            names
                if latency_header.as_ref().is_some_and(Vec::is_empty) && names.contains(&"avg") =>
            {
                latency_header = Some(names.iter().map(|s| s.to_string()).collect());
            }
            values if latency_header.as_ref().is_some_and(|h| !h.is_empty()) => {
                let header = latency_header.take().unwrap_or_default();
                for (h, v) in header.iter().zip(values) {
                    let Ok(v) = v.parse::<f64>() else { continue };
                    let (name, how) = match h.as_str() {
                        "avg" => ("latency avg".to_string(), How::Mean("requests")),
                        "min" => ("latency min".into(), How::Min),
                        "max" => ("latency max".into(), How::Max),
                        p => (p.to_string(), How::Alone),
                    };
                    rec.figs.push(Fig::new(&name, Some("ms"), v, how));
                }
            }
            _ => {}
        }
    }
    out.retain(|r| r.figs.iter().any(|f| f.name == "requests/s"));
    out
}
