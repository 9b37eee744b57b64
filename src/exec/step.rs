//! Step nodes: a command, a rendered template or an uploaded file on one
//! host, over the host's shared connection, with its stdout and stderr in
//! `.runner/<plan>/logs/<host>/<step>.{stdout,stderr}` — never on the
//! terminal.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use petgraph::graph::NodeIndex;

use super::{Cx, Done, Fail, Failure, Task};
use crate::graph::Payload;
use crate::ssh::Outcome;
use crate::state::{HostState, HostStatus, Op, StepState};

/// Runs step number `step` of the plan on the change's host.
pub(super) fn run(cx: Cx<'_>, node: NodeIndex, step: usize, tag: String) -> Task {
    let Cx {
        shared,
        graph,
        change,
        state,
        fail,
    } = cx;
    let node = graph.dag[node].clone();
    let step = graph.plan.steps[step].clone();
    let id = change.id.to_string();
    let host = change.host.clone();
    let refs = !crate::graph::deferred_refs(&node.payload).is_empty();
    // Only a step that names another host's address needs the hosts.
    let hosts = if refs {
        state.hosts.clone()
    } else {
        Default::default()
    };
    let recorded_hash = crate::graph::effective_hash(&node, &|h, f| state.host_field(h, f))
        .unwrap_or_else(|| node.hash.clone());
    let old = state.hosts.get(&host).cloned();
    Box::pin(async move {
        // Test-only: a bug in runner itself, in the middle of one step.
        #[cfg(feature = "test-faults")]
        if std::env::var("RUNNER_TEST_PANIC_STEP").is_ok_and(|s| s == id) {
            panic!("RUNNER_TEST_PANIC_STEP: {id}");
        }
        let h = old
            .filter(|h| h.status == HostStatus::Ready)
            .ok_or_else(|| fail.with("its host is not provisioned"))?;
        let session = shared.pool.get(&host, &h).await.map_err(|e| fail.with(e))?;
        let logs =
            Logs::open(&shared.paths.host_logs(&host), &step.name).map_err(|e| fail.with(e))?;
        let (mut out, mut err) = (logs.out, logs.err);
        let limit = crate::ssh::Limit::new(step.timeout, "the step's `timeout`");
        let outcome = match &node.payload {
            Payload::Run { command } => {
                let command = crate::graph::resolve(command, &|h, f| hosts.get(h)?.field(f))
                    .map_err(|e| fail.with(e))?;
                session
                    .exec(&command, None, limit, &tag, &mut out, &mut err)
                    .await
            }
            Payload::Write {
                bytes,
                dest,
                rendered,
            } => {
                // A rendered template may name addresses known only now.
                let bytes = if *rendered && refs {
                    let text = crate::graph::resolve(&String::from_utf8_lossy(bytes), &|h, f| {
                        hosts.get(h)?.field(f)
                    })
                    .map_err(|e| fail.with(e))?;
                    Arc::new(text.into_bytes())
                } else {
                    bytes.clone()
                };
                session
                    .upload(&bytes, dest, limit, &tag, &mut out, &mut err)
                    .await
            }
            Payload::None | Payload::Trial(_) | Payload::Series(_) => Ok(Outcome::Exit(0)),
        }
        .map_err(|e| fail.of(e.to_string(), Some(logs.shown.clone())))?;
        if !outcome.success() {
            return Err(failed(&fail, &outcome, &h, logs.shown));
        }
        Ok(Done::Recorded(Op::Step {
            id,
            step: StepState {
                hash: recorded_hash,
                host: host.clone(),
                instance: h.instance,
                step: Some(step.name.clone()),
            },
        }))
    })
}

/// A step's two log files, and how its failure names them.
struct Logs {
    out: tokio::fs::File,
    err: tokio::fs::File,
    /// `…/<step>.{stdout,stderr}`
    shown: PathBuf,
}

impl Logs {
    fn open(dir: &Path, step: &str) -> std::io::Result<Logs> {
        fs_err::create_dir_all(dir)?;
        let open = |ext: &str| -> std::io::Result<tokio::fs::File> {
            let f = fs_err::File::create(dir.join(format!("{step}.{ext}")))?;
            Ok(tokio::fs::File::from_std(f.into()))
        };
        Ok(Logs {
            out: open("stdout")?,
            err: open("stderr")?,
            shown: dir.join(format!("{step}.{{stdout,stderr}}")),
        })
    }
}

/// A step that ran and did not succeed, said with its log.
fn failed(fail: &Fail, outcome: &Outcome, h: &HostState, log: PathBuf) -> Failure {
    let mut message = outcome.to_string();
    if *outcome == Outcome::Exit(97) {
        message.push_str(&format!(
            " (cannot enter the working directory {})",
            h.workdir
        ));
    }
    fail.of(message, Some(log))
}
