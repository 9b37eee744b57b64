//! `[[check]]`: a trial that can fail. Each check holds one column of one
//! analysis table (the rows it selects) to a limit — `max`, `min`, or no
//! `regression` beyond a percentage against a baseline trial. Checks read
//! the table's CSV (`analysis/<table>.csv`), so that `runner check` on an
//! old trial sees exactly what `runner apply` wrote.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::plan::model::{Check, Limit};
use crate::table::Csv;
use crate::units::{Better, better_of, in_unit};

/// Why a check could not be evaluated (a column, a row or a baseline the
/// table lacks, a unit that does not convert): the check fails and says so.
#[derive(Debug, Clone, PartialEq)]
pub struct Unmet(pub String);

impl From<String> for Unmet {
    fn from(s: String) -> Self {
        Unmet(s)
    }
}

impl From<crate::units::Error> for Unmet {
    fn from(e: crate::units::Error) -> Self {
        Unmet(e.to_string())
    }
}

impl From<crate::table::NoColumn> for Unmet {
    fn from(e: crate::table::NoColumn) -> Self {
        Unmet(e.to_string())
    }
}

impl From<&str> for Unmet {
    fn from(s: &str) -> Self {
        Unmet(s.to_string())
    }
}

impl std::fmt::Display for Unmet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A check's `row` that selects nothing, said with what it asked for.
pub fn no_row_matches(c: &Check) -> Unmet {
    let sel: Vec<String> = c
        .row
        .iter()
        .map(|(k, v)| format!("{k} = \"{v}\""))
        .collect();
    Unmet(format!(
        "no row of table `{}` matches {{ {} }}",
        c.table,
        sel.join(", ")
    ))
}

/// One row's figure against the limit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RowResult {
    /// The row's text cells (`test=tcp host=client[0]`).
    pub row: String,
    /// `null` in JSON when not finite (an `inf` or `NaN` in the table).
    #[serde(deserialize_with = "nan_for_null")]
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    pub passed: bool,
    /// A series' regression: the change of the mean in %, and the p-value
    /// of the two-sample test (none with one trial on a side).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// What the figure is (`mean of 5 trials`), when not the cell itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn nan_for_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// What a check found; in `trial.json` under `checks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub table: String,
    pub column: String,
    /// `≤ 5ms`, `within 10% of the baseline (lower is better) against trial …`.
    pub limit: String,
    pub passed: bool,
    pub rows: Vec<RowResult>,
    /// Why it could not be evaluated (a column that does not exist): a
    /// failure, never a silent pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A regression check with no earlier trial to compare with.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_baseline: bool,
}

impl CheckResult {
    /// One line for the terminal.
    pub fn line(&self) -> String {
        let status = if self.no_baseline {
            "no baseline"
        } else if self.passed {
            "pass"
        } else {
            "FAIL"
        };
        let detail = match &self.error {
            Some(e) => e.clone(),
            None if self.no_baseline => "nothing earlier to compare with yet".into(),
            None => {
                let failed: Vec<&RowResult> = self.rows.iter().filter(|r| !r.passed).collect();
                let show = |r: &RowResult| {
                    let mut extra = Vec::new();
                    if let Some(b) = r.baseline {
                        extra.push(format!("baseline {}", num(b)));
                    }
                    if let Some(c) = r.change_pct {
                        extra.push(format!("{c:+.1} %"));
                    }
                    if let Some(p) = r.p_value {
                        extra.push(format!("p = {p:.3}"));
                    }
                    if let Some(n) = &r.note {
                        extra.push(n.clone());
                    }
                    if extra.is_empty() {
                        format!("{} = {}", r.row, num(r.value))
                    } else {
                        format!("{} = {} ({})", r.row, num(r.value), extra.join(", "))
                    }
                };
                // Worse than the limit, but passing for want of significance.
                let unproven: Vec<&RowResult> = self
                    .rows
                    .iter()
                    .filter(|r| r.passed && r.change_pct.is_some() && r.note.is_some())
                    .collect();
                if failed.is_empty() && unproven.is_empty() {
                    match self.rows.len() {
                        1 => "1 row within the limit".to_string(),
                        n => format!("{n} rows within the limit"),
                    }
                } else if failed.is_empty() {
                    format!(
                        "worse than the limit, not significantly: {}",
                        unproven
                            .iter()
                            .map(|r| show(r))
                            .collect::<Vec<_>>()
                            .join("; ")
                    )
                } else {
                    failed
                        .iter()
                        .map(|r| show(r))
                        .collect::<Vec<_>>()
                        .join("; ")
                }
            }
        };
        format!(
            "check {} [{}]: {} {} — {detail}",
            self.name, status, self.column, self.limit
        )
    }
}

pub fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

/// A trial's table, or why it cannot be read.
fn read_csv(path: &Path) -> Result<Csv, Unmet> {
    Csv::read(path).map_err(|e| Unmet(format!("cannot read {}: {e}", crate::paths::shown(path))))
}

/// Evaluates every check on the trial in `dir`; `baseline` is where the
/// default baseline trial is (the trial before), if any. `trials` is the
/// plan's trials folder (named baselines are looked up there).
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
            evaluate_one(c, dir, trials, base)
        })
        .collect()
}

fn evaluate_one(c: &Check, dir: &Path, trials: &Path, baseline: Option<&str>) -> CheckResult {
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
    let evaluated =
        read_csv(&dir.join("analysis").join(format!("{}.csv", c.table))).and_then(|table| {
            let col = table.find(&c.column)?;
            let rows = select(c, &table)?;
            let eval = Eval {
                c,
                table: &table,
                col,
                rows,
            };
            match &c.limit {
                Limit::Max(q) => eval.bounds(q, true, &mut out),
                Limit::Min(q) => eval.bounds(q, false, &mut out),
                Limit::Regression { fraction, better } => {
                    let better = eval.direction(*better)?;
                    let Some(base) = baseline else {
                        out.no_baseline = true;
                        return Ok(());
                    };
                    out.limit = format!("{} ({} is better), trial {base}", c.shown, better.name());
                    let base_table = read_csv(
                        &trials
                            .join(base)
                            .join("analysis")
                            .join(format!("{}.csv", c.table)),
                    )
                    .map_err(|e| format!("baseline trial {base}: {e}"))?;
                    eval.regression(&base_table, base, *fraction, better, &mut out)
                }
            }
        });
    match evaluated {
        Ok(()) => out.passed = out.no_baseline || out.rows.iter().all(|r| r.passed),
        Err(e) => out.error = Some(e.0),
    }
    out
}

/// The rows a check's `row` selects. A selector names a column, or
/// (`test`, `host`, `file`) a part of `source` when the table's rows are
/// made `by` them (`tcp / client[0]`).
fn select<'t>(c: &Check, table: &'t Csv) -> Result<Vec<&'t Vec<String>>, Unmet> {
    let source = table.position("source");
    let mut selectors: Vec<(usize, &String, bool)> = Vec::new();
    for (k, v) in &c.row {
        match table.find(k) {
            Ok(i) => selectors.push((i, v, false)),
            Err(_) if matches!(k.as_str(), "test" | "host" | "file") && source.is_some() => {
                selectors.push((source.unwrap_or(0), v, true));
            }
            Err(e) => return Err(format!("`row` selects on `{k}`: {e}").into()),
        }
    }
    let rows: Vec<&Vec<String>> = table
        .rows
        .iter()
        .filter(|r| {
            selectors.iter().all(|(i, v, part)| match r.get(*i) {
                Some(cell) if *part => cell.split(" / ").any(|p| p == v.as_str()),
                Some(cell) => cell == *v,
                None => false,
            })
        })
        .collect();
    if rows.is_empty() {
        return Err(no_row_matches(c));
    }
    Ok(rows)
}

/// One check on the rows it selects of one table.
struct Eval<'t> {
    c: &'t Check,
    table: &'t Csv,
    col: usize,
    rows: Vec<&'t Vec<String>>,
}

impl Eval<'_> {
    /// A row's number in the checked column.
    fn value_of(&self, r: &[String]) -> Result<f64, Unmet> {
        let cell = r.get(self.col).map_or("", String::as_str);
        if cell.trim().is_empty() {
            return Err(format!(
                "row {} has no figure in `{}`: the cell is empty (nothing was measured there)",
                self.table.row_key(r),
                self.c.column
            )
            .into());
        }
        cell.parse::<f64>().map_err(|_| {
            Unmet::from(format!(
                "row {} has no number in `{}` (`{cell}`)",
                self.table.row_key(r),
                self.c.column,
            ))
        })
    }

    /// `max` (or `min`): every selected row within the limit, converted to
    /// the row's unit (long tables carry each row's unit in a `unit` column).
    fn bounds(
        &self,
        q: &crate::units::Quantity,
        is_max: bool,
        out: &mut CheckResult,
    ) -> Result<(), Unmet> {
        let unit = self.table.columns[self.col].unit.clone();
        let unit_col = self.table.position("unit");
        for r in &self.rows {
            let row_unit = unit.clone().or_else(|| {
                unit_col
                    .and_then(|u| r.get(u))
                    .filter(|u| !u.is_empty())
                    .cloned()
            });
            let limit = in_unit(q, row_unit.as_deref())?;
            if q.unit.is_some() && q.unit != row_unit {
                out.limit = format!(
                    "{} (= {} {})",
                    self.c.shown,
                    num(limit),
                    row_unit.as_deref().unwrap_or("")
                );
            }
            let v = self.value_of(r)?;
            // Converted limits are inexact in the last bit
            // (0.004851 s × 1e6 = 4851.000000000001 us): equal is equal.
            let slack = limit.abs() * 1e-9;
            let passed = if is_max {
                v <= limit + slack
            } else {
                v >= limit - slack
            };
            out.rows.push(RowResult {
                row: self.table.row_key(r),
                value: v,
                baseline: None,
                passed,
                change_pct: None,
                p_value: None,
                note: None,
            });
        }
        Ok(())
    }

    /// Which way is better: as the check says, else from the column's unit.
    fn direction(&self, better: Option<Better>) -> Result<Better, Unmet> {
        better
            .or_else(|| better_of(self.table.columns[self.col].unit.as_deref()))
            .ok_or_else(|| {
                Unmet(format!(
                    "whether higher or lower is better for `{}` is not known from its unit; add `better = \"higher\"` or `better = \"lower\"`",
                    self.c.column
                ))
            })
    }

    /// `regression`: no selected row worse than its baseline row by more
    /// than `fraction`.
    fn regression(
        &self,
        base_table: &Csv,
        base: &str,
        fraction: f64,
        better: Better,
        out: &mut CheckResult,
    ) -> Result<(), Unmet> {
        let bcol = base_table.find(&self.c.column)?;
        let by_key: BTreeMap<String, &Vec<String>> = base_table
            .rows
            .iter()
            .map(|r| (base_table.row_key(r), r))
            .collect();
        for r in &self.rows {
            let key = self.table.row_key(r);
            let v = self.value_of(r)?;
            let b = by_key
                .get(&key)
                .and_then(|br| br.get(bcol))
                .and_then(|x| x.parse::<f64>().ok())
                .ok_or_else(|| format!("baseline trial {base} has no row {key}"))?;
            let worse = match better {
                Better::Higher => (b - v) / b.abs().max(f64::MIN_POSITIVE),
                Better::Lower => (v - b) / b.abs().max(f64::MIN_POSITIVE),
            };
            out.rows.push(RowResult {
                row: key,
                value: v,
                baseline: Some(b),
                passed: worse <= fraction,
                change_pct: None,
                p_value: None,
                note: None,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::parse_quantity;

    #[test]
    fn max_min_and_regression_on_csv_tables() {
        let t = tempfile::tempdir().unwrap();
        let trials = t.path();
        let write = |id: &str, p99: &str, rate: &str| {
            let d = trials.join(id).join("analysis");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(
                d.join("lat.csv"),
                format!("test,host,p99 (us),received (bit/s)\ntcp,client[0],{p99},{rate}\ntcp,client[1],4000,9.5e8\n"),
            )
            .unwrap();
        };
        write("a", "4500", "1e9");
        write("b", "6000", "8e8");
        let check = |limit: Limit, shown: &str, column: &str, row: &[(&str, &str)]| Check {
            name: "c".into(),
            table: "lat".into(),
            row: row
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            column: column.into(),
            limit,
            baseline: None,
            shown: shown.into(),
            significance: 0.05,
            statistic: crate::plan::model::Statistic::Mean,
        };
        let max5 = check(
            Limit::Max(parse_quantity("5ms").unwrap()),
            "max 5ms",
            "p99",
            &[],
        );
        let r = evaluate(
            std::slice::from_ref(&max5),
            &trials.join("a"),
            trials,
            None,
            None,
        );
        assert!(r[0].passed, "{r:?}");
        let r = evaluate(
            std::slice::from_ref(&max5),
            &trials.join("b"),
            trials,
            None,
            None,
        );
        assert!(!r[0].passed);
        assert!(
            r[0].line().contains("FAIL") && r[0].line().contains("host=client[0]"),
            "{}",
            r[0].line()
        );
        // Only the selected row.
        let one = check(
            Limit::Max(parse_quantity("5ms").unwrap()),
            "max 5ms",
            "p99",
            &[("host", "client[1]")],
        );
        assert!(evaluate(&[one], &trials.join("b"), trials, None, None)[0].passed);
        let min = check(
            Limit::Min(parse_quantity("900 Mbit/s").unwrap()),
            "min 900 Mbit/s",
            "received bit/s",
            &[],
        );
        assert!(!evaluate(&[min], &trials.join("b"), trials, None, None)[0].passed);
        // Regression: 8e8 against 1e9 is 20 % worse (higher is better for bit/s).
        let reg = check(
            Limit::Regression {
                fraction: 0.1,
                better: None,
            },
            "regression 10%",
            "received (bit/s)",
            &[],
        );
        let r = evaluate(
            std::slice::from_ref(&reg),
            &trials.join("b"),
            trials,
            None,
            Some("a"),
        );
        assert!(!r[0].passed, "{r:?}");
        assert_eq!(r[0].rows[0].baseline, Some(1e9));
        let r = evaluate(
            std::slice::from_ref(&reg),
            &trials.join("a"),
            trials,
            Some("b"),
            None,
        );
        assert!(r[0].passed, "improvements pass: {r:?}");
        let r = evaluate(
            std::slice::from_ref(&reg),
            &trials.join("a"),
            trials,
            None,
            None,
        );
        assert!(r[0].no_baseline && r[0].passed);
        // Unknown column and unknown row: errors, never a pass.
        let bad = check(
            Limit::Max(parse_quantity("1").unwrap()),
            "max 1",
            "p98",
            &[],
        );
        let r = evaluate(&[bad], &trials.join("a"), trials, None, None);
        assert!(!r[0].passed && r[0].error.as_deref().unwrap().contains("no column `p98`"));
        let bad = check(
            Limit::Max(parse_quantity("1").unwrap()),
            "max 1",
            "p99",
            &[("host", "nope")],
        );
        assert!(!evaluate(&[bad], &trials.join("a"), trials, None, None)[0].passed);
    }
}
