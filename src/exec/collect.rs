//! `[[collect]]` nodes: each host's files matching the globs, streamed
//! into the latest trial as `<host>/<collect>/<path>`, then the trial's
//! manifest written again.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use petgraph::graph::NodeIndex;

use super::{Cx, Done, Shared, Task};
use crate::error::{Error, Result};
use crate::paths::host_file_name;
use crate::plan::model::Collect;
use crate::state::{HostState, Op};

pub(super) fn run(cx: Cx<'_>, node: NodeIndex, collect: usize) -> Task {
    let spec = cx.graph.plan.collects[collect].clone();
    let hosts = cx.state.hosts.clone();
    let record = super::series::trial_of(cx.graph, cx.state, node);
    let hash = cx.graph.dag[node].hash.clone();
    let id = cx.graph.dag[node].id.clone();
    let (shared, fail) = (cx.shared, cx.fail);
    Box::pin(async move {
        collect_into(shared, spec, hosts, record, id, hash)
            .await
            .map_err(|e| fail.with(e))
    })
}

async fn collect_into(
    shared: Arc<Shared>,
    spec: Collect,
    hosts: BTreeMap<String, HostState>,
    record: Option<String>,
    id: crate::graph::NodeId,
    hash: String,
) -> Result<Done> {
    let record = record.ok_or_else(|| Error::msg("no trial to collect into"))?;
    let dir = shared.paths.trials().join(&record);
    let sessions = shared
        .pool
        .sessions(&spec.hosts, &hosts)
        .await
        .map_err(Error::msg)?;
    let globs = crate::glob::glob_set(&spec.files)?;
    let mut set = tokio::task::JoinSet::new();
    for (host, s) in sessions {
        let dest = dir.join(host_file_name(&host)).join(&spec.name);
        let globs = globs.clone();
        set.spawn(async move {
            // Commands run in the host's working directory already.
            let f = crate::trial::collect::fetch(
                &s,
                &host,
                ".",
                true,
                &|rel| globs.is_match(rel),
                &dest,
            )
            .await;
            (host, f)
        });
    }
    let mut tally = Tally::default();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((host, f)) => tally.add(host, f),
            Err(e) => tally.errors.push(e.to_string()),
        }
    }
    crate::trial::collect::write_manifest(&dir)?;
    if !tally.errors.is_empty() {
        return Err(Error::msg(tally.errors.join("; ")));
    }
    Ok(Done::Summary {
        op: Op::node(&id, hash, &record),
        lines: tally.lines(&spec, &dir),
        failures: Vec::new(),
    })
}

/// What the hosts sent.
#[derive(Default)]
struct Tally {
    files: usize,
    bytes: u64,
    errors: Vec<String>,
    /// Hosts where nothing matched.
    empty: Vec<String>,
}

impl Tally {
    fn add(&mut self, host: String, f: crate::trial::collect::Fetched) {
        if f.files.is_empty() && f.errors.is_empty() {
            self.empty.push(host);
        }
        self.files += f.files.len();
        self.bytes += f.bytes;
        self.errors.extend(f.errors);
    }

    fn lines(mut self, spec: &Collect, dir: &Path) -> Vec<String> {
        let mut lines = vec![format!(
            "collect {}: {} files, {} bytes into {}",
            spec.name,
            self.files,
            self.bytes,
            crate::paths::shown(dir)
        )];
        if !self.empty.is_empty() {
            self.empty.sort();
            lines.push(format!(
                "  warning: nothing matched {} on {} (a glob does not follow symlinked folders)",
                spec.files.join(", "),
                crate::graph::hosts_summary(&self.empty)
            ));
        }
        lines
    }
}
