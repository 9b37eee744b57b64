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
    // The process's own network namespace's tables (a host in a namespace
    // listens there, not in runner's).
    for table in ["tcp", "tcp6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
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
#[cfg(feature = "test-faults")]
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

/// This machine's IPv4 routes (root namespace), as (destination, prefix
/// length), from `/proc/net/route`; empty when it cannot be read.
pub fn ipv4_routes() -> Vec<(std::net::Ipv4Addr, u8)> {
    let Ok(text) = std::fs::read_to_string("/proc/net/route") else {
        return Vec::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // Little-endian hex, as the kernel prints them.
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?.swap_bytes();
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?.swap_bytes();
            Some((std::net::Ipv4Addr::from(dest), mask.count_ones() as u8))
        })
        .collect()
}

/// Where `ip netns` keeps network namespace `name`.
pub fn netns_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new("/var/run/netns").join(name)
}

/// Runs `cmd` inside the network namespace at `path` (it is entered
/// between fork and exec): its sockets, and its children's, are there.
#[allow(unsafe_code)]
pub fn enter_netns(cmd: &mut std::process::Command, path: &std::path::Path) -> std::io::Result<()> {
    use std::os::fd::AsFd as _;
    use std::os::unix::process::CommandExt as _;
    let ns = std::fs::File::open(path)?;
    // SAFETY: the hook makes one system call (setns) on a file opened
    // before the fork; it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || {
            rustix::thread::move_into_link_name_space(
                ns.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )?;
            Ok(())
        });
    }
    Ok(())
}

/// Runs `f` on a thread of its own inside the network namespace at
/// `path`: what it opens (sockets) stays in that namespace, whatever
/// thread uses it next. Nothing else of this process changes namespace.
pub fn in_netns<T: Send + 'static>(
    path: &std::path::Path,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    use std::os::fd::AsFd as _;
    let ns = std::fs::File::open(path)?;
    std::thread::spawn(move || {
        rustix::thread::move_into_link_name_space(
            ns.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )?;
        f()
    })
    .join()
    .map_err(|_| std::io::Error::other("a thread in a network namespace panicked"))?
}

/// Enters the network namespace at `path` for good (the whole process:
/// call it before starting threads).
pub fn enter_netns_now(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::fd::AsFd as _;
    let ns = std::fs::File::open(path)?;
    rustix::thread::move_into_link_name_space(
        ns.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )?;
    Ok(())
}

/// A raw packet socket on interface `name` (every protocol, whole
/// Ethernet frames), that does not see the frames it sends itself.
#[allow(unsafe_code)]
pub fn packet_socket(name: &str) -> std::io::Result<std::os::fd::OwnedFd> {
    use rustix::net::{AddressFamily, SocketType, eth};
    use std::os::fd::AsRawFd as _;
    let fd = rustix::net::socket(AddressFamily::PACKET, SocketType::RAW, Some(eth::ALL))?;
    let index = rustix::net::netdevice::name_to_index(&fd, name)?;
    let addr = libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as u16,
        sll_protocol: (libc::ETH_P_ALL as u16).to_be(),
        sll_ifindex: index as i32,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 0,
        sll_addr: [0; 8],
    };
    let one: libc::c_int = 1;
    // SAFETY: `addr` and `one` live on this stack for the calls; the sizes
    // passed are theirs; `fd` is an open socket owned here.
    let (bound, ignored) = unsafe {
        (
            libc::bind(
                fd.as_raw_fd(),
                (&raw const addr).cast::<libc::sockaddr>(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            ),
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_IGNORE_OUTGOING,
                (&raw const one).cast::<libc::c_void>(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            ),
        )
    };
    if bound != 0 || ignored != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}

/// Whether `program` is an executable file in a directory of `PATH`.
pub fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| {
            std::fs::metadata(d.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}
