//! `runner validate PLAN`: parse, validate and compile; change nothing.

use std::path::Path;

use crate::error::Result;
use crate::exit::Exit;

pub fn run(path: &Path) -> Result<Exit> {
    let graph = super::planning::compile(path)
        .map_err(|e| e.outcome("the plan is not valid"))?
        .0;
    let p = &graph.plan;
    crate::out::outln!(
        "plan `{}` is valid: {} hosts, {} steps, {} nodes",
        p.name,
        p.hosts().count(),
        p.steps.len(),
        graph
            .dag
            .node_weights()
            .filter(|n| !matches!(n.kind, crate::graph::NodeKind::Barrier { .. }))
            .count()
    );
    Ok(Exit::Success)
}
