//! `runner ping`, `runner ssh` and `runner inventory` on local hosts.

use std::process::Command;

use crate::common::*;

#[test]
fn ping_ssh_and_inventory_reach_the_hosts_with_pinned_keys() {
    let p = example_project("reach", 1);
    p.run(&["apply", "plan.toml", "--yes"]).ok();

    let ping = p.run(&["ping", "plan.toml"]);
    ping.ok();
    let rows: Vec<&str> = ping.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{ping:?}");
    for row in &rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols[2], "yes", "{ping:?}");
        // Same machine, same clock: the offset is within a few milliseconds.
        let offset: f64 = cols[5].parse().unwrap();
        assert!(offset.abs() < 20.0, "offset {offset} ms: {ping:?}");
    }

    // OpenSSH with the generated config: pinned host keys, the plan's key.
    let cfg = p.run(&["inventory", "plan.toml", "--format", "ssh-config"]);
    cfg.ok();
    p.write("ssh_config", &cfg.stdout);
    let out = output_of(
        Command::new("ssh")
            .args(["-F", "ssh_config", "client-0", "echo $RUNNER_HOST"])
            .current_dir(p.path())
            .output()
            .unwrap(),
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "client[0]\n"),
        "{out:?}"
    );
    let ansible = p.run(&["inventory", "plan.toml", "--format", "ansible"]);
    ansible.ok();
    assert!(
        ansible
            .stdout
            .starts_with("[client]\nclient-0 ansible_host=127.0.0.1 ansible_port="),
        "{ansible:?}"
    );
    assert!(
        ansible.stdout.contains("\n[server]\nserver-0 "),
        "{ansible:?}"
    );
    assert!(
        ansible.stdout.contains("StrictHostKeyChecking=yes"),
        "{ansible:?}"
    );
    // The real tools accept it: ansible-inventory parses it, and ansible
    // reaches every host over SSH with the pinned keys.
    p.write("inventory.ini", &ansible.stdout);
    let listed = output_of(
        Command::new("ansible-inventory")
            .args(["-i", "inventory.ini", "--list"])
            .current_dir(p.path())
            .output()
            .expect("ansible-inventory (scripts/install-tools --tests installs it)"),
    );
    assert_eq!(listed.code, 0, "{listed:?}");
    let inv: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(
        inv["client"]["hosts"],
        serde_json::json!(["client-0"]),
        "{inv}"
    );
    assert_eq!(
        inv["_meta"]["hostvars"]["server-0"]["ansible_host"],
        "127.0.0.1"
    );
    assert_eq!(
        inv["_meta"]["hostvars"]["server-0"]["runner_host"],
        "server[0]"
    );
    assert!(
        inv["_meta"]["hostvars"]["server-0"]["runner_workdir"]
            .as_str()
            .is_some_and(|w| w.ends_with("/hosts/server-0/work")),
        "{inv}"
    );
    let raw = output_of(
        Command::new("ansible")
            .args([
                "-i",
                "inventory.ini",
                "all",
                "-m",
                "raw",
                "-a",
                "echo ok-$RUNNER_HOST",
            ])
            .current_dir(p.path())
            .env("ANSIBLE_NOCOLOR", "1")
            .output()
            .unwrap(),
    );
    assert_eq!(raw.code, 0, "{raw:?}");
    assert!(
        raw.stdout.contains("ok-client[0]") && raw.stdout.contains("ok-server[0]"),
        "{raw:?}"
    );

    let r = p.run(&["ssh", "plan.toml", "server[0]", "cat", "/dev/null;", "pwd"]);
    r.ok();
    assert!(
        r.stdout
            .trim_end()
            .ends_with(".runner/reach/hosts/server-0/work"),
        "{r:?}"
    );
    let r = p.run(&["ssh", "plan.toml", "clinet[0]", "true"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("did you mean `client[0]`?"), "{r:?}");

    // A host whose sshd is gone: reported, and the exit code says so.
    let pid: u32 = p
        .read(".runner/reach/hosts/client-0/sshd.pid")
        .trim()
        .parse()
        .unwrap();
    kill(pid, "KILL");
    let ping = p.run(&["ping", "plan.toml"]);
    assert_eq!(ping.code, 1, "{ping:?}");
    assert!(
        ping.stdout
            .lines()
            .any(|l| l.starts_with("client[0]") && l.contains(" no ")),
        "{ping:?}"
    );
}

/// A project in a folder with a space: Ansible splits the inventory line,
/// then its ssh arguments, and ssh an option's value; the known-hosts path
/// must come through whole (it did not: "Host key verification failed").
#[test]
fn the_ansible_inventory_works_from_a_folder_with_a_space() {
    let p = Project::new();
    let dir = p.path().join("proj A");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("plan.toml"),
        "name = \"sp\"\n[groups.h]\ncount = 1\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut c = p.command(args);
        c.current_dir(&dir);
        wait_bounded(c.spawn().unwrap(), std::time::Duration::from_secs(120))
    };
    run(&["apply", "plan.toml", "--yes"]).ok();
    let inv = run(&["inventory", "plan.toml", "--format", "ansible"]);
    inv.ok();
    std::fs::write(dir.join("inventory.ini"), &inv.stdout).unwrap();
    // Its own ControlPath: no persistent connection of another test's.
    let out = output_of(
        Command::new("timeout")
            .args(["120", "ansible", "-i", "inventory.ini", "all", "-m", "ping"])
            .env("ANSIBLE_SSH_ARGS", "-o ControlMaster=no")
            .current_dir(&dir)
            .output()
            .unwrap(),
    );
    assert!(
        out.stdout.contains("\"ping\": \"pong\""),
        "{out:?}\n{}",
        inv.stdout
    );
    run(&["destroy", "plan.toml", "--yes"]).ok();
}
