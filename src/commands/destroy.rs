//! `runner destroy PLAN`: remove every host and step the state knows.
//! Destroying is the diff against an empty plan, executed like any other.
//! Local hosts found under `.runner/<plan>/hosts/` that the state does not
//! record (the state was lost, or a crash came between creating and
//! recording) are stopped too.

use std::path::Path;

use crate::diff;
use crate::error::{Error, Result};
use crate::exec::{self, Options};
use crate::exit::Exit;
use crate::graph;
use crate::provider::local;
use crate::reporter::Reporter;
use crate::state::lock::Lock;
use crate::state::{Paths, Store};

pub fn run(path: &Path, yes: bool, parallelism: usize) -> Result<Exit> {
    let name = super::plan_name(path)?;
    let paths = Paths::here(&name);
    let reporter = Reporter::default();
    let _lock = Lock::acquire(&paths.lock(), "destroyed")?;
    // A state that cannot be written (a full disk) does not stop a destroy.
    let mut store = match Store::open(&paths).or_else(|e| {
        reporter.line(format!(
            "error: {e}; destroying all the same from the state as read"
        ));
        Store::read_only(&paths)
    }) {
        Ok(s) => s,
        // Unreadable, but an EC2 plan's instances are found by their tags.
        Err(e) if plan_is_ec2(path) => {
            reporter.line(format!(
                "error: {e}; destroying what the EC2 tags find (the state file is left as it is)"
            ));
            Store::detached(&paths)
        }
        Err(e) => return Err(e.into()),
    };
    // EC2: where the plan's instances are (the plan's `[provider]` if it
    // still validates, else what the state recorded).
    let base = std::env::current_dir()?;
    let full_plan = crate::plan::load(path, &base).ok().map(|(p, _)| p);
    let ec2 = crate::provider::ec2_config(full_plan.as_ref(), &store.state);
    let empty = crate::plan::Plan {
        name: name.clone(),
        file: path.to_path_buf(),
        file_hash: String::new(),
        provider: if ec2.is_some() {
            crate::kinds::Provider::Ec2
        } else {
            crate::kinds::Provider::Local
        },
        workdir: None,
        ec2: ec2.clone(),
        vars: Default::default(),
        groups: Vec::new(),
        steps: Vec::new(),
        monitors: Vec::new(),
        tests: Vec::new(),
        collects: Vec::new(),
        analyses: Vec::new(),
        checks: Vec::new(),
    };
    let graph = graph::compile(empty).map_err(|_| Error::msg("cannot build the destroy graph"))?;
    // One tag query finds the instances no state records (the state was
    // lost, or a crash came between launching and recording).
    let refresh = match &ec2 {
        Some(_) => {
            crate::provider::refresh(&store.state, &paths, full_plan.as_ref()).map_err(|e| {
                Error::msg(format!("finding the instances of `{name}`: {e}"))
                    .help("nothing was destroyed; fix the cause and run destroy again")
            })?
        }
        None => Default::default(),
    };
    let mut refresh = refresh;
    refresh.gone.clear();
    let changes = diff::diff(&graph, &store.state, &refresh, false);
    let n_orphans = changes
        .changes
        .iter()
        .filter(|c| c.orphan.is_some())
        .count();
    let orphans: Vec<String> = local::host_dirs(&paths)
        .into_iter()
        .filter(|dir| {
            !store
                .state
                .hosts
                .values()
                .any(|h| h.dir.as_deref() == Some(dir.as_path()))
        })
        .map(|d| {
            d.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let rt = super::runtime()?;
    // What runner made for an EC2 plan as a whole (a key pair, a security
    // group), recorded or found by name when the state was lost.
    let shared_left = match &ec2 {
        Some(config) => rt
            .block_on(crate::provider::ec2::delete_shared(
                config,
                &name,
                &paths,
                store.state.ec2.as_ref(),
                true,
            ))
            .map_err(|e| Error::msg(format!("finding what runner made for `{name}`: {e}")))?,
        None => Vec::new(),
    };
    let shared_left = !shared_left.is_empty();
    if changes.is_empty() && orphans.is_empty() && !shared_left {
        crate::out::outln!("Nothing to destroy: the state of `{name}` records no hosts.");
        let _ = fs_err::remove_file(paths.saved_plan());
        return Ok(Exit::Success);
    }
    let mut text = format!(
        "runner will destroy {} hosts and forget {} steps of plan `{name}`",
        store.state.hosts.len(),
        store.state.steps.len()
    );
    if n_orphans > 0 {
        text.push_str(&format!(
            ", and terminate {n_orphans} instances tagged with the plan that the state does not record"
        ));
    }
    if shared_left {
        text.push_str(", and delete the key pair and security group runner made for it");
    }
    if !orphans.is_empty() {
        text.push_str(&format!(
            ", and stop {} local hosts the state does not record ({})",
            orphans.len(),
            orphans.join(", ")
        ));
    }
    crate::out::outln!("{text}.");
    if !super::confirm("Destroy them?", yes)? {
        eprintln!("Destroy cancelled.");
        return Ok(Exit::Failure);
    }
    let _ = fs_err::remove_file(paths.saved_plan());
    // A trial armed by an interrupted apply is stopped, not waited for:
    // its monitors and armed tests are detached from every session.
    if let Some(t) = store
        .state
        .trial
        .clone()
        .filter(|t| t.status == crate::state::TrialStatus::Armed)
    {
        let tag = crate::trial::Trial::read(&crate::paths::trials_dir(&name).join(&t.id))
            .map_or_else(|_| t.id.clone(), |tr| tr.process_tag());
        let stopped = rt.block_on(stop_trial(&store.state, &tag));
        reporter.line(format!(
            "trial {}: armed by an interrupted apply; its processes were stopped on {stopped} hosts",
            t.id
        ));
        let mut done = t.clone();
        done.status = crate::state::TrialStatus::Finished;
        store.record(crate::state::Op::Trial { trial: done })?;
    }
    let mut report = rt.block_on(exec::execute(
        &graph,
        &changes,
        &mut store,
        &Options {
            parallelism,
            keep_going_without_state: true,
            baseline: None,
        },
        &reporter,
    ));
    for orphan in &orphans {
        let dir = paths.hosts_dir().join(orphan);
        match local::destroy_dir(&dir) {
            Ok(stopped) => reporter.line(format!(
                "  - {orphan} (not in the state): {}",
                if stopped {
                    "sshd stopped, removed"
                } else {
                    "removed"
                }
            )),
            Err(e) => report.failures.push(exec::Failure {
                host: orphan.clone(),
                what: "destroying a host the state does not record".into(),
                message: e.to_string(),
                log: None,
            }),
        }
    }
    if let Some(config) = ec2.as_ref().filter(|_| report.complete()) {
        let deleted = rt.block_on(crate::provider::ec2::delete_shared(
            config,
            &name,
            &paths,
            store.state.ec2.as_ref(),
            false,
        ));
        match deleted {
            Ok(done) => {
                for d in done {
                    reporter.line(format!("  - {d}: deleted"));
                }
                if let Err(e) = store.record(crate::state::Op::Ec2 { ec2: None }) {
                    reporter.line(format!("error: {e}"));
                }
            }
            Err(e) => report.failures.push(exec::Failure {
                host: "-".into(),
                what: "deleting the key pair and security group".into(),
                message: e.to_string(),
                log: None,
            }),
        }
    }
    reporter.summary("Destroy", &report);
    if report.complete() {
        // Empty folders of the plan go too; keys and logs stay.
        let _ = fs_err::remove_dir(paths.hosts_dir());
        Ok(Exit::Success)
    } else {
        Ok(Exit::Failure)
    }
}

fn plan_is_ec2(path: &Path) -> bool {
    let base = std::env::current_dir().unwrap_or_default();
    crate::plan::load(path, &base).is_ok_and(|(p, _)| p.ec2.is_some())
}

/// Stops the processes of a trial (its `RUNNER_TRIAL` tag) on every host
/// of the state that can be reached; how many were.
async fn stop_trial(state: &crate::state::State, id: &str) -> usize {
    let mut set = tokio::task::JoinSet::new();
    for (name, h) in &state.hosts {
        if h.status != crate::state::HostStatus::Ready {
            continue;
        }
        let target = crate::ssh::Target::of(name, h);
        let id = id.to_string();
        set.spawn(async move {
            let session = crate::ssh::connect(target).await.ok()?;
            let r = tokio::time::timeout(
                std::time::Duration::from_secs(15),
                session.stop_env("RUNNER_TRIAL", &id),
            )
            .await;
            session.close().await;
            r.ok().and_then(Result::ok)
        });
    }
    let mut n = 0;
    while let Some(r) = set.join_next().await {
        n += usize::from(matches!(r, Ok(Some(()))));
    }
    n
}
