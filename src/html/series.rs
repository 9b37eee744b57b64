//! `trials/<plan>/<series-id>/report.html`: the series' header and its
//! checks; then at a glance, per analysis, its headline figure against the
//! first series var (and against its `x` figure: latency against achieved
//! throughput), in readable units; per analysis its wide table (the one to
//! paste), each point's latency spectrum, and — collapsed — a chart per
//! row and headline figure, the trials in run order, and the long series
//! table; every trial with a link to its own report.

use std::path::{Path, PathBuf};

use minijinja::{Value, context};

use super::series_charts::Charts;
use super::{Shown, render, svg};
use crate::plan::Plan;
use crate::plan::model::Analysis;
use crate::series::SeriesFile;
use crate::series::tables::{PointInput, gather};
use crate::table::Header;

/// Detail charts per analysis at most (a row and a headline figure each).
const MAX_CHARTS: usize = 8;

pub fn write(plan: &Plan, dir: &Path, file: &SeriesFile) -> crate::error::Result<PathBuf> {
    let analyses: Vec<Value> = plan
        .analyses
        .iter()
        .map(|a| analysis(a, dir, file))
        .collect();
    let done = file
        .trials
        .iter()
        .filter(|t| t.status.has_results())
        .count();
    let points: Vec<&str> = file.points.iter().map(|p| p.label.as_str()).collect();
    let html = render(
        "series",
        context! {
            s => crate::template::value(file),
            points => if points.iter().all(|p| p.is_empty()) { "one (no series vars)".to_string() } else { points.join("; ") },
            done,
            planned => file.planned.len().max(file.trials.len()),
            checks => super::checks_of(&file.checks),
            analyses,
            trials => crate::template::value(&file.trials),
        },
    )?;
    let path = dir.join("report.html");
    crate::state::write_atomic(&path, html.as_bytes())?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o644));
    }
    Ok(path)
}

fn analysis(a: &Analysis, dir: &Path, file: &SeriesFile) -> Value {
    let read = |name: &str| Shown::read(&dir.join("analysis").join(format!("{name}.csv")));
    let (table, table_error) = match read(&a.name) {
        Ok(t) => (t, None),
        Err(e) => (None, Some(e)),
    };
    let wide = read(&format!("{}-wide", a.name)).ok().flatten();
    let trials_root = dir.parent().unwrap_or(Path::new("."));
    let measured: Vec<Vec<&crate::series::TrialEntry>> = file
        .points
        .iter()
        .map(|p| file.measured(&p.label))
        .collect();
    let inputs: Vec<PointInput> = file
        .points
        .iter()
        .zip(&measured)
        .map(|(p, m)| PointInput {
            label: &p.label,
            vars: &p.vars,
            trials: m.iter().map(|t| trials_root.join(&t.id)).collect(),
        })
        .collect();
    let cx = Charts {
        file,
        measured: &measured,
        inputs: &inputs,
        g: gather(&a.name, &inputs),
        axes: axes(file),
        first_var: file.vars.first().cloned().unwrap_or_else(|| "point".into()),
    };
    let headline = headlines(a, &cx.g);
    let mut summary: Vec<String> = Vec::new();
    if let Some(first) = headline.first() {
        let rows: Vec<_> =
            cx.g.entries
                .iter()
                .filter(|e| Header::parse(&e.2).is(first))
                .map(|e| e.1.clone())
                .fold(Vec::new(), |mut acc, k| {
                    if !acc.contains(&k) {
                        acc.push(k);
                    }
                    acc
                });
        summary.extend(cx.sweep(a, first, &rows));
    }
    let against: Vec<String> = a
        .shown
        .x
        .iter()
        .flat_map(|x| cx.against(a, x, &headline))
        .collect();
    let mut detail: Vec<String> = Vec::new();
    for (keys, figure) in wanted(&cx.g, &headline).into_iter().take(MAX_CHARTS) {
        detail.extend(cx.sweep(a, &figure, std::slice::from_ref(&keys)));
        detail.extend(cx.drift(a, &keys, &figure));
    }
    context! {
        name => &a.name,
        parser => a.parser.name(),
        summary => summary.into_iter().map(svg).collect::<Vec<_>>(),
        against => against.into_iter().map(svg).collect::<Vec<_>>(),
        wide => wide.as_ref().map(Shown::value),
        spectra => cx.spectra(a, dir).map(svg),
        detail => detail.into_iter().map(svg).collect::<Vec<_>>(),
        table => table.as_ref().map(Shown::value),
        table_error,
    }
}

/// The analysis's headline figures its tables have, in the order its
/// parser declares them; else the first figure.
fn headlines(a: &Analysis, g: &crate::series::tables::Gathered) -> Vec<String> {
    let mut out: Vec<String> = a
        .parser
        .decl()
        .headline
        .iter()
        .filter(|h| g.entries.iter().any(|e| Header::parse(&e.2).is(h)))
        .map(|h| h.to_string())
        .collect();
    if out.is_empty()
        && let Some(e) = g.entries.first()
    {
        out.push(Header::parse(&e.2).name);
    }
    out
}

/// The rows and figures to chart one by one: headline figures first.
fn wanted(
    g: &crate::series::tables::Gathered,
    headline: &[String],
) -> Vec<(crate::series::tables::Keys, String)> {
    let mut wanted: Vec<(crate::series::tables::Keys, String)> = Vec::new();
    let is_headline = |f: &str| headline.iter().any(|h| Header::parse(f).is(h));
    for first in [true, false] {
        for (_, keys, figure, _) in &g.entries {
            if is_headline(figure) == first && !wanted.iter().any(|(k, f)| k == keys && f == figure)
            {
                wanted.push((keys.clone(), figure.clone()));
            }
        }
    }
    wanted
}

/// The x axis (the first series var's values, as written first), each
/// point's place on it, and each point's line (the other vars).
fn axes(file: &SeriesFile) -> (Vec<String>, Vec<usize>, Vec<String>) {
    let shown = |vars: &serde_json::Map<String, serde_json::Value>, v: Option<&String>| {
        let cell = v
            .map(|v| crate::series::tables::var_cell(vars, v))
            .unwrap_or_default();
        if cell.is_empty() {
            "all".to_string()
        } else {
            cell
        }
    };
    let mut labels: Vec<String> = Vec::new();
    let mut x_of = Vec::new();
    let mut line_of = Vec::new();
    for p in &file.points {
        let x = shown(&p.vars, file.vars.first());
        let at = labels.iter().position(|l| *l == x).unwrap_or_else(|| {
            labels.push(x.clone());
            labels.len() - 1
        });
        x_of.push(at);
        line_of.push(
            file.vars
                .iter()
                .skip(1)
                .map(|v| format!("{v}={}", shown(&p.vars, Some(v))))
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    (labels, x_of, line_of)
}
