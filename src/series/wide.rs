//! A series' wide table, the one to paste: a row per point (and per row of
//! the trials' table where it has several), a column per figure asked —
//! its mean or median over the point's trials with the 95 % interval
//! (Student's t for the mean, never below 0 for a figure that cannot be
//! negative; the order-statistic interval for the median) — in the unit
//! asked for figures of its dimension (`ms` for latencies in µs). The
//! long table stays the exact one.

use super::tables::{Gathered, Keys, PointInput, cannot_be_negative, gather, unit_for, var_cell};
use crate::plan::model::{Wide, WideStatistic};
use crate::table::{Cell, Column, Header, Table};

/// A wide column: a figure of the long table, shown in `unit`.
struct Col {
    asked: String,
    unit: String,
    factor: f64,
}

/// The wide table of analysis `name` over `points`, and the figures asked
/// that no trial's table has.
pub fn build(
    name: &str,
    wide: &Wide,
    vars: &[String],
    points: &[PointInput],
) -> (Table, Vec<String>) {
    let g = gather(name, points);
    let rows = rows_of(&g);
    let varying = varying(&g, &rows);
    let (cols, missing) = columns_of(&g, wide);
    let mut columns: Vec<Column> = vars.iter().map(|v| Column::text(v)).collect();
    columns.extend(varying.iter().map(|k| Column::text(k)));
    let mut values_of: Vec<Vec<f64>> = vec![Vec::new(); cols.len()];
    let body: Vec<Vec<Cell>> = rows
        .iter()
        .map(|(pi, keys)| {
            let mut row: Vec<Cell> = vars
                .iter()
                .map(|v| text(var_cell(points[*pi].vars, v)))
                .collect();
            for k in &varying {
                row.push(text(
                    keys.iter()
                        .find(|(c, _)| c == k)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default(),
                ));
            }
            for (at, col) in cols.iter().enumerate() {
                let (value, interval) = figure(&g, *pi, keys, col, wide.statistic);
                values_of[at].extend(value);
                let f = |v: Option<f64>| v.map_or(Cell::Empty, Cell::Float);
                row.extend([f(value), f(interval.map(|c| c.0)), f(interval.map(|c| c.1))]);
            }
            row
        })
        .collect();
    for (col, values) in cols.iter().zip(&values_of) {
        let unit = (!col.unit.is_empty()).then_some(col.unit.as_str());
        let d = decimals(values);
        columns.push(Column::float(&col.asked, unit, d));
        columns.push(Column::float(&format!("{} low", col.asked), unit, d));
        columns.push(Column::float(&format!("{} high", col.asked), unit, d));
    }
    let table = Table {
        title: format!("{name} — series, {} per point", wide.statistic.name()),
        columns,
        rows: body,
        notes: vec![note(wide)],
    };
    (table, missing)
}

fn text(s: String) -> Cell {
    if s.is_empty() {
        Cell::Empty
    } else {
        Cell::Text(s)
    }
}

/// The rows: a point and a row of the trials' tables, in first-seen order.
fn rows_of(g: &Gathered) -> Vec<(usize, Keys)> {
    let mut rows: Vec<(usize, Keys)> = Vec::new();
    for (pi, keys, _, _) in &g.entries {
        if !rows.iter().any(|(p, k)| p == pi && k == keys) {
            rows.push((*pi, keys.clone()));
        }
    }
    rows
}

/// The key columns whose value is not the same in every row.
fn varying(g: &Gathered, rows: &[(usize, Keys)]) -> Vec<String> {
    g.key_columns
        .iter()
        .filter(|k| {
            let seen: std::collections::BTreeSet<&str> = rows
                .iter()
                .filter_map(|(_, keys)| keys.iter().find(|(c, _)| c == *k).map(|(_, v)| v.as_str()))
                .collect();
            seen.len() > 1
        })
        .cloned()
        .collect()
}

/// A column per figure asked that the tables have (converted to the unit
/// asked where it is of its dimension), and what could not be done: a
/// figure no table has, a unit not of a figure's dimension.
fn columns_of(g: &Gathered, wide: &Wide) -> (Vec<Col>, Vec<String>) {
    let mut missing = Vec::new();
    let mut asked_once: Vec<&String> = Vec::new();
    for f in &wide.figures {
        if !asked_once.contains(&f) {
            asked_once.push(f);
        }
    }
    let cols = asked_once
        .into_iter()
        .filter_map(|asked| {
            let Some((_, keys, figure, _)) =
                g.entries.iter().find(|e| Header::parse(&e.2).is(asked))
            else {
                missing.push(format!("asks for `{asked}`, which no trial's table has"));
                return None;
            };
            let own = unit_for(keys, figure);
            let to = wide
                .unit
                .as_deref()
                .and_then(|u| Some((u, crate::units::factor(&own, u)?)));
            let (unit, factor) = match (to, wide.unit.as_deref()) {
                (Some((u, f)), _) => (u.to_string(), f),
                (None, Some(u)) if !own.is_empty() => {
                    missing.push(format!(
                        "shows `{asked}` in {own}, not in {u}: another dimension"
                    ));
                    (own, 1.0)
                }
                (None, _) => (own, 1.0),
            };
            Some(Col {
                // The figure's name: its unit is the column's.
                asked: Header::parse(asked).name,
                unit,
                factor,
            })
        })
        .collect();
    (cols, missing)
}

/// One figure of one row: the statistic over the point's trials and its
/// 95 % interval, in the column's unit.
fn figure(
    g: &Gathered,
    pi: usize,
    keys: &Keys,
    col: &Col,
    stat: WideStatistic,
) -> (Option<f64>, Option<(f64, f64)>) {
    let entry = g
        .entries
        .iter()
        .find(|e| e.0 == pi && &e.1 == keys && Header::parse(&e.2).is(&col.asked));
    let present: Vec<f64> = entry
        .map(|e| e.3.iter().flatten().map(|v| v * col.factor).collect())
        .unwrap_or_default();
    let floor = if cannot_be_negative(&col.unit, &present) {
        0.0
    } else {
        f64::NEG_INFINITY
    };
    match crate::stats::summary(&present) {
        Some(s) if stat == WideStatistic::Median => (Some(s.median), s.median_ci95),
        Some(s) => (Some(s.mean), s.ci95.map(|(lo, hi)| (lo.max(floor), hi))),
        None => (None, None),
    }
}

fn note(wide: &Wide) -> String {
    let interval = match wide.statistic {
        WideStatistic::Mean => {
            "Student's t interval of the mean (never below 0 for a figure that cannot be negative)"
        }
        WideStatistic::Median => "the median's order-statistic interval (from 6 trials on)",
    };
    format!(
        "Each figure: the {} over the point's measured trials; low and high: its 95 % interval, {interval}.{}",
        wide.statistic.name(),
        wide.unit.as_deref().map_or(String::new(), |u| format!(
            " Figures of the dimension of `{u}` converted to it."
        ))
    )
}

/// Decimals that show three significant digits of the column's smallest
/// value (and more of the larger ones).
fn decimals(values: &[f64]) -> usize {
    let min = values
        .iter()
        .map(|v| v.abs())
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold(f64::INFINITY, f64::min);
    if !min.is_finite() {
        return 2;
    }
    (2 - min.log10().floor() as i32).clamp(0, 4) as usize
}
