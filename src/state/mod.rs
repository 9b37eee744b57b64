//! What `apply` has done, saved in `.runner/<plan>.state.json`: each host as
//! provisioned, and each step with the hash it ran with. Written atomically
//! (temp file + rename) after every node, so a crash loses at most the nodes
//! that were running.

pub mod lock;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    /// Bumped on every write.
    pub serial: u64,
    pub plan: String,
    pub hosts: BTreeMap<String, HostState>,
    /// Step nodes by id (`step NAME HOST`).
    pub steps: BTreeMap<String, StepState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostStatus {
    /// Written before the provider starts creating it: a crash leaves a
    /// record of what may exist, so nothing is duplicated or leaked.
    Creating,
    Ready,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostState {
    pub hash: String,
    pub status: HostStatus,
    /// Changes whenever the host is (re)created; steps record it.
    pub instance: String,
    pub address: String,
    pub port: u16,
    pub user: String,
    pub identity: PathBuf,
    /// Pinned host key, `ssh-ed25519 AAAA…`.
    pub host_key: String,
    /// Working directory on the host; commands run there.
    pub workdir: String,
    /// Local provider: the host's directory and sshd pid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepState {
    pub hash: String,
    pub host: String,
    /// The host instance the step ran on.
    pub instance: String,
}

/// Where one plan's files live under `.runner/`.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub name: String,
}

impl Paths {
    pub fn new(workdir: &Path, plan_name: &str) -> Self {
        // Absolute: sshd changes directory when it daemonizes.
        let workdir = std::path::absolute(workdir).unwrap_or_else(|_| workdir.to_path_buf());
        Paths {
            root: workdir.join(".runner"),
            name: plan_name.to_string(),
        }
    }
    pub fn state(&self) -> PathBuf {
        self.root.join(format!("{}.state.json", self.name))
    }
    pub fn saved_plan(&self) -> PathBuf {
        self.root.join(format!("{}.plan", self.name))
    }
    pub fn lock(&self) -> PathBuf {
        self.root.join(format!("{}.lock", self.name))
    }
    /// Keys, host directories and logs of this plan.
    pub fn dir(&self) -> PathBuf {
        self.root.join(&self.name)
    }
    pub fn hosts_dir(&self) -> PathBuf {
        self.dir().join("hosts")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.dir().join("logs")
    }
}

/// A path as shown to the user: relative to the working directory when under it.
pub fn shown(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// A host name as a file name: `client[0]` → `client-0`.
pub fn host_file_name(host: &str) -> String {
    host.replace('[', "-").replace(']', "")
}

impl State {
    pub fn empty(plan: &str) -> Self {
        State {
            version: 1,
            serial: 0,
            plan: plan.to_string(),
            ..Default::default()
        }
    }

    /// Loads the state, or an empty one if there is none yet.
    pub fn load(path: &Path, plan: &str) -> Result<Self> {
        match fs_err::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::msg(format!(
                    "{}: the state file is corrupt: {e}",
                    path.display()
                ))
                .help("restore it from a backup (`.bak` beside it holds the previous version)")
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::empty(plan)),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes atomically: a temp file in the same directory, fsync, rename.
    /// The previous version is kept as `.bak`.
    pub fn save(&mut self, path: &Path) -> Result<()> {
        self.serial += 1;
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::msg(e.to_string()))?;
        if path.exists() {
            let _ = fs_err::copy(path, path.with_extension("json.bak"));
        }
        write_atomic(path, &bytes)
    }
}

/// Writes `bytes` to `path` so that readers see the old or the new content, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent)?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut f = fs_err::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs_err::rename(&tmp, path)?;
    Ok(())
}

/// sha256 of a file's bytes, or `absent`.
pub fn file_fingerprint(path: &Path) -> String {
    match fs_err::read(path) {
        Ok(bytes) => crate::hash::sha256_hex(&bytes),
        Err(_) => "absent".to_string(),
    }
}
