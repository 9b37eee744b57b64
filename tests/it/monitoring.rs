//! `[monitoring]`: Prometheus and node_exporter on namespaced local hosts
//! (each namespace has its own `/proc/net/dev`: a host's network figures
//! are its own), a TSDB snapshot in every trial, the `prometheus` parser
//! over each test's window — checked against the same PromQL run by hand
//! on the monitoring host's own TSDB, and again after destroy.

use crate::common::{Project, Run};

const PLAN: &str = r#"name = "mon"
[provider]
network = "namespaces"
[groups.server]
count = 1
link = { rate = "50mbit" }
[groups.client]
count = 1
[groups.idle]
count = 1

[monitoring]
prometheus = "server[0]"

[[monitor]]
name = "iperf-server"
on = ["server"]
run = "exec iperf3 -s -p 5201"

[[test]]
name = "tcp"
on = ["client"]
at = "+6s"
run = "iperf3 -c {{ groups.server[0].address }} -p 5201 -t 10"

[[analyze]]
name = "net"
parser = "prometheus"
files = "*/prometheus/snapshot.json"
by = ["test"]
queries = { rx = '8 * rate(node_network_receive_bytes_total{device="eth0"}[3s])' }
units = { rx = "bit/s" }
formats = ["csv"]
"#;

const RX: &str = "8 * rate(node_network_receive_bytes_total{device=\"eth0\"}[3s])";

fn latest_trial(p: &Project, plan: &str) -> String {
    p.run_folders(plan).pop().unwrap()
}

/// `host` → the CSV's `mean` of query `rx` in window `tcp`.
fn means(csv: &str) -> Vec<(String, String)> {
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    r.records()
        .map(|rec| rec.unwrap())
        .filter(|rec| &rec[col("window")] == "tcp" && &rec[col("query")] == "rx")
        .map(|rec| (rec[col("host")].to_string(), rec[col("mean")].to_string()))
        .collect()
}

/// Percent-encoding of a query parameter.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn prometheus_snapshots_every_trial_and_per_window_figures_are_exact() {
    let p = Project::new();
    p.write("plan.toml", PLAN);
    let r = p.run(&["plan", "plan.toml"]);
    ok(&r);
    assert!(r.stdout.contains("prometheus"), "{r:?}");
    ok(&p.run(&["apply", "plan.toml", "--yes"]));
    let id = latest_trial(&p, "mon");
    let t: serde_json::Value =
        serde_json::from_str(&p.read(&format!("trials/mon/{id}/trial.json"))).unwrap();
    assert_eq!(t["status"], "complete", "{t:#}");
    // The snapshot is in the trial, with its manifest.
    let manifest = p.read(&format!(
        "trials/mon/{id}/server-0/prometheus/snapshot.json"
    ));
    assert!(manifest.contains("\"name\""), "{manifest}");
    let csv = p.read(&format!("trials/mon/{id}/analysis/net.csv"));
    let m = means(&csv);
    let mean = |h: &str| -> f64 {
        m.iter()
            .find(|(x, _)| x == h)
            .unwrap_or_else(|| panic!("{h} in {csv}"))
            .1
            .parse()
            .unwrap()
    };
    // The server's link carries 50 Mbit/s (tc counts whole frames).
    assert!((45e6..=51e6).contains(&mean("server[0]")), "{csv}");
    assert!(mean("idle[0]") < 1e6, "{csv}");

    // The same PromQL by hand, on the monitoring host's own TSDB (a
    // Prometheus started there on its data), over the window the notes
    // record: the same values, the same mean, to the last bit.
    let sources = p.read(&format!("trials/mon/{id}/analysis/net.sources.txt"));
    let line = sources
        .lines()
        .find(|l| l.contains("window `tcp`: query_range"))
        .unwrap_or_else(|| panic!("{sources}"));
    let arg = |k: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{k}=")))
            .unwrap()
            .to_string()
    };
    let url = format!(
        "http://127.0.0.1:39999/api/v1/query_range?query={}&start={}&end={}&step={}",
        encode(RX),
        arg("start"),
        arg("end"),
        arg("step")
    );
    let script = format!(
        "printf 'global: {{}}\\n' > by-hand.yml; prometheus --config.file=by-hand.yml --storage.tsdb.path=prometheus-data --web.listen-address=127.0.0.1:39999 >by-hand.log 2>&1 & p=$!; \
         for i in $(seq 100); do curl -sf http://127.0.0.1:39999/-/ready >/dev/null && break; sleep 0.2; done; \
         curl -s '{url}'; kill $p; wait $p"
    );
    let r = p.run(&["ssh", "plan.toml", "server[0]", &script]);
    ok(&r);
    let v: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"));
    for s in v["data"]["result"].as_array().unwrap() {
        let host = s["metric"]["host"].as_str().unwrap();
        let values: Vec<f64> = s["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x[1].as_str().unwrap().parse().unwrap())
            .collect();
        let by_hand = values.iter().sum::<f64>() / values.len() as f64;
        assert_eq!(by_hand, mean(host), "{host}: {values:?}");
    }

    // After destroy, the trial's snapshot alone gives the same table.
    ok(&p.run(&["destroy", "plan.toml", "--yes"]));
    std::fs::remove_file(p.path().join(format!("trials/mon/{id}/analysis/net.csv"))).unwrap();
    ok(&p.run(&["analyze", "plan.toml", &id]));
    assert_eq!(p.read(&format!("trials/mon/{id}/analysis/net.csv")), csv);

    // A query that is not PromQL: named, with Prometheus' reason.
    let snap = format!("trials/mon/{id}/server-0/prometheus/snapshot.json");
    let r = p.run(&[
        "analyze",
        "--parser",
        "prometheus",
        "--set",
        "queries=bad=rate(x[",
        &snap,
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("query `bad`") && r.stderr.contains("parse error"),
        "{r:?}"
    );
}

/// A target down in a window is named and the rest analysed; Prometheus
/// gone before the end: the trial is partial and says its snapshot failed.
#[test]
fn a_target_down_is_named_and_a_failed_snapshot_makes_the_trial_partial() {
    let p = Project::new();
    let plan = PLAN
        .replace("name = \"mon\"", "name = \"mon2\"")
        .replace(
            "run = \"iperf3 -c {{ groups.server[0].address }} -p 5201 -t 10\"",
            "run = \"iperf3 -c {{ groups.server[0].address }} -p 5201 -t 10\"\n\n[[test]]\nname = \"kill-exporter\"\non = [\"idle\"]\nat = \"+8s\"\nrun = \"kill -- -$(cat runner-trials/{{ trial }}/idle-0/node-exporter/pid)\"",
        );
    p.write("plan.toml", &plan);
    ok(&p.run(&["apply", "plan.toml", "--yes"]));
    let id = latest_trial(&p, "mon2");
    let snap = format!("trials/mon2/{id}/server-0/prometheus/snapshot.json");
    let r = p.run(&[
        "analyze",
        "--parser",
        "prometheus",
        "--set",
        &format!("queries=rx={RX}"),
        "--format",
        "csv",
        &snap,
    ]);
    assert!(r.stderr.contains("target `idle[0]` was down"), "{r:?}");
    assert!(r.stdout.contains("server[0]"), "{r:?}");

    // Prometheus killed during the trial: no snapshot, said.
    p.write(
        "plan.toml",
        &plan.replace(
            "run = \"kill -- -$(cat runner-trials/{{ trial }}/idle-0/node-exporter/pid)\"",
            "run = \"true\"\n\n[[test]]\nname = \"kill-prometheus\"\non = [\"server\"]\nat = \"+8s\"\nrun = \"kill -9 -- -$(cat runner-trials/{{ trial }}/server-0/prometheus/pid)\"",
        ),
    );
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    let id = latest_trial(&p, "mon2");
    let t: serde_json::Value =
        serde_json::from_str(&p.read(&format!("trials/mon2/{id}/trial.json"))).unwrap();
    assert_eq!(t["status"], "partial", "{r:?} {t:#}");
    let prom = t["monitors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "prometheus")
        .unwrap();
    let error = prom["hosts"]["server[0]"]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("Prometheus snapshot failed"), "{t:#}");
    assert!(
        !p.path()
            .join(format!(
                "trials/mon2/{id}/server-0/prometheus/snapshot.json"
            ))
            .exists()
    );
    ok(&p.run(&["destroy", "plan.toml", "--yes"]));
}
