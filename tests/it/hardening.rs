//! What a fault tester and a first-time user broke (issue 22), each kept
//! broken-proof here: destroy after a corrupt state, a full disk while
//! fetching, wait loops and trial processes after kill -9 and destroy,
//! folders a kill left, long commands, closed pipes and full stdouts,
//! control bytes from logs, empty figures, selections that match nothing,
//! plan vars in the Ansible inventory, summary CSVs.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{BIN, Project, alive, kill, output_of};

/// Two local hosts, one step each: quick to make.
const TWO_HOSTS: &str = r#"name = "pair"
[groups.h]
count = 2
[[step]]
name = "hi"
on = ["h"]
run = "echo hi"
"#;

#[test]
fn destroy_stops_every_local_host_whatever_the_state_says() {
    for (what, damage) in [
        ("a corrupt state file", "state"),
        ("a corrupt journal line", "journal"),
    ] {
        let p = Project::new();
        p.write("plan.toml", TWO_HOSTS);
        p.run(&["apply", "plan.toml", "--yes"]).ok();
        let pids = p.sshd_pids();
        assert_eq!(pids.len(), 2, "{what}");
        match damage {
            "state" => {
                p.write(".runner/pair.state.json", "garbage");
                let _ = std::fs::remove_file(p.path().join(".runner/pair.state.json.bak"));
                // No backup: the help does not offer one.
                let r = p.run(&["plan", "plan.toml"]);
                assert_eq!(r.code, 1, "{r:?}");
                assert!(!r.stderr.contains(".bak"), "{r:?}");
                assert!(r.stderr.contains("it has no backup"), "{r:?}");
            }
            _ => {
                p.write(
                    ".runner/pair.journal",
                    "garbage\n{\"op\":\"step_gone\",\"id\":\"x\"}\n",
                );
            }
        }
        let r = p.run(&["destroy", "plan.toml", "--yes"]);
        assert_eq!(r.code, 0, "{what}: {r:?}");
        let deadline = Instant::now() + Duration::from_secs(5);
        while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            pids.iter().all(|&p| !alive(p)),
            "{what}: sshds left running: {r:?}"
        );
        // What it could not read is said, and kept.
        assert!(
            r.stderr.contains("could not be read") && r.stderr.contains(".unreadable-"),
            "{what}: {r:?}"
        );
        // The plan starts clean afterwards.
        let again = p.run(&["destroy", "plan.toml", "--yes"]);
        assert!(
            again.stdout.contains("Nothing to destroy"),
            "{what}: {again:?}"
        );
        p.run(&["plan", "plan.toml"]).ok();
    }
}

/// A trial whose test writes 5 MB into `{{ out }}`, with no collect.
const BIG_OUTPUT: &str = r#"name = "big"
[groups.h]
count = 1
[[test]]
name = "w"
on = ["h"]
run = "head -c 5000000 /dev/zero > {{ out }}/five-mb.bin"
timeout = "30s"
"#;

#[test]
fn output_that_cannot_be_stored_fails_the_trial_and_is_fetched_again() {
    let p = Project::new();
    p.write("plan.toml", BIG_OUTPUT);
    // The trials folder on a 2 MiB tmpfs, in a private mount namespace;
    // then room again, and the next apply; results copied out.
    let script = format!(
        r#"mkdir -p trials && mount -t tmpfs -o size=2m tmpfs trials || exit 99
"{BIN}" apply plan.toml --yes > a1.out 2>&1; echo $? > a1.rc
"{BIN}" plan plan.toml > p1.out 2>&1
mount -o remount,size=50m trials
"{BIN}" apply plan.toml --yes > a2.out 2>&1; echo $? > a2.rc
cp -r trials kept
"{BIN}" destroy plan.toml --yes > d.out 2>&1
exit 0"#
    );
    p.in_private_mounts(&script);
    let (a1, p1, a2) = (p.read("a1.out"), p.read("p1.out"), p.read("a2.out"));
    assert_eq!(p.read("a1.rc").trim(), "1", "{a1}");
    assert!(
        a1.contains("No space left on device") || a1.contains("os error 28"),
        "{a1}"
    );
    assert!(!a1.contains("Apply complete"), "{a1}");
    assert!(p1.contains("trial "), "the next plan fetches it: {p1}");
    assert_eq!(p.read("a2.rc").trim(), "0", "{a2}");
    let id = std::fs::read_dir(p.path().join("kept/big"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .next()
        .unwrap();
    let dir = p.path().join("kept/big").join(&id);
    let file = dir.join("h-0/w/five-mb.bin");
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 5_000_000);
    let manifest = std::fs::read_to_string(dir.join("manifest")).unwrap();
    assert!(manifest.contains("h-0/w/five-mb.bin"), "{manifest}");
    let trial: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("trial.json")).unwrap()).unwrap();
    assert_eq!(trial["status"], "complete");
}

/// A monitor and a test that outlive runner unless something stops them.
const LONG_TRIAL: &str = r#"name = "kl"
[groups.h]
count = 2
[[monitor]]
name = "beat"
on = ["h"]
run = "while :; do sleep 0.2; done"
[[test]]
name = "t"
on = ["h"]
at = "+1s"
run = "sleep 30"
timeout = "10m"
"#;

/// Processes of the plan still on this machine: ones whose environment
/// carries the plan's trial tag, or whose command line or working
/// directory is under the project.
fn plan_processes(p: &Project, plan: &str) -> Vec<String> {
    let root = p.path().to_string_lossy().into_owned();
    let tag = format!("RUNNER_TRIAL={plan}-");
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || !alive(pid) {
            continue;
        }
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let env = String::from_utf8_lossy(&env);
        let cmd = String::from_utf8_lossy(
            &std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default(),
        )
        .replace('\0', " ");
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd"))
            .map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_default();
        if env.split('\0').any(|v| v.starts_with(&tag))
            || cmd.contains(&root)
            || cwd.starts_with(&root)
        {
            out.push(format!("{pid}: {cmd}"));
        }
    }
    out
}

#[test]
fn kill_9_while_armed_then_destroy_leaves_no_process_twenty_times() {
    let p = Project::new();
    p.write("plan.toml", LONG_TRIAL);
    for round in 0..20 {
        let mut child = p.command(&["apply", "plan.toml", "--yes"]).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if line.contains(" armed on ") {
                break;
            }
            assert!(Instant::now() < deadline, "round {round}: never armed");
        }
        // Kill at a different moment of the wait each round.
        std::thread::sleep(Duration::from_millis(50 * (round % 8)));
        kill(child.id(), "KILL");
        let _ = child.wait();
        let r = p.run(&["destroy", "plan.toml", "--yes"]);
        assert_eq!(r.code, 0, "round {round}: {r:?}");
        let gone_by = Instant::now() + Duration::from_secs(2);
        let mut left = plan_processes(&p, "kl");
        while !left.is_empty() && Instant::now() < gone_by {
            std::thread::sleep(Duration::from_millis(50));
            left = plan_processes(&p, "kl");
        }
        assert!(
            left.is_empty(),
            "round {round}: left 2 s after destroy:\n{}\n{r:?}",
            left.join("\n")
        );
    }
}

#[test]
fn a_trial_folder_left_before_its_trial_was_recorded_is_removed() {
    let p = Project::new();
    p.write("plan.toml", TWO_HOSTS);
    // What a kill at ~60 ms leaves: an empty folder; a little later, one
    // with only a trial.json still "starting". A finished trial stays.
    std::fs::create_dir_all(p.path().join("trials/pair/20260101T000000Z")).unwrap();
    p.write(
        "trials/pair/20260101T000001Z/trial.json",
        r#"{"plan": "pair", "trial": "20260101T000001Z", "status": "starting", "hosts": {}, "tests": [], "monitors": []}"#,
    );
    p.write(
        "trials/pair/20260101T000002Z/trial.json",
        r#"{"plan": "pair", "trial": "20260101T000002Z", "status": "complete", "hosts": {}, "tests": [], "monitors": []}"#,
    );
    std::fs::create_dir_all(p.path().join("trials/pair/notes")).unwrap();
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    r.ok();
    let left: Vec<String> = std::fs::read_dir(p.path().join("trials/pair"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!left.contains(&"20260101T000000Z".to_string()), "{left:?}");
    assert!(!left.contains(&"20260101T000001Z".to_string()), "{left:?}");
    assert!(left.contains(&"20260101T000002Z".to_string()), "{left:?}");
    assert!(left.contains(&"notes".to_string()), "{left:?}");
    assert!(
        r.stderr.contains("removed trials/pair/20260101T000000Z"),
        "{r:?}"
    );
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

#[test]
fn commands_of_200_kb_and_1_mb_run() {
    let p = Project::new();
    let pad = |n: usize| "x".repeat(n);
    p.write(
        "plan.toml",
        &format!(
            r#"name = "long"
[groups.h]
count = 1
[[step]]
name = "s"
on = ["h"]
run = ": {}; echo step-ok > step.txt"
[[test]]
name = "t"
on = ["h"]
run = ": {}; echo test-ok > {{{{ out }}}}/ok.txt"
"#,
            pad(200_000),
            pad(1_000_000)
        ),
    );
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    r.ok();
    assert_eq!(p.read(".runner/long/hosts/h-0/work/step.txt"), "step-ok\n");
    let id = std::fs::read_dir(p.path().join("trials/long"))
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .unwrap()
        .file_name();
    assert_eq!(
        p.read(&format!(
            "trials/long/{}/h-0/t/ok.txt",
            id.to_string_lossy()
        )),
        "test-ok\n"
    );
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

#[test]
fn a_closed_pipe_ends_quietly_and_a_full_stdout_is_an_error() {
    let p = Project::new();
    p.write("plan.toml", TWO_HOSTS);
    // `runner plan PLAN 2>&1 | head -1`: stderr is the closed pipe.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "\"{BIN}\" plan plan.toml 2>&1 | head -1; echo \"rc=${{PIPESTATUS:-?}}\""
        ))
        .current_dir(p.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("panicked"), "{text}");
    let rc = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "\"{BIN}\" plan plan.toml 2>&1 | head -1 >/dev/null; echo ${{PIPESTATUS[0]}}"
        ))
        .current_dir(p.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&rc.stdout).trim(), "0", "{rc:?}");
    // A full disk behind stdout: exit 1, said on stderr.
    for args in [
        vec!["plan", "plan.toml", "--json"],
        vec!["validate", "plan.toml"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let r = output_of(p.command(&args).stdout(Stdio::from(full)).output().unwrap());
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
        assert!(
            r.stderr.contains("cannot write the output to stdout"),
            "{r:?}"
        );
    }
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let r = output_of(
        p.command(&["apply", "plan.toml", "--yes"])
            .stdout(Stdio::from(full))
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 1, "{r:?}");
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

#[test]
fn control_bytes_and_html_from_logs_stay_text() {
    let p = Project::new();
    let evil = "bad \u{1b}[31mred\u{7} <script>alert(1)</script> | pipe";
    let doc = serde_json::json!({
        "start": {"test_start": {"protocol": "TCP", "num_streams": 1, "omit": 0, "reverse": 0},
                  "timestamp": {"timesecs": 1795422932}},
        "intervals": [],
        "end": {},
        "error": evil,
    });
    p.write("evil.json", &doc.to_string());
    for format in ["markdown", "mediawiki", "csv", "trac"] {
        let r = output_of(
            p.command(&[
                "analyze",
                "--parser",
                "iperf3",
                "--format",
                format,
                "evil.json",
            ])
            .output()
            .unwrap(),
        );
        for text in [&r.stdout, &r.stderr] {
            assert!(
                !text.contains('\u{1b}') && !text.contains('\u{7}'),
                "{format}: {r:?}"
            );
        }
        // Control bytes as `\x..` text, made literal for each engine
        // (tests/it/wiki.rs renders them); HTML never HTML.
        let (shown, script) = match format {
            "markdown" => ("\\\\x1b\\[31mred\\\\x07", "\\<script\\>"),
            "mediawiki" => ("\\x1b&#91;31mred\\x07", "&#60;script&#62;"),
            _ => ("\\x1b[31mred\\x07", "<script>"),
        };
        assert!(r.stdout.contains(shown), "{format}: {r:?}");
        assert!(r.stdout.contains(script), "{format}: {r:?}");
        if format == "markdown" || format == "mediawiki" {
            assert!(!r.stdout.contains("<script>"), "{format}: {r:?}");
        }
    }
}

/// An HdrHistogram interval log line (V2 compressed) of `values`.
pub fn hlog_line(tag: &str, start: f64, values: &[u64]) -> String {
    use base64::Engine as _;
    use hdrhistogram::serialization::Serializer as _;
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    for &v in values {
        h.record(v).unwrap();
    }
    let mut bytes = Vec::new();
    hdrhistogram::serialization::V2DeflateSerializer::new()
        .serialize(&h, &mut bytes)
        .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    format!(
        "Tag={tag},{start:.3},1.000,{}.000,{b64}\n",
        values.iter().max().copied().unwrap_or(0)
    )
}

#[test]
fn a_row_without_samples_is_empty_and_a_check_on_it_fails() {
    let p = Project::new();
    let mut log = String::from(
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
    );
    log += &hlog_line("busy", 0.0, &[100, 200, 300]);
    log += &hlog_line("idle", 0.0, &[]);
    log += &hlog_line("idle", 1.0, &[]);
    p.write("a.hlog", &log);
    let r = output_of(
        p.command(&["analyze", "--parser", "hdr", "--format", "csv", "a.hlog"])
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 0, "matched, but no samples: {r:?}");
    let line = r.stdout.lines().find(|l| l.contains(",idle,")).unwrap();
    // source, tag, intervals, count, then every figure empty.
    let cells: Vec<&str> = line.split(',').collect();
    assert_eq!(&cells[2..4], ["2", "0"], "{line}");
    assert!(cells[4..].iter().all(|c| c.is_empty()), "{line}");
    // A check on it fails, saying why (in a trial, as a plan runs it).
    p.write(
        "plan.toml",
        r#"name = "emp"
[groups.h]
count = 1
[[analyze]]
name = "lat"
parser = "hdr"
files = "*/t/a.hlog"
unit = "us"
[[check]]
table = "lat"
row = { tag = "idle" }
column = "p99"
max = "5ms"
"#,
    );
    p.write("trials/emp/20260101T000000Z/h-0/t/a.hlog", &log);
    p.write(
        "trials/emp/20260101T000000Z/trial.json",
        r#"{"plan": "emp", "trial": "20260101T000000Z", "status": "complete", "hosts": {"h[0]": {"dir": "h-0"}}, "tests": [], "monitors": []}"#,
    );
    p.run(&["analyze", "plan.toml"]).ok();
    let c = p.run(&["check", "plan.toml"]);
    assert_eq!(c.code, 3, "{c:?}");
    assert!(c.stdout.contains("the cell is empty"), "{c:?}");
    // iperf 2's UDP client measures no jitter: blank, not 0.
    let client =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples/iperf2/udp_p2_client.csv");
    let r = output_of(
        p.command(&["analyze", "--parser", "iperf2", "--format", "csv"])
            .arg(&client)
            .output()
            .unwrap(),
    );
    let mut csv = csv::Reader::from_reader(r.stdout.as_bytes());
    let headers = csv.headers().unwrap().clone();
    let jitter = headers
        .iter()
        .position(|h| h == "mean jitter (ms)")
        .unwrap();
    for rec in csv.records() {
        assert_eq!(&rec.unwrap()[jitter], "", "{r:?}");
    }
}

#[test]
fn a_selection_that_matches_nothing_is_named_and_fails() {
    let p = Project::new();
    let mut log = String::from(
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
    );
    log += &hlog_line("read", 0.0, &[100, 200]);
    p.write("a.hlog", &log);
    let mut other = String::from(
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
    );
    other += &hlog_line("write", 0.0, &[300]);
    p.write("b.hlog", &other);
    let run = |args: &[&str]| output_of(p.command(args).output().unwrap());
    let r = run(&["analyze", "--parser", "hdr", "--tag", "nosuch", "a.hlog"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("no histogram line has tag `nosuch`"),
        "{r:?}"
    );
    // Per file: the file without the tag is named, not dropped.
    let r = run(&[
        "analyze", "--parser", "hdr", "--by", "file", "--tag", "read", "a.hlog", "b.hlog",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("b.hlog: no histogram line has tag `read`"),
        "{r:?}"
    );
    // A column typo lists the columns there are.
    let sar = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples/csv/sar_cpu.csv");
    let sar = sar.to_string_lossy().into_owned();
    let r = run(&["analyze", "--parser", "csv", "--columns", "%usr", &sar]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("no file has a column `%usr`") && r.stderr.contains("%user"),
        "{r:?}"
    );
    // A dstat table without windows is not titled "per test window".
    let dool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples/dstat/dool_Tcmndy.csv");
    let r = run(&["analyze", "--parser", "dstat", &dool.to_string_lossy()]);
    assert!(
        !r.stdout.contains("per test window") && r.stdout.contains("whole recording"),
        "{r:?}"
    );
}

/// What `redis-benchmark -t set,get --csv` printed on three clients here.
const REDIS: [&str; 3] = [
    "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\"SET\",\"85470.09\",\"0.312\",\"0.056\",\"0.287\",\"0.439\",\"0.855\",\"3.167\"\n\"GET\",\"90497.73\",\"0.284\",\"0.136\",\"0.279\",\"0.359\",\"0.415\",\"0.663\"\n",
    "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\"SET\",\"75757.58\",\"0.342\",\"0.112\",\"0.343\",\"0.407\",\"0.487\",\"1.559\"\n\"GET\",\"76923.08\",\"0.335\",\"0.088\",\"0.335\",\"0.399\",\"0.463\",\"0.831\"\n",
    "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\"SET\",\"76923.08\",\"0.342\",\"0.120\",\"0.335\",\"0.407\",\"0.583\",\"3.527\"\n\"GET\",\"77821.02\",\"0.332\",\"0.088\",\"0.335\",\"0.399\",\"0.455\",\"0.719\"\n",
];

#[test]
fn summary_csvs_keep_their_rows_and_never_average_a_percentile() {
    let p = Project::new();
    for (i, text) in REDIS.iter().enumerate() {
        p.write(&format!("c{i}.csv"), text);
    }
    let run = |args: &[&str]| output_of(p.command(args).output().unwrap());
    // Without a key: the percentiles' means are refused, with the key to name.
    let r = run(&["analyze", "--parser", "csv", "--format", "csv", "c0.csv"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("`p99_latency_ms`") && r.stderr.contains("--key test"),
        "{r:?}"
    );
    let p99 = r
        .stdout
        .lines()
        .find(|l| l.contains(",p99_latency_ms,"))
        .unwrap();
    assert_eq!(
        p99, "all files,p99_latency_ms,2,,0.415,0.855",
        "no mean of two p99s"
    );
    // With the key, a row per file and operation, figures as they are.
    let r = run(&[
        "analyze", "--parser", "csv", "--key", "test", "--by", "file", "--format", "csv", "c0.csv",
        "c1.csv",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("c0.csv,SET,85470.09,0.312,0.056,0.287,0.439,0.855,3.167"),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("c1.csv,GET,76923.08,0.335,0.088,0.335,0.399,0.463,0.831"),
        "{r:?}"
    );
    // Merged across files: only by declared rules; a percentile never by mean.
    let files = ["c0.csv", "c1.csv", "c2.csv"];
    let mut args = vec![
        "analyze", "--parser", "csv", "--key", "test", "--format", "csv",
    ];
    args.extend(files);
    let r = run(&args);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("need a rule to merge"), "{r:?}");
    let mut args = vec![
        "analyze",
        "--parser",
        "csv",
        "--key",
        "test",
        "--format",
        "csv",
        "--merge",
        "rps=sum,avg_latency_ms=mean,min_latency_ms=min,max_latency_ms=max,p50_latency_ms=max,p95_latency_ms=max,p99_latency_ms=mean",
    ];
    args.extend(files);
    let r = run(&args);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("`p99_latency_ms`: the mean of percentiles is not a percentile"),
        "{r:?}"
    );
    let set = r.stdout.lines().find(|l| l.contains(",SET,")).unwrap();
    let cells: Vec<&str> = set.split(',').collect();
    let rps: f64 = cells[2].parse().unwrap();
    assert!(
        (rps - (85470.09 + 75757.58 + 76923.08)).abs() < 1e-6,
        "{set}"
    );
    assert_eq!(cells[7], "", "p99 left empty: {set}");
    assert_eq!(cells[8], "3.527", "max of maxima: {set}");
}

#[test]
fn the_ansible_inventory_carries_the_plan_vars() {
    let p = Project::new();
    p.write(
        "plan.toml",
        r#"name = "inv"
[vars]
duration = 5
motto = "it's \"quoted\""
flags = [1, "two", true]
[groups.db]
count = 1
vars = { role = "primary", duration = 7 }
[groups.app]
count = 1
[[step]]
name = "hi"
on = ["db", "app"]
run = "true"
"#,
    );
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    let inv = p.run(&["inventory", "plan.toml", "--format", "ansible"]);
    inv.ok();
    p.write("inventory.ini", &inv.stdout);
    let host = |name: &str| -> serde_json::Value {
        let out = Command::new("ansible-inventory")
            .args(["-i", "inventory.ini", "--host", name])
            .current_dir(p.path())
            .output()
            .expect("ansible-inventory (scripts/install-tools --tests installs it)");
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let db = host("db-0");
    assert_eq!(db["role"], "primary");
    assert_eq!(db["duration"], 7, "a group's var over the plan's");
    assert_eq!(db["motto"], "it's \"quoted\"");
    assert_eq!(db["flags"], serde_json::json!([1, "two", true]));
    let app = host("app-0");
    assert_eq!(app["duration"], 5);
    assert!(app.get("role").is_none(), "{app}");
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

/// Files a newer runner wrote (the state, a saved plan, trial.json,
/// series.json) are refused, naming both versions, rather than read and
/// written back without what this runner does not know.
#[test]
fn files_of_a_newer_runner_are_refused_naming_both_versions() {
    let p = Project::new();
    p.write("p.toml", "name = \"nv\"\n[groups.h]\ncount = 1\n");
    p.write(
        ".runner/nv.state.json",
        r#"{"version": 99, "serial": 1, "plan": "nv", "hosts": {}, "steps": {}, "a_field_of_the_future": 1}"#,
    );
    let r = p.run(&["plan", "p.toml"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("written by a newer runner (state version 99;")
            && r.stderr.contains("reads up to 2)"),
        "{r:?}"
    );
    // Not moved aside as unreadable, and not rewritten.
    let destroy = p.run(&["destroy", "p.toml", "--yes"]);
    assert_eq!(destroy.code, 1, "{destroy:?}");
    assert!(
        p.read(".runner/nv.state.json")
            .contains("a_field_of_the_future")
    );
    std::fs::remove_file(p.path().join(".runner/nv.state.json")).unwrap();
    // A saved plan of a newer schema.
    p.write(
        ".runner/nv.plan",
        r#"{"runner_saved_plan": 7, "plan_name": "nv"}"#,
    );
    let r = p.run(&["apply", ".runner/nv.plan"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("saved plan written by a newer runner (schema 7;"),
        "{r:?}"
    );
    // trial.json and series.json of a newer schema.
    p.write(
        "trials/nv/20261201T000000Z/trial.json",
        r#"{"schema": 5, "plan": "nv", "trial": "20261201T000000Z"}"#,
    );
    let r = p.run(&["report", "p.toml", "20261201T000000Z"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("trial.json written by a newer runner (schema 5;"),
        "{r:?}"
    );
    p.write(
        "trials/nv/series-20261201T000000Z/series.json",
        r#"{"schema": 4, "plan": "nv", "series": "series-20261201T000000Z", "points": []}"#,
    );
    let r = p.run(&["report", "p.toml", "series-20261201T000000Z"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("series.json written by a newer runner (schema 4;"),
        "{r:?}"
    );
}

/// A host whose disk fills up during the test: the test's script cannot
/// write its status, and the apply says so when the script is gone,
/// not after the test's whole `timeout`.
const FULL_HOST: &str = r#"name = "fullhost"
[groups.h]
count = 1
[[step]]
name = "small"
on = ["h"]
run = "mkdir -p runner-trials && mount -t tmpfs -o size=512k tmpfs runner-trials"
[[test]]
name = "fill"
on = ["h"]
run = "head -c 2000000 /dev/zero > {{ out }}/fill.bin; true"
timeout = "5m"
"#;

#[test]
fn a_host_whose_disk_is_full_is_said_at_once_not_after_the_tests_timeout() {
    let p = Project::new();
    p.write("plan.toml", FULL_HOST);
    // The step mounts a small tmpfs on the host's trials folder, in a
    // private mount namespace that runner and the sshd it starts share.
    let script = format!(
        r#"s=$(date +%s)
"{BIN}" apply plan.toml --yes > a.out 2>&1; echo $? > a.rc
echo $(( $(date +%s) - s )) > a.secs
umount .runner/fullhost/hosts/h-0/work/runner-trials
"{BIN}" destroy plan.toml --yes > d.out 2>&1; echo $? > d.rc
exit 0"#
    );
    p.in_private_mounts(&script);
    let a = p.read("a.out");
    assert_eq!(p.read("a.rc").trim(), "1", "{a}");
    assert!(
        a.contains("its script ended without writing status.json"),
        "{a}"
    );
    assert!(
        a.contains("KiB free on the host's disk there: full?"),
        "{a}"
    );
    // Said when the script was gone: far from the test's 5 minutes.
    let secs: u64 = p.read("a.secs").trim().parse().unwrap();
    assert!(secs < 120, "{secs} s: {a}");
    assert_eq!(p.read("d.rc").trim(), "0", "{}", p.read("d.out"));
}
