//! runner's side of the plan's delay line: a link given to it (the line
//! started if it is not running) and waited for until it is served, a link
//! taken from it, whether a link is served (refresh asks).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Spec;
use crate::plan::model::Link;

/// What went wrong giving a link to the delay line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LineError(String);

type Result<T> = std::result::Result<T, LineError>;

/// How long a link may take to be served (the line's start included).
const SERVED_WITHIN: Duration = Duration::from_secs(10);

/// The plan's delay line folder (`.runner/<plan>/delay-lines`), absolute:
/// the line runs with it as its argument.
pub fn lines_dir(plan_dir: &Path) -> PathBuf {
    std::path::absolute(plan_dir.join("delay-lines"))
        .unwrap_or_else(|_| plan_dir.join("delay-lines"))
}

/// Link `a` ⇄ `b` (interfaces of hub namespace `hub`) delayed as `link`
/// says, by the delay line of `lines`; returns once it is served.
pub fn serve(hub: &str, lines: &Path, (a, b): (&str, &str), link: &Link) -> Result<()> {
    let io = |e: std::io::Error| LineError(format!("{}: {e}", lines.display()));
    std::fs::create_dir_all(lines).map_err(io)?;
    let spec = Spec {
        a: a.to_string(),
        b: b.to_string(),
        delay: Duration::from_micros(link.delay_us.unwrap_or(0)),
        jitter: Duration::from_micros(link.jitter_us.unwrap_or(0)),
        nonce: crate::os::unique_id(),
    };
    let tmp = lines.join(format!(".{a}"));
    std::fs::write(&tmp, spec.text())
        .and_then(|()| std::fs::rename(&tmp, lines.join(a)))
        .map_err(io)?;
    let deadline = Instant::now() + SERVED_WITHIN;
    loop {
        ensure_running(hub, lines)?;
        match std::fs::read_to_string(lines.join("up").join(a)) {
            Ok(said) if said.trim() == spec.nonce => return Ok(()),
            Ok(said) if said.starts_with(&format!("{} error: ", spec.nonce)) => {
                return Err(LineError(format!(
                    "the delay line cannot serve link {a} ⇄ {b}: {}",
                    &said[spec.nonce.len() + 8..]
                )));
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            return Err(LineError(format!(
                "the delay line did not take up link {a} ⇄ {b} within {}s",
                SERVED_WITHIN.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Link `a` no longer served (its file removed; the line closes it).
pub fn unserve(lines: &Path, a: &str) {
    let _ = std::fs::remove_file(lines.join(a));
}

/// What is wrong with link `a`'s delay line, if anything: not running, or
/// not serving the link its file names.
pub fn broken(hub: &str, lines: &Path, a: &str) -> Option<String> {
    if pid(hub, lines).is_none() {
        return Some("its link's delay line is not running".into());
    }
    let want = std::fs::read_to_string(lines.join(a))
        .ok()
        .and_then(|t| Spec::parse(&t));
    let Some(want) = want else {
        return Some("its link is missing from the delay line".into());
    };
    match std::fs::read_to_string(lines.join("up").join(a)) {
        Ok(said) if said.trim() == want.nonce => None,
        Ok(said) if said.starts_with(&want.nonce) => Some(format!(
            "its link's delay line {}",
            said[want.nonce.len()..].trim()
        )),
        _ => Some("its link is not served by the delay line".into()),
    }
}

/// The plan's delay line, if it runs.
pub fn pid(hub: &str, lines: &Path) -> Option<u32> {
    recorded(&lines.join("pid"), Some(hub))
}

/// The delay line whose pid `file` records, if it still runs (its command
/// line names the hub).
pub fn recorded(file: &Path, hub: Option<&str>) -> Option<u32> {
    let pid = named(file, hub)?;
    // In the hub as it is now: a hub deleted and made again is another
    // namespace of the same name, whose interfaces a line left in the old
    // one cannot see.
    hub.is_none_or(|h| same_namespace(pid, h)).then_some(pid)
}

/// The delay line whose pid `file` records, if it runs and its command
/// line names the hub — wherever it runs.
pub fn named(file: &Path, hub: Option<&str>) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(file).ok()?.trim().parse().ok()?;
    let cmd = crate::os::cmdline(pid)?;
    (cmd.contains(" delay-line ")
        && hub.is_none_or(|h| cmd.contains(h))
        && crate::os::is_alive(pid))
    .then_some(pid)
}

/// Whether process `pid` is in network namespace `hub` (the same nsfs inode).
fn same_namespace(pid: u32, hub: &str) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let ns = |p: &Path| std::fs::metadata(p).map(|m| (m.dev(), m.ino())).ok();
    let theirs = ns(Path::new(&format!("/proc/{pid}/ns/net")));
    theirs.is_some() && theirs == ns(&crate::os::netns_path(hub))
}

/// Starts the plan's delay line unless it runs: detached, its pid in
/// `lines/pid`. One at a time within this process (hosts are made in
/// parallel); the plan's lock keeps other runners out.
fn ensure_running(hub: &str, lines: &Path) -> Result<()> {
    static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = STARTING.lock().unwrap_or_else(|e| e.into_inner());
    if pid(hub, lines).is_some() {
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| LineError(e.to_string()))?;
    // A process group of its own: a terminal's Ctrl-C (SIGINT to runner's
    // group) leaves it serving the armed trial's links.
    use std::os::unix::process::CommandExt as _;
    let child = Command::new(exe)
        .process_group(0)
        .arg("delay-line")
        .arg(hub)
        .arg(lines)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| LineError(format!("cannot start the delay line: {e}")))?;
    std::fs::write(lines.join("pid"), child.id().to_string())
        .map_err(|e| LineError(format!("{}: {e}", lines.display())))?;
    // Running once it is in the hub (what `pid` checks): until then a
    // second caller would start a second line.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !same_namespace(child.id(), hub) {
        if !crate::os::is_alive(child.id()) || Instant::now() >= deadline {
            return Err(LineError(format!(
                "the delay line (pid {}) did not enter the hub namespace {hub}",
                child.id()
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}
