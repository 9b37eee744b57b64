//! The series node (its folder and `series.json`, before its first trial)
//! and the series' own nodes after its last: tables over every trial of
//! each point, checks on them, the series' `report.html`. A series' trial
//! and its collects, analyses and report are the plain trial's nodes,
//! working on their slot's trial ([`trial_of`]).

use std::path::PathBuf;

use petgraph::graph::NodeIndex;

use super::{Cx, Done, Shared, Task};
use crate::error::{Error, Result};
use crate::graph::series::SeriesSpec;
use crate::graph::{Graph, NodeKind};
use crate::series::{PointEntry, SeriesFile};
use crate::state::{Op, SeriesRecord, State};
use crate::trial::TrialSeries;

/// Where slot `k`'s trial belongs in the series under way.
pub(super) fn placement(cx: &Cx<'_>, k: usize) -> Result<TrialSeries> {
    let spec = cx
        .graph
        .series()
        .ok_or_else(|| Error::msg("the plan has no series"))?;
    let slot = spec
        .slots
        .get(k)
        .ok_or_else(|| Error::msg("no such trial in the series"))?;
    let series = cx
        .state
        .series
        .as_ref()
        .ok_or_else(|| Error::msg("the series was not begun (its node did not run)"))?;
    let point = &spec.points[slot.point];
    Ok(TrialSeries {
        series: series.id.clone(),
        slot: slot.id.clone(),
        point: point.label.clone(),
        vars: point.vars.clone(),
        repetition: slot.repetition,
        warmup: slot.warmup,
    })
}

/// The trial a trial's node works on: its slot's, in a series; else the
/// latest trial.
pub(super) fn trial_of(graph: &Graph, state: &State, node: NodeIndex) -> Option<String> {
    match graph.dag[node].slot {
        Some(k) => {
            let slot = graph.series()?.slots.get(k)?;
            let done = state.series.as_ref()?.trials.get(&slot.id)?;
            Some(done.trial.clone())
        }
        None => state.trial.as_ref().map(|t| t.id.clone()),
    }
}

/// The series node: a new series (an id, its folder, `series.json`,
/// recorded), or the one under way, its `series.json` brought up to date
/// with the plan's points.
pub(super) fn start(cx: Cx<'_>) -> Task {
    let Some(spec) = cx.graph.series().cloned() else {
        let failure = cx.fail.with("the plan has no series");
        return Box::pin(async move { Err(failure) });
    };
    let fresh = cx.change.action == crate::diff::Action::Create;
    let mut record = if fresh {
        SeriesRecord {
            id: crate::series::new_id(&cx.shared.paths.name),
            seed: spec.seed,
            trials: Default::default(),
        }
    } else {
        cx.state.series.clone().unwrap_or_default()
    };
    // Trials no longer in the plan are forgotten (their folders stay).
    let before = record.trials.len();
    record.trials.retain(|id, _| spec.slot(id).is_some());
    let pruned = record.trials.len() < before;
    let plan = cx.shared.plan.clone();
    let trials = cx.shared.paths.trials();
    let label = cx.shared.label.clone();
    let fail = cx.fail;
    Box::pin(async move {
        let dir = trials.join(&record.id);
        let write = || -> Result<()> {
            fs_err::create_dir_all(&dir)?;
            let mut file = SeriesFile::read(&dir).unwrap_or_default();
            describe(&mut file, &plan, &spec, &record);
            if file.label.is_none() {
                file.label = label.clone().filter(|l| !l.trim().is_empty());
            }
            file.write(&dir)
        };
        write().map_err(|e| fail.with(e))?;
        let done = record.trials.len();
        let line = if fresh {
            format!(
                "series {}: {} → {}",
                record.id,
                crate::style::plural(spec.slots.len(), "trial"),
                crate::paths::shown(&dir)
            )
        } else {
            format!(
                "series {}: {done} of {} trials were done before this apply",
                record.id,
                spec.slots.len()
            )
        };
        Ok(Done::Summary {
            op: if fresh || pruned {
                Op::Series { series: record }
            } else {
                Op::Nothing
            },
            lines: vec![line],
            failures: Vec::new(),
        })
    })
}

/// `series.json`'s description of the series (its trials kept).
fn describe(
    file: &mut SeriesFile,
    plan: &crate::plan::Plan,
    spec: &SeriesSpec,
    record: &SeriesRecord,
) {
    file.plan = plan.name.clone();
    file.series = record.id.clone();
    file.runner_version = env!("CARGO_PKG_VERSION").to_string();
    file.vars = spec.vars.clone();
    file.points = spec
        .points
        .iter()
        .map(|p| PointEntry {
            label: p.label.clone(),
            vars: p.vars.clone(),
        })
        .collect();
    file.repeat = spec.repeat;
    file.discard = spec.discard;
    file.order = match plan.series.as_ref().map(|s| s.order) {
        Some(crate::plan::model::SeriesOrder::InOrder) => "in-order",
        _ => "shuffled",
    }
    .to_string();
    file.seed = record.seed;
    file.planned = spec
        .order
        .iter()
        .map(|&i| spec.slots[i].id.clone())
        .collect();
}

/// The series' analyses, checks and report, on blocking threads.
pub(super) fn tables(cx: Cx<'_>, node: NodeIndex, kind: NodeKind) -> Task {
    let spec = cx.graph.series().cloned();
    let series = cx.state.series.clone();
    let hash = cx.graph.dag[node].hash.clone();
    let id = cx.graph.dag[node].id.clone();
    let (shared, fail) = (cx.shared, cx.fail);
    Box::pin(async move {
        let done = tokio::task::spawn_blocking(move || {
            let spec = spec.ok_or_else(|| Error::msg("the plan has no series"))?;
            let series = series.ok_or_else(|| Error::msg("no series ran"))?;
            let _ = &spec;
            let cx = SeriesCx {
                shared: &shared,
                series: &series,
                dir: shared.paths.trials().join(&series.id),
            };
            let op = Op::node(&id, hash, &series.id);
            match kind {
                NodeKind::SeriesAnalyze { analysis } => cx.analyze(analysis, op),
                NodeKind::SeriesChecks => cx.checks(op),
                _ => cx.report(op),
            }
        })
        .await
        .map_err(|e| fail.with(e))?;
        done.map_err(|e| fail.with(e))
    })
}

struct SeriesCx<'a> {
    shared: &'a Shared,
    series: &'a SeriesRecord,
    dir: PathBuf,
}

impl SeriesCx<'_> {
    fn analyze(&self, index: usize, op: Op) -> Result<Done> {
        let a = &self.shared.plan.analyses[index];
        let written = crate::series::analysis::run_one(&self.shared.plan, a, &self.dir)?;
        for w in written.warnings {
            self.shared.say(w);
        }
        let paths = written.tables;
        Ok(Done::Summary {
            op,
            lines: vec![format!(
                "series analyze {}: {}",
                a.name,
                paths
                    .iter()
                    .map(|p| crate::paths::shown(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            )],
            failures: Vec::new(),
        })
    }

    fn checks(&self, op: Op) -> Result<Done> {
        let trials = self.shared.paths.trials();
        let previous = crate::series::previous(&trials, &self.series.id);
        let results = crate::series::checks::evaluate(
            &self.shared.plan.checks,
            &self.dir,
            &trials,
            self.shared.baseline.as_deref(),
            previous.as_deref(),
        );
        let mut file = SeriesFile::read(&self.dir)?;
        file.checks = results.clone();
        file.write(&self.dir)?;
        Ok(Done::checked(op, &results))
    }

    fn report(&self, op: Op) -> Result<Done> {
        let file = SeriesFile::read(&self.dir)?;
        let path = crate::html::series::write(&self.shared.plan, &self.dir, &file)?;
        Ok(Done::Summary {
            op,
            lines: vec![format!("series report: {}", crate::paths::shown(&path))],
            failures: Vec::new(),
        })
    }
}
