//! Host nodes: create a host (or take over the instance an interrupted
//! apply launched for it), destroy one, terminate a cloud orphan. The
//! provider does the work; a created host is returned to the dispatcher,
//! which records it (or destroys it again if it cannot).

use std::path::PathBuf;
use std::sync::Arc;

use petgraph::graph::NodeIndex;

use super::{Cx, Done, Shared, Task};
use crate::diff::Action;
use crate::provider::{self, Provider as _};
use crate::state::{HostState, HostStatus, Op};

/// Creates (or replaces) the change's host.
pub(super) fn create(cx: Cx<'_>, node: NodeIndex, adopt: Option<String>) -> Task {
    let Cx {
        shared,
        graph,
        change,
        state,
        fail,
    } = cx;
    let spec = graph.plan.host(&change.host).cloned();
    let old = state.hosts.get(&change.host).cloned();
    let replace = change.action == Action::Replace;
    let ssh = graph.plan.uses_ssh(&change.host);
    let hash = graph.dag[node].hash.clone();
    Box::pin(async move {
        let spec = spec.ok_or_else(|| fail.with("host is not in the plan"))?;
        // A replaced host's old instance goes first (the provider also
        // cleans its directory), unless it is the one to adopt.
        if let Some(old) = old.filter(|o| {
            let id = o.cloud_id();
            replace && (o.status == HostStatus::Ready || id.is_some()) && id != adopt.as_deref()
        }) {
            destroy_host(&shared, &spec.name, &old)
                .await
                .map_err(|e| fail.with(e))?;
        }
        shared
            .provider
            .create(provider::Create {
                host: &spec,
                instance: &crate::os::unique_id(),
                hash: &hash,
                ssh,
                adopt: adopt.as_deref(),
                record: recorder(&shared, &spec.name),
                say: sayer(&shared),
            })
            .await
            .map(Done::HostCreated)
            .map_err(|e| fail.with(e))
    })
}

/// How the provider makes a host's record durable while it is still
/// creating it (an EC2 instance id as soon as it exists).
fn recorder(shared: &Arc<Shared>, name: &str) -> provider::Recorder {
    let shared = shared.clone();
    let name = name.to_string();
    Arc::new(move |h| {
        let shared = shared.clone();
        let op = Op::Host {
            name: name.clone(),
            host: h,
        };
        Box::pin(async move { Ok(shared.record_now(op).await?) })
    })
}

fn sayer(shared: &Arc<Shared>) -> Arc<dyn Fn(String) + Send + Sync> {
    let shared = shared.clone();
    Arc::new(move |line: String| shared.say(line))
}

/// Destroys a host the state records and that left the plan.
pub(super) fn destroy(cx: Cx<'_>) -> Task {
    let Cx {
        shared,
        change,
        state,
        fail,
        ..
    } = cx;
    let host = change.host.clone();
    let old = state.hosts.get(&host).cloned();
    Box::pin(async move {
        let gone = Op::HostGone { name: host.clone() };
        if let Some(old) = old {
            destroy_host(&shared, &host, &old)
                .await
                .map_err(|e| fail.with(e))?;
        }
        Ok(Done::Recorded(gone))
    })
}

/// Terminates a cloud instance tagged with the plan that no state records,
/// where it is (the plan may have moved region since).
pub(super) fn destroy_orphan(cx: Cx<'_>, orphan: crate::diff::Orphan) -> Task {
    let Cx { shared, fail, .. } = cx;
    Box::pin(async move {
        let o = orphan;
        let here = shared
            .plan
            .ec2
            .as_ref()
            .is_some_and(|c| c.region == o.region && c.endpoint == o.endpoint);
        let done = if here {
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
        done.map_err(|e| fail.with(e))?;
        Ok(Done::Recorded(Op::Nothing))
    })
}

/// Destroys a host with the apply's provider when it made it (EC2
/// terminations batch there), else with the provider the state names.
pub(super) async fn destroy_host(
    shared: &Shared,
    name: &str,
    old: &HostState,
) -> Result<(), provider::Error> {
    // A host of another kind, or an EC2 host in another region (or
    // endpoint) than the plan's now, is destroyed where the state says it is.
    if shared.provider.owns(old) {
        shared.provider.destroy(name, old).await
    } else {
        provider::for_state(old, &shared.paths, &shared.paths.name)
            .destroy(name, old)
            .await
    }
}

/// A host about to be created, as the state records it first.
pub(super) fn creating(old: Option<&HostState>, place: crate::state::Place) -> HostState {
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
        place: place.clone(),
    });
    h.status = HostStatus::Creating;
    // A host of another provider before (the plan changed kind) is
    // recorded as this provider's now; the old one was destroyed first.
    if std::mem::discriminant(&h.place) != std::mem::discriminant(&place) {
        h.place = place;
    }
    h
}
