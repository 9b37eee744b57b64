//! What a fault tester broke in namespaced networks: a part of a plan's
//! network left down or gone (the hub's bridge, a host's eth0, a delay
//! line, a loss rule) must be found by refresh and made again — never a
//! trial run on a dead network and recorded complete.

use std::process::Command;

use crate::common::Project;

const PLAN: &str = r#"name = "nf"
[provider]
network = "namespaces"
[groups.server]
count = 1
[groups.client]
count = 2
links = [{ loss = "1%" }, { delay = "5ms", jitter = "1ms" }]
[[test]]
name = "reach"
on = ["client"]
run = "ping -c 3 -i 0.2 -W 2 {{ groups.server[0].address }}"
timeout = "30s"
"#;

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().unwrap();
    assert!(st.success(), "ip {args:?}");
}

fn hub(p: &Project) -> String {
    p.read(".runner/nf/hosts/server-0/hub").trim().to_string()
}

/// Applies, and says the trial ran on a network that carries: every
/// client's ping got replies.
fn apply_and_reach(p: &Project, what: &str) {
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 0, "{what}: {r:?}");
    let id = p.run_folders("nf").pop().unwrap();
    for c in ["client-0", "client-1"] {
        let out = p.read(&format!("trials/nf/{id}/{c}/reach/stdout"));
        // client[0]'s link drops 1 %: a reply is enough.
        assert!(out.contains("bytes from"), "{what}: {c}: {out}");
    }
}

/// Breaks the network as `break_it` says, then: `runner plan` says what
/// it found (`why`), and the next apply makes it whole.
fn broken_then_whole(p: &Project, what: &str, why: &str, break_it: impl FnOnce()) {
    break_it();
    let r = p.run(&["plan", "plan.toml", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{what}: a change: {r:?}");
    assert!(r.stdout.contains(why), "{what}: says `{why}`: {r:?}");
    apply_and_reach(p, what);
    let r = p.run(&["plan", "plan.toml", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{what}: whole again: {r:?}");
}

#[test]
fn a_network_left_half_made_or_broken_is_made_whole() {
    let p = Project::new();
    p.write("plan.toml", PLAN);
    apply_and_reach(&p, "first apply");
    let h = hub(&p);
    broken_then_whole(&p, "bridge down", "the hub's bridge br0 is down", || {
        ip(&["-n", &h, "link", "set", "br0", "down"]);
    });
    let ns = p.read(".runner/nf/hosts/client-0/netns").trim().to_string();
    broken_then_whole(&p, "eth0 down", "its eth0 is gone or down", || {
        ip(&["-n", &ns, "link", "set", "eth0", "down"]);
    });
    broken_then_whole(&p, "loss rule gone", "its link's loss rule is gone", || {
        let st = Command::new("ip")
            .args([
                "netns", "exec", &h, "nft", "delete", "table", "bridge", "runner",
            ])
            .status()
            .unwrap();
        assert!(st.success());
    });
    broken_then_whole(
        &p,
        "host's loss rule gone",
        "loss rule is gone from its namespace",
        || {
            let st = Command::new("ip")
                .args([
                    "netns", "exec", &ns, "nft", "delete", "table", "inet", "runner",
                ])
                .status()
                .unwrap();
            assert!(st.success());
        },
    );
    broken_then_whole(&p, "route flushed", "its eth0 has no route", || {
        ip(&["-n", &ns, "route", "flush", "dev", "eth0"]);
    });
    // The hub deleted: its delay line lives on in the nameless old
    // namespace; the hub made again gets a line of its own.
    broken_then_whole(&p, "hub deleted", "hub namespace", || {
        ip(&["netns", "del", &h]);
    });
    broken_then_whole(
        &p,
        "delay line killed",
        "its link's delay line is not running",
        || {
            let pid = p.read(".runner/nf/delay-lines/pid");
            crate::common::kill(pid.trim().parse().unwrap(), "KILL");
            std::thread::sleep(std::time::Duration::from_millis(200));
        },
    );
    // A hub a kill left half made (its bridge made, never set up): the
    // next apply sets it up.
    let r = p.run(&["destroy", "plan.toml", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    ip(&["netns", "add", &h]);
    ip(&["-n", &h, "link", "add", "br0", "type", "bridge"]);
    ip(&["-n", &h, "addr", "add", "10.203.0.1/16", "dev", "br0"]);
    apply_and_reach(&p, "over a half-made hub");
    let r = p.run(&["destroy", "plan.toml", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        p.netns_left("nf").is_empty(),
        "namespaces left: {:?}",
        p.netns_left("nf")
    );
}

const SMALL: &str = r#"name = "{name}"
[provider]
network = "namespaces"
[groups.h]
count = 2
link = { delay = "2ms", jitter = "1ms" }
"#;

fn small(name: &str) -> String {
    SMALL.replace("{name}", name)
}

/// The netem probe leaves no namespace, whatever moment a kill -9 comes
/// at; and one an older runner left (`runner-probe-<time>-<pid>-<n>`,
/// its runner gone) is removed by the next apply.
#[test]
fn the_netem_probe_leaves_no_namespace() {
    let p = Project::new();
    p.write("plan.toml", &small("np"));
    let stale = format!("runner-probe-{:x}-{:x}-1", 1u64 << 40, dead_pid());
    ip(&["netns", "add", &stale]);
    for round in 0..10u64 {
        let child = p.command(&["apply", "plan.toml", "--yes"]).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(round * 9));
        crate::common::kill(child.id(), "KILL");
        let _ = crate::common::wait_bounded(child, std::time::Duration::from_secs(30));
        let probes: Vec<String> = namespaces()
            .into_iter()
            .filter(|n| n.starts_with("runner-probe-") && *n != stale)
            .collect();
        assert!(probes.is_empty(), "round {round}: {probes:?}");
    }
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        !namespaces().contains(&stale),
        "a stale probe namespace is removed"
    );
    let r = p.run(&["destroy", "plan.toml", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(p.netns_left("np").is_empty(), "{:?}", p.netns_left("np"));
}

/// A state lost: the next apply makes the hosts again under the same
/// namespace names, stopping what ran in them first — no sshd left
/// running in a namespace of no name.
#[test]
fn a_lost_state_leaves_no_host_running() {
    let p = Project::new();
    p.write("plan.toml", &small("ls"));
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let first = p.sshd_processes();
    assert_eq!(first.len(), 2, "{first:?}");
    std::fs::remove_dir_all(p.path().join(".runner")).unwrap();
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let now = p.sshd_processes();
    assert_eq!(
        now.len(),
        2,
        "the old hosts' sshds are stopped: {now:?} (before: {first:?})"
    );
    assert!(
        first.iter().all(|pid| !now.contains(pid)),
        "{first:?} {now:?}"
    );
    let r = p.run(&["destroy", "plan.toml", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(p.sshd_processes().is_empty());
    assert!(p.netns_left("ls").is_empty(), "{:?}", p.netns_left("ls"));
}

/// Plan `a` never takes plan `a-<its own hex>`'s namespaces for its own:
/// destroying one leaves the other whole.
#[test]
fn destroying_a_plan_leaves_a_plan_with_a_longer_name_alone() {
    let p = Project::new();
    p.write("a.toml", &small("ftx"));
    let hex = p
        .netns_prefix("ftx")
        .trim_end_matches('-')
        .rsplit('.')
        .next()
        .unwrap()
        .to_string();
    let other = format!("ftx-{hex}");
    p.write("b.toml", &small(&other));
    for f in ["a.toml", "b.toml"] {
        let r = p.run(&["apply", f, "--yes"]);
        assert_eq!(r.code, 0, "{f}: {r:?}");
    }
    let r = p.run(&["destroy", "a.toml", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(p.netns_left("ftx").is_empty());
    let left = p.netns_left(&other);
    assert_eq!(
        left.iter().filter(|n| !n.contains("delay")).count(),
        3,
        "hub and 2 hosts of {other}: {left:?}"
    );
    let r = p.run(&["plan", "b.toml", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{other} is whole: {r:?}");
    let r = p.run(&["destroy", "b.toml", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
}

fn namespaces() -> Vec<String> {
    std::fs::read_dir("/var/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The pid of a process that has ended.
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}
