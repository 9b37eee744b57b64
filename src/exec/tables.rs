//! The nodes that work on the latest trial's files here, on blocking
//! threads: an `[[analyze]]` (its tables), the checks (into trial.json),
//! the HTML report (`report.html`, last).

use petgraph::graph::NodeIndex;

use super::{Cx, Done, Shared, Task};
use crate::error::{Error, Result};
use crate::graph::NodeKind;
use crate::state::Op;
use crate::trial::Trial;

pub(super) fn run(cx: Cx<'_>, node: NodeIndex, kind: NodeKind) -> Task {
    let record = super::series::trial_of(cx.graph, cx.state, node);
    let hash = cx.graph.dag[node].hash.clone();
    let id = cx.graph.dag[node].id.clone();
    let (shared, fail) = (cx.shared, cx.fail);
    Box::pin(async move {
        let done = tokio::task::spawn_blocking(move || {
            let record = record.ok_or_else(|| Error::msg("no trial to work on"))?;
            let op = Op::node(&id, hash, &record);
            match kind {
                NodeKind::Analyze { analysis } => analyze(&shared, analysis, &record, op),
                NodeKind::Checks => checks(&shared, &record, op),
                _ => html_report(&shared, &record, op),
            }
        })
        .await
        .map_err(|e| fail.with(e))?;
        done.map_err(|e| fail.with(e))
    })
}

/// An `[[analyze]]` node: its tables from the latest trial. Not recorded
/// when an input is bad: the plan shows it again until it is good.
fn analyze(shared: &Shared, index: usize, record: &str, op: Op) -> Result<Done> {
    let dir = shared.paths.trials().join(record);
    let trial = Trial::read(&dir)?;
    let a = &shared.plan.analyses[index];
    let written = crate::trial::analysis::run_one(&shared.plan, a, &dir, &trial)?;
    for w in &written.warnings {
        shared.say(w.clone());
    }
    let tables: Vec<String> = written
        .tables
        .iter()
        .map(|p| crate::paths::shown(p))
        .collect();
    if !written.ok {
        return Err(Error::msg(if tables.is_empty() {
            format!("{}; no table was written", written.problems.join("; "))
        } else {
            format!(
                "{}; tables written all the same: {}",
                written.problems.join("; "),
                tables.join(", ")
            )
        }));
    }
    Ok(Done::Summary {
        op,
        lines: vec![format!("analyze {}: {}", a.name, tables.join(", "))],
        failures: Vec::new(),
    })
}

/// Every `[[check]]` on the latest trial's tables, into its trial.json.
fn checks(shared: &Shared, record: &str, op: Op) -> Result<Done> {
    let dir = shared.paths.trials().join(record);
    let (_, results) = crate::trial::record_checks(&shared.plan, &dir, shared.baseline.as_deref())?;
    Ok(Done::checked(op, &results))
}

/// The latest trial's `report.html`.
fn html_report(shared: &Shared, record: &str, op: Op) -> Result<Done> {
    let dir = shared.paths.trials().join(record);
    let trial = Trial::read(&dir)?;
    let path = crate::html::write(&shared.plan, &dir, &trial)?;
    Ok(Done::Summary {
        op,
        lines: vec![format!("report: {}", crate::paths::shown(&path))],
        failures: Vec::new(),
    })
}
