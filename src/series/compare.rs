//! Two trials, or two series, figure by figure: A's and B's mean and n, the
//! change in % with its 95 % interval, the p-value of a two-sided test
//! (Mann–Whitney U, or Welch's t), its q-value (Benjamini–Hochberg over
//! every figure tested in the comparison: the false discoveries among the
//! rows called changed are held at 5 %) and a verdict on q at α = 0.05 —
//! `~` (no significant change), `better`/`worse` (the direction from the
//! unit: time lower, rate higher), `changed` (the unit does not say, or
//! the figure is a spread: a smaller stddev is not better in itself).
//! Counts of what was measured (`n`, `count`, `intervals`, …) are shown,
//! not tested. A trial is one value per figure: its change is given, its
//! noise is not. Rows are matched by their text cells, and a series' by
//! its point's vars.

use std::path::Path;

use super::tables::gather;
use super::{SeriesFile, is_series_id};
use crate::stats::{Change, TestKind};
use crate::table::Csv;

/// The significance of every verdict.
pub const ALPHA: f64 = 0.05;

/// One figure of one row in A and B.
#[derive(Debug, Clone)]
pub struct Delta {
    pub table: String,
    /// The row: series vars and text cells, by column.
    pub keys: Vec<(String, String)>,
    pub figure: String,
    pub a: Vec<f64>,
    pub b: Vec<f64>,
    pub change: Option<Change>,
    /// Whether the figure is tested (a count of what was measured is not).
    pub tested: bool,
    /// The p-value adjusted for every figure tested in the comparison.
    pub q: Option<f64>,
    /// `~`, `better`, `worse`, `changed`, `1 trial: noise not estimated`,
    /// `only in A`, `only in B`, `not tested (a count)`.
    pub verdict: String,
}

/// What a figure is, by its name: a count of what was measured (shown,
/// not tested), a spread (no better or worse), or a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Count,
    Spread,
    Figure,
}

pub fn kind_of(figure: &str) -> Kind {
    let base = figure.split(" (").next().unwrap_or(figure).trim();
    match base {
        "n" | "count" | "intervals" | "missing" | "jobs" | "clients" | "threads" | "streams" => {
            Kind::Count
        }
        b if b.contains("stddev") => Kind::Spread,
        _ => Kind::Figure,
    }
}

/// Every figure's values: (row keys, figure) → values, in table order.
type Samples = Vec<(Vec<(String, String)>, String, Vec<f64>)>;

/// Table `name` of the trial or series in `dir`.
pub(crate) fn samples(dir: &Path, name: &str) -> Option<Samples> {
    let id = dir.file_name()?.to_string_lossy().into_owned();
    if !is_series_id(&id) {
        let csv = Csv::read(&dir.join("analysis").join(format!("{name}.csv"))).ok()?;
        return Some(
            csv.split()
                .into_iter()
                .flat_map(|(keys, figures)| {
                    figures
                        .into_iter()
                        .map(move |(f, v)| (keys.clone(), f, v.into_iter().collect()))
                })
                .collect(),
        );
    }
    let file = SeriesFile::read(dir).ok()?;
    let inputs = file.inputs(dir.parent()?);
    let g = gather(name, &inputs);
    if g.entries.is_empty() {
        return None;
    }
    Some(
        g.entries
            .into_iter()
            .map(|(pi, keys, figure, values)| {
                let mut all: Vec<(String, String)> = file
                    .vars
                    .iter()
                    .map(|v| {
                        let cell = super::tables::var_cell(inputs[pi].vars, v);
                        (v.clone(), cell)
                    })
                    .collect();
                all.extend(keys);
                (all, figure, values.into_iter().flatten().collect())
            })
            .collect(),
    )
}

/// Which way is better, per table and column, where the analysis says
/// (the csv parser's `better`); else the unit says.
pub type Ways =
    std::collections::HashMap<String, std::collections::HashMap<String, crate::units::Better>>;

/// The deltas of every table of `tables` that A or B has.
pub fn deltas(tables: &[String], a: &Path, b: &Path, test: TestKind, ways: &Ways) -> Vec<Delta> {
    let mut out = Vec::new();
    for t in tables {
        let (sa, sb) = (samples(a, t), samples(b, t));
        if sa.is_none() && sb.is_none() {
            continue;
        }
        let (sa, sb) = (sa.unwrap_or_default(), sb.unwrap_or_default());
        let mut seen: Vec<(Vec<(String, String)>, String)> = Vec::new();
        for (keys, figure, _) in sa.iter().chain(&sb) {
            if !seen.iter().any(|(k, f)| k == keys && f == figure) {
                seen.push((keys.clone(), figure.clone()));
            }
        }
        let find = |s: &Samples, k: &Vec<(String, String)>, f: &str| {
            s.iter()
                .find(|(kk, ff, _)| kk == k && ff == f)
                .map(|x| x.2.clone())
        };
        for (keys, figure) in seen {
            let (va, vb) = (find(&sa, &keys, &figure), find(&sb, &keys, &figure));
            let (va, vb) = (va.unwrap_or_default(), vb.unwrap_or_default());
            if va.is_empty() && vb.is_empty() {
                continue;
            }
            let change = crate::stats::change(&va, &vb, test);
            out.push(Delta {
                table: t.clone(),
                tested: kind_of(&figure) != Kind::Count,
                keys,
                figure,
                a: va,
                b: vb,
                change,
                q: None,
                verdict: String::new(),
            });
        }
    }
    judge(&mut out, ways);
    out
}

/// The q-values of the tested figures, and every verdict.
fn judge(deltas: &mut [Delta], ways: &Ways) {
    let tested: Vec<usize> = (0..deltas.len())
        .filter(|&i| deltas[i].tested && deltas[i].change.as_ref().is_some_and(|c| c.p.is_some()))
        .collect();
    let ps: Vec<f64> = tested
        .iter()
        .filter_map(|&i| deltas[i].change.as_ref().and_then(|c| c.p))
        .collect();
    for (&i, q) in tested.iter().zip(crate::stats::q_values(&ps)) {
        deltas[i].q = Some(q);
    }
    for d in deltas.iter_mut() {
        let said = ways.get(&d.table).and_then(|w| {
            let column = d
                .keys
                .iter()
                .find(|(k, _)| k == "column")
                .map(|(_, v)| v.as_str());
            [Some(d.figure.as_str()), column]
                .into_iter()
                .flatten()
                .find_map(|f| w.get(&crate::table::Header::parse(f).name).copied())
        });
        let better = match kind_of(&d.figure) {
            Kind::Figure => said.or_else(|| better(&d.keys, &d.figure)),
            Kind::Spread | Kind::Count => None,
        };
        d.verdict = match &d.change {
            Some(_) if !d.tested => "not tested (a count)".into(),
            Some(c) => crate::stats::verdict(c, d.q.or(c.p), ALPHA, better).to_string(),
            None if d.a.is_empty() => "only in B".into(),
            None => "only in A".into(),
        };
    }
}

/// How many figures were tested, and how many came out each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub tested: usize,
    pub better: usize,
    pub worse: usize,
    pub changed: usize,
}

pub fn tally(deltas: &[Delta]) -> Tally {
    let mut t = Tally::default();
    for d in deltas.iter().filter(|d| d.q.is_some()) {
        t.tested += 1;
        match d.verdict.as_str() {
            "better" => t.better += 1,
            "worse" => t.worse += 1,
            "changed" => t.changed += 1,
            _ => {}
        }
    }
    t
}

/// Which way is better for a figure, from its unit.
pub(crate) fn better(keys: &[(String, String)], figure: &str) -> Option<crate::units::Better> {
    let u = super::tables::unit_for(keys, figure);
    crate::units::better_of((!u.is_empty()).then_some(u.as_str()))
}

/// The rows' key columns of `deltas`, in first-seen order.
pub fn key_columns(deltas: &[Delta]) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    for d in deltas {
        for (k, _) in &d.keys {
            if !cols.contains(k) {
                cols.push(k.clone());
            }
        }
    }
    cols
}

/// A note when some figure has too few trials a side for the U test to
/// call any change significant at α.
pub fn too_few(deltas: &[Delta], test: TestKind) -> Option<String> {
    if test != TestKind::UTest {
        return None;
    }
    // Only where it matters: a change the test did not call significant.
    let worst = deltas
        .iter()
        .filter(|d| d.a.len() > 1 && d.b.len() > 1)
        .filter(|d| {
            d.change
                .as_ref()
                .and_then(|c| c.p)
                .is_none_or(|p| p >= ALPHA)
        })
        .map(|d| (d.a.len(), d.b.len()))
        .find(|&(a, b)| crate::stats::smallest_u_p(a, b) >= ALPHA)?;
    Some(format!(
        "With {} and {} trials a side, the U test's smallest p-value is {:.3}: it cannot call a change significant at α = {ALPHA}. Repeat at least 4 times a side (smallest p 0.029), or use --test welch.",
        worst.0,
        worst.1,
        crate::stats::smallest_u_p(worst.0, worst.1)
    ))
}
