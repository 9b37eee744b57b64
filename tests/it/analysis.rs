//! `runner analyze` on the real tool output in `tests/samples/`, checked
//! against the reference figures in each folder's `expected.json`: integers exactly, floats to a relative 1e-9.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{BIN, Run, output_of};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples")
}

fn expected(dir: &str) -> Value {
    let text = std::fs::read_to_string(samples().join(dir).join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn analyze(args: &[&str]) -> Run {
    output_of(
        Command::new(BIN)
            .arg("analyze")
            .args(args)
            .current_dir(samples())
            .output()
            .unwrap(),
    )
}

/// The CSV table as rows of header → cell, from a run that succeeded.
fn csv_rows(r: &Run) -> Vec<HashMap<String, String>> {
    assert_eq!(r.code, 0, "{r:?}");
    table_rows(r)
}

/// The CSV table as rows of header → cell, whatever the exit status.
fn table_rows(r: &Run) -> Vec<HashMap<String, String>> {
    crate::common::csv_rows(&r.stdout)
}

fn close(got: &str, want: f64, what: &str) {
    let g: f64 = got
        .parse()
        .unwrap_or_else(|_| panic!("{what}: `{got}` is not a number"));
    let tol = 1e-9 * want.abs().max(1e-12);
    assert!((g - want).abs() <= tol, "{what}: got {g}, expected {want}");
}

fn exact(got: &str, want: &Value, what: &str) {
    assert_eq!(
        got,
        want.as_i64()
            .map_or_else(|| want.to_string(), |v| v.to_string()),
        "{what}"
    );
}

fn check_hdr_summary(row: &HashMap<String, String>, want: &Value, what: &str) {
    for (col, key) in [
        ("intervals", "intervals"),
        ("count", "count"),
        ("min (us)", "min"),
        ("max (us)", "max"),
        ("p50 (us)", "p50"),
        ("p90 (us)", "p90"),
        ("p99 (us)", "p99"),
        ("p99.9 (us)", "p99_9"),
        ("p99.99 (us)", "p99_99"),
    ] {
        exact(&row[col], &want[key], &format!("{what} {key}"));
    }
    close(
        &row["mean (us)"],
        want["mean"].as_f64().unwrap(),
        &format!("{what} mean"),
    );
    close(
        &row["stddev (us)"],
        want["stddev"].as_f64().unwrap(),
        &format!("{what} stddev"),
    );
}

#[test]
fn hdr_figures_equal_java_hdrhistogram() {
    let e = expected("hdr");
    for (file, f) in e["files"].as_object().unwrap() {
        let path = format!("hdr/{file}");
        let all = csv_rows(&analyze(&[
            "--parser", "hdr", "--unit", "us", "--tag", "all", "--format", "csv", &path,
        ]));
        assert_eq!(all.len(), 1);
        check_hdr_summary(&all[0], &f["all_intervals_merged"], &format!("{file} all"));
        if f["has_untagged_lines"].as_bool().unwrap() {
            let r = csv_rows(&analyze(&[
                "--parser", "hdr", "--unit", "us", "--tag", "untagged", "--format", "csv", &path,
            ]));
            check_hdr_summary(
                &r[0],
                &f["untagged_only_merged"],
                &format!("{file} untagged"),
            );
        }
        for (tag, want) in f["by_tag_merged"].as_object().unwrap() {
            let r = csv_rows(&analyze(&[
                "--parser", "hdr", "--unit", "us", "--tag", tag, "--format", "csv", &path,
            ]));
            assert_eq!(r.len(), 1);
            assert_eq!(r[0]["tag"], *tag);
            check_hdr_summary(&r[0], want, &format!("{file} tag {tag}"));
        }
    }
    for set in e["sets"].as_object().unwrap().values() {
        let files: Vec<String> = set["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("hdr/{}", f.as_str().unwrap()))
            .collect();
        let mut args = vec![
            "--parser", "hdr", "--unit", "us", "--tag", "all", "--format", "csv",
        ];
        args.extend(files.iter().map(String::as_str));
        let r = csv_rows(&analyze(&args));
        check_hdr_summary(&r[0], &set["all_files_all_intervals_merged"], "set all");
        // One row per tag across files: exact merges, never averages.
        let mut args = vec!["--parser", "hdr", "--unit", "us", "--format", "csv"];
        args.extend(files.iter().map(String::as_str));
        let rows = csv_rows(&analyze(&args));
        for (tag, want) in set["by_tag_merged"].as_object().unwrap() {
            let row = rows
                .iter()
                .find(|r| r["tag"] == *tag)
                .unwrap_or_else(|| panic!("no row for tag {tag}"));
            check_hdr_summary(row, want, &format!("set tag {tag}"));
        }
        let wrong = &set["averaging_is_wrong"];
        let merged_p99 = &r[0]["p99 (us)"];
        exact(merged_p99, &wrong["merged_p99"], "merged p99");
        assert_ne!(
            merged_p99.parse::<f64>().unwrap(),
            wrong["average_of_per_file_p99"].as_f64().unwrap()
        );
    }
}

#[test]
fn iperf3_figures_match_and_errors_become_rows() {
    let e = expected("iperf3");
    for (file, f) in e["files"].as_object().unwrap() {
        let mut out = analyze(&[
            "--parser",
            "iperf3",
            "--by",
            "file",
            "--format",
            "csv",
            &format!("iperf3/{file}"),
        ]);
        if f["error"].is_string() {
            // An error row is in the table and makes the exit code 1.
            assert_eq!(out.code, 1, "{out:?}");
            assert!(out.stderr.contains("error: iperf3/"), "{out:?}");
            out.code = 0;
        }
        let rows = csv_rows(&out);
        let row = &rows[0];
        if let Some(err) = f["error"].as_str() {
            assert_eq!(row["error"], err, "{file}");
            assert_eq!(
                row["received (bytes)"], "",
                "{file}: an error has no figures"
            );
            continue;
        }
        assert_eq!(row["protocol"], f["protocol"].as_str().unwrap(), "{file}");
        exact(
            &row["streams"],
            &f["num_streams"],
            &format!("{file} streams"),
        );
        assert_eq!(
            row["reverse"],
            if f["reverse"].as_bool().unwrap() {
                "yes"
            } else {
                "no"
            }
        );
        let end = &f["end"];
        exact(
            &row["sent (bytes)"],
            &end["sum_sent"]["bytes"],
            &format!("{file} sent bytes"),
        );
        exact(
            &row["received (bytes)"],
            &end["sum_received"]["bytes"],
            &format!("{file} received bytes"),
        );
        close(
            &row["sent (bit/s)"],
            end["sum_sent"]["bits_per_second"].as_f64().unwrap(),
            &format!("{file} sent bps"),
        );
        close(
            &row["received (bit/s)"],
            end["sum_received"]["bits_per_second"].as_f64().unwrap(),
            &format!("{file} received bps"),
        );
        close(
            &row["interval mean (bit/s)"],
            f["intervals"]["mean_bits_per_second_non_omitted"]
                .as_f64()
                .unwrap(),
            &format!("{file} interval mean"),
        );
        if f["protocol"] == "TCP" {
            exact(
                &row["retransmits"],
                &f["intervals"]["sum_of_retransmits_non_omitted"],
                &format!("{file} retransmits"),
            );
        } else {
            let u = &f["udp"];
            close(
                &row["jitter (ms)"],
                u["jitter_ms"].as_f64().unwrap(),
                &format!("{file} jitter"),
            );
            exact(
                &row["lost (packets)"],
                &u["lost_packets"],
                &format!("{file} lost"),
            );
            exact(&row["packets"], &u["packets"], &format!("{file} packets"));
            close(
                &row["lost (%)"],
                u["lost_percent"].as_f64().unwrap(),
                &format!("{file} lost %"),
            );
        }
    }
}

#[test]
fn iperf2_totals_over_streams() {
    let e = expected("iperf2");
    for (file, f) in e["files"].as_object().unwrap() {
        let rows = csv_rows(&analyze(&[
            "--parser",
            "iperf2",
            "--format",
            "csv",
            &format!("iperf2/{file}"),
        ]));
        let row = &rows[0];
        let t = &f["total"];
        exact(&row["streams"], &f["streams"], &format!("{file} streams"));
        exact(
            &row["transferred (bytes)"],
            &t["bytes"],
            &format!("{file} bytes"),
        );
        close(
            &row["rate (bit/s)"],
            t["bits_per_second"].as_f64().unwrap(),
            &format!("{file} bps"),
        );
        if t.get("lost").is_some() {
            match t["lost"].as_i64() {
                Some(_) => {
                    exact(
                        &row["lost (datagrams)"],
                        &t["lost"],
                        &format!("{file} lost"),
                    );
                    exact(
                        &row["total (datagrams)"],
                        &t["total_datagrams"],
                        &format!("{file} total"),
                    );
                    close(
                        &row["lost (%)"],
                        t["lost_percent"].as_f64().unwrap(),
                        &format!("{file} lost %"),
                    );
                }
                // Client side: -1 means "not available", never a number.
                None => assert_eq!(row["total (datagrams)"], "", "{file}"),
            }
        }
    }
}

fn stats_rows(r: &Run) -> HashMap<(String, String), HashMap<String, String>> {
    csv_rows(r)
        .into_iter()
        .map(|row| ((row["window"].clone(), row["column"].clone()), row))
        .collect()
}

fn check_stats(row: &HashMap<String, String>, want: &Value, what: &str) {
    exact(&row["n"], &want["n"], &format!("{what} n"));
    for k in ["mean", "min", "max"] {
        close(&row[k], want[k].as_f64().unwrap(), &format!("{what} {k}"));
    }
}

#[test]
fn dstat_and_dool_cut_by_test_windows() {
    let e = expected("dstat");
    for (file, f) in e["files"].as_object().unwrap() {
        let path = format!("dstat/{file}");
        if f.get("whole_file").is_none() {
            // The header-only file Debian 12's dstat leaves: an error, named.
            let r = analyze(&["--parser", "dstat", "--format", "csv", &path]);
            assert_eq!(r.code, 1, "{r:?}");
            assert!(
                r.stderr
                    .contains(&format!("{path}:6: error: headers but no data rows")),
                "{r:?}"
            );
            continue;
        }
        let whole = stats_rows(&analyze(&["--parser", "dstat", "--format", "csv", &path]));
        for (col, want) in f["whole_file"].as_object().unwrap() {
            check_stats(
                &whole[&("whole recording".to_string(), col.clone())],
                want,
                &format!("{file} {col}"),
            );
        }
        let unit = &whole[&("whole recording".to_string(), "net/lo.recv".to_string())]["unit"];
        assert!(
            f["byte_columns_unit"]
                .as_str()
                .unwrap()
                .starts_with(unit.as_str()),
            "{file}: unit {unit}"
        );
        let windows = stats_rows(&analyze(&[
            "--parser",
            "dstat",
            "--windows",
            "dstat/windows.json",
            "--format",
            "csv",
            &path,
        ]));
        for w in f["windows"].as_array().unwrap() {
            let name = w["test"].as_str().unwrap().to_string();
            for (col, want) in w["columns"].as_object().unwrap() {
                check_stats(
                    &windows[&(name.clone(), col.clone())],
                    want,
                    &format!("{file} {name} {col}"),
                );
            }
        }
    }
}

#[test]
fn generic_csv_numeric_columns() {
    let e = expected("csv");
    for (file, f) in e["files"].as_object().unwrap() {
        let rows = csv_rows(&analyze(&[
            "--parser",
            "csv",
            "--format",
            "csv",
            &format!("csv/{file}"),
        ]));
        let numeric = f["numeric_columns"].as_object().unwrap();
        assert_eq!(rows.len(), numeric.len(), "{file}");
        for (col, want) in numeric {
            let row = rows
                .iter()
                .find(|r| r["column"] == *col)
                .unwrap_or_else(|| panic!("{file}: no {col}"));
            check_stats(row, want, &format!("{file} {col}"));
        }
    }
}

#[test]
fn bad_input_names_file_and_line_and_exits_1() {
    let p = crate::common::Project::new();
    let hlog = std::fs::read_to_string(samples().join("hdr/loader1.hlog")).unwrap();
    let mut lines: Vec<&str> = hlog.lines().collect();
    lines[7] = "1.000,1.000,3.0,HISTFAAA!!!corrupt";
    p.write("corrupt.hlog", &lines.join("\n"));
    p.write("good.hlog", &hlog);
    p.write(
        "truncated.json",
        &std::fs::read_to_string(samples().join("iperf3/tcp_single.json")).unwrap()[..500],
    );
    p.write("empty.csv", "");
    p.write("ragged.csv", "a,b\n1,2\n3\n");
    let run = |args: &[&str]| {
        output_of(
            Command::new(BIN)
                .arg("analyze")
                .args(args)
                .current_dir(p.path())
                .output()
                .unwrap(),
        )
    };

    let r = run(&["--parser", "hdr", "good.hlog", "corrupt.hlog"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("corrupt.hlog:8: error: the histogram is not valid base64"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("1 of 2 files could not be analysed"),
        "{r:?}"
    );
    // The readable file is still tabulated, and the table says what it left out.
    assert!(r.stdout.contains("| all files |"), "{r:?}");
    assert!(r.stdout.contains("from 1 file: good.hlog"), "{r:?}");
    assert!(
        r.stdout
            .contains("Not included (unreadable): corrupt.hlog:8"),
        "{r:?}"
    );

    let r = run(&["--parser", "iperf3", "truncated.json"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("truncated.json:") && r.stderr.contains("not valid iperf3 JSON"),
        "{r:?}"
    );

    let r = run(&["--parser", "csv", "empty.csv"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("empty.csv: error: the file is empty"),
        "{r:?}"
    );

    let r = run(&["--parser", "csv", "ragged.csv"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("ragged.csv:3: error: expected 2 fields"),
        "{r:?}"
    );

    let r = run(&["--parser", "hdr", "missing.hlog"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("missing.hlog"), "{r:?}");
}

/// A collected trial laid out as runner writes it, built from the samples:
/// the dstat windows are the tests' actual start/end on two hosts.
fn trial_project() -> crate::common::Project {
    let p = crate::common::Project::new();
    p.write(
        "plan.toml",
        r#"name = "lab"
[groups.server]
count = 1
[groups.client]
count = 2

[[analyze]]
name = "throughput"
parser = "iperf3"
files = "*/tcp/stdout"
by = ["test", "host"]

[[analyze]]
name = "total"
parser = "iperf3"
files = ["*/tcp/stdout"]
formats = ["csv", "trac"]

[[analyze]]
name = "latency"
parser = "hdr"
files = "*/load/*.hlog"
unit = "us"
tag = "all"

[[analyze]]
name = "cpu"
parser = "dstat"
files = "server-0/dstat/*.csv"
by = ["test"]
columns = ["total cpu usage.usr", "net/lo.recv"]
"#,
    );
    let s = samples();
    let trial = "trials/lab/20261123T084118Z";
    let copy = |from: &str, to: &str| {
        p.write(
            &format!("{trial}/{to}"),
            &std::fs::read_to_string(s.join(from)).unwrap(),
        )
    };
    copy("iperf3/tcp_single.json", "client-0/tcp/stdout");
    copy("iperf3/tcp_p4.json", "client-1/tcp/stdout");
    copy("dstat/dstat_tcmndy.csv", "server-0/dstat/dstat.csv");
    copy("hdr/loader1.hlog", "client-0/load/a.hlog");
    copy("hdr/loader2.hlog", "client-1/load/b.hlog");
    copy("hdr/loader3_tagged.hlog", "client-1/load/c.hlog");
    let windows: Value =
        serde_json::from_str(&std::fs::read_to_string(s.join("dstat/windows.json")).unwrap())
            .unwrap();
    let mut tests: Vec<Value> = windows["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let (start, end) = (
                w["start_epoch"].as_f64().unwrap(),
                w["end_epoch"].as_f64().unwrap(),
            );
            serde_json::json!({"name": w["test"], "armed_at": start - 0.5, "hosts": {
                "client[0]": {"start": start, "end": end - 1.0, "exit_code": 0},
                "client[1]": {"start": start + 0.3, "end": end, "exit_code": 0}}})
        })
        .collect();
    // The iperf3 clients' test, whose output sits in each client's `tcp/` folder.
    tests.push(
        serde_json::json!({"name": "tcp", "armed_at": 1795422930.0, "hosts": {
        "client[0]": {"start": 1795422932.0, "end": 1795422938.0, "exit_code": 0},
        "client[1]": {"start": 1795422937.5, "end": 1795422943.0, "exit_code": 0}}}),
    );
    let meta = serde_json::json!({"plan": "lab", "trial": "20261123T084118Z",
        "hosts": {"server[0]": {"dir": "server-0"}, "client[0]": {"dir": "client-0"}, "client[1]": {"dir": "client-1"}},
        "tests": tests});
    p.write(&format!("{trial}/trial.json"), &meta.to_string());
    // An older trial that must not be picked by default.
    p.write(
        "trials/lab/20261122T000000Z/trial.json",
        r#"{"plan": "lab", "trial": "20261122T000000Z"}"#,
    );
    p
}

#[test]
fn plan_analyses_write_tables_for_the_latest_trial() {
    let p = trial_project();
    let r = p.run(&["analyze", "plan.toml"]);
    assert_eq!(r.code, 0, "{r:?}");
    let out = "trials/lab/20261123T084118Z/analysis";
    for f in [
        "throughput.csv",
        "throughput.md",
        "throughput.wiki",
        "total.csv",
        "total.trac",
        "latency.md",
        "cpu.csv",
        "cpu.sources.txt",
    ] {
        assert!(p.path().join(out).join(f).is_file(), "{f} missing: {r:?}");
    }
    assert!(
        !p.path().join(out).join("total.md").exists(),
        "only the formats asked for"
    );

    let read = |f: &str| Run {
        code: 0,
        stdout: p.read(&format!("{out}/{f}")),
        stderr: String::new(),
    };
    let e = expected("iperf3");
    let single = &e["files"]["tcp_single.json"]["end"]["sum_received"]["bytes"];
    let p4 = &e["files"]["tcp_p4.json"]["end"]["sum_received"]["bytes"];
    let rows = csv_rows(&read("throughput.csv"));
    assert_eq!(
        rows.iter()
            .map(|r| r["source"].as_str())
            .collect::<Vec<_>>(),
        vec!["tcp / client[0]", "tcp / client[1]"]
    );
    exact(&rows[0]["received (bytes)"], single, "client[0]");
    exact(&rows[1]["received (bytes)"], p4, "client[1]");
    let total = csv_rows(&read("total.csv"));
    assert_eq!(total.len(), 1);
    let sum = single.as_i64().unwrap() + p4.as_i64().unwrap();
    assert_eq!(total[0]["received (bytes)"], sum.to_string());

    // The latency of all loaders is the merged histogram's, as Java computes it.
    let hdr = expected("hdr");
    let md = p.read(&format!("{out}/latency.md"));
    let merged = &hdr["sets"]["loaders"]["all_files_all_intervals_merged"];
    assert!(md.contains(&format!("| {} |", merged["p99"])), "{md}");
    assert!(
        md.contains("Trial 20261123T084118Z of plan \\`lab\\`"),
        "{md}"
    );

    // dstat rows are cut by each test's window (earliest start to latest end).
    let cpu = stats_rows(&read("cpu.csv"));
    let dstat = expected("dstat");
    for w in dstat["files"]["dstat_tcmndy.csv"]["windows"]
        .as_array()
        .unwrap()
    {
        let name = w["test"].as_str().unwrap().to_string();
        for col in ["total cpu usage.usr", "net/lo.recv"] {
            check_stats(
                &cpu[&(name.clone(), col.to_string())],
                &w["columns"][col],
                &format!("{name} {col}"),
            );
        }
    }
    let sources = p.read(&format!("{out}/cpu.sources.txt"));
    assert!(
        sources.contains("server-0/dstat/dstat.csv") && sources.contains("Window rule"),
        "{sources}"
    );
}

#[test]
fn plan_analyses_report_missing_inputs_and_trials() {
    let p = trial_project();
    let r = p.run(&["analyze", "plan.toml", "20261122T000000Z"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(
            "analysis `throughput`: no file in trials/lab/20261122T000000Z matches `*/tcp/stdout`"
        ),
        "{r:?}"
    );
    let r = p.run(&["analyze", "plan.toml", "nope"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("trials/lab/nope/trial.json"), "{r:?}");
    // A corrupt input is named, the others are still tabulated.
    p.write(
        "trials/lab/20261123T084118Z/client-1/tcp/stdout",
        "{\"start\": ",
    );
    let r = p.run(&["analyze", "plan.toml"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("client-1/tcp/stdout:1: error: not valid iperf3 JSON"),
        "{r:?}"
    );
    let rows = csv_rows(&Run {
        code: 0,
        stdout: p.read("trials/lab/20261123T084118Z/analysis/throughput.csv"),
        stderr: String::new(),
    });
    assert_eq!(rows.len(), 1);
}

#[test]
fn iperf_output_spanning_tests_is_cut_by_windows() {
    let p = crate::common::Project::new();
    let s = samples();
    let read = |f: &str| std::fs::read_to_string(s.join(f)).unwrap();
    // What `iperf3 -s -J` leaves: one JSON document per test, back to back.
    p.write(
        "server.json",
        &format!(
            "{}\n{}\n{}",
            read("iperf3/tcp_single.json"),
            read("iperf3/tcp_p4.json"),
            read("iperf3/udp_200m.json")
        ),
    );
    p.write(
        "windows.json",
        r#"{"windows": [
            {"test": "one", "start_epoch": 1795422932.5, "end_epoch": 1795422937.0},
            {"test": "four", "start_epoch": 1795422937.0, "end_epoch": 1795422942.0},
            {"test": "udp", "start_epoch": 1795422942.0, "end_epoch": 1795422950.0},
            {"test": "idle", "start_epoch": 1795423100.0, "end_epoch": 1795423110.0}]}"#,
    );
    let run = |args: &[&str]| {
        output_of(
            Command::new(BIN)
                .arg("analyze")
                .args(args)
                .current_dir(p.path())
                .output()
                .unwrap(),
        )
    };
    let out = run(&[
        "--parser",
        "iperf3",
        "--windows",
        "windows.json",
        "--format",
        "csv",
        "server.json",
    ]);
    let rows = table_rows(&out);
    // A window that holds no run is a selection that matched nothing: exit 1.
    assert!(
        out.stderr
            .contains("error: all files / idle: no iperf3 run in this test's window"),
        "{out:?}"
    );
    assert_eq!(out.code, 1, "{out:?}");
    // A run outside every window is said, not dropped without a word.
    p.write(
        "narrow.json",
        r#"{"windows": [{"test": "four", "start_epoch": 1795422937.0, "end_epoch": 1795422942.0}]}"#,
    );
    let narrow = run(&[
        "--parser",
        "iperf3",
        "--windows",
        "narrow.json",
        "server.json",
    ]);
    assert!(
        narrow
            .stderr
            .contains("error: all files: 2 iperf3 runs outside every test window (left out)"),
        "{narrow:?}"
    );
    assert_eq!(narrow.code, 1, "results left out: {narrow:?}");
    assert!(
        narrow
            .stdout
            .contains("Not in the table: all files: 2 iperf3 runs"),
        "{narrow:?}"
    );
    let e = expected("iperf3");
    let labels: Vec<&str> = rows.iter().map(|r| r["source"].as_str()).collect();
    assert_eq!(
        labels,
        vec!["all files / one", "all files / four", "all files / udp"],
        "an empty window has no row"
    );
    for (row, file) in rows
        .iter()
        .zip(["tcp_single.json", "tcp_p4.json", "udp_200m.json"])
    {
        exact(
            &row["received (bytes)"],
            &e["files"][file]["end"]["sum_received"]["bytes"],
            file,
        );
    }

    // iperf 2: each stream belongs to the window its summary line was written in.
    p.write("iperf2.csv", &read("iperf2/tcp_p2_server.csv"));
    p.write(
        "w2.json",
        r#"{"windows": [{"test": "in", "start_epoch": 1795423020.0, "end_epoch": 1795423030.0},
                        {"test": "after", "start_epoch": 1795423030.0, "end_epoch": 1795423040.0}]}"#,
    );
    let out = run(&[
        "--parser",
        "iperf2",
        "--windows",
        "w2.json",
        "--format",
        "csv",
        "iperf2.csv",
    ]);
    let rows = table_rows(&out);
    assert_eq!(out.code, 1, "{out:?}");
    let total = &expected("iperf2")["files"]["tcp_p2_server.csv"]["total"];
    assert_eq!(rows[0]["source"], "all files / in");
    exact(&rows[0]["transferred (bytes)"], &total["bytes"], "in");
    // A window with no stream is said, not printed as a row of -0 "TCP".
    assert_eq!(rows.len(), 1, "{out:?}");
    assert!(
        out.stderr
            .contains("error: all files / after: no iperf stream in this test's window"),
        "{out:?}"
    );
}

#[test]
fn a_projects_own_templates_override_the_defaults() {
    let p = crate::common::Project::new();
    p.write(
        "a.hlog",
        &std::fs::read_to_string(samples().join("hdr/loader1.hlog")).unwrap(),
    );
    p.write("analysis/markdown.md.j2", "{{ title }}: {% for row in rows %}{{ row[9] }}{% endfor %} (p99 in {{ columns[9].unit }})\n");
    let r = output_of(
        Command::new(BIN)
            .args(["analyze", "--parser", "hdr", "--unit", "us", "a.hlog"])
            .current_dir(p.path())
            .output()
            .unwrap(),
    );
    assert_eq!(
        r.stdout, "latency (HdrHistogram, merged): 2433 (p99 in us)\n",
        "{r:?}"
    );
    // Other formats keep the built-in template.
    let r = output_of(
        Command::new(BIN)
            .args([
                "analyze",
                "--parser",
                "hdr",
                "--unit",
                "us",
                "--format",
                "mediawiki",
                "a.hlog",
            ])
            .current_dir(p.path())
            .output()
            .unwrap(),
    );
    assert!(r.stdout.starts_with("{| class=\"wikitable\""), "{r:?}");
}

/// The edges found on held-out logs: client-side UDP loss, columns no file
/// has, merged protocols, control bytes in errors, `--tag all`.
#[test]
fn analysis_edges_say_what_they_cannot_know() {
    // iperf 2 UDP client: no receiver statistics, so lost is "not available", not 0.
    let rows = csv_rows(&analyze(&[
        "--parser",
        "iperf2",
        "--format",
        "csv",
        "iperf2/udp_p2_client.csv",
    ]));
    assert_eq!(rows[0]["lost (datagrams)"], "", "{rows:?}");
    assert_eq!(rows[0]["total (datagrams)"], "");
    // TCP + UDP merged: "mixed", and each protocol keeps its own figures.
    let rows = csv_rows(&analyze(&[
        "--parser",
        "iperf2",
        "--format",
        "csv",
        "iperf2/udp_p2_server.csv",
        "iperf2/tcp_p2_client.csv",
    ]));
    assert_eq!(rows[0]["protocol"], "mixed");
    assert_ne!(rows[0]["total (datagrams)"], "");
    let server = &expected("iperf2")["files"]["udp_p2_server.csv"]["total"];
    exact(
        &rows[0]["lost (datagrams)"],
        &server["lost"],
        "udp server lost",
    );

    let mixed = |order: &[&str]| {
        let mut args = vec!["--parser", "iperf3", "--format", "csv"];
        args.extend_from_slice(order);
        csv_rows(&analyze(&args)).remove(0)
    };
    let a = mixed(&[
        "iperf3/tcp_p4.json",
        "iperf3/udp_200m.json",
        "iperf3/tcp_reverse.json",
    ]);
    let b = mixed(&[
        "iperf3/tcp_reverse.json",
        "iperf3/udp_200m.json",
        "iperf3/tcp_p4.json",
    ]);
    assert_eq!(a["reverse"], "mixed", "{a:?}");
    assert_eq!(a, b, "a merge must not depend on file order");
    assert_eq!(a["protocol"], "mixed");
    assert_ne!(
        a["retransmits"], "",
        "TCP retransmits kept in a TCP+UDP merge"
    );
    assert_ne!(a["packets"], "", "UDP packets kept in a TCP+UDP merge");

    // A column no file has is an error naming it; for csv as for dstat.
    for (parser, file) in [
        ("dstat", "dstat/dool_Tcmndy.csv"),
        ("csv", "csv/sar_cpu.csv"),
    ] {
        let r = analyze(&["--parser", parser, "--columns", "no such column", file]);
        assert_eq!(r.code, 1, "{parser}: {r:?}");
        assert!(
            r.stderr
                .contains("error: no file has a column `no such column`"),
            "{parser}: {r:?}"
        );
    }
    // A column one dstat file lacks is a note, not "unreadable" for the whole file.
    let r = analyze(&[
        "--parser",
        "dstat",
        "--columns",
        "total cpu usage.usr,net/lo.recv",
        "--format",
        "csv",
        "dstat/dool_Tcmndy.csv",
        "dstat/dstat_tcmndy.csv",
    ]);
    assert!(!r.stderr.contains("Not included (unreadable)"), "{r:?}");

    // `--tag all` is one row labelled as such.
    let rows = csv_rows(&analyze(&[
        "--parser",
        "hdr",
        "--tag",
        "all",
        "--format",
        "csv",
        "hdr/loader3_tagged.hlog",
    ]));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["tag"], "(all)");

    // Bytes of a log quoted in an error never reach the terminal raw.
    let p = crate::common::Project::new();
    p.write(
        "evil.csv",
        "20261123083712,127.0.0.1,1,127.0.0.1,2,1,\u{1b}[2J\u{7},10,80\n",
    );
    let r = output_of(
        Command::new(BIN)
            .args(["analyze", "--parser", "iperf2", "evil.csv"])
            .current_dir(p.path())
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        !r.stderr.contains('\u{1b}') && !r.stderr.contains('\u{7}'),
        "{r:?}"
    );
    assert!(r.stderr.contains("\\x1b[2J\\x07"), "{r:?}");
}

/// csv without a key: every file of a row merged into one row per column
/// (n added, means weighted, extremes); with a key, a cell that is no
/// number leaves its merged figure empty, said — never a merge of the
/// others passed off as all.
#[test]
fn csv_rows_merge_files_exactly_and_never_from_some_of_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("y1.csv"),
        "test,tps,lag_ms\na,100,1.5\nb,200,2.5\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("y2.csv"),
        "test,tps,lag_ms\na,110,n/a\nb,210,2.0\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        output_of(
            std::process::Command::new(crate::common::BIN)
                .arg("analyze")
                .args(args)
                .args(["--format", "csv"])
                .current_dir(dir.path())
                .output()
                .unwrap(),
        )
    };
    let r = run(&["--parser", "csv", "--unit", "tps=1/s", "y1.csv", "y2.csv"]);
    let rows = table_rows(&r);
    let tps = rows.iter().find(|r| r["column"] == "tps (1/s)").unwrap();
    assert_eq!(
        (tps["n"].as_str(), tps["mean"].as_str()),
        ("4", "155"),
        "one row of both files: {rows:?}"
    );
    assert_eq!(
        rows.iter().filter(|r| r["column"] == "tps (1/s)").count(),
        1
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("y2.csv: `lag_ms` holds a cell that is not a number"),
        "{r:?}"
    );
    let r = run(&[
        "--parser",
        "csv",
        "--key",
        "test",
        "--merge",
        "tps=sum,lag_ms=mean",
        "y1.csv",
        "y2.csv",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    let rows = table_rows(&r);
    let a = rows.iter().find(|r| r["test"] == "a").unwrap();
    assert_eq!(
        (a["tps"].as_str(), a["lag_ms"].as_str()),
        ("210", ""),
        "{rows:?}"
    );
    assert!(
        r.stderr
            .contains("`lag_ms`: a cell of the rows to merge is not a number"),
        "{r:?}"
    );
}
