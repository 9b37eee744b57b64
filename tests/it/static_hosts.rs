//! The static provider against an sshd this test starts itself, and host
//! key pinning: a changed key is an error, never accepted.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;

/// A private sshd, stopped by PID when dropped.
struct TestSshd {
    dir: PathBuf,
    port: u16,
    pid: u32,
}

impl TestSshd {
    fn start(dir: &Path) -> TestSshd {
        std::fs::create_dir_all(dir).unwrap();
        let keygen = |path: &Path| {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(path)
                .status()
                .unwrap();
            assert!(ok.success());
        };
        keygen(&dir.join("host_key"));
        keygen(&dir.join("client_key"));
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.display();
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        std::fs::write(
            dir.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\nUsePAM no\nStrictModes no\nPasswordAuthentication no\nPermitRootLogin prohibit-password\nAllowUsers {user}\nLogLevel ERROR\n"
            ),
        )
        .unwrap();
        if !Path::new("/run/sshd").exists() {
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let st = Command::new("/usr/sbin/sshd")
            .arg("-f")
            .arg(dir.join("sshd_config"))
            .arg("-E")
            .arg(dir.join("sshd.log"))
            .status()
            .unwrap();
        assert!(st.success(), "sshd failed to start");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(t) = std::fs::read_to_string(dir.join("sshd.pid"))
                && let Ok(pid) = t.trim().parse()
                && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            {
                return TestSshd {
                    dir: dir.to_path_buf(),
                    port,
                    pid,
                };
            }
            assert!(Instant::now() < deadline, "sshd did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn host_key(&self) -> String {
        std::fs::read_to_string(self.dir.join("host_key.pub"))
            .unwrap()
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        kill(self.pid, "TERM");
    }
}

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
