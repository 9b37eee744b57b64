//! Locust's `--csv` output: `*_stats.csv` (a row per endpoint and the
//! `Aggregated` row: requests, failures, response times, requests/s and
//! percentiles) and `*_stats_history.csv` (`--csv-full-history`: the same
//! each second). From the history, the last row of each endpoint is its
//! total (and rows are cut by test windows); hosts' counts and rates add
//! up, the mean response time is weighted by requests, percentiles are one
//! host's only (Locust keeps no histogram in its CSV).

use std::path::Path;

use super::file_kind::{self, FileKind};
use super::parser::{Declaration, Options, Parser};
use super::printed::{self, Fig, How, Record};
use super::{Analysed, FileError, Found, Group};

pub struct Locust;

static DECLARATION: Declaration = Declaration {
    name: "locust",
    aliases: &[],
    reads: "Locust --csv stats (*_stats.csv) or --csv-full-history (*_stats_history.csv): a row per endpoint; percentiles per host only",
    options: &[],
    keys: &["source", "endpoint"],
    headline: &["requests/s", "p99"],
    histograms: false,
    spans_tests: false,
};

impl Parser for Locust {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn analyze(&self, groups: &[Group], opts: &Options, found: &mut Found) -> Analysed {
        let Some((_, readable)) = file_kind::one_kind::<KindOf>(groups, found) else {
            return (None, Vec::new());
        };
        printed::analyze(
            "Locust",
            Some("endpoint"),
            &readable,
            |p: &Path| read_file(p, &opts.windows),
            found,
        )
    }
}

/// Which of Locust's CSVs a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KindOf {
    Stats,
    History,
}

impl FileKind for KindOf {
    const TOOL: &'static str = "Locust";

    fn of(path: &Path) -> Result<KindOf, FileError> {
        let head = file_kind::head(path)?;
        let header = head.lines().next().unwrap_or("");
        let has = |c: &str| header.split(',').any(|h| h.trim_matches('"') == c);
        match (has("Type") && has("Name"), has("Timestamp")) {
            (true, false) => Ok(KindOf::Stats),
            (true, true) => Ok(KindOf::History),
            (false, _) => Err(FileError::at(
                path,
                1,
                "not Locust's stats CSV: no `Type` and `Name` columns (give *_stats.csv or *_stats_history.csv)".into(),
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            KindOf::Stats => "a stats CSV (*_stats.csv)",
            KindOf::History => "a history CSV (*_stats_history.csv)",
        }
    }
}

/// The figures of one stats row, by its header.
fn figures(headers: &[String], row: &[&str], history: bool) -> Vec<Fig> {
    let mut figs = Vec::new();
    for (h, cell) in headers.iter().zip(row) {
        let Ok(v) = cell.trim().parse::<f64>() else {
            continue;
        };
        let h = h.trim();
        let h = if history {
            h.strip_prefix("Total ").unwrap_or(h)
        } else {
            h
        };
        let (name, unit, how) = match h {
            "Request Count" => ("requests".to_string(), None, How::Sum),
            "Failure Count" => ("failures".into(), None, How::Sum),
            "Requests/s" if !history => ("requests/s".into(), Some("1/s"), How::Sum),
            "Failures/s" if !history => ("failures/s".into(), Some("1/s"), How::Sum),
            "Average Response Time" => (
                "response time avg".into(),
                Some("ms"),
                How::Mean("requests"),
            ),
            "Min Response Time" => ("response time min".into(), Some("ms"), How::Min),
            "Max Response Time" => ("response time max".into(), Some("ms"), How::Max),
            "Median Response Time" => ("response time median".into(), Some("ms"), How::Alone),
            "Average Content Size" => (
                "content size avg".into(),
                Some("bytes"),
                How::Mean("requests"),
            ),
            p if p.ends_with('%') && !history => (
                format!("p{}", p.trim_end_matches('%')),
                Some("ms"),
                How::Alone,
            ),
            _ => continue,
        };
        figs.push(Fig::new(&name, unit, v, how));
    }
    figs
}

pub fn read_file(path: &Path, windows: &[super::Window]) -> Result<Vec<Record>, FileError> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| FileError::whole(path, e.to_string()))?;
    let headers: Vec<String> = r
        .headers()
        .map_err(|e| FileError::whole(path, e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(name_col), Some(_)) = (col("Name"), col("Type")) else {
        return Err(FileError::at(
            path,
            1,
            format!(
                "not Locust's CSV: no `Type` and `Name` columns (it has {})",
                headers.join(", ")
            ),
        ));
    };
    let history = col("Timestamp");
    let mut out: Vec<Record> = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| FileError::at(path, i + 2, e.to_string()))?;
        let row: Vec<&str> = rec.iter().collect();
        let key = row.get(name_col).map(|n| n.to_string());
        if let Some(t) = history {
            // The history's rows are running totals: each endpoint's last
            // row inside the window (or of the file) is its total.
            let ts: f64 = row
                .get(t)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| FileError::at(path, i + 2, "no timestamp".into()))?;
            if !windows.is_empty() && !windows.iter().any(|w| w.start <= ts && ts < w.end) {
                continue;
            }
            let figs = figures(&headers, &row, true);
            match out.iter_mut().find(|r| r.key == key) {
                Some(r) => r.figs = figs,
                None => out.push(Record { key, figs }),
            }
        } else {
            out.push(Record {
                key,
                figs: figures(&headers, &row, false),
            });
        }
    }
    if out.is_empty() {
        return Err(FileError::whole(path, "no rows".into()));
    }
    Ok(out)
}
