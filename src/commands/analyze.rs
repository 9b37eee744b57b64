//! `runner analyze PLAN [TRIAL|SERIES]`: the plan's `[[analyze]]` tables of a
//! trial (or a series), written to its `analysis/` folder.
//! `runner analyze --parser P [--by file] [--format F] FILE…`: one table
//! from the given files on stdout.
//! Unreadable files are listed on stderr and make the exit code 1; the
//! tables still show what could be read, and say what they left out.

use std::path::PathBuf;

use crate::analyze::{self, Group, Options, ParserKind};
use crate::cli::AnalyzeArgs;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::render::{self, Format};

pub fn run(a: AnalyzeArgs) -> Result<Exit> {
    if a.parsers {
        crate::out::out!("{}", parsers());
        return Ok(Exit::Success);
    }
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
        windows,
        ..options(kind, &a)?
    };
    let groups = if by_file {
        Group::each(&a.args)
    } else {
        Group::all(&a.args)
    };
    let outcome = analyze::analyze(kind, &groups, &opts);
    for line in outcome.lines() {
        crate::out::errln!("{line}");
    }
    if let Some(table) = &outcome.table {
        let overrides = std::path::Path::new(crate::paths::TABLE_TEMPLATES);
        let text = render::render(table, format, Some(overrides)).map_err(Error::msg)?;
        crate::out::out!("{text}");
        if format == Format::Csv {
            for n in &table.notes {
                crate::out::errln!("# {n}");
            }
        }
    }
    let error_rows = outcome
        .table
        .as_ref()
        .map(crate::trial::analysis::error_rows)
        .unwrap_or_default();
    for e in &error_rows {
        crate::out::errln!("error: {}", crate::style::escape_controls(e));
    }
    if outcome.errors.is_empty() {
        Ok(if outcome.ok() && error_rows.is_empty() {
            Exit::Success
        } else {
            Exit::Failure
        })
    } else {
        crate::out::errln!(
            "error: {} of {} files could not be analysed (listed above); the table leaves them out",
            outcome.errors.len(),
            a.args.len()
        );
        Ok(Exit::Failure)
    }
}

/// Every parser, what it reads and its options, from their declarations.
fn parsers() -> String {
    let mut text = String::new();
    for p in ParserKind::all() {
        let d = p.decl();
        let aliases = if d.aliases.is_empty() {
            String::new()
        } else {
            format!(" (also {})", d.aliases.join(", "))
        };
        text.push_str(&format!("{}{aliases}: {}\n", d.name, d.reads));
        for o in d.options {
            text.push_str(&format!("    {}: {}\n", o.name, o.help));
        }
    }
    text
}

/// The parser's options from the command line: the named flags and each
/// `--set NAME=VALUE`, of the shape the parser declares, then checked by
/// the parser itself.
fn options(kind: ParserKind, a: &AnalyzeArgs) -> Result<Options> {
    // `--unit tps=1/s`: a csv column's unit, not a log's.
    let (unit, units) = match &a.unit {
        Some(u) if u.contains('=') => (None, Some(u.clone())),
        u => (u.clone(), None),
    };
    let named = [
        ("unit", &unit),
        ("units", &units),
        ("tag", &a.tag),
        ("columns", &a.columns),
        ("key", &a.key),
        ("merge", &a.merge),
        ("percentiles", &a.percentiles),
    ];
    let mut given: Vec<(String, String)> = named
        .into_iter()
        .filter_map(|(n, v)| Some((n.to_string(), v.clone()?)))
        .collect();
    for s in &a.set {
        let (n, v) = s.split_once('=').ok_or_else(|| {
            Error::msg(format!("--set `{s}`: expected OPTION=VALUE"))
                .help("for example `--set percentiles=50,99`")
        })?;
        given.push((n.trim().to_string(), v.to_string()));
    }
    let mut opts = Options::default();
    for (name, text) in given {
        let Some(decl) = kind.option(&name) else {
            let takes: Vec<String> = kind
                .decl()
                .options
                .iter()
                .map(|o| format!("`{}`", o.name))
                .collect();
            return Err(
                Error::msg(format!("parser `{}` takes no option `{name}`", kind.name())).help(
                    if takes.is_empty() {
                        "it takes no options: remove it".to_string()
                    } else {
                        format!("it takes {}", takes.join(", "))
                    },
                ),
            );
        };
        let value = decl
            .kind
            .of_text(&text)
            .map_err(|e| Error::msg(format!("`{name}`: {e}")).help(decl.help))?;
        opts.values.insert(name, value);
    }
    if let Some(r) = kind.parser().check(&opts).into_iter().next() {
        return Err(Error::msg(format!("{} (--{})", r.message, r.option)).help(r.help));
    }
    Ok(opts)
}

/// `runner analyze PLAN [TRIAL]`.
fn run_plan(args: &[PathBuf]) -> Result<Exit> {
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
    let (plan, _) = crate::plan::load(plan_path, &base)
        .map_err(|e| Error::from(e).outcome("no table was written"))?;
    if plan.analyses.is_empty() {
        return Err(Error::msg(format!("plan `{}` has no `[[analyze]]` sections", plan.name))
            .help("add one, e.g. `[[analyze]] name = \"throughput\" parser = \"iperf3\" files = \"*/tcp/stdout\"`"));
    }
    // Writing tables into a trial: one writer at a time, as for apply.
    let paths = crate::paths::Paths::here(&plan.name);
    let _lock = crate::state::lock::Lock::acquire(&paths.lock(), "analysed")?;
    let latest_series = (trial_id.is_none() && plan.series.is_some())
        .then(|| crate::series::find(&plan.name, None).map(|(_, f)| f.series))
        .transpose()?;
    if let Some(id) = trial_id
        .as_deref()
        .filter(|id| crate::series::is_series_id(id))
        .or(latest_series.as_deref())
    {
        let (dir, _) = crate::series::find(&plan.name, Some(id))?;
        for a in &plan.analyses {
            let written = crate::series::analysis::run_one(&plan, a, &dir)?;
            for w in &written.warnings {
                crate::out::errln!("{w}");
            }
            for t in &written.tables {
                crate::out::errln!("wrote {}", crate::paths::shown(t));
            }
        }
        return Ok(Exit::Success);
    }
    let (dir, trial) = crate::trial::find(&plan.name, trial_id.as_deref())?;
    let written = crate::trial::analysis::run_all(&plan, &dir, &trial)?;
    for w in &written.warnings {
        crate::out::errln!("{w}");
    }
    for t in &written.tables {
        crate::out::errln!("wrote {}", crate::paths::shown(t));
    }
    for p in &written.problems {
        crate::out::errln!("error: {}", crate::style::escape_controls(p));
    }
    Ok(if written.ok {
        Exit::Success
    } else {
        Exit::Failure
    })
}
