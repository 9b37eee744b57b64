//! The ready plans of `plans/examples/`, written by `runner init --example`
//! and applied end to end on local hosts as a user would (durations made
//! short where a plan has a knob for it), then destroyed: each tool's
//! table has its figures, and nothing is left running.

use std::time::Duration;

use crate::common::{Project, Run, wait_bounded};

fn csv_rows(p: &Project, rel: &str) -> Vec<std::collections::HashMap<String, String>> {
    crate::common::csv_rows(&p.read(rel))
}

/// The example written into a fresh project, `edit` applied to its plan.
fn example(name: &str, edit: impl Fn(String) -> String) -> Project {
    let p = Project::new();
    let r = p.run(&["init", "--example", name, "."]);
    assert_eq!(r.code, 0, "{r:?}");
    let plan = edit(p.read("plan.toml"));
    p.write("plan.toml", &plan);
    p
}

fn apply(p: &Project, limit: Duration) -> Run {
    let child = p.command(&["apply", "plan.toml", "--yes"]).spawn().unwrap();
    wait_bounded(child, limit)
}

/// The latest trial's folder under `trials/<plan>/`.
fn latest(p: &Project, plan: &str) -> String {
    let mut ids: Vec<String> = p
        .run_folders(plan)
        .into_iter()
        .filter(|n| !n.starts_with("series-"))
        .collect();
    format!("trials/{plan}/{}", ids.pop().unwrap())
}

fn destroy(p: &Project) {
    let r = p.run(&["destroy", "plan.toml", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(p.sshd_processes().is_empty(), "sshd left after destroy");
}

fn number(row: &std::collections::HashMap<String, String>, col: &str) -> f64 {
    row.get(col)
        .unwrap_or_else(|| panic!("no `{col}` in {row:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("`{col}` is not a number in {row:?}"))
}

#[test]
fn the_examples_are_listed_and_never_overwrite() {
    let p = Project::new();
    let list = p.run(&["init", "--list"]);
    for name in [
        "fio",
        "pgbench-sweep",
        "http",
        "redis",
        "sysbench",
        "locust",
    ] {
        assert!(list.stdout.contains(name), "{list:?}");
    }
    p.run(&["init", "--example", "fio", "."]).ok();
    let again = p.run(&["init", "--example", "fio", "."]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("already exist"), "{again:?}");
    let typo = p.run(&["init", "--example", "pgbench", "."]);
    assert_eq!(typo.code, 1, "{typo:?}");
    assert!(typo.stderr.contains("no example `pgbench`"), "{typo:?}");
    // Every example is a valid plan as written.
    for name in ["pgbench-sweep", "http", "redis", "sysbench", "locust"] {
        let q = Project::new();
        q.run(&["init", "--example", name, "."]).ok();
        let v = q.run(&["validate", "plan.toml"]);
        assert_eq!(v.code, 0, "{name}: {v:?}");
    }
}

#[test]
fn fio_sysbench_and_redis_examples_run_as_they_are() {
    let fio = example("fio", |t| t.replace("runtime = 2", "runtime = 1"));
    let r = apply(&fio, Duration::from_secs(180));
    assert_eq!(r.code, 0, "{r:?}");
    let rows = csv_rows(&fio, &format!("{}/analysis/io.csv", latest(&fio, "fio")));
    let read = rows.iter().find(|r| r["direction"] == "read").unwrap();
    assert_eq!(read["jobs"], "4", "2 hosts × 2 jobs merged: {read:?}");
    assert!(number(read, "clat p99 (ns)") >= number(read, "clat p50 (ns)"));
    destroy(&fio);

    let sb = example("sysbench", |t| t.replace("time = 2", "time = 1"));
    let r = apply(&sb, Duration::from_secs(180));
    assert_eq!(r.code, 0, "{r:?}");
    let dir = latest(&sb, "sysbench");
    let all = csv_rows(&sb, &format!("{dir}/analysis/cpu.csv"));
    let by_host = csv_rows(&sb, &format!("{dir}/analysis/cpu-by-host.csv"));
    let sum: f64 = by_host.iter().map(|r| number(r, "events/s (1/s)")).sum();
    assert!(
        (number(&all[0], "events/s (1/s)") - sum).abs() < 1e-6 * sum,
        "events/s of both hosts is their sum"
    );
    assert!(number(&all[0], "p99 (ms)") > 0.0);
    destroy(&sb);

    let redis = example("redis", |t| {
        t.replace("requests = 20000", "requests = 5000")
    });
    let r = apply(&redis, Duration::from_secs(180));
    assert_eq!(r.code, 0, "{r:?}");
    let rows = csv_rows(
        &redis,
        &format!("{}/analysis/redis.csv", latest(&redis, "redis")),
    );
    assert_eq!(rows.len(), 4, "2 clients × SET, GET: {rows:?}");
    assert!(rows.iter().all(|r| number(r, "requests/s (1/s)") > 0.0));
    destroy(&redis);
}

#[test]
fn http_and_locust_examples_run_as_they_are() {
    let http = example("http", |t| t.replace("duration = 3", "duration = 2"));
    let r = apply(&http, Duration::from_secs(180));
    assert_eq!(r.code, 0, "{r:?}");
    let dir = latest(&http, "http");
    let wrk = csv_rows(&http, &format!("{dir}/analysis/wrk.csv"));
    assert_eq!(wrk.len(), 2, "a row per client: {wrk:?}");
    assert!(
        wrk.iter()
            .all(|r| number(r, "requests/s (1/s)") > 0.0 && number(r, "p99 (ms)") > 0.0)
    );
    let ab = csv_rows(&http, &format!("{dir}/analysis/ab-latency.csv"));
    assert_eq!(
        number(&ab[0], "count"),
        600.0,
        "2 clients × 300 requests merged: {ab:?}"
    );
    destroy(&http);

    let locust = example("locust", |t| t);
    let r = apply(&locust, Duration::from_secs(180));
    assert_eq!(r.code, 0, "{r:?}");
    let rows = csv_rows(
        &locust,
        &format!("{}/analysis/endpoints.csv", latest(&locust, "locust")),
    );
    let missing = rows.iter().find(|r| r["endpoint"] == "/missing").unwrap();
    assert_eq!(
        number(missing, "failures"),
        number(missing, "requests"),
        "every /missing is a 404: {missing:?}"
    );
    destroy(&locust);
}

/// The latency-vs-throughput sweep: per offered rate, tps added over the
/// three clients and p50/p95/p99 of every transaction merged, with their
/// spread over the repetitions — no line of user code.
#[test]
fn pgbench_sweep_example_gives_tps_and_merged_percentiles_per_rate() {
    let p = example("pgbench-sweep", |t| {
        t.replace("repeat = 3", "repeat = 2")
            .replace("rate = [20, 50, 100]", "rate = [10, 30]")
            .replace("duration = 4", "duration = 3")
    });
    let r = apply(&p, Duration::from_secs(600));
    assert_eq!(r.code, 0, "{r:?}");
    let mut series: Vec<String> = std::fs::read_dir(p.path().join("trials/pgbench-sweep"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("series-"))
        .collect();
    series.sort();
    let dir = format!("trials/pgbench-sweep/{}/analysis", series.pop().unwrap());
    let tps = csv_rows(&p, &format!("{dir}/tps.csv"));
    for rate in ["10", "30"] {
        let row = tps
            .iter()
            .find(|r| r["rate"] == rate && r["figure"] == "tps (1/s)")
            .unwrap_or_else(|| panic!("no tps row for rate {rate}: {tps:?}"));
        assert_eq!(row["n"], "2", "{row:?}");
        let offered = 3.0 * rate.parse::<f64>().unwrap();
        let mean = number(row, "mean");
        assert!(
            (mean - offered).abs() < 0.25 * offered,
            "rate {rate}: tps {mean} of 3 clients, offered {offered}"
        );
        assert!(number(row, "ci95_low") <= mean && mean <= number(row, "ci95_high"));
    }
    let lat = csv_rows(&p, &format!("{dir}/latency.csv"));
    for rate in ["10", "30"] {
        for q in ["p50 (us)", "p95 (us)", "p99 (us)"] {
            let row = lat
                .iter()
                .find(|r| r["rate"] == rate && r["figure"] == q)
                .unwrap_or_else(|| panic!("no {q} row for rate {rate}: {lat:?}"));
            assert_eq!(row["n"], "2", "{row:?}");
            assert!(
                number(row, "pooled") > 0.0,
                "every transaction of the point merged: {row:?}"
            );
        }
    }
    // The table to paste: per rate, transactions/s and p50/p95/p99 in ms,
    // each with its interval; and the report's first charts.
    let wide = csv_rows(&p, &format!("{dir}/latency-wide.csv"));
    assert_eq!(wide.len(), 2, "a row per rate: {wide:?}");
    for row in &wide {
        for col in [
            "events/s (1/s)",
            "p50 (ms)",
            "p95 (ms)",
            "p99 (ms)",
            "p99 low (ms)",
            "p99 high (ms)",
        ] {
            assert!(number(row, col) >= 0.0, "{col}: {row:?}");
        }
        let p99_us = lat
            .iter()
            .find(|r| r["rate"] == row["rate"] && r["figure"] == "p99 (us)")
            .unwrap();
        assert!(
            (number(row, "p99 (ms)") * 1000.0 - number(p99_us, "mean")).abs()
                < 1e-6 * number(p99_us, "mean"),
            "the mean, in ms: {row:?} {p99_us:?}"
        );
    }
    let report = p.read(&format!(
        "{}/report.html",
        dir.trim_end_matches("/analysis")
    ));
    let glance = report.find("At a glance").unwrap();
    for chart in [
        "latency: p99 against rate",
        "tps: tps against rate",
        "latency: against events/s",
    ] {
        assert!(
            report[glance..].contains(chart),
            "{chart} in the report's first charts"
        );
    }
    destroy(&p);
    assert!(p.netns_left("pgbench-sweep").is_empty(), "namespaces left");
}
