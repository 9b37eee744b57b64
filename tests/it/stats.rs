//! runner's statistics against SciPy 1.14 (`scripts/install-tools --tests`
//! installs it as `runner-scipy-python`): two series written on disk with
//! many points of random samples (sizes 1 to 12, some with ties), compared
//! by `runner report --compare` with the U test and with Welch's t; every
//! p-value, interval and q-value (Benjamini–Hochberg,
//! `false_discovery_control`) in delta.csv, and every median interval of
//! the series table (`quantile_test(x, p=0.5).confidence_interval()`),
//! equals SciPy's within 1e-9.

use std::process::Command;

use crate::common::{Project, output_of};

const SCIPY: &str = "/usr/local/bin/runner-scipy-python";

/// A small deterministic generator (no dependency for the test).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Writes series `id` of `cases` points, each point's trials holding one
/// value of `x (ms)` in `analysis/lat.csv`.
fn write_series(p: &Project, id: &str, cases: &[Vec<f64>], trial_base: usize) {
    let mut points = Vec::new();
    let mut trials = Vec::new();
    let mut n = trial_base;
    for (c, values) in cases.iter().enumerate() {
        points.push(serde_json::json!({"label": format!("case={c}"), "vars": {"case": c}}));
        for (r, v) in values.iter().enumerate() {
            n += 1;
            let tid = format!("20260101T{n:06}Z");
            p.write(
                &format!("trials/st/{tid}/analysis/lat.csv"),
                &format!("source,x (ms)\nall files,{v:?}\n"),
            );
            trials.push(serde_json::json!({"id": tid, "point": format!("case={c}"), "repetition": r + 1, "discard": false, "status": "complete"}));
        }
    }
    let doc = serde_json::json!({"plan": "st", "series": id, "vars": ["case"], "points": points, "trials": trials});
    p.write(&format!("trials/st/{id}/series.json"), &doc.to_string());
}

#[test]
fn p_values_and_intervals_equal_scipys() {
    let p = Project::new();
    p.write(
        "plan.toml",
        r#"name = "st"
[groups.h]
count = 1
[[test]]
name = "t"
on = ["h"]
run = "true"
[[analyze]]
name = "lat"
parser = "csv"
files = "*/t/x.csv"
"#,
    );
    let mut rng = Rng(42);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for case in 0..60 {
        let (na, nb) = (1 + case % 12, 1 + (case * 7) % 12);
        // Every third case on a coarse grid: ties.
        let coarse = case % 3 == 0;
        let shift = if case % 2 == 0 { 0.0 } else { 0.8 };
        let draw = |rng: &mut Rng, mu: f64| {
            let v = mu + rng.next() + rng.next();
            if coarse { (v * 2.0).round() / 2.0 } else { v }
        };
        a.push((0..na).map(|_| draw(&mut rng, 10.0)).collect::<Vec<f64>>());
        b.push(
            (0..nb)
                .map(|_| draw(&mut rng, 10.0 + shift))
                .collect::<Vec<f64>>(),
        );
    }
    write_series(&p, "series-A", &a, 0);
    write_series(&p, "series-B", &b, 100_000);
    let mut got = Vec::new();
    for test in ["utest", "welch"] {
        let r = output_of(
            p.command(&[
                "report",
                "plan.toml",
                "--compare",
                "series-A",
                "series-B",
                "--test",
                test,
            ])
            .output()
            .unwrap(),
        );
        assert_eq!(r.code, 0, "{r:?}");
        let csv = p.read("trials/st/series-B/analysis/compare-series-A/delta.csv");
        got.push(csv);
    }
    // The series table of A: each case's median interval.
    let r = output_of(
        p.command(&["analyze", "plan.toml", "series-A"])
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    p.write("median.csv", &p.read("trials/st/series-A/analysis/lat.csv"));
    let samples = serde_json::json!({"a": a, "b": b}).to_string();
    p.write("samples.json", &samples);
    p.write("utest.csv", &got[0]);
    p.write("welch.csv", &got[1]);
    let script = r#"
import csv, json, math, sys
import numpy as np
from scipy import stats
s = json.load(open("samples.json"))
def rows(name):
    return {int(r["case"]): r for r in csv.DictReader(open(name))}
u, w = rows("utest.csv"), rows("welch.csv")
bad, checked = [], 0
def close(x, y):
    if y is None or (isinstance(y, float) and math.isnan(y)):
        return x == ""
    return x != "" and abs(float(x) - y) <= 1e-9 * max(1.0, abs(y))
for c, (a, b) in enumerate(zip(s["a"], s["b"])):
    ma = float(np.mean(a))
    exp = {"mean_a": ma, "mean_b": float(np.mean(b)), "change_pct": (np.mean(b) - ma) / abs(ma) * 100}
    if len(a) > 1 and len(b) > 1:
        exp["p_u"] = float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
        t = stats.ttest_ind(b, a, equal_var=False)
        exp["p_w"] = float(t.pvalue)
        ci = t.confidence_interval(0.95)
        exp["lo"], exp["hi"] = ci.low / abs(ma) * 100, ci.high / abs(ma) * 100
    else:
        exp.update(p_u=None, p_w=None, lo=None, hi=None)
    for row, key, col in [(u[c], "mean_a", "mean_a"), (u[c], "mean_b", "mean_b"), (u[c], "change_pct", "change_pct"),
                          (u[c], "p_u", "p_value"), (w[c], "p_w", "p_value"),
                          (u[c], "lo", "change_ci95_low"), (u[c], "hi", "change_ci95_high")]:
        checked += 1
        if not close(row[col], exp[key]):
            bad.append(f"case {c} (n {len(a)}/{len(b)}) {col}: runner {row[col]!r}, scipy {exp[key]!r}")
# q: Benjamini-Hochberg over every row with a p-value, per test.
for rows_, col in [(u, "p_value"), (w, "p_value")]:
    with_p = [c for c in sorted(rows_) if rows_[c][col] != ""]
    qs = stats.false_discovery_control([float(rows_[c][col]) for c in with_p])
    for c, q in zip(with_p, qs):
        checked += 1
        if not close(rows_[c]["q_value"], float(q)):
            bad.append(f"case {c} q_value: runner {rows_[c]['q_value']!r}, scipy {q!r}")
# The series table's median interval: quantile_test(x, p=0.5).
med = {int(r["case"]): r for r in csv.DictReader(open("median.csv")) if r["figure"] == "x (ms)"}
for c, a in enumerate(s["a"]):
    ci = stats.quantile_test(a, p=0.5).confidence_interval(0.95)
    for col, v in [("median_ci95_low", ci.low), ("median_ci95_high", ci.high)]:
        checked += 1
        if not close(med[c][col], None if math.isnan(v) else float(v)):
            bad.append(f"case {c} (n {len(a)}) {col}: runner {med[c][col]!r}, scipy {v!r}")
print(json.dumps({"checked": checked, "bad": bad}))
"#;
    let out = Command::new(SCIPY)
        .arg("-c")
        .arg(script)
        .current_dir(p.path())
        .output()
        .expect("runner-scipy-python (scripts/install-tools --tests installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["checked"], 650, "{v}");
    assert!(v["bad"].as_array().unwrap().is_empty(), "{v:#}");
}
