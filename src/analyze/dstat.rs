//! dstat / dool CSV (`--output`) → per-column n, mean, min, max over the
//! whole recording or inside each test window.
//!
//! Format points handled: the preamble (`Author:`/`URL:`, `Host:`/`User:`,
//! `Cmdline:`/`Date:` cells), grouped two-row headers (a group spans the
//! empty cells after it; plugin instances prefix their columns, `net/lo:recv`),
//! every column addressable as `group.column`; dstat `-t` times (`dd-mm
//! HH:MM:SS`), dool `-t` (`Mon-dd HH:MM:SS`) and `-T` epochs; the year and
//! zone come from `Date:`. dool writes bits for net/dsk unless `--bytes`.
//!
//! Window rule: a row belongs to a window when `start <= t < end`, `t` being
//! the row's own timestamp (UTC). The first data row is dstat's average
//! since boot; it is inside a window only if its timestamp is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::parser::{Declaration, Kind, OptionDecl, Options, Parser};
use super::stats::{self, Stats};
use super::{Analysed, FileError, Found, Group, Parsed, Window, days_from_civil, sequential};
use crate::plot::{self, Plot};
use crate::table::{Cell, Column, Table};

#[derive(Debug, Clone)]
pub struct Recording {
    pub preamble: BTreeMap<String, String>,
    pub columns: Vec<String>,
    /// Row timestamps, seconds since the epoch (UTC).
    pub times: Vec<f64>,
    /// Row-major values: column `c` of row `i` is `values[i * columns.len() + c]`
    /// (NaN when not a number).
    pub values: Vec<f64>,
    /// Unit of net/dsk columns: `bytes/s` or `bits/s` (dool's default).
    pub byte_columns_unit: &'static str,
    /// Whether `times` never decreases (no NaN, no clock step back).
    pub times_sorted: bool,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn hms(text: &str) -> Option<i64> {
    let mut it = text.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (it.next()??, it.next()??, it.next()??);
    Some(h * 3600 + m * 60 + s)
}

/// `23 Nov 2026 08:41:18 UTC` → (year, month).
fn preamble_date(date: &str) -> Option<(i64, i64)> {
    let parts: Vec<&str> = date.split_whitespace().collect();
    let month = MONTHS.iter().position(|m| Some(m) == parts.get(1))? as i64 + 1;
    Some((parts.get(2)?.parse().ok()?, month))
}

pub fn read_file(path: &Path) -> Result<Recording, FileError> {
    let bytes = fs_err::read(path).map_err(|e| FileError::whole(path, e.to_string()))?;
    parse(&bytes, path)
}

pub fn parse(bytes: &[u8], path: &Path) -> Result<Recording, FileError> {
    let mut r = Records {
        reader: csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes),
        record: csv::StringRecord::new(),
        path,
    };
    let title = r.title()?;
    let preamble = r.preamble(&title)?;
    let (columns, header_line) = r.columns()?;
    let (year, date_month) = preamble
        .get("Date")
        .and_then(|d| preamble_date(d))
        .unwrap_or((1970, 1));
    let cmdline = preamble.get("Cmdline").cloned().unwrap_or_default();
    let dool_bits =
        title.starts_with("dool") && !cmdline.contains("--bytes") && !cmdline.contains("--dstat");
    let time_col = columns
        .iter()
        .position(|c| c == "system.time" || c == "epoch.epoch" || c.ends_with(".time"));
    let (times, values) = r.rows(columns.len(), time_col, year, date_month)?;
    if times.is_empty() {
        return Err(FileError::at(
            path,
            header_line,
            "headers but no data rows (Debian 12's dstat 0.7.4 crashes on its first CSV row under Python 3; record with dool, or a dstat whose `showcsv` is fixed)".into(),
        ));
    }
    let times_sorted = !times.iter().any(|t| t.is_nan()) && times.windows(2).all(|w| w[0] <= w[1]);
    Ok(Recording {
        preamble,
        columns,
        times,
        values,
        byte_columns_unit: if dool_bits { "bits/s" } else { "bytes/s" },
        times_sorted,
    })
}

/// A dstat CSV, record by record: one buffer, reused, so that a long
/// recording is streamed, not held.
struct Records<'a> {
    reader: csv::Reader<&'a [u8]>,
    record: csv::StringRecord,
    path: &'a Path,
}

impl Records<'_> {
    /// The next record and its line, `None` at the end.
    fn next(&mut self) -> Result<Option<usize>, FileError> {
        match self.reader.read_record(&mut self.record) {
            Ok(true) => Ok(Some(
                self.record.position().map_or(0, |p| p.line() as usize),
            )),
            Ok(false) => Ok(None),
            Err(e) => Err(FileError::at(
                self.path,
                e.position().map_or(0, |p| p.line() as usize),
                e.to_string(),
            )),
        }
    }

    /// `"Dstat 0.8.0 CSV output"` or `"dool 1.3.8 CSV output"`.
    fn title(&mut self) -> Result<String, FileError> {
        if self.next()?.is_none() {
            return Err(FileError::whole(
                self.path,
                "the file is empty; expected dstat/dool CSV output".into(),
            ));
        }
        let title = self.record.get(0).unwrap_or("").to_string();
        if !title.contains("CSV output") {
            return Err(FileError::at(
                self.path,
                1,
                format!(
                    "expected a dstat/dool CSV title such as \"Dstat 0.8.0 CSV output\", found `{title}`"
                ),
            ));
        }
        Ok(title)
    }

    /// Preamble rows start with a `Label:` cell; the first row that does
    /// not is the group header (left in the buffer).
    fn preamble(&mut self, title: &str) -> Result<BTreeMap<String, String>, FileError> {
        let mut preamble = BTreeMap::new();
        preamble.insert("title".to_string(), title.to_string());
        loop {
            self.next()?.ok_or_else(|| self.missing_header())?;
            if !self.record.get(0).unwrap_or("").ends_with(':') {
                return Ok(preamble);
            }
            let cells: Vec<&str> = self.record.iter().collect();
            for (k, cell) in cells.iter().enumerate() {
                if let Some(label) = cell.strip_suffix(':')
                    && !label.is_empty()
                    && label.chars().all(|c| c.is_ascii_alphabetic())
                {
                    preamble.insert(
                        label.to_string(),
                        cells.get(k + 1).unwrap_or(&"").to_string(),
                    );
                }
            }
        }
    }

    fn missing_header(&self) -> FileError {
        FileError::whole(self.path, "no header rows after the preamble".into())
    }

    /// `group.column` names from the group row (in the buffer) and the
    /// column row; the column row's line.
    fn columns(&mut self) -> Result<(Vec<String>, usize), FileError> {
        let groups: Vec<String> = self.record.iter().map(str::to_string).collect();
        let header_line = self.next()?.ok_or_else(|| self.missing_header())?;
        let mut columns = Vec::new();
        let mut group = String::new();
        for (k, name) in self.record.iter().enumerate() {
            let g = groups.get(k).map_or("", String::as_str);
            if !g.is_empty() {
                group = g.to_string();
            }
            let column = name.strip_prefix(&format!("{group}:")).unwrap_or(name);
            columns.push(format!("{group}.{column}"));
        }
        Ok((columns, header_line))
    }

    /// Each row's time and values (row-major), every row as wide as the header.
    fn rows(
        &mut self,
        width: usize,
        time_col: Option<usize>,
        year: i64,
        date_month: i64,
    ) -> Result<(Vec<f64>, Vec<f64>), FileError> {
        let mut times = Vec::new();
        let mut values = Vec::new();
        while let Some(line) = self.next()? {
            if self.record.len() != width {
                return Err(FileError::at(
                    self.path,
                    line,
                    format!(
                        "expected {width} fields as in the header, found {}",
                        self.record.len()
                    ),
                ));
            }
            let t = match time_col {
                Some(c) => {
                    let text = self.record.get(c).unwrap_or("");
                    parse_time(text, year, date_month).ok_or_else(|| {
                        FileError::at(
                            self.path,
                            line,
                            format!("cannot read the time `{text}` (expected dd-mm HH:MM:SS, Mon-dd HH:MM:SS or epoch seconds)"),
                        )
                    })?
                }
                None => f64::NAN,
            };
            times.push(t);
            values.extend(
                self.record
                    .iter()
                    .map(|v| v.trim().parse::<f64>().unwrap_or(f64::NAN)),
            );
        }
        Ok((times, values))
    }
}

fn parse_time(text: &str, year: i64, date_month: i64) -> Option<f64> {
    if let Ok(epoch) = text.parse::<f64>() {
        return Some(epoch);
    }
    let (date, clock) = text.split_once(' ')?;
    let (a, b) = date.split_once('-')?;
    let (month, day) = match MONTHS.iter().position(|m| *m == a) {
        Some(m) => (m as i64 + 1, b.parse::<i64>().ok()?),
        None => (b.parse::<i64>().ok()?, a.parse::<i64>().ok()?),
    };
    // A recording that crosses New Year: months before the start month are next year.
    let year = if month < date_month { year + 1 } else { year };
    Some((days_from_civil(year, month, day)? * 86_400 + hms(clock)?) as f64)
}

impl Recording {
    /// Indices of the rows inside `[start, end)`: a binary search when the
    /// times are in order (as recorded), a scan otherwise.
    pub fn rows_in(&self, w: &Window) -> Vec<usize> {
        if self.times_sorted {
            let lo = self.times.partition_point(|&t| t < w.start);
            let hi = self.times.partition_point(|&t| t < w.end);
            return (lo..hi.max(lo)).collect();
        }
        (0..self.times.len())
            .filter(|&i| w.start <= self.times[i] && self.times[i] < w.end)
            .collect()
    }

    /// The `Date:` zone when row times are wall-clock text in a zone other
    /// than UTC/GMT (epoch columns are unaffected).
    pub fn non_utc_zone(&self) -> Option<String> {
        if self.columns.iter().any(|c| c == "epoch.epoch") {
            return None;
        }
        let zone = self
            .preamble
            .get("Date")?
            .split_whitespace()
            .nth(4)?
            .to_string();
        (!matches!(zone.as_str(), "UTC" | "GMT" | "Z" | "+0000")).then_some(zone)
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    pub fn column_stats(&self, col: usize, rows: &[usize]) -> Option<Stats> {
        let width = self.columns.len();
        stats::of(rows.iter().map(|&i| self.values[i * width + col]))
    }

    pub fn unit_of(&self, column: &str) -> &'static str {
        let group = column.split('.').next().unwrap_or("");
        if group.starts_with("net") || group.starts_with("dsk") {
            self.byte_columns_unit
        } else if group.contains("cpu") {
            "%"
        } else if group.starts_with("memory") {
            "bytes"
        } else {
            ""
        }
    }
}

/// Long format: one row per (source, window, column).
/// dstat's and dool's `--output` CSV.
pub struct Dstat;

static DECLARATION: Declaration = Declaration {
    name: "dstat",
    aliases: &["dool"],
    reads: "dstat/dool --output CSV: each column's n, mean, min, max, per test window",
    options: &[OptionDecl {
        name: "columns",
        kind: Kind::Texts,
        help: "the columns to summarise, as `group.column` (`total cpu usage.usr`); default every column but the time",
    }],
    keys: &["source", "window", "column", "unit"],
    headline: &["mean"],
    histograms: false,
    spans_tests: true,
};

impl Parser for Dstat {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn analyze(&self, groups: &[Group], opts: &Options, found: &mut Found) -> Analysed {
        let parsed = Parsed::new(groups, sequential(read_file), &mut found.errors);
        if !parsed.any() {
            return (None, parsed.read_files());
        }
        let mut rows = Vec::new();
        let mut notes = Vec::new();
        for g in groups {
            for (f, rec) in parsed.of(g) {
                notes.extend(notes_of(f, rec, found));
                let wanted = columns_of(f, rec, opts, found);
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
        for name in opts.texts("columns") {
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
        let mut t = table(rows, !opts.windows.is_empty());
        t.notes = notes;
        t.notes.push("Window rule: a row is in a test's window when start <= t < end, t being the row's own timestamp (UTC, year from the Date: line). dstat's first row (the average since boot) counts only if its time is inside.".into());
        (Some(t), parsed.read_files())
    }

    /// A few hosts: a chart per column group and host; many: a chart per
    /// column, a line per host.
    fn plots(&self, files: &[(String, PathBuf)], opts: &Options, t0: f64) -> Vec<Plot> {
        let recs: Vec<(String, Recording)> = files
            .iter()
            .filter_map(|(label, f)| Some((label.clone(), read_file(f).ok()?)))
            .collect();
        if recs.len() <= 3 {
            recs.iter()
                .flat_map(|(name, rec)| group_plots(rec, t0, name))
                .collect()
        } else {
            column_plots(&recs, opts, t0)
        }
    }
}

/// What a recording is, for the table's notes; a warning when its times
/// are not UTC.
fn notes_of(f: &Path, rec: &Recording, found: &mut Found) -> Vec<String> {
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
fn columns_of(f: &Path, rec: &Recording, opts: &Options, found: &mut Found) -> Vec<usize> {
    if opts.texts("columns").is_empty() {
        return (0..rec.columns.len())
            .filter(|&c| !rec.columns[c].ends_with(".time") && rec.columns[c] != "epoch.epoch")
            .collect();
    }
    let mut idx = Vec::new();
    for name in opts.texts("columns") {
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

fn series_of(rec: &Recording, c: usize, t0: f64) -> Vec<(f64, f64)> {
    let width = rec.columns.len();
    rec.times
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let v = rec.values[i * width + c];
            v.is_finite().then_some((t - t0, v))
        })
        .collect()
}

/// A column's group: `total cpu usage` of `total cpu usage.usr`.
fn group_of(column: &str) -> &str {
    column.split_once('.').map_or(column, |g| g.0)
}

/// The analysis's columns (or the first six that are not times), a chart
/// each with one line per host.
fn column_plots(recs: &[(String, Recording)], opts: &Options, t0: f64) -> Vec<Plot> {
    let first = &recs[0].1;
    let asked = opts.texts("columns");
    let columns: Vec<String> = if asked.is_empty() {
        first
            .columns
            .iter()
            .filter(|c| !matches!(group_of(c), "time" | "epoch" | "system"))
            .take(6)
            .cloned()
            .collect()
    } else {
        asked.to_vec()
    };
    columns
        .iter()
        .filter_map(|col| {
            let series: Vec<plot::Series> = recs
                .iter()
                .filter_map(|(name, rec)| {
                    let c = rec.column_index(col)?;
                    Some(plot::Series {
                        name: name.clone(),
                        points: series_of(rec, c, t0),
                    })
                })
                .collect();
            (!series.is_empty()).then(|| Plot {
                title: col.clone(),
                x: plot::XAxis::Seconds,
                y: first.unit_of(col).to_string(),
                series,
                windows: true,
                height: 300,
            })
        })
        .collect()
}

/// One small chart per column group (`total cpu usage`, `net/total`, …).
fn group_plots(rec: &Recording, t0: f64, file: &str) -> Vec<Plot> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (c, name) in rec.columns.iter().enumerate() {
        let group = group_of(name);
        if matches!(group, "time" | "epoch" | "system") {
            continue;
        }
        match groups.iter_mut().find(|g| g.0 == group) {
            Some(g) => g.1.push(c),
            None => groups.push((group.to_string(), vec![c])),
        }
    }
    groups
        .into_iter()
        .take(12)
        .map(|(group, cols)| Plot {
            title: format!("{file}: {group}"),
            x: plot::XAxis::Seconds,
            y: rec.unit_of(&rec.columns[cols[0]]).to_string(),
            series: cols
                .iter()
                .map(|&c| plot::Series {
                    name: rec.columns[c]
                        .split_once('.')
                        .map_or(rec.columns[c].clone(), |x| x.1.to_string()),
                    points: series_of(rec, c, t0),
                })
                .collect(),
            windows: true,
            height: 260,
        })
        .collect()
}

pub fn table(
    rows: Vec<(String, String, String, &'static str, Option<Stats>)>,
    windowed: bool,
) -> Table {
    let columns: Vec<Column> = [
        Column::text("source"),
        Column::text("window"),
        Column::text("column"),
        Column::text("unit"),
    ]
    .into_iter()
    .chain(stats::columns())
    .collect();
    let rows = rows
        .into_iter()
        .map(|(source, window, column, unit, s)| {
            let mut r = vec![
                Cell::Text(source),
                Cell::Text(window),
                Cell::Text(column),
                Cell::Text(unit.to_string()),
            ];
            r.extend(stats::cells(s.as_ref()));
            r
        })
        .collect();
    Table {
        title: if windowed {
            "system metrics (dstat), per test window".into()
        } else {
            "system metrics (dstat), whole recording".into()
        },
        columns,
        rows,
        notes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_by_search_and_by_scan_agree() {
        let mut rec = Recording {
            preamble: BTreeMap::new(),
            columns: vec!["a.b".into()],
            times: vec![1.0, 2.0, 2.0, 3.0, 5.0],
            values: vec![1.0; 5],
            byte_columns_unit: "bytes/s",
            times_sorted: true,
        };
        let w = Window {
            name: "w".into(),
            start: 2.0,
            end: 5.0,
        };
        assert_eq!(rec.rows_in(&w), vec![1, 2, 3]);
        rec.times_sorted = false;
        assert_eq!(rec.rows_in(&w), vec![1, 2, 3]);
        let backwards = Window {
            name: "e".into(),
            start: 9.0,
            end: 4.0,
        };
        assert!(rec.rows_in(&backwards).is_empty());
    }

    #[test]
    fn a_non_utc_recording_is_flagged() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/samples/dstat/dstat_tcmndy.csv"
        ))
        .unwrap();
        let rec = parse(text.as_bytes(), Path::new("a")).unwrap();
        assert_eq!(rec.non_utc_zone(), None);
        let cet = text.replace("08:41:18 UTC", "09:41:18 CET");
        let rec = parse(cet.as_bytes(), Path::new("b")).unwrap();
        assert_eq!(rec.non_utc_zone().as_deref(), Some("CET"));
    }

    #[test]
    fn civil_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2026, 2, 30), None);
        assert_eq!(
            days_from_civil(2026, 11, 23).unwrap() * 86_400 + 8 * 3600 + 41 * 60 + 18,
            1_795_423_278
        );
        assert_eq!(
            parse_time("23-11 08:41:18", 2026, 11),
            Some(1_795_423_278.0)
        );
        assert_eq!(
            parse_time("Nov-23 08:41:18", 2026, 11),
            Some(1_795_423_278.0)
        );
        assert_eq!(
            parse_time("01-01 00:00:00", 2026, 12),
            Some(days_from_civil(2027, 1, 1).unwrap() as f64 * 86_400.0)
        );
    }
}
