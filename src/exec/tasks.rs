//! What each kind of node does when the dispatcher starts it: create or
//! destroy a host (blocking provider calls on blocking threads), run a step
//! over the host's shared connection. A task returns the state changes it
//! made; only the dispatcher records them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Failure, Shared};
use crate::diff::{Action, Change};
use crate::graph::{Graph, NodeKind, Payload};
use crate::provider::{self, Provider as _};
use crate::ssh::Outcome;
use crate::state::{HostState, HostStatus, Op, State, StepState};

pub type Task = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Done, Failure>> + Send>>;

/// What a finished task changed.
pub enum Done {
    /// A host exists now (it must be recorded, or destroyed again).
    HostCreated(HostState),
    Recorded(Op),
    /// Done and recorded; `lines` go to the closing summary; `failures`
    /// (a test that failed on some hosts) fail the apply without stopping
    /// what follows.
    Summary {
        op: Op,
        lines: Vec<String>,
        failures: Vec<Failure>,
    },
    /// Checks evaluated and recorded; `failed` of them did not pass.
    Checked {
        op: Op,
        lines: Vec<String>,
        failed: usize,
    },
}

/// Builds the future for one change with everything it needs copied in.
/// `tag` marks the remote processes of a step, so that they can be found
/// and stopped if the step is abandoned.
pub fn prepare(
    graph: &Graph,
    change: &Change,
    state: &State,
    shared: &Arc<Shared>,
    tag: String,
) -> Task {
    let shared = shared.clone();
    let host = change.host.clone();
    let what = match change.node.map(|n| &graph.dag[n].kind) {
        Some(NodeKind::Step { step }) => format!("step `{}`", graph.plan.steps[*step].name),
        Some(NodeKind::Host) => "provisioning".to_string(),
        Some(_) => change.id.clone(),
        None if change.is_host => "destroying".to_string(),
        None => change.id.clone(),
    };
    let fail = {
        let host = host.clone();
        move |message: String, log: Option<PathBuf>| Failure {
            host: host.clone(),
            what: what.clone(),
            message,
            log,
        }
    };
    let old = state.hosts.get(&host).cloned();
    match (change.node, change.action) {
        (None, _) if change.orphan.is_some() => {
            let orphan = change.orphan.clone();
            Box::pin(async move {
                let o = orphan.ok_or_else(|| fail("no instance".into(), None))?;
                // Terminated where it is (the plan may have moved region).
                let here = shared
                    .plan
                    .ec2
                    .as_ref()
                    .is_some_and(|c| c.region == o.region && c.endpoint == o.endpoint);
                let r = if here {
                    shared.provider.destroy_orphan(&o.id).await
                } else {
                    provider::ec2::Ec2::new(
                        provider::ec2::config_for(&o.region, o.endpoint.clone()),
                        &shared.paths.name,
                        &shared.paths,
                    )
                    .destroy_orphan(&o.id)
                    .await
                };
                r.map_err(|e| fail(e, None))?;
                Ok(Done::Recorded(Op::Nothing))
            })
        }
        (None, _) if change.is_host => Box::pin(async move {
            let gone = Op::HostGone { name: host.clone() };
            let Some(old) = old else {
                return Ok(Done::Recorded(gone));
            };
            destroy_host(&shared, &host, &old)
                .await
                .map_err(|e| fail(e, None))?;
            Ok(Done::Recorded(gone))
        }),
        (None, _) if change.armed_trial.is_some() => {
            let id = change.armed_trial.clone().unwrap_or_default();
            let hosts = state.hosts.clone();
            let hash = state
                .trial
                .as_ref()
                .map(|t| t.hash.clone())
                .unwrap_or_default();
            Box::pin(async move {
                super::trial::finish_armed(shared, hosts, id, hash)
                    .await
                    .map_err(|e| fail(e, None))
            })
        }
        (None, _) if state.nodes.contains_key(&change.id) => {
            let id = change.id.clone();
            Box::pin(async move { Ok(Done::Recorded(Op::NodeGone { id })) })
        }
        (None, _) => {
            let id = change.id.clone();
            Box::pin(async move { Ok(Done::Recorded(Op::StepGone { id })) })
        }
        (Some(node), _) => {
            let node = graph.dag[node].clone();
            match node.kind {
                NodeKind::Host => {
                    let spec = graph.plan.hosts().find(|h| h.name == host).cloned();
                    let replace = change.action == Action::Replace;
                    let adopt = change.adopt.clone();
                    let ssh = graph.plan.uses_ssh(&host);
                    let hash = node.hash.clone();
                    Box::pin(async move {
                        let spec =
                            spec.ok_or_else(|| fail("host is not in the plan".into(), None))?;
                        // A replaced host's old instance goes first (the
                        // provider also cleans its directory), unless it is
                        // the one to adopt.
                        if let Some(old) = old.filter(|o| {
                            let id = o.ec2.as_ref().and_then(|e| e.id.as_deref());
                            replace
                                && (o.status == HostStatus::Ready || id.is_some())
                                && id != adopt.as_deref()
                        }) {
                            destroy_host(&shared, &spec.name, &old)
                                .await
                                .map_err(|e| fail(e, None))?;
                        }
                        let msgs = shared.msgs.clone();
                        let name = spec.name.clone();
                        let record: provider::Recorder = Arc::new(move |h| {
                            let msgs = msgs.clone();
                            let name = name.clone();
                            Box::pin(async move {
                                let (tx, rx) = tokio::sync::oneshot::channel();
                                msgs.send(super::Msg::Record(
                                    Box::new(Op::Host { name, host: h }),
                                    tx,
                                ))
                                .map_err(|_| "the apply is ending".to_string())?;
                                rx.await.map_err(|_| "the apply is ending".to_string())?
                            })
                        });
                        let lines = shared.msgs.clone();
                        let say = Arc::new(move |line: String| {
                            let _ = lines.send(super::Msg::Line(line));
                        });
                        let instance = crate::os::unique_id();
                        shared
                            .provider
                            .create(provider::Create {
                                host: &spec,
                                instance: &instance,
                                hash: &hash,
                                ssh,
                                adopt: adopt.as_deref(),
                                record,
                                say,
                            })
                            .await
                            .map(Done::HostCreated)
                            .map_err(|e| fail(e, None))
                    })
                }
                NodeKind::Step { step } => {
                    let step = graph.plan.steps[step].clone();
                    let id = change.id.clone();
                    let has_refs = !crate::graph::deferred_refs(&node.payload).is_empty();
                    let hosts = if has_refs {
                        state.hosts.clone()
                    } else {
                        Default::default()
                    };
                    let recorded_hash = crate::graph::effective_hash(&node, &state.hosts)
                        .unwrap_or_else(|| node.hash.clone());
                    Box::pin(async move {
                        let h = old
                            .filter(|h| h.status == HostStatus::Ready)
                            .ok_or_else(|| fail("its host is not provisioned".into(), None))?;
                        let session = shared
                            .pool
                            .get(&host, &h)
                            .await
                            .map_err(|e| fail(e, None))?;
                        let dir = shared.paths.host_logs(&host);
                        let out_path = dir.join(format!("{}.stdout", step.name));
                        let err_path = dir.join(format!("{}.stderr", step.name));
                        let log = Some(dir.join(format!("{}.{{stdout,stderr}}", step.name)));
                        let open = |p: &Path| -> Result<tokio::fs::File, String> {
                            let f = fs_err::File::create(p).map_err(|e| e.to_string())?;
                            Ok(tokio::fs::File::from_std(f.into()))
                        };
                        fs_err::create_dir_all(&dir).map_err(|e| fail(e.to_string(), None))?;
                        let mut out = open(&out_path).map_err(|e| fail(e, None))?;
                        let mut err = open(&err_path).map_err(|e| fail(e, None))?;
                        let outcome = match &node.payload {
                            Payload::Run { command } => {
                                let command = crate::graph::resolve(command, &hosts)
                                    .map_err(|e| fail(e, None))?;
                                session
                                    .exec(&command, None, step.timeout, &tag, &mut out, &mut err)
                                    .await
                            }
                            Payload::Write { bytes, dest, .. } if has_refs => {
                                let text =
                                    crate::graph::resolve(&String::from_utf8_lossy(bytes), &hosts)
                                        .map_err(|e| fail(e, None))?;
                                session
                                    .upload(
                                        text.as_bytes(),
                                        dest,
                                        step.timeout,
                                        &tag,
                                        &mut out,
                                        &mut err,
                                    )
                                    .await
                            }
                            Payload::Write { bytes, dest, .. } => {
                                session
                                    .upload(bytes, dest, step.timeout, &tag, &mut out, &mut err)
                                    .await
                            }
                            Payload::None | Payload::Trial(_) => Ok(Outcome::Exit(0)),
                        }
                        .map_err(|e| fail(e, log.clone()))?;
                        if outcome.success() {
                            Ok(Done::Recorded(Op::Step {
                                id,
                                step: StepState {
                                    hash: recorded_hash,
                                    host: host.clone(),
                                    instance: h.instance,
                                },
                            }))
                        } else {
                            let mut message = outcome.to_string();
                            if outcome == Outcome::Exit(97) {
                                message.push_str(&format!(
                                    " (cannot enter the working directory {})",
                                    h.workdir
                                ));
                            }
                            Err(fail(message, log))
                        }
                    })
                }
                NodeKind::Trial => {
                    let Payload::Trial(spec) = node.payload.clone() else {
                        return Box::pin(async move { Err(fail("no trial to run".into(), None)) });
                    };
                    let hosts = state.hosts.clone();
                    let hash = node.hash.clone();
                    Box::pin(async move {
                        let spec = resolve_trial(&spec, &hosts).map_err(|e| fail(e, None))?;
                        super::trial::run(shared, spec, hosts, hash)
                            .await
                            .map_err(|e| fail(e, None))
                    })
                }
                NodeKind::Test { test } => {
                    let name = graph.plan.tests[test].name.clone();
                    let trial = state.trial.clone();
                    let hash = node.hash.clone();
                    let id = change.id.clone();
                    Box::pin(
                        async move { super::trial::test_results(&shared, &name, trial, id, hash) },
                    )
                }
                NodeKind::Collect { collect } => {
                    let spec = graph.plan.collects[collect].clone();
                    let hosts = state.hosts.clone();
                    let trial = state.trial.clone();
                    let hash = node.hash.clone();
                    let id = change.id.clone();
                    Box::pin(async move {
                        super::trial::collect(shared, spec, hosts, trial, id, hash)
                            .await
                            .map_err(|e| fail(e, None))
                    })
                }
                // Local file work on the latest trial: blocking threads.
                kind @ (NodeKind::Analyze { .. } | NodeKind::Checks | NodeKind::Report) => {
                    let trial = state.trial.clone();
                    let hash = node.hash.clone();
                    let id = change.id.clone();
                    Box::pin(async move {
                        let s = shared.clone();
                        tokio::task::spawn_blocking(move || match kind {
                            NodeKind::Analyze { analysis } => {
                                super::trial::analyze(&s, analysis, trial, id, hash)
                            }
                            NodeKind::Checks => super::trial::checks(&s, trial, id, hash),
                            _ => super::trial::report(&s, trial, id, hash),
                        })
                        .await
                        .map_err(|e| fail(e.to_string(), None))?
                        .map_err(|e| fail(e, None))
                    })
                }
                NodeKind::Barrier { .. } => Box::pin(async {
                    Err(Failure {
                        host: "-".into(),
                        what: "barrier".into(),
                        message: "a barrier is not a change".into(),
                        log: None,
                    })
                }),
            }
        }
    }
}

/// Destroys a host with the apply's provider when it made it (EC2
/// terminations batch there), else with the provider the state names.
pub async fn destroy_host(shared: &Shared, name: &str, old: &HostState) -> Result<(), String> {
    // An EC2 host in another region (or endpoint) than the plan's now is
    // destroyed where the state says it is.
    let same_place = match (&old.ec2, &shared.plan.ec2) {
        (Some(e), Some(c)) => e.region == c.region && e.endpoint == c.endpoint,
        (Some(_), None) => false,
        _ => true,
    };
    if old.provider() == shared.plan.provider && same_place {
        shared.provider.destroy(name, old).await
    } else {
        provider::for_state(old, &shared.paths, &shared.paths.name)
            .destroy(name, old)
            .await
    }
}

/// The trial's commands with the addresses they name filled in.
fn resolve_trial(
    spec: &Arc<crate::graph::TrialSpec>,
    hosts: &std::collections::BTreeMap<String, HostState>,
) -> Result<Arc<crate::graph::TrialSpec>, String> {
    if crate::graph::deferred_refs(&Payload::Trial(spec.clone())).is_empty() {
        return Ok(spec.clone());
    }
    let mut out = (**spec).clone();
    for a in out.monitors.iter_mut().chain(out.tests.iter_mut()) {
        a.command = crate::graph::resolve(&a.command, hosts)?;
    }
    Ok(Arc::new(out))
}

/// A host about to be created, as the state records it first.
pub fn creating(
    old: Option<&HostState>,
    dir: Option<PathBuf>,
    provider: &crate::kinds::Provider,
) -> HostState {
    let mut h = old.cloned().unwrap_or(HostState {
        hash: String::new(),
        status: HostStatus::Creating,
        instance: String::new(),
        address: String::new(),
        port: 0,
        user: String::new(),
        identity: PathBuf::new(),
        host_key: String::new(),
        workdir: String::new(),
        made_by: None,
        dir: None,
        pid: None,
        ec2: None,
    });
    h.status = HostStatus::Creating;
    h.made_by = Some(*provider);
    if h.dir.is_none() {
        h.dir = dir;
    }
    h
}
