//! `runner history`: a plan's runs in order, labelled; change points by
//! E-Divisive with a seeded permutation test — a 10 % step after the 6th of
//! 12 series found where it is (the same position as MongoDB's
//! `signal-processing-algorithms` 2.1.6 finds on the same values), a flat
//! history of 12 trials with none; the gate's exit codes; history.html in
//! a real browser.

use crate::common::Project;

/// A series of one point, two trials; the test's figure is the time a
/// sleep of `vars.delay` seconds took, in ms.
fn plan(delay: &str) -> String {
    format!(
        r#"name = "hist"
[vars]
delay = "{delay}"
[groups.h]
count = 1
[series]
repeat = 2
[series.vars]
x = [1]
[[test]]
name = "t"
on = ["h"]
run = "s=$(date +%s%N); sleep {{{{ vars.delay }}}}; e=$(date +%s%N); awk -v s=$s -v e=$e 'BEGIN {{ printf \"ms\\n%.3f\\n\", (e - s) / 1e6 }}' > {{{{ out }}}}/value.csv"
[[analyze]]
name = "sleep"
parser = "csv"
files = "*/t/value.csv"
by = []
units = {{ ms = "ms" }}
formats = ["csv"]
"#
    )
}

/// The `value` column of history.csv for `figure` (the csv parser's
/// `mean`, `min`, `max` of column `ms`), run by run.
fn values(csv: &str, figure: &str) -> Vec<f64> {
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    r.records()
        .map(|rec| rec.unwrap())
        .filter(|rec| &rec[col("figure")] == figure)
        .map(|rec| rec[col("value")].parse().unwrap())
        .collect()
}

/// The reference library's change points of `v` (same p-value and
/// permutations; its own seeded generator).
fn reference(v: &[f64]) -> Vec<usize> {
    let list = v
        .iter()
        .map(|x| format!("{x:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let out = std::process::Command::new("/opt/runner-spa/bin/python")
        .args([
            "-c",
            &format!(
                "import numpy as np\nfrom signal_processing_algorithms.energy_statistics.energy_statistics import e_divisive\nnp.random.seed(1)\nprint(sorted(e_divisive([{list}], pvalue=0.05, permutations=100)))"
            ),
        ])
        .output()
        .expect("signal-processing-algorithms (scripts/install-tools --tests installs it in /opt/runner-spa)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .trim_matches(['[', ']'])
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect()
}

/// A page of `trials/<plan>/`: every link resolves beside it, and
/// chromium opens it with no console error. Its text and chromium's DOM.
fn opened(path: &std::path::Path) -> (String, String) {
    let html = std::fs::read_to_string(path).unwrap();
    let dir = path.parent().unwrap();
    for href in html.split("href=\"").skip(1) {
        let target = href.split('"').next().unwrap();
        assert!(dir.join(target).is_file(), "{target}");
    }
    let (dom, log) =
        crate::report::chromium(&["--dump-dom", &format!("file://{}", path.display())]);
    assert!(
        !log.contains("Uncaught") && !log.contains("CONSOLE"),
        "{log}"
    );
    (html, dom)
}

#[test]
fn a_step_in_a_history_of_series_is_found_where_the_reference_finds_it() {
    let p = Project::new();
    for i in 1..=12 {
        let delay = if i <= 6 { "0.2" } else { "0.22" };
        p.write("plan.toml", &plan(delay));
        let label = format!("v{i}");
        let r = p.run(&[
            "apply",
            "plan.toml",
            "--yes",
            "--new-trial",
            "--label",
            &label,
        ]);
        assert_eq!(r.code, 0, "{label}: {r:?}");
    }
    let r = p.run(&["history", "plan.toml", "--format", "csv"]);
    assert_eq!(r.code, 0, "{r:?}");
    let csv = p.read("trials/hist/history.csv");
    let v = values(&csv, "mean");
    assert_eq!(v.len(), 12, "{csv}");
    // Labels in the order they ran.
    for i in 1..=12 {
        assert!(csv.contains(&format!("\n{i},v{i},series-")), "v{i}: {csv}");
    }
    // The gate: a change for the worse (ms: lower is better) at run 7.
    let r = p.run(&[
        "history",
        "plan.toml",
        "--changes",
        "--figure",
        "mean",
        "--row",
        "column=ms",
        "--format",
        "csv",
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    let mut rows = csv::Reader::from_reader(r.stdout.as_bytes());
    let h = rows.headers().unwrap().clone();
    let recs: Vec<csv::StringRecord> = rows.records().map(|x| x.unwrap()).collect();
    assert_eq!(recs.len(), 1, "{}", r.stdout);
    let get = |n: &str| recs[0][h.iter().position(|x| x == n).unwrap()].to_string();
    assert_eq!(get("run"), "7");
    assert_eq!(get("label"), "v7");
    assert_eq!(get("verdict"), "worse");
    assert!(get("p").parse::<f64>().unwrap() < 0.05, "{}", r.stdout);
    let change: f64 = get("change (%)").parse().unwrap();
    assert!((5.0..15.0).contains(&change), "{change}");
    // The reference library finds the same position (index 6: run 7).
    assert_eq!(reference(&v), vec![6], "{v:?}");
    // After v7 nothing changed: the gate passes.
    let r = p.run(&[
        "history",
        "plan.toml",
        "--changes",
        "--figure",
        "mean",
        "--since",
        "v7",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = p.run(&["history", "plan.toml", "--changes", "--since", "v99"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("--since v99"), "{r:?}");

    // history.html in a real browser: no console error, every link resolves.
    let (html, dom) = opened(&p.path().join("trials/hist/history.html"));
    assert!(!html.contains("<script"));
    assert!(dom.contains("v7") && dom.contains("<svg"), "{dom}");
    assert!(dom.contains("Change point before run 7"), "{dom}");

    // The index: every series, newest first, linked to its report.
    let r = p.run(&["report", "plan.toml", "--index"]);
    assert_eq!(r.code, 0, "{r:?}");
    let (html, dom) = opened(&p.path().join("trials/hist/index.html"));
    let (v12, v1) = (html.find(">v12<").unwrap(), html.find(">v1<").unwrap());
    assert!(v12 < v1, "newest first");
    let links: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .map(|h| h.split('"').next().unwrap())
        .collect();
    assert_eq!(
        links.iter().filter(|l| l.ends_with("/report.html")).count(),
        12,
        "{html}"
    );
    assert!(
        dom.contains("series") && dom.contains("sleep: mean"),
        "{dom}"
    );
}

#[test]
fn a_flat_history_has_no_change_point() {
    let p = Project::new();
    let flat = plan("0")
        .replace("name = \"hist\"", "name = \"flat\"")
        .replace("[series]\nrepeat = 2\n[series.vars]\nx = [1]\n", "")
        .replace(
            "awk -v s=$s -v e=$e 'BEGIN { printf \\\"ms\\\\n%.3f\\\\n\\\", (e - s) / 1e6 }'",
            "printf 'ms\\\\n100\\\\n'",
        );
    assert!(flat.contains("printf 'ms"), "{flat}");
    p.write("plan.toml", &flat);
    for i in 1..=12 {
        let r = p.run(&[
            "apply",
            "plan.toml",
            "--yes",
            "--new-trial",
            "--label",
            &format!("f{i}"),
        ]);
        assert_eq!(r.code, 0, "{r:?}");
    }
    let r = p.run(&["history", "plan.toml", "--changes", "--format", "csv"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.trim().lines().count(), 1, "only the header: {r:?}");
    let r = p.run(&["history", "plan.toml", "--format", "csv"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = values(&p.read("trials/flat/history.csv"), "mean");
    assert_eq!(v, vec![100.0; 12]);
    assert_eq!(reference(&v), Vec::<usize>::new());
}
