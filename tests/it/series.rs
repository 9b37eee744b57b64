//! Series end to end on local hosts: points × repetitions (warm-ups left
//! out), the series going on where it stopped (more repetitions, a new
//! value, an analysis edit, kill -9 mid-series), a new series when what
//! runs changes; and, on series written on disk, checks and comparisons
//! that tell a change from noise, pooled HDR percentiles.

use std::io::{BufRead as _, BufReader};
use std::time::{Duration, Instant};

use crate::common::{Project, kill, output_of};

/// Each trial writes `v` = size + repetition (a warm-up 999999, so that a
/// warm-up counted in the statistics shows) and notes it ran in `runs.txt`.
fn sweep_plan(sizes: &str, repeat: usize, formats: &str) -> String {
    format!(
        r#"name = "sw"
[groups.h]
count = 2
[series]
repeat = {repeat}
discard = 1
[series.vars]
size = [{sizes}]
[[test]]
name = "t"
on = ["h"]
at = "+1s"
run = """
echo "{{{{ series.point }}}} {{{{ series.repetition }}}} {{{{ series.warmup }}}}" >> runs.txt
printf 'v\n{{% if series.warmup %}}999999{{% else %}}{{{{ vars.size + series.repetition }}}}{{% endif %}}\n' > {{{{ out }}}}/v.csv
"""
[[analyze]]
name = "val"
parser = "csv"
files = "*/t/v.csv"
by = ["host"]
formats = [{formats}]
"#
    )
}

fn series_ids(p: &Project) -> Vec<String> {
    p.run_folders("sw")
        .into_iter()
        .filter(|n| n.starts_with("series-"))
        .collect()
}

fn trial_count(p: &Project) -> usize {
    std::fs::read_dir(p.path().join("trials/sw"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter(|e| e.path().join("trial.json").is_file())
        .count()
}

fn series_json(p: &Project, id: &str) -> serde_json::Value {
    serde_json::from_str(&p.read(&format!("trials/sw/{id}/series.json"))).unwrap()
}

/// Every (point, repetition, warm-up) a host ran, asserted unique.
fn runs_once(p: &Project) -> usize {
    let mut total = 0;
    for h in ["h-0", "h-1"] {
        let text = p.read(&format!(".runner/sw/hosts/{h}/work/runs.txt"));
        let mut lines: Vec<&str> = text.lines().collect();
        let n = lines.len();
        lines.sort_unstable();
        lines.dedup();
        assert_eq!(lines.len(), n, "{h} ran a trial twice:\n{text}");
        total = n;
    }
    total
}

/// A row of the series table, by size, host and figure.
fn row(
    p: &Project,
    id: &str,
    size: &str,
    host: &str,
    figure: &str,
) -> std::collections::HashMap<String, String> {
    let text = p.read(&format!("trials/sw/{id}/analysis/val.csv"));
    for m in crate::common::csv_rows(&text) {
        if m["size"] == size && m["source"] == host && m["figure"] == figure {
            return m;
        }
    }
    panic!("no row {size} {host} {figure}");
}

#[test]
fn a_series_repeats_every_point_and_goes_on_where_it_stopped() {
    let p = Project::new();
    p.write(
        "plan.toml",
        &sweep_plan("1000, 2000", 2, "\"csv\", \"markdown\""),
    );
    let plan = p.run(&["plan", "plan.toml"]);
    plan.ok();
    assert!(
        plan.stdout
            .contains("+ series  (2 points × 2 repetitions (+1 warm-up each) = 6 trials, at least"),
        "{plan:?}"
    );
    assert!(
        plan.stdout
            .contains("+ 6 trials of the series, in this order: "),
        "{plan:?}"
    );
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    let ids = series_ids(&p);
    assert_eq!(ids.len(), 1);
    let s = series_json(&p, &ids[0]);
    let trials = s["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 6, "{s:#}");
    assert!(trials.iter().all(|t| t["status"] == "complete"), "{s:#}");
    assert_eq!(trials.iter().filter(|t| t["discard"] == true).count(), 2);
    // The warm-up round first, then rounds of every point once.
    assert!(trials[..2].iter().all(|t| t["discard"] == true), "{s:#}");
    // Each is an ordinary trial that knows its place.
    let first = trials[2]["id"].as_str().unwrap();
    let tj: serde_json::Value =
        serde_json::from_str(&p.read(&format!("trials/sw/{first}/trial.json"))).unwrap();
    assert_eq!(tj["series"]["series"], ids[0].as_str());
    assert!(
        p.path()
            .join(format!("trials/sw/{first}/report.html"))
            .is_file()
    );
    // size 1000: values 1001 and 1002, the warm-up's 999999 left out.
    let m = row(&p, &ids[0], "1000", "h[0]", "mean");
    assert_eq!((m["n"].as_str(), m["missing"].as_str()), ("2", "0"));
    assert_eq!(m["mean"].parse::<f64>().unwrap(), 1001.5);
    assert_eq!(m["max"], "1002");
    // Student's t, 1 degree of freedom: SciPy's t.ppf(0.975, 1) × sd/√2.
    let half = 12.706204736432095 * 0.5;
    let lo: f64 = m["ci95_low"].parse().unwrap();
    assert!((lo - (1001.5 - half)).abs() < 1e-9, "{m:?}");
    series_report_opens_offline(&p, &ids[0]);
    assert!(
        p.path()
            .join(format!("trials/sw/{}/report.html", ids[0]))
            .is_file()
    );
    assert!(p.run(&["plan", "plan.toml"]).stdout.contains("No changes."));

    // More repetitions: only the new trials run.
    p.write(
        "plan.toml",
        &sweep_plan("1000, 2000", 3, "\"csv\", \"markdown\""),
    );
    let plan = p.run(&["plan", "plan.toml"]);
    assert!(
        plan.stdout
            .contains(&format!("~ series  (series {}: 6 of 8 trials done", ids[0])),
        "{plan:?}"
    );
    assert!(plan.stdout.contains("+ 2 trials of the series"), "{plan:?}");
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    assert_eq!(runs_once(&p), 8);
    assert_eq!(row(&p, &ids[0], "2000", "h[1]", "mean")["n"], "3");

    // An analysis-only edit re-renders every table, runs nothing.
    let before = trial_count(&p);
    p.write(
        "plan.toml",
        &sweep_plan("1000, 2000", 3, "\"csv\", \"markdown\", \"trac\""),
    );
    let plan = p.run(&["plan", "plan.toml"]);
    assert!(!plan.stdout.contains("in this order"), "{plan:?}");
    assert!(
        plan.stdout
            .contains("~ analyze val  (in 8 trials of the series)"),
        "{plan:?}"
    );
    assert!(plan.stdout.contains("~ series analyze val"), "{plan:?}");
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    assert_eq!(trial_count(&p), before);
    assert!(
        p.path()
            .join(format!("trials/sw/{}/analysis/val.trac", ids[0]))
            .is_file()
    );

    // A new value, killed mid-series (-9 once the second new trial is
    // armed), then applied again: finished in place, nothing twice.
    p.write(
        "plan.toml",
        &sweep_plan("1000, 2000, 3000", 3, "\"csv\", \"markdown\", \"trac\""),
    );
    let mut child = p.command(&["apply", "plan.toml", "--yes"]).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut armed = 0;
    for line in BufReader::new(stderr).lines() {
        if line.unwrap().contains(" armed on ") {
            armed += 1;
            if armed == 2 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "never armed twice");
    }
    kill(child.id(), "KILL");
    let _ = child.wait();
    let plan = p.run(&["plan", "plan.toml"]);
    assert!(
        plan.stdout.contains(", armed by an interrupted apply)"),
        "{plan:?}"
    );
    assert!(plan.stdout.contains("of 12 trials done"), "{plan:?}");
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    assert_eq!(runs_once(&p), 12);
    let s = series_json(&p, &ids[0]);
    let trials = s["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 12, "{s:#}");
    assert!(trials.iter().all(|t| t["status"] == "complete"), "{s:#}");
    assert_eq!(row(&p, &ids[0], "3000", "h[0]", "mean")["n"], "3");

    // What the trials run changes: a new series.
    let changed = sweep_plan("1000, 2000, 3000", 3, "\"csv\", \"markdown\", \"trac\"")
        .replace("> {{ out }}/v.csv", "> {{ out }}/v.csv; true");
    p.write("plan.toml", &changed);
    let plan = p.run(&["plan", "plan.toml"]);
    assert!(
        plan.stdout.contains("+ series  (3 points × 3 repetitions"),
        "{plan:?}"
    );
    assert!(
        plan.stdout
            .contains(&format!("runs something else than in series {}", ids[0])),
        "{plan:?}"
    );
    // And --new-trial begins one too.
    p.write(
        "plan.toml",
        &sweep_plan("1000, 2000, 3000", 3, "\"csv\", \"markdown\", \"trac\""),
    );
    let plan = p.run(&["plan", "plan.toml", "--new-trial"]);
    assert!(
        plan.stdout
            .contains("; --new-trial → trials/sw/<new series id>"),
        "{plan:?}"
    );
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

/// Series `id` of plan `sc` on disk: per point (label, vars), the values
/// of `lat`'s `p99 (ms)` and `rate (bit/s)` in each trial.
/// A point on disk: its label, its value of `streams`, each trial's (p99, rate).
type DiskPoint<'a> = (&'a str, i64, Vec<(f64, f64)>);

fn disk_series(p: &Project, id: &str, points: &[DiskPoint], base: usize) {
    let mut pts = Vec::new();
    let mut trials = Vec::new();
    let mut n = base;
    for (label, v, values) in points {
        pts.push(serde_json::json!({"label": label, "vars": {"streams": v}}));
        for (r, (lat, rate)) in values.iter().enumerate() {
            n += 1;
            let tid = format!("20260101T{n:06}Z");
            p.write(
                &format!("trials/sc/{tid}/analysis/lat.csv"),
                &format!("source,p99 (ms),rate (bit/s)\nall files,{lat:?},{rate:?}\n"),
            );
            trials.push(serde_json::json!({"id": tid, "point": label, "repetition": r + 1, "discard": false, "status": "complete"}));
        }
    }
    let doc = serde_json::json!({"plan": "sc", "series": id, "vars": ["streams"], "points": pts, "repeat": 10, "trials": trials});
    p.write(&format!("trials/sc/{id}/series.json"), &doc.to_string());
    p.run(&["analyze", "plan.toml", id]).ok();
}

const CHECK_PLAN: &str = r#"name = "sc"
[groups.h]
count = 1
[series]
repeat = 10
[series.vars]
streams = [1]
[[test]]
name = "t"
on = ["h"]
run = "true"
[[analyze]]
name = "lat"
parser = "csv"
files = "*/t/x.csv"
[[check]]
name = "p99"
table = "lat"
column = "p99"
regression = "5%"
[[check]]
name = "p99-cap"
table = "lat"
column = "p99"
max = "12ms"
statistic = "ci95_high"
"#;

#[test]
fn series_checks_and_comparisons_tell_a_change_from_noise() {
    let p = Project::new();
    p.write("plan.toml", CHECK_PLAN);
    // Ten trials each: A around 10 ms; B 10 % slower; C as A, noisier.
    let wobble = |i: usize| ((i * 7919) % 13) as f64 / 13.0 - 0.5;
    let a: Vec<(f64, f64)> = (0..10).map(|i| (10.0 + 0.2 * wobble(i), 1e9)).collect();
    let b: Vec<(f64, f64)> = (0..10)
        .map(|i| (11.0 + 0.2 * wobble(i + 3), 0.9e9))
        .collect();
    let c: Vec<(f64, f64)> = (0..10)
        .map(|i| (10.05 + 1.5 * wobble(i + 5), 1e9))
        .collect();
    disk_series(&p, "series-20260101T000001Z", &[("streams=1", 1, a)], 0);
    disk_series(&p, "series-20260101T000002Z", &[("streams=1", 1, b)], 100);
    disk_series(&p, "series-20260101T000003Z", &[("streams=1", 1, c)], 200);
    // B against A (the series before): worse by 10 %, significant: exit 3.
    let r = p.run(&["check", "plan.toml", "series-20260101T000002Z"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stdout.contains("check p99 [FAIL]"), "{r:?}");
    assert!(
        r.stdout.contains("+10.3 %") && r.stdout.contains("p = 0.000"),
        "{r:?}"
    );
    // The cap holds on the interval's high end: 11.x ms passes 12 ms.
    assert!(r.stdout.contains("check p99-cap [pass]"), "{r:?}");
    // C against A: its mean moved, within the noise: passes.
    let r = p.run(&[
        "check",
        "plan.toml",
        "series-20260101T000003Z",
        "--baseline",
        "series-20260101T000001Z",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let s: serde_json::Value =
        serde_json::from_str(&p.read("trials/sc/series-20260101T000003Z/series.json")).unwrap();
    assert_eq!(s["checks"][0]["passed"], true, "{s:#}");
    // The comparison says the same: worse (time, lower is better), better
    // never for a lower rate, ~ within the noise.
    let compare = |x: &str, y: &str| {
        let r = output_of(
            p.command(&["report", "plan.toml", "--compare", x, y])
                .output()
                .unwrap(),
        );
        assert_eq!(r.code, 0, "{r:?}");
        p.read(&format!("trials/sc/{y}/analysis/compare-{x}/delta.csv"))
    };
    let d = compare("series-20260101T000001Z", "series-20260101T000002Z");
    let lines: Vec<&str> = d.lines().collect();
    assert_eq!(
        lines[0],
        "table,streams,source,figure,mean_a,mean_b,n_a,n_b,change_pct,change_ci95_low,change_ci95_high,p_value,q_value,verdict"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("lat,1,all files,p99 (ms),") && l.ends_with(",worse")),
        "{d}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("lat,1,all files,rate (bit/s),") && l.ends_with(",worse")),
        "{d}"
    );
    // The page opens with what the comparison comes to, and a forest plot.
    let page = p.read(
        "trials/sc/series-20260101T000002Z/analysis/compare-series-20260101T000001Z/report.html",
    );
    assert!(
        page.contains("figures tested") && page.contains("Benjamini"),
        "summary"
    );
    assert!(page.contains("lat: change of each figure"), "forest plot");
    assert!(page.contains("The largest significant changes"), "largest");
    let d = compare("series-20260101T000001Z", "series-20260101T000003Z");
    assert!(
        d.lines()
            .any(|l| l.starts_with("lat,1,all files,p99 (ms),") && l.ends_with(",~")),
        "{d}"
    );
}

#[test]
fn pooled_percentiles_come_from_merged_histograms() {
    let p = Project::new();
    p.write(
        "plan.toml",
        r#"name = "hp"
[groups.h]
count = 1
[series]
repeat = 2
[[test]]
name = "t"
on = ["h"]
run = "true"
[[analyze]]
name = "lat"
parser = "hdr"
files = "*/t/a.hlog"
unit = "us"
"#,
    );
    let head = "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";
    // Two trials of very different latency: the mean of their p99s is
    // not the p99 of all their samples.
    let fast: Vec<u64> = (1..=990)
        .map(|i| 100 + i % 50)
        .chain(std::iter::repeat_n(5000, 10))
        .collect();
    let slow: Vec<u64> = (1..=1000).map(|i| 2000 + i).collect();
    let mut trials = Vec::new();
    for (i, values) in [fast, slow].iter().enumerate() {
        let tid = format!("20260101T00000{i}Z");
        p.write(
            &format!("trials/hp/{tid}/h-0/t/a.hlog"),
            &(head.to_string() + &crate::hardening::hlog_line("x", 0.0, values)),
        );
        p.write(
            &format!("trials/hp/{tid}/trial.json"),
            &format!(r#"{{"plan": "hp", "trial": "{tid}", "status": "complete", "hosts": {{"h[0]": {{"dir": "h-0"}}}}, "tests": [], "monitors": []}}"#),
        );
        p.run(&["analyze", "plan.toml", &tid]).ok();
        trials.push(serde_json::json!({"id": tid, "point": "", "repetition": i + 1, "discard": false, "status": "complete"}));
    }
    let doc = serde_json::json!({"plan": "hp", "series": "series-1", "vars": [], "points": [{"label": "", "vars": {}}], "repeat": 2, "trials": trials});
    p.write("trials/hp/series-1/series.json", &doc.to_string());
    p.run(&["analyze", "plan.toml", "series-1"]).ok();
    let merged = output_of(
        p.command(&[
            "analyze",
            "--parser",
            "hdr",
            "--unit",
            "us",
            "--format",
            "csv",
            "trials/hp/20260101T000000Z/h-0/t/a.hlog",
            "trials/hp/20260101T000001Z/h-0/t/a.hlog",
        ])
        .output()
        .unwrap(),
    );
    let mut r = csv::Reader::from_reader(merged.stdout.as_bytes());
    let headers = r.headers().unwrap().clone();
    let rec = r.records().next().unwrap().unwrap();
    let p99_col = headers.iter().position(|h| h.starts_with("p99 (")).unwrap();
    let want: f64 = rec[p99_col].parse().unwrap();
    let table = p.read("trials/hp/series-1/analysis/lat.csv");
    let mut r = csv::Reader::from_reader(table.as_bytes());
    let headers = r.headers().unwrap().clone();
    let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
    let row = r
        .records()
        .map(Result::unwrap)
        .find(|rec| rec[col("figure")].starts_with("p99 ("))
        .unwrap();
    let pooled: f64 = row[col("pooled")].parse().unwrap();
    let mean: f64 = row[col("mean")].parse().unwrap();
    assert_eq!(pooled, want, "{table}");
    assert!(
        (mean - pooled).abs() > 100.0,
        "the mean of p99s is not the pooled p99: {table}"
    );
}

/// The series' report: self-contained (links only to its trials' own
/// reports), opened in a real browser, every figure of its table there.
fn series_report_opens_offline(p: &Project, id: &str) {
    let dir = p.path().join("trials/sw").join(id);
    let path = dir.join("report.html");
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(!html.contains("<script"), "a script");
    for attr in ["src=", "url(", "@import"] {
        assert!(!html.contains(attr), "{attr} in the report");
    }
    let hrefs: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .map(|r| r.split('"').next().unwrap())
        .collect();
    assert_eq!(hrefs.len(), 6, "a link per trial");
    for h in hrefs {
        let target = h
            .strip_prefix("../")
            .expect("relative to the series folder");
        assert!(
            p.path().join("trials/sw").join(target).is_file(),
            "{h} does not exist"
        );
    }
    let url = format!("file://{}", path.display());
    let (dom, log) = crate::report::chromium(&["--dump-dom", &url]);
    assert!(
        !log.contains("Uncaught") && !log.contains("CONSOLE"),
        "console: {log}"
    );
    // Per headline figure: against the first series var, and in run order.
    assert!(dom.matches("<svg").count() >= 4, "charts");
    assert!(
        dom.contains(">\nsize\n</text>") || dom.contains(">size</text>"),
        "x axis named by the series var"
    );
    assert!(dom.contains("trial, in the order they ran"), "drift chart");
    let mut csv = csv::Reader::from_path(dir.join("analysis/val.csv")).unwrap();
    for rec in csv.records() {
        for cell in rec.unwrap().iter() {
            let shown = if cell.parse::<f64>().is_ok() {
                format!("title=\"{}\"", crate::report::escape(cell))
            } else {
                format!(">{}</td>", crate::report::escape(cell))
            };
            assert!(dom.contains(&shown), "`{cell}` not in the page");
        }
    }
}

/// A server with a monitor (which widens the moment between a trial
/// recorded armed and its tests armed) and a client; every trial notes its
/// point and repetition in `runs.txt`.
const KILL_PLAN: &str = r#"name = "ka"
[groups.server]
count = 1
[groups.client]
count = 1
[series]
repeat = 3
order = "in-order"
[series.vars]
mode = ["x", "y"]
[[monitor]]
name = "m"
on = ["server"]
run = "sleep 30"
[[test]]
name = "w"
on = ["client"]
run = """
echo "{{ series.point }} {{ series.repetition }}" >> runs.txt
printf 'v\n1\n' > {{ out }}/r.csv
"""
[[analyze]]
name = "vals"
parser = "csv"
files = "*/w/r.csv"
"#;

#[test]
fn a_kill_before_the_tests_are_armed_runs_that_repetition_again() {
    for round in 0..5u64 {
        let p = Project::new();
        p.write("plan.toml", KILL_PLAN);
        let mut child = p.command(&["apply", "plan.toml", "--yes"]).spawn().unwrap();
        // Kill as soon as the second trial's folder appears: just before or
        // just after it is recorded armed, before its tests are.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let folders = std::fs::read_dir(p.path().join("trials/ka"))
                .map(|d| {
                    d.flatten()
                        .filter(|e| e.path().is_dir())
                        .filter(|e| e.path().join("trial.json").is_file())
                        .count()
                })
                .unwrap_or(0);
            if folders >= 2 || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(2 + round * 3));
        }
        kill(child.id(), "KILL");
        let _ = child.wait();
        let r = p.run(&["apply", "plan.toml", "--yes"]);
        assert_eq!(r.code, 0, "round {round}: {r:?}");
        let plan = p.run(&["plan", "plan.toml"]);
        assert!(
            plan.stdout.contains("No changes."),
            "round {round}: {plan:?}"
        );
        // Every (point, repetition) ran, none twice.
        let runs = p.read(".runner/ka/hosts/client-0/work/runs.txt");
        let mut lines: Vec<&str> = runs.lines().collect();
        lines.sort_unstable();
        lines.dedup();
        assert_eq!(
            lines.len(),
            runs.lines().count(),
            "round {round}: twice:\n{runs}"
        );
        assert_eq!(lines.len(), 6, "round {round}:\n{runs}");
        p.run(&["destroy", "plan.toml", "--yes"]).ok();
    }
}

#[test]
fn a_repetition_that_failed_runs_again_and_counts_once() {
    let p = Project::new();
    p.write(
        "plan.toml",
        r#"name = "fl"
[groups.h]
count = 1
[series]
repeat = 3
[[test]]
name = "t"
on = ["h"]
run = """
if [ {{ series.repetition }} = 2 ] && [ ! -e failed-once ]; then touch failed-once; exit 7; fi
printf 'v\n{{ series.repetition }}\n' > {{ out }}/v.csv
"""
[[analyze]]
name = "val"
parser = "csv"
files = "*/t/v.csv"
"#,
    );
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    let plan = p.run(&["plan", "plan.toml", "-v"]);
    assert!(plan.stdout.contains("failed on some host"), "{plan:?}");
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    assert!(p.run(&["plan", "plan.toml"]).stdout.contains("No changes."));
    let id = std::fs::read_dir(p.path().join("trials/fl"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("series-"))
        .unwrap();
    let table = p.read(&format!("trials/fl/{id}/analysis/val.csv"));
    let mean = table
        .lines()
        .find(|l| l.starts_with("all files") && l.contains(",mean,"))
        .unwrap();
    // Repetitions 1, 2 (its second run) and 3: n 3, mean 2.
    assert!(mean.contains(",3,0,2,"), "{table}");
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

/// `runner plan` folds a series' nodes by their identity, not by the text
/// they start with: analyses `tcp` and `tcp-rx` are two lines.
#[test]
fn plan_folds_nodes_of_the_series_by_identity() {
    let p = Project::new();
    // `val-rx` declared before `val`: the text of one starts the other's.
    let plan = sweep_plan("1, 2", 2, "\"csv\"").replace(
        "[[analyze]]\nname = \"val\"",
        "[[analyze]]\nname = \"val-rx\"\nparser = \"csv\"\nfiles = \"*/t/v.csv\"\nformats = [\"csv\"]\n[[analyze]]\nname = \"val\"",
    );
    assert!(plan.contains("val-rx"));
    p.write("p.toml", &plan);
    let r = p.run(&["plan", "p.toml", "--no-color"]);
    assert_eq!(r.code, 0, "{r:?}");
    let line = |name: &str| {
        r.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("+ analyze {name} ")))
            .unwrap_or_else(|| panic!("no line for `analyze {name}`:\n{}", r.stdout))
            .to_string()
    };
    // 2 points × (2 repetitions + 1 warm-up) = 6 trials, each with both.
    assert!(line("val").contains("in 6 trials"), "{}", line("val"));
    assert!(line("val-rx").contains("in 6 trials"), "{}", line("val-rx"));
}
