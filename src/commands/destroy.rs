//! `runner destroy PLAN`: remove every host and step the state knows.
//! Destroying is the diff against an empty plan, executed like any other.
//! Local hosts found under `.runner/<plan>/hosts/` that the state does not
//! record (the state was lost, or a crash came between creating and
//! recording) are stopped too.

use std::path::Path;

use crate::diff;
use crate::error::{Error, Result};
use crate::exec::{self, Options};
use crate::graph;
use crate::provider::local;
use crate::report::Reporter;
use crate::state::lock::Lock;
use crate::state::{Paths, Store};

pub fn run(path: &Path, yes: bool, parallelism: usize) -> Result<i32> {
    let name = super::plan_name(path)?;
    let paths = Paths::new(Path::new("."), &name);
    let reporter = Reporter::default();
    let _lock = Lock::acquire(&paths.lock(), "destroyed")?;
    // A state that cannot be written (a full disk) does not stop a destroy.
    let mut store = Store::open(&paths).or_else(|e| {
        reporter.line(format!(
            "error: {e}; destroying all the same from the state as read"
        ));
        Store::read_only(&paths)
    })?;
    let empty = crate::plan::Plan {
        name: name.clone(),
        file: path.to_path_buf(),
        file_hash: String::new(),
        provider: crate::plan::Provider::Local,
        workdir: None,
        vars: Default::default(),
        groups: Vec::new(),
        steps: Vec::new(),
        monitors: Vec::new(),
        tests: Vec::new(),
        collects: Vec::new(),
        analyses: Vec::new(),
    };
    let graph = graph::compile(empty).map_err(|_| Error::msg("cannot build the destroy graph"))?;
    let changes = diff::diff(&graph, &store.state, &Default::default(), false);
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
    if changes.is_empty() && orphans.is_empty() {
        crate::out::outln!("Nothing to destroy: the state of `{name}` records no hosts.");
        let _ = fs_err::remove_file(paths.saved_plan());
        return Ok(0);
    }
    let mut text = format!(
        "runner will destroy {} hosts and forget {} steps of plan `{name}`",
        store.state.hosts.len(),
        store.state.steps.len()
    );
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
        return Ok(1);
    }
    let _ = fs_err::remove_file(paths.saved_plan());
    let rt = super::runtime()?;
    // A trial armed by an interrupted apply is stopped, not waited for:
    // its monitors and armed tests are detached from every session.
    if let Some(t) = store
        .state
        .trial
        .clone()
        .filter(|t| t.status == crate::state::TrialStatus::Armed)
    {
        let tag = crate::trial::Trial::read(&crate::trial::plan_trials_dir(&name).join(&t.id))
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
                message: e,
                log: None,
            }),
        }
    }
    reporter.summary("Destroy", &report);
    if report.complete() {
        // Empty folders of the plan go too; keys and logs stay.
        let _ = fs_err::remove_dir(paths.hosts_dir());
        Ok(0)
    } else {
        Ok(1)
    }
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
