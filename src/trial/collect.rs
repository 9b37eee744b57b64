//! Files from a host into the trial folder, streamed (a file of any size
//! in bounded memory) and hashed on the way. Nothing may land outside the
//! host's own folder of the trial: paths are checked component by
//! component, and a symlink is followed only when it points inside what is
//! being collected.

use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWrite;

use super::remote;
use crate::ssh::{Outcome, Session};

const FETCH_TIMEOUT: Duration = Duration::from_secs(3600);
const LIST_TIMEOUT: Duration = Duration::from_secs(300);

/// What one host's collection brought and refused.
#[derive(Debug, Default)]
pub struct Fetched {
    pub files: Vec<PathBuf>,
    pub bytes: u64,
    /// Refused or failed, each a sentence naming host and path.
    pub errors: Vec<String>,
}

/// Fetches the files under `base` (relative to the host's working
/// directory) that `keep` accepts into `dest`, keeping their relative paths.
pub async fn fetch(
    session: &Session,
    host: &str,
    base: &str,
    skip_trials: bool,
    keep: &(dyn Fn(&Path) -> bool + Sync),
    dest: &Path,
) -> Fetched {
    let mut out = Fetched::default();
    remove_temps(dest);
    let listing = match list(session, base, skip_trials).await {
        Ok(text) => text,
        Err(e) => {
            out.errors.push(format!("{host}: cannot list {base}: {e}"));
            return out;
        }
    };
    let mut physical_base = String::new();
    for line in listing.lines() {
        let (rel, link) = match line.split('\t').collect::<Vec<_>>().as_slice() {
            ["B", b] => {
                physical_base = b.to_string();
                continue;
            }
            ["F", p] => (*p, None),
            ["L", p, resolved, raw] => (*p, Some((*resolved, *raw))),
            _ => {
                out.errors.push(format!(
                    "{host}: a file name runner cannot collect safely: {}",
                    crate::style::escape_controls(line)
                ));
                continue;
            }
        };
        let rel = Path::new(rel.strip_prefix("./").unwrap_or(rel));
        if !is_plain_relative(rel) {
            out.errors.push(format!(
                "{host}: `{}` would escape the trial folder: not collected",
                rel.display()
            ));
            continue;
        }
        if !keep(rel) {
            continue;
        }
        let from = if base == "." {
            rel.display().to_string()
        } else {
            format!("{base}/{}", rel.display())
        };
        if let Some((resolved, raw)) = link
            && let Some(why) = outside(&physical_base, resolved, raw)
        {
            let shown = if Path::new(base).is_absolute() {
                rel.display().to_string()
            } else {
                from.clone()
            };
            let folder = if physical_base.is_empty() {
                base
            } else {
                &physical_base
            };
            out.errors.push(format!(
                "{host}: `{shown}` is a symlink {why}, outside {folder} (or that folder itself): not collected"
            ));
            continue;
        }
        match fetch_file(session, &from, &dest.join(rel)).await {
            Ok(n) => {
                out.bytes += n;
                out.files.push(dest.join(rel));
            }
            Err(e) => out
                .errors
                .push(format!("{host}: {base}/{}: {e}", rel.display())),
        }
    }
    out
}

/// The host's listing of `base` (see `remote::list_files`).
async fn list(session: &Session, base: &str, skip_trials: bool) -> Result<String, String> {
    let mut listing: Vec<u8> = Vec::new();
    let mut err: Vec<u8> = Vec::new();
    let script = remote::list_files(base, skip_trials);
    let ran = session
        .exec(
            &script,
            None,
            crate::ssh::Limit::new(LIST_TIMEOUT, "runner's limit on listing a host's files"),
            "collect",
            &mut listing,
            &mut err,
        )
        .await
        .map_err(|e| e.to_string())?;
    if !ran.success() {
        return Err(format!("{ran}: {}", String::from_utf8_lossy(&err).trim()));
    }
    Ok(String::from_utf8_lossy(&listing).into_owned())
}

/// Why a symlink must not be followed, if it must not: it resolves
/// outside the folder being collected, to that folder itself, or nowhere
/// (dangling, a loop).
fn outside(physical_base: &str, resolved: &str, raw: &str) -> Option<String> {
    let shown_raw = crate::style::escape_controls(raw);
    if resolved.is_empty() {
        return Some(format!(
            "to `{shown_raw}` that does not resolve (dangling, or a loop)"
        ));
    }
    let inside = !physical_base.is_empty()
        && Path::new(resolved).starts_with(physical_base)
        && Path::new(resolved) != Path::new(physical_base);
    (!inside).then(|| format!("to {}", crate::style::escape_controls(resolved)))
}

/// Temp files of a fetch that was cut short (runner killed): never part of
/// the trial.
const TEMP_PREFIX: &str = ".collect.";

fn remove_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => remove_temps(&p),
            Ok(_) if e.file_name().to_string_lossy().starts_with(TEMP_PREFIX) => {
                let _ = std::fs::remove_file(&p);
            }
            _ => {}
        }
    }
}

/// A tag of its own for each remote command (stopped by it if it overruns).
fn tag() -> String {
    format!("collect-{}", crate::os::unique_id())
}

/// Only normal components: no `..`, no root, no `.` tricks.
fn is_plain_relative(p: &Path) -> bool {
    p.components().count() > 0 && p.components().all(|c| matches!(c, Component::Normal(_)))
}

/// Streams one remote file to `to` (written beside it, then renamed).
async fn fetch_file(session: &Session, remote_path: &str, to: &Path) -> Result<u64, String> {
    let dir = to.parent().ok_or("no parent")?;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    let file = tokio::fs::File::from_std(tmp.reopen().map_err(|e| e.to_string())?);
    let mut sink = Counting { file, bytes: 0 };
    let mut err: Vec<u8> = Vec::new();
    let cmd = format!("cat -- {}", crate::shell::quote(remote_path));
    let outcome = session
        .exec(
            &cmd,
            None,
            crate::ssh::Limit::new(FETCH_TIMEOUT, "runner's limit on fetching one file"),
            &tag(),
            &mut sink,
            &mut err,
        )
        .await
        .map_err(|e| format!("into {}: {e}", to.display()))?;
    if outcome != Outcome::Exit(0) {
        return Err(format!(
            "{outcome}: {}",
            crate::style::escape_controls(String::from_utf8_lossy(&err).trim())
        ));
    }
    tmp.persist(to)
        .map_err(|e| format!("cannot write {}: {}", to.display(), e.error))?;
    Ok(sink.bytes)
}

/// A file writer that counts what it wrote.
struct Counting {
    file: tokio::fs::File,
    bytes: u64,
}

impl AsyncWrite for Counting {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.file).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &poll {
            self.bytes += *n as u64;
        }
        poll
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.file).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.file).poll_shutdown(cx)
    }
}

/// `manifest`: `sha256  path` (as `sha256sum` writes it) for every file of
/// the trial folder but the manifest itself and `analysis/`, sorted.
pub fn write_manifest(dir: &Path) -> crate::error::Result<usize> {
    // Collects run in parallel: one scan-and-write at a time, so that the
    // last manifest written is the one of the last scan.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs_err::read_dir(&d)?.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap_or(&p).to_path_buf();
            if rel == Path::new("manifest") || rel == Path::new("analysis") {
                continue;
            }
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(_) if e.file_name().to_string_lossy().starts_with(TEMP_PREFIX) => {}
                Ok(t) if t.is_file() => files.push(rel),
                _ => {}
            }
        }
    }
    files.sort();
    let mut text = String::new();
    for rel in &files {
        let mut h = Sha256::new();
        let mut f = fs_err::File::open(dir.join(rel))?;
        std::io::copy(&mut f, &mut h)?;
        text.push_str(&format!(
            "{}  {}\n",
            hex::encode(h.finalize()),
            rel.display()
        ));
    }
    crate::state::write_atomic(&dir.join("manifest"), text.as_bytes())?;
    Ok(files.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths() {
        assert!(is_plain_relative(Path::new("a/b.csv")));
        assert!(!is_plain_relative(Path::new("../x")));
        assert!(!is_plain_relative(Path::new("a/../../x")));
        assert!(!is_plain_relative(Path::new("/etc/passwd")));
        assert!(!is_plain_relative(Path::new("")));
    }
}
