//! Collected files → a `Table`. One parser per format, each its own module
//! declaring what it reads ([`parser::Declaration`]) and reading it; this
//! module lists them ([`PARSERS`], a line each), groups files (one row, or
//! one row per file) and records what the table was computed from. Files
//! that cannot be read are returned as errors — never silently dropped.

pub mod ab;
pub mod csvfile;
pub mod dstat;
pub mod file_kind;
pub mod fio;
pub mod hdr;
pub mod iperf2;
pub mod iperf3;
pub mod jtl;
pub mod latency;
pub mod locust;
pub mod parser;
pub mod pgbench;
pub mod printed;
pub mod prometheus;
pub mod promql;
pub mod redis;
pub mod samples;
pub mod stats;
pub mod sysbench;
pub mod wrk;

use std::path::{Path, PathBuf};

use crate::style::{escape_controls, plural};
use crate::table::Table;
pub use parser::{Options, ParserKind};

/// Every parser, a line each: adding a parser is its file and a line here.
static PARSERS: &[&dyn parser::Parser] = &[
    &hdr::Hdr,
    &iperf3::Iperf3,
    &iperf2::Iperf2,
    &dstat::Dstat,
    &csvfile::CsvParser,
    &samples::Samples,
    &pgbench::Pgbench,
    &wrk::Wrk,
    &ab::Ab,
    &sysbench::Sysbench,
    &redis::RedisBenchmark,
    &locust::Locust,
    &fio::Fio,
    &jtl::Jtl,
    &prometheus::Prometheus,
];

/// A problem in one input file, with the line when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl FileError {
    pub fn at(file: &Path, line: usize, message: String) -> Self {
        FileError {
            file: file.to_path_buf(),
            line: (line > 0).then_some(line),
            message,
        }
    }
    pub fn whole(file: &Path, message: String) -> Self {
        FileError {
            file: file.to_path_buf(),
            line: None,
            message,
        }
    }
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Messages may quote a log's bytes: never send raw control bytes to a terminal.
        let message = escape_controls(&self.message);
        // A file name may hold a line break: keep the error on one line.
        let file = escape_controls(&self.file.display().to_string()).replace('\n', "\\n");
        match self.line {
            Some(l) => write!(f, "{file}:{l}: error: {message}"),
            None => write!(f, "{file}: error: {message}"),
        }
    }
}

/// A test's time window, seconds since the epoch: rows with `start <= t < end`.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub name: String,
    pub start: f64,
    pub end: f64,
}

/// Files whose figures are merged into one row, under one label.
#[derive(Debug, Clone)]
pub struct Group {
    pub label: String,
    pub files: Vec<PathBuf>,
}

impl Group {
    /// One group per file, labelled by its path.
    pub fn each(files: &[PathBuf]) -> Vec<Group> {
        files
            .iter()
            .map(|f| Group {
                label: f.display().to_string(),
                files: vec![f.clone()],
            })
            .collect()
    }

    /// All files in one group; the notes list which were read.
    pub fn all(files: &[PathBuf]) -> Vec<Group> {
        vec![Group {
            label: "all files".to_string(),
            files: files.to_vec(),
        }]
    }
}

/// The table (from the files that could be read) and the files that could not.
pub struct Outcome {
    pub table: Option<Table>,
    pub errors: Vec<FileError>,
    /// Problems with the request itself (a column no file has): exit 1.
    pub problems: Vec<String>,
    /// What the table leaves out and why (also in its notes).
    pub warnings: Vec<String>,
    /// What else the reader is told (a recording in local time).
    pub notices: Vec<String>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.errors.is_empty() && self.problems.is_empty()
    }

    /// Errors, problems and warnings as lines for a terminal.
    pub fn lines(&self) -> Vec<String> {
        let errors = self.errors.iter().map(ToString::to_string);
        let problems = self
            .problems
            .iter()
            .map(|p| format!("error: {}", escape_controls(p)));
        let warnings = self
            .warnings
            .iter()
            .chain(&self.notices)
            .map(|w| format!("warning: {}", escape_controls(w)));
        errors.chain(problems).chain(warnings).collect()
    }
}

/// What reading and merging found besides the table, gathered as it goes.
#[derive(Default)]
pub struct Found {
    pub errors: Vec<FileError>,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    pub notices: Vec<String>,
}

/// Reads every distinct file once; `None` for a file that failed (its error is collected).
pub(crate) struct Parsed<T> {
    files: Vec<PathBuf>,
    results: Vec<Option<T>>,
}

impl<T> Parsed<T> {
    fn new(
        groups: &[Group],
        read: impl Fn(&[PathBuf]) -> Vec<Result<T, FileError>>,
        errors: &mut Vec<FileError>,
    ) -> Self {
        let mut files: Vec<PathBuf> = Vec::new();
        for g in groups {
            for f in &g.files {
                if !files.contains(f) {
                    files.push(f.clone());
                }
            }
        }
        let results = read(&files)
            .into_iter()
            .map(|r| r.map_err(|e| errors.push(e)).ok())
            .collect();
        Parsed { files, results }
    }

    /// The readable files of a group, with their parsed content.
    fn of<'a>(&'a self, g: &'a Group) -> Vec<(&'a PathBuf, &'a T)> {
        g.files
            .iter()
            .filter_map(|f| {
                let i = self.files.iter().position(|x| x == f)?;
                self.results[i].as_ref().map(|r| (f, r))
            })
            .collect()
    }

    fn any(&self) -> bool {
        self.results.iter().any(Option::is_some)
    }

    fn read_files(&self) -> Vec<String> {
        self.files
            .iter()
            .zip(&self.results)
            .filter(|(_, r)| r.is_some())
            .map(|(f, _)| f.display().to_string())
            .collect()
    }
}

/// `read` of every file, on all cores (a file per thread at a time);
/// results in the order given.
fn in_parallel<T: Send>(
    files: &[PathBuf],
    read: impl Fn(&Path) -> Result<T, FileError> + Sync,
) -> Vec<Result<T, FileError>> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(files.len().max(1));
    let mut results: Vec<Option<Result<T, FileError>>> = (0..files.len()).map(|_| None).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots = std::sync::Mutex::new(&mut results);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= files.len() {
                        break;
                    }
                    let r = read(&files[i]);
                    slots.lock().expect("lock")[i] = Some(r);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every file was read"))
        .collect()
}

fn sequential<T>(
    read: fn(&Path) -> Result<T, FileError>,
) -> impl Fn(&[PathBuf]) -> Vec<Result<T, FileError>> {
    move |files| files.iter().map(|f| read(f)).collect()
}

pub fn analyze(kind: ParserKind, groups: &[Group], opts: &Options) -> Outcome {
    let mut found = Found::default();
    let (mut table, read) = kind.parser().analyze(groups, opts, &mut found);
    if let Some(t) = &mut table {
        t.notes.insert(
            0,
            format!(
                "Computed by runner {} with parser `{}` from {}: {}",
                env!("CARGO_PKG_VERSION"),
                kind.name(),
                plural(read.len(), "file"),
                read.join(", ")
            ),
        );
        for e in &found.errors {
            t.notes.push(format!("Not included (unreadable): {e}"));
        }
        for w in &found.warnings {
            t.notes.push(format!("Left out: {w}"));
        }
        for p in &found.problems {
            t.notes.push(format!("Not in the table: {p}"));
        }
    }
    Outcome {
        table,
        errors: found.errors,
        problems: found.problems,
        warnings: found.warnings,
        notices: found.notices,
    }
}

/// A table, if any file could be read, and the files that were.
pub type Analysed = (Option<Table>, Vec<String>);

/// Items split by test window (`start <= t < end` on each item's time);
/// without windows, everything under the group's own label. What no
/// window holds, and windows that hold nothing (left out of the result),
/// are problems (a selection that matched nothing, results that would be
/// lost): `item` names one item ("iperf3 run"), `empty` what a window
/// lacks ("iperf3 run").
pub(crate) fn windowed<T: Copy>(
    label: &str,
    windows: &[Window],
    items: &[T],
    time: impl Fn(&T) -> Option<f64>,
    (item, empty): (&str, &str),
    problems: &mut Vec<String>,
) -> Vec<(String, Vec<T>)> {
    if windows.is_empty() {
        return vec![(label.to_string(), items.to_vec())];
    }
    let inside = |i: &T, w: &Window| time(i).is_some_and(|t| w.start <= t && t < w.end);
    let outside = items
        .iter()
        .filter(|i| !windows.iter().any(|w| inside(i, w)))
        .count();
    if outside > 0 {
        problems.push(format!(
            "{label}: {} outside every test window (left out)",
            plural(outside, item)
        ));
    }
    windows
        .iter()
        .filter_map(|w| {
            let items: Vec<T> = items.iter().filter(|i| inside(i, w)).copied().collect();
            let name = format!("{label} / {}", w.name);
            if items.is_empty() {
                problems.push(format!("{name}: no {empty} in this test's window"));
                return None;
            }
            Some((name, items))
        })
        .collect()
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian); `None`
/// for a date that does not exist (the 30th of February).
pub(super) fn days_from_civil(y: i64, m: i64, d: i64) -> Option<i64> {
    let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
    let date = time::Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?)
        .ok()?;
    Some(i64::from(date.to_julian_day()) - 2_440_588)
}

/// Reads test windows: a `windows.json` (`{"windows": [{"test", "start_epoch", "end_epoch"}]}`).
pub fn read_windows(path: &Path) -> Result<Vec<Window>, FileError> {
    let bytes = fs_err::read(path).map_err(|e| FileError::whole(path, e.to_string()))?;
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| FileError::at(path, e.line(), e.to_string()))?;
    let list = v["windows"]
        .as_array()
        .ok_or_else(|| FileError::whole(path, "expected {\"windows\": [...]}".into()))?;
    list.iter()
        .enumerate()
        .map(|(i, w)| {
            let name = w["test"]
                .as_str()
                .or(w["name"].as_str())
                .unwrap_or("?")
                .to_string();
            match (w["start_epoch"].as_f64(), w["end_epoch"].as_f64()) {
                (Some(start), Some(end)) => Ok(Window { name, start, end }),
                _ => Err(FileError::whole(
                    path,
                    format!(
                        "window {i} needs `start_epoch` and `end_epoch` (seconds since the epoch)"
                    ),
                )),
            }
        })
        .collect()
}
