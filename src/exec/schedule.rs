//! Which change may start now: a pure account of what each change waits
//! for, what is ready, and what a failure skips. No I/O, no time, no hosts:
//! the dispatcher asks it and tells it what finished.
//!
//! A change waits for the nearest changes upstream of it in the graph,
//! through unchanged nodes too (step 3 still follows step 1 when step 2 is
//! unchanged). An `after` barrier is an item of its own, done as soon as
//! everything before it is. A trial armed by an interrupted apply is
//! finished before anything else starts.

use std::collections::{HashMap, HashSet, VecDeque};

use petgraph::Direction;
use petgraph::graph::NodeIndex;

use crate::diff::Changes;
use crate::graph::{Graph, NodeKind};

/// One unit of the dispatcher: a change, or a barrier (`after`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    Change(usize),
    Barrier,
}

#[derive(Debug)]
pub struct Schedule {
    pub items: Vec<Item>,
    waiting_on: Vec<usize>,
    dependents: Vec<Vec<usize>>,
    ready: VecDeque<usize>,
    blocked: Vec<bool>,
    /// A failure that leaves something to report (an analysis, a
    /// collection, the checks): the checks and the report still run.
    fails_softly: Vec<bool>,
    /// Runs after soft failures (the checks, the report).
    tolerates: Vec<bool>,
}

impl Schedule {
    /// The schedule of `changes` on `graph`.
    pub fn of(graph: &Graph, changes: &Changes) -> Schedule {
        let n_changes = changes.changes.len();
        let mut items: Vec<Item> = (0..n_changes).map(Item::Change).collect();
        let mut by_node: HashMap<NodeIndex, usize> = changes
            .changes
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.node().map(|n| (n, i)))
            .collect();
        for idx in graph.dag.node_indices() {
            if matches!(graph.dag[idx].kind, NodeKind::Barrier { .. }) {
                by_node.insert(idx, items.len());
                items.push(Item::Barrier);
            }
        }
        let mut edges = Vec::new();
        for (&node, &i) in &by_node {
            for j in nearest_upstream(graph, node, &by_node) {
                edges.push((j, i));
            }
        }
        let kind = |i: usize| match items[i] {
            Item::Change(c) => changes.changes[c].node().map(|n| &graph.dag[n].kind),
            Item::Barrier => None,
        };
        let fails_softly = (0..items.len())
            .map(|i| {
                matches!(
                    kind(i),
                    Some(
                        NodeKind::Analyze { .. }
                            | NodeKind::Collect { .. }
                            | NodeKind::Checks
                            | NodeKind::SeriesAnalyze { .. }
                            | NodeKind::SeriesChecks
                    )
                )
            })
            .collect();
        let tolerates = (0..items.len())
            .map(|i| {
                matches!(
                    kind(i),
                    Some(
                        NodeKind::Checks
                            | NodeKind::HtmlReport
                            | NodeKind::SeriesChecks
                            | NodeKind::SeriesReport
                    )
                )
            })
            .collect();
        // The plain trial's armed leftover; a series' trial is finished in
        // its place in the series (after the series node).
        let first = changes
            .changes
            .iter()
            .position(|c| matches!(c.work, crate::diff::Work::FinishTrial(_)));
        Schedule::new(items, &edges, first, fails_softly, tolerates)
    }

    /// A schedule of `items` where `(a, b)` in `edges` makes `b` wait for
    /// `a`, and `first` (if any) comes before every other item.
    fn new(
        items: Vec<Item>,
        edges: &[(usize, usize)],
        first: Option<usize>,
        fails_softly: Vec<bool>,
        tolerates: Vec<bool>,
    ) -> Schedule {
        let n = items.len();
        let mut waiting_on = vec![0usize; n];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        let first_edges = first
            .into_iter()
            .flat_map(|f| (0..n).filter(move |&i| i != f).map(move |i| (f, i)));
        for (a, b) in edges.iter().copied().chain(first_edges) {
            waiting_on[b] += 1;
            dependents[a].push(b);
        }
        let ready = (0..n).filter(|&i| waiting_on[i] == 0).collect();
        Schedule {
            items,
            waiting_on,
            dependents,
            ready,
            blocked: vec![false; n],
            fails_softly,
            tolerates,
        }
    }

    /// The next item that may start, if any (not taken off the queue).
    pub fn peek(&self) -> Option<usize> {
        self.ready.front().copied()
    }

    pub fn take(&mut self) -> Option<usize> {
        self.ready.pop_front()
    }

    /// An item taken but not started after all (the state could not be
    /// written): first again when starting resumes.
    pub fn put_back(&mut self, i: usize) {
        self.ready.push_front(i);
    }

    /// `i` is done: what waited only for it is ready.
    pub fn done(&mut self, i: usize) {
        for k in 0..self.dependents[i].len() {
            let d = self.dependents[i][k];
            self.waiting_on[d] -= 1;
            if self.waiting_on[d] == 0 && !self.blocked[d] {
                self.ready.push_back(d);
            }
        }
    }

    /// `i` failed: everything downstream is skipped, except that after a
    /// soft failure the checks and the report still run.
    pub fn failed(&mut self, i: usize) {
        if self.fails_softly[i] {
            self.block_softly(i);
        } else {
            self.block(i);
        }
    }

    fn block(&mut self, i: usize) {
        let mut stack = self.dependents[i].clone();
        while let Some(d) = stack.pop() {
            if !self.blocked[d] {
                self.blocked[d] = true;
                stack.extend(self.dependents[d].iter().copied());
            }
        }
    }

    fn block_softly(&mut self, i: usize) {
        for k in 0..self.dependents[i].len() {
            let d = self.dependents[i][k];
            if self.blocked[d] {
                continue;
            }
            if self.tolerates[d] {
                self.waiting_on[d] -= 1;
                if self.waiting_on[d] == 0 {
                    self.ready.push_back(d);
                }
            } else {
                self.blocked[d] = true;
                if self.fails_softly[d] {
                    self.block_softly(d);
                } else {
                    self.block(d);
                }
            }
        }
    }

    /// How many of the first `n` items were skipped.
    pub fn skipped(&self, n: usize) -> usize {
        self.blocked.iter().take(n).filter(|&&b| b).count()
    }
}

/// The items nearest upstream of `node` (through nodes that are not items).
fn nearest_upstream(
    graph: &Graph,
    node: NodeIndex,
    by_node: &HashMap<NodeIndex, usize>,
) -> HashSet<usize> {
    let mut seen: HashSet<NodeIndex> = HashSet::new();
    let mut deps: HashSet<usize> = HashSet::new();
    let mut stack: Vec<NodeIndex> = graph
        .dag
        .neighbors_directed(node, Direction::Incoming)
        .collect();
    while let Some(up) = stack.pop() {
        if !seen.insert(up) {
            continue;
        }
        match by_node.get(&up) {
            Some(&j) => {
                deps.insert(j);
            }
            None => stack.extend(graph.dag.neighbors_directed(up, Direction::Incoming)),
        }
    }
    deps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize, edges: &[(usize, usize)], soft: &[usize], tolerant: &[usize]) -> Schedule {
        Schedule::new(
            (0..n).map(Item::Change).collect(),
            edges,
            None,
            (0..n).map(|i| soft.contains(&i)).collect(),
            (0..n).map(|i| tolerant.contains(&i)).collect(),
        )
    }

    fn drain(s: &mut Schedule) -> Vec<usize> {
        std::iter::from_fn(|| s.take()).collect()
    }

    #[test]
    fn an_item_starts_once_everything_before_it_is_done() {
        // 0 → 2, 1 → 2, 2 → 3
        let mut s = chain(4, &[(0, 2), (1, 2), (2, 3)], &[], &[]);
        assert_eq!(drain(&mut s), [0, 1]);
        s.done(0);
        assert_eq!(s.peek(), None, "2 still waits for 1");
        s.done(1);
        assert_eq!(drain(&mut s), [2]);
        s.done(2);
        assert_eq!(drain(&mut s), [3]);
    }

    #[test]
    fn a_failure_skips_everything_downstream_and_nothing_else() {
        // 0 → 1 → 2, 3 alone
        let mut s = chain(4, &[(0, 1), (1, 2)], &[], &[]);
        assert_eq!(drain(&mut s), [0, 3]);
        s.failed(0);
        s.done(3);
        assert_eq!(drain(&mut s), Vec::<usize>::new());
        assert_eq!(s.skipped(4), 2);
    }

    #[test]
    fn after_a_soft_failure_the_checks_and_the_report_still_run() {
        // collect 0 → analyze 1 → checks 2 → report 3; collect 0 → report 3
        let mut s = chain(4, &[(0, 1), (1, 2), (2, 3), (0, 3)], &[0, 1, 2], &[2, 3]);
        assert_eq!(drain(&mut s), [0]);
        s.failed(0);
        assert_eq!(drain(&mut s), [2], "the checks run on what there is");
        assert_eq!(s.skipped(4), 1, "only the analysis is skipped");
        s.failed(2);
        assert_eq!(drain(&mut s), [3], "the report runs after failed checks");
        // A hard failure upstream skips them too.
        let mut s = chain(3, &[(0, 1), (1, 2)], &[], &[1, 2]);
        assert_eq!(drain(&mut s), [0]);
        s.failed(0);
        assert_eq!(drain(&mut s), Vec::<usize>::new());
        assert_eq!(s.skipped(3), 2);
    }

    #[test]
    fn an_armed_trial_comes_first() {
        let mut s = Schedule::new(
            (0..3).map(Item::Change).collect(),
            &[],
            Some(2),
            vec![false; 3],
            vec![false; 3],
        );
        assert_eq!(drain(&mut s), [2]);
        s.done(2);
        assert_eq!(drain(&mut s), [0, 1]);
    }

    #[test]
    fn an_item_put_back_is_next() {
        let mut s = chain(2, &[], &[], &[]);
        let first = s.take().unwrap();
        s.put_back(first);
        assert_eq!(s.take(), Some(first));
    }
}
