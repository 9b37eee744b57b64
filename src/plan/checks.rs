//! `[[check]]` sections, validated: the table is one of the plan's
//! analyses (writing CSV), exactly one limit, values and units that parse.
//! Whether the column exists is known only once the table is made: that is
//! checked then, as a failure of the check.

use super::model::Analysis;
use super::model::{Check, Limit, Statistic};
use super::syntax::{RawCheck, RawPlan, Sp};
use crate::diag::Diagnostic;
use crate::units::{Better, parse_percent, parse_quantity};

pub fn validate(raw: &RawPlan, analyses: &[Analysis], diags: &mut Vec<Diagnostic>) -> Vec<Check> {
    let mut out: Vec<Check> = Vec::new();
    for c in &raw.checks {
        let Some(check) = one(c, analyses, diags) else {
            continue;
        };
        if out.iter().any(|o| o.name == check.name) {
            let head = c.span.start..c.span.start;
            diags.push(
                Diagnostic::at(
                    format!("two checks are named `{}`", check.name),
                    c.name.as_ref().map_or(head, |n| n.span.clone()),
                )
                .help("give one of them a `name`"),
            );
        }
        out.push(check);
    }
    out
}

fn one(c: &RawCheck, analyses: &[Analysis], diags: &mut Vec<Diagnostic>) -> Option<Check> {
    let table = table(c, analyses, diags)?;
    let column = column(c, table, diags)?;
    let (kind, value) = one_limit(c, column, diags)?;
    let better = better(c, kind, diags);
    check_baseline(c, kind, diags);
    let limit = match kind {
        "regression" => {
            parse_percent(&value.value).map(|fraction| Limit::Regression { fraction, better })
        }
        "max" => parse_quantity(&value.value).map(Limit::Max),
        _ => parse_quantity(&value.value).map(Limit::Min),
    };
    let limit = limit
        .map_err(|e| diags.push(Diagnostic::at(format!("`{kind}`: {e}"), value.span.clone())))
        .ok()?;
    Some(Check {
        name: c.name.as_ref().map_or_else(
            || format!("{}.{}", table.value, column.value),
            |n| n.value.clone(),
        ),
        table: table.value.clone(),
        row: c
            .row
            .iter()
            .map(|(k, v)| (k.value.clone(), v.value.clone()))
            .collect(),
        column: column.value.clone(),
        limit,
        baseline: c.baseline.as_ref().map(|b| b.value.clone()),
        significance: significance(c, kind, diags),
        statistic: statistic(c, kind, diags),
        shown: match kind {
            "max" => format!("≤ {}", value.value),
            "min" => format!("≥ {}", value.value),
            _ => format!("within {} of the baseline", value.value),
        },
    })
}

/// The table: one an `[[analyze]]` makes, in CSV.
fn table<'c>(
    c: &'c RawCheck,
    analyses: &[Analysis],
    diags: &mut Vec<Diagnostic>,
) -> Option<&'c Sp<String>> {
    let head = c.span.start..c.span.start;
    let Some(table) = &c.table else {
        diags.push(
            Diagnostic::at("a `[[check]]` has no `table`", head)
                .help("name the `[[analyze]]` whose table it checks: `table = \"latency\"`"),
        );
        return None;
    };
    match analyses.iter().find(|a| a.name == table.value) {
        None => {
            let d = Diagnostic::at(
                format!(
                    "check names table `{}`, which no `[[analyze]]` makes",
                    table.value
                ),
                table.span.clone(),
            )
            .help("`table` is the `name` of an `[[analyze]]` section");
            diags.push(d.suggest(&table.value, analyses.iter().map(|a| a.name.as_str())));
        }
        Some(a) if !a.formats.contains(&crate::kinds::Format::Csv) => diags.push(
            Diagnostic::at(
                format!(
                    "checks read table `{}` from its CSV, which its `formats` leave out",
                    a.name
                ),
                table.span.clone(),
            )
            .help("add \"csv\" to the analysis's `formats`"),
        ),
        Some(_) => {}
    }
    Some(table)
}

fn column<'c>(
    c: &'c RawCheck,
    table: &Sp<String>,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'c Sp<String>> {
    let head = c.span.start..c.span.start;
    match &c.column {
        Some(col) if col.value.trim().is_empty() => {
            diags.push(Diagnostic::at("`column` is empty", col.span.clone()));
            None
        }
        Some(col) => Some(col),
        None => {
            diags.push(
                Diagnostic::at(format!("check on table `{}` has no `column`", table.value), head)
                    .help("name the column to check, e.g. `column = \"p99\"` or `column = \"received bit/s\"`"),
            );
            None
        }
    }
}

/// Exactly one of `max`, `min`, `regression`.
fn one_limit<'c>(
    c: &'c RawCheck,
    column: &Sp<String>,
    diags: &mut Vec<Diagnostic>,
) -> Option<(&'static str, &'c Sp<String>)> {
    let limits: Vec<(&str, &Sp<String>)> = [
        ("max", c.max.as_ref()),
        ("min", c.min.as_ref()),
        ("regression", c.regression.as_ref()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    match limits.as_slice() {
        [one] => Some(*one),
        [] => {
            diags.push(
                Diagnostic::at(
                    format!("check on `{}` sets no limit", column.value),
                    column.span.clone(),
                )
                .help("add one of `max = \"5ms\"`, `min = \"900 Mbit/s\"`, `regression = \"10%\"`"),
            );
            None
        }
        [_, (k, v), ..] => {
            diags.push(
                Diagnostic::at(
                    format!("a check takes one limit; this one also sets `{k}`"),
                    v.span.clone(),
                )
                .help("write two `[[check]]` sections, one per limit"),
            );
            None
        }
    }
}

/// `better = "higher" | "lower"`, for `regression` only.
fn better(c: &RawCheck, kind: &str, diags: &mut Vec<Diagnostic>) -> Option<Better> {
    let b = c.better.as_ref()?;
    if kind != "regression" {
        diags.push(
            Diagnostic::at("`better` is used only with `regression`", b.span.clone())
                .help("remove it; `max` and `min` say the direction themselves"),
        );
    }
    match b.value.as_str() {
        "higher" => Some(Better::Higher),
        "lower" => Some(Better::Lower),
        _ => {
            diags.push(Diagnostic::at(
                format!("`better` is `higher` or `lower`, not `{}`", b.value),
                b.span.clone(),
            ));
            None
        }
    }
}

/// `baseline`: a trial id, for `regression` only.
fn check_baseline(c: &RawCheck, kind: &str, diags: &mut Vec<Diagnostic>) {
    let Some(b) = &c.baseline else { return };
    if !crate::paths::is_trial_id(&b.value) {
        diags.push(
            Diagnostic::at(
                format!("`baseline = \"{}\"` is not a trial id", b.value),
                b.span.clone(),
            )
            .help("name a folder under trials/<plan>/, e.g. \"20261123T192821Z\""),
        );
    }
    if kind != "regression" {
        diags.push(Diagnostic::at(
            "`baseline` is used only with `regression`",
            b.span.clone(),
        ));
    }
}

/// `significance = 0.01`: α of a series' regression check (default 0.05).
fn significance(c: &RawCheck, kind: &str, diags: &mut Vec<Diagnostic>) -> f64 {
    let Some(s) = &c.significance else {
        return 0.05;
    };
    if kind != "regression" {
        diags.push(
            Diagnostic::at(
                "`significance` belongs to a `regression` check",
                s.span.clone(),
            )
            .help("`max` and `min` on a series hold a `statistic` instead"),
        );
    }
    match s.value.parse::<f64>() {
        Ok(a) if a > 0.0 && a < 1.0 => a,
        _ => {
            diags.push(
                Diagnostic::at(
                    format!("`significance = {}` is not a probability", s.value),
                    s.span.clone(),
                )
                .help("α, between 0 and 1: `significance = 0.01`"),
            );
            0.05
        }
    }
}

/// `statistic = "ci95_high"`: what a `max`/`min` holds on a series.
fn statistic(c: &RawCheck, kind: &str, diags: &mut Vec<Diagnostic>) -> Statistic {
    let Some(s) = &c.statistic else {
        return Statistic::Mean;
    };
    if kind == "regression" {
        diags.push(
            Diagnostic::at(
                "`statistic` belongs to a `max` or `min` check",
                s.span.clone(),
            )
            .help("a regression compares every trial of both series (a two-sample test)"),
        );
    }
    Statistic::parse(&s.value).unwrap_or_else(|| {
        diags.push(crate::plan::values::unknown(
            "statistic",
            &s.value,
            s.span.clone(),
            &Statistic::NAMES,
        ));
        Statistic::Mean
    })
}
