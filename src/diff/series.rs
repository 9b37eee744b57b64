//! A series and its trials. A new series begins when there is none, on
//! `--new-trial`, when a trial already done would now run something else
//! (a command, a host's configuration: its hash changed), or when its hosts
//! are (re)created; otherwise the series goes on: only the trials not done
//! yet run (new points, more repetitions, one a kill interrupted), the
//! trial an interrupted apply armed is finished by its own node, and an
//! analysis-only edit re-renders the tables of every trial and of the
//! series, running nothing.

use petgraph::graph::NodeIndex;

use super::{Action, Change, Changes, HostActions, Work};
use crate::graph::series::{SeriesSpec, Slot};
use crate::graph::{Graph, Node, NodeKind, Payload};
use crate::state::{SeriesRecord, State, TrialStatus};

type Verdict = Option<(Action, String)>;

/// The series' changes; whether the trial an interrupted apply armed is
/// finished by its slot's node (else the plain trial diff finishes it).
pub(super) fn changes(
    graph: &Graph,
    state: &State,
    new_trial: bool,
    host_action: &HostActions,
    out: &mut Changes,
) -> bool {
    let Some(spec) = graph.series() else {
        return false;
    };
    let Some(head_idx) = graph
        .dag
        .node_indices()
        .find(|&i| graph.dag[i].kind == NodeKind::Series)
    else {
        return false;
    };
    let fresh = why_new(graph, spec, state, new_trial, host_action);
    let record = state.series.as_ref().filter(|_| fresh.is_none());
    let armed = record.and_then(|_| {
        state
            .trial
            .as_ref()
            .filter(|t| t.status.unfinished())
            .filter(|t| t.slot.as_deref().is_some_and(|s| spec.slot(s).is_some()))
    });
    let cx = Slots {
        graph,
        state,
        record,
        fresh: fresh.is_some(),
    };
    // Trials of the series no longer in the plan (a value removed,
    // `repeat` lowered): the series' tables are made again without them.
    let left = record.is_some_and(|r| r.trials.keys().any(|id| spec.slot(id).is_none()));
    let mut ran_or_rendered = left;
    let mut slot_changes = Vec::new();
    for &i in &spec.order {
        let slot = &spec.slots[i];
        // Its trial to finish: armed by an interrupted apply, or over
        // with outputs that could not all be stored (fetched in place).
        let armed_here = armed
            .filter(|t| t.slot.as_deref() == Some(slot.id.as_str()))
            .map(|t| t.id.as_str())
            .or_else(|| cx.unfetched(slot));
        ran_or_rendered |= cx.slot(slot, armed_here, &mut slot_changes, out);
    }
    let head_verdict = head(
        graph,
        spec,
        &cx,
        fresh.as_deref(),
        ran_or_rendered || armed.is_some(),
    );
    // Going on only to re-render: the series node has nothing to do.
    let runs_trials = slot_changes.iter().any(|c: &Change| {
        c.node()
            .is_some_and(|n| graph.dag[n].kind == NodeKind::Trial)
    });
    match head_verdict {
        Some(v) if fresh.is_some() || runs_trials || left => {
            super::push(out, head_idx, &graph.dag[head_idx], Some(v))
        }
        _ => out.unchanged += 1,
    }
    out.changes.extend(slot_changes);
    cx.series_nodes(ran_or_rendered, out);
    armed.is_some()
}

/// The series node's verdict: a new series (`fresh` says why), or the one
/// under way going on when anything of it runs.
fn head(
    graph: &Graph,
    spec: &SeriesSpec,
    cx: &Slots,
    fresh: Option<&str>,
    anything: bool,
) -> Verdict {
    let plan = &graph.plan.name;
    let head = graph
        .dag
        .node_weights()
        .find(|n| n.kind == NodeKind::Series)?;
    match (fresh, cx.record) {
        (Some(why), _) => Some((
            Action::Create,
            format!("{}{why} → trials/{plan}/<new series id>", head.summary),
        )),
        (None, Some(r)) if anything => {
            let done = spec.slots.iter().filter(|s| cx.done(s).is_some()).count();
            Some((
                Action::Update,
                format!(
                    "series {}: {done} of {} trials done → trials/{plan}/{}",
                    r.id,
                    spec.slots.len(),
                    r.id
                ),
            ))
        }
        _ => None,
    }
}

/// Why a new series begins; `None`: the one under way goes on.
fn why_new(
    graph: &Graph,
    spec: &SeriesSpec,
    state: &State,
    new_trial: bool,
    host_action: &HostActions,
) -> Option<String> {
    let Some(record) = &state.series else {
        return Some(String::new());
    };
    if new_trial {
        let left = spec
            .slots
            .iter()
            .filter(|s| !record.trials.contains_key(&s.id))
            .count();
        // A trial of it an interrupted apply armed is finished first, in
        // that series: said, and counted as done there.
        let armed = state
            .trial
            .as_ref()
            .filter(|t| t.status.unfinished())
            .and_then(|t| t.slot.as_ref().map(|s| (t, s)))
            .filter(|(_, s)| !record.trials.contains_key(*s) && spec.slot(s).is_some());
        let left = left - usize::from(armed.is_some());
        let finishing = armed.map_or(String::new(), |(t, _)| {
            format!(
                "; its trial {} armed by an interrupted apply is finished in it first",
                t.id
            )
        });
        return Some(if left > 0 || armed.is_some() {
            format!(
                "; --new-trial (series {} is left with {left} of {} trials not run{finishing})",
                record.id,
                spec.slots.len()
            )
        } else {
            "; --new-trial".into()
        });
    }
    for slot in &spec.slots {
        if let Some(done) = record.trials.get(&slot.id)
            && done.hash != graph.dag[slot.trial].hash
        {
            return Some(format!(
                "; {} runs something else than in series {}",
                slot.id, record.id
            ));
        }
    }
    if !record.trials.is_empty() && !record.trials.keys().any(|id| spec.slot(id).is_some()) {
        return Some(format!(
            "; none of the trials of series {} is in the plan any more",
            record.id
        ));
    }
    let recreated: Vec<String> = spec
        .slots
        .iter()
        .filter_map(|s| match &graph.dag[s.trial].payload {
            Payload::Trial(t) => Some(t.hosts.clone()),
            _ => None,
        })
        .flatten()
        .filter(|h| host_action.contains_key(h.as_str()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    (!recreated.is_empty()).then(|| {
        format!(
            "; its hosts are (re)created ({})",
            crate::graph::hosts_summary(&recreated)
        )
    })
}

struct Slots<'a> {
    graph: &'a Graph,
    state: &'a State,
    /// The series under way (none: a new one).
    record: Option<&'a SeriesRecord>,
    fresh: bool,
}

impl Slots<'_> {
    /// The trial of a slot that is done: complete (not partial, not
    /// abandoned), and what the slot runs now.
    fn done(&self, slot: &Slot) -> Option<&str> {
        let r = self.record?.trials.get(&slot.id)?;
        (r.status == TrialStatus::Complete && r.hash == self.graph.dag[slot.trial].hash)
            .then_some(r.trial.as_str())
    }

    /// The slot's trial whose outputs could not all be stored (a full
    /// disk): fetched again in place, not run again.
    fn unfetched(&self, slot: &Slot) -> Option<&str> {
        let r = self.record?.trials.get(&slot.id)?;
        (r.status == TrialStatus::Unfetched && r.hash == self.graph.dag[slot.trial].hash)
            .then_some(r.trial.as_str())
    }

    /// Why a slot runs again: its last trial was partial or abandoned.
    fn again(&self, slot: &Slot) -> Option<String> {
        let r = self.record?.trials.get(&slot.id)?;
        match r.status {
            TrialStatus::Partial => Some(format!("; again: trial {} failed on some host", r.trial)),
            TrialStatus::Failed | TrialStatus::Abandoned => {
                Some(format!("; again: trial {} did not finish", r.trial))
            }
            TrialStatus::Unfetched => Some(format!(
                "; again: the outputs of trial {} could not all be stored",
                r.trial
            )),
            TrialStatus::Starting
            | TrialStatus::Arming
            | TrialStatus::Armed
            | TrialStatus::Complete => None,
        }
    }

    /// The slot's trial and its nodes; whether anything of it runs.
    fn slot(
        &self,
        slot: &Slot,
        armed: Option<&str>,
        changes: &mut Vec<Change>,
        out: &mut Changes,
    ) -> bool {
        let trial = &self.graph.dag[slot.trial];
        let done = self.done(slot);
        let verdict: Verdict = match (self.fresh, armed, done) {
            (true, _, _) => Some((Action::Create, trial.summary.clone())),
            (false, Some(id), _) if self.unfetched(slot) == Some(id) => Some((
                Action::Update,
                format!("fetch the outputs of trial {id} that could not be stored"),
            )),
            (false, Some(id), _) => Some((
                Action::Update,
                format!("finish trial {id}, armed by an interrupted apply"),
            )),
            (false, None, Some(_)) => None,
            (false, None, None) => Some((
                Action::Create,
                format!("{}{}", trial.summary, self.again(slot).unwrap_or_default()),
            )),
        };
        let runs = verdict.as_ref().map(|v| v.0);
        match verdict {
            Some((action, reason)) => {
                let mut c = Change::of_node(trial, slot.trial, action, reason);
                c.work = Work::Node {
                    node: slot.trial,
                    finish: armed.map(|id| super::Finish {
                        trial: id.to_string(),
                        reported_by_nodes: Vec::new(),
                    }),
                };
                changes.push(c);
            }
            None => out.unchanged += 1,
        }
        let mut changed = runs.is_some();
        // A collect that runs again feeds the analyses; either feeds the report.
        let mut upstream = false;
        for idx in self.nodes_of(slot) {
            let n = &self.graph.dag[idx];
            let fed = upstream && !matches!(n.kind, NodeKind::Collect { .. });
            let v: Verdict = match (runs, done) {
                (Some(a), _) => Some((a, n.summary.clone())),
                // What a host holds now is not what it held in a trial
                // that is over: a new or changed collect is for new trials.
                (None, Some(_)) if matches!(n.kind, NodeKind::Collect { .. }) => None,
                (None, Some(t)) if self.current(n, t) && !fed => None,
                (None, Some(t)) => {
                    Some((Action::Update, format!("{}; again in trial {t}", n.summary)))
                }
                (None, None) => None,
            };
            if v.is_some() {
                changed = true;
                upstream = true;
                changes.push(Change::of_node(
                    n,
                    idx,
                    v.as_ref().map_or(Action::Update, |x| x.0),
                    v.map(|x| x.1).unwrap_or_default(),
                ));
            } else {
                out.unchanged += 1;
            }
        }
        changed
    }

    /// A slot's collects, analyses and report, in graph order.
    fn nodes_of(&self, slot: &Slot) -> Vec<NodeIndex> {
        let k = self.graph.dag[slot.trial].slot;
        let mut v: Vec<NodeIndex> = self
            .graph
            .dag
            .node_indices()
            .filter(|&i| i != slot.trial && self.graph.dag[i].slot == k)
            .collect();
        // Collects, then analyses, then the report: as they depend.
        v.sort_by_key(|&i| match self.graph.dag[i].kind {
            NodeKind::Collect { .. } => 0,
            NodeKind::Analyze { .. } => 1,
            _ => 2,
        });
        v
    }

    /// Done for `trial` with the hash it has now.
    fn current(&self, n: &Node, trial: &str) -> bool {
        self.state
            .nodes
            .get(n.id.key())
            .is_some_and(|p| p.hash == n.hash && p.trial == trial)
    }

    /// The series' analyses, checks and report: with any trial, or when
    /// they changed, or their inputs did.
    fn series_nodes(&self, inputs_changed: bool, out: &mut Changes) {
        let series_id = self.record.map_or("", |r| r.id.as_str());
        let mut tables_changed = false;
        let kinds = |k: &NodeKind| {
            matches!(
                k,
                NodeKind::SeriesAnalyze { .. } | NodeKind::SeriesChecks | NodeKind::SeriesReport
            )
        };
        let mut idxs: Vec<NodeIndex> = self
            .graph
            .dag
            .node_indices()
            .filter(|&i| kinds(&self.graph.dag[i].kind))
            .collect();
        idxs.sort_by_key(|&i| match self.graph.dag[i].kind {
            NodeKind::SeriesAnalyze { .. } => 0,
            NodeKind::SeriesChecks => 1,
            _ => 2,
        });
        for idx in idxs {
            let n = &self.graph.dag[idx];
            let is_analysis = matches!(n.kind, NodeKind::SeriesAnalyze { .. });
            let verdict: Verdict = if self.fresh {
                Some((Action::Create, n.summary.clone()))
            } else if inputs_changed || (!is_analysis && tables_changed) {
                Some((
                    Action::Update,
                    format!("{}; its trials' tables changed", n.summary),
                ))
            } else if !self.current(n, series_id) {
                Some((
                    Action::Update,
                    format!("{}; for series {series_id}", n.summary),
                ))
            } else {
                None
            };
            tables_changed |= verdict.is_some();
            super::push(out, idx, n, verdict);
        }
    }
}
