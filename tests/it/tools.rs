//! The load tools' parsers on their real output (`tests/samples/<tool>/`,
//! each file's command in `tests/samples/README.md`), every figure held
//! against an independent computation, named at each check: numpy over the
//! raw samples (percentiles by rank ⌈q·N⌉, within HdrHistogram's precision:
//! relative 1e-3 at 3 digits); fio's percentiles recomputed in Python from
//! the merged bins, and fio's own for one job; the tools' own printed
//! figures. Merging what cannot be merged (a percentile of several hosts)
//! is refused, with the reason.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{BIN, Run, output_of};

const PY: &str = "/usr/local/bin/runner-scipy-python";

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples")
}

fn analyze(args: &[&str]) -> Run {
    output_of(
        Command::new(BIN)
            .arg("analyze")
            .args(args)
            .args(["--format", "csv"])
            .current_dir(samples())
            .output()
            .unwrap(),
    )
}

/// The CSV table's rows, header → cell.
fn rows(r: &Run) -> Vec<HashMap<String, String>> {
    crate::common::csv_rows(&r.stdout)
}

fn ok_rows(args: &[&str]) -> Vec<HashMap<String, String>> {
    let r = analyze(args);
    assert_eq!(r.code, 0, "{r:?}");
    rows(&r)
}

fn num(row: &HashMap<String, String>, col: &str) -> f64 {
    let cell = row
        .get(col)
        .unwrap_or_else(|| panic!("no column `{col}` in {row:?}"));
    cell.parse()
        .unwrap_or_else(|_| panic!("`{col}` = `{cell}` is not a number"))
}

/// `got` within `rel` (relative) of `want`.
fn near(got: f64, want: f64, rel: f64, what: &str) {
    let tol = rel * want.abs().max(1e-12);
    assert!(
        (got - want).abs() <= tol,
        "{what}: runner {got}, reference {want} (±{rel})"
    );
}

/// A Python program's JSON answer (numpy from the SciPy venv).
fn python(script: &str) -> Value {
    let out = Command::new(PY)
        .arg("-c")
        .arg(script)
        .current_dir(samples())
        .output()
        .expect("runner-scipy-python (scripts/install-tools --tests)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// numpy's figures of a column of numbers: count, mean, population
/// stddev, min, max, and the value at rank ⌈q·N⌉ for each percentile.
const STATS: &str = r#"
import json, math, numpy as np
def stats(x, qs):
    x = np.sort(np.asarray(x, dtype=float)); n = len(x)
    out = {"count": n, "mean": float(x.mean()), "stddev": float(x.std()), "min": float(x[0]), "max": float(x[-1])}
    for q in qs:
        out["p%g" % q] = float(x[math.ceil(q / 100 * n) - 1])
    return out
"#;

fn check_samples(row: &HashMap<String, String>, want: &Value, unit: &str, qs: &[f64], what: &str) {
    assert_eq!(
        num(row, "count"),
        want["count"].as_f64().unwrap(),
        "{what}: count (numpy)"
    );
    for k in ["mean", "stddev", "min", "max"] {
        near(
            num(row, &format!("{k} ({unit})")),
            want[k].as_f64().unwrap(),
            1e-9,
            &format!("{what}: {k} (numpy)"),
        );
    }
    for q in qs {
        let name = format!("p{q}");
        near(
            num(row, &format!("{name} ({unit})")),
            want[&name].as_f64().unwrap(),
            1e-3,
            &format!("{what}: {name} (numpy, rank ⌈q·N⌉, HDR precision)"),
        );
    }
}

#[test]
fn pgbench_logs_summaries_and_aggregates() {
    // Per-transaction logs of two threads, merged: numpy over column 3.
    let qs = [50.0, 90.0, 95.0, 99.0, 99.9];
    let want = python(&format!(
        "{STATS}\nx=[float(l.split()[2]) for f in ['pgbench/pgb_log.25037','pgbench/pgb_log.25037.1'] for l in open(f)]\nt=[int(l.split()[4])+int(l.split()[5])/1e6 for f in ['pgbench/pgb_log.25037','pgbench/pgb_log.25037.1'] for l in open(f)]\ns=stats(x,{qs:?}); s['rate']=len(x)/(max(t)-min(t)); print(json.dumps(s))"
    ));
    let r = ok_rows(&[
        "--parser",
        "pgbench",
        "--percentiles",
        "50,90,95,99,99.9",
        "pgbench/pgb_log.25037",
        "pgbench/pgb_log.25037.1",
    ]);
    assert_eq!(r.len(), 1);
    check_samples(&r[0], &want, "us", &qs, "pgbench --log");
    near(
        num(&r[0], "events/s (1/s)"),
        want["rate"].as_f64().unwrap(),
        1e-9,
        "pgbench --log events/s (count over first to last completion)",
    );
    // The same logs through `samples`, columns named by number.
    let s = ok_rows(&[
        "--parser",
        "samples",
        "--set",
        "latency=3",
        "--unit",
        "us",
        "--set",
        "time=5",
        "--set",
        "time_us=6",
        "--percentiles",
        "50,90,95,99,99.9",
        "pgbench/pgb_log.25037",
        "pgbench/pgb_log.25037.1",
    ]);
    assert_eq!(s, r);
    // Summaries: pgbench's printed figures; merged: added, and the mean
    // and stddev combined exactly (numbers from the files, in Python).
    let by_file = ok_rows(&[
        "--parser",
        "pgbench",
        "--by",
        "file",
        "pgbench/pgbench_summary_rate.txt",
    ]);
    let f = &by_file[0];
    for (col, printed) in [
        ("tps (1/s)", 285.666453),
        ("latency average (ms)", 4.078),
        ("latency stddev (ms)", 2.513),
        ("initial connection time (ms)", 8.949),
        ("lag average (ms)", 0.409),
        ("lag max (ms)", 8.549),
        ("transactions", 860.0),
    ] {
        near(
            num(f, col),
            printed,
            1e-12,
            &format!("pgbench summary {col} (printed)"),
        );
    }
    // One run with -R, one without: no lag, no stddev in the second, so
    // none in the merged row (said, exit 1).
    let run = analyze(&[
        "--parser",
        "pgbench",
        "pgbench/pgbench_summary_rate.txt",
        "pgbench/pgbench_summary.txt",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("only some of its summaries have them: latency stddev, lag average, lag max"),
        "{run:?}"
    );
    let both = rows(&run);
    assert_eq!(
        (
            both[0]["lag max (ms)"].as_str(),
            both[0]["latency stddev (ms)"].as_str()
        ),
        ("", "")
    );
    near(
        num(&both[0], "tps (1/s)"),
        285.666453 + 514.980743,
        1e-12,
        "tps of two hosts (sum of printed)",
    );
    near(
        num(&both[0], "latency average (ms)"),
        (4.078 * 860.0 + 3.884 * 1546.0) / 2406.0,
        1e-12,
        "latency average of two hosts (weighted by transactions)",
    );
    // Aggregate log: numpy from its own sums.
    let want = python(
        "import json\nl=[list(map(float,x.split())) for x in open('pgbench/pgb_agg.25140')]\nn=sum(r[1] for r in l); s=sum(r[2] for r in l); s2=sum(r[3] for r in l); m=s/n\nprint(json.dumps({'n':n,'mean':m,'sd':(s2/n-m*m)**0.5,'min':min(r[4] for r in l if r[1]>0),'max':max(r[5] for r in l)}))",
    );
    let a = ok_rows(&["--parser", "pgbench", "pgbench/pgb_agg.25140"]);
    assert_eq!(num(&a[0], "transactions"), want["n"].as_f64().unwrap());
    // Without -R pgbench 15 writes the lag's fields as zeros: no lag, not 0.
    assert_eq!(
        (
            a[0]["lag mean (us)"].as_str(),
            a[0]["lag max (us)"].as_str()
        ),
        ("", "")
    );
    near(
        num(&a[0], "latency mean (us)"),
        want["mean"].as_f64().unwrap(),
        1e-12,
        "aggregate mean (sums)",
    );
    near(
        num(&a[0], "latency stddev (us)"),
        want["sd"].as_f64().unwrap(),
        1e-9,
        "aggregate stddev (sums)",
    );
    near(
        num(&a[0], "latency max (us)"),
        want["max"].as_f64().unwrap(),
        0.0,
        "aggregate max",
    );
    // One analysis, one kind of output.
    let mixed = analyze(&[
        "--parser",
        "pgbench",
        "pgbench/pgb_log.25037",
        "pgbench/pgb_agg.25140",
    ]);
    assert_eq!(mixed.code, 1, "{mixed:?}");
    assert!(
        mixed.stderr.contains("one analysis reads one kind"),
        "{mixed:?}"
    );
}

#[test]
fn ab_report_gnuplot_and_percentiles() {
    let qs = [50.0, 90.0, 99.0];
    let want = python(&format!(
        "{STATS}\nl=[x.split('\\t') for x in open('ab/ab_gnuplot.tsv').read().splitlines()[1:]]\nprint(json.dumps(stats([float(r[4]) for r in l], {qs:?})))"
    ));
    let g = ok_rows(&[
        "--parser",
        "ab",
        "--percentiles",
        "50,90,99",
        "ab/ab_gnuplot.tsv",
    ]);
    check_samples(&g[0], &want, "ms", &qs, "ab -g ttime");
    // ab -g stamps whole seconds: a run of under 100 s gives no events/s
    // (it would be off by up to a second at each end), and says so.
    assert_eq!(g[0]["events/s (1/s)"], "", "{:?}", g[0]);
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(samples().join("ab/ab_gnuplot.tsv")).unwrap();
    let later: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| match i % 2 {
            1 => l.replace("\t1796524091\t", "\t1796524092\t"),
            _ => l.to_string(),
        })
        .collect();
    let two = dir.path().join("two seconds.tsv");
    std::fs::write(&two, later.join("\n")).unwrap();
    let r = analyze(&["--parser", "ab", two.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(rows(&r)[0]["events/s (1/s)"], "", "{r:?}");
    assert!(
        r.stderr.contains("the timestamps are whole numbers of s"),
        "{r:?}"
    );
    let r = ok_rows(&["--parser", "ab", "ab/ab_report.txt"]);
    for (col, printed) in [
        ("requests/s (1/s)", 892.18),
        ("time per request (ms)", 4.483),
        ("requests", 400.0),
        ("p50 (ms)", 3.0),
        ("p99 (ms)", 16.0),
        ("total max (ms)", 20.0),
        ("transfer rate (bytes/s)", 4986.25 * 1024.0),
    ] {
        near(
            num(&r[0], col),
            printed,
            1e-12,
            &format!("ab report {col} (printed)"),
        );
    }
    let e = ok_rows(&["--parser", "ab", "ab/ab_percentiles.csv"]);
    near(num(&e[0], "p90 (ms)"), 11.378, 1e-12, "ab -e p90 (printed)");
}

#[test]
fn wrk_figures_and_no_merged_percentile() {
    let r = ok_rows(&["--parser", "wrk", "wrk/wrk_latency.txt"]);
    for (col, printed) in [
        ("requests/s (1/s)", 640.36),
        ("latency avg (ms)", 9.90),
        ("p99 (ms)", 51.19),
        ("p50 (ms)", 8.11),
        ("latency max (ms)", 213.98),
        ("requests", 1283.0),
        ("transfer/s (bytes/s)", 3.5 * 1048576.0),
    ] {
        near(
            num(&r[0], col),
            printed,
            1e-12,
            &format!("wrk {col} (printed)"),
        );
    }
    // Two hosts: rates add, percentiles are refused with the reason.
    let dir = tempfile::tempdir().unwrap();
    for h in ["a", "b"] {
        std::fs::copy(samples().join("wrk/wrk_latency.txt"), dir.path().join(h)).unwrap();
    }
    let out = output_of(
        Command::new(BIN)
            .args(["analyze", "--parser", "wrk", "--format", "csv", "a", "b"])
            .current_dir(dir.path())
            .output()
            .unwrap(),
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("percentiles and spreads of several hosts (files) cannot be merged"),
        "{out:?}"
    );
    let merged = rows(&out);
    near(
        num(&merged[0], "requests/s (1/s)"),
        2.0 * 640.36,
        1e-12,
        "wrk requests/s of two hosts (sum)",
    );
    assert_eq!(merged[0]["p99 (ms)"], "", "a merged percentile is empty");
}

#[test]
fn sysbench_reports_and_histograms() {
    let cpu = ok_rows(&[
        "--parser",
        "sysbench",
        "--percentiles",
        "95,99",
        "sysbench/sysbench_cpu_histogram.txt",
    ]);
    near(
        num(&cpu[0], "events/s (1/s)"),
        4360.52,
        1e-12,
        "sysbench events/s (printed)",
    );
    // The percentile from the histogram equals the one sysbench printed (2 decimals).
    near(
        num(&cpu[0], "p99 (ms)"),
        4.33,
        0.001,
        "sysbench p99 from its histogram (printed 99th percentile)",
    );
    let oltp = ok_rows(&[
        "--parser",
        "sysbench",
        "sysbench/sysbench_oltp_pgsql.txt",
        "--percentiles",
        "95",
    ]);
    for (col, printed) in [
        ("transactions/s (1/s)", 411.50),
        ("queries/s (1/s)", 8247.82),
        ("ignored errors", 3.0),
        ("latency avg (ms)", 4.84),
    ] {
        near(
            num(&oltp[0], col),
            printed,
            1e-12,
            &format!("sysbench oltp {col} (printed)"),
        );
    }
    near(
        num(&oltp[0], "p95 (ms)"),
        9.91,
        0.001,
        "sysbench oltp p95 from its histogram (printed)",
    );
    // Two hosts' histograms added bucket by bucket: numpy on the expanded buckets.
    let want = python(
        "import json, math\nimport numpy as np\nb={}\nfor f in ['sysbench/sysbench_cpu_histogram.txt','sysbench/sysbench_oltp_pgsql.txt']:\n  for l in open(f):\n    if '|' in l:\n      v,rest=l.split('|'); b[float(v)]=b.get(float(v),0)+int(rest.split()[-1])\nx=np.repeat(sorted(b), [b[k] for k in sorted(b)])\nn=len(x); print(json.dumps({'p99': float(x[math.floor(n*0.99+0.5)-1])}))",
    );
    // (A CPU and an OLTP report: their histograms add, the counts only
    // one of them has are left empty, said, exit 1.)
    let run = analyze(&[
        "--parser",
        "sysbench",
        "--percentiles",
        "99",
        "sysbench/sysbench_cpu_histogram.txt",
        "sysbench/sysbench_oltp_pgsql.txt",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("`transactions`"), "{run:?}");
    let both = rows(&run);
    assert_eq!(
        both[0]["transactions"], "",
        "one report's count is not the sum"
    );
    near(
        num(&both[0], "p99 (ms)"),
        want["p99"].as_f64().unwrap(),
        0.0,
        "sysbench p99 of merged histograms (numpy on the buckets)",
    );
}

#[test]
fn redis_benchmark_csv_and_report() {
    let c = ok_rows(&[
        "--parser",
        "redis-benchmark",
        "redis-benchmark/redis_csv.csv",
    ]);
    let set = c.iter().find(|r| r["test"] == "SET").unwrap();
    near(
        num(set, "requests/s (1/s)"),
        24691.36,
        1e-12,
        "redis --csv SET rps (printed)",
    );
    near(
        num(set, "p99 (ms)"),
        4.039,
        1e-12,
        "redis --csv SET p99 (printed)",
    );
    let t = ok_rows(&[
        "--parser",
        "redis-benchmark",
        "redis-benchmark/redis_text.txt",
    ]);
    let get = t.iter().find(|r| r["test"] == "GET").unwrap();
    near(
        num(get, "requests"),
        2000.0,
        0.0,
        "redis report GET requests (printed)",
    );
    let set = t.iter().find(|r| r["test"] == "SET").unwrap();
    near(
        num(set, "requests/s (1/s)"),
        29850.75,
        1e-12,
        "redis report SET throughput (printed)",
    );
    near(
        num(set, "p99 (ms)"),
        2.503,
        1e-12,
        "redis report SET p99 (printed)",
    );
    // The report captured through a terminal (CRLF) reads the same.
    let dir = tempfile::tempdir().unwrap();
    let crlf = dir.path().join("redis_text.txt");
    let text = std::fs::read_to_string(samples().join("redis-benchmark/redis_text.txt")).unwrap();
    std::fs::write(&crlf, text.replace('\n', "\r\n")).unwrap();
    let again = ok_rows(&["--parser", "redis-benchmark", crlf.to_str().unwrap()]);
    assert_eq!(again, t, "CRLF endings change nothing");
    // A figure that only one of two files has is not passed off as the
    // sum of both (the CSV has no request count).
    let mixed = analyze(&[
        "--parser",
        "redis",
        "redis-benchmark/redis_text.txt",
        "redis-benchmark/redis_csv.csv",
    ]);
    assert_eq!(mixed.code, 1, "{mixed:?}");
    let set = rows(&mixed)
        .into_iter()
        .find(|r| r["test"] == "SET")
        .unwrap();
    assert_eq!(set["requests"], "", "{set:?}");
    assert!(
        num(&set, "requests/s (1/s)") > 0.0,
        "both have requests/s: {set:?}"
    );
    assert!(
        mixed.stderr.contains("only some of the files have"),
        "{mixed:?}"
    );
    // -q: one line per test.
    let q = ok_rows(&["--parser", "redis", "redis-benchmark/redis_quiet.txt"]);
    let set = q.iter().find(|r| r["test"] == "SET").unwrap();
    near(
        num(set, "requests/s (1/s)"),
        71428.57,
        1e-12,
        "redis -q SET rps (printed)",
    );
    near(
        num(set, "p50 (ms)"),
        0.039,
        1e-12,
        "redis -q SET p50 (printed)",
    );
    assert_eq!(q.len(), 2, "{q:?}");
}

#[test]
fn locust_stats_and_history() {
    let s = ok_rows(&["--parser", "locust", "locust/locust_stats.csv"]);
    let idx = s.iter().find(|r| r["endpoint"] == "/index.html").unwrap();
    near(
        num(idx, "requests"),
        460.0,
        0.0,
        "locust /index.html requests (its CSV)",
    );
    near(
        num(idx, "p99 (ms)"),
        20.0,
        0.0,
        "locust /index.html 99% (its CSV)",
    );
    let miss = s.iter().find(|r| r["endpoint"] == "/missing").unwrap();
    near(
        num(miss, "failures"),
        164.0,
        0.0,
        "locust /missing failures (its CSV)",
    );
    // The history's last row per endpoint is its total.
    let h = ok_rows(&["--parser", "locust", "locust/locust_stats_history.csv"]);
    let agg = h.iter().find(|r| r["endpoint"] == "Aggregated").unwrap();
    near(
        num(agg, "requests"),
        624.0,
        0.0,
        "locust history Aggregated requests (last row)",
    );
    // The stats and the history of one run are one run, not two hosts.
    let both = analyze(&[
        "--parser",
        "locust",
        "locust/locust_stats.csv",
        "locust/locust_stats_history.csv",
    ]);
    assert_eq!(both.code, 1, "{both:?}");
    assert!(
        both.stderr.contains("one kind of Locust output"),
        "{both:?}"
    );
}

#[test]
fn fio_bins_merge_exactly_and_equal_fios_own() {
    // One job's percentiles from its bins equal fio's.
    let by_job = python(
        "import json\nd=json.load(open('fio/fio_jsonplus_a.json'))\nj=d['jobs'][0]['read']['clat_ns']\nprint(json.dumps({k: v for k, v in j['percentile'].items()}))",
    );
    let one = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples/fio/fio_jsonplus_a.json");
    let dir = tempfile::tempdir().unwrap();
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&one).unwrap()).unwrap();
    let first = v["jobs"][0].clone();
    v["jobs"] = Value::Array(vec![first]);
    std::fs::write(dir.path().join("one.json"), v.to_string()).unwrap();
    let r = output_of(
        Command::new(BIN)
            .args([
                "analyze",
                "--parser",
                "fio",
                "--format",
                "csv",
                "--percentiles",
                "50,90,99,99.9",
                "one.json",
            ])
            .current_dir(dir.path())
            .output()
            .unwrap(),
    );
    let row = rows(&r)
        .into_iter()
        .find(|r| r["direction"] == "read")
        .unwrap();
    for (q, key) in [(50, "50.000000"), (90, "90.000000"), (99, "99.000000")] {
        near(
            num(&row, &format!("clat p{q} (ns)")),
            by_job[key].as_f64().unwrap(),
            0.0,
            &format!("fio p{q} from one job's bins (fio's own)"),
        );
    }
    near(
        num(&row, "clat p99.9 (ns)"),
        by_job["99.900000"].as_f64().unwrap(),
        0.0,
        "fio p99.9 from one job's bins (fio's own)",
    );
    // Four jobs of two hosts: recomputed in Python from the merged bins.
    let want = python(
        "import json\nb={}\nN=0; iops=0\nfor f in ['fio/fio_jsonplus_a.json','fio/fio_jsonplus_b.json']:\n  for j in json.load(open(f))['jobs']:\n    iops+=j['read']['iops']\n    for k,c in j['read']['clat_ns']['bins'].items(): b[int(k)]=b.get(int(k),0)+c; N+=c\nout={'iops':iops}\nfor p in [50,99,99.9]:\n  cum=0\n  for k in sorted(b):\n    cum+=b[k]\n    if cum>=p/100*N: out['p%g'%p]=k; break\nprint(json.dumps(out))",
    );
    let m = ok_rows(&[
        "--parser",
        "fio",
        "--percentiles",
        "50,99,99.9",
        "fio/fio_jsonplus_a.json",
        "fio/fio_jsonplus_b.json",
    ]);
    let read = m.iter().find(|r| r["direction"] == "read").unwrap();
    assert_eq!(read["jobs"], "4");
    near(
        num(read, "iops (IOPS)"),
        want["iops"].as_f64().unwrap(),
        1e-12,
        "fio iops of 4 jobs (sum of fio's)",
    );
    for q in ["p50", "p99", "p99.9"] {
        near(
            num(read, &format!("clat {q} (ns)")),
            want[q].as_f64().unwrap(),
            0.0,
            &format!("fio {q} of merged bins (Python)"),
        );
    }
    // Plain json (no bins) beside json+: each job its own row.
    let mixed = analyze(&[
        "--parser",
        "fio",
        "fio/fio_jsonplus_a.json",
        "fio/fio_json.json",
    ]);
    assert_eq!(mixed.code, 0, "{mixed:?}");
    assert!(mixed.stderr.contains("cannot be merged"), "{mixed:?}");
    // A row per job, each told apart by its file and place (numjobs
    // repeats fio's job name).
    let writes: Vec<String> = rows(&mixed)
        .into_iter()
        .filter(|r| r["direction"] == "write")
        .map(|r| r["job"].clone())
        .collect();
    let jobs = python(
        "import json\nprint(sum(1 for f in ['fio/fio_jsonplus_a.json','fio/fio_json.json'] for j in json.load(open(f))['jobs'] if j['write']['total_ios'] > 0))",
    );
    assert_eq!(writes.len() as u64, jobs.as_u64().unwrap(), "{writes:?}");
    let distinct: std::collections::BTreeSet<&String> = writes.iter().collect();
    assert_eq!(distinct.len(), writes.len(), "rows told apart: {writes:?}");
    assert!(
        writes.iter().all(|j| j.starts_with("fio_json")),
        "{writes:?}"
    );
}

#[test]
fn samples_split_labels_and_errors_and_refuse_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    // A JTL-like CSV (JMeter's documented columns): labels, and failures apart.
    let mut text = String::from("timeStamp,elapsed,label,responseCode,success\n");
    for i in 0..200u64 {
        let (label, ok) = if i % 4 == 0 {
            ("missing", "false")
        } else {
            ("index", "true")
        };
        text.push_str(&format!(
            "{},{},{label},200,{ok}\n",
            1_796_524_000_000 + i * 5,
            1 + (i * 37) % 90
        ));
    }
    std::fs::write(dir.path().join("a.jtl"), &text).unwrap();
    let r = output_of(
        Command::new(BIN)
            .args([
                "analyze",
                "--parser",
                "jtl",
                "--format",
                "csv",
                "--percentiles",
                "50,99",
                "a.jtl",
            ])
            .current_dir(dir.path())
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let rs = rows(&r);
    let index = rs
        .iter()
        .find(|r| r["label"] == "index" && r["status"] == "ok")
        .unwrap();
    let missing = rs
        .iter()
        .find(|r| r["label"] == "missing" && r["status"] == "error")
        .unwrap();
    assert_eq!(num(index, "count") + num(missing, "count"), 200.0);
    assert_eq!(num(missing, "count"), 50.0);
    // A line whose latency is not a number names the file and line.
    std::fs::write(
        dir.path().join("b.jtl"),
        format!("{text}1796524999000,oops,index,200,true\n"),
    )
    .unwrap();
    let bad = output_of(
        Command::new(BIN)
            .args(["analyze", "--parser", "jtl", "--format", "csv", "b.jtl"])
            .current_dir(dir.path())
            .output()
            .unwrap(),
    );
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(
        bad.stderr
            .contains("b.jtl:202: error: the latency `oops` is not a number"),
        "{bad:?}"
    );
    // `samples` without its unit: said, with what to do.
    let no_unit = output_of(
        Command::new(BIN)
            .args([
                "analyze",
                "--parser",
                "samples",
                "--set",
                "latency=2",
                "a.jtl",
            ])
            .current_dir(dir.path())
            .output()
            .unwrap(),
    );
    assert_eq!(no_unit.code, 1, "{no_unit:?}");
    assert!(
        no_unit.stderr.contains("`samples` needs `unit`"),
        "{no_unit:?}"
    );
    // A quoted label's doubled quotes are one; a latency past what a
    // histogram holds, and a quote left open, are errors naming the line.
    let run = |name: &str, text: &str| {
        std::fs::write(dir.path().join(name), text).unwrap();
        output_of(
            Command::new(BIN)
                .args(["analyze", "--parser", "jtl", "--format", "csv", name])
                .current_dir(dir.path())
                .output()
                .unwrap(),
        )
    };
    let head = "timeStamp,elapsed,label,responseCode,success\n";
    let quoted = run(
        "q.jtl",
        &format!("{head}1796524000000,12,\"say \"\"hi\"\"\",200,true\n"),
    );
    assert_eq!(rows(&quoted)[0]["label"], "say \"hi\"", "{quoted:?}");
    let huge = run(
        "h.jtl",
        &format!("{head}1796524000000,12,a,200,true\n1796524000001,1e300,a,200,true\n"),
    );
    assert_eq!(huge.code, 1, "{huge:?}");
    assert!(
        huge.stderr
            .contains("h.jtl:3: error: the latency `1e300` is larger than a histogram holds"),
        "{huge:?}"
    );
    let open = run("o.jtl", &format!("{head}1796524000000,12,\"a\n,200,true\n"));
    assert_eq!(open.code, 1, "{open:?}");
    assert!(
        open.stderr
            .contains("o.jtl:2: error: a quoted field does not end on its line"),
        "{open:?}"
    );
}
