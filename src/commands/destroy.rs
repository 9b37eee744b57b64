//! `runner destroy PLAN`: remove every host and step the state knows.
//! Destroying is the diff against an empty plan, executed like any other.
//! Local hosts found under `.runner/<plan>/hosts/` that the state does not
//! record (the state was lost or cannot be read, or a crash came between
//! creating and recording) are stopped too; an EC2 plan's instances are
//! also found by their tags.

use std::path::Path;

use crate::diff::{self, Changes};
use crate::error::{Error, Result};
use crate::exec::{self, Applied, Options};
use crate::exit::Exit;
use crate::graph::{self, Graph};
use crate::plan::model::Ec2Config;
use crate::provider::local;
use crate::reporter::Reporter;
use crate::state::lock::Lock;
use crate::state::{Op, Paths, State, Store, TrialStatus};

pub fn run(path: &Path, yes: bool, parallelism: usize) -> Result<Exit> {
    let name = super::plan_name(path)?;
    let paths = Paths::here(&name);
    let reporter = Reporter::default();
    let _lock = Lock::acquire(&paths.lock(), "destroyed")?;
    let (mut store, unreadable) = open(&paths, || plan_is_ec2(path), &reporter)?;
    let rt = super::runtime()?;
    let target = Target::find(path, &name, &paths, &store.state, &rt)?;
    if target.is_empty() {
        remove_namespaces(&paths, &reporter);
        crate::out::outln!("Nothing to destroy: the state of `{name}` records no hosts.");
        let _ = fs_err::remove_file(paths.saved_plan());
        set_aside(&paths, unreadable.as_ref(), &reporter);
        return Ok(Exit::Success);
    }
    crate::out::outln!("{}.", target.describe(&store.state, &name));
    if !super::confirm("Destroy them?", yes)? {
        crate::out::errln!("Destroy cancelled.");
        return Ok(Exit::Failure);
    }
    let _ = fs_err::remove_file(paths.saved_plan());
    stop_armed_trial(&mut store, &name, &rt, &reporter)?;
    // A namespaced plan's network goes at once, before its hosts.
    crate::provider::netns::remove_hub(&paths.name, &paths.dir());
    let opts = Options {
        parallelism,
        keep_going_without_state: true,
        baseline: None,
        label: None,
    };
    let mut applied = rt.block_on(exec::execute(
        &target.graph,
        &target.changes,
        &mut store,
        &opts,
        &reporter,
    ));
    stop_unrecorded(&paths, &target.unrecorded, &mut applied, &reporter);
    if applied.complete()
        && let Some(config) = &target.ec2
    {
        delete_shared(
            config,
            &name,
            &paths,
            &mut store,
            &rt,
            &mut applied,
            &reporter,
        );
    }
    reporter.summary("Destroy", &applied);
    if !applied.complete() {
        return Ok(Exit::Failure);
    }
    remove_namespaces(&paths, &reporter);
    // Empty folders of the plan go too; keys and logs stay.
    let _ = fs_err::remove_dir(paths.hosts_dir());
    set_aside(&paths, unreadable.as_ref(), &reporter);
    Ok(Exit::Success)
}

/// The plan's network namespaces (hub, hosts a kill left), whatever the
/// state says.
fn remove_namespaces(paths: &Paths, reporter: &Reporter) {
    let gone = crate::provider::netns::remove_plan(&paths.name, &paths.dir());
    if !gone.is_empty() {
        reporter.line(format!(
            "  - network namespaces {}: removed",
            gone.join(", ")
        ));
    }
}

/// The state to destroy from. A state that cannot be written (a full
/// disk) does not stop a destroy; nor does one that cannot be read: then
/// the state file alone (without its journal) if that reads, else an empty
/// state in memory — the hosts are found under `.runner/<plan>/hosts/` and
/// by their cloud tags — and the error, said now and again at the end.
/// A state a newer runner wrote is refused: this one would neither know
/// all it records nor keep it.
fn open(
    paths: &Paths,
    plan_is_ec2: impl Fn() -> bool,
    reporter: &Reporter,
) -> Result<(Store, Option<crate::state::Error>)> {
    let e = match Store::open(paths) {
        Ok(store) => return Ok((store, None)),
        Err(e @ crate::state::Error::Newer { .. }) => return Err(e.into()),
        Err(e) => e,
    };
    if !e.is_unreadable() {
        reporter.line(format!(
            "error: {e}; destroying all the same from the state as read"
        ));
        if let Ok(store) = Store::read_only(paths) {
            return Ok((store, None));
        }
    }
    let (state, from) = match State::load_file_only(paths) {
        Ok(s) if !s.hosts.is_empty() => (s, "what the state file alone records".to_string()),
        _ if plan_is_ec2() => (
            State::empty(&paths.name),
            "what the EC2 tags find".to_string(),
        ),
        _ => (
            State::empty(&paths.name),
            format!(
                "every local host under {}",
                crate::paths::shown(&paths.hosts_dir())
            ),
        ),
    };
    reporter.line(format!("error: {e}; destroying {from}"));
    Ok((Store::detached_with(paths, state), Some(e)))
}

/// After a destroy from an unreadable state, the state is what destroy
/// made it (empty); the files that could not be read are kept aside.
fn set_aside(paths: &Paths, unreadable: Option<&crate::state::Error>, reporter: &Reporter) {
    let Some(e) = unreadable else { return };
    let stamp = crate::trial::new_id_at(std::time::SystemTime::now());
    let mut kept = Vec::new();
    for file in [paths.state(), paths.journal()] {
        let mut aside = file.clone().into_os_string();
        aside.push(format!(".unreadable-{stamp}"));
        if file.exists() && fs_err::rename(&file, &aside).is_ok() {
            kept.push(crate::paths::shown(Path::new(&aside)));
        }
    }
    let written = Store::open(paths).and_then(|mut s| s.finish());
    reporter.line(format!(
        "warning: the state could not be read ({e}); {} kept as {}; {}",
        if kept.len() == 1 { "it is" } else { "they are" },
        kept.join(" and "),
        match written {
            Ok(()) => "the plan's state is empty now".to_string(),
            Err(e) => format!("an empty state could not be written: {e}"),
        }
    ));
}

/// Everything a destroy removes.
struct Target {
    graph: Graph,
    changes: Changes,
    /// Local hosts found under `.runner/<plan>/hosts/` that the state does
    /// not record (folder names).
    unrecorded: Vec<String>,
    /// An EC2 plan's region and endpoint.
    ec2: Option<Ec2Config>,
    /// Whether the key pair or security group runner made for it is left.
    shared_left: bool,
}

impl Target {
    fn find(
        path: &Path,
        name: &str,
        paths: &Paths,
        state: &State,
        rt: &tokio::runtime::Runtime,
    ) -> Result<Target> {
        // EC2: where the plan's instances are (the plan's `[provider]` if it
        // still validates, else what the state recorded).
        let base = std::env::current_dir()?;
        let full_plan = crate::plan::load(path, &base).ok().map(|(p, _)| p);
        let ec2 = crate::provider::ec2_config(full_plan.as_ref(), state);
        let graph = graph::compile(empty_plan(name, path, ec2.clone()))
            .map_err(|_| Error::msg("cannot build the destroy graph"))?;
        // One tag query finds the instances no state records (the state was
        // lost, or a crash came between launching and recording).
        let mut refresh = match &ec2 {
            Some(_) => crate::provider::refresh(state, paths, full_plan.as_ref()).map_err(|e| {
                Error::msg(format!("finding the instances of `{name}`: {e}"))
                    .help("nothing was destroyed; fix the cause and run destroy again")
            })?,
            None => Default::default(),
        };
        refresh.gone.clear();
        let changes = diff::diff(&graph, state, &refresh, false);
        // What runner made for an EC2 plan as a whole (a key pair, a security
        // group), recorded or found by name when the state was lost.
        let shared_left = match &ec2 {
            Some(config) => !rt
                .block_on(crate::provider::ec2::delete_shared(
                    config,
                    name,
                    paths,
                    state.ec2.as_ref(),
                    true,
                ))
                .map_err(|e| Error::msg(format!("finding what runner made for `{name}`: {e}")))?
                .is_empty(),
            None => false,
        };
        Ok(Target {
            graph,
            changes,
            unrecorded: unrecorded(paths, state),
            ec2,
            shared_left,
        })
    }

    fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.unrecorded.is_empty() && !self.shared_left
    }

    /// `runner will destroy 3 hosts and forget 4 steps of plan `x`, and …`
    fn describe(&self, state: &State, name: &str) -> String {
        let mut text = format!(
            "runner will destroy {} hosts and forget {} steps of plan `{name}`",
            state.hosts.len(),
            state.steps.len()
        );
        let n_orphans = self
            .changes
            .changes
            .iter()
            .filter(|c| matches!(c.work, crate::diff::Work::DestroyOrphan(_)))
            .count();
        if n_orphans > 0 {
            text.push_str(&format!(
                ", and terminate {n_orphans} instances tagged with the plan that the state does not record"
            ));
        }
        if self.shared_left {
            text.push_str(", and delete the key pair and security group runner made for it");
        }
        if !self.unrecorded.is_empty() {
            text.push_str(&format!(
                ", and stop {} local hosts the state does not record ({})",
                self.unrecorded.len(),
                self.unrecorded.join(", ")
            ));
        }
        let pages = state
            .nodes
            .values()
            .filter(|n| n.published.is_some())
            .count();
        if pages > 0 {
            text.push_str(&format!(
                " (the {} it published stay{} where {} published)",
                crate::style::plural(pages, "page"),
                if pages == 1 { "s" } else { "" },
                if pages == 1 { "it was" } else { "they were" }
            ));
        }
        text
    }
}

/// A plan with no hosts: destroying is the diff against it.
fn empty_plan(name: &str, path: &Path, ec2: Option<Ec2Config>) -> crate::plan::Plan {
    crate::plan::Plan {
        name: name.to_string(),
        file: path.to_path_buf(),
        file_hash: String::new(),
        provider: crate::provider::kind_for_leftovers(ec2.is_some()),
        workdir: None,
        ec2,
        network: Default::default(),
        vars: Default::default(),
        groups: Vec::new(),
        steps: Vec::new(),
        monitors: Vec::new(),
        tests: Vec::new(),
        collects: Vec::new(),
        analyses: Vec::new(),
        checks: Vec::new(),
        series: None,
        publishes: Vec::new(),
    }
}

/// Folders under `.runner/<plan>/hosts/` that no host of the state owns.
fn unrecorded(paths: &Paths, state: &State) -> Vec<String> {
    local::host_dirs(paths)
        .into_iter()
        .filter(|dir| !state.hosts.values().any(|h| h.dir() == Some(dir.as_path())))
        .map(|d| {
            d.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect()
}

fn stop_unrecorded(paths: &Paths, names: &[String], applied: &mut Applied, reporter: &Reporter) {
    for orphan in names {
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
            Err(e) => applied.failures.push(exec::Failure {
                host: orphan.clone(),
                what: "destroying a host the state does not record".into(),
                message: e.to_string(),
                log: None,
            }),
        }
    }
}

/// The key pair and security group runner made for an EC2 plan.
fn delete_shared(
    config: &Ec2Config,
    name: &str,
    paths: &Paths,
    store: &mut Store,
    rt: &tokio::runtime::Runtime,
    applied: &mut Applied,
    reporter: &Reporter,
) {
    let deleted = rt.block_on(crate::provider::ec2::delete_shared(
        config,
        name,
        paths,
        store.state.ec2.as_ref(),
        false,
    ));
    match deleted {
        Ok(done) => {
            for d in done {
                reporter.line(format!("  - {d}: deleted"));
            }
            if let Err(e) = store.record(Op::Ec2 { ec2: None }) {
                reporter.line(format!("error: {e}"));
            }
        }
        Err(e) => applied.failures.push(exec::Failure {
            host: "-".into(),
            what: "deleting the key pair and security group".into(),
            message: e.to_string(),
            log: None,
        }),
    }
}

/// A trial armed by an interrupted apply is stopped, not waited for: its
/// monitors and armed tests are detached from every session.
fn stop_armed_trial(
    store: &mut Store,
    name: &str,
    rt: &tokio::runtime::Runtime,
    reporter: &Reporter,
) -> Result<()> {
    let Some(t) = store
        .state
        .trial
        .clone()
        .filter(|t| t.status == TrialStatus::Armed)
    else {
        return Ok(());
    };
    let tag = crate::trial::Trial::read(&crate::paths::trials_dir(name).join(&t.id))
        .map_or_else(|_| t.id.clone(), |tr| tr.process_tag());
    let stopped = rt.block_on(stop_trial(&store.state, &tag));
    reporter.line(format!(
        "trial {}: armed by an interrupted apply; its processes were stopped on {stopped} hosts",
        t.id
    ));
    let mut done = t;
    done.status = TrialStatus::Abandoned;
    store.record(Op::Trial { trial: done })?;
    Ok(())
}

fn plan_is_ec2(path: &Path) -> bool {
    let base = std::env::current_dir().unwrap_or_default();
    crate::plan::load(path, &base).is_ok_and(|(p, _)| p.ec2.is_some())
}

/// Stops the processes of a trial (its `RUNNER_TRIAL` tag) on every host
/// of the state that can be reached; how many were.
async fn stop_trial(state: &State, id: &str) -> usize {
    let mut set = tokio::task::JoinSet::new();
    for (name, h) in &state.hosts {
        if h.status != crate::state::HostStatus::Ready {
            continue;
        }
        let target = crate::exec::target(name, h);
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
