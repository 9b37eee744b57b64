//! Driving runner by hand: `init` gives a plan that runs as is, shell
//! completions, `show` with the last trial.

use crate::common::*;

#[test]
fn init_writes_a_plan_that_applies_as_is_and_show_reports_its_trial() {
    let p = Project::new();
    let r = p.run(&["init", "lab"]);
    r.ok();
    assert!(
        r.stdout.contains("cd lab && runner plan plan.toml"),
        "{r:?}"
    );
    // Nothing is overwritten.
    let again = p.run(&["init", "lab"]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("already exist"), "{again:?}");

    let run = |args: &[&str]| {
        let mut c = std::process::Command::new(BIN);
        c.args(args)
            .current_dir(p.path().join("lab"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        wait_bounded(c.spawn().unwrap(), std::time::Duration::from_secs(120))
    };
    run(&["validate", "plan.toml"]).ok();
    let r = run(&["apply", "plan.toml", "--yes"]);
    r.ok();
    assert!(
        r.stderr.contains("test probe: 2 hosts, 2 succeeded"),
        "{r:?}"
    );
    let show = run(&["show", "plan.toml", "--json"]);
    show.ok();
    let doc: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(doc["runner_show"], 1);
    assert_eq!(doc["plan"], "starter");
    assert_eq!(doc["hosts"].as_object().unwrap().len(), 3);
    let trial = &doc["trial"];
    assert_eq!(trial["status"], "complete", "{doc}");
    assert_eq!(trial["tests"][0]["name"], "probe");
    assert_eq!(trial["tests"][0]["succeeded"], 2);
    let tables: Vec<&str> = trial["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tables.iter().any(|t| t.ends_with("analysis/timing.csv")),
        "{tables:?}"
    );
    let csv = std::fs::read_to_string(
        p.path()
            .join("lab")
            .join(tables.iter().find(|t| t.ends_with(".csv")).unwrap()),
    )
    .unwrap();
    assert!(csv.contains("client[1]"), "{csv}");
    let text = run(&["show", "plan.toml"]);
    assert!(
        text.stdout.contains("test probe: 2 hosts, 2 succeeded"),
        "{text:?}"
    );
    run(&["destroy", "plan.toml", "--yes"]).ok();
}

#[test]
fn completions_for_each_shell() {
    let p = Project::new();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef runner"),
        ("fish", "complete -c runner"),
    ] {
        let r = p.run(&["completions", shell]);
        r.ok();
        assert!(
            r.stdout.contains(marker),
            "{shell}: {}",
            &r.stdout[..200.min(r.stdout.len())]
        );
        assert!(r.stdout.contains("destroy"), "{shell}");
    }
    assert_eq!(p.run(&["completions", "tcsh"]).code, 1);
}

/// Colour on a terminal (a pty from `script`), none with NO_COLOR or
/// --no-color or when piped; -q keeps only errors and the summary;
/// timestamps on progress lines when stderr is not a terminal.
#[test]
fn colour_quiet_and_timestamps() {
    let p = example_project("look", 1);
    let on_tty = |env: &[(&str, &str)], extra: &str| {
        let mut c = std::process::Command::new("script");
        c.args(["-qec", &format!("{BIN} plan plan.toml{extra}"), "/dev/null"])
            .current_dir(p.path())
            .stdin(std::process::Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
    };
    let colored = on_tty(&[], "");
    assert!(
        colored.contains("\x1b[32m    +\x1b[0m host client[0]"),
        "{colored:?}"
    );
    assert!(!on_tty(&[("NO_COLOR", "1")], "").contains('\x1b'));
    assert!(!on_tty(&[], " --no-color").contains('\x1b'));
    assert!(!p.run(&["plan", "plan.toml"]).stdout.contains('\x1b'));

    let r = p.run(&["apply", "plan.toml", "--yes"]);
    r.ok();
    // Piped stderr: each progress line starts with a UTC time.
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("host server[0]: created"))
        .unwrap();
    let stamp = &line[..13];
    assert!(
        stamp.as_bytes()[2] == b':' && stamp.as_bytes()[8] == b'.',
        "{line}"
    );
    p.write(
        "plan.toml",
        &two_group_plan("look", 1).replace("echo hello from", "echo hi from"),
    );
    let q = p.run(&["apply", "plan.toml", "--yes", "-q"]);
    q.ok();
    assert!(!q.stderr.contains("updated ("), "{q:?}");
    assert!(
        q.stderr.contains("Apply complete: 0 added, 2 changed"),
        "{q:?}"
    );
    p.run(&["destroy", "plan.toml", "--yes", "-q"]).ok();
}

#[test]
fn every_command_help_has_an_example() {
    let p = Project::new();
    for cmd in [
        "init",
        "completions",
        "validate",
        "plan",
        "apply",
        "destroy",
        "graph",
        "analyze",
        "history",
        "ping",
        "ssh",
        "inventory",
        "show",
    ] {
        let r = p.run(&[cmd, "--help"]);
        r.ok();
        assert!(
            r.stdout.contains("Example: `runner "),
            "{cmd}: {}",
            r.stdout
        );
    }
}

/// On a terminal, apply draws a bar per phase; the closing summary is plain.
#[test]
fn progress_bars_on_a_terminal() {
    let p = example_project("bars", 1);
    let out = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{BIN} apply plan.toml --yes --no-color"),
            "/dev/null",
        ])
        .current_dir(p.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("     hosts ["), "{text}");
    assert!(text.contains(" configure ["), "{text}");
    assert!(text.contains("Apply complete: 6 added"), "{text}");
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}
