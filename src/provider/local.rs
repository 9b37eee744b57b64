//! `local`: each host is a real OpenSSH `sshd` on 127.0.0.1 with its own
//! port, host key, authorized key and working directory, all under
//! `.runner/<plan>/hosts/<host>/`. sshd gets its config path on its command
//! line; nothing outside the plan's folder is touched.
//!
//! bash started by sshd sources `~/.bashrc` for every command. Where that
//! file does real work (a version manager's init) it costs more than the SSH
//! exchange, so as root each sshd runs in a private mount namespace in which
//! `~/.bashrc` reads as empty. Nothing outside those sshds sees the change.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Create, Error, Fut, Provider, blocking};
use crate::plan::HostSpec;
use crate::state::{HostState, HostStatus, Op, Paths, Place};

#[derive(Clone)]
pub struct Local {
    paths: Paths,
    /// `network = "namespaces"`: the plan's network.
    net: Option<crate::provider::netns::Net>,
}

const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Local hosts brought up at once, whatever `--parallelism` says: 8 per
/// core. Each is CPU work on this machine (a key, files, an sshd that forks
/// and binds, polled for its pid file); 16 at a time on 2 cores took 10–21 %
/// less time than 200 at once (see `BENCHMARKS.md`, local host bring-up).
fn starting() -> &'static tokio::sync::Semaphore {
    static SEM: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SEM.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(8 * cores)
    })
}

pub fn sshd_path() -> PathBuf {
    std::env::var_os("RUNNER_SSHD").map_or_else(|| PathBuf::from("/usr/sbin/sshd"), PathBuf::from)
}

impl Local {
    pub fn new(paths: &Paths, network: &crate::plan::model::Network) -> Self {
        let net = match network {
            crate::plan::model::Network::Loopback => None,
            crate::plan::model::Network::Namespaces { base, prefix } => Some(
                crate::provider::netns::Net::new(&paths.name, &paths.dir(), *base, *prefix),
            ),
        };
        Local {
            paths: paths.clone(),
            net,
        }
    }

    fn dir_of(&self, host: &str) -> PathBuf {
        self.paths.host_dir(host)
    }
}

/// Writes a new ed25519 key pair to `path` (mode 0600, OpenSSH format)
/// and `path.pub`, as `ssh-keygen -t ed25519 -N ''` would, in-process: a
/// host brought up costs no `ssh-keygen` process (see `BENCHMARKS.md`).
pub fn keygen(path: &Path, comment: &str) -> Result<(), Error> {
    make_key(path, comment, true).map(|_| ())
}

/// Writes a new ed25519 private key to `path` (and `path.pub` when
/// `public_file`); returns its public line (`ssh-ed25519 AAAA…`, no comment).
fn make_key(path: &Path, comment: &str, public_file: bool) -> Result<String, Error> {
    use russh::keys::ssh_key::{LineEnding, PrivateKey};
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut key = PrivateKey::random(&mut rand::rng(), russh::keys::Algorithm::Ed25519)
        .map_err(|e| Error::Other(format!("cannot make an ed25519 key: {e}")))?;
    key.set_comment(comment);
    let private = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| Error::Other(format!("cannot encode an ed25519 key: {e}")))?;
    let public = key
        .public_key()
        .to_openssh()
        .map_err(|e| Error::Other(format!("cannot encode an ed25519 key: {e}")))?;
    let write = |p: &Path, text: &[u8], mode: u32| -> Result<(), Error> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(p)
            .map_err(|e| Error::Other(format!("cannot write the key {}: {e}", p.display())))?;
        f.write_all(text)
            .map_err(|e| Error::Other(format!("cannot write the key {}: {e}", p.display())))
    };
    // The public half first and the private key last, whole (written
    // beside it, then renamed): an apply killed in between leaves no key,
    // and the next one makes both, rather than a half key or a key
    // without its public half forever.
    if public_file {
        let mut pub_path = path.as_os_str().to_owned();
        pub_path.push(".pub");
        write(
            Path::new(&pub_path),
            format!("{public}\n").as_bytes(),
            0o644,
        )?;
    }
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    let temp = PathBuf::from(temp);
    write(&temp, private.as_bytes(), 0o600)?;
    std::fs::rename(&temp, path)
        .map_err(|e| Error::Other(format!("cannot write the key {}: {e}", path.display())))?;
    Ok(public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" "))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt as _;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::Other(e.to_string()))
}

/// A port no other socket holds now and that no other host of this runner
/// was given: hosts created at the same time must not race for one port.
fn free_port() -> Result<u16, Error> {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    for _ in 0..50 {
        let l = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| Error::Other(format!("cannot find a free port: {e}")))?;
        let port = l.local_addr().map(|a| a.port())?;
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return Ok(port);
        }
    }
    Err("cannot find a free port that no other host was given".into())
}

/// The pid in `dir/sshd.pid` (or `pid`) if it is our sshd: alive, and
/// either its command line names our config or it listens on the port our
/// config gives it. The port test survives sshd rewriting its command line
/// (it escapes non-ASCII characters there).
fn our_sshd(dir: &Path, pid: Option<u32>) -> Option<u32> {
    let pid = pid.or_else(|| read_pid(dir))?;
    if !crate::os::is_alive(pid) {
        return None;
    }
    let config = dir.join("sshd_config");
    let named =
        crate::os::cmdline(pid).is_some_and(|cmd| config.to_str().is_some_and(|c| cmd.contains(c)));
    (named || config_port(dir).is_some_and(|port| crate::os::listens_on(pid, port))).then_some(pid)
}

fn read_pid(dir: &Path) -> Option<u32> {
    fs_err::read_to_string(dir.join("sshd.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The `Port` our sshd_config in `dir` gives.
fn config_port(dir: &Path) -> Option<u16> {
    let text = fs_err::read_to_string(dir.join("sshd_config")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Port "))
        .and_then(|p| p.trim().parse().ok())
}

/// Stops an sshd and every session it started.
fn stop_sshd(pid: u32) {
    let mut all = vec![pid];
    all.extend(crate::os::descendants(pid));
    crate::os::terminate(&all, Duration::from_secs(5));
}

/// The host directories of a plan's local hosts, whatever the state says.
pub fn host_dirs(paths: &Paths) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs_err::read_dir(paths.hosts_dir())
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.join("sshd_config").exists() || p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// Stops the sshd of a host directory (if it is ours and running),
/// removes its network namespace (and delay line) if it has one, and
/// removes the directory. `Ok(true)` when an sshd was stopped.
pub fn destroy_dir(dir: &Path) -> Result<bool, Error> {
    let stopped = match our_sshd(dir, None) {
        Some(pid) => {
            stop_sshd(pid);
            true
        }
        None => false,
    };
    if let Ok(ns) = fs_err::read_to_string(dir.join("netns")) {
        let hub = fs_err::read_to_string(dir.join("hub")).ok();
        crate::provider::netns::remove_host(ns.trim(), hub.as_deref().map(str::trim), dir);
    }
    match fs_err::remove_dir_all(dir) {
        Ok(()) => Ok(stopped),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(stopped),
        Err(e) => Err(Error::Other(e.to_string())),
    }
}

/// `~/.bashrc` when it has content worth hiding from sshd's shells, and we
/// can: root, and not a container that forbids mount namespaces (probed
/// once, with the same calls that start each sshd).
fn rc_to_hide() -> Option<PathBuf> {
    static RC: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    RC.get_or_init(|| {
        if !crate::os::is_root() || std::env::var_os("RUNNER_KEEP_BASHRC").is_some() {
            return None;
        }
        let rc = PathBuf::from(std::env::var_os("HOME")?).join(".bashrc");
        if fs_err::metadata(&rc).ok()?.len() == 0 {
            return None;
        }
        let mut probe = Command::new("true");
        crate::os::hide_file_from(&mut probe, &rc);
        let works = probe
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        works.then_some(rc)
    })
    .clone()
}

impl Provider for Local {
    fn prepare<'a>(&'a self, creating: &'a [HostSpec]) -> Fut<'a, Result<Option<Op>, Error>> {
        let me = self.clone();
        let links: Vec<crate::plan::model::Link> =
            creating.iter().filter_map(|h| h.link.clone()).collect();
        Box::pin(async move {
            blocking(move || {
                me.prepare_now()?;
                if let Some(net) = &me.net {
                    prepare_network(net, &links)?;
                }
                Ok(None)
            })
            .await
        })
    }

    fn create<'a>(&'a self, req: Create<'a>) -> Fut<'a, Result<HostState, Error>> {
        let me = self.clone();
        let host = req.host.clone();
        let instance = req.instance.to_string();
        Box::pin(async move {
            let _turn = starting().acquire().await?;
            blocking(move || me.create_now(&host, &instance)).await
        })
    }

    fn destroy<'a>(&'a self, _host: &'a str, state: &'a HostState) -> Fut<'a, Result<(), Error>> {
        let state = state.clone();
        Box::pin(async move { blocking(move || destroy_host(&state)).await })
    }

    fn placeholder(&self, host: &str) -> Place {
        Place::Local {
            dir: self.dir_of(host),
            pid: None,
            network: None,
        }
    }

    fn refresh(&self, host: &HostState) -> Option<String> {
        refresh(host)
    }

    fn owns(&self, host: &HostState) -> bool {
        matches!(host.place, Place::Local { .. })
    }
}

/// Whether the sshd the state records still runs.
pub fn refresh(state: &HostState) -> Option<String> {
    let dir = state.dir()?;
    if let Some(n) = state.network()
        && let Some(broken) = crate::provider::netns::host_broken(&n.netns, &n.hub, dir)
    {
        return Some(broken);
    }
    match our_sshd(dir, state.pid()) {
        Some(_) => None,
        None => Some(format!(
            "its sshd (pid {}) is not running",
            state.pid().map_or("?".into(), |p| p.to_string())
        )),
    }
}

/// Stops a local host's sshd and removes its directory.
pub fn destroy_host(state: &HostState) -> Result<(), Error> {
    let Some(dir) = state.dir() else {
        return Ok(());
    };
    if let Some(pid) = state.pid().and_then(|p| our_sshd(dir, Some(p))) {
        stop_sshd(pid);
    }
    destroy_dir(dir).map(|_| ())
}

impl Local {
    /// A namespaced host's place: its address (the lowest no other host of
    /// the plan has), its namespace and link made; noted in its folder for
    /// destroy.
    fn place(
        &self,
        net: &crate::provider::netns::Net,
        host: &HostSpec,
        dir: &Path,
    ) -> Result<(crate::state::NetHost, std::net::Ipv4Addr), Error> {
        static ADDRESSES: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let file = crate::paths::host_file_name(&host.name);
        let ns = net.host(&file);
        // Recorded first: a kill from here on leaves what destroy removes.
        fs_err::write(dir.join("netns"), &ns)?;
        fs_err::write(dir.join("hub"), net.hub())?;
        let addr = {
            let _one = ADDRESSES.lock().unwrap_or_else(|e| e.into_inner());
            let used: Vec<std::net::Ipv4Addr> = host_dirs(&self.paths)
                .iter()
                .filter_map(|d| fs_err::read_to_string(d.join("address")).ok())
                .filter_map(|a| a.trim().parse().ok())
                .collect();
            let addr = net
                .free_address(&used)
                .ok_or("no address left in the plan's `addresses` range")?;
            fs_err::write(dir.join("address"), addr.to_string())?;
            addr
        };
        net.add_host(&file, addr, host.link.as_ref(), dir)
            .map_err(|e| Error::Other(format!("{}: {e}", host.name)))?;
        Ok((
            crate::state::NetHost {
                netns: ns,
                hub: net.hub(),
            },
            addr,
        ))
    }

    fn prepare_now(&self) -> Result<(), Error> {
        let sshd = sshd_path();
        if !sshd.exists() {
            return Err(format!(
                "sshd not found at {}: the local provider runs one OpenSSH sshd per host; install openssh-server (apt-get install openssh-server) or set RUNNER_SSHD",
                sshd.display()
            ).into());
        }
        if self
            .paths
            .hosts_dir()
            .to_string_lossy()
            .contains(['"', '\n'])
        {
            return Err(format!(
                "the local provider cannot use the directory {}: sshd_config has no way to write a path with a double quote or a newline; run runner from a directory without them",
                self.paths.hosts_dir().display()
            ).into());
        }
        fs_err::create_dir_all(self.paths.hosts_dir())?;
        set_mode(&self.paths.dir(), 0o700)?;
        let key = self.paths.client_key();
        if !key.exists() {
            keygen(&key, &format!("runner-{}", self.paths.name))?;
        }
        set_mode(&key, 0o600)?;
        if crate::os::is_root() && !Path::new("/run/sshd").exists() {
            // sshd's privilege separation directory.
            fs_err::create_dir_all("/run/sshd")?;
        }
        Ok(())
    }

    fn create_now(&self, host: &HostSpec, instance: &str) -> Result<HostState, Error> {
        let dir = self.dir_of(&host.name);
        if dir.exists() {
            // Left by an interrupted apply: never leave a second sshd behind.
            destroy_dir(&dir)?;
        }
        let work = dir.join("work");
        fs_err::create_dir_all(&work)?;
        let placed = match &self.net {
            Some(net) => Some(self.place(net, host, &dir)?),
            None => None,
        };
        let host_key = dir.join("host_ed25519_key");
        // Its public half is kept in the state only: one file fewer per host.
        let public = make_key(&host_key, &host.name, false)?;
        let client_pub = fs_err::read_to_string(self.paths.client_key().with_extension("pub"))?;
        let authorized = dir.join("authorized_keys");
        fs_err::write(&authorized, client_pub)?;
        set_mode(&authorized, 0o600)?;
        let user = crate::os::current_user();
        let mut last_error = Error::Other("sshd did not start".into());
        for _attempt in 0..5 {
            // A failed attempt's sshd may still write these: start clean.
            let _ = fs_err::remove_file(dir.join("sshd.pid"));
            let _ = fs_err::write(dir.join("sshd.log"), b"");
            // In its own namespace, a host's sshd has port 22 to itself.
            let port = if placed.is_some() { 22 } else { free_port()? };
            let listen = if placed.is_some() {
                "0.0.0.0"
            } else {
                "127.0.0.1"
            };
            let config = dir.join("sshd_config");
            fs_err::write(
                &config,
                sshd_config(&host.name, &dir, &work, listen, port, &user),
            )?;
            let ns = placed
                .as_ref()
                .map(|(n, _)| crate::os::netns_path(&n.netns));
            match start_sshd(&dir, port, ns.as_deref()) {
                Ok(pid) => {
                    return Ok(HostState {
                        hash: String::new(),
                        status: HostStatus::Ready,
                        instance: instance.to_string(),
                        address: placed
                            .as_ref()
                            .map_or("127.0.0.1".into(), |(_, a)| a.to_string()),
                        port,
                        user,
                        identity: self.paths.client_key(),
                        host_key: public,
                        workdir: work.display().to_string(),
                        place: Place::Local {
                            dir,
                            pid: Some(pid),
                            network: placed.map(|(n, _)| n),
                        },
                    });
                }
                // Most likely another process took the port between our probe and sshd's bind.
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }
}

/// Before any host of a namespaced plan is made: root, the tools its links
/// need, the hub.
fn prepare_network(
    net: &crate::provider::netns::Net,
    links: &[crate::plan::model::Link],
) -> Result<(), Error> {
    if !crate::os::is_root() {
        return Err("`network = \"namespaces\"` needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN, to make network namespaces): run runner as root, or use the default loopback network; nothing was started".into());
    }
    let netem = |l: &crate::plan::model::Link| crate::provider::netns::uses_netem(l);
    let mut need = vec![("ip", "iproute2")];
    if links
        .iter()
        .any(|l| l.rate_bps.is_some() || (netem(l) && !l.is_empty()))
    {
        need.push(("tc", "iproute2"));
    }
    if links.iter().any(|l| l.loss.is_some() && !netem(l)) {
        need.push(("nft", "nftables"));
    }
    if links.iter().any(|l| l.delay_us.is_some() && !netem(l)) {
        need.push(("ethtool", "ethtool"));
    }
    for (tool, package) in need {
        if !crate::os::on_path(tool) {
            return Err(format!(
                "`{tool}` is not installed, and the plan's network needs it: install {package} (apt-get install {package}); nothing was started"
            )
            .into());
        }
    }
    net.ensure_hub().map_err(|e| Error::Other(e.to_string()))
}

/// sshd_config takes a path with spaces in double quotes; it has no escape
/// for a double quote itself, which `prepare` rejects.
fn sshd_config(host: &str, dir: &Path, work: &Path, listen: &str, port: u16, user: &str) -> String {
    let d = dir.display();
    format!(
        r#"# runner local host {host}
Port {port}
ListenAddress {listen}
AddressFamily inet
HostKey "{d}/host_ed25519_key"
PidFile "{d}/sshd.pid"
AuthorizedKeysFile "{d}/authorized_keys"
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers {user}
UsePAM no
StrictModes no
UseDNS no
MaxStartups 100:30:200
MaxSessions 64
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
PermitUserEnvironment no
SetEnv "RUNNER_HOST={host}" "RUNNER_HOST_DIR={w}"
Subsystem sftp internal-sftp
LogLevel ERROR
"#,
        w = work.display()
    )
}

/// `-r` (no re-exec for each connection) where this sshd still has it: its
/// re-exec costs ~8 ms of CPU per connection (see `BENCHMARKS.md`). OpenSSH
/// 9.8 split sshd in two and dropped the option.
fn no_reexec_flag() -> &'static str {
    static FLAG: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    FLAG.get_or_init(|| {
        let out = Command::new(sshd_path())
            .arg("-V")
            .stdin(Stdio::null())
            .output()
            .ok();
        let text = out
            .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
            .unwrap_or_default();
        let version = text.split("OpenSSH_").nth(1).and_then(|v| {
            let mut it = v.split(|c: char| !c.is_ascii_digit());
            Some((
                it.next()?.parse::<u32>().ok()?,
                it.next()?.parse::<u32>().ok()?,
            ))
        });
        match version {
            Some(v) if v < (9, 8) => "-r",
            _ => "",
        }
    })
}

/// Starts sshd (it daemonizes before binding) and waits for its pid file
/// and port; inside network namespace `netns` when given.
fn start_sshd(dir: &Path, port: u16, netns: Option<&Path>) -> Result<u32, Error> {
    let config = dir.join("sshd_config");
    let log = dir.join("sshd.log");
    let sshd = sshd_path();
    let flag = no_reexec_flag();
    let mut cmd = Command::new(&sshd);
    cmd.arg("-f").arg(&config).arg("-E").arg(&log);
    if !flag.is_empty() {
        cmd.arg(flag);
    }
    if let Some(rc) = rc_to_hide() {
        crate::os::hide_file_from(&mut cmd, &rc);
    }
    if let Some(ns) = netns {
        crate::os::enter_netns(&mut cmd, ns)
            .map_err(|e| Error::Other(format!("cannot enter {}: {e}", ns.display())))?;
    }
    crate::os::keep_open_files_limit(&mut cmd);
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::Other(format!("cannot start {}: {e}", sshd.display())))?;
    if !out.status.success() {
        let log_text = fs_err::read_to_string(&log).unwrap_or_default();
        return Err(format!(
            "sshd exited with {} on port {port}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            log_text.trim()
        )
        .into());
    }
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        // sshd writes its pid file after it has bound its port: no test
        // connection is needed (one would cost the sshd a fork).
        if let Some(pid) = our_sshd(dir, None) {
            return Ok(pid);
        }
        // sshd daemonizes before it binds: a port taken meanwhile shows
        // only in its log. Give up on this port at once (a new one is tried).
        if read_pid(dir).is_none()
            && fs_err::read_to_string(&log).is_ok_and(|l| l.contains("Cannot bind any address"))
        {
            return Err(format!(
                "sshd could not bind port {port} (taken meanwhile); see {}",
                log.display()
            )
            .into());
        }
        if Instant::now() > deadline {
            // It may be running without our being able to confirm it: it
            // is ours (its pid file is in our directory), so stop it.
            if let Some(pid) = read_pid(dir).filter(|&p| {
                crate::os::is_alive(p) && crate::os::comm(p).is_some_and(|c| c.contains("sshd"))
            }) {
                stop_sshd(pid);
            }
            return Err(format!(
                "sshd did not start listening on port {port} within {START_TIMEOUT:?}; see {}",
                log.display()
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
