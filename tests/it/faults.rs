//! State discipline under faults: two applies at once, kill -9 at random
//! points, a full disk, a lost state, a stale saved plan, odd working
//! directories, abandoned commands, a closed stdout. Each fault that is a
//! race is tried 20 times.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// A small xorshift: random kill points, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        eprintln!("seed {seed}");
        Rng(seed)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn spawn(p: &Project, args: &[&str]) -> std::process::Child {
    p.command(args).spawn().expect("spawn runner")
}

#[test]
fn two_applies_started_together_exactly_one_runs() {
    let p = Project::new();
    for round in 0..20 {
        // Every round changes the step, so each round has work to do.
        p.write(
            "plan.toml",
            &format!(
                "name = \"race\"\n[groups.w]\ncount = 2\n[[step]]\nname = \"s\"\non = [\"w\"]\nrun = \"sleep 0.5; echo {round} >> runs.txt\"\n"
            ),
        );
        let a = spawn(&p, &["apply", "plan.toml", "--yes"]);
        let b = spawn(&p, &["apply", "plan.toml", "--yes"]);
        let (a, b) = (
            wait_bounded(a, Duration::from_secs(60)),
            wait_bounded(b, Duration::from_secs(60)),
        );
        let ran: Vec<&Run> = [&a, &b].into_iter().filter(|r| r.code == 0).collect();
        assert_eq!(ran.len(), 1, "round {round}: {a:?}\n{b:?}");
        let refused = if a.code == 0 { &b } else { &a };
        assert_eq!(refused.code, 1, "round {round}: {refused:?}");
        assert!(
            refused.stderr.contains("is using this plan")
                && refused.stderr.contains("nothing was applied"),
            "round {round}: {refused:?}"
        );
        assert!(ran[0].stderr.contains("Apply complete"), "{:?}", ran[0]);
    }
    // Each round's step ran exactly once per host.
    for host in ["w-0", "w-1"] {
        let runs = p.read(&format!(".runner/race/hosts/{host}/work/runs.txt"));
        let expected: String = (0..20).map(|r| format!("{r}\n")).collect();
        assert_eq!(runs, expected, "{host}");
    }
    assert_eq!(p.sshd_pids().len(), 2);
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
    assert!(p.sshd_processes().is_empty());
}

#[test]
fn kill_9_at_random_points_of_an_apply_converges() {
    let p = Project::new();
    p.write(
        "resources/conf.j2",
        "host={{ host.name }} round={{ vars.round }}\n",
    );
    let mut rng = Rng::new();
    for round in 0..20 {
        p.write(
            "plan.toml",
            &format!(
                r#"name = "k9"
[vars]
round = {round}
[groups.w]
count = 3
[[step]]
name = "a"
on = ["w"]
run = "sleep 0.1; echo a {{{{ vars.round }}}}"
[[step]]
name = "conf"
on = ["w"]
template = "resources/conf.j2"
dest = "conf.txt"
[[step]]
name = "b"
on = ["w"]
after = ["conf"]
run = "grep -q round={round} conf.txt"
"#
            ),
        );
        if round % 4 == 0 {
            // Sometimes from nothing, so that kills land in host creation too.
            p.run(&["destroy", "plan.toml", "--yes"]).ok();
        }
        let child = spawn(&p, &["apply", "plan.toml", "--yes"]);
        std::thread::sleep(Duration::from_millis(rng.below(900)));
        kill(child.id(), "KILL");
        let _ = wait_bounded(child, Duration::from_secs(30));

        let r = p.run(&["apply", "plan.toml", "--yes"]);
        assert_eq!(r.code, 0, "round {round}: {r:?}");
        let again = p.run(&["plan", "plan.toml", "--detailed-exitcode"]);
        assert_eq!(again.code, 0, "round {round}: not converged: {again:?}");
        // One sshd per host, and the state parses.
        let sshds = p.sshd_processes();
        assert_eq!(sshds.len(), 3, "round {round}: {sshds:?}");
        let state: serde_json::Value =
            serde_json::from_str(&p.read(".runner/k9.state.json")).expect("state parses");
        assert_eq!(state["hosts"].as_object().unwrap().len(), 3);
        assert!(!p.path().join(".runner/k9.journal").exists());
        let temps: Vec<String> = std::fs::read_dir(p.path().join(".runner"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(
            temps.is_empty(),
            "round {round}: temp files left: {temps:?}"
        );
    }
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
    assert!(p.sshd_processes().is_empty());
}

const FILL_PLAN: &str = r#"name = "full"
[groups.a]
count = 1
[groups.b]
count = 2
[[step]]
name = "fill"
on = ["a"]
run = "head -c 4000000 /dev/zero > fill; true"
[[step]]
name = "s1"
on = ["a", "b"]
after = ["fill"]
run = "echo some output; echo more >&2"
[[step]]
name = "s2"
on = ["a", "b"]
run = "echo some output"
[[step]]
name = "s3"
on = ["a", "b"]
run = "echo some output"
"#;

#[test]
fn a_full_disk_stops_the_apply_and_leaves_no_host_behind() {
    let p = Project::new();
    p.write("plan.toml", FILL_PLAN);
    // A real full disk: a 1 MiB tmpfs over .runner in a private mount
    // namespace, shared by runner and the sshds it starts, nobody else.
    let script = format!(
        r#"mkdir -p .runner && mount -t tmpfs -o size=1m tmpfs .runner || exit 99
"{bin}" apply plan.toml --yes --parallelism 1 > apply.out 2> apply.err; echo $? > apply.code
rm -f .runner/full/hosts/a-0/work/fill
"{bin}" destroy plan.toml --yes > destroy.out 2>&1; echo $? > destroy.code
"#,
        bin = BIN
    );
    p.in_private_mounts(&script);
    let apply = format!("{}{}", p.read("apply.out"), p.read("apply.err"));
    assert_eq!(p.read("apply.code"), "1\n", "{apply}");
    assert!(apply.contains("No space left on device"), "{apply}");
    assert!(!apply.contains("Apply complete"), "{apply}");
    assert!(!apply.contains("error: error:"), "{apply}");
    // A step whose log could not be written failed; it did not pass with an empty log.
    assert!(
        apply.contains("cannot write the output locally")
            || apply.contains("cannot write the state"),
        "{apply}"
    );
    let destroy = p.read("destroy.out");
    assert_eq!(p.read("destroy.code"), "0\n", "{destroy}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !p.sshd_processes().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(p.sshd_processes().is_empty(), "{destroy}");
}

#[test]
fn a_lost_state_is_not_a_fresh_start() {
    let p = example_project("lost", 1);
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    let before = p.sshd_pids();
    assert_eq!(before.len(), 2);
    std::fs::remove_file(p.path().join(".runner/lost.state.json")).unwrap();
    for args in [&["plan", "plan.toml"][..], &["apply", "plan.toml", "--yes"]] {
        let r = p.run(args);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(
            r.stderr
                .contains("the state file .runner/lost.state.json is missing, but runner found")
                && r.stderr
                    .contains("2 host directories under .runner/lost/hosts"),
            "{r:?}"
        );
        assert!(r.stderr.contains("--force-new"), "{r:?}");
    }
    assert_eq!(p.sshd_pids(), before, "the running hosts were touched");
    // Destroy still finds and stops every local host.
    let d = p.run(&["destroy", "plan.toml", "--yes"]);
    d.ok();
    assert!(
        d.stdout
            .contains("stop 2 local hosts the state does not record"),
        "{d:?}"
    );
    assert!(p.sshd_processes().is_empty(), "{d:?}");

    // --force-new starts over on purpose: the old hosts are replaced, one sshd each.
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    std::fs::remove_file(p.path().join(".runner/lost.state.json")).unwrap();
    p.run(&["apply", "plan.toml", "--yes", "--force-new"]).ok();
    assert_eq!(p.sshd_processes().len(), 2);
    // Leftover temp files of a killed writer are cleaned by the next one.
    p.write(".runner/.lost.state.json.XyZ123.tmp", "partial");
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    assert!(
        !p.path()
            .join(".runner/.lost.state.json.XyZ123.tmp")
            .exists()
    );
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

#[test]
fn a_saved_plan_applies_exactly_what_it_showed() {
    let p = example_project("exact", 1);
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    p.write(
        "plan.toml",
        &two_group_plan("exact", 1).replace("echo hello from", "echo hi from"),
    );
    let shown = p.run(&["plan", "plan.toml", "-o", "s.plan"]);
    shown.ok();
    assert!(!shown.stdout.contains("host server[0]"), "{shown:?}");
    // The world changes after the plan was shown: the server's sshd dies.
    let pid: u32 = p
        .read(".runner/exact/hosts/server-0/sshd.pid")
        .trim()
        .parse()
        .unwrap();
    kill(pid, "KILL");
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = p.run(&["apply", "s.plan"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("stale plan s.plan: the hosts are not as they were"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("host server[0]: saved no change, now -/+ (its sshd"),
        "{r:?}"
    );
    assert!(r.stderr.contains("nothing was applied"), "{r:?}");
    assert_eq!(
        p.read(".runner/exact/logs/client-0/hello.stdout"),
        "hello from client[0]\n",
        "a step ran from a stale plan"
    );

    // Corrupt saved plans say so.
    let good = std::fs::read(p.path().join("s.plan")).unwrap();
    p.write("empty.plan", "");
    p.write(
        "cut.plan",
        std::str::from_utf8(&good[..good.len() / 2]).unwrap(),
    );
    p.write("junk.plan", "not a plan at all");
    for f in ["empty.plan", "cut.plan", "junk.plan"] {
        let r = p.run(&["apply", f]);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(
            r.stderr.contains(&format!("the saved plan {f} is corrupt")),
            "{r:?}"
        );
    }
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

#[test]
fn odd_working_directories_work_and_leak_nothing() {
    let p = Project::new();
    for sub in ["with space", "ünï cödé", "a b/ü ñ"] {
        let dir = p.path().join(sub);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("plan.toml"), two_group_plan("odd", 1)).unwrap();
        std::fs::create_dir_all(dir.join("resources")).unwrap();
        std::fs::write(dir.join("resources/client.env.j2"), CLIENT_TEMPLATE).unwrap();
        let run = |args: &[&str]| {
            let mut c = Command::new(BIN);
            c.args(args)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            wait_bounded(c.spawn().unwrap(), Duration::from_secs(60))
        };
        let r = run(&["apply", "plan.toml", "--yes"]);
        assert_eq!(r.code, 0, "{sub}: {r:?}");
        let start = Instant::now();
        let d = run(&["destroy", "plan.toml", "--yes"]);
        assert_eq!(d.code, 0, "{sub}: {d:?}");
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{sub}: destroy took {:?}",
            start.elapsed()
        );
        // No sshd of ours is left: none has a listening socket or a pid file alive.
        let hosts = dir.join(".runner/odd/hosts");
        assert!(!hosts.exists(), "{sub}: host dirs left");
        let leaked: Vec<u32> = sshd_under(&dir);
        for pid in &leaked {
            kill(*pid, "KILL");
        }
        assert!(leaked.is_empty(), "{sub}: leaked sshd {leaked:?}");
    }
}

/// Live sshd processes whose command line mentions `dir` (up to its first
/// non-ASCII character: sshd escapes the rest in its process title).
fn sshd_under(dir: &std::path::Path) -> Vec<u32> {
    let plain = dir.to_string_lossy().to_string();
    let ascii: String = plain.chars().take_while(char::is_ascii).collect();
    sshd_matching(&ascii)
}

#[test]
fn abandoned_commands_are_stopped_on_the_host() {
    let p = Project::new();
    p.write(
        "plan.toml",
        "name = \"aband\"\n[groups.w]\ncount = 1\n[[step]]\nname = \"long\"\non = [\"w\"]\nrun = \"echo started; sleep 31.75\"\ntimeout = \"2m\"\n",
    );
    let child = spawn(&p, &["apply", "plan.toml", "--yes"]);
    let log = p.path().join(".runner/aband/logs/w-0/long.stdout");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(&log).unwrap_or_default().is_empty() && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(sleeping("sleep 31.75"), "the command did not start");
    kill(child.id(), "INT");
    std::thread::sleep(Duration::from_millis(300));
    kill(child.id(), "INT");
    let r = wait_bounded(child, Duration::from_secs(30));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("1 abandoned (their commands stopped on the hosts: 1 step)"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("not started"), "{r:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while sleeping("sleep 31.75") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !sleeping("sleep 31.75"),
        "the abandoned command is still running on the host"
    );
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

fn sleeping(cmdline: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").trim() == cmdline)
    })
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let p = example_project("pipe", 2);
    for args in [
        &["plan", "plan.toml"][..],
        &["graph", "plan.toml"],
        &["validate", "plan.toml"],
    ] {
        let mut child = p.command(args).spawn().unwrap();
        drop(child.stdout.take()); // the reader is gone, as with `| head -1` after its line
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
    }
    // `runner plan` still saved its plan.
    assert!(p.path().join(".runner/pipe.plan").exists());
}

#[test]
fn run_is_a_template_and_after_is_one_barrier() {
    let p = Project::new();
    p.write(
        "plan.toml",
        r#"name = "tpl"
[vars]
port = 5201
[groups.server]
count = 1
[groups.client]
count = 3
[[step]]
name = "listen"
on = ["server"]
run = "echo up"
[[step]]
name = "connect"
on = ["client"]
after = ["listen"]
run = 'echo {{ groups.server[0].address }}:{{ vars.port }} {{ host.index }} "{{ "{{" }}" > target.txt'
"#,
    );
    // host → step: 4 edges; listen → barrier → 3 clients: 1 + 3 (not 1 × 3 direct).
    let g = p.run(&["graph", "plan.toml"]);
    g.ok();
    assert!(g.stdout.contains("label=\"after listen\""), "{g:?}");
    assert_eq!(g.stdout.matches(" -> ").count(), 4 + 1 + 3, "{}", g.stdout);
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    assert_eq!(
        p.read(".runner/tpl/hosts/client-2/work/target.txt"),
        "127.0.0.1:5201 2 {{\n"
    );
    // Only the hosts whose rendered command changed are updated.
    p.write(
        "plan.toml",
        &p.read("plan.toml")
            .replace("{{ host.index }}", "{{ host.index // 2 }}"),
    );
    let r = p.run(&["plan", "plan.toml"]);
    assert!(r.stdout.contains("~ step connect client[2]"), "{r:?}");
    assert!(r.stdout.contains("~ step connect client[1]"), "{r:?}");
    assert!(!r.stdout.contains("client[0]"), "{r:?}");
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

/// A bug in runner itself (a panic, injected by the test build's hook in
/// one host's step) is that node's failure, with its message; its
/// dependents are skipped because of it, and the other host goes on.
#[test]
fn a_task_that_panics_is_its_nodes_failure() {
    let p = Project::new();
    p.write(
        "p.toml",
        r#"name = "pan"
[groups.h]
count = 2
[[step]]
name = "first"
on = ["h"]
run = "echo one > first.txt"
[[step]]
name = "second"
on = ["h"]
run = "echo two > second.txt"
"#,
    );
    let mut c = p.command(&["apply", "p.toml", "--yes", "--no-color"]);
    c.env("RUNNER_TEST_PANIC_STEP", "step first h[0]");
    let r = wait_bounded(c.spawn().unwrap(), Duration::from_secs(120));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("step first h[0]")
            && r.stderr
                .contains("runner panicked while doing it: RUNNER_TEST_PANIC_STEP"),
        "{r:?}"
    );
    // The summary names it as a failure of that host and step, and the
    // step after it on that host as skipped, not "not started".
    assert!(r.stderr.contains("1 skipped"), "{r:?}");
    assert!(!r.stderr.contains("not started"), "{r:?}");
    let work = |h: &str, f: &str| p.path().join(format!(".runner/pan/hosts/{h}/work/{f}"));
    assert!(work("h-1", "second.txt").is_file());
    assert!(!work("h-0", "second.txt").exists());
    // The state records nothing for the node that panicked: the next plan
    // runs it again.
    let plan = p.run(&["plan", "p.toml", "--no-color"]);
    assert!(plan.stdout.contains("step first h[0]"), "{plan:?}");
    assert!(!plan.stdout.contains("step first h[1]"), "{plan:?}");
    p.run(&["destroy", "p.toml", "--yes"]).ok();
}
