//! ApacheBench, whichever file it wrote: its report (requests/s, time per
//! request, failures, the connection times, "Percentage of the requests
//! served within a certain time"), its `-g` per-request TSV (read as
//! samples: `ttime` in ms, `seconds` the epoch — percentiles merged exactly
//! across hosts), or its `-e` CSV of percentiles (one run's). One analysis
//! reads one kind, seen from each file's first line.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use super::file_kind::{self, FileKind};
use super::parser::{Declaration, Options, Parser, Refusal};
use super::printed::{self, Fig, How, Record};
use super::samples::{self, Spec};
use super::{Analysed, FileError, Found, Group, latency};

pub struct Ab;

static DECLARATION: Declaration = Declaration {
    name: "ab",
    aliases: &[],
    reads: "ApacheBench: its report, its -g per-request TSV (percentiles merged exactly), or its -e CSV",
    options: &[latency::OPTION, samples::PRECISION],
    keys: &["source"],
    headline: &["requests/s", "p99"],
    histograms: true,
    spans_tests: false,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KindOf {
    Report,
    Gnuplot,
    Percentiles,
}

impl FileKind for KindOf {
    const TOOL: &'static str = "ApacheBench";

    fn of(path: &Path) -> Result<KindOf, FileError> {
        let text = file_kind::head(path)?;
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        Ok(if first.starts_with("starttime\t") {
            KindOf::Gnuplot
        } else if first.starts_with("Percentage served") {
            KindOf::Percentiles
        } else if text.contains("Requests per second:") {
            KindOf::Report
        } else {
            return Err(FileError::at(
                path,
                1,
                "not ApacheBench output: no `Requests per second:`, no -g header, no -e header"
                    .into(),
            ));
        })
    }

    fn name(self) -> &'static str {
        match self {
            KindOf::Report => "a report (stdout)",
            KindOf::Gnuplot => "a per-request TSV (-g)",
            KindOf::Percentiles => "a CSV of percentiles (-e)",
        }
    }
}

/// `-g`'s TSV as samples: `ttime` (ms) at `seconds` (the epoch).
fn spec(opts: &Options) -> Result<Spec, Refusal> {
    samples::fixed(
        opts,
        &[
            ("latency", "ttime"),
            ("unit", "ms"),
            ("time", "seconds"),
            ("separator", "tab"),
            ("header", "yes"),
        ],
        &[],
    )
}

impl Parser for Ab {
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
            KindOf::Gnuplot => samples::analyze_spec(spec(opts), &readable, &opts.windows, found),
            KindOf::Report => printed::analyze(
                "HTTP load (ApacheBench)",
                None,
                &readable,
                |p: &Path| read_report(p).map(|r| vec![r]),
                found,
            ),
            KindOf::Percentiles => {
                let asked = latency::asked(opts);
                let whole: Vec<f64> = asked.iter().copied().filter(|p| p.fract() == 0.0).collect();
                // The default list's 99.9 and 99.99 are simply not in it.
                if whole.len() < asked.len() && opts.numbers("percentiles").is_some() {
                    let left: Vec<String> = asked
                        .iter()
                        .filter(|p| p.fract() != 0.0)
                        .map(|p| latency::name(*p))
                        .collect();
                    found.problems.push(format!(
                        "ab's -e CSV has whole percents only: {} left out",
                        left.join(", ")
                    ));
                }
                printed::analyze(
                    "HTTP load (ApacheBench)",
                    None,
                    &readable,
                    |p: &Path| read_percentiles(p, &whole).map(|r| vec![r]),
                    found,
                )
            }
        }
    }

    fn plots(
        &self,
        files: &[(String, PathBuf)],
        opts: &Options,
        _t0: f64,
    ) -> Vec<crate::plot::Plot> {
        latency::spectra(self, files, opts, "ms")
    }

    fn histograms(&self, files: &[PathBuf], opts: &Options) -> Vec<(String, Histogram<u64>)> {
        samples::histograms_spec(spec(opts), &file_kind::only(files, KindOf::Gnuplot))
    }
}

/// The number before the first blank after `key:` (`892.18 [#/sec] (mean)`).
fn after(line: &str, key: &str) -> Option<f64> {
    line.strip_prefix(key)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

pub fn read_report(path: &Path) -> Result<Record, FileError> {
    let text = fs_err::read_to_string(path).map_err(|e| FileError::whole(path, e.to_string()))?;
    let mut figs = Vec::new();
    let mut served = false;
    for line in text.lines() {
        let l = line.trim();
        let keyed: [(&str, Option<&'static str>, &str, How); 5] = [
            ("requests", None, "Complete requests:", How::Sum),
            ("failed", None, "Failed requests:", How::Sum),
            ("non-2xx", None, "Non-2xx responses:", How::Sum),
            ("time taken", Some("s"), "Time taken for tests:", How::Max),
            ("requests/s", Some("1/s"), "Requests per second:", How::Sum),
        ];
        for (name, unit, key, how) in keyed {
            if let Some(v) = after(l, key) {
                figs.push(Fig::new(name, unit, v, how));
            }
        }
        if let Some(v) = after(l, "Transfer rate:") {
            // ab's Kbytes are 1024 bytes.
            figs.push(Fig::new(
                "transfer rate",
                Some("bytes/s"),
                v * 1024.0,
                How::Sum,
            ));
        }
        if l.ends_with("(mean)")
            && let Some(v) = after(l, "Time per request:")
        {
            figs.push(Fig::new(
                "time per request",
                Some("ms"),
                v,
                How::Mean("requests"),
            ));
        }
        if let Some(rest) = l.strip_prefix("Total:") {
            let v: Vec<f64> = rest
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
            if let [min, mean, _sd, median, max] = v.as_slice() {
                figs.push(Fig::new("total min", Some("ms"), *min, How::Min));
                figs.push(Fig::new(
                    "total mean",
                    Some("ms"),
                    *mean,
                    How::Mean("requests"),
                ));
                figs.push(Fig::new("total median", Some("ms"), *median, How::Alone));
                figs.push(Fig::new("total max", Some("ms"), *max, How::Max));
            }
        }
        if l.starts_with("Percentage of the requests served") {
            served = true;
            continue;
        }
        if served && let Some((p, rest)) = l.split_once('%') {
            let (Ok(p), Some(v)) = (
                p.trim().parse::<f64>(),
                rest.split_whitespace()
                    .next()
                    .and_then(|w| w.parse::<f64>().ok()),
            ) else {
                continue;
            };
            if p < 100.0 {
                figs.push(Fig::new(&latency::name(p), Some("ms"), v, How::Alone));
            }
        }
    }
    if !figs.iter().any(|f| f.name == "requests/s") {
        return Err(FileError::whole(
            path,
            "no `Requests per second:`: not an ApacheBench report".into(),
        ));
    }
    Ok(Record { key: None, figs })
}

/// `-e`'s CSV (`Percentage served,Time in ms`, a row per percent): the
/// percents `asked`.
pub fn read_percentiles(path: &Path, asked: &[f64]) -> Result<Record, FileError> {
    let text = fs_err::read_to_string(path).map_err(|e| FileError::whole(path, e.to_string()))?;
    let mut figs = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let (p, v) = line
            .split_once(',')
            .and_then(|(p, v)| Some((p.trim().parse::<f64>().ok()?, v.trim().parse::<f64>().ok()?)))
            .ok_or_else(|| FileError::at(path, i + 1, format!("`{line}`: expected PERCENT,MS")))?;
        if asked.contains(&p) {
            figs.push(Fig::new(&latency::name(p), Some("ms"), v, How::Alone));
        }
    }
    if figs.is_empty() {
        return Err(FileError::whole(path, "no percentiles".into()));
    }
    Ok(Record { key: None, figs })
}
