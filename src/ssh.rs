//! SSH over russh: one connection per host, host keys pinned, no PTY and
//! stdin closed (a command that prompts reads EOF and fails at once), connect
//! and command timeouts, retries on connection failures.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::ChannelMsg;
use russh::client::{self, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use tokio::io::AsyncWriteExt as _;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Commands longer than this are sent on stdin (see `Session::exec`).
const INLINE_COMMAND: usize = 32 * 1024;
const CONNECT_ATTEMPTS: u32 = 4;

/// What can go wrong talking to a host, each naming the host or the file
/// it concerns. Cloned: one failed connection answers every node that
/// waited for it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error(
        "the host key of `{host}` is not known yet: runner pins it when it first runs something there (a step, a test); `runner ssh` accepts it on first connect"
    )]
    KeyNotKnown { host: String },
    #[error("host key of `{host}` cannot be read: {detail}")]
    BadHostKey { host: String, detail: String },
    #[error("cannot read identity {}: {detail}", identity.display())]
    Identity {
        identity: std::path::PathBuf,
        detail: String,
    },
    #[error("authentication as `{user}` failed: {detail}")]
    Auth { user: String, detail: String },
    #[error("{user}@{address}:{port} refused the key {}", identity.display())]
    KeyRefused {
        user: String,
        address: String,
        port: u16,
        identity: std::path::PathBuf,
    },
    #[error(
        "host key of `{host}` ({address}:{port}) changed: pinned {pinned}, the server showed {shown}; refusing to connect (if the host was rebuilt on purpose, update its `host_key`)"
    )]
    HostKeyChanged {
        host: String,
        address: String,
        port: u16,
        pinned: String,
        shown: String,
    },
    #[error("cannot connect to {user}@{address}:{port} after {attempts} attempts: {last}")]
    Unreachable {
        user: String,
        address: String,
        port: u16,
        attempts: u32,
        last: String,
    },
    /// The host's key could not be learnt (a host nothing logged into yet).
    #[error("cannot reach {address}:{port} to learn its host key: {detail}")]
    KeyUnlearnt {
        address: String,
        port: u16,
        detail: String,
    },
    #[error("cannot open a session: {detail}")]
    Session { detail: String },
    /// The SSH conversation on an open session failed.
    #[error("{detail}")]
    Protocol { detail: String },
    /// A command's output could not be written here (a full disk).
    #[error("cannot write the output locally: {0}")]
    LocalWrite(Arc<std::io::Error>),
    #[error("{0}")]
    Clock(String),
    /// The apply that asked is ending: nothing more is done.
    #[error("the apply is ending")]
    Ending,
}

impl From<russh::Error> for Error {
    fn from(e: russh::Error) -> Self {
        Error::Protocol {
            detail: e.to_string(),
        }
    }
}

/// Everything needed to reach one host.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub address: String,
    pub port: u16,
    pub user: String,
    pub identity: std::path::PathBuf,
    pub host_key: String,
    /// Commands run here; created on first use.
    pub workdir: String,
    /// A host in a network namespace: connected to from inside it.
    pub netns: Option<String>,
}

/// A TCP connection to `addr` made from inside network namespace `ns`
/// (a socket stays in the namespace it was made in).
pub fn connect_in(
    ns: &str,
    addr: std::net::SocketAddr,
    timeout: Duration,
) -> std::io::Result<std::net::TcpStream> {
    crate::os::in_netns(&crate::os::netns_path(ns), move || {
        std::net::TcpStream::connect_timeout(&addr, timeout)
    })
}

/// OpenSSH's `ProxyCommand` for a host in namespace `ns`: a connection to
/// `addr` made from inside it, fed from `input`, its answers to `output`,
/// until either side closes.
pub fn proxy(
    ns: &str,
    addr: std::net::SocketAddr,
    mut input: impl std::io::Read + Send + 'static,
    mut output: impl std::io::Write,
) -> std::io::Result<()> {
    use std::io::{Read as _, Write as _};
    let stream = connect_in(ns, addr, CONNECT_TIMEOUT)?;
    let mut up = stream.try_clone()?;
    let mut down = stream;
    std::thread::spawn(move || {
        let mut buf = [0u8; 32 * 1024];
        while let Ok(n) = input.read(&mut buf) {
            if n == 0 || up.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = up.shutdown(std::net::Shutdown::Write);
    });
    let mut buf = [0u8; 32 * 1024];
    while let Ok(n) = down.read(&mut buf) {
        if n == 0 || output.write_all(&buf[..n]).is_err() || output.flush().is_err() {
            break;
        }
    }
    Ok(())
}

/// The TCP connection to a target: from inside its network namespace when
/// it has one (this process's own namespace is not changed).
async fn open(target: &Target) -> std::io::Result<tokio::net::TcpStream> {
    let Some(ns) = &target.netns else {
        return tokio::net::TcpStream::connect((target.address.as_str(), target.port)).await;
    };
    let ip: std::net::IpAddr = target
        .address
        .parse()
        .map_err(|_| std::io::Error::other(format!("`{}` is not an address", target.address)))?;
    let addr = std::net::SocketAddr::new(ip, target.port);
    let ns = ns.clone();
    let std = tokio::task::spawn_blocking(move || connect_in(&ns, addr, CONNECT_TIMEOUT))
        .await
        .map_err(std::io::Error::other)??;
    std.set_nonblocking(true)?;
    tokio::net::TcpStream::from_std(std)
}

struct Client {
    expected: PublicKey,
    /// The fingerprint the server showed, when it was not the pinned one.
    mismatch: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let shown = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key,
            PublicKeyOrCertificate::Certificate(_) => {
                *self.mismatch.lock().expect("lock") = Some("a certificate".into());
                return Ok(false);
            }
        };
        // `PublicKey ==` also compares comments: compare the key material.
        if shown.key_data() == self.expected.key_data() {
            return Ok(true);
        }
        *self.mismatch.lock().expect("lock") = Some(shown.fingerprint(HashAlg::Sha256).to_string());
        Ok(false)
    }
}

pub struct Session {
    handle: Handle<Client>,
    pub target: Target,
    /// The host refused the `sftp` subsystem: uploads go through the shell.
    no_sftp: std::sync::atomic::AtomicBool,
}

/// How long a remote command may run, and which limit that is, so that a
/// command that overran names it (a step's `timeout`, a fetch's limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub after: Duration,
    /// `the step's \`timeout\``, `runner's limit on fetching one file`.
    pub name: &'static str,
}

impl Limit {
    pub const fn new(after: Duration, name: &'static str) -> Limit {
        Limit { after, name }
    }
}

/// How a remote command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Exit(u32),
    Signal(String),
    TimedOut(Limit),
    /// The connection closed without an exit status.
    Lost,
}

impl Outcome {
    pub fn success(&self) -> bool {
        *self == Outcome::Exit(0)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The command runs under the login shell, which reports a
            // child killed by a signal as 128 + its number.
            Outcome::Exit(c @ 129..=192) => {
                let name = match c - 128 {
                    1 => " (SIGHUP)",
                    2 => " (SIGINT)",
                    6 => " (SIGABRT)",
                    9 => " (SIGKILL)",
                    11 => " (SIGSEGV)",
                    13 => " (SIGPIPE)",
                    15 => " (SIGTERM)",
                    _ => "",
                };
                // A program may exit with such a status itself: "likely".
                write!(
                    f,
                    "exit status {c} (128 + {}: likely killed by signal {}{name})",
                    c - 128,
                    c - 128
                )
            }
            Outcome::Exit(c) => write!(f, "exit status {c}"),
            Outcome::Signal(s) => write!(f, "killed by signal {s}"),
            Outcome::TimedOut(limit) => write!(
                f,
                "timed out after {}s ({})",
                limit.after.as_secs_f64(),
                limit.name
            ),
            Outcome::Lost => write!(f, "connection lost before the command finished"),
        }
    }
}

/// The word a node's command carries in its command line on the host
/// (`: runner-node-<hex>-`), found by `stop_tagged`: hex, so that no tag
/// needs quoting in a pattern; the closing `-` so that no tag's marker is
/// the start of another's.
fn node_marker(tag: &str) -> String {
    let hex = hex::encode(tag);
    format!("runner-node-{hex}-")
}

/// A local write of a command's output failed.
fn local(e: std::io::Error) -> Error {
    Error::LocalWrite(Arc::new(e))
}

use crate::shell::quote;

/// Captures the host key a server shows, without logging in.
struct KeyCatcher(Arc<Mutex<Option<String>>>);

impl client::Handler for KeyCatcher {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        if let PublicKeyOrCertificate::PublicKey { key, .. } = key {
            let mut k = key.clone();
            k.set_comment("");
            *self.0.lock().expect("lock") = k.to_openssh().ok();
        }
        Ok(false)
    }
}

/// The host key of the SSH server at `address:port` (`ssh-ed25519 AAAA…`),
/// for hosts whose key is accepted on first connect and pinned after.
pub async fn server_key(address: &str, port: u16) -> Result<String, Error> {
    let seen = Arc::new(Mutex::new(None));
    let config = Arc::new(client::Config {
        nodelay: true,
        ..Default::default()
    });
    let r = tokio::time::timeout(
        CONNECT_TIMEOUT,
        client::connect(config, (address, port), KeyCatcher(seen.clone())),
    )
    .await;
    if let Some(k) = seen.lock().expect("lock").take() {
        return Ok(k);
    }
    let detail = match r {
        Err(_) => format!("no answer within {CONNECT_TIMEOUT:?}"),
        Ok(Err(e)) => e.to_string(),
        Ok(Ok(_)) => "the server showed no public key".into(),
    };
    Err(Error::KeyUnlearnt {
        address: address.to_string(),
        port,
        detail,
    })
}

/// `SHA256:…` of an OpenSSH public key line.
pub fn fingerprint(key: &str) -> String {
    PublicKey::from_openssh(key).map_or_else(
        |_| "(unreadable key)".into(),
        |k| k.fingerprint(HashAlg::Sha256).to_string(),
    )
}

/// The algorithms runner asks for, cheapest first among safe ones:
/// AES-GCM (AEAD, in hardware on most CPUs: cheaper than ChaCha20-Poly1305
/// on both ends), no compression (test data is often incompressible, and
/// compressing costs both ends CPU). The key exchange is post-quantum
/// hybrid first where the server has it, except on loopback (local hosts,
/// where nothing crosses a network): there the cheapest, curve25519.
fn preferred(address: &str) -> russh::Preferred {
    use russh::{cipher, compression, kex};
    use std::borrow::Cow;
    const CIPHERS: &[cipher::Name] = &[
        cipher::AES_128_GCM,
        cipher::AES_256_GCM,
        cipher::CHACHA20_POLY1305,
        cipher::AES_256_CTR,
        cipher::AES_128_CTR,
    ];
    const LOOPBACK_KEX: &[kex::Name] = &[
        kex::CURVE25519,
        kex::CURVE25519_PRE_RFC_8731,
        kex::MLKEM768X25519_SHA256,
        kex::DH_GEX_SHA256,
        kex::DH_G16_SHA512,
        kex::DH_G14_SHA256,
        kex::EXTENSION_SUPPORT_AS_CLIENT,
        kex::EXTENSION_OPENSSH_STRICT_KEX_AS_CLIENT,
    ];
    let loopback = address
        .parse::<std::net::IpAddr>()
        .is_ok_and(|a| a.is_loopback())
        || address == "localhost";
    let default = russh::Preferred::default();
    russh::Preferred {
        kex: if loopback {
            Cow::Borrowed(LOOPBACK_KEX)
        } else {
            default.kex
        },
        cipher: Cow::Borrowed(CIPHERS),
        compression: Cow::Borrowed(&[compression::NONE]),
        ..default
    }
}

pub async fn connect(target: Target) -> Result<Session, Error> {
    if target.host_key.is_empty() {
        return Err(Error::KeyNotKnown {
            host: target.host.clone(),
        });
    }
    let expected = PublicKey::from_openssh(&target.host_key).map_err(|e| Error::BadHostKey {
        host: target.host.clone(),
        detail: e.to_string(),
    })?;
    let key =
        russh::keys::load_secret_key(&target.identity, None).map_err(|e| Error::Identity {
            identity: target.identity.clone(),
            detail: e.to_string(),
        })?;
    let key = Arc::new(key);
    let config = Arc::new(client::Config {
        nodelay: true,
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(15)),
        preferred: preferred(&target.address),
        ..Default::default()
    });
    let mut delay = Duration::from_millis(100);
    let mut last = String::new();
    for attempt in 1..=CONNECT_ATTEMPTS {
        match try_connect(&target, &config, &expected).await {
            Ok(handle) => return login(handle, target, key).await,
            Err(Attempt::Fatal(e)) => return Err(e),
            Err(Attempt::Again(why)) => last = why,
        }
        if attempt < CONNECT_ATTEMPTS {
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }
    Err(Error::Unreachable {
        user: target.user,
        address: target.address,
        port: target.port,
        attempts: CONNECT_ATTEMPTS,
        last,
    })
}

/// A connection attempt that failed: for good (a changed host key), or
/// worth another try.
enum Attempt {
    Fatal(Error),
    Again(String),
}

/// One TCP connect and key exchange, the host key checked against the pin.
async fn try_connect(
    target: &Target,
    config: &Arc<client::Config>,
    expected: &PublicKey,
) -> Result<Handle<Client>, Attempt> {
    let mismatch = Arc::new(Mutex::new(None));
    let client = Client {
        expected: expected.clone(),
        mismatch: mismatch.clone(),
    };
    let connected = tokio::time::timeout(CONNECT_TIMEOUT, async {
        let stream = open(target).await?;
        client::connect_stream(config.clone(), stream, client).await
    })
    .await;
    match connected {
        Ok(Ok(handle)) => Ok(handle),
        Ok(Err(e)) => match mismatch.lock().expect("lock").take() {
            Some(shown) => Err(Attempt::Fatal(Error::HostKeyChanged {
                host: target.host.clone(),
                address: target.address.clone(),
                port: target.port,
                pinned: expected.fingerprint(HashAlg::Sha256).to_string(),
                shown,
            })),
            None => Err(Attempt::Again(e.to_string())),
        },
        Err(_) => Err(Attempt::Again(format!(
            "no answer within {CONNECT_TIMEOUT:?}"
        ))),
    }
}

/// Logs in with the key; a refused key is an error naming it.
async fn login(
    mut handle: Handle<Client>,
    target: Target,
    key: Arc<russh::keys::PrivateKey>,
) -> Result<Session, Error> {
    let auth = handle
        .authenticate_publickey(&target.user, PrivateKeyWithHashAlg::new(key, None))
        .await
        .map_err(|e| Error::Auth {
            user: target.user.clone(),
            detail: e.to_string(),
        })?;
    if !auth.success() {
        return Err(Error::KeyRefused {
            user: target.user.clone(),
            address: target.address.clone(),
            port: target.port,
            identity: target.identity.clone(),
        });
    }
    Ok(Session {
        handle,
        target,
        no_sftp: Default::default(),
    })
}

impl Session {
    /// Runs `command` in the host's working directory; stdout and stderr
    /// go to the given writers. stdin is closed at once.
    pub async fn exec<O, E>(
        &self,
        command: &str,
        input: Option<&[u8]>,
        limit: Limit,
        tag: &str,
        stdout: &mut O,
        stderr: &mut E,
    ) -> Result<Outcome, Error>
    where
        O: tokio::io::AsyncWrite + Unpin,
        E: tokio::io::AsyncWrite + Unpin,
    {
        let (full, input) = self.wrapped(command, input, tag);
        let backstop = limit.after;
        let mut channel = self.open_channel().await?;
        let run = async {
            channel.exec(true, full.as_bytes()).await?;
            if let Some(bytes) = input {
                channel.data(bytes).await?;
            }
            channel.eof().await?;
            let mut outcome = Outcome::Lost;
            while let Some(msg) = channel.wait().await {
                match msg {
                    ChannelMsg::Data { data } => stdout.write_all(&data).await.map_err(local)?,
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        stderr.write_all(&data).await.map_err(local)?
                    }
                    ChannelMsg::ExitStatus { exit_status } => outcome = Outcome::Exit(exit_status),
                    ChannelMsg::ExitSignal { signal_name, .. } => {
                        outcome = Outcome::Signal(format!("{signal_name:?}"))
                    }
                    _ => {}
                }
            }
            Ok::<_, Error>(outcome)
        };
        let result = tokio::time::timeout(backstop, run).await;
        // A log that could not be written whole (a full disk) fails the step.
        let flushed = match (stdout.flush().await, stderr.flush().await) {
            (Err(e), _) | (_, Err(e)) => Err(local(e)),
            _ => Ok(()),
        };
        let result = match (result, flushed) {
            (Ok(Err(e)), _) => Ok(Err(e)),
            (r, Ok(())) => r,
            (_, Err(e)) => Ok(Err(e)),
        };
        match result {
            Ok(r) => r,
            Err(_) => {
                // Overran: stop it and its children on the host, then say so.
                let _ = tokio::time::timeout(Duration::from_secs(15), self.stop_tagged(tag)).await;
                let _ = channel.close().await;
                Ok(Outcome::TimedOut(limit))
            }
        }
    }

    /// The line sshd runs for `command`, and what goes on its stdin.
    ///
    /// The command runs in the shell sshd starts (the login shell, as
    /// `$SHELL -c` would run it): no process but that shell is started
    /// before it (`[ -d ]` is a builtin, `eval` runs the command in the same
    /// process), because every extra process costs the host CPU on every
    /// command (see `BENCHMARKS.md`). An overrun is stopped on the host by
    /// the tag every process of the command inherits (`stop_tagged`), then
    /// reported. The shell's own environment (/proc/PID/environ) is the one
    /// sshd gave it, without the tag, and so is that of the subshells it
    /// forks (a loop, a pipeline's stages): those carry the node's marker in
    /// their command line instead (`node_marker`). One line, so that the
    /// shell's line numbers in an error are the command's own.
    ///
    /// A long command goes on stdin, not in the exec request: a host's
    /// shell takes one argument of at most 128 KiB (MAX_ARG_STRLEN), and an
    /// SSH request one packet. `$(cat)` reads it whole; the command then
    /// sees stdin at its end, as it would otherwise.
    fn wrapped<'a>(
        &self,
        command: &'a str,
        input: Option<&'a [u8]>,
        tag: &str,
    ) -> (String, Option<&'a [u8]>) {
        let w = quote(&self.target.workdir);
        let t = quote(tag);
        let m = node_marker(tag);
        let (eval, input) = if command.len() > INLINE_COMMAND && input.is_none() {
            ("eval \"$(cat)\"".to_string(), Some(command.as_bytes()))
        } else {
            (format!("eval {}", quote(command)), input)
        };
        let full = format!(
            "RUNNER_NODE={t}; export RUNNER_NODE; : {m}; \
             {{ [ -d {w} ] || mkdir -p {w}; }} && cd {w} || exit 97; {eval}"
        );
        (full, input)
    }

    /// Writes `bytes` to `dest` (relative to the working directory), over
    /// SFTP where the host has it (no process started on the host), else
    /// through its shell.
    pub async fn upload<W: tokio::io::AsyncWrite + Unpin>(
        &self,
        bytes: &[u8],
        dest: &str,
        limit: Limit,
        tag: &str,
        stdout: &mut W,
        stderr: &mut W,
    ) -> Result<Outcome, Error> {
        // Write beside the destination under a name of this node's own, then
        // rename: a reader never sees half a file, and hosts that share a
        // file system (one machine listed twice, an NFS home) never write
        // into each other's temp file.
        let tmp = format!("{dest}.runner-{tag}.tmp");
        // One deadline for the SFTP try and the shell's retry.
        let deadline = tokio::time::Instant::now() + limit.after;
        if !self.no_sftp.load(std::sync::atomic::Ordering::Relaxed) {
            let on_host = |p: &str| {
                if p.starts_with('/') || self.target.workdir.is_empty() {
                    p.to_string()
                } else {
                    format!("{}/{p}", self.target.workdir.trim_end_matches('/'))
                }
            };
            let channel = self.open_channel().await?;
            let (dest_path, tmp_path) = (on_host(dest), on_host(&tmp));
            match crate::sftp::upload(channel, bytes, &dest_path, &tmp_path, deadline).await {
                Err(crate::sftp::Sftp::TimedOut) => return Ok(Outcome::TimedOut(limit)),
                Ok(()) => return Ok(Outcome::Exit(0)),
                // SFTP servers say little of why (OpenSSH: "Failure" for a
                // full disk): the shell's try below says it in the OS's words.
                Err(crate::sftp::Sftp::Failed(e)) => {
                    let note = format!(
                        "runner: the upload over SFTP failed ({e}); trying through the shell\n"
                    );
                    let _ = stderr.write_all(note.as_bytes()).await;
                }
                Err(crate::sftp::Sftp::Unavailable) => self
                    .no_sftp
                    .store(true, std::sync::atomic::Ordering::Relaxed),
            }
        }
        let d = quote(dest);
        let tmp = quote(&tmp);
        // The folder is made only when missing (`[ -d ]` is a builtin): two
        // processes per upload (cat, mv), not four.
        let parent = std::path::Path::new(dest)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| ".".to_string());
        let p = quote(&parent);
        let cmd = format!(
            "{{ [ -d {p} ] || mkdir -p {p}; }} && {{ cat > {tmp} && mv -f {tmp} {d}; }} || {{ rc=$?; rm -f {tmp}; exit $rc; }}"
        );
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return Ok(Outcome::TimedOut(limit));
        }
        let outcome = self
            .exec(
                &cmd,
                Some(bytes),
                Limit {
                    after: left,
                    ..limit
                },
                tag,
                stdout,
                stderr,
            )
            .await?;
        Ok(match outcome {
            Outcome::TimedOut(_) => Outcome::TimedOut(limit),
            o => o,
        })
    }

    /// Stops every process on the host that carries `tag` (the commands of
    /// an abandoned node and their children): TERM, then KILL after 2 s.
    pub async fn stop_tagged(&self, tag: &str) -> Result<(), Error> {
        // The shell sshd started and its forked subshells by the marker in
        // their command line; the `[h]` keeps the grep from finding itself.
        let m = node_marker(tag);
        let found = format!(
            "grep -lz '[{}]{}' /proc/[0-9]*/cmdline 2>/dev/null | sed 's,^/proc/,,;s,/cmdline$,,'",
            &m[..1],
            &m[1..]
        );
        self.stop_found("RUNNER_NODE", tag, &found).await
    }

    /// Stops every process on the host whose environment has `var=value`
    /// (a trial's monitors and armed tests carry `RUNNER_TRIAL=<id>`).
    pub async fn stop_env(&self, var: &str, value: &str) -> Result<(), Error> {
        self.stop_found(var, value, "true").await
    }

    /// Stops the processes whose environment has `var=value` and those the
    /// shell command `also` lists: TERM, then KILL after 2 s.
    async fn stop_found(&self, var: &str, value: &str, also: &str) -> Result<(), Error> {
        let t = quote(&format!("{var}={value}"));
        let script = format!(
            "pids() {{ {{ grep -lxzF {t} /proc/[0-9]*/environ 2>/dev/null | sed 's,^/proc/,,;s,/environ$,,'; {also}; }} | grep -vx \"$$\"; }}; \
             p=$(pids); [ -z \"$p\" ] && exit 0; \
             kill -TERM $p 2>/dev/null; sleep 2; p=$(pids); [ -n \"$p\" ] && kill -KILL $p 2>/dev/null; exit 0"
        );
        let mut ch = self.open_channel().await?;
        ch.exec(true, script.as_bytes()).await?;
        ch.eof().await?;
        while ch.wait().await.is_some() {}
        Ok(())
    }

    /// sshd allows a limited number of sessions per connection: retry briefly.
    async fn open_channel(&self) -> Result<russh::Channel<client::Msg>, Error> {
        let mut delay = Duration::from_millis(50);
        for _ in 0..5 {
            match self.handle.channel_open_session().await {
                Ok(ch) => return Ok(ch),
                Err(russh::Error::ChannelOpenFailure(_)) => {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => {
                    return Err(Error::Session {
                        detail: e.to_string(),
                    });
                }
            }
        }
        Err(Error::Session {
            detail: "the server refused 5 times".into(),
        })
    }

    /// NTP-style clock samples over one channel: (local send, host clock,
    /// local receive), seconds since the epoch. The host answers each line
    /// with its clock from an already running shell (bash's `EPOCHREALTIME`,
    /// no fork; else `date`), so a sample costs one round trip.
    pub async fn clock_samples(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<(f64, f64, f64)>, Error> {
        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64())
        };
        let mut ch = self.open_channel().await?;
        let cmd = "if command -v bash >/dev/null 2>&1; then exec bash -c 'while read -r _; do echo \"$EPOCHREALTIME\"; done'; fi\n\
                   while read -r _; do date +%s.%N; done";
        ch.exec(true, cmd).await?;
        let mut buf: Vec<u8> = Vec::new();
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let t0 = now();
            ch.data(&b"x\n"[..]).await?;
            let line = loop {
                if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=pos).collect();
                    break String::from_utf8_lossy(&line).trim().replace(',', ".");
                }
                match tokio::time::timeout(timeout, ch.wait()).await {
                    Ok(Some(ChannelMsg::Data { data })) => buf.extend_from_slice(&data),
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        return Err(Error::Clock("the host closed the clock channel".into()));
                    }
                    Err(_) => {
                        return Err(Error::Clock(format!("no clock reading within {timeout:?}")));
                    }
                }
            };
            let t1 = now();
            let remote: f64 = line
                .parse()
                .map_err(|_| Error::Clock(format!("unexpected clock reading `{line}`")))?;
            samples.push((t0, remote, t1));
        }
        let _ = ch.eof().await;
        let _ = ch.close().await;
        Ok(samples)
    }

    pub async fn close(&self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}
