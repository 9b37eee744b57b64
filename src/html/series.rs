//! `trials/<plan>/<series-id>/report.html`: the series' header, its checks,
//! per analysis the headline figures charted against the first series var
//! (a line per combination of the others, 95 % intervals, every trial as a
//! dot) and in the order the trials ran, the series table, and every trial
//! with a link to its own report.

use std::path::{Path, PathBuf};

use minijinja::{Value, context};

use super::sweep::{self, At, Line};
use super::{Shown, render, svg};
use crate::analyze::ParserKind;
use crate::plan::Plan;
use crate::series::SeriesFile;
use crate::series::tables::{PointInput, gather};

/// Charts per analysis at most (a row and a headline figure each).
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

fn analysis(a: &crate::plan::model::Analysis, dir: &Path, file: &SeriesFile) -> Value {
    let (table, table_error) =
        match Shown::read(&dir.join("analysis").join(format!("{}.csv", a.name))) {
            Ok(t) => (t, None),
            Err(e) => (None, Some(e)),
        };
    context! {
        name => &a.name,
        parser => a.parser.name(),
        table => table.as_ref().map(Shown::value),
        table_error,
        charts => charts(a, dir, file).into_iter().map(svg).collect::<Vec<_>>(),
    }
}

fn charts(a: &crate::plan::model::Analysis, dir: &Path, file: &SeriesFile) -> Vec<String> {
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
    let g = gather(&a.name, &inputs);
    let cx = Charts {
        file,
        measured: &measured,
        axes: axes(file),
        first_var: file.vars.first().cloned().unwrap_or_else(|| "point".into()),
    };
    wanted(a.parser, &g)
        .into_iter()
        .take(MAX_CHARTS)
        .flat_map(|(k, figure)| cx.pair(&a.name, &g, &k, &figure))
        .collect()
}

/// The rows and figures to chart: headline figures, else the first.
fn wanted(parser: ParserKind, g: &crate::series::tables::Gathered) -> Vec<(String, String)> {
    let mut wanted: Vec<(String, String)> = Vec::new();
    for (_, keys, figure, _) in &g.entries {
        let k = key_text(keys);
        if parser.is_headline(figure) && !wanted.contains(&(k.clone(), figure.clone())) {
            wanted.push((k, figure.clone()));
        }
    }
    if wanted.is_empty()
        && let Some((_, keys, figure, _)) = g.entries.first()
    {
        wanted.push((key_text(keys), figure.clone()));
    }
    wanted
}

/// What every chart of a series' analysis shares.
struct Charts<'a> {
    file: &'a SeriesFile,
    measured: &'a [Vec<&'a crate::series::TrialEntry>],
    /// x labels, each point's x, each point's line.
    axes: (Vec<String>, Vec<usize>, Vec<String>),
    first_var: String,
}

impl Charts<'_> {
    /// A figure of a row: against the first var, and in run order.
    fn pair(
        &self,
        table: &str,
        g: &crate::series::tables::Gathered,
        k: &str,
        figure: &str,
    ) -> Vec<String> {
        let (x_labels, x_of, line_of) = &self.axes;
        let mut lines: Vec<Line> = Vec::new();
        let mut dots: Vec<(usize, f64, usize)> = Vec::new();
        for (pi, keys, f, values) in &g.entries {
            if f != figure || key_text(keys) != k {
                continue;
            }
            let present: Vec<f64> = values.iter().flatten().copied().collect();
            let Some(s) = crate::stats::summary(&present) else {
                continue;
            };
            let at = match lines.iter().position(|l| l.name == line_of[*pi]) {
                Some(i) => i,
                None => {
                    lines.push(Line {
                        name: line_of[*pi].clone(),
                        points: Vec::new(),
                    });
                    lines.len() - 1
                }
            };
            lines[at].points.push(At {
                x: x_of[*pi],
                mean: s.mean,
                ci: s.ci95,
                dots: present,
            });
            for (t, v) in self.measured[*pi].iter().zip(values) {
                let run = self.file.trials.iter().position(|x| x.id == t.id);
                if let (Some(v), Some(run)) = (v, run) {
                    dots.push((run, *v, *pi));
                }
            }
        }
        for l in &mut lines {
            l.points.sort_by_key(|p| p.x);
        }
        let title = if k.is_empty() {
            format!("{table}: {figure}")
        } else {
            format!("{table}: {figure} — {k}")
        };
        let header = crate::table::Header::parse(figure);
        let unit = header.unit();
        let names: Vec<String> = self
            .file
            .points
            .iter()
            .map(|p| {
                if p.label.is_empty() {
                    "all".into()
                } else {
                    p.label.clone()
                }
            })
            .collect();
        let drift = format!("{title}, in the order the trials ran");
        [
            sweep::sweep(&title, &self.first_var, unit, x_labels, &lines),
            sweep::drift(&drift, unit, &dots, &names),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

fn key_text(keys: &[(String, String)]) -> String {
    keys.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
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
