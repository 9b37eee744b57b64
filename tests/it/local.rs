//! The local provider end to end: apply, idempotence, drift, failures,
//! interruptions and destroy, on real sshd processes.

use std::time::{Duration, Instant};

use crate::common::*;

#[test]
fn apply_then_plan_shows_no_changes_and_destroy_leaves_nothing() {
    let p = example_project("e2e", 2);
    let v = p.run(&["validate", "plan.toml"]);
    v.ok();
    assert_eq!(
        v.stdout,
        "plan `e2e` is valid: 3 hosts, 3 steps, 10 nodes\n"
    );
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    r.ok();
    assert!(r.stderr.contains("Apply complete: 10 added"), "{r:?}");
    // Remote output is in per-host, per-step logs, never on the terminal.
    assert!(!r.stderr.contains("hello from"), "{r:?}");
    assert_eq!(
        p.read(".runner/e2e/logs/client-1/hello.stdout"),
        "hello from client[1]\n"
    );
    assert_eq!(p.sshd_pids().len(), 3);
    // The template was rendered per host and landed in the host's working dir.
    let rendered = p.read(".runner/e2e/hosts/client-0/work/client.env");
    assert_eq!(
        rendered,
        "SERVER=127.0.0.1\nPORT=5201\nSTREAMS=2\nHOST=client[0]\n"
    );
    // The plan's key and the authorized keys are private.
    let mode = |rel: &str| {
        std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(p.path().join(rel)).unwrap().permissions(),
        ) & 0o777
    };
    assert_eq!(mode(".runner/e2e/id_ed25519"), 0o600);
    assert_eq!(mode(".runner/e2e/hosts/server-0/authorized_keys"), 0o600);
    assert_eq!(mode(".runner/e2e/hosts/server-0/host_ed25519_key"), 0o600);

    let show = p.run(&["show", "--json"]);
    show.ok();
    let state: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(state["hosts"].as_object().unwrap().len(), 3);
    assert_eq!(state["hosts"]["client[0]"]["status"], "Ready");
    assert_eq!(state["steps"].as_object().unwrap().len(), 7);

    let again = p.run(&["plan", "plan.toml", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again
            .stdout
            .contains("No changes. 10 nodes are up to date."),
        "{again:?}"
    );

    let d = p.run(&["destroy", "plan.toml", "--yes"]);
    d.ok();
    assert!(
        p.sshd_processes().is_empty(),
        "sshd left running: {:?}",
        p.sshd_processes()
    );
    assert!(!p.path().join(".runner/e2e/hosts").exists());
    // Twice is harmless.
    let d2 = p.run(&["destroy", "plan.toml", "--yes"]);
    d2.ok();
    assert!(d2.stdout.contains("Nothing to destroy"), "{d2:?}");
    // And planning again starts from scratch.
    let fresh = p.run(&["plan", "plan.toml", "--detailed-exitcode"]);
    assert_eq!(fresh.code, 2, "{fresh:?}");
    assert!(
        fresh
            .stdout
            .contains("Plan: 10 to add, 0 to change, 0 to replace, 0 to destroy."),
        "{fresh:?}"
    );
}

#[test]
fn editing_a_template_updates_only_that_step() {
    let p = example_project("tmpl", 2);
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    let before = p.read(".runner/tmpl/logs/server-0/hello.stdout");
    p.write(
        "resources/client.env.j2",
        &format!("{CLIENT_TEMPLATE}EXTRA=1\n"),
    );
    let plan = p.run(&["plan", "plan.toml", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{plan:?}");
    let changed: Vec<&str> = plan
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with(['+', '~', '-']))
        .collect();
    assert_eq!(
        changed,
        vec![
            "    ~ step conf client[0]  (rendered template changed)",
            "    ~ step conf client[1]  (rendered template changed)"
        ],
        "{plan:?}"
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 2 to change, 0 to replace, 0 to destroy.")
    );
    let apply = p.run(&["apply"]);
    apply.ok();
    assert!(
        apply.stderr.contains("Apply complete: 0 added, 2 changed"),
        "{apply:?}"
    );
    assert!(!apply.stderr.contains("step hello"), "{apply:?}");
    assert!(
        p.read(".runner/tmpl/hosts/client-1/work/client.env")
            .contains("EXTRA=1")
    );
    assert_eq!(p.read(".runner/tmpl/logs/server-0/hello.stdout"), before);
    assert_eq!(p.run(&["plan", "plan.toml", "--detailed-exitcode"]).code, 0);
}

#[test]
fn changing_count_adds_and_removes_hosts() {
    let p = example_project("count", 3);
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    assert_eq!(p.sshd_pids().len(), 4);

    p.write("plan.toml", &two_group_plan("count", 4));
    let up = p.run(&["plan", "plan.toml", "--detailed-exitcode"]);
    assert_eq!(up.code, 2);
    assert!(
        up.stdout
            .contains("Plan: 4 to add, 0 to change, 0 to replace, 0 to destroy."),
        "{up:?}"
    );
    assert!(up.stdout.contains("+ host client[3]"), "{up:?}");
    p.run(&["apply"]).ok();
    assert_eq!(p.sshd_pids().len(), 5);

    let removed_pid: u32 = p
        .read(".runner/count/hosts/client-3/sshd.pid")
        .trim()
        .parse()
        .unwrap();
    p.write("plan.toml", &two_group_plan("count", 2));
    let down = p.run(&["plan", "plan.toml", "--detailed-exitcode"]);
    assert!(
        down.stdout
            .contains("Plan: 0 to add, 0 to change, 0 to replace, 8 to destroy."),
        "{down:?}"
    );
    assert!(
        down.stdout.contains("- host client[2]") && down.stdout.contains("- host client[3]"),
        "{down:?}"
    );
    p.run(&["apply"]).ok();
    assert!(!alive(removed_pid), "sshd of client[3] still runs");
    assert!(!p.path().join(".runner/count/hosts/client-2").exists());
    assert!(!p.path().join(".runner/count/hosts/client-3").exists());
    assert_eq!(p.sshd_processes().len(), 3);
    assert_eq!(p.run(&["plan", "plan.toml", "--detailed-exitcode"]).code, 0);
}

#[test]
fn a_host_killed_outside_is_replaced_and_its_steps_rerun() {
    let p = example_project("drift", 2);
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    let pid: u32 = p
        .read(".runner/drift/hosts/client-1/sshd.pid")
        .trim()
        .parse()
        .unwrap();
    kill(pid, "KILL");
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let plan = p.run(&["plan", "plan.toml", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{plan:?}");
    assert!(
        plan.stdout.contains("-/+ host client[1]  (its sshd (pid"),
        "{plan:?}"
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 3 to change, 1 to replace, 0 to destroy."),
        "{plan:?}"
    );
    let apply = p.run(&["apply"]);
    apply.ok();
    assert!(
        apply.stderr.contains("~ step check client[1]: updated"),
        "{apply:?}"
    );
    let new_pid: u32 = p
        .read(".runner/drift/hosts/client-1/sshd.pid")
        .trim()
        .parse()
        .unwrap();
    assert_ne!(new_pid, pid);
    assert!(alive(new_pid));
    assert_eq!(p.run(&["plan", "plan.toml", "--detailed-exitcode"]).code, 0);
}

#[test]
fn a_failed_step_stops_only_its_dependents() {
    let p = Project::new();
    p.write(
        "plan.toml",
        r#"name = "fail"
[groups.web]
count = 3
[[step]]
name = "first"
on = ["web"]
run = "echo about to fail >&2; test \"$RUNNER_HOST\" != 'web[1]' || exit 3"
[[step]]
name = "second"
on = ["web"]
run = "echo second"
"#,
    );
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("+ step second web[0]: created"), "{r:?}");
    assert!(r.stderr.contains("+ step second web[2]: created"), "{r:?}");
    assert!(!r.stderr.contains("step second web[1]"), "{r:?}");
    assert!(r.stderr.contains("1 failed; 1 skipped"), "{r:?}");
    assert!(
        r.stderr
            .contains("failed: step `first` on `web[1]`: exit status 3"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("logs/web-1/first.{stdout,stderr}"),
        "{r:?}"
    );
    assert_eq!(
        p.read(".runner/fail/logs/web-1/first.stderr"),
        "about to fail\n"
    );
    // The next plan retries exactly what did not succeed.
    let plan = p.run(&["plan", "plan.toml"]);
    assert!(
        plan.stdout
            .contains("Plan: 2 to add, 0 to change, 0 to replace, 0 to destroy."),
        "{plan:?}"
    );
}

#[test]
fn prompts_and_overruns_fail_instead_of_hanging() {
    let p = Project::new();
    p.write(
        "plan.toml",
        r#"name = "hang"
[groups.h]
count = 1
[[step]]
name = "prompt"
on = ["h"]
run = "read -r answer"
[[step]]
name = "slow"
on = ["h"]
after = []
run = "echo started; sleep 31.25; echo never"
timeout = "1s"
"#,
    );
    let start = Instant::now();
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("failed: step `prompt` on `h[0]`: exit status 1"),
        "{r:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );

    // Now without the prompt: the overrun is cut at its timeout.
    p.write(
        "plan.toml",
        &p.read("plan.toml").replace("read -r answer", "true"),
    );
    let start = Instant::now();
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("failed: step `slow` on `h[0]`: timed out after 1s"),
        "{r:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(p.read(".runner/hang/logs/h-0/slow.stdout"), "started\n");
    // The overrun was killed on the host, not left running.
    let sleeping = std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").trim() == "sleep 31.25")
    });
    assert!(!sleeping, "the timed-out command is still running");

    // A loop is the shell itself, and a pipeline's stage a subshell forked
    // from it: neither is left running after its timeout either.
    p.write(
        "plan.toml",
        &p.read("plan.toml").replace(
            "echo started; sleep 31.25; echo never",
            "while :; do sleep 0.2517; done | while read -r l; do sleep 0.2517; done",
        ),
    );
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert!(
        r.stderr
            .contains("failed: step `slow` on `h[0]`: timed out after 1s"),
        "{r:?}"
    );
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("0.2517"))
        .collect();
    assert!(left.is_empty(), "still running: {left:?}");
}

const SLOW_PLAN: &str = r#"name = "slow"
[groups.w]
count = 4
[[step]]
name = "nap"
on = ["w"]
run = "sleep 1; echo rested"
"#;

/// Starts `runner apply` on SLOW_PLAN, waits until its first step runs, and
/// sends `signal`; returns the finished run.
fn interrupted_apply(p: &Project, signal: &str, parallelism: &str) -> Run {
    p.write("plan.toml", SLOW_PLAN);
    let child = p
        .command(&["apply", "plan.toml", "--yes", "--parallelism", parallelism])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !p.path().join(".runner/slow/logs").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    kill(child.id(), signal);
    wait_bounded(child, Duration::from_secs(60))
}

#[test]
fn sigint_stops_launching_saves_state_and_the_next_apply_finishes() {
    let p = Project::new();
    let r = interrupted_apply(&p, "INT", "1");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("interrupted"), "{r:?}");
    assert!(r.stderr.contains("not started"), "{r:?}");
    assert!(!lock_is_held(&p, "slow"), "lock not released");
    let state: serde_json::Value =
        serde_json::from_str(&p.read(".runner/slow.state.json")).unwrap();
    let done = state["steps"].as_object().unwrap().len();
    assert!(done < 4, "all steps ran despite the interrupt: {r:?}");

    let rest = p.run(&["apply", "plan.toml", "--yes"]);
    rest.ok();
    assert_eq!(p.run(&["plan", "plan.toml", "--detailed-exitcode"]).code, 0);
    assert_eq!(p.sshd_processes().len(), 4);
}

#[test]
fn sigterm_is_an_interrupt_too() {
    let p = Project::new();
    let r = interrupted_apply(&p, "TERM", "1");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("interrupted: the state is saved"),
        "{r:?}"
    );
    assert!(!lock_is_held(&p, "slow"), "lock not released");
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
    assert!(p.sshd_processes().is_empty());
}

#[test]
fn kill_9_during_apply_then_apply_continues_without_duplicate_hosts() {
    let p = Project::new();
    interrupted_apply(&p, "KILL", "2");
    // The kernel released the dead owner's lock; the rest completes, and each host has one sshd.
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    r.ok();
    assert_eq!(p.sshd_processes().len(), 4, "{:?}", p.sshd_processes());
    assert_eq!(p.run(&["plan", "plan.toml", "--detailed-exitcode"]).code, 0);
}

#[test]
fn a_live_lock_stops_a_second_apply() {
    let p = example_project("locked", 1);
    std::fs::create_dir_all(p.path().join(".runner")).unwrap();
    // This test process holds the kernel lock, as a running runner would.
    let path = p.path().join(".runner/locked.lock");
    let held = std::fs::File::create(&path).unwrap();
    held.try_lock().unwrap();
    // Its text names a live process (this one); a dead one's is not believed.
    let me = std::process::id();
    std::fs::write(
        &path,
        format!("pid {me}, started 2026-01-01T00:00:00Z: runner apply plan.toml\n"),
    )
    .unwrap();
    for args in [
        &["apply", "plan.toml", "--yes"][..],
        &["destroy", "plan.toml", "--yes"],
        &["plan", "plan.toml"],
    ] {
        let r = p.run(args);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(
            r.stderr.contains(&format!("another runner (pid {me}, started 2026-01-01T00:00:00Z: runner apply plan.toml) is using this plan")),
            "{r:?}"
        );
    }
    // A holder whose text is a dead process's (above any pid_max): not named.
    std::fs::write(
        &path,
        "pid 4194305, started 2026-01-01T00:00:00Z: runner plan\n",
    )
    .unwrap();
    let r = p.run(&["plan", "plan.toml"]);
    assert!(
        r.stderr.contains("another runner is using this plan"),
        "{r:?}"
    );
    assert!(p.sshd_processes().is_empty());
    drop(held);
    p.run(&["plan", "plan.toml"]).ok();
}

#[test]
fn missing_sshd_is_a_clear_error() {
    let p = example_project("nosshd", 1);
    let mut c = p.command(&["apply", "plan.toml", "--yes"]);
    c.env("RUNNER_SSHD", "/nonexistent/sshd");
    let r = output_of(c.output().unwrap());
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("sshd not found at /nonexistent/sshd"),
        "{r:?}"
    );
    assert!(r.stderr.contains("install openssh-server"), "{r:?}");
}

#[test]
fn graph_prints_dot() {
    let p = example_project("dot", 1);
    let r = p.run(&["graph", "plan.toml"]);
    r.ok();
    assert!(r.stdout.starts_with("digraph \"dot\" {"), "{r:?}");
    assert!(r.stdout.contains("label=\"step conf client[0]\""), "{r:?}");
    // host → each of its 4 step nodes, plus file order on client[0]: hello → conf → check.
    assert_eq!(r.stdout.matches(" -> ").count(), 4 + 2, "{}", r.stdout);
}

/// A change waits for the changes upstream of it even through unchanged
/// nodes: step 3 is skipped when step 1 fails, though step 2 did not change.
#[test]
fn order_holds_through_unchanged_steps() {
    let p = Project::new();
    let plan = |a: &str, c: &str| {
        format!(
            "name = \"ord\"\n[groups.h]\ncount = 1\n[[step]]\nname = \"a\"\non = [\"h\"]\nrun = \"{a}\"\n[[step]]\nname = \"b\"\non = [\"h\"]\nrun = \"true\"\n[[step]]\nname = \"c\"\non = [\"h\"]\nrun = \"{c}\"\n"
        )
    };
    p.write("plan.toml", &plan("true", "echo one >> c.txt"));
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    p.write("plan.toml", &plan("exit 1", "echo two >> c.txt"));
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("1 skipped because something they depend on failed"),
        "{r:?}"
    );
    assert_eq!(p.read(".runner/ord/hosts/h-0/work/c.txt"), "one\n");
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

/// A step's command runs in the login shell sshd starts, as `$SHELL -c`
/// would run it: its quotes, lines, `exit` and errors are its own.
#[test]
fn commands_run_as_the_login_shell_would_run_them() {
    let p = Project::new();
    let plan = |second: &str| {
        format!(
            r#"name = "sh"
[groups.h]
count = 1
[[step]]
name = "quotes"
on = ["h"]
run = """
x='it''s'; printf '%s|%s\n' "$x" "$(pwd)"
echo "second line" "$RUNNER_HOST"
"""
[[step]]
name = "second"
on = ["h"]
run = "{second}"
"#
        )
    };
    p.write("plan.toml", &plan("echo before; exit 7; echo after"));
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    let work = p.path().join(".runner/sh/hosts/h-0/work");
    assert_eq!(
        p.read(".runner/sh/logs/h-0/quotes.stdout"),
        format!("its|{}\nsecond line h[0]\n", work.display())
    );
    assert!(
        r.stderr
            .contains("failed: step `second` on `h[0]`: exit status 7"),
        "{r:?}"
    );
    assert_eq!(p.read(".runner/sh/logs/h-0/second.stdout"), "before\n");

    p.write("plan.toml", &plan("sleep 30 & kill -TERM $!; wait $!"));
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert!(
        r.stderr.contains(
            "failed: step `second` on `h[0]`: exit status 143 (128 + 15: likely killed by signal 15 (SIGTERM))"
        ),
        "{r:?}"
    );

    p.write("plan.toml", &plan("if then fi"));
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert!(
        r.stderr
            .contains("failed: step `second` on `h[0]`: exit status 2"),
        "{r:?}"
    );
    let log = p.read(".runner/sh/logs/h-0/second.stderr");
    assert!(log.to_lowercase().contains("syntax error"), "{log}");

    // runner raises its own open-file limit for its connections; the host's
    // commands keep the one it was started with (a new host: its sshd is
    // started by the limited runner).
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
    p.write("plan.toml", &plan("ulimit -Sn"));
    let r = output_of(
        std::process::Command::new("prlimit")
            .arg("--nofile=777:8192")
            .arg(BIN)
            .args(["apply", "plan.toml", "--yes"])
            .current_dir(p.path())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap(),
    );
    r.ok();
    assert_eq!(p.read(".runner/sh/logs/h-0/second.stdout"), "777\n");
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}
