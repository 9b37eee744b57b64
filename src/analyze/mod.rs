//! Collected files → a `Table`. One parser per format, each its own module;
//! this module picks files, merges them (one row, or one row per file) and
//! records what the table was computed from. Files that cannot be read are
//! returned as errors — never silently dropped.

pub mod csvfile;
pub mod dstat;
pub mod hdr;
pub mod iperf2;
pub mod iperf3;
pub mod stats;

use std::path::{Path, PathBuf};

pub use crate::kinds::ParserKind;
use crate::style::{escape_controls, plural};
use crate::table::Table;

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
        match self.line {
            Some(l) => write!(f, "{}:{l}: error: {message}", self.file.display()),
            None => write!(f, "{}: error: {message}", self.file.display()),
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

#[derive(Debug, Clone)]
pub struct Options {
    /// HDR: which lines to merge.
    pub tag: hdr::TagFilter,
    /// HDR: the unit of the recorded values (a log does not say).
    pub unit: String,
    /// dstat/csv: the columns to summarise (empty: all numeric ones).
    pub columns: Vec<String>,
    /// dstat: test windows (empty: the whole recording).
    pub windows: Vec<Window>,
    /// csv: the columns that tell a summary's rows apart (empty: a series).
    pub key: Vec<String>,
    /// csv: how a figure of rows merged across files is made.
    pub merge: std::collections::BTreeMap<String, csvfile::Merge>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tag: hdr::TagFilter::EachTag,
            unit: "ns".into(),
            columns: Vec::new(),
            windows: Vec::new(),
            key: Vec::new(),
            merge: Default::default(),
        }
    }
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
struct Found {
    errors: Vec<FileError>,
    problems: Vec<String>,
    warnings: Vec<String>,
    notices: Vec<String>,
}

/// Reads every distinct file once; `None` for a file that failed (its error is collected).
struct Parsed<T> {
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

fn sequential<T>(
    read: fn(&Path) -> Result<T, FileError>,
) -> impl Fn(&[PathBuf]) -> Vec<Result<T, FileError>> {
    move |files| files.iter().map(|f| read(f)).collect()
}

pub fn analyze(kind: ParserKind, groups: &[Group], opts: &Options) -> Outcome {
    let mut found = Found::default();
    let (mut table, read) = match kind {
        ParserKind::Hdr => analyze_hdr(groups, opts, &mut found),
        ParserKind::Iperf3 => analyze_iperf3(groups, opts, &mut found),
        ParserKind::Iperf2 => analyze_iperf2(groups, opts, &mut found),
        ParserKind::Dstat => analyze_dstat(groups, opts, &mut found),
        ParserKind::Csv => analyze_csv(groups, opts, &mut found),
    };
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
type Analysed = (Option<Table>, Vec<String>);

fn analyze_iperf3(groups: &[Group], opts: &Options, found: &mut Found) -> Analysed {
    let parsed = Parsed::new(groups, sequential(iperf3::read_file), &mut found.errors);
    let mut rows: Vec<(String, iperf3::Run)> = Vec::new();
    for g in groups {
        let runs: Vec<(&PathBuf, &iperf3::Run)> = parsed
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
            let good: Vec<&iperf3::Run> = inside
                .iter()
                .map(|(_, r)| *r)
                .filter(|r| r.error.is_none())
                .collect();
            if !good.is_empty() {
                rows.push((label.clone(), iperf3::merge(&good)));
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
    (
        parsed.any().then(|| iperf3::table(rows)),
        parsed.read_files(),
    )
}

fn analyze_iperf2(groups: &[Group], opts: &Options, found: &mut Found) -> Analysed {
    let parsed = Parsed::new(groups, sequential(iperf2::read_file), &mut found.errors);
    let mut rows = Vec::new();
    for g in groups {
        let parts: Vec<&iperf2::Totals> = parsed.of(g).into_iter().map(|(_, t)| t).collect();
        if parts.is_empty() {
            continue;
        }
        let summaries: Vec<&iperf2::Line> = parts.iter().flat_map(|p| p.summaries.iter()).collect();
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
                iperf2::Totals::from_summaries(inside.into_iter().cloned().collect()),
            ));
        }
    }
    (
        parsed.any().then(|| iperf2::table(rows)),
        parsed.read_files(),
    )
}

fn analyze_csv(groups: &[Group], opts: &Options, found: &mut Found) -> Analysed {
    let parsed = Parsed::new(groups, sequential(csvfile::read_file), &mut found.errors);
    if !opts.key.is_empty() {
        let table = parsed
            .any()
            .then(|| keyed_csv(&parsed, groups, opts, found));
        return (table, parsed.read_files());
    }
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for g in groups {
        for (f, s) in parsed.of(g) {
            notes.push(format!(
                "{}: {} rows, delimiter `{}`; not numeric (left out): {}",
                f.display(),
                s.rows,
                s.delimiter as char,
                if s.non_numeric.is_empty() {
                    "none".to_string()
                } else {
                    s.non_numeric.join(", ")
                }
            ));
            let mut percentiles = Vec::new();
            for (col, st) in &s.numeric {
                if !opts.columns.is_empty() && !opts.columns.contains(col) {
                    continue;
                }
                // A percentile column of several rows (a summary with a row
                // per operation): its mean is no percentile of anything.
                let refused = st.n > 1 && csvfile::percentile_like(col);
                if refused {
                    percentiles.push(format!("`{col}`"));
                }
                rows.push((g.label.clone(), col.clone(), *st, refused));
            }
            if !percentiles.is_empty() {
                let key = csvfile::key_candidate(s).map_or("…".to_string(), |k| k.to_string());
                found.problems.push(format!(
                    "{}: {} {} percentiles over {} rows: their mean would be no percentile (left out); if each row is a summary of its own, name the column that tells them apart: `key = [\"{key}\"]` / `--key {key}`",
                    f.display(),
                    percentiles.join(", "),
                    if percentiles.len() == 1 { "is" } else { "are" },
                    s.rows
                ));
            }
        }
    }
    check_csv_columns(&parsed, groups, opts, found);
    let table = parsed.any().then(|| {
        let mut t = csvfile::table(rows);
        t.notes = notes;
        t
    });
    (table, parsed.read_files())
}

/// `--columns` / `columns` no file has: named, with the columns there are.
fn check_csv_columns(
    parsed: &Parsed<csvfile::Summary>,
    groups: &[Group],
    opts: &Options,
    found: &mut Found,
) {
    let summaries = || groups.iter().flat_map(|g| parsed.of(g)).map(|(_, s)| s);
    for name in &opts.columns {
        let anywhere = summaries()
            .any(|s| s.numeric.iter().any(|(c, _)| c == name) || s.non_numeric.contains(name));
        if parsed.any() && !anywhere {
            let mut all: Vec<&str> = summaries()
                .flat_map(|s| s.numeric.iter().map(|(c, _)| c.as_str()))
                .collect();
            all.sort_unstable();
            all.dedup();
            found.problems.push(format!(
                "no file has a column `{name}` (--columns / `columns`); numeric columns are {}",
                all.join(", ")
            ));
        }
    }
}

/// A summary CSV (a row per operation), rows kept apart by the key
/// columns: one row per group × key, each figure as the file has it, or
/// merged across files by the declared rule.
fn keyed_csv(
    parsed: &Parsed<csvfile::Summary>,
    groups: &[Group],
    opts: &Options,
    found: &mut Found,
) -> Table {
    let summaries = || groups.iter().flat_map(|g| parsed.of(g));
    // The figures: numeric columns that are not keys, in first-seen order.
    let mut figures: Vec<String> = Vec::new();
    for (_, s) in summaries() {
        for (c, _) in &s.numeric {
            let wanted = opts.columns.is_empty() || opts.columns.contains(c);
            if wanted && !opts.key.contains(c) && !figures.contains(c) {
                figures.push(c.clone());
            }
        }
    }
    let mut rows: Vec<csvfile::KeyedRow> = Vec::new();
    // Refused merges: one message per reason, naming its columns.
    let mut refused: Vec<(csvfile::Refused, Vec<String>)> = Vec::new();
    for g in groups {
        for (key, entries) in rows_by_key(parsed, g, &opts.key, found) {
            let values = merged_figures(&figures, &entries, opts, &mut refused);
            rows.push((g.label.clone(), key, values));
        }
    }
    for (why, columns) in refused {
        found.problems.push(why.say(&columns));
    }
    let mut t = csvfile::keyed_table(&opts.key, &figures, rows);
    t.notes.push(format!(
        "Rows kept apart by {}; figures as each file has them{}.",
        opts.key
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", "),
        if opts.merge.is_empty() {
            String::new()
        } else {
            format!(
                ", merged across files by {}",
                opts.merge
                    .iter()
                    .map(|(c, r)| format!("{c} = {}", r.name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    ));
    t
}

/// A key's value and the rows (with their file's summary) that have it.
type KeyRows<'a> = (Vec<String>, Vec<(&'a csvfile::Summary, &'a Vec<String>)>);

/// Every row of a group's files, by key value, in the order first seen.
fn rows_by_key<'a>(
    parsed: &'a Parsed<csvfile::Summary>,
    g: &'a Group,
    key: &[String],
    found: &mut Found,
) -> Vec<KeyRows<'a>> {
    let mut by_key: Vec<KeyRows<'a>> = Vec::new();
    for (f, s) in parsed.of(g) {
        let Some(idx) = key_columns(f, s, key, found) else {
            continue;
        };
        for rec in &s.records {
            let key: Vec<String> = idx
                .iter()
                .map(|&i| rec.get(i).cloned().unwrap_or_default())
                .collect();
            match by_key.iter_mut().find(|(k, _)| *k == key) {
                Some((_, list)) => list.push((s, rec)),
                None => by_key.push((key, vec![(s, rec)])),
            }
        }
    }
    by_key
}

/// Each figure of one key's rows: as it is (one row), merged by its rule,
/// or refused (`None`; the reason gathered in `refused` by column).
fn merged_figures(
    figures: &[String],
    entries: &[(&csvfile::Summary, &Vec<String>)],
    opts: &Options,
    refused: &mut Vec<(csvfile::Refused, Vec<String>)>,
) -> Vec<Option<f64>> {
    figures
        .iter()
        .map(|col| {
            let vals: Vec<f64> = entries
                .iter()
                .filter_map(|(s, rec)| {
                    let i = s.header.iter().position(|h| h == col)?;
                    rec.get(i)?.parse::<f64>().ok()
                })
                .collect();
            if vals.is_empty() {
                return None;
            }
            csvfile::merged(col, &vals, opts.merge.get(col).copied())
                .map_err(|e| {
                    let col = format!("`{col}`");
                    match refused.iter_mut().find(|(m, _)| *m == e) {
                        Some((_, cols)) if cols.contains(&col) => {}
                        Some((_, cols)) => cols.push(col),
                        None => refused.push((e, vec![col])),
                    }
                })
                .ok()
        })
        .collect()
}

/// The positions of the key columns in a file, or `None` (said) when it
/// lacks one.
fn key_columns(
    f: &Path,
    s: &csvfile::Summary,
    key: &[String],
    found: &mut Found,
) -> Option<Vec<usize>> {
    let idx: Option<Vec<usize>> = key
        .iter()
        .map(|k| s.header.iter().position(|h| h == k))
        .collect();
    if idx.is_none() {
        found.problems.push(format!(
            "{}: no key column {} (--key / `key`); its columns are {}",
            f.display(),
            key.iter()
                .filter(|k| !s.header.contains(k))
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", "),
            s.header.join(", ")
        ));
    }
    idx
}

/// Items split by test window (`start <= t < end` on each item's time);
/// without windows, everything under the group's own label. What no
/// window holds, and windows that hold nothing (left out of the result),
/// are problems (a selection that matched nothing, results that would be
/// lost): `item` names one item ("iperf3 run"), `empty` what a window
/// lacks ("iperf3 run").
fn windowed<T: Copy>(
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

fn analyze_hdr(groups: &[Group], opts: &Options, found: &mut Found) -> Analysed {
    let parsed = Parsed::new(
        groups,
        |files| hdr::read_all(files, &opts.tag),
        &mut found.errors,
    );
    if !parsed.any() {
        return (None, parsed.read_files());
    }
    let mut rows = Vec::new();
    for g in groups {
        let parts: Vec<&hdr::FileMerge> = parsed.of(g).into_iter().map(|(_, m)| m).collect();
        if parts.is_empty() {
            continue;
        }
        match hdr::merge(&parts) {
            // The tag selects nothing here: said, not a silent gap.
            Ok(merged) if merged.is_empty() => found.problems.push(format!(
                "{}: no histogram line {}",
                g.label,
                match &opts.tag {
                    hdr::TagFilter::Only(t) => format!("has tag `{t}` (--tag / `tag`)"),
                    _ => "is untagged (--tag / `tag`)".to_string(),
                }
            )),
            Ok(merged) => {
                for (tag, m) in merged {
                    rows.push((g.label.clone(), tag, hdr::summarize(&m)));
                }
            }
            Err(e) => found.errors.push(FileError::whole(
                Path::new(&g.label),
                format!("cannot merge: {e}"),
            )),
        }
    }
    let mut t = hdr::table(rows, &opts.unit);
    t.notes.push(format!(
        "Histograms merged exactly (HdrHistogram add); percentiles from the merged histograms, never averaged. Values in {} (the unit the logs were recorded in, as given by `unit`). Lines merged: {}.",
        opts.unit,
        match &opts.tag {
            hdr::TagFilter::EachTag => "each tag separately".to_string(),
            hdr::TagFilter::All => "all lines, whatever their tag".to_string(),
            hdr::TagFilter::Untagged => "untagged lines only".to_string(),
            hdr::TagFilter::Only(t) => format!("tag `{t}` only"),
        }
    ));
    (Some(t), parsed.read_files())
}

fn analyze_dstat(groups: &[Group], opts: &Options, found: &mut Found) -> Analysed {
    let parsed = Parsed::new(groups, sequential(dstat::read_file), &mut found.errors);
    if !parsed.any() {
        return (None, parsed.read_files());
    }
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for g in groups {
        for (f, rec) in parsed.of(g) {
            notes.extend(dstat_notes(f, rec, found));
            let wanted = dstat_columns(f, rec, opts, found);
            let windows: Vec<(String, Vec<usize>)> = if opts.windows.is_empty() {
                vec![(
                    "whole recording".to_string(),
                    (0..rec.times.len()).collect(),
                )]
            } else {
                opts.windows
                    .iter()
                    .map(|w| (w.name.clone(), rec.rows_in(w)))
                    .collect()
            };
            for (wname, idx) in &windows {
                for &c in &wanted {
                    rows.push((
                        g.label.clone(),
                        wname.clone(),
                        rec.columns[c].clone(),
                        rec.unit_of(&rec.columns[c]),
                        rec.column_stats(c, idx),
                    ));
                }
            }
        }
    }
    for name in &opts.columns {
        let recordings = || groups.iter().flat_map(|g| parsed.of(g));
        if !recordings().any(|(_, rec)| rec.column_index(name).is_some()) {
            let some = recordings()
                .next()
                .map(|(_, rec)| rec.columns.join(", "))
                .unwrap_or_default();
            found.problems.push(format!(
                "no file has a column `{name}` (--columns / `columns`); columns are {some}"
            ));
            found
                .warnings
                .retain(|w| !w.contains(&format!("has no column `{name}`")));
        }
    }
    let mut t = dstat::table(rows, !opts.windows.is_empty());
    t.notes = notes;
    t.notes.push("Window rule: a row is in a test's window when start <= t < end, t being the row's own timestamp (UTC, year from the Date: line). dstat's first row (the average since boot) counts only if its time is inside.".into());
    (Some(t), parsed.read_files())
}

/// What a recording is, for the table's notes; a warning when its times
/// are not UTC.
fn dstat_notes(f: &Path, rec: &dstat::Recording, found: &mut Found) -> Vec<String> {
    let p = &rec.preamble;
    let get = |k: &str| p.get(k).map_or("?", String::as_str);
    let mut notes = vec![format!(
        "{}: {} ({}), recorded on {} from {}; {} rows; net/dsk columns in {}",
        f.display(),
        get("title"),
        get("Cmdline"),
        get("Host"),
        get("Date"),
        rec.times.len(),
        rec.byte_columns_unit
    )];
    if let Some(zone) = rec.non_utc_zone() {
        // dstat -t/dool -t write local wall-clock times; only UTC/GMT can be placed exactly.
        notes.push(format!(
            "WARNING {}: recorded in time zone {zone}; its times were read as UTC, so test windows may be shifted (record monitors with TZ=UTC, or dool -T)",
            f.display()
        ));
        found.notices.push(format!(
            "{}: recorded in time zone {zone}; its times are read as UTC",
            f.display()
        ));
    }
    notes
}

/// The columns of a recording to summarise: the ones asked for, else
/// every one but its time.
fn dstat_columns(
    f: &Path,
    rec: &dstat::Recording,
    opts: &Options,
    found: &mut Found,
) -> Vec<usize> {
    if opts.columns.is_empty() {
        return (0..rec.columns.len())
            .filter(|&c| !rec.columns[c].ends_with(".time") && rec.columns[c] != "epoch.epoch")
            .collect();
    }
    let mut idx = Vec::new();
    for name in &opts.columns {
        match rec.column_index(name) {
            Some(i) => idx.push(i),
            // The file's other columns are in the table: a note, not "unreadable".
            None => found.warnings.push(format!(
                "{} has no column `{name}` (its other columns are in the table)",
                f.display()
            )),
        }
    }
    idx
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
