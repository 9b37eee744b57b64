//! `runner report PLAN --compare A B`: every figure of every analysis table
//! of trial (or series) A beside B's — the means, n, the change in % with
//! its interval, a p-value and a verdict (`crate::series::compare`) — as
//! CSV (long format), Markdown and an HTML page (two trials' latency
//! spectra on one chart), written to `trials/<plan>/<B>/analysis/compare-<A>/`.

use std::fmt::Write as _;

use minijinja::{Value, context};
use std::path::{Path, PathBuf};

use super::chart::{self, XAxis};
use crate::plan::Plan;
use crate::series::compare::{self, Delta};
use crate::stats::TestKind;

fn num(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| {
        if v.fract() == 0.0 && v.abs() < 1e15 {
            format!("{v:.0}")
        } else {
            format!("{v:.4}")
        }
    })
}

/// Writes the comparison of trial (or series) B against A; its folder.
pub fn write(
    plan: &Plan,
    trials: &Path,
    a: &str,
    b: &str,
    test: TestKind,
) -> crate::error::Result<PathBuf> {
    let (da, db) = (trials.join(a), trials.join(b));
    let kind = |id: &str, d: &Path| {
        if d.join("series.json").is_file() {
            Ok(true)
        } else if d.join("trial.json").is_file() {
            Ok(false)
        } else {
            Err(crate::Error::msg(format!(
                "no trial or series `{id}` under {}",
                crate::paths::shown(trials)
            )))
        }
    };
    if kind(a, &da)? != kind(b, &db)? {
        return Err(crate::Error::msg(format!(
            "`{a}` and `{b}` are a trial and a series: compare trials with trials, series with series"
        )));
    }
    let names: Vec<String> = plan.analyses.iter().map(|an| an.name.clone()).collect();
    let deltas = compare::deltas(&names, &da, &db, test);
    // Beside B's own tables: the comparison is B's, against A.
    let out = db.join("analysis").join(format!("compare-{a}"));
    fs_err::create_dir_all(&out)?;
    let csv_bytes = delta_csv(&deltas).map_err(|e| crate::Error::msg(e.to_string()))?;
    crate::state::write_atomic(&out.join("delta.csv"), &csv_bytes)?;
    let md = delta_md(&deltas, a, b, test);
    crate::state::write_atomic(&out.join("delta.md"), md.as_bytes())?;
    let html = page(plan, a, b, &da, &db, &deltas, test)?;
    crate::state::write_atomic(&out.join("report.html"), html.as_bytes())?;
    Ok(out)
}

/// `delta.csv`: long format, one row per table × row × figure.
fn delta_csv(deltas: &[Delta]) -> Result<Vec<u8>, csv::Error> {
    let keys = compare::key_columns(deltas);
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut head: Vec<&str> = vec!["table"];
    head.extend(keys.iter().map(String::as_str));
    head.extend([
        "figure",
        "mean_a",
        "mean_b",
        "n_a",
        "n_b",
        "change_pct",
        "change_ci95_low",
        "change_ci95_high",
        "p_value",
        "verdict",
    ]);
    w.write_record(&head)?;
    for d in deltas {
        let c = d.change.as_ref();
        let mut row: Vec<String> = vec![d.table.clone()];
        row.extend(keys.iter().map(|k| {
            d.keys
                .iter()
                .find(|(c, _)| c == k)
                .map_or(String::new(), |(_, v)| v.clone())
        }));
        row.extend([
            d.figure.clone(),
            exact(c.map(|c| c.mean_a).or_else(|| mean(&d.a))),
            exact(c.map(|c| c.mean_b).or_else(|| mean(&d.b))),
            d.a.len().to_string(),
            d.b.len().to_string(),
            exact(c.and_then(|c| c.pct)),
            exact(c.and_then(|c| c.ci95).map(|x| x.0)),
            exact(c.and_then(|c| c.ci95).map(|x| x.1)),
            exact(c.and_then(|c| c.p)),
            d.verdict.clone(),
        ]);
        w.write_record(&row)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn exact(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

fn row_text(d: &Delta) -> String {
    d.keys
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn change_text(d: &Delta) -> String {
    let Some(c) = &d.change else {
        return String::new();
    };
    match (c.pct, c.ci95) {
        (Some(p), Some((lo, hi))) => format!("{p:+.2} [{lo:+.2}, {hi:+.2}]"),
        (Some(p), None) => format!("{p:+.2}"),
        _ => String::new(),
    }
}

fn p_text(d: &Delta) -> String {
    d.change
        .as_ref()
        .and_then(|c| c.p)
        .map_or(String::new(), |p| format!("{p:.4}"))
}

fn delta_md(deltas: &[Delta], a: &str, b: &str, test: TestKind) -> String {
    let mut md = format!(
        "| table | row | figure | A: {a} | B: {b} | change % [95 % CI] | p | verdict |\n|---|---|---|---:|---:|---:|---:|---|\n"
    );
    for d in deltas {
        let side = |v: &[f64]| {
            mean(v).map_or(String::new(), |m| {
                format!("{} (n {})", num(Some(m)), v.len())
            })
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            d.table,
            row_text(d).replace('|', "\\|"),
            d.figure,
            side(&d.a),
            side(&d.b),
            change_text(d),
            p_text(d),
            d.verdict
        );
    }
    if let Some(note) = compare::too_few(deltas, test) {
        let _ = writeln!(md, "\n**{note}**");
    }
    let _ = writeln!(
        md,
        "\nB ({b}) against A ({a}); change = (B − A) / |A| of the means, its 95 % interval from Welch's t; p: two-sided {}; verdict at α = {}: `~` no significant change, `better`/`worse` by the unit (time: lower is better; rate: higher), `changed` when the unit does not say. Written by runner {}.",
        test.name(),
        compare::ALPHA,
        env!("CARGO_PKG_VERSION")
    );
    md
}

fn page(
    plan: &Plan,
    a: &str,
    b: &str,
    da: &Path,
    db: &Path,
    deltas: &[Delta],
    test: TestKind,
) -> crate::error::Result<String> {
    let mut tables = Vec::new();
    for an in &plan.analyses {
        let rows: Vec<Value> = deltas
            .iter()
            .filter(|d| d.table == an.name)
            .map(|d| {
                let class = match d.verdict.as_str() {
                    "better" => "pass",
                    "worse" => "fail",
                    "~" => "muted",
                    _ => "",
                };
                context! {
                    row => row_text(d), figure => &d.figure,
                    a => mean(&d.a).map(|m| num(Some(m))).unwrap_or_default(), n_a => d.a.len(),
                    b => mean(&d.b).map(|m| num(Some(m))).unwrap_or_default(), n_b => d.b.len(),
                    change => change_text(d), p => p_text(d), verdict => &d.verdict, class,
                }
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let both_trials = da.join("trial.json").is_file() && db.join("trial.json").is_file();
        let chart = (an.parser.decl().histograms && both_trials)
            .then(|| spectra_of_both(an, [(a, da), (b, db)]))
            .flatten()
            .map(Value::from_safe_string);
        tables.push(context! { name => &an.name, rows, chart });
    }
    super::render(
        "compare",
        context! {
            plan => &plan.name, a, b, tables, test => test.name(), alpha => compare::ALPHA,
            warning => compare::too_few(deltas, test),
        },
    )
}

/// The latency spectra of two trials' files on one chart.
fn spectra_of_both(
    an: &crate::plan::model::Analysis,
    trials: [(&str, &Path); 2],
) -> Option<String> {
    let mut series = Vec::new();
    let mut y = String::new();
    for (id, dir) in trials {
        let files = super::input_files(an, dir);
        for p in an.parser.parser().plots(&files, &an.options, 0.0) {
            if p.x != XAxis::Nines {
                continue;
            }
            y = p.y;
            series.extend(p.series.into_iter().map(|mut s| {
                s.name = format!("{id}: {}", s.name);
                s
            }));
        }
    }
    chart::lines(
        &format!("{}: latency by percentile, both trials", an.name),
        XAxis::Nines,
        &y,
        &series,
        &[],
        380,
    )
}
