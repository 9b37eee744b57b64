//! iperf3 `-J` output → one row per run: what was sent and received, TCP
//! retransmits, UDP jitter and loss. iperf3 exits 0 on many errors with
//! `-J`; the top-level `"error"` string is the only sign, and it becomes an
//! error row.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::parser::{Declaration, Options, Parser};
use super::{Analysed, FileError, Found, Group, Parsed, sequential, windowed};
use crate::plot::{self, Plot};
use crate::table::{Cell, Column, Table};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Run {
    pub error: Option<String>,
    pub protocol: Option<String>,
    pub streams: Option<u64>,
    /// `yes` or `no`; `mixed` in a merge of both.
    pub reverse: Option<String>,
    pub duration_s: Option<f64>,
    pub sent_bytes: Option<u64>,
    pub sent_bps: Option<f64>,
    pub received_bytes: Option<u64>,
    pub received_bps: Option<f64>,
    pub retransmits: Option<u64>,
    pub jitter_ms: Option<f64>,
    pub lost_packets: Option<u64>,
    pub packets: Option<u64>,
    pub lost_percent: Option<f64>,
    /// Plain mean of the non-omitted intervals' `sum.bits_per_second`.
    pub interval_mean_bps: Option<f64>,
    /// `start.timestamp.timesecs`: when the test began.
    pub start_epoch: Option<f64>,
    /// The non-omitted intervals: (end, seconds since the epoch; bit/s).
    pub intervals: Vec<(f64, f64)>,
}

/// Every run in the file: a client's `-J` output is one JSON document; a
/// server's (`iperf3 -s -J`) is one document per test, back to back.
pub fn read_file(path: &Path) -> Result<Vec<Run>, FileError> {
    let bytes = fs_err::read(path).map_err(|e| FileError::whole(path, e.to_string()))?;
    parse(&bytes, path)
}

pub fn parse(bytes: &[u8], path: &Path) -> Result<Vec<Run>, FileError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(FileError::whole(
            path,
            "the file is empty; expected iperf3 -J output".into(),
        ));
    }
    let mut runs = Vec::new();
    for doc in serde_json::Deserializer::from_slice(bytes).into_iter::<Value>() {
        let v = doc.map_err(|e| {
            FileError::at(
                path,
                e.line(),
                format!("not valid iperf3 JSON ({e}); expected the output of `iperf3 -J`"),
            )
        })?;
        runs.push(parse_run(&v, path)?);
    }
    Ok(runs)
}

fn parse_run(v: &Value, path: &Path) -> Result<Run, FileError> {
    let mut run = Run {
        error: v["error"].as_str().map(str::to_string),
        ..Run::default()
    };
    let test = &v["start"]["test_start"];
    run.protocol = test["protocol"].as_str().map(str::to_string);
    run.streams = test["num_streams"].as_u64();
    run.reverse = test["reverse"]
        .as_u64()
        .map(|r| if r != 0 { "yes" } else { "no" }.to_string());
    run.duration_s = test["duration"].as_f64();
    run.start_epoch = v["start"]["timestamp"]["timesecs"].as_f64();
    if run.error.is_some() {
        return Ok(run);
    }
    if !v["end"].is_object() || run.protocol.is_none() {
        return Err(FileError::whole(
            path,
            "no `start.test_start` or `end` object: is this iperf3 -J output?".into(),
        ));
    }
    let end = &v["end"];
    let udp = run.protocol.as_deref() == Some("UDP");
    let sent = &end["sum_sent"];
    let received = &end["sum_received"];
    run.sent_bytes = sent["bytes"].as_u64();
    run.sent_bps = sent["bits_per_second"].as_f64();
    run.received_bytes = received["bytes"].as_u64();
    run.received_bps = received["bits_per_second"].as_f64();
    if udp {
        // `end.sum` mixes sent figures with the receiver's jitter and loss;
        // everything the receiver saw is in `sum_received`.
        run.jitter_ms = received["jitter_ms"].as_f64();
        run.lost_packets = received["lost_packets"].as_u64();
        run.packets = received["packets"].as_u64();
        run.lost_percent = received["lost_percent"].as_f64();
    } else {
        run.retransmits = sent["retransmits"].as_u64();
    }
    let intervals: Vec<&Value> = v["intervals"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| &i["sum"])
                .filter(|s| !s["omitted"].as_bool().unwrap_or(false))
                .collect()
        })
        .unwrap_or_default();
    if let Some(start) = run.start_epoch {
        run.intervals = intervals
            .iter()
            .filter_map(|s| Some((start + s["end"].as_f64()?, s["bits_per_second"].as_f64()?)))
            .collect();
    }
    if !intervals.is_empty() {
        let total: f64 = intervals
            .iter()
            .filter_map(|s| s["bits_per_second"].as_f64())
            .sum();
        run.interval_mean_bps = Some(total / intervals.len() as f64);
    }
    Ok(run)
}

/// Several runs (hosts, streams of clients) as one: throughputs and counts
/// add up, loss is recomputed from the summed packets, jitter is the mean.
pub fn merge(runs: &[&Run]) -> Run {
    let ok: Vec<&&Run> = runs.iter().filter(|r| r.error.is_none()).collect();
    let sum_u = |f: fn(&Run) -> Option<u64>| -> Option<u64> { ok.iter().map(|r| f(r)).sum() };
    // A protocol's own figures (TCP retransmits, UDP loss) add up over the
    // runs of that protocol, so a TCP + UDP merge keeps both.
    let of = |proto: &str, f: fn(&Run) -> Option<u64>| -> Option<u64> {
        let runs: Vec<&&&Run> = ok
            .iter()
            .filter(|r| r.protocol.as_deref() == Some(proto))
            .collect();
        if runs.is_empty() {
            return None;
        }
        runs.iter().map(|r| f(r)).sum()
    };
    let sum_f = |f: fn(&Run) -> Option<f64>| -> Option<f64> { ok.iter().map(|r| f(r)).sum() };
    let same = |f: fn(&Run) -> Option<String>| {
        let vals: Vec<Option<String>> = ok.iter().map(|r| f(r)).collect();
        if vals.windows(2).all(|w| w[0] == w[1]) {
            vals.first().cloned().flatten()
        } else {
            Some("mixed".into())
        }
    };
    let lost = of("UDP", |r| r.lost_packets);
    let packets = of("UDP", |r| r.packets);
    let jitters: Vec<f64> = ok.iter().filter_map(|r| r.jitter_ms).collect();
    Run {
        error: None,
        protocol: same(|r| r.protocol.clone()),
        streams: sum_u(|r| r.streams),
        reverse: same(|r| r.reverse.clone()),
        duration_s: ok.iter().filter_map(|r| r.duration_s).reduce(f64::max),
        sent_bytes: sum_u(|r| r.sent_bytes),
        sent_bps: sum_f(|r| r.sent_bps),
        received_bytes: sum_u(|r| r.received_bytes),
        received_bps: sum_f(|r| r.received_bps),
        retransmits: of("TCP", |r| r.retransmits),
        jitter_ms: (!jitters.is_empty())
            .then(|| jitters.iter().sum::<f64>() / jitters.len() as f64),
        lost_packets: lost,
        packets,
        lost_percent: match (lost, packets) {
            (Some(l), Some(p)) if p > 0 => Some(100.0 * l as f64 / p as f64),
            _ => None,
        },
        interval_mean_bps: sum_f(|r| r.interval_mean_bps),
        start_epoch: ok.iter().filter_map(|r| r.start_epoch).reduce(f64::min),
        intervals: Vec::new(),
    }
}

/// iperf3's `-J` output.
pub struct Iperf3;

static DECLARATION: Declaration = Declaration {
    name: "iperf3",
    aliases: &[],
    reads: "iperf3 -J output (client or server; a run per JSON document)",
    options: &[],
    keys: &["source", "protocol", "reverse", "error"],
    headline: &["received (bit/s)"],
    histograms: false,
    spans_tests: false,
};

impl Parser for Iperf3 {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn analyze(&self, groups: &[Group], opts: &Options, found: &mut Found) -> Analysed {
        let parsed = Parsed::new(groups, sequential(read_file), &mut found.errors);
        let mut rows: Vec<(String, Run)> = Vec::new();
        for g in groups {
            let runs: Vec<(&PathBuf, &Run)> = parsed
                .of(g)
                .into_iter()
                .flat_map(|(f, rs)| rs.iter().map(move |r| (f, r)))
                .collect();
            let windows = windowed(
                &g.label,
                &opts.windows,
                &runs,
                |(_, r)| r.start_epoch,
                ("iperf3 run", "iperf3 run"),
                &mut found.problems,
            );
            for (label, inside) in windows {
                let good: Vec<&Run> = inside
                    .iter()
                    .map(|(_, r)| *r)
                    .filter(|r| r.error.is_none())
                    .collect();
                if !good.is_empty() {
                    rows.push((label.clone(), merge(&good)));
                }
                // A failed run is its own row, never folded into the totals.
                for (f, r) in inside.iter().filter(|(_, r)| r.error.is_some()) {
                    let label = if g.files.len() == 1 {
                        label.clone()
                    } else {
                        format!("{label}: {}", f.display())
                    };
                    rows.push((label, (*r).clone()));
                }
            }
        }
        (parsed.any().then(|| table(rows)), parsed.read_files())
    }

    /// Each file's interval throughput (the intervals iperf3 did not omit).
    fn plots(&self, files: &[(String, PathBuf)], _opts: &Options, t0: f64) -> Vec<Plot> {
        let series: Vec<plot::Series> = files
            .iter()
            .filter_map(|(label, f)| {
                let runs = read_file(f).ok()?;
                let points: Vec<(f64, f64)> = runs
                    .iter()
                    .flat_map(|r| r.intervals.iter().map(|&(t, v)| (t - t0, v)))
                    .collect();
                (!points.is_empty()).then(|| plot::Series {
                    name: label.clone(),
                    points,
                })
            })
            .collect();
        if series.is_empty() {
            return Vec::new();
        }
        vec![Plot {
            title: "interval throughput".into(),
            x: plot::XAxis::Seconds,
            y: "bit/s".into(),
            series,
            windows: true,
            height: 340,
        }]
    }
}

pub fn table(rows: Vec<(String, Run)>) -> Table {
    let columns = vec![
        Column::text("source"),
        Column::text("protocol"),
        Column::int("streams", None),
        Column::text("reverse"),
        Column::float("duration", Some("s"), 0),
        Column::int("sent", Some("bytes")),
        Column::float("sent", Some("bit/s"), 0),
        Column::int("received", Some("bytes")),
        Column::float("received", Some("bit/s"), 0),
        Column::float("interval mean", Some("bit/s"), 0),
        Column::int("retransmits", None),
        Column::float("jitter", Some("ms"), 3),
        Column::int("lost", Some("packets")),
        Column::int("packets", None),
        Column::float("lost", Some("%"), 2),
        Column::text("error"),
    ];
    let u = |v: Option<u64>| v.map_or(Cell::Empty, |x| Cell::Int(x as i128));
    let f = |v: Option<f64>| v.map_or(Cell::Empty, Cell::Float);
    let rows = rows
        .into_iter()
        .map(|(label, r)| {
            vec![
                Cell::Text(label),
                r.protocol.map_or(Cell::Empty, Cell::Text),
                u(r.streams),
                r.reverse.map_or(Cell::Empty, Cell::Text),
                f(r.duration_s),
                u(r.sent_bytes),
                f(r.sent_bps),
                u(r.received_bytes),
                f(r.received_bps),
                f(r.interval_mean_bps),
                u(r.retransmits),
                f(r.jitter_ms),
                u(r.lost_packets),
                u(r.packets),
                f(r.lost_percent),
                r.error.map_or(Cell::Empty, Cell::Text),
            ]
        })
        .collect();
    Table {
        title: "throughput (iperf3)".into(),
        columns,
        rows,
        notes: Vec::new(),
    }
}
