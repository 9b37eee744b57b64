//! `[[analyze]]` sections run on a trial's folder: files chosen by glob,
//! grouped into rows by host / test / file, cut by test windows where the
//! output spans tests, written as `analysis/<name>.<format>`.

use std::path::{Path, PathBuf};

use super::Trial;
use crate::analyze::{self, Group, Options};
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::plan::model::{Analysis, By};
use crate::render;

/// What analysing a trial wrote and found.
#[derive(Debug, Default)]
pub struct Written {
    pub tables: Vec<PathBuf>,
    /// Every input was read and no row reports an error.
    pub ok: bool,
    /// Problems to name in the summary: unreadable inputs, error rows
    /// (an iperf3 run that failed), globs that matched nothing.
    pub problems: Vec<String>,
    /// What the reader is told as it happens (`error: …`, `warning: …`
    /// lines): the caller writes them, or sends them to the reporter.
    pub warnings: Vec<String>,
}

/// Runs every `[[analyze]]` of `plan` on the trial in `dir` (the tables are
/// written even when some input could not be read).
pub fn run_all(plan: &Plan, dir: &Path, trial: &Trial) -> Result<Written> {
    let mut all = Written {
        ok: true,
        ..Written::default()
    };
    for a in &plan.analyses {
        let w = run_one(plan, a, dir, trial)?;
        all.ok &= w.ok;
        all.tables.extend(w.tables);
        all.problems.extend(w.problems);
        all.warnings.extend(w.warnings);
    }
    Ok(all)
}

/// One `[[analyze]]` on the trial in `dir`: `analysis/<name>.<format>` and
/// `analysis/<name>.sources.txt`.
pub fn run_one(plan: &Plan, a: &Analysis, dir: &Path, trial: &Trial) -> Result<Written> {
    let mut written = Written {
        ok: true,
        ..Written::default()
    };
    let files = super::matching_files(dir, &a.files)?;
    if files.is_empty() {
        let problem = format!(
            "analysis `{}`: no file in {} matches {}",
            a.name,
            dir.display(),
            a.files
                .iter()
                .map(|g| format!("`{g}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        written.warnings.push(format!("error: {problem}"));
        written.problems.push(problem);
        written.ok = false;
        return Ok(written);
    }
    let cut_by_windows = cut_by_windows(a, &files, trial);
    let opts = Options {
        windows: if cut_by_windows {
            trial.windows()
        } else {
            Vec::new()
        },
        ..a.options.clone()
    };
    let groups = groups(a, dir, &files, trial, cut_by_windows);
    let outcome = analyze::analyze(a.parser, &groups, &opts);
    written.warnings.extend(outcome.lines());
    if !outcome.ok() {
        written.ok = false;
        // Say what it is: files that could not be read, or what the
        // request asks that the files do not give (a merge rule missing).
        let mut why: Vec<String> = Vec::new();
        if !outcome.errors.is_empty() {
            why.push(format!(
                "{} input(s) could not be read",
                outcome.errors.len()
            ));
        }
        why.extend(outcome.problems.iter().cloned());
        written
            .problems
            .push(format!("analysis `{}`: {}", a.name, why.join("; ")));
    }
    let Some(mut table) = outcome.table else {
        return Ok(written);
    };
    // A row that reports an error (iperf3's `error`) fails the trial's analysis.
    let errors = error_rows(&table);
    if !errors.is_empty() {
        written.ok = false;
        written.problems.extend(
            errors
                .into_iter()
                .map(|e| format!("analysis `{}`: {e}", a.name)),
        );
    }
    table.title = format!("{} — {}", a.name, table.title);
    table.notes.insert(
        0,
        format!(
            "Trial {} of plan `{}` ({}).",
            trial.trial,
            plan.name,
            dir.display()
        ),
    );
    written.tables = write_tables(a, &table, dir)?;
    Ok(written)
}

/// The rows (groups of files) analysis `a` makes of the trial in `dir`.
pub fn groups_of(a: &Analysis, dir: &Path, trial: &Trial) -> Result<Vec<Group>> {
    let files = super::matching_files(dir, &a.files)?;
    let cut = cut_by_windows(a, &files, trial);
    Ok(groups(a, dir, &files, trial, cut))
}

/// `by = ["test"]`: files under a test's folder (`<host>/<test>/…`) belong
/// to that test; output that spans tests (a monitor's dstat, an iperf
/// server's log) is cut by the tests' windows instead.
fn cut_by_windows(a: &Analysis, files: &[PathBuf], trial: &Trial) -> bool {
    let is_test = |rel: &Path| {
        let parts: Vec<_> = rel.iter().collect();
        parts.len() > 2
            && trial
                .tests
                .iter()
                .any(|t| parts[1].to_string_lossy() == t.name)
    };
    a.by.contains(&By::Test) && (a.parser.decl().spans_tests || !files.iter().any(|f| is_test(f)))
}

/// Rows: one per distinct (by…) key, in the order the files sort.
fn groups(
    a: &Analysis,
    dir: &Path,
    files: &[PathBuf],
    trial: &Trial,
    cut_by_windows: bool,
) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for rel in files {
        let parts: Vec<String> = rel
            .iter()
            .map(|c| c.to_string_lossy().to_string())
            .collect();
        let host = trial.host_of_dir(&parts[0]);
        let test = if parts.len() > 2 {
            parts[1].clone()
        } else {
            "-".to_string()
        };
        let key: Vec<String> =
            a.by.iter()
                .filter_map(|b| match b {
                    By::Host => Some(host.clone()),
                    By::Test if cut_by_windows => None,
                    By::Test => Some(test.clone()),
                    By::File => Some(rel.display().to_string()),
                })
                .collect();
        let label = if key.is_empty() {
            "all files".to_string()
        } else {
            key.join(" / ")
        };
        let path = dir.join(rel);
        match groups.iter_mut().find(|g| g.label == label) {
            Some(g) => g.files.push(path),
            None => groups.push(Group {
                label,
                files: vec![path],
            }),
        }
    }
    groups
}

/// The table in each of the analysis's formats; CSV stays plain RFC 4180,
/// and what it was computed from is written beside it. A project's own
/// `analysis/` templates override the built-in ones.
pub fn write_tables(a: &Analysis, table: &crate::table::Table, dir: &Path) -> Result<Vec<PathBuf>> {
    write_tables_as(a, &a.name, table, dir)
}

/// `table` in `a`'s formats as `analysis/<stem>.<format>` under `dir`.
pub fn write_tables_as(
    a: &Analysis,
    stem: &str,
    table: &crate::table::Table,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let out_dir = dir.join("analysis");
    fs_err::create_dir_all(&out_dir)?;
    let mut paths = Vec::new();
    for format in &a.formats {
        let overrides = Path::new(crate::paths::TABLE_TEMPLATES);
        let text = render::render(table, *format, Some(overrides)).map_err(Error::msg)?;
        let path = out_dir.join(format!("{stem}.{}", format.extension()));
        crate::state::write_atomic(&path, text.as_bytes())?;
        paths.push(path);
    }
    let sources = out_dir.join(format!("{stem}.sources.txt"));
    crate::state::write_atomic(&sources, format!("{}\n", table.notes.join("\n")).as_bytes())?;
    Ok(paths)
}

/// Rows that report an error (iperf3's `error` column), as `source: error`.
pub fn error_rows(table: &crate::table::Table) -> Vec<String> {
    let Some(col) = table.columns.iter().position(|c| c.name == "error") else {
        return Vec::new();
    };
    table
        .rows
        .iter()
        .filter_map(|row| match (row.first(), row.get(col)) {
            (Some(crate::table::Cell::Text(source)), Some(crate::table::Cell::Text(e))) => {
                Some(format!("{source}: {e}"))
            }
            _ => None,
        })
        .collect()
}
