//! The report of a real trial (local hosts; iperf3, dool and an
//! HdrHistogram log), opened in a real browser: Debian's chromium, headless
//! (`scripts/install-tools --tests` installs it). A screenshot is kept as
//! `target/report-test.png`.

use std::process::{Command, Stdio};

use super::common::Project;

const PLAN: &str = r#"name = "rep"
[vars]
base = BASE
[groups.server]
count = 1
[groups.client]
count = 2

[[step]]
name = "hlog"
on = ["client"]
upload = "resources/lat.hlog"
dest = "lat.hlog"

[[monitor]]
name = "iperf-server"
on = ["server"]
run = "for i in 0 1; do iperf3 -s -p $(( {{ vars.base }} + i )) -J > {{ out }}/server-$i.json & done; wait"
stop_timeout = "3s"

[[monitor]]
name = "dool"
on = ["server"]
run = "dool -Tcmn --output {{ out }}/dool.csv 1 > /dev/null"

[[test]]
name = "tcp"
on = ["client"]
at = "+2s"
run = "iperf3 -c {{ groups.server[0].address }} -p {{ vars.base + host.index }} -t 3 -J"
timeout = "30s"

[[test]]
name = "lat"
on = ["client"]
at = "+6s"
run = "cp lat.hlog {{ out }}/lat.hlog"

[[analyze]]
name = "throughput"
parser = "iperf3"
files = "*/tcp/stdout"
by = ["test", "host"]
formats = ["csv"]

[[analyze]]
name = "cpu"
parser = "dstat"
files = "server-0/dool/dool.csv"
by = ["test"]
columns = ["total cpu usage.usr", "total cpu usage.sys"]
formats = ["csv"]

[[analyze]]
name = "latency"
parser = "hdr"
files = "*/lat/lat.hlog"
by = ["host"]
formats = ["csv"]

[[check]]
table = "latency"
column = "p99"
max = "1s"
"#;

pub fn chromium(args: &[&str]) -> (String, String) {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("chromium is needed for this test: scripts/install-tools --tests installs it");
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[test]
fn a_real_trials_report_opens_offline_in_a_browser() {
    let p = Project::new();
    let base = super::trials::free_port();
    p.write("plan.toml", &PLAN.replace("BASE", &base.to_string()));
    std::fs::create_dir_all(p.path().join("resources")).unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/samples/hdr/loader1.hlog"
        ),
        p.path().join("resources/lat.hlog"),
    )
    .unwrap();
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    r.ok();
    assert!(r.stderr.contains("report: trials/rep/"), "{r:?}");
    let trial = p.run_folders("rep").pop().unwrap();
    let dir = p.path().join("trials/rep").join(&trial);
    let path = dir.join("report.html");
    let html = std::fs::read_to_string(&path).unwrap();
    // Self-contained: no script, nothing to fetch.
    assert!(!html.contains("<script"), "a script");
    for attr in ["src=", "href=", "url(", "@import"] {
        assert!(!html.contains(attr), "{attr} in the report");
    }
    assert_eq!(
        html.matches("http").count(),
        html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count(),
        "only SVG namespaces name a URL"
    );

    let url = format!("file://{}", path.display());
    let (dom, log) = chromium(&["--dump-dom", &url]);
    assert!(
        !log.contains("Uncaught") && !log.contains("CONSOLE"),
        "console: {log}"
    );
    // Every chart is there as SVG, with its axes.
    let svgs = dom.matches("<svg").count();
    // timeline, iperf3 intervals, 2 dool groups (cpu, memory…) at least,
    // latency spectrum, bars for throughput and latency by host.
    assert!(svgs >= 6, "{svgs} charts");
    assert!(
        dom.contains("seconds since the trigger") && dom.contains("percentile"),
        "axes"
    );
    for (label, title) in [
        ("timeline", "timeline"),
        ("iperf3", "throughput: interval throughput"),
        ("hdr", "latency: latency by percentile"),
        ("bars", "throughput: received (bit/s) by host"),
    ] {
        assert!(dom.contains(title), "{label}: {title} missing");
    }
    assert!(dom.contains("all 1 checks passed"), "checks panel");
    // Every figure of every table equals the CSV's: text as it is, a
    // number in readable units with its exact value as the cell's title.
    for table in ["throughput", "cpu", "latency"] {
        let mut csv = csv::Reader::from_path(dir.join(format!("analysis/{table}.csv"))).unwrap();
        let mut n = 0;
        for rec in csv.records() {
            for cell in rec.unwrap().iter() {
                let shown = if cell.parse::<f64>().is_ok() {
                    format!("title=\"{}\"", escape(cell))
                } else {
                    format!(">{}</td>", escape(cell))
                };
                assert!(dom.contains(&shown), "{table}: `{cell}` not in the page");
                n += 1;
            }
        }
        assert!(n > 0, "{table} is empty");
    }
    // Rates read as rates: no raw float of bits per second in a cell.
    assert!(dom.contains("bit/s</td>"), "throughput in readable units");
    assert!(
        !dom.contains(".627907</td>") && !dom.contains("99999</td>"),
        "raw floats in cells"
    );
    let shot = concat!(env!("CARGO_MANIFEST_DIR"), "/target/report-test.png");
    chromium(
        &[
            "--screenshot=".to_string() + shot,
            "--window-size=1280,4000".into(),
            url.clone(),
        ]
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    );
    assert!(std::fs::metadata(shot).unwrap().len() > 10_000);

    // `runner report` writes it again, the same.
    std::fs::remove_file(&path).unwrap();
    let r = p.run(&["report", "plan.toml"]);
    r.ok();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), html);
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}
