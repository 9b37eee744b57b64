//! `[[check]]`: a trial that can fail. A test prints a CSV whose one figure
//! the plan sets (`vars.lat`); checks hold it to a max and to no regression
//! against the trial before. Exit 3 when a check fails, 1 on errors.

use super::common::Project;

fn plan(lat: f64, checks: &str) -> String {
    format!(
        r#"name = "chk"
[vars]
lat = {lat}
[groups.client]
count = 1
[[test]]
name = "t"
on = ["client"]
at = "+1s"
run = "printf 'latency\n{{{{ vars.lat }}}}\n'"
[[analyze]]
name = "lat"
parser = "csv"
files = "*/t/stdout"
{checks}"#
    )
}

const CHECKS: &str = r#"
[[check]]
name = "ceiling"
table = "lat"
row = { column = "latency" }
column = "max"
max = 5
[[check]]
name = "no-regression"
table = "lat"
column = "mean"
regression = "10%"
better = "lower"
"#;

fn trials(p: &Project) -> Vec<String> {
    p.run_folders("chk")
}

fn checks_of(p: &Project, id: &str) -> serde_json::Value {
    let t: serde_json::Value =
        serde_json::from_str(&p.read(&format!("trials/chk/{id}/trial.json"))).unwrap();
    t["checks"].clone()
}

#[test]
fn checks_pass_fail_regress_and_gate_the_exit_code() {
    let p = Project::new();
    p.write("plan.toml", &plan(4.0, CHECKS));
    let r = p.run(&["plan", "plan.toml"]);
    r.ok();
    assert!(r.stdout.contains("+ checks  (2 checks)"), "{r:?}");
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("check ceiling [pass]"), "{r:?}");
    assert!(
        r.stderr.contains("check no-regression [no baseline]"),
        "{r:?}"
    );
    let first = trials(&p)[0].clone();
    let c = checks_of(&p, &first);
    assert_eq!(c[0]["passed"], true, "{c}");
    assert_eq!(c[0]["rows"][0]["value"], 4.0, "{c}");
    assert_eq!(c[1]["no_baseline"], true, "{c}");

    // A worse figure: a new trial that fails both checks; exit 3.
    p.write("plan.toml", &plan(6.0, CHECKS));
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("Apply complete, but 2 checks failed"),
        "{r:?}"
    );
    assert!(r.stderr.contains("check ceiling [FAIL]"), "{r:?}");
    assert!(
        r.stderr.contains(&format!("trial {first}")) && r.stderr.contains("(baseline 4)"),
        "{r:?}"
    );
    let ids = trials(&p);
    assert_eq!(ids.len(), 2);
    let second = ids[1].clone();
    let c = checks_of(&p, &second);
    assert_eq!(c[0]["passed"], false, "{c}");
    assert_eq!(c[1]["rows"][0]["baseline"], 4.0, "{c}");
    // Nothing changed since: the plan has nothing to do, the verdict stays.
    let r = p.run(&["plan", "plan.toml", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{r:?}");

    // `runner check` re-evaluates: the latest fails, the first passes, and
    // a named baseline replaces the trial before.
    let r = p.run(&["check", "plan.toml"]);
    assert_eq!(r.code, 3, "{r:?}");
    let r = p.run(&["check", "plan.toml", &first]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = p.run(&["check", "plan.toml", &second, "--baseline", &second]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stdout.contains("check no-regression [pass]"), "{r:?}");
    let r = p.run(&["check", "plan.toml", "--baseline", "nope"]);
    assert_eq!(r.code, 1, "{r:?}");

    // Trial to trial: every figure side by side with the change.
    let r = p.run(&["report", "plan.toml", "--compare", &first, &second]);
    r.ok();
    let out = format!("trials/chk/{second}/analysis/compare-{first}");
    let delta = p.read(&format!("{out}/delta.csv"));
    assert!(
        delta.starts_with("table,source,column,figure,mean_a,mean_b,n_a,n_b,change_pct,change_ci95_low,change_ci95_high,p_value,q_value,verdict\n"),
        "{delta}"
    );
    // One trial a side: the change, and no noise estimate.
    assert!(
        delta.contains("lat,all files,latency,mean,4,6,1,1,50,,,,,1 trial: noise not estimated"),
        "{delta}"
    );
    assert!(p.read(&format!("{out}/delta.md")).contains("| lat |"));
    assert!(p.read(&format!("{out}/report.html")).contains("+50.00"));
    assert!(
        p.read(&format!("{out}/report.html"))
            .contains("1 trial: noise not estimated")
    );
    let r = p.run(&["report", "plan.toml", "--compare", &first, "nope"]);
    assert_eq!(r.code, 1, "{r:?}");

    // A column the table does not have: a failure that says so, not a pass.
    // Only the checks change: they are evaluated again, no new trial.
    let bad = CHECKS
        .replace("column = \"max\"", "column = \"p99\"")
        .replace("max = 5", "max = \"5ms\"");
    p.write("plan.toml", &plan(6.0, &bad));
    let r = p.run(&["plan", "plan.toml"]);
    assert!(
        r.stdout.contains("~ checks") && !r.stdout.contains("+ trial"),
        "{r:?}"
    );
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("the table has no column `p99`"), "{r:?}");
    assert_eq!(trials(&p).len(), 2);

    // A table only the second trial has is named in the comparison.
    let more =
        format!("{bad}\n[[analyze]]\nname = \"lat2\"\nparser = \"csv\"\nfiles = \"*/t/stdout\"\n");
    p.write("plan.toml", &plan(6.0, &more));
    p.run(&["apply", "plan.toml", "--yes"]);
    let r = p.run(&["report", "plan.toml", "--compare", &first, &second]);
    r.ok();
    let delta = p.read(&format!("{out}/delta.csv"));
    assert!(
        delta.contains("lat2,all files,latency,mean,,6,0,1,,,,,,only in B"),
        "{delta}"
    );
}

#[test]
fn checks_that_cannot_be_right_are_validate_errors() {
    let p = Project::new();
    let cases = [
        (
            "[[check]]\ntable = \"latt\"\ncolumn = \"max\"\nmax = 5\n",
            "check names table `latt`, which no `[[analyze]]` makes",
        ),
        (
            "[[check]]\ntable = \"lat\"\ncolumn = \"max\"\nmax = 5\nmin = 1\n",
            "a check takes one limit; this one also sets `min`",
        ),
        (
            "[[check]]\ntable = \"lat\"\ncolumn = \"max\"\n",
            "sets no limit",
        ),
        (
            "[[check]]\ntable = \"lat\"\ncolumn = \"max\"\nmax = \"5 parsecs\"\n",
            "unknown unit `parsecs`",
        ),
        (
            "[[check]]\ntable = \"lat\"\ncolumn = \"max\"\nregression = \"10\"\n",
            "is not a percentage",
        ),
        (
            "[[check]]\ntable = \"lat\"\ncolumn = \"max\"\nmax = 5\nbetter = \"higher\"\n",
            "`better` is used only with `regression`",
        ),
    ];
    for (check, want) in cases {
        p.write("plan.toml", &plan(1.0, check));
        let r = p.run(&["validate", "plan.toml"]);
        assert_eq!(r.code, 1, "{check}: {r:?}");
        assert!(r.stderr.contains(want), "{check}: want {want:?}\n{r:?}");
        assert!(r.stderr.contains("plan.toml:"), "{r:?}");
    }
    let r = {
        p.write(
            "plan.toml",
            &plan(
                1.0,
                "[[check]]\ntable = \"latt\"\ncolumn = \"max\"\nmax = 5\n",
            ),
        );
        p.run(&["validate", "plan.toml"])
    };
    assert!(r.stderr.contains("`lat`"), "did you mean: {r:?}");
}

/// A test whose CSV holds `inf`, an analysis that finds no file, a
/// mistyped `--baseline`: the trial is still checked and reported, and the
/// trial.json stays readable.
#[test]
fn odd_figures_and_failed_analyses_still_get_checks_and_a_report() {
    let p = Project::new();
    let extra = r#"
[[analyze]]
name = "nothing"
parser = "csv"
files = "*/t/nope.csv"
[[check]]
name = "finite"
table = "lat"
column = "mean"
max = 10
"#;
    p.write(
        "plan.toml",
        &plan(4.0, extra).replace(
            "'latency\\n{{ vars.lat }}\\n'",
            "'latency\\n{{ vars.lat }}\\ninf\\n'",
        ),
    );
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    // The failed analysis is an error (1); the checks ran all the same.
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("no table was written"), "{r:?}");
    assert!(r.stderr.contains("check finite [FAIL]"), "{r:?}");
    assert!(r.stderr.contains("report: trials/chk/"), "{r:?}");
    let id = trials(&p)[0].clone();
    let c = checks_of(&p, &id);
    assert_eq!(c[0]["passed"], false, "{c}");
    assert!(
        c[0]["rows"][0]["value"].is_null(),
        "inf is null in JSON: {c}"
    );
    // Still readable: check and report work on it.
    let r = p.run(&["check", "plan.toml"]);
    assert_eq!(r.code, 3, "{r:?}");
    p.run(&["report", "plan.toml"]).ok();
    let r = p.run(&[
        "apply",
        "plan.toml",
        "--yes",
        "--new-trial",
        "--baseline",
        "nope",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("--baseline nope: no such trial"), "{r:?}");
    assert_eq!(trials(&p).len(), 1, "nothing ran");
}

#[test]
fn rows_are_selected_by_test_and_host_through_their_source() {
    let p = Project::new();
    let text = plan(4.0, "").replace(
        "files = \"*/t/stdout\"",
        "files = \"*/t/stdout\"\nby = [\"test\", \"host\"]",
    ) + "[[check]]\ntable = \"lat\"\nrow = { test = \"t\", host = \"client[0]\", column = \"latency\" }\ncolumn = \"max\"\nmax = 5\n";
    p.write("plan.toml", &text);
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("[pass]") && r.stderr.contains("1 row within"),
        "{r:?}"
    );
}

/// A project's own table template is part of its analysis: adding it is
/// a change `runner plan` shows, and the next apply renders the tables
/// with it (no new trial). A csv column's unit from `units` is in the
/// headers and gives a comparison its direction.
#[test]
fn own_templates_and_csv_units_are_part_of_the_analysis() {
    let p = Project::new();
    let units = "units = { latency = \"ms\" }\nformats = [\"csv\", \"markdown\"]\n";
    p.write("plan.toml", &plan(4.0, units));
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = p.run(&["plan", "plan.toml", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "no changes: {r:?}");
    p.write("analysis/markdown.md.j2", "OWN {{ title | cell }}\n");
    let r = p.run(&["plan", "plan.toml", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "a new template is a change: {r:?}");
    assert!(
        r.stdout.contains("~ analyze lat") && !r.stdout.contains("+ trial"),
        "{r:?}"
    );
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let id = trials(&p).pop().unwrap();
    assert_eq!(trials(&p).len(), 1, "the same trial, rendered again");
    assert!(
        p.read(&format!("trials/chk/{id}/analysis/lat.md"))
            .starts_with("OWN lat")
    );
    let csv = p.read(&format!("trials/chk/{id}/analysis/lat.csv"));
    assert!(csv.contains("all files,latency (ms),1,4,4,4"), "{csv}");
    // Its edit is a change too.
    p.write("analysis/markdown.md.j2", "MINE {{ title | cell }}\n");
    let r = p.run(&["plan", "plan.toml", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "an edited template is a change: {r:?}");
}
