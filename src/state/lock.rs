//! One apply or destroy at a time per plan: `.runner/<plan>.lock` holds the
//! owner's pid. A lock whose owner is dead is taken over, and we say so.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    /// Takes the lock, or explains who holds it. `note` receives the
    /// message about a stale lock taken over.
    pub fn acquire(path: &Path, note: &mut dyn FnMut(String)) -> Result<Lock> {
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut f) => {
                    writeln!(f, "{}", std::process::id())?;
                    return Ok(Lock {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = fs_err::read_to_string(path).unwrap_or_default();
                    let owner: Option<u32> = text.trim().parse().ok();
                    match owner {
                        Some(pid) if crate::process::is_alive(pid) => {
                            return Err(Error::msg(format!(
                                "another runner (pid {pid}) is applying this plan: {} is held",
                                path.display()
                            ))
                            .help("wait for it to finish; if that process is not runner, remove the lock file"));
                        }
                        _ => {
                            note(format!(
                                "note: taking over lock {} left by pid {} which is no longer running",
                                path.display(),
                                owner.map_or("?".to_string(), |p| p.to_string())
                            ));
                            let _ = fs_err::remove_file(path);
                        }
                    }
                }
                Err(e) => return Err(Error::msg(format!("{}: {e}", path.display()))),
            }
        }
        Err(Error::msg(format!(
            "could not take lock {}",
            path.display()
        )))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
