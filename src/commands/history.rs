//! `runner history PLAN`: the plan's results over time and their change
//! points, as tables on stdout and `trials/<plan>/history.{html,csv}`;
//! `--changes` lists the change points only and exits 3 when one goes the
//! figure's bad way (after `--since`).

use crate::cli::HistoryArgs;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::history::{Ask, Figure, Run};
use crate::table::{Cell, Column, Table};

pub fn run(a: &HistoryArgs) -> Result<Exit> {
    let name = super::plan_name(&a.plan)?;
    let trials = crate::paths::trials_dir(&name);
    let runs = crate::history::runs(&trials);
    if runs.is_empty() {
        return Err(Error::msg(format!(
            "no trial or series of `{name}` under {}: `runner apply` runs one",
            crate::paths::shown(&trials)
        )));
    }
    let ask = ask(a)?;
    let figures = crate::history::figures(&runs, &ask);
    if figures.is_empty() {
        return Err(Error::msg(format!(
            "no figure of `{name}`'s {} matches --analysis/--figure/--row",
            crate::style::plural(runs.len(), "run")
        )));
    }
    let since = match &a.since {
        None => None,
        Some(l) => Some(since(&runs, l, &name, &a.plan)?),
    };
    let changes = changes_table(&runs, &figures, &ask, since);
    let show = |t: &Table| crate::render::render(t, a.format, None).map_err(Error::msg);
    if a.changes {
        crate::out::outln!("{}", show(&changes)?);
        let worse = figures
            .iter()
            .flat_map(|f| &f.changes)
            .any(|c| c.verdict == "worse" && since.is_none_or(|s| c.run > s));
        return Ok(if worse {
            Exit::ChecksFailed
        } else {
            Exit::Success
        });
    }
    let history = history_table(&runs, &figures);
    crate::out::outln!("{}\n{}", show(&history)?, show(&changes)?);
    // The files hold the whole history: a filtered view is not written.
    if !(a.analysis.is_empty() && a.figure.is_empty() && a.row.is_empty()) {
        crate::out::errln!(
            "history: filtered, so history.html and history.csv were left as they are"
        );
        return Ok(Exit::Success);
    }
    let csv =
        crate::render::render(&history, crate::kinds::Format::Csv, None).map_err(Error::msg)?;
    crate::state::write_atomic(&trials.join("history.csv"), csv.as_bytes())?;
    let page = crate::html::history::page(&name, &runs, &figures, &changes.notes);
    crate::state::write_atomic(&trials.join("history.html"), page.as_bytes())?;
    crate::out::errln!(
        "history: {} and history.csv",
        crate::paths::shown(&trials.join("history.html"))
    );
    Ok(Exit::Success)
}

/// The run `--since` names: by id, or by a label only one run has.
fn since(runs: &[Run], l: &str, name: &str, plan: &std::path::Path) -> Result<usize> {
    if let Some(i) = runs.iter().position(|r| r.id == l) {
        return Ok(i);
    }
    let labelled: Vec<usize> = (0..runs.len()).filter(|&i| runs[i].label == l).collect();
    match labelled[..] {
        [i] => Ok(i),
        [] => Err(Error::msg(format!(
            "--since {l}: no run of `{name}` has that label or id (`runner history {}` lists them)",
            plan.display()
        ))),
        _ => Err(Error::msg(format!(
            "--since {l}: runs {} have that label: give the id of the one you mean",
            labelled
                .iter()
                .map(|i| (i + 1).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn ask(a: &HistoryArgs) -> Result<Ask> {
    let rows = a
        .row
        .iter()
        .map(|r| {
            r.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| {
                    Error::msg(format!("--row {r}: expected KEY=VALUE (`host=server[0]`)"))
                })
        })
        .collect::<Result<Vec<_>>>()?;
    if !(0.0..1.0).contains(&a.pvalue) || a.permutations == 0 {
        return Err(Error::msg(
            "--pvalue must be in [0, 1) and --permutations at least 1".to_string(),
        ));
    }
    Ok(Ask {
        analyses: a.analysis.clone(),
        figures: a.figure.clone(),
        rows,
        pvalue: a.pvalue,
        permutations: a.permutations,
        seed: a.seed,
    })
}

fn history_table(runs: &[Run], figures: &[Figure]) -> Table {
    let mut rows = Vec::new();
    for f in figures {
        for &(i, mean, ci, n) in &f.points {
            let r = &runs[i];
            rows.push(vec![
                Cell::Int(i as i128 + 1),
                Cell::Text(r.label.clone()),
                Cell::Text(r.id.clone()),
                Cell::Text(r.status.clone()),
                Cell::Text(f.analysis.clone()),
                Cell::Text(f.row()),
                Cell::Text(f.figure.clone()),
                Cell::Float(mean),
                ci.map_or(Cell::Empty, |c| Cell::Float(c.0)),
                ci.map_or(Cell::Empty, |c| Cell::Float(c.1)),
                Cell::Int(n as i128),
            ]);
        }
    }
    Table {
        title: "history: each figure per run (a series: its mean and 95 % interval)".into(),
        columns: vec![
            Column::int("run", None),
            Column::text("label"),
            Column::text("id"),
            Column::text("status"),
            Column::text("analysis"),
            Column::text("row"),
            Column::text("figure"),
            Column::float("value", None, 3),
            Column::float("low", None, 3),
            Column::float("high", None, 3),
            Column::int("n", None),
        ],
        rows,
        notes: vec![format!(
            "{} in the order they ran: {}",
            crate::style::plural(runs.len(), "run"),
            runs.iter()
                .enumerate()
                .map(|(i, r)| format!("{} {}", i + 1, r.id))
                .collect::<Vec<_>>()
                .join(", ")
        )],
    }
}

fn changes_table(runs: &[Run], figures: &[Figure], ask: &Ask, since: Option<usize>) -> Table {
    let mut rows = Vec::new();
    for f in figures {
        for c in f.changes.iter().filter(|c| since.is_none_or(|s| c.run > s)) {
            rows.push(vec![
                Cell::Text(f.analysis.clone()),
                Cell::Text(f.row()),
                Cell::Text(f.figure.clone()),
                Cell::Int(c.run as i128 + 1),
                Cell::Text(runs[c.run].label.clone()),
                Cell::Float(c.before),
                Cell::Float(c.after),
                Cell::Float(c.percent()),
                Cell::Float(c.p),
                Cell::Text(c.verdict.to_string()),
            ]);
        }
    }
    Table {
        title: "change points".into(),
        columns: vec![
            Column::text("analysis"),
            Column::text("row"),
            Column::text("figure"),
            Column::int("run", None),
            Column::text("label"),
            Column::float("before", None, 3),
            Column::float("after", None, 3),
            Column::float("change", Some("%"), 1),
            Column::float("p", None, 4),
            Column::text("verdict"),
        ],
        rows,
        notes: vec![format!(
            "E-Divisive means (Matteson & James 2014) as signal-processing-algorithms 2.1.6 applies it: a change point where a permutation test gives p ≤ {} ({} permutations, seed {}); `run` is the first run after the change; before and after are the means of the segments either side{}",
            ask.pvalue,
            ask.permutations,
            ask.seed,
            since.map_or(String::new(), |s| format!(
                "; only changes after run {} ({})",
                s + 1,
                runs[s].label
            ))
        )],
    }
}
