//! What a fault tester broke in series: an interrupted trial finished
//! after the series went on with other slots must keep its own slot and
//! hash (else the next plan wants the whole series again); a series trial
//! whose outputs could not be stored (a full disk) is fetched in place,
//! never run again nor listed twice.

use std::io::{BufRead as _, BufReader};
use std::time::{Duration, Instant};

use crate::common::{Project, kill};

fn plan(xs: &str) -> String {
    format!(
        r#"name = "sf"
[groups.h]
count = 2
[series]
repeat = 3
order = "in-order"
[series.vars]
x = [{xs}]
[[test]]
name = "t"
on = ["h"]
run = """
sleep 0.4
printf 'v\n{{{{ vars.x }}}}\n' > {{{{ out }}}}/v.csv
"""
[[analyze]]
name = "val"
parser = "csv"
files = "*/t/v.csv"
formats = ["csv"]
"#
    )
}

fn series_json(p: &Project) -> serde_json::Value {
    let dir = std::fs::read_dir(p.path().join("trials/sf"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("series-"))
        .max()
        .unwrap();
    serde_json::from_str(&p.read(&format!("trials/sf/{dir}/series.json"))).unwrap()
}

/// Killed -9 at one of many moments mid-series, a value added, applied
/// again: every slot once, with its own trial, and `runner plan` has
/// nothing to do.
#[test]
fn a_trial_finished_after_new_ones_keeps_its_own_slot() {
    for round in 0..6u64 {
        let p = Project::new();
        p.write("plan.toml", &plan("1, 2"));
        let mut child = p.command(&["apply", "plan.toml", "--yes"]).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(90);
        let wanted = 1 + round % 5;
        let mut armed = 0;
        for line in BufReader::new(stderr).lines() {
            if line.unwrap().contains(" armed on ") {
                armed += 1;
                if armed == wanted {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: never armed {wanted} times"
            );
        }
        std::thread::sleep(Duration::from_millis(round * 60 % 350));
        kill(child.id(), "KILL");
        let _ = child.wait();
        p.write("plan.toml", &plan("1, 2, 3"));
        let r = p.run(&["apply", "plan.toml", "--yes"]);
        assert_eq!(r.code, 0, "round {round}: {r:?}");
        let again = p.run(&["plan", "plan.toml", "--detailed-exitcode"]);
        assert_eq!(
            again.code, 0,
            "round {round}: nothing left to do: {again:?}"
        );
        let s = series_json(&p);
        let trials = s["trials"].as_array().unwrap();
        let mut slots: Vec<(&str, u64)> = trials
            .iter()
            .filter(|t| t["status"] == "complete")
            .map(|t| {
                (
                    t["point"].as_str().unwrap(),
                    t["repetition"].as_u64().unwrap(),
                )
            })
            .collect();
        slots.sort_unstable();
        let n = slots.len();
        slots.dedup();
        assert_eq!(slots.len(), n, "round {round}: a slot twice: {s:#}");
        assert_eq!(n, 9, "round {round}: {s:#}");
        p.run(&["destroy", "plan.toml", "--yes"]).ok();
    }
}

const BIG: &str = r#"name = "sd"
[groups.h]
count = 2
[series]
repeat = 2
[series.vars]
x = [1]
[[test]]
name = "w"
on = ["h"]
run = "head -c 1500000 /dev/zero > {{ out }}/big.bin"
timeout = "30s"
"#;

/// A full disk: the series' trials whose outputs could not be stored are
/// fetched in place by the next apply — not run again, not listed twice —
/// and then nothing is left to do.
#[test]
fn a_series_trial_that_could_not_be_stored_is_fetched_in_place() {
    let p = Project::new();
    p.write("plan.toml", BIG);
    let bin = crate::common::BIN;
    let script = format!(
        r#"mkdir -p trials && mount -t tmpfs -o size=2m tmpfs trials || exit 99
"{bin}" apply plan.toml --yes > a1.out 2>&1; echo $? > a1.rc
"{bin}" plan plan.toml > p1.out 2>&1
mount -o remount,size=50m trials
"{bin}" apply plan.toml --yes > a2.out 2>&1; echo $? > a2.rc
"{bin}" plan plan.toml --detailed-exitcode > p2.out 2>&1; echo $? > p2.rc
cp -r trials kept
"{bin}" destroy plan.toml --yes > d.out 2>&1
exit 0"#
    );
    p.in_private_mounts(&script);
    let (a1, p1, a2, p2) = (
        p.read("a1.out"),
        p.read("p1.out"),
        p.read("a2.out"),
        p.read("p2.out"),
    );
    assert_eq!(p.read("a1.rc").trim(), "1", "{a1}");
    assert!(
        a1.contains("No space left on device") || a1.contains("os error 28"),
        "{a1}"
    );
    assert!(
        p1.contains("fetch the outputs of trial"),
        "the next plan fetches: {p1}"
    );
    assert!(!p1.contains("+ trial"), "no trial runs again: {p1}");
    assert_eq!(p.read("a2.rc").trim(), "0", "{a2}");
    assert_eq!(p.read("p2.rc").trim(), "0", "nothing left to do: {p2}");
    let series = std::fs::read_dir(p.path().join("kept/sd"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("series-"))
        .unwrap();
    let s: serde_json::Value =
        serde_json::from_str(&p.read(&format!("kept/sd/{series}/series.json"))).unwrap();
    let trials = s["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 2, "each slot once: {s:#}");
    assert!(trials.iter().all(|t| t["status"] == "complete"), "{s:#}");
    for t in trials {
        let id = t["id"].as_str().unwrap();
        let big = p.path().join(format!("kept/sd/{id}/h-1/w/big.bin"));
        assert_eq!(
            std::fs::metadata(&big).map(|m| m.len()).unwrap_or(0),
            1_500_000,
            "{id}"
        );
    }
}
