//! A series' tables, in long format: per `[[analyze]]`, one row per point
//! × the per-trial table's row (its text cells: source, test, host, tag…)
//! × figure (the per-trial table's numeric column), with the spread of
//! that figure over the point's measured trials — `n`, `missing`, `mean`,
//! `stddev`, the 95 % interval, `median`, `min`, `max` — read from each
//! trial's own `analysis/<name>.csv`, so that the series says exactly what
//! its trials' tables say. For latency histograms, `pooled` is the figure
//! of all the point's trials' histograms merged: a percentile is never
//! averaged and called the percentile.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::table::{Cell, Column, Csv, Header, Table};

/// A row's identity: its text cells, by column.
pub type Keys = Vec<(String, String)>;

/// A figure of a row of a point: (point index, row keys, figure, values).
pub type Entry = (usize, Keys, String, Values);

/// A row's keys as one string (`k=v`, joined by `\x1f`): how rows are matched.
pub fn key_text(keys: &[(String, String)]) -> String {
    keys.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// A series var's value as a table cell (a string as it is, a number as
/// written; empty when the point has none).
pub fn var_cell(vars: &serde_json::Map<String, serde_json::Value>, name: &str) -> String {
    match vars.get(name) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// The unit of a row's figure: in its header (`p99 (us)`), else in the
/// row's `unit` cell (dstat's long tables), else in its `column` cell
/// (`elapsed (s)`, the csv parser's rows).
pub fn unit_for(keys: &[(String, String)], figure: &str) -> String {
    let own = Header::parse(figure);
    if let Some(u) = own.unit {
        return u;
    }
    let cell = |name: &str| {
        keys.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match (cell("unit"), cell("column")) {
        (Some(u), _) if !u.is_empty() => u.to_string(),
        (_, Some(c)) => Header::parse(c).unit().to_string(),
        _ => String::new(),
    }
}

/// One point of the series and its measured trials' folders.
pub struct PointInput<'a> {
    pub label: &'a str,
    pub vars: &'a serde_json::Map<String, serde_json::Value>,
    pub trials: Vec<PathBuf>,
}

/// A figure's values over a point's trials (`None`: the trial left it blank
/// or has no such row).
pub type Values = Vec<Option<f64>>;

/// Every figure of table `name` over each point's trials:
/// (point label, row keys, figure) → values, in first-seen order.
pub struct Gathered {
    pub key_columns: Vec<String>,
    pub entries: Vec<Entry>,
    /// Trials whose table could not be read (`<trial>: why`): their
    /// figures count as missing, and the table's notes say why.
    pub unreadable: Vec<String>,
}

/// Reads table `name` of every trial of every point.
pub fn gather(name: &str, points: &[PointInput]) -> Gathered {
    let mut key_columns: Vec<String> = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    let mut index: HashMap<(usize, String, String), usize> = HashMap::new();
    let mut unreadable = Vec::new();
    for (pi, point) in points.iter().enumerate() {
        let n = point.trials.len();
        for (ti, dir) in point.trials.iter().enumerate() {
            let path = dir.join("analysis").join(format!("{name}.csv"));
            let csv = match Csv::read(&path) {
                Ok(csv) => csv,
                Err(e) => {
                    unreadable.push(format!("{}: {e}", crate::paths::shown(&path)));
                    continue;
                }
            };
            for (keys, figures) in csv.split() {
                for (k, _) in &keys {
                    if !key_columns.contains(k) {
                        key_columns.push(k.clone());
                    }
                }
                let key_text = key_text(&keys);
                for (figure, value) in figures {
                    let at = *index
                        .entry((pi, key_text.clone(), figure.clone()))
                        .or_insert_with(|| {
                            entries.push((pi, keys.clone(), figure.clone(), vec![None; n]));
                            entries.len() - 1
                        });
                    entries[at].3[ti] = value;
                }
            }
        }
    }
    Gathered {
        key_columns,
        entries,
        unreadable,
    }
}

/// Whether a figure cannot be negative: none of its values is, and it has
/// a unit (a duration, size, rate or share) or is a count (whole values).
pub fn cannot_be_negative(unit: &str, values: &[f64]) -> bool {
    // A time can be negative (a clock offset, a lag): only what was
    // measured says it is not.
    let none_below = values.iter().all(|v| *v >= 0.0);
    none_below
        && (crate::units::unit(unit).is_some()
            || (unit.is_empty() && values.iter().all(|v| v.fract() == 0.0)))
}

/// The cells of `crate::plan::STATISTICS` over `present`: a figure that
/// cannot be negative gets no interval below 0.
fn statistics(unit: &str, present: &[f64]) -> Vec<Cell> {
    let Some(s) = crate::stats::summary(present) else {
        return vec![Cell::Empty; crate::plan::STATISTICS.len()];
    };
    let floor = if cannot_be_negative(unit, present) {
        0.0
    } else {
        f64::NEG_INFINITY
    };
    let f = |v: Option<f64>| v.map_or(Cell::Empty, Cell::Float);
    vec![
        Cell::Float(s.mean),
        f(s.stddev),
        f(s.ci95.map(|c| c.0.max(floor))),
        f(s.ci95.map(|c| c.1)),
        Cell::Float(s.median),
        f(s.median_ci95.map(|c| c.0)),
        f(s.median_ci95.map(|c| c.1)),
        Cell::Float(s.min),
        Cell::Float(s.max),
    ]
}

/// The series table of analysis `name`; `pooled` holds the merged
/// histograms' figures by (point, row keys as `k=v` joined by `\x1f`,
/// figure), for HDR tables (`None` for other parsers: no `pooled` column).
pub fn build(
    name: &str,
    vars: &[String],
    points: &[PointInput],
    pooled: Option<&HashMap<(String, String, String), f64>>,
) -> (Table, Vec<String>) {
    let g = gather(name, points);
    let mut columns: Vec<Column> = vars.iter().map(|v| Column::text(v)).collect();
    columns.extend(g.key_columns.iter().map(|k| Column::text(k)));
    columns.push(Column::text("figure"));
    columns.push(Column::text("unit"));
    columns.push(Column::int("n", None));
    columns.push(Column::int("missing", None));
    for s in crate::plan::STATISTICS {
        columns.push(Column::float(s, None, 4));
    }
    if pooled.is_some() {
        columns.push(Column::float("pooled", None, 4));
    }
    let mut rows = Vec::with_capacity(g.entries.len());
    for (pi, keys, figure, values) in &g.entries {
        let point = &points[*pi];
        let mut row: Vec<Cell> = vars
            .iter()
            .map(|v| match var_cell(point.vars, v) {
                c if c.is_empty() => Cell::Empty,
                c => Cell::Text(c),
            })
            .collect();
        for k in &g.key_columns {
            row.push(
                keys.iter()
                    .find(|(c, _)| c == k)
                    .map_or(Cell::Empty, |(_, v)| Cell::Text(v.clone())),
            );
        }
        row.push(Cell::Text(figure.clone()));
        row.push(Cell::Text(unit_for(keys, figure)));
        let present: Vec<f64> = values.iter().flatten().copied().collect();
        row.push(Cell::Int(present.len() as i128));
        row.push(Cell::Int((values.len() - present.len()) as i128));
        let f = |v: Option<f64>| v.map_or(Cell::Empty, Cell::Float);
        row.extend(statistics(&unit_for(keys, figure), &present));
        if let Some(pooled) = pooled {
            let key_text = key_text(keys);
            row.push(f(pooled
                .get(&(point.label.to_string(), key_text, figure.clone()))
                .copied()));
        }
        rows.push(row);
    }
    let table = Table {
        title: format!("{name} — series"),
        columns,
        rows,
        notes: g
            .unreadable
            .iter()
            .map(|u| format!("Not included (unreadable, counted as missing): {u}"))
            .collect(),
    };
    (table, g.unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_spread_over_trials_and_blanks_are_missing() {
        let root = tempfile::tempdir().unwrap();
        let tables = [
            "source,tag,count,p99 (us)\nall files,read,10,120\n",
            "source,tag,count,p99 (us)\nall files,read,10,\n",
            "source,tag,count,p99 (us)\nall files,read,12,140\n",
        ];
        let mut trials = Vec::new();
        for (i, t) in tables.iter().enumerate() {
            let dir = root.path().join(format!("t{i}"));
            std::fs::create_dir_all(dir.join("analysis")).unwrap();
            std::fs::write(dir.join("analysis/lat.csv"), t).unwrap();
            trials.push(dir);
        }
        let mut vars = serde_json::Map::new();
        vars.insert("streams".into(), 4.into());
        let points = [PointInput {
            label: "streams=4",
            vars: &vars,
            trials,
        }];
        let (table, unreadable) = build("lat", &["streams".to_string()], &points, None);
        assert!(unreadable.is_empty());
        let headers: Vec<String> = table.columns.iter().map(Column::header).collect();
        assert_eq!(
            &headers[..6],
            ["streams", "source", "tag", "figure", "unit", "n"]
        );
        let p99 = table
            .rows
            .iter()
            .find(|r| r[3] == Cell::Text("p99 (us)".into()))
            .unwrap();
        assert_eq!(p99[4], Cell::Text("us".into()));
        assert_eq!((&p99[5], &p99[6]), (&Cell::Int(2), &Cell::Int(1)));
        assert_eq!(p99[7], Cell::Float(130.0));
        assert_eq!(p99[0], Cell::Text("4".into()));
    }
}
