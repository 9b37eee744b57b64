//! The on-disk layout, and only that: where a plan's state, journal, lock,
//! saved plan, keys, host folders and logs live under `.runner/`; where its
//! trials live under `trials/<plan>/`; where a trial's files live on a
//! host; and how a host or a trial is named as a file. Nothing here reads
//! or writes a file.

use std::path::{Path, PathBuf};

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

    /// The plan's files under `.runner/` in the working directory.
    pub fn here(plan_name: &str) -> Self {
        Paths::new(Path::new("."), plan_name)
    }

    pub fn state(&self) -> PathBuf {
        self.root.join(format!("{}.state.json", self.name))
    }
    pub fn journal(&self) -> PathBuf {
        self.root.join(format!("{}.journal", self.name))
    }
    pub fn backup(&self) -> PathBuf {
        self.root.join(format!("{}.state.json.bak", self.name))
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
    /// A local host's folder (config, keys, pid file, working directory).
    pub fn host_dir(&self, host: &str) -> PathBuf {
        self.hosts_dir().join(host_file_name(host))
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.dir().join("logs")
    }
    /// A host's step logs.
    pub fn host_logs(&self, host: &str) -> PathBuf {
        self.logs_dir().join(host_file_name(host))
    }
    /// The plan's client key for local hosts, generated once per plan.
    pub fn client_key(&self) -> PathBuf {
        self.dir().join("id_ed25519")
    }
    /// The plan's trials: `trials/<plan>/`, relative to the working directory.
    pub fn trials(&self) -> PathBuf {
        trials_dir(&self.name)
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

/// The folder a project's own table templates are read from
/// (`analysis/markdown.md.j2`, …), relative to the working directory.
pub const TABLE_TEMPLATES: &str = "analysis";

/// A plan's trials folder, `trials/<plan>`, relative to the working directory.
pub fn trials_dir(plan: &str) -> PathBuf {
    Path::new("trials").join(plan)
}

/// Whether `id` can name a trial folder: a plain name, never a path.
pub fn is_trial_id(id: &str) -> bool {
    !id.is_empty() && !id.contains(['/', '\\']) && !id.starts_with('.')
}

/// A host's folder of a trial (relative to its working directory); one per
/// host, so that hosts sharing a working directory (one machine listed
/// twice, an NFS home) never share a file.
pub fn host_trial_dir(trial: &str, host: &str) -> String {
    format!("runner-trials/{trial}/{}", host_file_name(host))
}

/// The folder where a test or monitor writes its output on its host: `{{ out }}`.
pub fn out_dir(trial: &str, host: &str, name: &str) -> String {
    format!("{}/{name}", host_trial_dir(trial, host))
}
