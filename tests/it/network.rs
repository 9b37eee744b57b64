//! Local hosts on a network of their own (`network = "namespaces"`): a
//! namespace per host on the plan's bridge, links shaped (rate by tbf;
//! delay, jitter and loss by runner's delay line and nftables where the
//! kernel has no netem), reached by runner, OpenSSH and Ansible, and
//! nothing left — and nothing changed in the machine's own namespace —
//! after destroy, also after kill -9 at random moments.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{Project, kill};

/// What the machine's own namespace looks like: addresses, routes, links,
/// qdiscs, firewall.
fn root_namespace() -> String {
    let mut out = String::new();
    for args in [
        &["ip", "-4", "addr"][..],
        &["ip", "-6", "addr"],
        &["ip", "route"],
        &["ip", "link"],
        &["tc", "qdisc", "show"],
        &["nft", "list", "ruleset"],
    ] {
        let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
        // Address lifetimes count down on DHCP machines: not a change.
        for line in String::from_utf8_lossy(&o.stdout).lines() {
            if !line.contains("valid_lft") {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// A command's stdout on a host, as `runner ssh` runs it (real OpenSSH,
/// through runner's proxy into the host's namespace).
fn on(p: &Project, host: &str, cmd: &str) -> String {
    let r = p.run(&["ssh", "plan.toml", host, cmd]);
    assert_eq!(r.code, 0, "{host}: {cmd}: {r:?}");
    r.stdout
}

const PLAN: &str = r#"name = "net"
[provider]
network = "namespaces"
[groups.server]
count = 1
[groups.client]
count = 4
links = [
  { rate = "50mbit" },
  { delay = "20ms", jitter = "2ms" },
  { loss = "1%" },
  { rate = "500mbit" },
]
"#;

#[test]
fn shaped_links_between_namespaces_measure_what_they_say() {
    let before = root_namespace();
    let p = Project::new();
    p.write("plan.toml", PLAN);
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    // Its own address, in the plan's range, on its own link.
    let addr = on(&p, "server[0]", "ip -4 -o addr show eth0");
    let server = addr
        .split_whitespace()
        .find_map(|w| w.strip_suffix("/16"))
        .expect("an address in 10.203.0.0/16")
        .to_string();
    assert!(server.starts_with("10.203.0."), "{addr}");
    // Ansible reaches every host too (the inventory's ProxyCommand).
    let inv = p.run(&["inventory", "plan.toml", "--format", "ansible"]);
    p.write("inventory.ini", &inv.stdout);
    let ansible = Command::new("timeout")
        .args(["120", "ansible", "-i", "inventory.ini", "all", "-m", "ping"])
        .current_dir(p.path())
        .output()
        .expect("ansible (scripts/install-tools --tests installs it)");
    let text = String::from_utf8_lossy(&ansible.stdout);
    assert_eq!(text.matches("SUCCESS").count(), 5, "{text}");
    // runner ping measures every host's clock through its namespace.
    let ping = p.run(&["ping", "plan.toml"]);
    assert_eq!(ping.code, 0, "{ping:?}");
    let reachable = ping.stdout.lines().filter(|l| l.contains(" yes ")).count();
    assert_eq!(reachable, 5, "{ping:?}");
    assert!(ping.stdout.contains(&format!("{server}:22")), "{ping:?}");

    // Rate: iperf3 TCP from the 50 Mbit/s client, the first second left out.
    on(&p, "server[0]", "iperf3 -s -D -p 5201 --logfile /dev/null");
    for (client, rate) in [("client[0]", 50e6), ("client[3]", 500e6)] {
        let out = on(
            &p,
            client,
            &format!("iperf3 -c {server} -p 5201 -t 5 -O 1 -J"),
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let bps = v["end"]["sum_received"]["bits_per_second"]
            .as_f64()
            .unwrap();
        assert!(
            (0.90..=1.01).contains(&(bps / rate)),
            "{client}: {bps} bit/s"
        );
    }

    // Delay and jitter: 20 ms ± 2 ms each way, kept in order.
    // One ping first: the neighbour (ARP) exchange crosses the link too.
    let out = on(
        &p,
        "client[1]",
        &format!("ping -c 1 -q {server} >/dev/null; ping -c 100 -i 0.02 -q {server}"),
    );
    let (stats, nums) = ping_stats(&out);
    assert!((38.0..=42.0).contains(&nums[1]), "mean round trip: {stats}");
    assert!(
        (1.0..=3.0).contains(&nums[3]),
        "round trip deviation: {stats}"
    );

    // Loss: 10,000 UDP datagrams, within the binomial 99.9 % interval of 1 %.
    on(&p, "server[0]", "iperf3 -s -D -p 5202 --logfile /dev/null");
    // iperf3's control connection crosses the lossy link too, and iperf3
    // (3.12) gives up on it now and then ("unable to read from stream
    // socket"): up to three tries.
    let mut v = serde_json::Value::Null;
    for _ in 0..3 {
        let out = on(
            &p,
            "client[2]",
            &format!("iperf3 -c {server} -p 5202 -u -b 20M -l 1000 -k 10000 -J; true"),
        );
        v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        if v.get("error").is_none() {
            break;
        }
    }
    let out = v.to_string();
    let lost = v["end"]["sum"]["lost_packets"]
        .as_f64()
        .unwrap_or_else(|| panic!("{out}"));
    let sent = v["end"]["sum"]["packets"]
        .as_f64()
        .unwrap_or_else(|| panic!("{out}"));
    let sd = (sent * 0.01 * 0.99).sqrt();
    assert!(
        (lost - sent * 0.01).abs() <= 3.29 * sd,
        "{lost} of {sent} lost"
    );

    // The trial's link probes say the same.
    p.write(
        "plan.toml",
        &format!("{PLAN}[[test]]\nname = \"t\"\non = [\"client\"]\nrun = \"true\"\n"),
    );
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    let id = std::fs::read_dir(p.path().join("trials/net"))
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .unwrap()
        .file_name();
    let t: serde_json::Value =
        serde_json::from_str(&p.read(&format!("trials/net/{}/trial.json", id.to_string_lossy())))
            .unwrap();
    // At 50 Mbit/s the link, not the probe, was the limit.
    assert!(
        t["hosts"]["client[0]"]["link"]["measured"]["rate_at_least"].is_null(),
        "{t:#}"
    );
    let rate = t["hosts"]["client[0]"]["link"]["measured"]["rate_bps"]
        .as_f64()
        .unwrap();
    assert!((0.9..=1.05).contains(&(rate / 50e6)), "{t:#}");
    let rtt = t["hosts"]["client[1]"]["link"]["measured"]["rtt_ms"]
        .as_f64()
        .unwrap();
    assert!((36.0..=46.0).contains(&rtt), "{t:#}");
    assert_eq!(t["hosts"]["client[2]"]["link"]["configured"]["loss"], 0.01);

    p.run(&["destroy", "plan.toml", "--yes"]).ok();
    assert!(p.netns_left("net").is_empty(), "{:?}", p.netns_left("net"));
    assert_eq!(
        root_namespace(),
        before,
        "the machine's own namespace changed"
    );
}

/// Two hosts, one with a delay line (a process of its own).
const SMALL: &str = r#"name = "kn"
[provider]
network = "namespaces"
[groups.h]
count = 2
link = { rate = "100mbit", delay = "5ms", loss = "0.1%" }
"#;

#[test]
fn kill_9_at_random_moments_of_apply_and_destroy_leaves_nothing() {
    let before = root_namespace();
    let p = Project::new();
    p.write("plan.toml", SMALL);
    for round in 0..20u64 {
        // Half the rounds kill an apply, half a destroy of an applied plan.
        let killing_apply = round % 2 == 0;
        if !killing_apply {
            p.run(&["apply", "plan.toml", "--yes"]).ok();
        }
        let args: &[&str] = if killing_apply {
            &["apply", "plan.toml", "--yes"]
        } else {
            &["destroy", "plan.toml", "--yes"]
        };
        let mut child = p.command(args).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(50 + (round * 37) % 600));
        kill(child.id(), "KILL");
        let _ = child.wait();
        let r = p.run(&["destroy", "plan.toml", "--yes"]);
        assert_eq!(r.code, 0, "round {round}: {r:?}");
        let deadline = Instant::now() + Duration::from_secs(3);
        while !p.netns_left("kn").is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            p.netns_left("kn").is_empty(),
            "round {round}: {:?}",
            p.netns_left("kn")
        );
    }
    assert_eq!(
        root_namespace(),
        before,
        "the machine's own namespace changed"
    );
}

#[test]
fn namespaces_need_what_they_need_and_say_so() {
    let p = Project::new();
    p.write(
        "plan.toml",
        r#"name = "nn"
[groups.h]
count = 1
link = { rate = "10mbit" }
"#,
    );
    let r = p.run(&["validate", "plan.toml"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("add `network = \"namespaces\"`"), "{r:?}");
    // A range this machine routes (its own link's) is refused.
    let routes = std::fs::read_to_string("/proc/net/route").unwrap();
    let (dest, bits) = routes
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dest = u32::from_str_radix(f[1], 16).ok()?.swap_bytes();
            let mask = u32::from_str_radix(f[7], 16).ok()?.swap_bytes();
            (mask != 0).then(|| (std::net::Ipv4Addr::from(dest), mask.count_ones()))
        })
        .next()
        .expect("a route of this machine");
    p.write(
        "plan.toml",
        &format!(
            "name = \"nn\"\n[provider]\nnetwork = \"namespaces\"\naddresses = \"{dest}/{bits}\"\n[groups.h]\ncount = 1\n"
        ),
    );
    let r = p.run(&["validate", "plan.toml"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains(&format!("overlaps {dest}/{bits}, a route of this machine")),
        "{r:?}"
    );
}

/// The seed's OpenVPN tester, as `plans/openvpn.toml` runs it: keys made
/// on the server and fetched by the clients, tunnels as monitors, iperf3
/// through them at one start time, TCP then UDP, tables in CSV, Mediawiki
/// and Trac; nothing left after destroy.
#[test]
fn the_openvpn_plan_runs_end_to_end() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = Project::new();
    p.write(
        "plans/openvpn.toml",
        &std::fs::read_to_string(root.join("plans/openvpn.toml")).unwrap(),
    );
    for f in ["pki.sh", "server.conf.j2"] {
        let text = std::fs::read_to_string(root.join("resources/openvpn").join(f)).unwrap();
        p.write(&format!("resources/openvpn/{f}"), &text);
    }
    p.run(&["apply", "plans/openvpn.toml", "--yes"]).ok();
    let trials = p.path().join("trials/openvpn");
    let id = std::fs::read_dir(&trials)
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .unwrap()
        .file_name();
    let dir = trials.join(id);
    let read =
        |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    // A row per client and test; every tunnel carried most of its 20 Mbit/s
    // link (TCP through OpenVPN: headers, slow start) and UDP lost little.
    let table = read("analysis/throughput.csv");
    let mut rows = csv::Reader::from_reader(table.as_bytes());
    let head = rows.headers().unwrap().clone();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let mut seen = Vec::new();
    for row in rows.records() {
        let row = row.unwrap();
        let received: f64 = row[col("received (bit/s)")].parse().unwrap();
        let source = row[col("source")].to_string();
        if source.starts_with("tcp") {
            assert!((14e6..=20e6).contains(&received), "{source}: {received}");
        } else {
            assert!((13e6..=15.1e6).contains(&received), "{source}: {received}");
            let lost: f64 = row[col("lost (%)")].parse().unwrap();
            assert!(lost < 2.0, "{source}: {lost} % lost");
        }
        seen.push(source);
    }
    seen.sort();
    assert_eq!(seen.len(), 8, "{seen:?}");
    assert!(
        seen[0] == "tcp / client[0]" && seen[7] == "udp / client[3]",
        "{seen:?}"
    );
    // The server's CPU in each test's window.
    let cpu = read("analysis/server-cpu.csv");
    for window in ["tcp", "udp"] {
        assert!(
            cpu.contains(&format!(",{window},total cpu usage.idl,")),
            "{cpu}"
        );
    }
    for f in [
        "throughput.wiki",
        "throughput.trac",
        "server-cpu.wiki",
        "server-cpu.trac",
    ] {
        // `client[0]` as each engine reads it literally.
        let client = if f.ends_with(".wiki") {
            "client&#91;0&#93;"
        } else {
            "client[0]"
        };
        assert!(read(&format!("analysis/{f}")).contains(client) || f.starts_with("server"));
    }
    // Every client's tunnel came up, and the tests started together.
    for i in 0..4 {
        let log = read(&format!("client-{i}/tunnel/openvpn.log"));
        assert!(
            log.contains("Initialization Sequence Completed"),
            "client-{i}: {log}"
        );
    }
    let t: serde_json::Value = serde_json::from_str(&read("trial.json")).unwrap();
    assert_eq!(t["status"], "complete", "{t:#}");

    p.run(&["destroy", "plans/openvpn.toml", "--yes"]).ok();
    assert!(
        p.netns_left("openvpn").is_empty(),
        "{:?}",
        p.netns_left("openvpn")
    );
}

fn remade(delay: &str, count: u32) -> String {
    format!(
        "name = \"rm\"\n[provider]\nnetwork = \"namespaces\"\n[groups.server]\ncount = 1\n[groups.client]\ncount = {count}\nlink = {{ delay = \"{delay}\", loss = \"10%\" }}\n"
    )
}

/// The loss rules on the plan's bridge (one per shaped host, tagged).
fn hub_drops(p: &Project) -> usize {
    let hub = format!("{}hub", p.netns_prefix("rm"));
    let out = Command::new("ip")
        .args(["netns", "exec", &hub, "nft", "list", "ruleset"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .matches(" drop")
        .count()
}

fn round_trip_ms(p: &Project, host: &str) -> f64 {
    let server = p.run(&["ssh", "plan.toml", "server[0]", "ip -4 -o addr show eth0"]);
    let server = server
        .stdout
        .split_whitespace()
        .nth(3)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    // 10 % loss each way: ping enough that most come back.
    let out = on(
        p,
        host,
        &format!("ping -c 1 -q {server} >/dev/null; ping -c 30 -i 0.02 -q {server}; true"),
    );
    ping_stats(&out).1[1]
}

/// ping's summary line and its round trips in ms: min, avg, max, mdev.
fn ping_stats(out: &str) -> (String, Vec<f64>) {
    let stats = out
        .lines()
        .find(|l| l.contains("min/avg/max/mdev"))
        .unwrap_or_else(|| panic!("{out}"));
    let nums = stats
        .split('=')
        .nth(1)
        .unwrap()
        .trim()
        .split(" ms")
        .next()
        .unwrap()
        .split('/')
        .map(|x| x.parse().unwrap())
        .collect();
    (stats.to_string(), nums)
}

/// A link changed makes its host again with the new shape; hosts removed
/// and added again, or made again after their delay line died, leave
/// nothing behind (no veth "File exists", no second loss rule).
#[test]
fn a_changed_link_remakes_its_host_and_nothing_piles_up() {
    let p = Project::new();
    p.write("plan.toml", &remade("5ms", 1));
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    let rtt = round_trip_ms(&p, "client[0]");
    assert!((9.0..=13.0).contains(&rtt), "{rtt} ms at 5 ms each way");

    p.write("plan.toml", &remade("15ms", 1));
    let plan = p.run(&["plan", "plan.toml"]);
    assert!(plan.stdout.contains("-/+ host client[0]"), "{plan:?}");
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    let rtt = round_trip_ms(&p, "client[0]");
    assert!((28.0..=34.0).contains(&rtt), "{rtt} ms at 15 ms each way");
    assert_eq!(hub_drops(&p), 1);

    for count in [2, 1, 2] {
        p.write("plan.toml", &remade("15ms", count));
        p.run(&["apply", "plan.toml", "--yes"]).ok();
        assert_eq!(hub_drops(&p), count as usize, "after count = {count}");
    }

    // One delay line serves every shaped link of the plan.
    let pid = p.read(".runner/rm/delay-lines/pid");
    assert_eq!(
        p.delay_line_pids("rm"),
        [pid.trim().parse::<u32>().unwrap()]
    );
    // A process group of its own: a Ctrl-C of runner does not reach it.
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap();
    let pgrp = stat
        .rsplit(") ")
        .next()
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap();
    assert_eq!(pgrp, pid.trim(), "{stat}");
    // A delay line that died: its hosts are broken, refresh says so, apply
    // makes them again.
    kill(pid.trim().parse().unwrap(), "KILL");
    std::thread::sleep(Duration::from_millis(200));
    let plan = p.run(&["plan", "plan.toml"]);
    assert!(plan.stdout.contains("-/+ host client[0]"), "{plan:?}");
    assert!(plan.stdout.contains("-/+ host client[1]"), "{plan:?}");
    assert!(
        plan.stdout.contains("delay line is not running"),
        "{plan:?}"
    );
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    let rtt = round_trip_ms(&p, "client[1]");
    assert!((28.0..=34.0).contains(&rtt), "{rtt} ms after the remake");
    assert_eq!(hub_drops(&p), 2);
    assert_eq!(p.delay_line_pids("rm").len(), 1);

    // Another range: every host made again in it, and the hub's own
    // address (where the probes start) follows.
    p.write(
        "plan.toml",
        &remade("15ms", 2).replace(
            "network = \"namespaces\"",
            "network = \"namespaces\"\naddresses = \"10.213.7.0/24\"",
        ),
    );
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    let hub = format!("{}hub", p.netns_prefix("rm"));
    let br = Command::new("ip")
        .args(["-n", &hub, "-4", "-o", "addr", "show", "dev", "br0"])
        .output()
        .unwrap();
    let br = String::from_utf8_lossy(&br.stdout).to_string();
    assert!(
        br.contains("10.213.7.1/24") && !br.contains("10.203."),
        "{br}"
    );
    let addr = on(&p, "client[0]", "ip -4 -o addr show eth0");
    assert!(addr.contains("10.213.7."), "{addr}");
    let rtt = round_trip_ms(&p, "client[0]");
    assert!((28.0..=34.0).contains(&rtt), "{rtt} ms in the new range");

    p.run(&["destroy", "plan.toml", "--yes"]).ok();
    assert!(p.netns_left("rm").is_empty(), "{:?}", p.netns_left("rm"));
}
