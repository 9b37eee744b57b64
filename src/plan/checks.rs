//! `[[check]]` sections, validated: the table is one of the plan's
//! analyses (writing CSV), exactly one limit, values and units that parse.
//! Whether the column exists is known only once the table is made: that is
//! checked then, as a failure of the check.

use super::model::Analysis;
use super::model::{Check, Limit};
use super::syntax::RawPlan;
use crate::diag::Diagnostic;
use crate::units::{Better, parse_percent, parse_quantity};

pub fn validate(raw: &RawPlan, analyses: &[Analysis], diags: &mut Vec<Diagnostic>) -> Vec<Check> {
    let mut out: Vec<Check> = Vec::new();
    for c in &raw.checks {
        let head = c.span.start..c.span.start;
        let Some(table) = &c.table else {
            diags.push(
                Diagnostic::at("a `[[check]]` has no `table`", head)
                    .help("name the `[[analyze]]` whose table it checks: `table = \"latency\"`"),
            );
            continue;
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
        if let Some(col) = c.column.as_ref().filter(|c| c.value.trim().is_empty()) {
            diags.push(Diagnostic::at("`column` is empty", col.span.clone()));
            continue;
        }
        let Some(column) = &c.column else {
            diags.push(
                Diagnostic::at(format!("check on table `{}` has no `column`", table.value), head)
                    .help("name the column to check, e.g. `column = \"p99\"` or `column = \"received bit/s\"`"),
            );
            continue;
        };
        let limits: Vec<(&str, &super::syntax::Sp<String>)> = [
            ("max", c.max.as_ref()),
            ("min", c.min.as_ref()),
            ("regression", c.regression.as_ref()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        let (kind, value) = match limits.as_slice() {
            [one] => *one,
            [] => {
                diags.push(
                    Diagnostic::at(format!("check on `{}` sets no limit", column.value), column.span.clone())
                        .help("add one of `max = \"5ms\"`, `min = \"900 Mbit/s\"`, `regression = \"10%\"`"),
                );
                continue;
            }
            [_, (k, v), ..] => {
                diags.push(
                    Diagnostic::at(
                        format!("a check takes one limit; this one also sets `{k}`"),
                        v.span.clone(),
                    )
                    .help("write two `[[check]]` sections, one per limit"),
                );
                continue;
            }
        };
        let better = match &c.better {
            None => None,
            Some(b) if b.value == "higher" => Some(Better::Higher),
            Some(b) if b.value == "lower" => Some(Better::Lower),
            Some(b) => {
                diags.push(Diagnostic::at(
                    format!("`better` is `higher` or `lower`, not `{}`", b.value),
                    b.span.clone(),
                ));
                None
            }
        };
        if let (Some(b), false) = (&c.better, kind == "regression") {
            diags.push(
                Diagnostic::at("`better` is used only with `regression`", b.span.clone())
                    .help("remove it; `max` and `min` say the direction themselves"),
            );
        }
        if let Some(b) = &c.baseline
            && !crate::paths::is_trial_id(&b.value)
        {
            diags.push(
                Diagnostic::at(
                    format!("`baseline = \"{}\"` is not a trial id", b.value),
                    b.span.clone(),
                )
                .help("name a folder under trials/<plan>/, e.g. \"20261123T192821Z\""),
            );
        }
        if let (Some(b), false) = (&c.baseline, kind == "regression") {
            diags.push(Diagnostic::at(
                "`baseline` is used only with `regression`",
                b.span.clone(),
            ));
        }
        let limit = match kind {
            "regression" => {
                parse_percent(&value.value).map(|fraction| Limit::Regression { fraction, better })
            }
            "max" => parse_quantity(&value.value).map(Limit::Max),
            _ => parse_quantity(&value.value).map(Limit::Min),
        };
        let limit = match limit {
            Ok(l) => l,
            Err(e) => {
                diags.push(Diagnostic::at(format!("`{kind}`: {e}"), value.span.clone()));
                continue;
            }
        };
        let name = c.name.as_ref().map_or_else(
            || format!("{}.{}", table.value, column.value),
            |n| n.value.clone(),
        );
        if out.iter().any(|o| o.name == name) {
            diags.push(
                Diagnostic::at(
                    format!("two checks are named `{name}`"),
                    c.name.as_ref().map_or(head.clone(), |n| n.span.clone()),
                )
                .help("give one of them a `name`"),
            );
        }
        out.push(Check {
            name,
            table: table.value.clone(),
            row: c
                .row
                .iter()
                .map(|(k, v)| (k.value.clone(), v.value.clone()))
                .collect(),
            column: column.value.clone(),
            limit,
            baseline: c.baseline.as_ref().map(|b| b.value.clone()),
            shown: match kind {
                "max" => format!("≤ {}", value.value),
                "min" => format!("≥ {}", value.value),
                _ => format!("within {} of the baseline", value.value),
            },
        });
    }
    out
}
