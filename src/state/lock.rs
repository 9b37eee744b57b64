//! One writer at a time per plan: `.runner/<plan>.lock` is held with a
//! kernel lock (flock) for the whole command. The kernel releases it when
//! its owner exits, even on kill -9, so there is no staleness to guess. The
//! file's text (pid, start time, command line) is only for the message to
//! whoever finds it held.

use std::fs::{File, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::Path;

use super::error::{Error, Result};

/// Held until dropped (or the process ends).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Takes the lock for `doing` (e.g. "applying"), or explains who holds it.
    pub fn acquire(path: &Path, doing: &str) -> Result<Lock> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(Error::io("create", parent))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(Error::io("open the lock file", path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut owner = String::new();
                let _ = file.read_to_string(&mut owner);
                if !names_a_live_process(&owner) {
                    // The owner took it a moment ago and is writing who it
                    // is (the text may still be its predecessor's).
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    owner.clear();
                    let _ = file.rewind();
                    let _ = file.read_to_string(&mut owner);
                }
                if !names_a_live_process(&owner) {
                    owner.clear();
                }
                let owner = owner.trim();
                let who = if owner.is_empty() {
                    "another runner".to_string()
                } else {
                    format!("another runner ({owner})")
                };
                return Err(Error::Locked {
                    path: path.to_path_buf(),
                    holder: who,
                    doing: doing.to_string(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io("lock", path)(e)),
        }
        // Who holds it, for the message above; a failed write costs only that.
        let started = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
        let cmdline = std::env::args().collect::<Vec<_>>().join(" ");
        let text = format!("pid {}, started {started}: {cmdline}\n", std::process::id());
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(text.as_bytes()));
        Ok(Lock { _file: file })
    }
}

impl Drop for Lock {
    /// Says no one holds it any more (still held while this runs), so that
    /// the next holder is not mistaken for this one.
    fn drop(&mut self) {
        let _ = self._file.set_len(0);
    }
}

/// Whether the lock file's text (`pid N, started …`) names a process that
/// is alive: a holder killed with -9 leaves its text behind.
fn names_a_live_process(text: &str) -> bool {
    text.strip_prefix("pid ")
        .and_then(|t| t.split(',').next())
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
}
