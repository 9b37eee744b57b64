//! `runner graph PLAN`: the DAG as Graphviz DOT on stdout.

use std::path::Path;

use crate::error::Result;
use crate::exit::Exit;

pub fn run(path: &Path) -> Result<Exit> {
    let graph = super::planning::compile(path)
        .map_err(|e| e.outcome("no graph was drawn"))?
        .0;
    crate::out::out!("{}", graph.to_dot());
    Ok(Exit::Success)
}
