//! `trials/<plan>/index.html`: every trial and series of the plan, newest
//! first — id, label, time, status, checks, each analysis' headline figure
//! — each linked to its report: the reports server without a server.
//! Written by every apply and by `runner report PLAN --index`;
//! self-contained like report.html.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::history::esc;
use crate::history::Run;

/// Writes the index of the runs under `trials`; its path.
pub fn write(plan: &str, trials: &Path) -> std::io::Result<PathBuf> {
    let runs = crate::history::runs(trials);
    let path = trials.join("index.html");
    crate::state::write_atomic(&path, page(plan, &runs).as_bytes())
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(path)
}

fn page(plan: &str, runs: &[Run]) -> String {
    let mut rows = String::new();
    for r in runs.iter().rev() {
        let id = if r.dir.join("report.html").is_file() {
            format!("<a href=\"{0}/report.html\">{0}</a>", esc(&r.id))
        } else {
            esc(&r.id)
        };
        let _ = write!(
            rows,
            "<tr><td>{id}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.label),
            if r.series { "series" } else { "trial" },
            esc(&time_of(&r.id)),
            esc(&r.status),
            esc(&checks(&r.dir)),
            headlines(&r.dir)
        );
    }
    let history = if Path::new(&runs.first().map(|r| r.dir.clone()).unwrap_or_default())
        .parent()
        .is_some_and(|t| t.join("history.html").is_file())
    {
        " <a href=\"history.html\">History and change points</a>."
    } else {
        ""
    };
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{p} — trials</title><style>{CSS}</style></head><body><h1>{p} — every trial and series</h1><p>{} runs, newest first; each id opens its report.{history}</p><table><tr><th>id</th><th>label</th><th>kind</th><th>time (UTC)</th><th>status</th><th>checks</th><th>headline figures</th></tr>{rows}</table></body></html>\n",
        runs.len(),
        p = esc(plan)
    )
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}td:last-child{font-size:.9em}";

/// `20261206T061227Z` (or `series-…`) → `2026-12-06 06:12:27`.
fn time_of(id: &str) -> String {
    let t = id.strip_prefix(crate::series::PREFIX).unwrap_or(id);
    let d: Vec<char> = t.chars().collect();
    if d.len() < 15 || d[8] != 'T' {
        return String::new();
    }
    let s = |a: usize, b: usize| d[a..b].iter().collect::<String>();
    format!(
        "{}-{}-{} {}:{}:{}",
        s(0, 4),
        s(4, 6),
        s(6, 8),
        s(9, 11),
        s(11, 13),
        s(13, 15)
    )
}

/// `2 passed, 1 failed` from trial.json or series.json.
fn checks(dir: &Path) -> String {
    let results: Vec<crate::check::CheckResult> = crate::trial::Trial::read(dir)
        .map(|t| t.checks)
        .or_else(|_| crate::series::SeriesFile::read(dir).map(|f| f.checks))
        .unwrap_or_default();
    if results.is_empty() {
        return String::new();
    }
    let failed = results.iter().filter(|c| !c.passed).count();
    format!("{} passed, {failed} failed", results.len() - failed)
}

/// Each analysis table's first row (a series': of its first figure that is
/// not a count): its `mean` (else its first number), named by the row's
/// figure where the table has one.
fn headlines(dir: &Path) -> String {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir.join("analysis"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "csv")
                && p.file_stem()
                    .is_some_and(|s| !s.to_string_lossy().contains('.'))
        })
        .collect();
    names.sort();
    let mut out = Vec::new();
    for p in names {
        let Ok(mut r) = csv::Reader::from_path(&p) else {
            continue;
        };
        let Ok(h) = r.headers().cloned() else {
            continue;
        };
        // A series' long table: the first row of a figure, not a count (`n`).
        let figure = h.iter().position(|c| c == "figure");
        let row = r.records().flatten().find(|row| {
            figure.is_none_or(|i| {
                crate::series::compare::kind_of(row.get(i).unwrap_or(""))
                    != crate::series::compare::Kind::Count
            })
        });
        let Some(row) = row else {
            continue;
        };
        let numeric = |i: usize| {
            row.get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .map(|v| (i, v))
        };
        let pick = h
            .iter()
            .position(|c| c == "mean" || c.starts_with("mean "))
            .and_then(numeric)
            .or_else(|| (0..h.len()).find_map(numeric));
        if let Some((i, v)) = pick {
            let name = p
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            out.push(format!(
                "{}: {} = {}",
                esc(&name),
                esc(&h[i]),
                esc(&super::chart::si(v))
            ));
        }
    }
    out.join("<br>")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_read_as_times() {
        assert_eq!(super::time_of("20261206T061227Z"), "2026-12-06 06:12:27");
        assert_eq!(
            super::time_of("series-20261206T061227Z"),
            "2026-12-06 06:12:27"
        );
        assert_eq!(super::time_of("x"), "");
    }
}
