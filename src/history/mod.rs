//! A plan's results over time: every trial and series under
//! `trials/<plan>/` in the order they ran (a series' own trials are part
//! of it, not runs of their own), each figure of each analysis per run —
//! a trial's value, a series' mean with its 95 % interval — and the change
//! points of each figure's history ([`edivisive`]).

pub mod edivisive;

use std::path::{Path, PathBuf};

use crate::series::compare::{Kind, kind_of};
use crate::series::{SeriesFile, is_series_id};
use crate::units::Better;

/// One trial or series.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: String,
    /// `--label`, else the id.
    pub label: String,
    pub series: bool,
    pub status: String,
    pub dir: PathBuf,
}

/// A figure in one run: the run (index into the runs), the mean, its 95 %
/// interval, n.
pub type Point = (usize, f64, Option<(f64, f64)>, usize);

/// One figure of one row of one analysis, run by run.
#[derive(Debug, Clone)]
pub struct Figure {
    pub analysis: String,
    pub keys: Vec<(String, String)>,
    pub figure: String,
    pub points: Vec<Point>,
    pub better: Option<Better>,
    pub changes: Vec<Change>,
}

impl Figure {
    /// The row as people read it: `host=server[0], window=tcp`.
    pub fn row(&self) -> String {
        self.keys
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A change point of a figure's history.
#[derive(Debug, Clone)]
pub struct Change {
    /// The first run after the change (index into the runs).
    pub run: usize,
    pub before: f64,
    pub after: f64,
    pub p: f64,
    /// `better`, `worse`, or `changed` when the unit does not say.
    pub verdict: &'static str,
}

impl Change {
    pub fn percent(&self) -> f64 {
        (self.after - self.before) / self.before.abs() * 100.0
    }
}

/// What to look at and how to test it.
#[derive(Debug, Clone)]
pub struct Ask {
    pub analyses: Vec<String>,
    pub figures: Vec<String>,
    /// `KEY=VALUE`: rows whose key has that value.
    pub rows: Vec<(String, String)>,
    pub pvalue: f64,
    pub permutations: usize,
    pub seed: u64,
}

/// Every trial and series of the plan whose trials are in `trials`, in
/// the order they ran.
pub fn runs(trials: &Path) -> Vec<Run> {
    let Ok(dir) = std::fs::read_dir(trials) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Run)> = Vec::new();
    for e in dir.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let run = if is_series_id(&id) {
            let f = match SeriesFile::read(&path) {
                Ok(f) => f,
                Err(e) => {
                    out.push((id.clone(), unreadable(&id, path, e.to_string(), true)));
                    continue;
                }
            };
            Run {
                label: f.label.clone().unwrap_or_else(|| id.clone()),
                id: id.clone(),
                series: true,
                status: f.progress(),
                dir: path,
            }
        } else {
            if !path.is_dir() {
                continue;
            }
            let t = match crate::trial::Trial::read(&path) {
                Ok(t) => t,
                Err(e) => {
                    out.push((id.clone(), unreadable(&id, path, e.to_string(), false)));
                    continue;
                }
            };
            if t.series.is_some() {
                continue;
            }
            Run {
                label: t.label.clone().unwrap_or_else(|| id.clone()),
                id: id.clone(),
                series: false,
                status: t.status.to_string(),
                dir: path,
            }
        };
        // Series ids are `series-<time>`: ordered by the time.
        let key = id
            .strip_prefix(crate::series::PREFIX)
            .unwrap_or(&id)
            .to_string();
        out.push((key, run));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, r)| r).collect()
}

/// A run whose trial.json or series.json cannot be read: listed (its
/// tables are still read), its status the error.
fn unreadable(id: &str, dir: PathBuf, error: String, series: bool) -> Run {
    Run {
        id: id.to_string(),
        label: id.to_string(),
        series,
        status: format!("unreadable: {error}"),
        dir,
    }
}

/// The analyses' names the runs have tables of.
fn analyses(runs: &[Run]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for r in runs {
        let mut dirs = vec![r.dir.join("analysis")];
        if r.series
            && let Ok(f) = SeriesFile::read(&r.dir)
        {
            dirs.extend(f.trials.iter().map(|t| {
                r.dir
                    .parent()
                    .unwrap_or(&r.dir)
                    .join(&t.id)
                    .join("analysis")
            }));
        }
        for d in dirs {
            for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
                let f = e.file_name().to_string_lossy().into_owned();
                if let Some(stem) = f.strip_suffix(".csv")
                    && !stem.contains('.')
                    && !names.iter().any(|n| n == stem)
                {
                    names.push(stem.to_string());
                }
            }
        }
    }
    names.sort();
    names
}

/// Every figure asked for, run by run, with its change points.
pub fn figures(runs: &[Run], ask: &Ask) -> Vec<Figure> {
    let mut out: Vec<Figure> = Vec::new();
    // Each figure's place in `out`, by (analysis, row, figure): looked up,
    // not scanned, for every value of every run.
    type Key = (String, Vec<(String, String)>, String);
    let mut at_of: std::collections::HashMap<Key, usize> = std::collections::HashMap::new();
    for name in analyses(runs) {
        if !ask.analyses.is_empty() && !ask.analyses.contains(&name) {
            continue;
        }
        for (i, r) in runs.iter().enumerate() {
            for (keys, figure, values) in crate::series::compare::samples(&r.dir, &name)
                .into_iter()
                .flatten()
            {
                if !wanted(ask, &keys, &figure) || kind_of(&figure) == Kind::Count {
                    continue;
                }
                let Some(s) = crate::stats::summary(&values) else {
                    continue;
                };
                let at = *at_of
                    .entry((name.clone(), keys.clone(), figure.clone()))
                    .or_insert_with(|| {
                        out.push(Figure {
                            analysis: name.clone(),
                            better: crate::series::compare::better(&keys, &figure),
                            keys,
                            figure,
                            points: Vec::new(),
                            changes: Vec::new(),
                        });
                        out.len() - 1
                    });
                out[at].points.push((i, s.mean, s.ci95, s.n));
            }
        }
    }
    for f in &mut out {
        f.changes = changes(f, ask);
    }
    out
}

fn wanted(ask: &Ask, keys: &[(String, String)], figure: &str) -> bool {
    let name = crate::table::Header::parse(figure).name;
    (ask.figures.is_empty() || ask.figures.iter().any(|f| f == figure || *f == name))
        && ask
            .rows
            .iter()
            // `column=ms` matches the cell `ms (ms)` too.
            .all(|(k, v)| {
                keys.iter().any(|(kk, vv)| {
                    kk == k && (vv == v || crate::table::Header::parse(vv).name == *v)
                })
            })
}

/// A figure's change points: where, the means of the segments either
/// side, the p-value, better or worse.
fn changes(f: &Figure, ask: &Ask) -> Vec<Change> {
    let values: Vec<f64> = f.points.iter().map(|p| p.1).collect();
    let mut found = edivisive::e_divisive(&values, ask.pvalue, ask.permutations, ask.seed);
    let mut cuts: Vec<usize> = found.iter().map(|c| c.index).collect();
    cuts.push(0);
    cuts.push(values.len());
    cuts.sort_unstable();
    found.sort_by_key(|c| c.index);
    let mean = |a: usize, b: usize| values[a..b].iter().sum::<f64>() / (b - a) as f64;
    found
        .iter()
        .map(|c| {
            let k = cuts.iter().position(|&x| x == c.index).unwrap_or(1);
            let (before, after) = (mean(cuts[k - 1], c.index), mean(c.index, cuts[k + 1]));
            let verdict = match (f.better, after > before) {
                (Some(Better::Higher), true) | (Some(Better::Lower), false) => "better",
                (Some(_), _) => "worse",
                (None, _) => "changed",
            };
            Change {
                run: f.points[c.index].0,
                before,
                after,
                p: c.p,
                verdict,
            }
        })
        .collect()
}
