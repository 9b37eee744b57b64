//! n, mean, min, max of a column of numbers, and how a table shows them.

use crate::table::{Cell, Column};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub n: usize,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

/// Over the values that are numbers (NaN is "not a number" here); `None` when there are none.
pub fn of(values: impl Iterator<Item = f64>) -> Option<Stats> {
    let (mut n, mut sum, mut min, mut max) = (0usize, 0.0, f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| !v.is_nan()) {
        n += 1;
        sum += v;
        min = min.min(v);
        max = max.max(v);
    }
    (n > 0).then(|| Stats {
        n,
        mean: sum / n as f64,
        min,
        max,
    })
}

/// Two columns' figures as one: counts added, the mean weighted by them,
/// the extremes.
pub fn merged(a: &Stats, b: &Stats) -> Stats {
    let n = a.n + b.n;
    Stats {
        n,
        mean: (a.mean * a.n as f64 + b.mean * b.n as f64) / n as f64,
        min: a.min.min(b.min),
        max: a.max.max(b.max),
    }
}

pub fn columns() -> [Column; 4] {
    [
        Column::int("n", None),
        Column::float("mean", None, 3),
        Column::float("min", None, 3),
        Column::float("max", None, 3),
    ]
}

/// The four cells; no values gives n = 0 and empty figures.
pub fn cells(s: Option<&Stats>) -> [Cell; 4] {
    match s {
        Some(s) => [
            Cell::Int(s.n as i128),
            Cell::Float(s.mean),
            Cell::Float(s.min),
            Cell::Float(s.max),
        ],
        None => [Cell::Int(0), Cell::Empty, Cell::Empty, Cell::Empty],
    }
}
