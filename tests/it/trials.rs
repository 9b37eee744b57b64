//! Trials end to end on local hosts: monitors, tests armed to one start
//! time, collection, analysis; partial trials, passed start times, reattach
//! after kill -9, collection that refuses to leave the trial.

use std::io::{BufRead as _, BufReader};
use std::time::{Duration, Instant};

use crate::common::*;

/// Two adjacent free ports below the ephemeral range (so that no outgoing
/// connection of another test takes one between now and iperf3's bind).
pub fn free_port() -> u16 {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    for i in 0..1000u32 {
        let port = 20000 + ((seed / 7 + i * 97) % 10000) as u16;
        let a = std::net::TcpListener::bind(("127.0.0.1", port));
        let b = std::net::TcpListener::bind(("127.0.0.1", port + 1));
        if a.is_ok() && b.is_ok() {
            return port;
        }
    }
    panic!("no two free ports in 20000..30000");
}

fn trials(p: &Project, plan: &str) -> Vec<String> {
    p.run_folders(plan)
}

fn trial_json(p: &Project, plan: &str, id: &str) -> serde_json::Value {
    serde_json::from_str(&p.read(&format!("trials/{plan}/{id}/trial.json"))).unwrap()
}

fn running(cmdline: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").trim() == cmdline)
    })
}

fn iperf_plan(name: &str, base: u16) -> String {
    format!(
        r#"name = "{name}"
[vars]
base = {base}
[groups.server]
count = 1
[groups.client]
count = 2

[[step]]
name = "logs"
on = ["server"]
run = "mkdir -p logs && echo configured > logs/setup.txt"

[[monitor]]
name = "iperf-server"
on = ["server"]
run = "for i in 0 1; do iperf3 -s -p $(( {{{{ vars.base }}}} + i )) -J > {{{{ out }}}}/server-$i.json & done; wait"
stop_timeout = "3s"

[[monitor]]
name = "ticks"
on = ["server"]
run = "while :; do date +%s.%N; sleep 0.1; done"

[[test]]
name = "tcp"
on = ["client"]
at = "+1s"
run = "iperf3 -c {{{{ groups.server[0].address }}}} -p {{{{ vars.base + host.index }}}} -t 1 -J"
timeout = "30s"

[[collect]]
name = "logs"
on = ["server"]
files = ["logs/*.txt"]

[[analyze]]
name = "throughput"
parser = "iperf3"
files = "*/tcp/stdout"
by = ["host"]
formats = ["csv", "markdown"]
"#
    )
}

#[test]
fn a_trial_arms_tests_on_one_clock_then_collects_and_analyses() {
    let p = Project::new();
    let base = free_port();
    p.write("plan.toml", &iperf_plan("tri", base));
    let shown = p.run(&["plan", "plan.toml"]);
    shown.ok();
    for line in [
        "+ trial  (tests tcp on 2 hosts; monitors iperf-server, ticks on 1 host → trials/tri/<new id>)",
        "+ test tcp  (client[0..1] at +1s)",
        "+ collect logs  (server[0])",
        "+ analyze throughput  (iperf3)",
    ] {
        assert!(shown.stdout.contains(line), "{line}\n{shown:?}");
    }
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    r.ok();
    assert!(
        r.stderr
            .contains("test tcp: 2 hosts, 2 succeeded, start skew"),
        "{r:?}"
    );
    let ids = trials(&p, "tri");
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = &ids[0];
    let t = trial_json(&p, "tri", id);
    assert_eq!(t["status"], "complete", "{t}");
    let test = &t["tests"][0];
    let armed = test["armed_at"].as_f64().unwrap();
    let mut on_time = true;
    for host in ["client[0]", "client[1]"] {
        let run = &test["hosts"][host];
        assert_eq!(run["exit_code"], 0, "{t}");
        let start = run["start"].as_f64().unwrap();
        let arrived = run["arrived"].as_f64().unwrap();
        // Started at its armed time by the host's clock, never before; not
        // much after when the arming reached the host in time (on a loaded
        // machine it may not: then the lateness is said, with its reason).
        assert!(
            start >= armed - 0.001 && arrived < start,
            "{start} vs {armed}"
        );
        if arrived < armed - 0.3 {
            assert!(start < armed + 0.5, "{start} vs {armed}, arrived {arrived}");
        } else {
            on_time = false;
        }
        if start > armed + 0.05 {
            let said = format!("warning: test tcp on {host} started");
            assert!(r.stderr.contains(&said), "{said}\n{r:?}");
            if arrived > armed {
                assert!(r.stderr.contains("give `at` more lead"), "{r:?}");
            }
        }
        assert!(t["hosts"][host]["rtt_ms"].as_f64().unwrap() > 0.0);
    }
    let skew = test["skew_ms"].as_f64().unwrap();
    if on_time {
        assert!(skew < 100.0, "skew {skew} ms");
    }
    // Monitors were stopped (no iperf3 server left) and their output collected.
    assert!(
        !running(&format!("iperf3 -s -p {base} -J")),
        "a monitor is still running"
    );
    let ticks = p.read(&format!("trials/tri/{id}/server-0/ticks/stdout"));
    assert!(ticks.lines().count() >= 10, "{ticks}");
    assert!(
        p.path()
            .join(format!("trials/tri/{id}/server-0/iperf-server/stopped"))
            .exists()
    );
    assert!(
        p.read(&format!(
            "trials/tri/{id}/server-0/iperf-server/server-0.json"
        ))
        .contains("\"end\"")
    );
    assert_eq!(
        p.read(&format!("trials/tri/{id}/server-0/logs/logs/setup.txt")),
        "configured\n"
    );
    // The manifest holds every collected file with its sha256.
    let manifest = p.read(&format!("trials/tri/{id}/manifest"));
    let line = manifest
        .lines()
        .find(|l| l.ends_with("  client-0/tcp/stdout"))
        .unwrap_or_else(|| panic!("{manifest}"));
    let out = std::process::Command::new("sha256sum")
        .arg(
            p.path()
                .join(format!("trials/tri/{id}/client-0/tcp/stdout")),
        )
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&line[..64]));
    // The table: one row per client, with real figures.
    let table = p.read(&format!("trials/tri/{id}/analysis/throughput.csv"));
    assert_eq!(table.lines().count(), 3, "{table}");
    assert!(table.contains("client[1],TCP"), "{table}");

    // Nothing changed: no new trial.
    let again = p.run(&["plan", "plan.toml", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.contains("No changes."), "{again:?}");

    // Only the analysis changed: re-rendered from the same trial, no test run.
    p.write(
        "plan.toml",
        &iperf_plan("tri", base).replace("by = [\"host\"]", "by = []"),
    );
    let plan = p.run(&["plan", "plan.toml"]);
    assert!(
        plan.stdout.contains(&format!(
            "~ analyze throughput  (iperf3; re-render from trial {id})"
        )),
        "{plan:?}"
    );
    // …and the report that shows it.
    assert!(
        plan.stdout.contains("Plan: 0 to add, 2 to change")
            && plan
                .stdout
                .contains("~ report  (report.html; its tables are re-rendered)"),
        "{plan:?}"
    );
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    assert_eq!(trials(&p, "tri").len(), 1);
    let table = p.read(&format!("trials/tri/{id}/analysis/throughput.csv"));
    assert_eq!(table.lines().count(), 2, "merged into one row: {table}");

    // Only a collect changed: re-collected into the same trial.
    p.write(
        "plan.toml",
        &iperf_plan("tri", base)
            .replace("by = [\"host\"]", "by = []")
            .replace(
                "files = [\"logs/*.txt\"]",
                "files = [\"logs/*.txt\", \"logs/*.csv\"]",
            ),
    );
    let plan = p.run(&["plan", "plan.toml"]);
    assert!(plan.stdout.contains("~ collect logs"), "{plan:?}");
    assert!(!plan.stdout.contains("trial  ("), "{plan:?}");
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    assert_eq!(trials(&p, "tri").len(), 1);

    // A repetition on purpose.
    let r = p.run(&["apply", "plan.toml", "--yes", "--new-trial"]);
    r.ok();
    assert_eq!(trials(&p, "tri").len(), 2);
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

#[test]
fn a_failing_host_makes_a_partial_trial_that_is_still_collected() {
    let p = Project::new();
    p.write(
        "plan.toml",
        r#"name = "part"
[groups.client]
count = 3
[[test]]
name = "work"
on = ["client"]
at = "+1s"
run = "printf 'host,value\\n{{ host.index }},1\\n' > {{ out }}/result.csv; if [ {{ host.index }} = 1 ]; then echo boom >&2; exit 3; fi"
[[monitor]]
name = "dies"
on = ["client[0]"]
run = "echo cannot start >&2; exit 3"
[[monitor]]
name = "lives"
on = ["client"]
run = "sleep 600"
[[test]]
name = "slow"
on = ["client[2]"]
at = "+1s"
run = "sleep 30"
timeout = "1s"
[[analyze]]
name = "results"
parser = "csv"
files = "*/work/result.csv"
"#,
    );
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("test work: 3 hosts, 2 succeeded"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("failed: test `work` on `client[1]`: exit status 3"),
        "{r:?}"
    );
    assert!(r.stderr.contains("client-1/work/stderr"), "{r:?}");
    assert!(
        r.stderr
            .contains("failed: test `slow` on `client[2]`: timed out after 1 s"),
        "{r:?}"
    );
    let id = trials(&p, "part").pop().unwrap();
    let t = trial_json(&p, "part", &id);
    assert_eq!(t["status"], "partial");
    // Everything produced was still collected, the failing host's too.
    for h in 0..3 {
        assert_eq!(
            p.read(&format!("trials/part/{id}/client-{h}/work/result.csv")),
            format!("host,value\n{h},1\n")
        );
    }
    assert_eq!(
        p.read(&format!("trials/part/{id}/client-1/work/stderr")),
        "boom\n"
    );
    // A partial trial is a finished one: no new trial unless asked.
    let again = p.run(&["plan", "plan.toml", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{again:?}");
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

#[test]
fn a_start_time_that_has_passed_is_an_error_before_anything_starts() {
    let p = Project::new();
    let plan = |at: &str| {
        format!(
            r#"name = "late"
[groups.server]
count = 1
[[monitor]]
name = "mark"
on = ["server"]
run = "touch ../../monitor-started; sleep 60"
[[test]]
name = "t"
on = ["server"]
at = "{at}"
run = "touch ../../test-ran"
"#
        )
    };
    p.write("plan.toml", &plan("2020-01-01T00:00:00Z"));
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("error: test `t` is set to start at 2020-01-01T00:00:00.000Z, which has passed; nothing was started"),
        "{r:?}"
    );
    assert!(p.sshd_pids().is_empty(), "hosts were created");
    // A time that passes between `plan` and `apply`: still refused before anything starts.
    let soon = std::time::SystemTime::now() + Duration::from_secs(3);
    let soon = humantime_rfc3339(soon);
    p.write("plan.toml", &plan(&soon));
    p.run(&["plan", "plan.toml", "-o", "s.plan"]).ok();
    std::thread::sleep(Duration::from_secs(4));
    let r = p.run(&["apply", "s.plan"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("which has passed"), "{r:?}");
    let work = p.path().join(".runner/late/hosts/server-0/work");
    assert!(!work.join("../../monitor-started").exists());
    assert!(!work.join("../../test-ran").exists());
    assert!(trials(&p, "late").is_empty());
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

/// `2026-11-23T18:00:00Z`, from the system clock.
fn humantime_rfc3339(t: std::time::SystemTime) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d"])
        .arg(format!(
            "@{}",
            t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        ))
        .arg("+%Y-%m-%dT%H:%M:%SZ")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

const REATTACH_PLAN: &str = r#"name = "re"
[groups.client]
count = 2
[[monitor]]
name = "beat"
on = ["client"]
run = "while :; do date +%s.%N; sleep 0.2; done"
[[test]]
name = "count"
on = ["client"]
at = "+2s"
run = "echo ran >> runs.txt; sleep 1; echo done > {{ out }}/done.txt"
timeout = "20s"
"#;

/// Starts an apply of REATTACH_PLAN and kills it (-9) once its tests are armed.
fn kill_once_armed(p: &Project) {
    kill_once_armed_with(p, &["apply", "plan.toml", "--yes"]);
}

/// Runs `runner ARGS` and kills it (-9) once its tests are armed.
fn kill_once_armed_with(p: &Project, args: &[&str]) {
    let mut child = p.command(args).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut armed = false;
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if line.contains(" armed on ") {
            armed = true;
            break;
        }
        assert!(Instant::now() < deadline, "never armed");
    }
    kill(child.id(), "KILL");
    let _ = child.wait();
    assert!(armed, "the apply ended without arming a trial");
}

#[test]
fn kill_9_while_armed_reattaches_and_no_test_runs_twice() {
    let p = Project::new();
    p.write("plan.toml", REATTACH_PLAN);
    kill_once_armed(&p);
    let ids = trials(&p, "re");
    assert_eq!(ids.len(), 1);
    let shown = p.run(&["plan", "plan.toml"]);
    assert!(
        shown.stdout.contains(&format!(
            "~ trial {}  (finish the trial armed by an interrupted apply",
            ids[0]
        )),
        "{shown:?}"
    );
    // The armed tests run without runner; the next apply waits for them.
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    r.ok();
    assert!(
        r.stderr
            .contains(&format!("trial {}: finishing it", ids[0])),
        "{r:?}"
    );
    assert_eq!(
        r.stderr.matches("test count: 2 hosts, 2 succeeded").count(),
        1,
        "the reattached tests are reported once: {r:?}"
    );
    assert_eq!(trials(&p, "re"), ids, "a new trial was started");
    for h in ["client-0", "client-1"] {
        let runs = p.read(&format!(".runner/re/hosts/{h}/work/runs.txt"));
        assert_eq!(
            runs,
            "ran\n",
            "{h} ran the test {} times",
            runs.lines().count()
        );
        assert_eq!(
            p.read(&format!("trials/re/{}/{h}/count/done.txt", ids[0])),
            "done\n"
        );
    }
    assert_eq!(trial_json(&p, "re", &ids[0])["status"], "complete");
    assert!(
        !running("while :; do date +%s.%N; sleep 0.2; done"),
        "monitor left running"
    );
    assert_eq!(p.run(&["plan", "plan.toml", "--detailed-exitcode"]).code, 0);

    // Killed again, and back only after the tests' window has passed: still collected.
    let r = p.run(&["plan", "plan.toml", "--new-trial", "-o", "again.plan"]);
    r.ok();
    kill_once_armed_with(&p, &["apply", "again.plan"]);
    std::thread::sleep(Duration::from_secs(5));
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    let ids = trials(&p, "re");
    assert_eq!(ids.len(), 2);
    assert_eq!(trial_json(&p, "re", &ids[1])["status"], "complete");
    for h in ["client-0", "client-1"] {
        assert_eq!(
            p.read(&format!(".runner/re/hosts/{h}/work/runs.txt")),
            "ran\nran\n"
        );
    }
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

#[test]
fn collection_refuses_what_would_leave_the_trial_and_streams_big_files() {
    let p = Project::new();
    p.write(
        "plan.toml",
        r#"name = "col"
[groups.server]
count = 1
[[step]]
name = "files"
on = ["server"]
run = "mkdir -p logs/deep && echo ok > logs/ok.txt && echo deep > logs/deep/d.txt && ln -sf /etc/hostname logs/evil.txt && ln -sf ok.txt logs/inner.txt && ln -sf /nonexistent/x logs/dangling.txt && head -c 50000000 /dev/urandom > logs/big.bin"
[[test]]
name = "t"
on = ["server"]
run = "ln -s /etc/passwd {{ out }}/passwd"
[[collect]]
name = "logs"
on = ["server"]
files = ["logs/**"]
"#,
    );
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("`logs/evil.txt` is a symlink to /etc/hostname, outside"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("passwd` is a symlink to /etc/passwd, outside"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("`logs/dangling.txt` is a symlink to `/nonexistent/x` that does not resolve"),
        "{r:?}"
    );
    let id = trials(&p, "col").pop().unwrap();
    let dir = p.path().join(format!("trials/col/{id}/server-0"));
    assert_eq!(
        p.read(&format!("trials/col/{id}/server-0/logs/logs/ok.txt")),
        "ok\n"
    );
    assert_eq!(
        p.read(&format!("trials/col/{id}/server-0/logs/logs/inner.txt")),
        "ok\n"
    );
    assert_eq!(
        p.read(&format!("trials/col/{id}/server-0/logs/logs/deep/d.txt")),
        "deep\n"
    );
    assert!(!dir.join("logs/logs/evil.txt").exists());
    assert!(!dir.join("t/passwd").exists());
    let remote = std::fs::read(
        p.path()
            .join(".runner/col/hosts/server-0/work/logs/big.bin"),
    )
    .unwrap();
    let local = std::fs::read(dir.join("logs/logs/big.bin")).unwrap();
    assert!(remote == local, "the big file differs");
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

#[test]
fn an_iperf3_error_row_fails_the_apply() {
    let p = Project::new();
    // iperf3 -J exits 0 on some errors; the "error" in its JSON is the only sign.
    p.write(
        "plan.toml",
        r#"name = "err"
[groups.client]
count = 1
[[test]]
name = "tcp"
on = ["client"]
run = "echo '{\"start\": {\"test_start\": {\"protocol\": \"TCP\"}}, \"error\": \"unable to connect to server: Connection refused\"}'"
[[analyze]]
name = "throughput"
parser = "iperf3"
files = "*/tcp/stdout"
"#,
    );
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("test tcp: 1 host, 1 succeeded"), "{r:?}");
    assert!(
        r.stderr.contains("failed: analyze throughput: analysis `throughput`: all files: unable to connect to server"),
        "{r:?}"
    );
    let id = trials(&p, "err").pop().unwrap();
    assert!(
        p.read(&format!("trials/err/{id}/analysis/throughput.csv"))
            .contains("Connection refused")
    );
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

#[test]
fn an_armed_trial_is_finished_before_a_changed_plan_touches_its_hosts() {
    let p = Project::new();
    let plan = |v: &str| {
        format!(
            r#"name = "chg"
[groups.h]
count = 1
[[step]]
name = "setup"
on = ["h"]
run = "echo {v} > config"
[[test]]
name = "t"
on = ["h"]
at = "+3s"
run = "echo VERSION-{v} $(cat config) > {{{{ out }}}}/v"
"#
        )
    };
    p.write("plan.toml", &plan("A"));
    kill_once_armed(&p);
    // The plan changes while the trial is armed on the host.
    p.write("plan.toml", &plan("B"));
    let shown = p.run(&["plan", "plan.toml"]);
    let text = &shown.stdout;
    let finish = text.find("(finish the trial armed").expect(text);
    assert!(text.find("~ step setup").expect(text) > finish, "{text}");
    assert!(
        text.contains("+ trial  (tests t on 1 host; changed since trial"),
        "{text}"
    );
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    r.ok();
    let ids = trials(&p, "chg");
    assert_eq!(ids.len(), 2, "{ids:?}");
    // The armed trial ran as armed, before the step changed its host; then the new one.
    assert_eq!(
        p.read(&format!("trials/chg/{}/h-0/t/v", ids[0])),
        "VERSION-A A\n"
    );
    assert_eq!(
        p.read(&format!("trials/chg/{}/h-0/t/v", ids[1])),
        "VERSION-B B\n"
    );
    assert_eq!(p.run(&["plan", "plan.toml", "--detailed-exitcode"]).code, 0);
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

/// Processes of this machine whose environment carries the trial's
/// `RUNNER_TRIAL` tag (from its trial.json).
fn trial_processes(p: &Project, id: &str) -> Vec<u32> {
    let t: serde_json::Value =
        serde_json::from_str(&p.read(&format!("trials/re/{id}/trial.json"))).unwrap();
    let tag = t["tag"].as_str().unwrap().to_string();
    assert!(tag.starts_with(&format!("re-{id}-")), "{tag}");
    let needle = format!("RUNNER_TRIAL={tag}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == needle.as_bytes()))
                && alive(*pid)
        })
        .collect()
}

#[test]
fn an_armed_trial_that_cannot_be_finished_does_not_block_and_destroy_stops_one() {
    let p = Project::new();
    p.write("plan.toml", REATTACH_PLAN);
    kill_once_armed(&p);
    let id = trials(&p, "re").pop().unwrap();
    assert!(!trial_processes(&p, &id).is_empty(), "nothing armed");
    // destroy stops the armed trial's monitors and tests, not waiting for them.
    let d = p.run(&["destroy", "plan.toml", "--yes"]);
    d.ok();
    assert!(
        d.stderr.contains(&format!(
            "trial {id}: armed by an interrupted apply; its processes were stopped on 2 hosts"
        )),
        "{d:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !trial_processes(&p, &id).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        trial_processes(&p, &id).is_empty(),
        "left running after destroy"
    );
    // Fresh hosts, a fresh trial: nothing held up.
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    r.ok();
    assert_eq!(trials(&p, "re").len(), 2);

    // Armed again, and this time the hosts vanish (a reboot): finishing
    // fails, the trial is abandoned, and the apply goes on.
    kill_once_armed_with(&p, &["apply", "plan.toml", "--yes", "--new-trial"]);
    let id = trials(&p, "re").pop().unwrap();
    for pid in p.sshd_pids() {
        kill(pid, "KILL");
    }
    for pid in trial_processes(&p, &id) {
        kill(pid, "KILL");
    }
    std::thread::sleep(Duration::from_millis(300));
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains(&format!("trial {id} abandoned")), "{r:?}");
    assert!(r.stderr.contains("-/+ host client[0]"), "{r:?}");
    let ids = trials(&p, "re");
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert_eq!(trial_json(&p, "re", &ids[3])["status"], "complete");
    assert_eq!(p.run(&["plan", "plan.toml", "--detailed-exitcode"]).code, 0);
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

/// The test's shell is made before the start and only woken at it; the
/// start it records lies between the start time and its first instruction.
#[test]
fn a_test_is_ready_before_its_start_and_records_its_own_start() {
    let p = Project::new();
    p.write(
        "plan.toml",
        r#"name = "ready"
[groups.h]
count = 2
[[test]]
name = "t"
on = ["h"]
at = "+2s"
run = """
read -r up _ < /proc/uptime
read -r -a st < /proc/$$/stat
echo "$up ${st[21]}" > {{ out }}/age
date +%s.%N > {{ out }}/date
"""
"#,
    );
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    let id = trials(&p, "ready").pop().unwrap();
    let trial = trial_json(&p, "ready", &id);
    let target = trial["tests"][0]["armed_at"].as_f64().unwrap();
    let tick: f64 = String::from_utf8(
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    for (h, name) in [("h-0", "h[0]"), ("h-1", "h[1]")] {
        let start = trial["tests"][0]["hosts"][name]["start"].as_f64().unwrap();
        let age = p.read(&format!("trials/ready/{id}/{h}/t/age"));
        let (up, made) = age.trim().split_once(' ').unwrap();
        // How long the shell had been there at its first line: it is made
        // 0.2 s ahead (both clocks tick in 10 ms).
        let age = up.parse::<f64>().unwrap() - made.parse::<f64>().unwrap() / tick;
        assert!(
            age > 0.1,
            "{h}: the test's shell was made {age} s before its first line"
        );
        let date: f64 = p
            .read(&format!("trials/ready/{id}/{h}/t/date"))
            .trim()
            .parse()
            .unwrap();
        assert!(
            target <= start && start <= date,
            "{h}: start time {target}, recorded {start}, first instruction {date}"
        );
    }
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}
