//! `[[analyze]]` over a series: its long table from every measured trial's
//! own table (`tables`), and for HDR the pooled figures — each point's
//! histograms of all its trials merged — written as the series'
//! `analysis/<name>.<format>`. A trial whose table cannot be read is named
//! in the table's notes and in what `run_one` returns, never skipped
//! silently.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::SeriesFile;
use super::tables::PointInput;
use crate::error::Result;
use crate::plan::Plan;
use crate::plan::model::Analysis;
use crate::trial::Trial;

/// What a series' analysis wrote, and the trials' tables it could not read.
pub struct Written {
    pub tables: Vec<PathBuf>,
    /// `warning: …` lines for the terminal.
    pub warnings: Vec<String>,
}

/// Analysis `a` over the series in `dir`.
pub fn run_one(plan: &Plan, a: &Analysis, dir: &Path) -> Result<Written> {
    let file = SeriesFile::read(dir)?;
    let root = dir.parent().unwrap_or(Path::new("."));
    let measured: Vec<Vec<String>> = file
        .points
        .iter()
        .map(|p| {
            file.measured(&p.label)
                .iter()
                .map(|t| t.id.clone())
                .collect()
        })
        .collect();
    let inputs: Vec<PointInput> = file
        .points
        .iter()
        .zip(&measured)
        .map(|(p, ids)| PointInput {
            label: &p.label,
            vars: &p.vars,
            trials: ids.iter().map(|t| root.join(t)).collect(),
        })
        .collect();
    let pooled = a.parser.decl().histograms.then(|| pooled(a, &inputs));
    let (mut table, unreadable) =
        super::tables::build(&a.name, &file.vars, &inputs, pooled.as_ref());
    let mut notes = notes(plan, a, dir, &file, &measured);
    // What could not be read, said after what the table is.
    notes.append(&mut table.notes);
    table.notes = notes;
    if pooled.is_some() {
        table.notes.push("`pooled`: the figure of all the point's trials' histograms merged (HdrHistogram add). mean/median/min/max of a percentile are statistics of the per-trial percentiles, never the percentile itself.".into());
    }
    table.notes.push(format!(
        "Trials by point: {}.",
        file.points
            .iter()
            .zip(&measured)
            .map(|(p, ids)| format!(
                "{}: {}",
                if p.label.is_empty() { "all" } else { &p.label },
                ids.join(" ")
            ))
            .collect::<Vec<_>>()
            .join("; ")
    ));
    table
        .notes
        .push(format!("runner {}.", env!("CARGO_PKG_VERSION")));
    let mut warnings: Vec<String> = unreadable
        .iter()
        .map(|u| {
            format!(
                "warning: series analyze {}: {u} (its figures count as missing)",
                a.name
            )
        })
        .collect();
    warnings.extend(x_missing(a, &table));
    let mut tables = crate::trial::analysis::write_tables(a, &table, dir)?;
    if let Some(w) = &a.shown.wide {
        tables.extend(write_wide(
            a,
            w,
            &file,
            &inputs,
            &table,
            dir,
            &mut warnings,
        )?);
    }
    Ok(Written { tables, warnings })
}

/// A warning when the analysis's `x` names a figure no trial's table has.
fn x_missing(a: &Analysis, table: &crate::table::Table) -> Option<String> {
    let x = a.shown.x.as_ref()?;
    let figure = table.columns.iter().position(|c| c.name == "figure");
    let found = table
        .rows
        .iter()
        .any(|r| match figure.and_then(|i| r.get(i)) {
            Some(crate::table::Cell::Text(f)) => crate::table::Header::parse(f).is(x),
            _ => false,
        });
    (!found).then(|| {
        format!(
            "warning: series analyze {}: `x = \"{x}\"`: no trial's table has that figure (the report has no chart against it)",
            a.name
        )
    })
}

/// The wide table beside the long one (`<name>-wide.<format>`), saying
/// where it comes from as the long one does.
fn write_wide(
    a: &Analysis,
    w: &crate::plan::model::Wide,
    file: &SeriesFile,
    inputs: &[PointInput],
    long: &crate::table::Table,
    dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<Vec<PathBuf>> {
    let (mut wide, missing) = super::wide::build(&a.name, w, &file.vars, inputs);
    for m in missing {
        warnings.push(format!("warning: series analyze {}: `wide` {m}", a.name));
        wide.notes.push(format!("`wide` {m}."));
    }
    let sources = long
        .notes
        .iter()
        .filter(|n| !n.starts_with("Each row:") && !n.starts_with("`pooled`"));
    wide.notes.extend(sources.cloned());
    let stem = format!("{}-wide", a.name);
    crate::trial::analysis::write_tables_as(a, &stem, &wide, dir)
}

/// What a series table is: the series, its points and repetitions, how
/// each row is made.
fn notes(
    plan: &Plan,
    a: &Analysis,
    dir: &Path,
    file: &SeriesFile,
    measured: &[Vec<String>],
) -> Vec<String> {
    let n: usize = measured.iter().map(Vec::len).sum();
    vec![
        format!(
            "Series {} of plan `{}` ({}): {} × {} measured ({n} trials read{}).",
            file.series,
            plan.name,
            crate::paths::shown(dir),
            crate::style::plural(file.points.len(), "point"),
            crate::style::plural(file.repeat, "repetition"),
            match file.discard {
                0 => String::new(),
                d => format!(
                    "; {} per point left out",
                    crate::style::plural(d, "warm-up")
                ),
            }
        ),
        format!(
            "Each row: one figure of the trials' own `analysis/{}.csv` over a point's measured trials; n values used, missing = trials that left it blank; stddev is the sample's (n − 1); ci95 is Student's t interval of the mean, never below 0 for a figure that cannot be negative (a duration, size, rate, share or count); median_ci95 is the median's distribution-free 95 % interval (the order statistics of a binomial(n, ½), SciPy's quantile_test; from 6 trials on).",
            a.name
        ),
    ]
}

/// Each point's histograms of all its trials merged: (point, row keys,
/// figure) → the figure of the merged histogram.
fn pooled(a: &Analysis, inputs: &[PointInput]) -> HashMap<(String, String, String), f64> {
    let mut out = HashMap::new();
    for p in inputs {
        let mut groups: Vec<crate::analyze::Group> = Vec::new();
        for dir in &p.trials {
            let Ok(trial) = Trial::read(dir) else {
                continue;
            };
            let Ok(these) = crate::trial::analysis::groups_of(a, dir, &trial) else {
                continue;
            };
            for g in these {
                match groups.iter_mut().find(|x| x.label == g.label) {
                    Some(x) => x.files.extend(g.files),
                    None => groups.push(g),
                }
            }
        }
        if groups.is_empty() {
            continue;
        }
        let Some(table) = crate::analyze::analyze(a.parser, &groups, &a.options).table else {
            continue;
        };
        let Ok(csv) = crate::render::render(&table, crate::kinds::Format::Csv, None) else {
            continue;
        };
        // Read back as every trial's CSV is, so that rows and figures are named alike.
        let Ok(t) = crate::table::Csv::parse(&csv) else {
            continue;
        };
        for (keys, figures) in t.split() {
            let key_text = super::tables::key_text(&keys);
            for (figure, value) in figures {
                if let Some(v) = value {
                    out.insert((p.label.to_string(), key_text.clone(), figure), v);
                }
            }
        }
    }
    out
}
