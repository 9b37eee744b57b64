//! Generic CSV with a header row. A series (sar, a load generator's
//! per-second log): n, mean, min, max of every column whose values are all
//! numbers. A summary (redis-benchmark, ab, wrk, fio: a row per operation)
//! with `key` columns: each row's figures as they are, kept apart by the
//! key; rows of one key from several files are merged only by a rule the
//! analysis declares, and a percentile-like column never by a mean or a
//! sum. The delimiter is `,`, `;` or tab (sysstat's `sadf -d` writes `;`
//! and starts its header with `# `).

use std::path::Path;

use super::parser::{Declaration, Kind, OptionDecl, Options, Parser, Refusal};
use super::stats::{self, Stats};
use super::{Analysed, FileError, Found, Group, Parsed, sequential};
use crate::table::{Cell, Column, Table};

#[derive(Debug, Clone)]
pub struct Summary {
    pub delimiter: u8,
    pub rows: usize,
    /// Numeric columns in header order.
    pub numeric: Vec<(String, Stats)>,
    pub non_numeric: Vec<String>,
    /// The header and every row, as written (summaries are read by row).
    pub header: Vec<String>,
    pub records: Vec<Vec<String>>,
}

pub use crate::kinds::Merge;

/// `rule` over `values`.
fn apply(rule: Merge, values: &[f64]) -> f64 {
    let fold = |init: f64, f: fn(f64, f64) -> f64| values.iter().copied().fold(init, f);
    match rule {
        Merge::Sum => fold(0.0, |a, b| a + b),
        Merge::Mean => fold(0.0, |a, b| a + b) / values.len() as f64,
        Merge::Min => fold(f64::INFINITY, f64::min),
        Merge::Max => fold(f64::NEG_INFINITY, f64::max),
    }
}

/// A column whose figures are percentiles (`p99`, `p99_latency_ms`,
/// `99th percentile`, `99%`, `median`): averaging or adding them gives no
/// percentile of anything.
pub fn percentile_like(column: &str) -> bool {
    let c = column.trim().to_ascii_lowercase();
    let digits_after_p = c
        .strip_prefix('p')
        .is_some_and(|r| r.starts_with(|ch: char| ch.is_ascii_digit()));
    let leading: String = c
        .chars()
        .take_while(|ch| ch.is_ascii_digit() || *ch == '.')
        .collect();
    let ordinal = !leading.is_empty()
        && ["th", "%", " %", "nd", "rd", "st"]
            .iter()
            .any(|s| c[leading.len()..].starts_with(s));
    digits_after_p || ordinal || c.contains("percentile") || c.contains("median")
}

pub fn read_file(path: &Path) -> Result<Summary, FileError> {
    let bytes = fs_err::read(path).map_err(|e| FileError::whole(path, e.to_string()))?;
    parse(&bytes, path)
}

pub fn parse(bytes: &[u8], path: &Path) -> Result<Summary, FileError> {
    let text = String::from_utf8_lossy(bytes);
    let first = text.lines().next().unwrap_or("");
    if first.trim().is_empty() {
        return Err(FileError::whole(
            path,
            "the file is empty; expected CSV with a header row".into(),
        ));
    }
    let delimiter = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| first.matches(*d as char).count())
        .unwrap_or(b',');
    let body = text.strip_prefix("# ").unwrap_or(&text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(body.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| FileError::at(path, 1, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); header.len()];
    let mut numeric = vec![true; header.len()];
    let mut records = Vec::new();
    let mut rows = 0;
    for r in reader.records() {
        let r = r.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            FileError::at(
                path,
                line,
                format!("expected {} fields as in the header: {e}", header.len()),
            )
        })?;
        rows += 1;
        // Blanks at the ends are the file's layout; a no-break space is text.
        records.push(r.iter().map(|v| v.trim_ascii().to_string()).collect());
        for (c, v) in r.iter().enumerate() {
            match v.trim().parse::<f64>() {
                Ok(x) if numeric[c] => columns[c].push(x),
                _ => numeric[c] = false,
            }
        }
    }
    if rows == 0 {
        return Err(FileError::at(path, 1, "a header but no data rows".into()));
    }
    let mut out = Summary {
        delimiter,
        rows,
        numeric: Vec::new(),
        non_numeric: Vec::new(),
        header: header.clone(),
        records,
    };
    for (c, name) in header.into_iter().enumerate() {
        match (numeric[c], stats::of(columns[c].iter().copied())) {
            (true, Some(s)) => out.numeric.push((name, s)),
            _ => out.non_numeric.push(name),
        }
    }
    Ok(out)
}

/// Any CSV with a header row.
pub struct CsvParser;

static DECLARATION: Declaration = Declaration {
    name: "csv",
    aliases: &[],
    reads: "any CSV with a header row: a series (each numeric column's n, mean, min, max) or, with `key`, a summary (a row per key)",
    options: &[
        OptionDecl {
            name: "columns",
            kind: Kind::Texts,
            help: "the columns to summarise (default every numeric one)",
        },
        OptionDecl {
            name: "key",
            kind: Kind::Texts,
            help: "the columns that tell a summary's rows apart (`[\"test\"]`): a row per key, each figure as the file has it",
        },
        OptionDecl {
            name: "merge",
            kind: Kind::Map,
            help: "with `key`: how rows of one key from several files merge, per column (`{ rps = \"sum\" }`: sum, mean, min or max; a percentile only min or max)",
        },
        OptionDecl {
            name: "units",
            kind: Kind::Map,
            help: "each column's unit (`{ tps = \"1/s\", lag_avg_ms = \"ms\" }`): in the headers, and a comparison says better or worse by it (time: lower; rate: higher)",
        },
        OptionDecl {
            name: "better",
            kind: Kind::Map,
            help: "which way is better for a column whose unit does not say (`{ errors = \"lower\" }`): `higher` or `lower`",
        },
    ],
    keys: &["source", "column"],
    headline: &["mean"],
    histograms: false,
    spans_tests: false,
};

/// The `merge` rules (checked by `check`: unknown ones are left out here).
fn rules(opts: &Options) -> std::collections::BTreeMap<String, Merge> {
    opts.map("merge")
        .iter()
        .filter_map(|(c, r)| Some((c.clone(), Merge::parse(r)?)))
        .collect()
}

impl Parser for CsvParser {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn check(&self, opts: &Options) -> Vec<Refusal> {
        let mut out = Vec::new();
        if !opts.map("merge").is_empty() && opts.texts("key").is_empty() {
            out.push(Refusal {
                option: "merge".into(),
                message: "`merge` without `key`".into(),
                help: "merge rules say how rows of one key combine: add `key = [\"test\"]` (the column that tells rows apart)".into(),
            });
        }
        for (col, way) in opts.map("better") {
            if !matches!(way.as_str(), "higher" | "lower") {
                out.push(Refusal {
                    option: "better".into(),
                    message: format!("`better` for `{col}` is `{way}`"),
                    help: "`higher` or `lower`".into(),
                });
            }
        }
        for (col, unit) in opts.map("units") {
            if unit.trim().is_empty() || unit.contains(['(', ')']) {
                out.push(Refusal {
                    option: "units".into(),
                    message: format!("`units` for `{col}` is `{unit}`"),
                    help: "a unit as written in a header: `ms`, `1/s`, `bytes`, `%`".into(),
                });
            }
        }
        for (col, rule) in opts.map("merge") {
            if Merge::parse(rule).is_none() {
                out.push(Refusal {
                    option: "merge".into(),
                    message: format!("unknown merge rule `{rule}` for `{col}`"),
                    help: format!("expected one of {}", Merge::names().join(", ")),
                });
            }
        }
        out
    }

    fn analyze(&self, groups: &[Group], opts: &Options, found: &mut Found) -> Analysed {
        let parsed = Parsed::new(groups, sequential(read_file), &mut found.errors);
        if !opts.texts("key").is_empty() {
            check_named(&parsed, groups, opts, found);
            let table = parsed
                .any()
                .then(|| with_units(keyed_csv(&parsed, groups, opts, found), opts));
            return (table, parsed.read_files());
        }
        let (rows, notes) = per_column(&parsed, groups, opts, found);
        mixed_columns(&parsed, groups, found);
        check_csv_columns(&parsed, groups, opts, found);
        check_named(&parsed, groups, opts, found);
        let table = parsed.any().then(|| {
            let mut t = table(rows);
            t.notes = notes;
            with_units(t, opts)
        });
        (table, parsed.read_files())
    }
}

/// A row per group and numeric column: the group's files merged exactly
/// (counts added, means weighted by them, the extremes); a percentile
/// column's mean left out where it would average several rows or files.
/// And a note per file.
fn per_column(
    parsed: &Parsed<Summary>,
    groups: &[Group],
    opts: &Options,
    found: &mut Found,
) -> (Vec<ColumnRow>, Vec<String>) {
    let mut rows: Vec<ColumnRow> = Vec::new();
    let mut notes = Vec::new();
    let wanted =
        |col: &String| opts.texts("columns").is_empty() || opts.texts("columns").contains(col);
    for g in groups {
        let files = parsed.of(g);
        for (f, s) in &files {
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
            for (col, st) in s.numeric.iter().filter(|(c, _)| wanted(c)) {
                // A percentile column of several rows (a summary with a row
                // per operation): its mean is no percentile of anything.
                if st.n > 1 && percentile_like(col) {
                    percentiles.push(format!("`{col}`"));
                }
                let refused = percentile_like(col) && (st.n > 1 || files.len() > 1);
                match rows.iter_mut().find(|r| r.0 == g.label && r.1 == *col) {
                    Some(r) => {
                        r.2 = stats::merged(&r.2, st);
                        r.3 |= refused;
                    }
                    None => rows.push((g.label.clone(), col.clone(), *st, refused)),
                }
            }
            if !percentiles.is_empty() {
                let key = key_candidate(s).map_or("…".to_string(), |k| k.to_string());
                found.problems.push(format!(
                    "{}: {} {} percentiles over {} rows: their mean would be no percentile (left out); if each row is a summary of its own, name the column that tells them apart: `key = [\"{key}\"]` / `--key {key}`",
                    f.display(),
                    percentiles.join(", "),
                    if percentiles.len() == 1 { "is" } else { "are" },
                    s.rows
                ));
            }
        }
        let across: Vec<String> = rows
            .iter()
            .filter(|r| r.0 == g.label && r.3 && files.len() > 1)
            .map(|r| format!("`{}`", r.1))
            .collect();
        if !across.is_empty() {
            found.problems.push(format!(
                "{}: {} of several files: their mean would be no percentile (left out); keep the files apart (`--by file` / `by = [\"host\"]`)",
                g.label,
                across.join(", ")
            ));
        }
    }
    (rows, notes)
}

/// A row of the per-column table: group, column, figures, mean refused.
type ColumnRow = (String, String, Stats, bool);

/// A column that is numbers in some files of a group and not in others:
/// its row would pass for all of them.
fn mixed_columns(parsed: &Parsed<Summary>, groups: &[Group], found: &mut Found) {
    for g in groups {
        let files = parsed.of(g);
        for (f, s) in &files {
            for col in &s.non_numeric {
                if files
                    .iter()
                    .any(|(_, o)| o.numeric.iter().any(|(c, _)| c == col))
                {
                    found.problems.push(format!(
                        "{}: `{col}` holds a cell that is not a number; its row is of the other files only",
                        f.display()
                    ));
                }
            }
        }
    }
}

/// The table with each column's unit as `units` gives it: a figure's
/// header (`tps (1/s)`), or a `column` cell of the per-column table; and
/// a keyed figure whole in every row shown whole.
fn with_units(mut t: Table, opts: &Options) -> Table {
    let units: std::collections::BTreeMap<&str, &str> = opts
        .map("units")
        .iter()
        .map(|(c, u)| (c.as_str(), u.as_str()))
        .collect();
    for (i, c) in t.columns.iter_mut().enumerate() {
        if let Some(u) = units.get(c.name.as_str()) {
            c.unit = Some(u.to_string());
        }
        let whole = t.rows.iter().all(|r| match r.get(i) {
            Some(Cell::Float(v)) => v.fract() == 0.0,
            _ => true,
        });
        if c.numeric && whole && c.name != "mean" {
            c.decimals = 0;
        }
    }
    if let Some(col) = t.columns.iter().position(|c| c.name == "column") {
        for r in &mut t.rows {
            if let Some(Cell::Text(name)) = r.get_mut(col)
                && let Some(u) = units.get(name.as_str())
            {
                *name = format!("{name} ({u})");
            }
        }
    }
    if !units.is_empty() {
        t.notes.push(format!(
            "Units as the analysis gives them: {}.",
            units
                .iter()
                .map(|(c, u)| format!("{c} = {u}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    t
}

/// `units` and `better` naming a column no file has: named, with the
/// columns there are.
fn check_named(parsed: &Parsed<Summary>, groups: &[Group], opts: &Options, found: &mut Found) {
    let headers: std::collections::BTreeSet<&str> = groups
        .iter()
        .flat_map(|g| parsed.of(g))
        .flat_map(|(_, s)| s.header.iter().map(String::as_str))
        .collect();
    if headers.is_empty() {
        return;
    }
    for option in ["units", "better"] {
        for (col, _) in opts.map(option) {
            if !headers.contains(col.as_str()) {
                found.problems.push(format!(
                    "`{option}` names `{col}`, which no file has; the columns are {}",
                    headers.iter().copied().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
}

/// `--columns` / `columns` no file has: named, with the columns there are.
fn check_csv_columns(
    parsed: &Parsed<Summary>,
    groups: &[Group],
    opts: &Options,
    found: &mut Found,
) {
    let summaries = || groups.iter().flat_map(|g| parsed.of(g)).map(|(_, s)| s);
    for name in opts.texts("columns") {
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
    parsed: &Parsed<Summary>,
    groups: &[Group],
    opts: &Options,
    found: &mut Found,
) -> Table {
    let summaries = || groups.iter().flat_map(|g| parsed.of(g));
    // The figures: numeric columns that are not keys, in first-seen order.
    let mut figures: Vec<String> = Vec::new();
    for (_, s) in summaries() {
        for (c, _) in &s.numeric {
            let columns = opts.texts("columns");
            let wanted = columns.is_empty() || columns.contains(c);
            if wanted && !opts.texts("key").contains(c) && !figures.contains(c) {
                figures.push(c.clone());
            }
        }
    }
    let rules = rules(opts);
    let mut rows: Vec<KeyedRow> = Vec::new();
    // Refused merges: one message per reason, naming its columns.
    let mut refused: Vec<(Refused, Vec<String>)> = Vec::new();
    for g in groups {
        for (key, entries) in rows_by_key(parsed, g, opts.texts("key"), found) {
            let values = merged_figures(&figures, &entries, &rules, &mut refused);
            rows.push((g.label.clone(), key, values));
        }
    }
    for (why, columns) in refused {
        found.problems.push(why.say(&columns));
    }
    let mut t = keyed_table(opts.texts("key"), &figures, rows);
    t.notes.push(format!(
        "Rows kept apart by {}; figures as each file has them{}.",
        opts.texts("key")
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", "),
        if rules.is_empty() {
            String::new()
        } else {
            format!(
                ", merged across files by {}",
                rules
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
type KeyRows<'a> = (Vec<String>, Vec<(&'a Summary, &'a Vec<String>)>);

/// Every row of a group's files, by key value, in the order first seen.
fn rows_by_key<'a>(
    parsed: &'a Parsed<Summary>,
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
    entries: &[(&Summary, &Vec<String>)],
    rules: &std::collections::BTreeMap<String, Merge>,
    refused: &mut Vec<(Refused, Vec<String>)>,
) -> Vec<Option<f64>> {
    figures
        .iter()
        .map(|col| {
            let cells: Vec<&String> = entries
                .iter()
                .filter_map(|(s, rec)| rec.get(s.header.iter().position(|h| h == col)?))
                .collect();
            let vals: Vec<f64> = cells.iter().filter_map(|c| c.parse::<f64>().ok()).collect();
            if vals.is_empty() {
                return None;
            }
            // A cell that is no number: never a merge of the others.
            let complete = vals.len() == cells.len() || entries.len() == 1;
            complete
                .then_some(())
                .ok_or(Refused::NotNumber)
                .and_then(|()| merged(col, &vals, rules.get(col).copied()))
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
fn key_columns(f: &Path, s: &Summary, key: &[String], found: &mut Found) -> Option<Vec<usize>> {
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

/// A series' table: n, mean, min, max per column (the mean left empty
/// where it was refused: a percentile column).
pub fn table(rows: Vec<(String, String, Stats, bool)>) -> Table {
    let columns: Vec<Column> = [Column::text("source"), Column::text("column")]
        .into_iter()
        .chain(stats::columns())
        .collect();
    let rows = rows
        .into_iter()
        .map(|(source, col, s, no_mean)| {
            let mut r = vec![Cell::Text(source), Cell::Text(col)];
            let mut cells = stats::cells(Some(&s));
            if no_mean {
                cells[1] = Cell::Empty;
            }
            r.extend(cells);
            r
        })
        .collect();
    Table {
        title: "numeric columns (CSV)".into(),
        columns,
        rows,
        notes: Vec::new(),
    }
}

/// The column that most likely tells a summary's rows apart: the first
/// that is not numeric and has a different value in every row.
pub fn key_candidate(s: &Summary) -> Option<&str> {
    s.non_numeric.iter().map(String::as_str).find(|col| {
        let Some(i) = s.header.iter().position(|h| h == col) else {
            return false;
        };
        let mut seen = std::collections::BTreeSet::new();
        s.records
            .iter()
            .all(|r| seen.insert(r.get(i).map(String::as_str)))
    })
}

/// One row of a keyed table: its source, key values and figures (empty
/// where a merge was refused or a file had no number).
pub type KeyedRow = (String, Vec<String>, Vec<Option<f64>>);

/// A summary table: `source`, the key columns, then the figures.
pub fn keyed_table(key: &[String], figures: &[String], rows: Vec<KeyedRow>) -> Table {
    let columns: Vec<Column> = std::iter::once(Column::text("source"))
        .chain(key.iter().map(|k| Column::text(k)))
        .chain(figures.iter().map(|f| Column::float(f, None, 3)))
        .collect();
    let rows = rows
        .into_iter()
        .map(|(source, keys, values)| {
            std::iter::once(Cell::Text(source))
                .chain(keys.into_iter().map(Cell::Text))
                .chain(
                    values
                        .into_iter()
                        .map(|v| v.map_or(Cell::Empty, Cell::Float)),
                )
                .collect()
        })
        .collect();
    Table {
        title: "summary rows (CSV)".into(),
        columns,
        rows,
        notes: Vec::new(),
    }
}

/// Why rows of one key were not merged into a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No `merge` rule for the column.
    NoRule,
    /// A mean or a sum of percentiles.
    Percentile(Merge),
    /// A row of one of the files has a cell that is no number.
    NotNumber,
}

impl Refused {
    /// The sentence for `columns` (each backticked) refused this way.
    pub fn say(self, columns: &[String]) -> String {
        let cols = columns.join(", ");
        match self {
            Refused::NoRule => {
                let example = columns
                    .first()
                    .map_or("rps".into(), |c| c.trim_matches('`').to_string());
                let rule = if percentile_like(&example) {
                    "max"
                } else {
                    "sum"
                };
                // A TOML key as written: bare when it can be.
                let bare = example
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                let key = if bare {
                    example.clone()
                } else {
                    format!("\"{}\"", example.replace('\\', "\\\\").replace('"', "\\\""))
                };
                format!(
                    "several rows of one key (in one file or several) need a rule to merge {cols}: `merge = {{ {key} = \"{rule}\" }}` (sum, mean, min or max; a percentile only min or max), or tell them apart (another `key` column; `by = [\"host\"]` / `--by file` for files)"
                )
            }
            Refused::NotNumber => format!(
                "{cols}: a cell of the rows to merge is not a number (left empty rather than merged from the others)"
            ),
            Refused::Percentile(r) => format!(
                "{cols}: the {} of percentiles is not a percentile of anything; keep the rows apart (`by = [\"host\"]` / `--by file`), merge the raw latencies (an HdrHistogram log), or bound it with `max`",
                r.name()
            ),
        }
    }
}

/// The figure of `column` over rows of one key from several files, by
/// `rule`; `Err` says why there is none.
pub fn merged(column: &str, values: &[f64], rule: Option<Merge>) -> Result<f64, Refused> {
    if let [one] = values {
        return Ok(*one);
    }
    match rule {
        None => Err(Refused::NoRule),
        Some(r @ (Merge::Mean | Merge::Sum)) if percentile_like(column) => {
            Err(Refused::Percentile(r))
        }
        Some(r) => Ok(apply(r, values)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_told_apart_and_never_averaged() {
        for p in [
            "p99",
            "P99.9",
            "p99_latency_ms",
            "99th percentile",
            "99%",
            "median",
            "latency_percentile_95",
        ] {
            assert!(percentile_like(p), "{p}");
        }
        for c in [
            "rps",
            "avg_latency_ms",
            "max_latency_ms",
            "%user",
            "count",
            "ops",
        ] {
            assert!(!percentile_like(c), "{c}");
        }
        assert_eq!(merged("rps", &[2.0, 3.0], Some(Merge::Sum)), Ok(5.0));
        assert_eq!(merged("p99", &[2.0], None), Ok(2.0));
        assert_eq!(merged("rps", &[2.0, 3.0], None), Err(Refused::NoRule));
        assert_eq!(
            merged("p99", &[2.0, 3.0], Some(Merge::Mean)),
            Err(Refused::Percentile(Merge::Mean))
        );
        let said = Refused::NoRule.say(&["`p99`".into(), "`rps`".into()]);
        assert!(
            said.contains("`p99`, `rps`") && said.contains("p99 = \"max\""),
            "{said}"
        );
        assert_eq!(merged("p99", &[2.0, 3.0], Some(Merge::Max)), Ok(3.0));
    }
}
