//! `runner report PLAN --compare A B`: every figure of every analysis table
//! of trial (or series) A beside B's — the means, n, the change in % with
//! its interval, a p-value, its q-value and a verdict
//! (`crate::series::compare`) — as CSV (long format), Markdown and an HTML
//! page that opens with a summary (figures tested, how many better, worse,
//! changed after the false-discovery control, the largest significant
//! changes) and a forest plot per table, figures in human units (two
//! trials' latency spectra on one chart), written to
//! `trials/<plan>/<B>/analysis/compare-<A>/`.

use std::fmt::Write as _;

use minijinja::{Value, context};
use std::path::{Path, PathBuf};

use super::chart::{self, XAxis};
use super::forest;
use crate::plan::Plan;
use crate::series::compare::{self, Delta};
use crate::stats::TestKind;

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
    let ways: compare::Ways = plan
        .analyses
        .iter()
        .map(|an| {
            let w = an
                .options
                .map("better")
                .iter()
                .filter_map(|(c, way)| {
                    let b = match way.as_str() {
                        "higher" => crate::units::Better::Higher,
                        "lower" => crate::units::Better::Lower,
                        _ => return None,
                    };
                    Some((c.clone(), b))
                })
                .collect();
            (an.name.clone(), w)
        })
        .collect();
    let deltas = compare::deltas(&names, &da, &db, test, &ways);
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
        "q_value",
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
            exact(d.q),
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

fn q_text(d: &Delta) -> String {
    d.q.map_or(String::new(), |q| format!("{q:.4}"))
}

/// A side's mean in the figure's unit, for a person (`1.23 ms`, `9.3 Gbit/s`).
fn human(d: &Delta, v: &[f64]) -> String {
    let unit = crate::series::tables::unit_for(&d.keys, &d.figure);
    mean(v).map_or(String::new(), |m| {
        crate::units::human(m, (!unit.is_empty()).then_some(unit.as_str()))
    })
}

fn delta_md(deltas: &[Delta], a: &str, b: &str, test: TestKind) -> String {
    let mut md = format!(
        "| table | row | figure | A: {a} | B: {b} | change % [95 % CI] | p | q | verdict |\n|---|---|---|---:|---:|---:|---:|---:|---|\n"
    );
    for d in deltas {
        let side = |v: &[f64]| {
            mean(v).map_or(String::new(), |_| {
                format!("{} (n {})", human(d, v), v.len())
            })
        };
        let md_text = crate::markup::markdown;
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            md_text(&d.table),
            md_text(&row_text(d)),
            md_text(&d.figure),
            md_text(&side(&d.a)),
            md_text(&side(&d.b)),
            change_text(d),
            p_text(d),
            q_text(d),
            d.verdict
        );
    }
    if let Some(note) = compare::too_few(deltas, test) {
        let _ = writeln!(md, "\n**{note}**");
    }
    let _ = writeln!(
        md,
        "\n{}\n\nB ({b}) against A ({a}); change = (B − A) / |A| of the means, its 95 % interval from Welch's t; p: two-sided {}; q: p adjusted over every figure tested (Benjamini–Hochberg); verdict on q at α = {}: `~` no significant change, `better`/`worse` by the unit (time: lower is better; rate: higher), `changed` when the unit does not say or the figure is a spread (stddev); counts (`n`, `count`, `intervals`, …) are shown, not tested. Written by runner {}.",
        summary_text(&compare::tally(deltas), deltas),
        test.name(),
        compare::ALPHA,
        env!("CARGO_PKG_VERSION")
    );
    md
}

/// The comparison in a sentence: figures tested and what came of them.
fn summary_text(t: &compare::Tally, deltas: &[Delta]) -> String {
    if t.tested == 0 {
        return "No figure could be tested: with one trial a side (or the same values on both) a change is shown, its noise is not estimated; repeat the trials (a series) to tell a change from noise.".into();
    }
    format!(
        "{} figures tested{}. After the false-discovery control (Benjamini–Hochberg, {} %): {} better, {} worse, {} changed; the rest no significant change.",
        t.tested,
        untested(deltas),
        compare::ALPHA * 100.0,
        t.better,
        t.worse,
        t.changed
    )
}

/// What was not tested, and why: ` (4 counts shown, not tested; …)`.
fn untested(deltas: &[Delta]) -> String {
    let counts = deltas.iter().filter(|d| !d.tested).count();
    let one_side = deltas.iter().filter(|d| d.change.is_none()).count();
    let no_test = deltas
        .iter()
        .filter(|d| d.tested && d.q.is_none() && d.change.is_some())
        .count();
    let parts: Vec<String> = [
        (counts, "counts shown, not tested"),
        (one_side, "only on one side"),
        (
            no_test,
            "without a test: one trial a side, or the same values on both",
        ),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join("; "))
    }
}

/// The largest significant changes, largest first.
fn largest(deltas: &[Delta], at_most: usize) -> Vec<Value> {
    let mut sig: Vec<&Delta> = deltas
        .iter()
        .filter(|d| matches!(d.verdict.as_str(), "better" | "worse" | "changed"))
        .collect();
    let pct = |d: &Delta| d.change.as_ref().and_then(|c| c.pct).map_or(0.0, f64::abs);
    sig.sort_by(|x, y| pct(y).total_cmp(&pct(x)));
    sig.into_iter()
        .take(at_most)
        .map(|d| {
            context! {
                table => &d.table, row => row_text(d), figure => &d.figure,
                a => human(d, &d.a), b => human(d, &d.b), change => change_text(d),
                q => q_text(d), verdict => &d.verdict,
            }
        })
        .collect()
}

/// Rows of a forest plot at most: the rest are in the table.
const FOREST_ROWS: usize = 60;

/// A table's tested figures with a change, as forest rows (named by the
/// keys that tell them apart).
fn forest_of(name: &str, deltas: &[&Delta]) -> Option<String> {
    let same: Vec<&(String, String)> = deltas
        .first()
        .map(|d| {
            d.keys
                .iter()
                .filter(|k| deltas.iter().all(|o| o.keys.contains(k)))
                .collect()
        })
        .unwrap_or_default();
    let rows: Vec<forest::Row> = deltas
        .iter()
        .filter(|d| d.tested)
        .filter_map(|d| {
            let c = d.change.as_ref()?;
            let row = d
                .keys
                .iter()
                .filter(|k| !same.contains(k))
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            Some(forest::Row {
                label: if row.is_empty() {
                    d.figure.clone()
                } else {
                    format!("{row} · {}", d.figure)
                },
                pct: c.pct?,
                ci: c.ci95,
                verdict: d.verdict.clone(),
            })
        })
        .take(FOREST_ROWS)
        .collect();
    forest::forest(&format!("{name}: change of each figure"), &rows)
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
        let these: Vec<&Delta> = deltas.iter().filter(|d| d.table == an.name).collect();
        let rows: Vec<Value> = these
            .iter()
            .map(|d| {
                let class = match d.verdict.as_str() {
                    "better" => "pass",
                    "worse" => "fail",
                    "~" => "muted",
                    _ if !d.tested => "muted",
                    _ => "",
                };
                context! {
                    row => row_text(d), figure => &d.figure,
                    a => human(d, &d.a), n_a => d.a.len(),
                    b => human(d, &d.b), n_b => d.b.len(),
                    change => change_text(d), p => p_text(d), q => q_text(d), verdict => &d.verdict, class,
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
        let forest = forest_of(&an.name, &these).map(Value::from_safe_string);
        let shown = these
            .iter()
            .filter(|d| d.tested && d.change.as_ref().is_some_and(|c| c.pct.is_some()))
            .count();
        tables.push(context! { name => &an.name, rows, chart, forest, more => shown.saturating_sub(FOREST_ROWS) });
    }
    let tally = compare::tally(deltas);
    super::render(
        "compare",
        context! {
            plan => &plan.name, a, b, tables, test => test.name(), alpha => compare::ALPHA,
            warning => compare::too_few(deltas, test),
            summary => summary_text(&tally, deltas), untested => untested(deltas), tally => context! { tested => tally.tested, better => tally.better, worse => tally.worse, changed => tally.changed },
            largest => largest(deltas, 8),
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
