//! A temp project dir, a way to run the binary with a time bound, and a drop
//! guard that stops every sshd started under the dir (by PID, from their pid
//! files and /proc), even when the test fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_runner");

pub struct Project {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Project {
    pub fn new() -> Self {
        Project {
            dir: tempfile::Builder::new()
                .prefix("runner-it-")
                .tempdir()
                .expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) -> &Self {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }

    /// The folders under `trials/<plan>/` (trials and series), sorted:
    /// the files beside them (index.html, history.*) left out.
    pub fn run_folders(&self, plan: &str) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(self.path().join("trials").join(plan))
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .current_dir(self.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs runner with stdin closed, killing it after 120 s.
    pub fn run(&self, args: &[&str]) -> Run {
        let child = self.command(args).spawn().expect("spawn runner");
        wait_bounded(child, Duration::from_secs(120))
    }

    /// Local hosts' sshd pids under this project (from their pid files, alive only).
    /// Runs the shell `script` in the project dir inside a private mount
    /// namespace (for a tmpfs only it and what it starts see); it must
    /// exit 0.
    pub fn in_private_mounts(&self, script: &str) {
        let st = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                script,
            ])
            .current_dir(self.path())
            .stdin(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "{st}");
    }

    pub fn sshd_pids(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        for entry in glob_pid_files(self.path()) {
            if let Ok(text) = std::fs::read_to_string(&entry)
                && let Ok(pid) = text.trim().parse::<u32>()
                && alive(pid)
            {
                pids.push(pid);
            }
        }
        pids
    }

    /// Every live sshd whose command line names a config under this project.
    pub fn sshd_processes(&self) -> Vec<u32> {
        sshd_matching(&self.path().to_string_lossy())
    }

    /// How the names of plan `plan`'s network namespaces begin here
    /// (`runner-<plan>.<first 6 hex of the sha256 of .runner/<plan>>-`).
    pub fn netns_prefix(&self, plan: &str) -> String {
        use sha2::Digest;
        let dir = self.path().join(".runner").join(plan);
        let hash = hex::encode(sha2::Sha256::digest(dir.to_string_lossy().as_bytes()));
        format!("runner-{plan}.{}-", &hash[..6])
    }

    /// Plan `plan`'s namespaces still there, and delay lines in them.
    pub fn netns_left(&self, plan: &str) -> Vec<String> {
        let prefix = self.netns_prefix(plan);
        let mut left: Vec<String> = std::fs::read_dir("/var/run/netns")
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(&prefix))
                    .collect()
            })
            .unwrap_or_default();
        left.extend(delay_lines(&prefix).into_iter().map(|(_, cmd)| cmd));
        left
    }

    /// The plan's live delay lines (`runner delay-line` in its hub).
    pub fn delay_line_pids(&self, plan: &str) -> Vec<u32> {
        delay_lines(&self.netns_prefix(plan))
            .into_iter()
            .map(|(pid, _)| pid)
            .collect()
    }

    /// Removes what a failed test left of namespaced plans: their delay
    /// lines (by PID) and namespaces.
    fn remove_namespaces(&self) {
        let Ok(plans) = std::fs::read_dir(self.path().join(".runner")) else {
            return;
        };
        for plan in plans.flatten().filter(|e| e.path().is_dir()) {
            let plan = plan.file_name().to_string_lossy().into_owned();
            let prefix = self.netns_prefix(&plan);
            for (pid, _) in delay_lines(&prefix) {
                kill(pid, "KILL");
            }
            for name in self.netns_left(&plan) {
                if name.starts_with(&prefix) {
                    let _ = Command::new("ip").args(["netns", "del", &name]).status();
                }
            }
        }
    }
}

/// Live `runner delay-line` processes whose command line names `prefix`.
fn delay_lines(prefix: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(" delay-line ") && cmd.contains(prefix) && alive(pid) {
            out.push((pid, cmd));
        }
    }
    out
}

/// Every live sshd whose command line contains `needle`.
pub fn sshd_matching(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains("sshd") && cmd.contains(needle) && alive(pid) {
                out.push(pid);
            }
        }
    }
    out
}

fn glob_pid_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let runner = root.join(".runner");
    let Ok(plans) = std::fs::read_dir(&runner) else {
        return out;
    };
    for plan in plans.flatten() {
        let Ok(hosts) = std::fs::read_dir(plan.path().join("hosts")) else {
            continue;
        };
        for h in hosts.flatten() {
            out.push(h.path().join("sshd.pid"));
        }
    }
    out
}

pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            stat.rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next())
                != Some("Z")
        }
        Err(_) => false,
    }
}

pub fn kill(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status();
}

impl Drop for Project {
    fn drop(&mut self) {
        // Stop what runner started here, whatever state the test left.
        let mut pids = self.sshd_processes();
        pids.extend(self.sshd_pids());
        for p in &pids {
            kill(*p, "TERM");
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while pids.iter().any(|p| alive(*p)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        for p in pids.iter().filter(|p| alive(**p)) {
            kill(*p, "KILL");
        }
        self.remove_namespaces();
    }
}

pub fn wait_bounded(mut child: std::process::Child, limit: Duration) -> Run {
    let deadline = Instant::now() + limit;
    // Drain pipes in threads so a chatty child cannot block on a full pipe.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut so, &mut s);
        s
    });
    let t2 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut se, &mut s);
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let st = child.wait().unwrap();
            let (out, err) = (t1.join().unwrap(), t2.join().unwrap());
            panic!(
                "runner did not finish within {limit:?} ({st})\n--- stdout\n{out}--- stderr\n{err}"
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: t1.join().unwrap(),
        stderr: t2.join().unwrap(),
    }
}

pub fn output_of(o: Output) -> Run {
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
    }
}

/// The example plan's shape, small: a server and `n` clients.
pub fn two_group_plan(name: &str, clients: usize) -> String {
    format!(
        r#"name = "{name}"

[vars]
port = 5201

[groups.server]
count = 1

[groups.client]
count = {clients}
vars = {{ streams = 2 }}

[[step]]
name = "hello"
on = ["server", "client"]
run = "echo hello from $RUNNER_HOST"

[[step]]
name = "conf"
on = ["client"]
template = "resources/client.env.j2"
dest = "client.env"

[[step]]
name = "check"
on = ["client"]
run = "grep -q STREAMS=2 client.env"
"#
    )
}

pub const CLIENT_TEMPLATE: &str = "SERVER={{ groups.server[0].address }}\nPORT={{ vars.port }}\nSTREAMS={{ vars.streams }}\nHOST={{ host.name }}\n";

/// A project holding `two_group_plan` and its template.
pub fn example_project(name: &str, clients: usize) -> Project {
    let p = Project::new();
    p.write("plan.toml", &two_group_plan(name, clients));
    p.write("resources/client.env.j2", CLIENT_TEMPLATE);
    p
}

/// Whether some process holds the plan's kernel lock.
pub fn lock_is_held(p: &Project, plan: &str) -> bool {
    let Ok(f) = std::fs::File::open(p.path().join(format!(".runner/{plan}.lock"))) else {
        return false;
    };
    match f.try_lock() {
        Ok(()) => false,
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(e) => panic!("lock: {e}"),
    }
}

/// A private sshd, stopped by PID when dropped.
pub struct TestSshd {
    pub dir: PathBuf,
    pub port: u16,
    pub pid: u32,
}

impl TestSshd {
    pub fn start(dir: &Path) -> TestSshd {
        TestSshd::start_with(dir, "")
    }

    /// With `extra` lines appended to its sshd_config.
    pub fn start_with(dir: &Path, extra: &str) -> TestSshd {
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
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\nUsePAM no\nStrictModes no\nPasswordAuthentication no\nPermitRootLogin prohibit-password\nAllowUsers {user}\nLogLevel ERROR\n{extra}"
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

    pub fn host_key(&self) -> String {
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

/// A CSV table as rows of header → cell.
pub fn csv_rows(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    reader
        .records()
        .map(|rec| {
            headers
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(str::to_string))
                .collect()
        })
        .collect()
}
