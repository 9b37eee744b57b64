//! wrk's report (`--latency` for the distribution): requests, requests/s,
//! transfer/s, the latency's average, stddev, max and percentiles (50, 75,
//! 90, 99), socket errors and non-2xx responses. Hosts' rates and counts
//! add up; a percentile is one host's only (wrk keeps no histogram to
//! merge).

use std::path::Path;

use super::parser::{Declaration, Options, Parser};
use super::printed::{self, Fig, How, Record};
use super::{Analysed, FileError, Found, Group};

pub struct Wrk;

static DECLARATION: Declaration = Declaration {
    name: "wrk",
    aliases: &[],
    reads: "wrk's report (with --latency: its latency distribution); percentiles per host only",
    options: &[],
    keys: &["source"],
    headline: &["requests/s", "p99"],
    histograms: false,
    spans_tests: false,
};

impl Parser for Wrk {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn analyze(&self, groups: &[Group], _opts: &Options, found: &mut Found) -> Analysed {
        printed::analyze(
            "HTTP load (wrk)",
            None,
            groups,
            |p: &Path| read_file(p).map(|r| vec![r]),
            found,
        )
    }
}

/// `9.90ms`, `1.20s`, `850.00us` → ms.
fn duration_ms(text: &str) -> Option<f64> {
    let t = text.trim();
    for (suffix, f) in [
        ("us", 1e-3),
        ("ms", 1.0),
        ("s", 1e3),
        ("m", 60e3),
        ("h", 3600e3),
    ] {
        if let Some(n) = t.strip_suffix(suffix) {
            return n.parse::<f64>().ok().map(|v| v * f);
        }
    }
    None
}

/// wrk's binary sizes (`7.00MB`, `3.50MB`, `512.00B`) → bytes.
fn bytes(text: &str) -> Option<f64> {
    let t = text.trim();
    for (suffix, f) in [
        ("TB", 1099511627776.0),
        ("GB", 1073741824.0),
        ("MB", 1048576.0),
        ("KB", 1024.0),
        ("B", 1.0),
    ] {
        if let Some(n) = t.strip_suffix(suffix) {
            return n.parse::<f64>().ok().map(|v| v * f);
        }
    }
    None
}

pub fn read_file(path: &Path) -> Result<Record, FileError> {
    let text = fs_err::read_to_string(path).map_err(|e| FileError::whole(path, e.to_string()))?;
    parse(&text, path)
}

pub fn parse(text: &str, path: &Path) -> Result<Record, FileError> {
    let mut figs: Vec<Fig> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        figs.extend(figures(&words).ok_or_else(|| {
            FileError::at(
                path,
                i + 1,
                format!("`{}`: cannot read this wrk line", line.trim()),
            )
        })?);
    }
    if !figs.iter().any(|f| f.name == "requests/s") {
        return Err(FileError::whole(
            path,
            "no `Requests/sec:` line: not wrk output, or a run that did not finish".into(),
        ));
    }
    Ok(Record { key: None, figs })
}

/// The figures of one line of wrk's report (none on a line without
/// figures); `None`: a line of figures that does not read.
fn figures(words: &[&str]) -> Option<Vec<Fig>> {
    let ms = Some("ms");
    Some(match words {
        ["Latency", avg, sd, max, _] => vec![
            Fig::new("latency avg", ms, duration_ms(avg)?, How::Mean("requests")),
            Fig::new("latency stddev", ms, duration_ms(sd)?, How::Alone),
            Fig::new("latency max", ms, duration_ms(max)?, How::Max),
        ],
        [p, v] if p.ends_with('%') => {
            let q = p.trim_end_matches('%');
            vec![Fig::new(&format!("p{q}"), ms, duration_ms(v)?, How::Alone)]
        }
        [n, "requests", "in", secs, read, "read"] => vec![
            Fig::new("requests", None, n.parse().ok()?, How::Sum),
            Fig::new(
                "duration",
                Some("s"),
                duration_ms(secs.trim_end_matches(','))? / 1e3,
                How::Max,
            ),
            Fig::new("read", Some("bytes"), bytes(read)?, How::Sum),
        ],
        ["Requests/sec:", v] => vec![Fig::new(
            "requests/s",
            Some("1/s"),
            v.parse().ok()?,
            How::Sum,
        )],
        ["Transfer/sec:", v] => vec![Fig::new("transfer/s", Some("bytes/s"), bytes(v)?, How::Sum)],
        // `connect 0, read 0, write 0, timeout 0`
        ["Socket", "errors:", rest @ ..] => rest
            .chunks(2)
            .map(|pair| match pair {
                [name, n] => {
                    let n = n.trim_end_matches(',').parse().ok()?;
                    Some(Fig::new(
                        &format!("socket errors {name}"),
                        None,
                        n,
                        How::Sum,
                    ))
                }
                _ => None,
            })
            .collect::<Option<Vec<Fig>>>()?,
        ["Non-2xx", "or", "3xx", "responses:", n] => {
            vec![Fig::new("non-2xx or 3xx", None, n.parse().ok()?, How::Sum)]
        }
        _ => Vec::new(),
    })
}
