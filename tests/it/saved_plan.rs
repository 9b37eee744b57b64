//! Saved plans, staleness, confirmation, exit codes and JSON output.

use crate::common::*;

#[test]
fn a_saved_plan_is_refused_when_the_plan_or_a_resource_changed() {
    let p = example_project("stale", 1);
    let r = p.run(&["plan", "plan.toml", "-o", "my.plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{r:?}");
    p.write(
        "plan.toml",
        &format!("{}\n# edited\n", two_group_plan("stale", 1)),
    );
    let r = p.run(&["apply", "my.plan"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("stale plan my.plan: the plan file"),
        "{r:?}"
    );
    assert!(r.stderr.contains("run `runner plan"), "{r:?}");

    p.run(&["plan", "plan.toml"]).ok();
    p.write("resources/client.env.j2", "CHANGED={{ host.name }}\n");
    let r = p.run(&["apply"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("the resource file"), "{r:?}");
    assert!(p.sshd_processes().is_empty());
    p.write("resources/client.env.j2", CLIENT_TEMPLATE);

    // A plan made against one state is stale once another apply changed it.
    p.run(&["plan", "plan.toml", "-o", "old.plan"]).ok();
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    let r = p.run(&["apply", "old.plan"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("the state changed"), "{r:?}");
}

#[test]
fn apply_without_a_terminal_or_yes_fails_at_once() {
    let p = example_project("confirm", 1);
    let r = p.run(&["apply", "plan.toml"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("stdin is not a terminal"), "{r:?}");
    assert!(r.stderr.contains("--yes"), "{r:?}");
    assert!(!p.path().join(".runner/confirm.state.json").exists());
    let r = p.run(&["apply"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no saved plan"), "{r:?}");
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let p = Project::new();
    assert_eq!(p.run(&["plan"]).code, 1);
    assert_eq!(p.run(&["frobnicate"]).code, 1);
    assert_eq!(p.run(&["plan", "x.toml", "--bogus"]).code, 1);
    assert_eq!(p.run(&["--help"]).code, 0);
    let missing = p.run(&["plan", "nope.toml"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("nope.toml"), "{missing:?}");
}

#[test]
fn plan_json_is_machine_readable() {
    let p = example_project("json", 1);
    let r = p.run(&["plan", "plan.toml", "--json"]);
    r.ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["plan"], "json");
    assert_eq!(v["summary"]["add"], 6);
    assert_eq!(v["changes"][0]["action"], "create");
    assert_eq!(v["changes"][0]["id"], "host server[0]");
}
