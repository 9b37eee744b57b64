//! iperf 2 `-y C` output (client or server side, TCP or UDP, `-P N`) →
//! totals over streams from each stream's summary line.
//!
//! Streams are matched by address/port (ids differ between sides); a
//! stream's summary is the line whose interval starts at 0.0 and is longer
//! than its first interval. iperf 2.1.8 prints no SUM lines; older ones do
//! (id -1) and they are skipped, never double counted. UDP client summaries
//! carry `total = -1`: "not available", not a number.

use std::collections::BTreeMap;
use std::path::Path;

use super::parser::{Declaration, Options, Parser};
use super::{Analysed, FileError, Found, Group, Parsed, sequential, windowed};
use crate::table::{Cell, Column, Table};

#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The line's timestamp (`YYYYMMDDHHMMSS[.mmm]`, read as UTC), seconds since the epoch.
    pub time: Option<f64>,
    pub stream: String,
    pub start: f64,
    pub end: f64,
    pub bytes: u64,
    pub bps: f64,
    /// UDP: jitter ms, lost, total (None when the side cannot know: a
    /// client writes -1 for both).
    pub udp: Option<(Option<f64>, Option<u64>, Option<u64>)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub streams: usize,
    /// Some UDP streams (all when `tcp` is false too).
    pub udp: bool,
    /// Some TCP streams.
    pub tcp: bool,
    pub bytes: u64,
    pub bps: f64,
    pub lost: Option<u64>,
    pub total_datagrams: Option<u64>,
    pub lost_percent: Option<f64>,
    pub mean_jitter_ms: Option<f64>,
    pub summaries: Vec<Line>,
}

pub fn read_file(path: &Path) -> Result<Totals, FileError> {
    let bytes = fs_err::read(path).map_err(|e| FileError::whole(path, e.to_string()))?;
    parse(&bytes, path)
}

pub fn parse(bytes: &[u8], path: &Path) -> Result<Totals, FileError> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = raw.trim_end_matches('\r').split(',').collect();
        if f.len() != 9 && f.len() != 14 {
            return Err(FileError::at(
                path,
                lineno,
                format!(
                    "expected 9 (TCP) or 14 (UDP) fields of iperf -y C, found {}",
                    f.len()
                ),
            ));
        }
        let bad = |what: &str, v: &str| {
            FileError::at(path, lineno, format!("the {what} `{v}` is not a number"))
        };
        if f[5].trim() == "-1" {
            continue; // an aggregate SUM line of iperf 2.0.x
        }
        let (start, end) = f[6].split_once('-').ok_or_else(|| bad("interval", f[6]))?;
        let start: f64 = start.parse().map_err(|_| bad("interval", f[6]))?;
        let end: f64 = end.parse().map_err(|_| bad("interval", f[6]))?;
        let bytes: u64 = f[7].parse().map_err(|_| bad("byte count", f[7]))?;
        let bps: f64 = f[8].parse().map_err(|_| bad("bit rate", f[8]))?;
        let udp = if f.len() == 14 {
            let jitter: f64 = f[9].parse().map_err(|_| bad("jitter", f[9]))?;
            let lost: i64 = f[10].parse().map_err(|_| bad("lost count", f[10]))?;
            let total: i64 = f[11].parse().map_err(|_| bad("datagram count", f[11]))?;
            // A client has no receiver statistics: it writes total -1 (and
            // lost 0 or -1); its lost count means nothing then.
            let known = lost >= 0 && total >= 0;
            // Nor does it measure jitter (it writes 0.000).
            Some((
                known.then_some(jitter),
                known.then_some(lost as u64),
                known.then_some(total as u64),
            ))
        } else {
            None
        };
        lines.push(Line {
            time: parse_timestamp(f[0]),
            stream: format!("{}:{}-{}:{}", f[1], f[2], f[3], f[4]),
            start,
            end,
            bytes,
            bps,
            udp,
        });
    }
    if lines.is_empty() {
        return Err(FileError::whole(
            path,
            "no iperf -y C lines; the file is empty".into(),
        ));
    }
    let mut first_len: BTreeMap<&str, f64> = BTreeMap::new();
    for l in &lines {
        first_len
            .entry(l.stream.as_str())
            .or_insert(l.end - l.start);
    }
    let mut summaries: BTreeMap<&str, &Line> = BTreeMap::new();
    for l in &lines {
        if l.start == 0.0 && l.end - l.start > first_len[l.stream.as_str()] + 1e-9 {
            summaries.insert(l.stream.as_str(), l);
        }
    }
    Ok(Totals::from_summaries(
        summaries.into_values().cloned().collect(),
    ))
}

/// `20261123083712` or `20261123083712.345` (local time, no zone: read as UTC).
fn parse_timestamp(text: &str) -> Option<f64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize, b: usize| whole[a..b].parse::<i64>().ok();
    let days = super::days_from_civil(n(0, 4)?, n(4, 6)?, n(6, 8)?)?;
    let secs = days * 86_400 + n(8, 10)? * 3600 + n(10, 12)? * 60 + n(12, 14)?;
    let frac: f64 = if frac.is_empty() {
        0.0
    } else {
        format!("0.{frac}").parse().ok()?
    };
    Some(secs as f64 + frac)
}

impl Totals {
    /// Totals over streams, from each stream's summary line.
    pub fn from_summaries(summaries: Vec<Line>) -> Totals {
        let udp = summaries.iter().any(|s| s.udp.is_some());
        let tcp = summaries.iter().any(|s| s.udp.is_none());
        let mut t = Totals {
            streams: summaries.len(),
            udp,
            tcp,
            ..Totals::default()
        };
        t.bytes = summaries.iter().map(|s| s.bytes).sum();
        // Folded from +0.0: an empty f64 sum is -0.0.
        t.bps = summaries.iter().map(|s| s.bps).fold(0.0, |a, b| a + b);
        if udp {
            // Over the UDP streams only; a client's `-1` (not available) on
            // any of them makes the figure unavailable.
            let udp_lines = || summaries.iter().filter_map(|s| s.udp);
            t.lost = udp_lines().map(|u| u.1).sum();
            t.total_datagrams = udp_lines().map(|u| u.2).sum();
            t.lost_percent = match (t.lost, t.total_datagrams) {
                (Some(l), Some(n)) if n > 0 => Some(100.0 * l as f64 / n as f64),
                _ => None,
            };
            let j: Option<Vec<f64>> = udp_lines().map(|u| u.0).collect();
            t.mean_jitter_ms = j
                .filter(|j| !j.is_empty())
                .map(|j| j.iter().sum::<f64>() / j.len() as f64);
        }
        t.summaries = summaries;
        t
    }
}

/// iperf 2's `-y C` output.
pub struct Iperf2;

static DECLARATION: Declaration = Declaration {
    name: "iperf2",
    aliases: &[],
    reads: "iperf 2 -y C output (client or server; a stream summary per line)",
    options: &[],
    keys: &["source", "protocol"],
    headline: &["rate (bit/s)"],
    histograms: false,
    spans_tests: false,
};

impl Parser for Iperf2 {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn analyze(&self, groups: &[Group], opts: &Options, found: &mut Found) -> Analysed {
        let parsed = Parsed::new(groups, sequential(read_file), &mut found.errors);
        let mut rows = Vec::new();
        for g in groups {
            let parts: Vec<&Totals> = parsed.of(g).into_iter().map(|(_, t)| t).collect();
            if parts.is_empty() {
                continue;
            }
            let summaries: Vec<&Line> = parts.iter().flat_map(|p| p.summaries.iter()).collect();
            let windows = windowed(
                &g.label,
                &opts.windows,
                &summaries,
                |s| s.time,
                ("iperf stream summary", "iperf stream"),
                &mut found.problems,
            );
            for (label, inside) in windows {
                rows.push((
                    label,
                    Totals::from_summaries(inside.into_iter().cloned().collect()),
                ));
            }
        }
        (parsed.any().then(|| table(rows)), parsed.read_files())
    }
}

pub fn table(rows: Vec<(String, Totals)>) -> Table {
    let columns = vec![
        Column::text("source"),
        Column::text("protocol"),
        Column::int("streams", None),
        Column::int("transferred", Some("bytes")),
        Column::float("rate", Some("bit/s"), 0),
        Column::float("mean jitter", Some("ms"), 3),
        Column::int("lost", Some("datagrams")),
        Column::int("total", Some("datagrams")),
        Column::float("lost", Some("%"), 3),
    ];
    let rows = rows
        .into_iter()
        .map(|(label, t)| {
            vec![
                Cell::Text(label),
                Cell::Text(
                    match (t.tcp, t.udp) {
                        (true, true) => "mixed",
                        (false, true) => "UDP",
                        _ => "TCP",
                    }
                    .into(),
                ),
                Cell::Int(t.streams as i128),
                Cell::Int(t.bytes as i128),
                Cell::Float(t.bps),
                t.mean_jitter_ms.map_or(Cell::Empty, Cell::Float),
                t.lost.map_or(Cell::Empty, |v| Cell::Int(v as i128)),
                t.total_datagrams
                    .map_or(Cell::Empty, |v| Cell::Int(v as i128)),
                t.lost_percent.map_or(Cell::Empty, Cell::Float),
            ]
        })
        .collect();
    Table {
        title: "throughput (iperf 2)".into(),
        columns,
        rows,
        notes: Vec::new(),
    }
}
