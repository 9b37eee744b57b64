//! fio's `--output-format=json` and `json+`: per job and direction (read,
//! write, trim) IOPS, bandwidth, I/Os, and the submission (slat),
//! completion (clat) and total (lat) latencies' means. With `json+` the
//! completion latency's histogram bins (fio's log-linear buckets, keyed by
//! their value in ns) add exactly across jobs, files and hosts, and the
//! percentiles asked are recomputed from the merged bins by fio's own rule
//! (the first bucket whose running count reaches N × p / 100) — equal to
//! fio's for one job. Without bins (plain `json`), each job is its own row
//! with fio's percentiles: a percentile is never merged.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::latency;
use super::parser::{Declaration, Options, Parser, Refusal};
use super::{Analysed, FileError, Found, Group, Parsed, sequential};
use crate::table::{Cell, Column, Table};

pub struct Fio;

static DECLARATION: Declaration = Declaration {
    name: "fio",
    aliases: &[],
    reads: "fio --output-format=json or json+ (with json+ the clat bins, merged exactly across jobs and hosts)",
    options: &[latency::OPTION],
    keys: &["source", "job", "direction"],
    headline: &["iops", "p99"],
    histograms: false,
    spans_tests: false,
};

/// One job's figures in one direction.
#[derive(Debug, Clone)]
pub struct Dir {
    job: String,
    /// The job's place in its file, from 0.
    index: usize,
    dir: &'static str,
    iops: f64,
    bw_bytes: f64,
    ios: f64,
    /// (N, mean) of slat, clat and lat, in ns.
    means: [(f64, f64); 3],
    clat_max: f64,
    /// fio's percentiles (percent → ns).
    printed: Vec<(f64, f64)>,
    /// json+: value (ns) → count.
    bins: Option<BTreeMap<u64, u64>>,
}

impl Parser for Fio {
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
        let asked = latency::asked(opts);
        let mut rows = Vec::new();
        let mut unmerged = false;
        for g in groups {
            let files = parsed.of(g);
            let several = files.len() > 1;
            for dir in ["read", "write", "trim"] {
                let these: Vec<(String, &Dir)> = files
                    .iter()
                    .flat_map(|(f, dirs)| {
                        dirs.iter()
                            .filter(|d| d.dir == dir)
                            .map(move |d| (job_name(f, d, several), d))
                    })
                    .collect();
                match these.as_slice() {
                    [] => {}
                    [(name, d)] => rows.push(merged_row(&g.label, name, &[d], &asked)),
                    _ if these.iter().all(|(_, d)| d.bins.is_some()) => {
                        let all: Vec<&Dir> = these.iter().map(|(_, d)| *d).collect();
                        let name = format!("{} jobs", all.len());
                        rows.push(merged_row(&g.label, &name, &all, &asked));
                    }
                    _ => {
                        // Not every job has bins: a row per job, fio's percentiles.
                        unmerged = true;
                        for (name, d) in &these {
                            rows.push(merged_row(&g.label, name, &[d], &asked));
                        }
                    }
                }
            }
        }
        let t = table(rows, &asked);
        if unmerged {
            let note = "Jobs of a direction are rows of their own where one of them has no histogram bins (fio --output-format=json, not json+): percentiles cannot be merged without them.";
            found.notices.push(note.into());
        }
        (Some(t), parsed.read_files())
    }
}

/// A job's name in its row: fio's `jobname` and its place in the file
/// (numjobs repeats the name), and the file where a row merges several.
fn job_name(file: &Path, d: &Dir, several: bool) -> String {
    let job = format!("{} #{}", d.job, d.index + 1);
    match file.file_name() {
        Some(f) if several => format!("{}: {job}", f.to_string_lossy()),
        _ => job,
    }
}

/// fio's percentile of bins: the first bucket whose running count reaches
/// N × p / 100.
fn percentile(bins: &BTreeMap<u64, u64>, p: f64) -> Option<f64> {
    let n: u64 = bins.values().sum();
    let target = p / 100.0 * n as f64;
    let mut running = 0u64;
    for (&v, &c) in bins {
        running += c;
        if running as f64 >= target {
            return Some(v as f64);
        }
    }
    None
}

/// A row from jobs of one direction: rates and counts added, means
/// weighted by their I/Os, percentiles from the merged bins (or fio's own
/// for one job without bins).
fn merged_row(label: &str, job: &str, dirs: &[&Dir], asked: &[f64]) -> Vec<Cell> {
    let mean = |k: usize| {
        let n: f64 = dirs.iter().map(|d| d.means[k].0).sum();
        (n > 0.0).then(|| {
            dirs.iter()
                .map(|d| d.means[k].0 * d.means[k].1)
                .sum::<f64>()
                / n
        })
    };
    let bins = dirs.iter().all(|d| d.bins.is_some()).then(|| {
        let mut all: BTreeMap<u64, u64> = BTreeMap::new();
        for d in dirs {
            for (&v, &c) in d.bins.iter().flatten() {
                *all.entry(v).or_default() += c;
            }
        }
        all
    });
    let f = |v: Option<f64>| v.map_or(Cell::Empty, Cell::Float);
    let mut row = vec![
        Cell::Text(label.to_string()),
        Cell::Text(job.to_string()),
        Cell::Text(dirs[0].dir.to_string()),
        Cell::Int(dirs.len() as i128),
        Cell::Float(dirs.iter().map(|d| d.ios).sum()),
        Cell::Float(dirs.iter().map(|d| d.iops).sum()),
        Cell::Float(dirs.iter().map(|d| d.bw_bytes).sum()),
        f(mean(0)),
        f(mean(1)),
        f(mean(2)),
    ];
    for &p in asked {
        let v = match (&bins, dirs) {
            (Some(b), _) => percentile(b, p),
            (None, [one]) => one
                .printed
                .iter()
                .find(|(q, _)| (q - p).abs() < 1e-9)
                .map(|x| x.1),
            (None, _) => None,
        };
        row.push(f(v));
    }
    row.push(f(dirs.iter().map(|d| d.clat_max).reduce(f64::max)));
    row
}

fn table(rows: Vec<Vec<Cell>>, asked: &[f64]) -> Table {
    let mut columns = vec![
        Column::text("source"),
        Column::text("job"),
        Column::text("direction"),
        Column::int("jobs", None),
        Column::float("ios", None, 0),
        Column::float("iops", Some("IOPS"), 1),
        Column::float("bandwidth", Some("bytes/s"), 0),
        Column::float("slat mean", Some("ns"), 1),
        Column::float("clat mean", Some("ns"), 1),
        Column::float("lat mean", Some("ns"), 1),
    ];
    for &p in asked {
        columns.push(Column::float(
            &format!("clat {}", latency::name(p)),
            Some("ns"),
            0,
        ));
    }
    columns.push(Column::float("clat max", Some("ns"), 0));
    Table {
        title: "I/O (fio)".into(),
        columns,
        rows,
        notes: vec!["Jobs of a row added (IOPS, bandwidth, I/Os); means weighted by their I/Os; completion-latency percentiles from the jobs' json+ bins merged exactly, by fio's rule (equal to fio's for one job). A job without bins (plain json) is its own row with fio's percentiles, empty where fio did not print the one asked.".into()],
    }
}

pub fn read_file(path: &Path) -> Result<Vec<Dir>, FileError> {
    let bytes = fs_err::read(path).map_err(|e| FileError::whole(path, e.to_string()))?;
    // fio may print notes before its JSON (`note: both iodepth >= 1 …`).
    let start = bytes.iter().position(|&b| b == b'{').ok_or_else(|| {
        FileError::whole(path, "no JSON: expected fio --output-format=json".into())
    })?;
    let v: Value = serde_json::from_slice(&bytes[start..])
        .map_err(|e| FileError::at(path, e.line(), format!("not valid fio JSON ({e})")))?;
    let jobs = v["jobs"]
        .as_array()
        .ok_or_else(|| FileError::whole(path, "no `jobs`: not fio JSON output".into()))?;
    let mut out = Vec::new();
    for (i, j) in jobs.iter().enumerate() {
        let name = j["jobname"]
            .as_str()
            .map_or_else(|| format!("job {i}"), str::to_string);
        for dir in ["read", "write", "trim"] {
            let d = &j[dir];
            let ios = d["total_ios"].as_f64().unwrap_or(0.0);
            if ios == 0.0 && d["iops"].as_f64().unwrap_or(0.0) == 0.0 {
                continue;
            }
            out.push(Dir {
                index: i,
                ..direction(&name, dir, d, path)?
            });
        }
    }
    if out.is_empty() {
        return Err(FileError::whole(path, "no job did any I/O".into()));
    }
    Ok(out)
}

fn direction(job: &str, dir: &'static str, d: &Value, path: &Path) -> Result<Dir, FileError> {
    let stat = |k: &str| {
        (
            d[k]["N"].as_f64().unwrap_or(0.0),
            d[k]["mean"].as_f64().unwrap_or(0.0),
        )
    };
    let clat = &d["clat_ns"];
    let printed = clat["percentile"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_f64()?)))
                .collect()
        })
        .unwrap_or_default();
    let bins = match clat["bins"].as_object() {
        None => None,
        Some(m) => Some(
            m.iter()
                .map(|(k, v)| Some((k.parse::<u64>().ok()?, v.as_u64()?)))
                .collect::<Option<BTreeMap<u64, u64>>>()
                .ok_or_else(|| {
                    FileError::whole(
                        path,
                        format!("job `{job}` {dir}: a bin that is not `\"ns\": count`"),
                    )
                })?,
        ),
    };
    Ok(Dir {
        index: 0,
        job: job.to_string(),
        dir,
        iops: d["iops"].as_f64().unwrap_or(0.0),
        bw_bytes: d["bw_bytes"].as_f64().unwrap_or(0.0),
        ios: d["total_ios"].as_f64().unwrap_or(0.0),
        means: [stat("slat_ns"), stat("clat_ns"), stat("lat_ns")],
        clat_max: clat["max"].as_f64().unwrap_or(0.0),
        printed,
        bins,
    })
}
