//! `runner analyze PLAN [TRIAL]`: the plan's `[[analyze]]` tables of a trial,
//! written to `trials/<plan>/<trial>/analysis/`.
//! `runner analyze --parser P [--by file] [--format F] FILE…`: one table
//! from the given files on stdout.
//! Unreadable files are listed on stderr and make the exit code 1; the
//! tables still show what could be read, and say what they left out.

use std::path::PathBuf;

use crate::analyze::{self, Group, Options, ParserKind, hdr::TagFilter};
use crate::cli::AnalyzeArgs;
use crate::error::{Error, Result};
use crate::render::{self, Format};

pub fn run(a: AnalyzeArgs) -> Result<i32> {
    let Some(kind) = a.parser else {
        return run_plan(&a.args);
    };
    let format = a.format;
    let by_file = a.by == Some(crate::cli::By::File);
    if a.args.is_empty() {
        return Err(Error::msg("no files to analyse")
            .help("name the files: `runner analyze --parser hdr a.hlog b.hlog`"));
    }
    let windows = match &a.windows {
        Some(p) => analyze::read_windows(p).map_err(|e| Error::msg(e.to_string()))?,
        None => Vec::new(),
    };
    let opts = Options {
        tag: TagFilter::parse(&a.tag),
        unit: a.unit,
        columns: a.columns,
        windows,
    };
    let groups = if by_file {
        Group::each(&a.args)
    } else {
        Group::all(&a.args)
    };
    let outcome = analyze::analyze(kind, &groups, &opts);
    outcome.print();
    if let Some(table) = &outcome.table {
        let overrides = std::path::Path::new("analysis");
        let text = render::render(table, format, Some(overrides)).map_err(Error::msg)?;
        crate::out::out!("{text}");
        if format == Format::Csv {
            for n in &table.notes {
                eprintln!("# {n}");
            }
        }
    }
    if outcome.errors.is_empty() {
        Ok(if outcome.ok() { 0 } else { 1 })
    } else {
        eprintln!(
            "error: {} of {} files could not be analysed (listed above); the table leaves them out",
            outcome.errors.len(),
            a.args.len()
        );
        Ok(1)
    }
}

/// `runner analyze PLAN [TRIAL]`.
fn run_plan(args: &[PathBuf]) -> Result<i32> {
    let (plan_path, trial_id) = match args {
        [plan] => (plan, None),
        [plan, trial] => (plan, Some(trial.to_string_lossy().to_string())),
        _ => {
            return Err(Error::msg(
                "expected `runner analyze PLAN [TRIAL]` or `runner analyze --parser P FILE…`",
            )
            .help("to analyse files without a plan, give --parser"));
        }
    };
    let base = std::env::current_dir()?;
    let (plan, _) = crate::plan::load(plan_path, &base)?;
    if plan.analyses.is_empty() {
        return Err(Error::msg(format!("plan `{}` has no `[[analyze]]` sections", plan.name))
            .help("add one, e.g. `[[analyze]] name = \"throughput\" parser = \"iperf3\" files = \"*/tcp/stdout\"`"));
    }
    let (dir, trial) = crate::trial::find(&plan.name, trial_id.as_deref())?;
    let written = run_analyses(&plan, &dir, &trial)?;
    Ok(if written { 0 } else { 1 })
}

/// Runs every `[[analyze]]` of `plan` on the trial in `dir`; false when any
/// input could not be read (the tables are written all the same).
pub fn run_analyses(
    plan: &crate::plan::Plan,
    dir: &std::path::Path,
    trial: &crate::trial::Trial,
) -> Result<bool> {
    use crate::plan::model::By;
    let out_dir = dir.join("analysis");
    fs_err::create_dir_all(&out_dir)?;
    let overrides = std::path::Path::new("analysis");
    let mut all_ok = true;
    for a in &plan.analyses {
        let files = crate::trial::matching_files(dir, &a.files)?;
        if files.is_empty() {
            eprintln!(
                "error: analysis `{}`: no file in {} matches {}",
                a.name,
                dir.display(),
                a.files
                    .iter()
                    .map(|g| format!("`{g}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            all_ok = false;
            continue;
        }
        // `by = ["test"]`: files under a test's folder (`<host>/<test>/…`) belong to
        // that test; output that spans tests (a monitor's dstat, an iperf server's
        // log) is cut by the tests' windows instead.
        let is_test = |rel: &std::path::Path| {
            let parts: Vec<_> = rel.iter().collect();
            parts.len() > 2
                && trial
                    .tests
                    .iter()
                    .any(|t| parts[1].to_string_lossy() == t.name)
        };
        let cut_by_windows = a.by.contains(&By::Test)
            && (a.parser == ParserKind::Dstat || !files.iter().any(|f| is_test(f)));
        // Rows: one per distinct (by…) key, in the order the files sort.
        let mut groups: Vec<Group> = Vec::new();
        for rel in &files {
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
            let mut key = Vec::new();
            for b in &a.by {
                match b {
                    By::Host => key.push(host.clone()),
                    By::Test if cut_by_windows => {}
                    By::Test => key.push(test.clone()),
                    By::File => key.push(rel.display().to_string()),
                }
            }
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
        let windows = if cut_by_windows {
            trial.windows()
        } else {
            Vec::new()
        };
        let opts = Options {
            tag: TagFilter::parse(&a.tag),
            unit: a.unit.clone(),
            columns: a.columns.clone(),
            windows,
        };
        let outcome = analyze::analyze(a.parser, &groups, &opts);
        outcome.print();
        all_ok &= outcome.ok();
        let Some(mut table) = outcome.table else {
            continue;
        };
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
        for format in &a.formats {
            let text = render::render(&table, *format, Some(overrides)).map_err(Error::msg)?;
            let path = out_dir.join(format!("{}.{}", a.name, format.extension()));
            crate::state::write_atomic(&path, text.as_bytes())?;
            eprintln!("wrote {}", path.display());
        }
        // CSV stays plain RFC 4180; what it was computed from is written beside it.
        let sources = out_dir.join(format!("{}.sources.txt", a.name));
        crate::state::write_atomic(&sources, format!("{}\n", table.notes.join("\n")).as_bytes())?;
    }
    Ok(all_ok)
}
