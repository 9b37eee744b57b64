//! The static provider against an sshd this test starts itself, and host
//! key pinning: a changed key is an error, never accepted.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::*;

fn static_plan(sshd: &TestSshd, host_key: &str, workdir: &Path) -> String {
    format!(
        r#"name = "fixed"
[provider]
kind = "static"
identity = "{}"
workdir = "{}"

[groups.box]
hosts = [{{ address = "127.0.0.1", port = {}, host_key = "{host_key}" }}]

[[step]]
name = "mark"
on = ["box"]
run = "echo marked > mark.txt"
"#,
        sshd.dir.join("client_key").display(),
        workdir.display(),
        sshd.port
    )
}

#[test]
fn static_hosts_are_configured_and_host_keys_are_pinned() {
    let p = Project::new();
    let sshd = TestSshd::start(&p.path().join("sshd"));
    let work = p.path().join("remote-work");
    p.write("plan.toml", &static_plan(&sshd, &sshd.host_key(), &work));
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    r.ok();
    assert_eq!(
        std::fs::read_to_string(work.join("mark.txt")).unwrap(),
        "marked\n"
    );
    assert_eq!(p.run(&["plan", "plan.toml", "--detailed-exitcode"]).code, 0);

    // Another key, as if the host had been swapped: refused.
    let other = p.path().join("other_key");
    Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    let other_key = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let other_key: String = other_key
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    std::fs::remove_file(work.join("mark.txt")).unwrap();
    p.write("plan.toml", &static_plan(&sshd, &other_key, &work));
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("host key of `box[0]`"), "{r:?}");
    assert!(r.stderr.contains("changed"), "{r:?}");
    assert!(
        !work.join("mark.txt").exists(),
        "the step ran on an unverified host"
    );

    // Destroy forgets static hosts and leaves them running.
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
    assert!(alive(sshd.pid));
}

/// One machine listed several times (or an NFS home): every host's upload
/// lands whole, none fails on another's temp file.
#[test]
fn static_hosts_sharing_a_login_do_not_collide() {
    let p = Project::new();
    let sshd = TestSshd::start(&p.path().join("sshd"));
    let work = p.path().join("shared-home");
    let host = format!(
        "{{ address = \"127.0.0.1\", port = {}, host_key = \"{}\" }}",
        sshd.port,
        sshd.host_key()
    );
    p.write("resources/big.j2", &"{{ host.name }} ".repeat(20_000));
    p.write(
        "plan.toml",
        &format!(
            r#"name = "shared"
[provider]
kind = "static"
identity = "{}"
workdir = "{}"

[groups.box]
hosts = [{host}, {host}, {host}, {host}]

[[step]]
name = "conf"
on = ["box"]
template = "resources/big.j2"
dest = "conf.txt"
"#,
            sshd.dir.join("client_key").display(),
            work.display()
        ),
    );
    for _ in 0..3 {
        let r = p.run(&["apply", "plan.toml", "--yes"]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(r.stderr.contains("8 added"), "{r:?}");
        // Whole: exactly one host's rendering, never a mix.
        let text = std::fs::read_to_string(work.join("conf.txt")).unwrap();
        let first = text.split(' ').next().unwrap().to_string();
        assert_eq!(text, format!("{first} ").repeat(20_000));
        let left: Vec<_> = std::fs::read_dir(&work)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        p.run(&["destroy", "plan.toml", "--yes"]).ok();
    }
}

/// Every host keeps one connection for the whole apply: 60 of them fit
/// although the soft open-file limit is 50 (runner raises it to the hard
/// limit); where the hard limit is that low, a clear error says so before
/// anything runs. The 60 hosts are one machine whose sshd has the default
/// `MaxStartups` (10:30:100): it drops connections past the 10th being
/// started, so runner starts only a few at once per address.
#[test]
fn connections_are_not_bounded_by_a_low_soft_open_file_limit() {
    let p = Project::new();
    let sshd = TestSshd::start(&p.path().join("sshd"));
    let host = format!(
        "{{ address = \"127.0.0.1\", port = {}, host_key = \"{}\" }}",
        sshd.port,
        sshd.host_key()
    );
    let hosts = vec![host; 60].join(", ");
    p.write(
        "plan.toml",
        &format!(
            r#"name = "fds"
[provider]
kind = "static"
identity = "{}"
workdir = "{}"

[groups.box]
hosts = [{hosts}]

[[step]]
name = "t"
on = ["box"]
run = "true"
"#,
            sshd.dir.join("client_key").display(),
            p.path().join("work").display()
        ),
    );
    let limited = |limits: &str| {
        output_of(
            Command::new("prlimit")
                .arg(format!("--nofile={limits}"))
                .arg(BIN)
                .args(["apply", "plan.toml", "--yes"])
                .current_dir(p.path())
                .stdin(Stdio::null())
                .output()
                .unwrap(),
        )
    };
    let low = limited("50:50");
    assert_eq!(low.code, 1, "{low:?}");
    assert!(
        low.stderr
            .contains("it needs about 224 open files, and this process may open 50")
            && low.stderr.contains("ulimit -n 224")
            && low.stderr.contains("nothing was applied"),
        "{low:?}"
    );
    assert!(!p.path().join("work").exists(), "something ran: {low:?}");
    let raised = limited("50:4096");
    raised.ok();
    assert!(raised.stderr.contains("Apply complete"), "{raised:?}");
}
