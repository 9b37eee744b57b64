//! What can go wrong with a plan's state: a file that cannot be read or
//! written (a full disk, a permission), a state or journal that does not
//! parse, a lock another runner holds. Each names the file; the help says
//! what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing one of the state's files failed.
    #[error("cannot {doing} {}: {source}", path.display())]
    Io {
        /// `write`, `write the state journal`, `read`…
        doing: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: the state file is corrupt: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },
    /// Written by a newer runner: reading it would drop what it added.
    #[error(
        "{}: written by a newer runner (state version {found}; this runner {} reads up to {reads})",
        path.display(),
        env!("CARGO_PKG_VERSION")
    )]
    Newer {
        path: PathBuf,
        found: u32,
        reads: u32,
    },
    /// A file beside the state (`trial.json`, a saved plan) that a newer
    /// runner wrote.
    #[error(
        "{}: {what} written by a newer runner (schema {found}; this runner {} reads up to {reads})",
        crate::paths::shown(path),
        env!("CARGO_PKG_VERSION")
    )]
    NewerFile {
        what: &'static str,
        path: PathBuf,
        found: u32,
        reads: u32,
    },
    #[error("{}:{line}: the state journal is corrupt: {detail}", path.display())]
    JournalCorrupt {
        path: PathBuf,
        line: usize,
        detail: String,
    },
    /// Another runner holds the plan's lock.
    #[error("{holder} is using this plan; {} is locked, so nothing was {doing}", path.display())]
    Locked {
        path: PathBuf,
        holder: String,
        doing: String,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(
        doing: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            doing,
            path,
            source,
        }
    }

    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            Error::Io { .. } => None,
            Error::Corrupt { path, .. } => {
                let shown = crate::paths::shown(path);
                let mut backup = path.clone().into_os_string();
                backup.push(".bak");
                Some(if std::path::Path::new(&backup).exists() {
                    format!("restore it from its backup: cp {shown}.bak {shown}")
                } else {
                    "it has no backup: move it aside; `runner destroy` stops the plan's local hosts and tagged instances without it"
                        .to_string()
                })
            }
            Error::Newer { .. } | Error::NewerFile { .. } => Some(
                "use the runner that wrote it (or a newer one); nothing was changed".into(),
            ),
            Error::JournalCorrupt { .. } => Some(
                "move the journal aside and run `runner plan` to see what the state file alone records"
                    .into(),
            ),
            Error::Locked { .. } => Some(
                "wait for it to finish, or stop it (Ctrl-C) and run this command again".into(),
            ),
        }
    }

    /// Whether the state could not be read at all (as opposed to written).
    pub fn is_unreadable(&self) -> bool {
        matches!(
            self,
            Error::Corrupt { .. } | Error::JournalCorrupt { .. } | Error::Io { doing: "read", .. }
        )
    }
}
