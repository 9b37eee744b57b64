//! `[[check]]`s on a series, read from its long tables. `max`/`min` hold
//! the check's `statistic` (default the mean) of the figure over each
//! point's trials. `regression` compares each point's trials with the
//! baseline series' (default: the series before) and fails only when the
//! change of the mean is worse than the limit **and** significant: the
//! two-sided Mann–Whitney U test below `significance` (default 0.05).

use std::collections::HashMap;
use std::path::Path;

use super::SeriesFile;
use crate::check::{CheckResult, RowResult, Unmet};
use crate::plan::model::{Check, Limit};
use crate::table::{Csv, Header};
use crate::units::{Better, better_of, in_unit};

pub fn evaluate(
    checks: &[Check],
    dir: &Path,
    trials: &Path,
    baseline_override: Option<&str>,
    previous: Option<&str>,
) -> Vec<CheckResult> {
    checks
        .iter()
        .map(|c| {
            let base = baseline_override.or(c.baseline.as_deref()).or(previous);
            let mut out = CheckResult {
                name: c.name.clone(),
                table: c.table.clone(),
                column: c.column.clone(),
                limit: c.shown.clone(),
                passed: false,
                rows: Vec::new(),
                error: None,
                no_baseline: false,
            };
            match one(c, dir, trials, base, &mut out) {
                Ok(()) => out.passed = out.no_baseline || out.rows.iter().all(|r| r.passed),
                Err(e) => out.error = Some(e.0),
            }
            out
        })
        .collect()
}

/// The series table, its rows of the checked figure that `row` selects.
struct Selected {
    csv: Csv,
    /// Columns before `figure`: the series vars and the row's keys.
    keys: usize,
    rows: Vec<usize>,
}

impl Selected {
    /// `streams=4 source=all files tag=read`.
    fn key(&self, row: usize) -> String {
        let r = &self.csv.rows[row];
        (0..self.keys)
            .map(|i| format!("{}={}", self.csv.headers[i], r[i]))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn cell(&self, row: usize, col: &str) -> &str {
        self.csv.cell(&self.csv.rows[row], col)
    }
}

fn select(c: &Check, dir: &Path) -> Result<Selected, Unmet> {
    let path = dir.join("analysis").join(format!("{}.csv", c.table));
    let csv = Csv::read(&path).map_err(|e| {
        format!(
            "the series has no table `{}` ({} cannot be read: {e})",
            c.table,
            crate::paths::shown(&path)
        )
    })?;
    let figure = csv
        .headers
        .iter()
        .position(|h| h == "figure")
        .ok_or("the table is not a series table (no `figure` column)")?;
    let matches = |f: &str| Header::parse(f).is(&c.column);
    let mut rows: Vec<usize> = (0..csv.rows.len())
        .filter(|&i| csv.rows[i].get(figure).is_some_and(|f| matches(f)))
        .collect();
    if rows.is_empty() {
        let mut figures: Vec<&str> = csv
            .rows
            .iter()
            .filter_map(|r| r.get(figure))
            .map(String::as_str)
            .collect();
        figures.dedup();
        figures.sort_unstable();
        figures.dedup();
        return Err(format!(
            "the table has no figure `{}`; it has: {}",
            c.column,
            figures.join(", ")
        )
        .into());
    }
    for (k, v) in &c.row {
        let i = csv.headers[..figure]
            .iter()
            .position(|h| h == k)
            .ok_or_else(|| {
                format!(
                    "`row` selects on `{k}`, which is not a column of the series table (it has {})",
                    csv.headers[..figure].join(", ")
                )
            })?;
        rows.retain(|&r| csv.rows[r].get(i).is_some_and(|cell| cell == v));
    }
    if rows.is_empty() {
        return Err(crate::check::no_row_matches(c));
    }
    Ok(Selected {
        csv,
        keys: figure,
        rows,
    })
}

fn one(
    c: &Check,
    dir: &Path,
    trials: &Path,
    base: Option<&str>,
    out: &mut CheckResult,
) -> Result<(), Unmet> {
    let sel = select(c, dir)?;
    match &c.limit {
        Limit::Max(q) | Limit::Min(q) => bounds(c, &sel, q, matches!(c.limit, Limit::Max(_)), out),
        Limit::Regression { fraction, better } => {
            let Some(base) = base else {
                out.no_baseline = true;
                return Ok(());
            };
            let unit = sel.cell(sel.rows[0], "unit").to_string();
            let better = better
                .or_else(|| better_of((!unit.is_empty()).then_some(unit.as_str())))
                .ok_or_else(|| {
                    format!("whether higher or lower is better for `{}` is not known from its unit; add `better = \"higher\"` or `better = \"lower\"`", c.column)
                })?;
            out.limit = format!(
                "{} ({} is better), series {base}; fails only when significant (Mann–Whitney U, p < {})",
                c.shown,
                better.name(),
                c.significance
            );
            let now = values(dir, &c.table)?;
            let then = values(&trials.join(base), &c.table)
                .map_err(|e| format!("baseline series {base}: {e}"))?;
            for &r in &sel.rows {
                let key = format!("{} figure={}", sel.key(r), sel.cell(r, "figure"));
                let cur = now.get(&key).cloned().unwrap_or_default();
                let old = then
                    .get(&key)
                    .ok_or_else(|| format!("baseline series {base} has no row {key}"))?;
                out.rows
                    .push(regression(c, sel.key(r), old, &cur, *fraction, better)?);
            }
            Ok(())
        }
    }
}

/// `max`/`min`: the check's statistic of each selected row within the limit.
fn bounds(
    c: &Check,
    sel: &Selected,
    q: &crate::units::Quantity,
    is_max: bool,
    out: &mut CheckResult,
) -> Result<(), Unmet> {
    let stat = c.statistic.name();
    out.limit = format!("{} ({stat} of the trials)", c.shown);
    for &r in &sel.rows {
        let v: f64 = sel.cell(r, stat).parse().map_err(|_| {
            format!("row {} has no `{stat}` of `{}`: the cell is empty (nothing was measured there, or too few trials)", sel.key(r), c.column)
        })?;
        let unit = sel.cell(r, "unit");
        let limit = in_unit(q, (!unit.is_empty()).then_some(unit))?;
        let slack = limit.abs() * 1e-9;
        out.rows.push(RowResult {
            row: sel.key(r),
            value: v,
            baseline: None,
            passed: if is_max {
                v <= limit + slack
            } else {
                v >= limit - slack
            },
            change_pct: None,
            p_value: None,
            note: Some(format!("{stat} of n = {}", sel.cell(r, "n"))),
        });
    }
    Ok(())
}

/// One row of a regression: worse than `fraction` and significant fails.
fn regression(
    c: &Check,
    row: String,
    old: &[f64],
    cur: &[f64],
    fraction: f64,
    better: Better,
) -> Result<RowResult, Unmet> {
    let Some(change) = crate::stats::change(old, cur, crate::stats::TestKind::UTest) else {
        return Err(format!("row {row} has no values in one of the series").into());
    };
    let pct = change.pct.unwrap_or(0.0);
    let worse = match better {
        Better::Lower => pct / 100.0,
        Better::Higher => -pct / 100.0,
    };
    let significant = change.p.is_some_and(|p| p < c.significance);
    let too_few = crate::stats::smallest_u_p(old.len(), cur.len()) >= c.significance;
    // Said only of a row worse than the limit that passes for want of significance.
    let note = match change.p {
        _ if worse <= fraction || significant => None,
        None => Some("1 trial: noise not estimated".into()),
        Some(_) if too_few => Some(format!(
            "not significant: {} and {} trials cannot be at {}",
            old.len(),
            cur.len(),
            c.significance
        )),
        Some(_) => Some(format!("not significant at {}", c.significance)),
    };
    Ok(RowResult {
        row,
        value: change.mean_b,
        baseline: Some(change.mean_a),
        passed: !(worse > fraction && significant),
        change_pct: change.pct,
        p_value: change.p,
        note,
    })
}

/// Every trial's value of each figure of table `name` of the series in
/// `dir`, by `var=value… key=value… figure=…` (warm-ups and unfinished
/// trials left out).
pub fn values(dir: &Path, name: &str) -> Result<HashMap<String, Vec<f64>>, Unmet> {
    let file = SeriesFile::read(dir).map_err(|e| e.to_string())?;
    let inputs = file.inputs(dir.parent().unwrap_or(Path::new(".")));
    let g = super::tables::gather(name, &inputs);
    let mut out = HashMap::new();
    for (pi, keys, figure, vals) in &g.entries {
        let pi = *pi;
        let vars = file
            .vars
            .iter()
            .map(|v| format!("{v}={}", super::tables::var_cell(inputs[pi].vars, v)));
        let mut parts: Vec<String> = vars.collect();
        // As the table has them: every key column, empty where this row has none.
        parts.extend(g.key_columns.iter().map(|k| {
            let v = keys
                .iter()
                .find(|(c, _)| c == k)
                .map_or("", |(_, v)| v.as_str());
            format!("{k}={v}")
        }));
        let key = format!("{} figure={figure}", parts.join(" "));
        out.insert(key, vals.iter().flatten().copied().collect());
    }
    Ok(out)
}
