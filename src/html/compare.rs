//! `runner report PLAN --compare A B`: every figure of every analysis table
//! of trial A beside trial B's, with the change in %, as CSV, Markdown and
//! an HTML page (with both trials' latency spectra on one chart), written
//! to `trials/<plan>/<B>/analysis/compare-<A>/`. Rows are matched by their text
//! cells (test, host, source…); a row only one trial has is listed too.

use std::fmt::Write as _;

use minijinja::{Value, context};
use std::path::{Path, PathBuf};

use super::chart::{self, XAxis};
use crate::kinds::ParserKind;
use crate::plan::Plan;

/// One figure in both trials.
pub struct Delta {
    pub table: String,
    pub row: String,
    pub column: String,
    pub a: Option<f64>,
    pub b: Option<f64>,
}

impl Delta {
    /// (B − A) / |A| in %, when both are there and A is not zero.
    pub fn change(&self) -> Option<f64> {
        match (self.a, self.b) {
            (Some(a), Some(b)) if a != 0.0 => Some((b - a) / a.abs() * 100.0),
            _ => None,
        }
    }
}

struct Csv {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn read(path: &Path) -> Option<Csv> {
    let mut r = csv::Reader::from_path(path).ok()?;
    let headers = r.headers().ok()?.iter().map(str::to_string).collect();
    let rows = r
        .records()
        .filter_map(Result::ok)
        .map(|rec| rec.iter().map(str::to_string).collect())
        .collect();
    Some(Csv { headers, rows })
}

impl Csv {
    fn text_columns(&self) -> Vec<usize> {
        (0..self.headers.len())
            .filter(|&i| {
                self.rows.iter().any(|r| {
                    r.get(i)
                        .is_some_and(|c| !c.is_empty() && c.parse::<f64>().is_err())
                })
            })
            .collect()
    }
}

/// The deltas of every table both trials have.
pub fn deltas(plan: &Plan, a: &Path, b: &Path) -> Vec<Delta> {
    let mut out = Vec::new();
    for an in &plan.analyses {
        let file = format!("analysis/{}.csv", an.name);
        let (ta, tb) = match (read(&a.join(&file)), read(&b.join(&file))) {
            (Some(ta), Some(tb)) => (ta, tb),
            (None, None) => continue,
            // Said, not dropped.
            (ta, _) => {
                out.push(Delta {
                    table: an.name.clone(),
                    row: "(the whole table)".into(),
                    column: format!(
                        "only in trial {}",
                        if ta.is_some() { id_of(a) } else { id_of(b) }
                    ),
                    a: None,
                    b: None,
                });
                continue;
            }
        };
        let text: Vec<usize> = {
            let mut t = ta.text_columns();
            for i in tb.text_columns() {
                if !t.contains(&i) {
                    t.push(i);
                }
            }
            t
        };
        let key = |headers: &[String], r: &[String]| {
            text.iter()
                .map(|&i| {
                    format!(
                        "{}={}",
                        headers.get(i).map_or("", String::as_str),
                        r.get(i).map_or("", String::as_str)
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut keys: Vec<String> = ta.rows.iter().map(|r| key(&ta.headers, r)).collect();
        for r in &tb.rows {
            let k = key(&tb.headers, r);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        for k in keys {
            let ra = ta.rows.iter().find(|r| key(&ta.headers, r) == k);
            let rb = tb.rows.iter().find(|r| key(&tb.headers, r) == k);
            for (i, col) in ta.headers.iter().enumerate() {
                if text.contains(&i) {
                    continue;
                }
                let j = tb.headers.iter().position(|h| h == col);
                let va = ra
                    .and_then(|r| r.get(i))
                    .and_then(|v| v.parse::<f64>().ok());
                let vb = rb
                    .and_then(|r| r.get(j?))
                    .and_then(|v| v.parse::<f64>().ok());
                if va.is_none() && vb.is_none() {
                    continue;
                }
                out.push(Delta {
                    table: an.name.clone(),
                    row: k.clone(),
                    column: col.clone(),
                    a: va,
                    b: vb,
                });
            }
        }
    }
    out
}

fn id_of(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| {
        if v.fract() == 0.0 && v.abs() < 1e15 {
            format!("{v:.0}")
        } else {
            format!("{v:.4}")
        }
    })
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(String::new, |p| format!("{p:+.2}"))
}

/// Writes the comparison; its folder.
pub fn write(plan: &Plan, trials: &Path, a: &str, b: &str) -> Result<PathBuf, String> {
    let (da, db) = (trials.join(a), trials.join(b));
    for (id, d) in [(a, &da), (b, &db)] {
        if !d.join("trial.json").is_file() {
            return Err(format!(
                "no trial `{id}` under {}",
                crate::paths::shown(trials)
            ));
        }
    }
    let deltas = deltas(plan, &da, &db);
    // Beside trial B's own tables: the comparison is B's, against A.
    let out = trials.join(b).join("analysis").join(format!("compare-{a}"));
    fs_err::create_dir_all(&out).map_err(|e| e.to_string())?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let head = ["table", "row", "column", a, b, "change %"];
    w.write_record(head).map_err(|e| e.to_string())?;
    let mut md =
        format!("| table | row | column | {a} | {b} | change % |\n|---|---|---|---:|---:|---:|\n");
    for d in &deltas {
        w.write_record([
            d.table.as_str(),
            d.row.as_str(),
            d.column.as_str(),
            &num(d.a),
            &num(d.b),
            &pct(d.change()),
        ])
        .map_err(|e| e.to_string())?;
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            d.table,
            d.row.replace('|', "\\|"),
            d.column,
            num(d.a),
            num(d.b),
            pct(d.change())
        );
    }
    let _ = writeln!(
        md,
        "\nTrial {b} (B) against trial {a} (A); change = (B − A) / |A|. Written by runner {}.",
        env!("CARGO_PKG_VERSION")
    );
    let csv_bytes = w.into_inner().map_err(|e| e.to_string())?;
    crate::state::write_atomic(&out.join("delta.csv"), &csv_bytes).map_err(|e| e.to_string())?;
    crate::state::write_atomic(&out.join("delta.md"), md.as_bytes()).map_err(|e| e.to_string())?;
    let html = page(plan, a, b, &da, &db, &deltas).map_err(|e| e.to_string())?;
    crate::state::write_atomic(&out.join("report.html"), html.as_bytes())
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn page(
    plan: &Plan,
    a: &str,
    b: &str,
    da: &Path,
    db: &Path,
    deltas: &[Delta],
) -> crate::error::Result<String> {
    let mut tables = Vec::new();
    for an in &plan.analyses {
        let rows: Vec<Value> = deltas
            .iter()
            .filter(|d| d.table == an.name)
            .map(|d| {
                context! {
                    row => &d.row, column => &d.column,
                    a => num(d.a), b => num(d.b), change => pct(d.change()),
                }
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let chart = (an.parser == ParserKind::Hdr)
            .then(|| {
                let mut series = super::spectra(an, da, &format!("{a}: "));
                series.extend(super::spectra(an, db, &format!("{b}: ")));
                chart::lines(
                    &format!("{}: latency by percentile, both trials", an.name),
                    XAxis::Nines,
                    "latency (as logged)",
                    &series,
                    &[],
                    380,
                )
            })
            .flatten()
            .map(Value::from_safe_string);
        tables.push(context! { name => &an.name, rows, chart });
    }
    super::render("compare", context! { plan => &plan.name, a, b, tables })
}
