//! Facts of this machine and its processes: liveness, command lines and
//! descendants of a PID, signals, the user, open-file limits, terminals.
//! Only PIDs runner itself recorded are ever signalled. System calls go
//! through rustix; `unsafe` is left only where a hook runs between fork and
//! exec (`pre_exec`).

use std::time::{Duration, Instant};

use rustix::process::{Pid, Resource, Signal};

pub fn is_alive(pid: u32) -> bool {
    // A zombie still "exists" for kill(0); treat it as dead.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat_field(&stat, 0).is_none_or(|s| s != "Z"),
        Err(_) => false,
    }
}

/// Field `n` after the `(comm)` of a /proc stat line: 0 = state, 1 = ppid.
fn stat_field(stat: &str, n: usize) -> Option<&str> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(n)
}

pub fn cmdline(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        String::from_utf8_lossy(&raw)
            .replace('\0', " ")
            .trim()
            .to_string(),
    )
}

/// The process's name (`comm`), e.g. `sshd`.
pub fn comm(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    Some(stat[open + 1..close].to_string())
}

/// Whether `pid` holds a TCP socket listening on `port` (IPv4 or IPv6).
pub fn listens_on(pid: u32, port: u16) -> bool {
    let want = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address, …, st (0A = LISTEN), …, inode
            if f.len() > 9 && f[1].ends_with(&want) && f[3] == "0A" {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|l| inodes.iter().any(|i| l.as_os_str() == i.as_str()))
    })
}

/// All descendants of `pid`, found by walking /proc's parent links.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat"))
                && let Some(pp) = stat_field(&stat, 1).and_then(|s| s.parse().ok())
            {
                parents.push((p, pp));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(cur) = frontier.pop() {
        for &(child, parent) in &parents {
            if parent == cur && !out.contains(&child) {
                out.push(child);
                frontier.push(child);
            }
        }
    }
    out
}

fn signal(pid: u32, sig: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// SIGTERM to `pids`, then SIGKILL to what is left after `grace`.
pub fn terminate(pids: &[u32], grace: Duration) {
    for &p in pids {
        signal(p, Signal::TERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if pids.iter().all(|&p| !is_alive(p)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for &p in pids {
        if is_alive(p) {
            signal(p, Signal::KILL);
        }
    }
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The user runner runs as (`$USER`, else root or nobody).
pub fn current_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            if is_root() {
                "root".into()
            } else {
                "nobody".into()
            }
        })
}

/// This machine's clock: seconds since the epoch.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A fresh identity, unique on this machine: a host instance, a node's
/// remote processes.
pub fn unique_id() -> String {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{nanos:x}-{:x}-{n:x}", std::process::id())
}

/// Whether stdin is a terminal (a prompt can be answered).
pub fn stdin_is_terminal() -> bool {
    use std::io::IsTerminal as _;
    std::io::stdin().is_terminal()
}

/// SIGKILL to this process: a test's model of `kill -9` at an exact point.
pub fn kill_self() -> ! {
    signal(std::process::id(), Signal::KILL);
    std::process::abort()
}

/// Runs `cmd` in a private mount namespace of its own in which `file`
/// reads as empty (`/dev/null` bound over it), the way `unshare --mount
/// --propagation private` + `mount --bind` would, but with no process of
/// their own: the calls are made in the child between fork and exec.
#[allow(unsafe_code)]
pub fn hide_file_from(cmd: &mut std::process::Command, file: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::process::CommandExt as _;
    // Everything the child touches is made here, before the fork: between
    // fork and exec only system calls are made (async-signal-safe).
    let target = std::ffi::CString::new(file.as_os_str().as_bytes()).unwrap_or_default();
    // SAFETY: the hook makes only system calls (unshare, mount) on C
    // strings built before the fork; it allocates nothing and takes no
    // lock. The child has one thread, so unsharing its mount namespace
    // cannot strand another thread's view of the file system.
    unsafe {
        cmd.pre_exec(move || {
            use rustix::mount::{MountPropagationFlags, mount_bind, mount_change};
            rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS)?;
            mount_change(
                c"/",
                MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
            )?;
            mount_bind(c"/dev/null", target.as_c_str())?;
            Ok(())
        });
    }
}

/// The soft open-file limit this process was started with (`None`: unlimited).
static OPEN_FILES_SOFT: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();

/// Gives `cmd` the soft open-file limit runner was started with, not the
/// one `raise_open_files` raised: a host's sshd and the commands it runs
/// keep the limits the operator set.
#[allow(unsafe_code)]
pub fn keep_open_files_limit(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt as _;
    let Some(&Some(soft)) = OPEN_FILES_SOFT.get() else {
        return;
    };
    // SAFETY: the hook makes only system calls (getrlimit, setrlimit) on a
    // struct on its stack; it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || {
            let mut lim = rustix::process::getrlimit(Resource::Nofile);
            if lim.current.is_none_or(|c| soft < c) {
                lim.current = Some(soft);
                rustix::process::setrlimit(Resource::Nofile, lim)?;
            }
            Ok(())
        });
    }
}

/// Raises this process's soft open-file limit to its hard limit: every
/// host of an apply keeps one SSH connection (one descriptor) open, and
/// the soft limit is often 1,024. Returns the limit now in force (`u64::MAX`
/// when unlimited).
pub fn raise_open_files() -> u64 {
    let mut lim = rustix::process::getrlimit(Resource::Nofile);
    let _ = OPEN_FILES_SOFT.set(lim.current);
    if lim.current != lim.maximum {
        let raised = rustix::process::Rlimit {
            current: lim.maximum,
            maximum: lim.maximum,
        };
        if rustix::process::setrlimit(Resource::Nofile, raised).is_ok() {
            lim.current = lim.maximum;
        }
    }
    lim.current.unwrap_or(u64::MAX)
}
