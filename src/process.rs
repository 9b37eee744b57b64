//! Processes by PID: liveness, command lines, descendants, and stopping them.
//! Only PIDs runner itself recorded are ever signalled.

#![allow(unsafe_code)]

use std::time::{Duration, Instant};

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

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) has no memory effects; pid is one runner recorded.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// SIGTERM to `pids`, then SIGKILL to what is left after `grace`.
pub fn terminate(pids: &[u32], grace: Duration) {
    for &p in pids {
        signal(p, libc::SIGTERM);
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
            signal(p, libc::SIGKILL);
        }
    }
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether stdin is a terminal (a prompt can be answered).
pub fn stdin_is_terminal() -> bool {
    use std::io::IsTerminal as _;
    std::io::stdin().is_terminal()
}

/// SIGKILL to this process: a test's model of `kill -9` at an exact point.
pub fn kill_self() -> ! {
    signal(std::process::id(), libc::SIGKILL);
    std::process::abort()
}

/// Runs `cmd` in a private mount namespace of its own in which `file`
/// reads as empty (`/dev/null` bound over it), the way `unshare --mount
/// --propagation private` + `mount --bind` would, but with no process of
/// their own: the calls are made in the child between fork and exec.
pub fn hide_file_from(cmd: &mut std::process::Command, file: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::process::CommandExt as _;
    // Everything the child touches is made here, before the fork: between
    // fork and exec only system calls are made (async-signal-safe).
    let target = std::ffi::CString::new(file.as_os_str().as_bytes()).unwrap_or_default();
    // SAFETY: the hook makes only system calls (unshare, mount) on C
    // strings built before the fork; it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || {
            let fail = || Err(std::io::Error::last_os_error());
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return fail();
            }
            let none = std::ptr::null();
            if libc::mount(
                none,
                c"/".as_ptr(),
                none,
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) != 0
            {
                return fail();
            }
            if libc::mount(
                c"/dev/null".as_ptr(),
                target.as_ptr(),
                none,
                libc::MS_BIND,
                std::ptr::null(),
            ) != 0
            {
                return fail();
            }
            Ok(())
        });
    }
}

/// The soft open-file limit this process was started with.
static OPEN_FILES_SOFT: std::sync::OnceLock<libc::rlim_t> = std::sync::OnceLock::new();

/// Gives `cmd` the soft open-file limit runner was started with, not the
/// one `raise_open_files` raised: a host's sshd and the commands it runs
/// keep the limits the operator set.
pub fn keep_open_files_limit(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt as _;
    let Some(&soft) = OPEN_FILES_SOFT.get() else {
        return;
    };
    // SAFETY: the hook makes only system calls (getrlimit, setrlimit) on a
    // struct on its stack; it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || {
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && soft < lim.rlim_cur {
                lim.rlim_cur = soft;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
            Ok(())
        });
    }
}

/// Raises this process's soft open-file limit to its hard limit: every
/// host of an apply keeps one SSH connection (one descriptor) open, and
/// the soft limit is often 1,024. Returns the limit now in force.
pub fn raise_open_files() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write/read only the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        let _ = OPEN_FILES_SOFT.set(lim.rlim_cur);
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    lim.rlim_cur
}
