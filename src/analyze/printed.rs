//! Figures a tool prints in its own report (wrk, ab, sysbench,
//! redis-benchmark, Locust): each with its unit and the one rule by which
//! several hosts' (files') figures merge — rates and counts add, a mean is
//! weighted by its count, an extreme is the extreme — and percentiles that
//! do not merge at all: a group of several files leaves them empty and says
//! why (keep the hosts apart, or read per-request samples). Rows are kept
//! apart by the report's own key (a test, an endpoint).

use std::path::Path;

use super::{Analysed, FileError, Found, Group, Parsed};
use crate::table::{Cell, Column, Table};

/// How a figure of several hosts is made from theirs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum How {
    /// Added (rates, counts).
    Sum,
    /// The largest (a maximum, a time taken).
    Max,
    /// The smallest.
    Min,
    /// A mean, weighted by the figure of this name (a count).
    Mean(&'static str),
    /// Not mergeable (a percentile): only a single host's.
    Alone,
}

/// One printed figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Fig {
    pub name: String,
    pub unit: Option<&'static str>,
    pub value: f64,
    pub how: How,
}

impl Fig {
    pub fn new(name: &str, unit: Option<&'static str>, value: f64, how: How) -> Fig {
        Fig {
            name: name.to_string(),
            unit,
            value,
            how,
        }
    }
}

/// One report's figures, under the key that tells its rows apart.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub key: Option<String>,
    pub figs: Vec<Fig>,
}

/// Why a figure of several records is left empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Why {
    /// A percentile or a spread: it does not add or average.
    Alone,
    /// A mean whose count (its weight) some record lacks.
    NoWeight,
    /// Some records have it and some do not: a sum of some would pass
    /// for the whole.
    Incomplete,
}

impl Why {
    fn said(self) -> &'static str {
        match self {
            Why::Alone => {
                "percentiles and spreads of several hosts (files) cannot be merged into one — not added, not averaged; keep the hosts apart (`by = [\"host\"]` / `--by file`), or read per-request samples (parser `samples`) whose histograms merge exactly"
            }
            Why::NoWeight => "means without the count to weight them are not averaged",
            Why::Incomplete => {
                "figures that only some of the files have are not merged (a sum of some would pass for all)"
            }
        }
    }
}

/// Figures refused, each with why.
type Refused = Vec<(Why, String)>;

/// The merged figures of several records (`None`: refused), and the
/// figures refused.
fn merge(parts: &[&Record]) -> (Vec<(Fig, Option<f64>)>, Refused) {
    let mut names: Vec<&Fig> = Vec::new();
    for p in parts {
        for f in &p.figs {
            if !names.iter().any(|n| n.name == f.name) {
                names.push(f);
            }
        }
    }
    let value = |p: &Record, name: &str| p.figs.iter().find(|f| f.name == name).map(|f| f.value);
    let mut refused = Vec::new();
    let merged = names
        .into_iter()
        .map(|fig| {
            let vals: Vec<f64> = parts.iter().filter_map(|p| value(p, &fig.name)).collect();
            let v = match (parts.len(), fig.how) {
                (1, _) => Ok(vals[0]),
                (_, How::Alone) => Err(Why::Alone),
                (n, _) if vals.len() < n => Err(Why::Incomplete),
                (_, How::Sum) => Ok(vals.iter().sum()),
                (_, How::Max) => Ok(vals.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
                (_, How::Min) => Ok(vals.iter().copied().fold(f64::INFINITY, f64::min)),
                (_, How::Mean(weight)) => parts
                    .iter()
                    .map(|p| Some((value(p, &fig.name)?, value(p, weight)?)))
                    .collect::<Option<Vec<(f64, f64)>>>()
                    .and_then(|ps| {
                        let w: f64 = ps.iter().map(|(_, w)| w).sum();
                        (w > 0.0).then(|| ps.iter().map(|(v, w)| v * w).sum::<f64>() / w)
                    })
                    .ok_or(Why::NoWeight),
            };
            if let Err(why) = v {
                refused.push((why, format!("`{}`", fig.name)));
            }
            ((*fig).clone(), v.ok())
        })
        .collect();
    (merged, refused)
}

/// A row: its group's label, its key, its figures merged.
pub struct Merged {
    pub source: String,
    pub key: Option<String>,
    pub figs: Vec<(Fig, Option<f64>)>,
}

/// The analysis of a tool whose files are reports of printed figures:
/// each file read into records, the table of them merged.
pub fn analyze(
    title: &str,
    key_name: Option<&str>,
    groups: &[Group],
    read: impl Fn(&Path) -> Result<Vec<Record>, FileError>,
    found: &mut Found,
) -> Analysed {
    let parsed = Parsed::new(
        groups,
        |files| files.iter().map(|f| read(f)).collect(),
        &mut found.errors,
    );
    if !parsed.any() {
        return (None, parsed.read_files());
    }
    let t = table(
        title,
        key_name,
        groups,
        &parsed,
        |r: &Vec<Record>| r.as_slice(),
        found,
    );
    (Some(t), parsed.read_files())
}

/// The table of several files' records: a row per group and key, figures
/// merged by their rules (a refusal is a problem naming the figures).
pub fn table<T>(
    title: &str,
    key_name: Option<&str>,
    groups: &[Group],
    parsed: &Parsed<T>,
    records: impl Fn(&T) -> &[Record],
    found: &mut Found,
) -> Table {
    let rows = merged(groups, parsed, records, found);
    table_of(title, key_name, rows)
}

/// Each group's records, by key, merged.
pub fn merged<T>(
    groups: &[Group],
    parsed: &Parsed<T>,
    records: impl Fn(&T) -> &[Record],
    found: &mut Found,
) -> Vec<Merged> {
    let mut rows = Vec::new();
    let mut refused_in: Vec<(Why, String)> = Vec::new();
    for g in groups {
        let recs: Vec<&Record> = parsed
            .of(g)
            .into_iter()
            .flat_map(|(_, t)| records(t).iter())
            .collect();
        let mut keys: Vec<Option<String>> = Vec::new();
        for r in &recs {
            if !keys.contains(&r.key) {
                keys.push(r.key.clone());
            }
        }
        for key in keys {
            let parts: Vec<&Record> = recs.iter().copied().filter(|r| r.key == key).collect();
            let (figs, refused) = merge(&parts);
            let row = format!(
                "{}{}",
                g.label,
                key.as_ref().map_or(String::new(), |k| format!(" / {k}"))
            );
            refused_in.extend(
                refused
                    .into_iter()
                    .map(|(why, fig)| (why, format!("{row}: {fig}"))),
            );
            rows.push(Merged {
                source: g.label.clone(),
                key,
                figs,
            });
        }
    }
    for why in [Why::Alone, Why::NoWeight, Why::Incomplete] {
        let these: Vec<&str> = refused_in
            .iter()
            .filter(|(w, _)| *w == why)
            .map(|(_, f)| f.as_str())
            .collect();
        if !these.is_empty() {
            found
                .problems
                .push(format!("{}: {}", why.said(), these.join(", ")));
        }
    }
    rows
}

/// The table of merged rows: a column per figure, in first-seen order.
pub fn table_of(title: &str, key_name: Option<&str>, rows: Vec<Merged>) -> Table {
    let mut figures: Vec<(String, Option<&'static str>)> = Vec::new();
    for r in &rows {
        for (f, _) in &r.figs {
            if !figures.iter().any(|(n, _)| *n == f.name) {
                figures.push((f.name.clone(), f.unit));
            }
        }
    }
    let mut columns = vec![Column::text("source")];
    if let Some(k) = key_name {
        columns.push(Column::text(k));
    }
    // A count (no unit, whole in every row) is shown whole.
    let whole = |name: &str| {
        rows.iter()
            .flat_map(|r| r.figs.iter().filter(|(f, _)| f.name == name))
            .all(|(_, v)| v.is_none_or(|v| v.fract() == 0.0))
    };
    columns.extend(figures.iter().map(|(n, u)| {
        let decimals = match u {
            Some(_) => 3,
            None if whole(n) => 0,
            None => 2,
        };
        Column::float(n, *u, decimals)
    }));
    let rows = rows
        .into_iter()
        .map(|r| {
            let mut cells = vec![Cell::Text(r.source)];
            if key_name.is_some() {
                cells.push(r.key.map_or(Cell::Empty, Cell::Text));
            }
            for (name, _) in &figures {
                cells.push(
                    r.figs
                        .iter()
                        .find(|(f, _)| f.name == *name)
                        .and_then(|(_, v)| *v)
                        .map_or(Cell::Empty, Cell::Float),
                );
            }
            cells
        })
        .collect();
    Table {
        title: title.to_string(),
        columns,
        rows,
        notes: vec!["Figures as the tool printed them; several files (hosts) merged by each figure's rule: rates and counts added, means weighted by their counts, extremes the extreme; a percentile is never merged (empty, and said).".into()],
    }
}
