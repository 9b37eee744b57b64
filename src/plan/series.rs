//! `[series]`, validated: `repeat` (1–1000) and `discard` (0–100) trials
//! per point, an `order`, and series vars — each a non-empty list of
//! distinct strings, numbers or booleans, named like a template name and
//! not like a plan or group var (a point's value would hide it). That
//! steps do not use them is checked when they are rendered (`graph`).

use super::model::{Group, Series, SeriesOrder};
use super::syntax::{RawPlan, RawSeries, Sp};
use crate::diag::Diagnostic;

/// The statistics of a figure over a point's trials: columns of the
/// series tables, in their order.
pub const STATISTICS: [&str; 9] = [
    "mean",
    "stddev",
    "ci95_low",
    "ci95_high",
    "median",
    "median_ci95_low",
    "median_ci95_high",
    "min",
    "max",
];

/// The series tables' own columns, and the per-trial tables' key columns
/// (which the series tables carry too): a series var may not be named so.
fn reserved() -> impl Iterator<Item = &'static str> {
    let mut all: Vec<&'static str> = Vec::new();
    let names = ["figure", "unit", "n", "missing"]
        .into_iter()
        .chain(STATISTICS)
        .chain(["pooled", "test", "host", "file"])
        .chain(crate::analyze::parser::key_columns());
    for n in names {
        if !all.contains(&n) {
            all.push(n);
        }
    }
    all.into_iter()
}

/// More trials than this in one series is almost surely a typo.
const MAX_TRIALS: usize = 10_000;

pub fn validate(
    raw: &RawPlan,
    groups: &[Group],
    tests: &[super::model::Test],
    diags: &mut Vec<Diagnostic>,
) -> Option<Series> {
    let s = raw.series.as_ref()?;
    // Every trial of a series starts after its own trigger: a fixed time
    // would be the same for all of them.
    for t in tests {
        let raw_at = raw
            .tests
            .iter()
            .find(|r| r.name.as_ref().is_some_and(|n| n.value == t.name))
            .and_then(|r| r.at.as_ref());
        if let (super::model::At::Epoch(_), Some(at)) = (t.at, raw_at) {
            diags.push(
                Diagnostic::at(
                    format!("test `{}` starts at a fixed time, but the plan is a series", t.name),
                    at.span.clone(),
                )
                .help("each trial of a series starts after its own trigger: write `at` as an offset, e.g. `at = \"+2s\"`"),
            );
        }
    }
    if raw.tests.is_empty() {
        diags.push(
            Diagnostic::at(
                "`[series]` without a `[[test]]`: there is nothing to repeat",
                s.span.clone(),
            )
            .help("add a `[[test]]`, or remove `[series]`"),
        );
    }
    let repeat = bounded(s.repeat.as_ref(), "repeat", 1, 1000, 1, diags);
    let discard = bounded(s.discard.as_ref(), "discard", 0, 100, 0, diags);
    let order = match s.order.as_ref().map(|o| o.value.as_str()) {
        None | Some("shuffled") => SeriesOrder::Shuffled,
        Some("in-order") => SeriesOrder::InOrder,
        Some(other) => {
            let span = s.order.as_ref().map(|o| o.span.clone());
            diags.push(
                Diagnostic::new(format!("unknown series order `{other}`"), span)
                    .help("expected `shuffled` (each round in its own random order, the default) or `in-order`"),
            );
            SeriesOrder::Shuffled
        }
    };
    let vars = vars(raw, s, groups, diags);
    let points: usize = vars.iter().map(|(_, v)| v.len().max(1)).product();
    let trials = points.saturating_mul(repeat + discard);
    if trials > MAX_TRIALS {
        diags.push(
            Diagnostic::at(
                format!("the series has {points} points × {} trials = {trials} trials, more than {MAX_TRIALS}", repeat + discard),
                s.span.clone(),
            )
            .help("sweep fewer values, or split the sweep into plans"),
        );
    }
    Some(Series {
        repeat,
        discard,
        order,
        vars,
    })
}

fn bounded(
    v: Option<&Sp<i64>>,
    key: &str,
    lo: i64,
    hi: i64,
    default: usize,
    diags: &mut Vec<Diagnostic>,
) -> usize {
    match v {
        None => default,
        Some(v) if (lo..=hi).contains(&v.value) => v.value as usize,
        Some(v) => {
            diags.push(Diagnostic::at(
                format!(
                    "`{key} = {}` in `[series]` is out of range ({lo} to {hi})",
                    v.value
                ),
                v.span.clone(),
            ));
            default
        }
    }
}

fn vars(
    raw: &RawPlan,
    s: &RawSeries,
    groups: &[Group],
    diags: &mut Vec<Diagnostic>,
) -> Vec<(String, Vec<serde_json::Value>)> {
    let mut out = Vec::new();
    for (name, values) in &s.vars {
        check_name(raw, name, groups, diags);
        check_values(&name.value, values, diags);
        out.push((
            name.value.clone(),
            values.value.iter().map(|v| v.value.clone()).collect(),
        ));
    }
    out
}

/// A series var's name: a template name, not a table column, not a plan
/// or group var.
fn check_name(raw: &RawPlan, name: &Sp<String>, groups: &[Group], diags: &mut Vec<Diagnostic>) {
    let n = &name.value;
    let ident = n
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ident {
        diags.push(
            Diagnostic::at(format!("series var `{n}` is not a template name"), name.span.clone())
                .help("use letters, digits and `_`, starting with a letter: templates read it as `vars.NAME`"),
        );
    }
    if reserved().any(|r| r == n) {
        diags.push(
            Diagnostic::at(
                format!("series var `{n}` is named like a column of the series tables"),
                name.span.clone(),
            )
            .help(format!(
                "rename it: {} are the tables' own columns",
                reserved()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        );
    }
    let clash = if raw.vars.contains_key(n) {
        Some("the plan's `[vars]`".to_string())
    } else {
        groups
            .iter()
            .find(|g| g.vars.contains_key(n))
            .map(|g| format!("group `{}`'s vars", g.name))
    };
    if let Some(clash) = clash {
        diags.push(
            Diagnostic::at(
                format!("series var `{n}` is also set in {clash}"),
                name.span.clone(),
            )
            .help("a point's value would hide it: rename one of them"),
        );
    }
}

/// A series var's values: some, distinct, none a list or a table.
fn check_values(n: &str, values: &Sp<Vec<super::syntax::SpValue>>, diags: &mut Vec<Diagnostic>) {
    if values.value.is_empty() {
        diags.push(
            Diagnostic::at(
                format!("series var `{n}` has no values"),
                values.span.clone(),
            )
            .help("list the values to sweep, e.g. `streams = [1, 2, 4]`"),
        );
    }
    // Values are told apart as they are shown (`1` and `"1"` are one
    // point's label), and labels are `a=1,b=2 #3`: no `,`, `=`, `@`, `#`.
    let mut seen: Vec<String> = Vec::new();
    for v in &values.value {
        let shown = match &v.value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        // `1` and `1.0` are one number, one point; so are `-0.0` and `0.0`.
        let same = match &v.value {
            serde_json::Value::Number(x) => x.as_f64().map_or(shown.clone(), |f| {
                (if f == 0.0 { 0.0 } else { f }).to_string()
            }),
            _ => shown.clone(),
        };
        let not_finite = v.value.is_null();
        if not_finite {
            diags.push(
                Diagnostic::at(
                    format!(
                        "series var `{n}` has a value that is not a finite number (`nan` or `inf`)"
                    ),
                    v.span.clone(),
                )
                .help("use a finite number, or a string if a word is meant (`\"inf\"`)"),
            );
            continue;
        }
        if v.value.is_array() || v.value.is_object() {
            diags.push(
                Diagnostic::at(
                    format!("a value of series var `{n}` is a list or table"),
                    v.span.clone(),
                )
                .help("series values are strings, numbers or booleans"),
            );
        } else if shown.is_empty()
            || shown.contains([',', '=', '@', '#'])
            || shown.chars().any(char::is_control)
        {
            diags.push(
                Diagnostic::at(
                    format!("series var `{n}` has the value {}, which cannot label a point", v.value),
                    v.span.clone(),
                )
                .help("points are labelled `streams=4,protocol=udp`: a value may not be empty or hold `,`, `=`, `@`, `#` or control characters"),
            );
        } else if seen.contains(&same) {
            diags.push(
                Diagnostic::at(
                    format!("series var `{n}` lists {shown} twice"),
                    v.span.clone(),
                )
                .help(
                    "values are told apart as they are shown, numbers by their value: `1`, `1.0` and `\"1\"` are the same point",
                ),
            );
        }
        seen.push(same);
    }
}
