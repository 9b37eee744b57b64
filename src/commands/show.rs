//! `runner show [PLAN] [--json]`: what the state records.

use std::path::Path;

use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::state::{Paths, State};

/// The version of `runner show --json`'s document; bumped on incompatible changes.
const SHOW_VERSION: u32 = 1;

pub fn run(plan: Option<&Path>, json: bool) -> Result<Exit> {
    let name = match plan {
        Some(p) => super::plan_name(p)?,
        None => only_state()?,
    };
    let paths = Paths::here(&name);
    let state = State::load(&paths)?;
    let trial = last_trial(&name, &state);
    let series = last_series(&name, &state);
    let instances = instances(&state, &paths);
    if json {
        let doc = serde_json::json!({
            "runner_show": SHOW_VERSION,
            "plan": name,
            "state_serial": state.serial,
            "hosts": state.hosts,
            "steps": state.steps,
            "instances": instances,
            "trial": trial,
            "series": series,
        });
        crate::out::outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(Exit::Success);
    }
    crate::out::outln!(
        "plan `{name}`: {} hosts, {} steps applied (state serial {})",
        state.hosts.len(),
        state.steps.len(),
        state.serial
    );
    for (host, h) in &state.hosts {
        let steps = state.steps.values().filter(|s| &s.host == host).count();
        let pid = h.pid().map_or(String::new(), |p| format!(" pid {p}"));
        crate::out::outln!(
            "  {host:<16} {}@{}:{}{pid}  {:?}, {steps} steps",
            h.user,
            h.address,
            h.port,
            h.status
        );
    }
    for i in &instances {
        crate::out::outln!(
            "  {:<16} {} {:<9} {:<13} {:<15} expires {}",
            i["host"].as_str().unwrap_or(""),
            i["id"].as_str().unwrap_or(""),
            i["market"].as_str().unwrap_or(""),
            i["state"].as_str().unwrap_or(""),
            i["address"].as_str().unwrap_or(""),
            i["expires"].as_str().unwrap_or(""),
        );
    }
    if let Some(t) = &trial {
        print_trial(t);
    }
    if let Some(s) = &series {
        crate::out::outln!(
            "series {}: {} of {} trials done, in {}",
            s["id"].as_str().unwrap_or(""),
            s["done"],
            s["planned"],
            s["dir"].as_str().unwrap_or("")
        );
    }
    Ok(Exit::Success)
}

/// The last trial: its id, status and folder, its tests, its tables.
fn print_trial(t: &serde_json::Value) {
    crate::out::outln!(
        "last trial {} ({}) in {}",
        t["id"].as_str().unwrap_or(""),
        t["status"].as_str().unwrap_or(""),
        t["dir"].as_str().unwrap_or("")
    );
    for test in t["tests"].as_array().into_iter().flatten() {
        crate::out::outln!(
            "  test {}: {} hosts, {} succeeded, start skew {}",
            test["name"].as_str().unwrap_or(""),
            test["hosts"],
            test["succeeded"],
            test["skew_ms"]
                .as_f64()
                .map_or("-".to_string(), |s| format!("{s:.1} ms"))
        );
    }
    for table in t["tables"].as_array().into_iter().flatten() {
        crate::out::outln!("  table {}", table.as_str().unwrap_or(""));
    }
}

/// The series the state records: id, trials done of planned, folder.
fn last_series(plan: &str, state: &State) -> Option<serde_json::Value> {
    let r = state.series.as_ref()?;
    let dir = crate::paths::trials_dir(plan).join(&r.id);
    let file = crate::series::SeriesFile::read(&dir).ok();
    let done = r.trials.values().filter(|t| t.status.has_results()).count();
    Some(serde_json::json!({
        "id": r.id,
        "dir": crate::paths::shown(&dir),
        "done": done,
        "planned": file.as_ref().map_or(done, |f| f.planned.len()),
        "trials": r.trials,
    }))
}

/// The EC2 instances of the state, with their state now (one tag query;
/// `unknown` when EC2 cannot be asked, `terminated` when it is gone).
fn instances(state: &State, paths: &Paths) -> Vec<serde_json::Value> {
    let ec2: Vec<(
        &String,
        &crate::state::HostState,
        &crate::state::Ec2Instance,
    )> = state
        .hosts
        .iter()
        .filter_map(|(n, h)| Some((n, h, h.ec2()?)))
        .collect();
    if ec2.is_empty() {
        return Vec::new();
    }
    let live = crate::provider::refresh(state, paths, None);
    if let Err(e) = &live {
        crate::out::errln!("warning: cannot ask EC2 for the instances' state: {e}");
    }
    ec2.into_iter()
        .map(|(name, h, e)| {
            let id = e.id.clone().unwrap_or_default();
            let now = match &live {
                Err(_) => "unknown".to_string(),
                Ok(r) => r
                    .tagged
                    .iter()
                    .find(|t| t.id == id)
                    .map_or_else(|| "terminated".to_string(), |t| t.state.clone()),
            };
            serde_json::json!({
                "host": name,
                "id": id,
                "address": h.address,
                "private_address": e.private_address,
                "instance_type": e.instance_type,
                "market": e.market,
                "state": now,
                "expires": e.expires,
            })
        })
        .collect()
}

/// The last trial as `show` reports it: id, status, folder, per test hosts,
/// succeeded and skew, and the tables written.
fn last_trial(plan: &str, state: &State) -> Option<serde_json::Value> {
    let record = state.trial.as_ref()?;
    let dir = crate::paths::trials_dir(plan).join(&record.id);
    let trial = crate::trial::Trial::read(&dir).ok();
    let tests: Vec<serde_json::Value> = trial
        .iter()
        .flat_map(|t| &t.tests)
        .map(|t| {
            serde_json::json!({
                "name": t.name,
                "hosts": t.hosts.len(),
                "succeeded": t.hosts.values().filter(|r| r.succeeded()).count(),
                "skew_ms": t.skew_ms,
            })
        })
        .collect();
    let mut tables: Vec<String> = fs_err::read_dir(dir.join("analysis"))
        .map(|d| {
            d.flatten()
                .map(|e| crate::paths::shown(&e.path()))
                .filter(|p| !p.ends_with(".sources.txt"))
                .collect()
        })
        .unwrap_or_default();
    tables.sort();
    Some(serde_json::json!({
        "id": record.id,
        "status": trial.as_ref().map_or(record.status, |t| t.status).name(),
        "dir": crate::paths::shown(&dir),
        "tests": tests,
        "tables": tables,
    }))
}

fn only_state() -> Result<String> {
    let mut names = Vec::new();
    if let Ok(entries) = fs_err::read_dir(".runner") {
        for e in entries.flatten() {
            if let Some(n) = e
                .file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".state.json"))
            {
                names.push(n.to_string());
            }
        }
    }
    match names.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::msg("no state in .runner/").help("run `runner apply PLAN` first")),
        _ => Err(Error::msg(format!(
            "several plans have state here: {}",
            names.join(", ")
        ))
        .help("name the plan: `runner show PLAN`")),
    }
}
