//! The writer's side of the state: every change goes to the journal at
//! once (one `write`, so it survives kill -9 of runner), is fsynced in
//! batches (`sync`, and always before a host is created), and is compacted
//! into the state file by `finish` and by the next writer's `open`.
//!
//! A write that fails is returned to the caller, which must stop: the error
//! names the file and the OS error.

use std::io::Write as _;
use std::path::Path;

use super::error::{Error, Result};
use super::{Op, Paths, State, atomic};

/// Replays the journal at `path` onto `state`. A torn last line (a write cut
/// by a crash) is ignored; any other bad line is an error naming it.
pub fn replay(path: &Path, state: &mut State) -> Result<()> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("read", path)(e)),
    };
    let complete = text.ends_with(b"\n");
    let lines: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_slice::<Op>(line) {
            Ok(op) => state.apply(&op),
            Err(_) if i + 1 == lines.len() && !complete => {}
            Err(e) => {
                return Err(Error::JournalCorrupt {
                    path: path.to_path_buf(),
                    line: i + 1,
                    detail: e.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// The state of a plan held by a writer (under the plan's lock).
pub struct Store {
    paths: Paths,
    journal: Option<std::fs::File>,
    /// Journal lines written but not yet fsynced.
    unsynced: bool,
    pub state: State,
    /// Changes are applied in memory only (the state on disk is unreadable
    /// and left as it is).
    detached: bool,
}

impl Store {
    /// Loads the state, compacts a journal left by an earlier run and
    /// removes temp files a killed writer left. Call with the lock held.
    pub fn open(paths: &Paths) -> Result<Store> {
        atomic::clean_temps(&paths.state());
        atomic::clean_temps(&paths.saved_plan());
        let state = State::load(paths)?;
        let mut store = Store {
            paths: paths.clone(),
            journal: None,
            unsynced: false,
            state,
            detached: false,
        };
        if paths.journal().exists() {
            store.compact()?;
        }
        Ok(store)
    }

    /// The state as it is on disk, without compacting (which failed):
    /// records are still attempted, and fail if the disk does.
    pub fn read_only(paths: &Paths) -> Result<Store> {
        Ok(Store {
            paths: paths.clone(),
            journal: None,
            unsynced: false,
            state: State::load(paths)?,
            detached: false,
        })
    }

    /// A state in memory only, for a destroy that cannot read the state
    /// (or its journal): nothing is written, the files stay for the user
    /// to look at.
    pub fn detached_with(paths: &Paths, state: State) -> Store {
        Store {
            paths: paths.clone(),
            journal: None,
            unsynced: false,
            state,
            detached: true,
        }
    }

    /// Applies `op` to the state and appends it to the journal.
    pub fn record(&mut self, op: Op) -> Result<()> {
        if self.detached {
            self.state.apply(&op);
            return Ok(());
        }
        let mut line = serde_json::to_vec(&op).expect("a state change serializes");
        line.push(b'\n');
        let path = self.paths.journal();
        let fail = |e: std::io::Error| Error::io("write the state journal", &path)(e);
        if self.journal.is_none() {
            std::fs::create_dir_all(&self.paths.root)
                .map_err(Error::io("create", &self.paths.root))?;
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(fail)?;
            atomic::sync_dir(&self.paths.root).map_err(fail)?;
            self.journal = Some(f);
        }
        let f = self.journal.as_mut().expect("opened above");
        let before = f.metadata().map(|m| m.len()).ok();
        if let Err(e) = f.write_all(&line) {
            // Cut a partial line back off, so that a later line (once there
            // is room again) is not glued to it mid-journal.
            if let Some(len) = before {
                let _ = f.set_len(len);
            }
            return Err(fail(e));
        }
        // Only what is in the journal is in the state.
        self.state.apply(&op);
        self.unsynced = true;
        Ok(())
    }

    /// Makes what was recorded durable (fsync), if anything is pending.
    pub fn sync(&mut self) -> Result<()> {
        if !self.unsynced {
            return Ok(());
        }
        if let Some(f) = &self.journal {
            f.sync_data()
                .map_err(Error::io("write the state journal", self.paths.journal()))?;
        }
        self.unsynced = false;
        Ok(())
    }

    /// Writes the state file (the previous one kept as `.bak`) and empties
    /// the journal. A crash at any point leaves state + journal consistent:
    /// replaying a change already in the state file changes nothing.
    pub fn finish(&mut self) -> Result<()> {
        if self.detached {
            return Ok(());
        }
        let nothing_new = self.journal.is_none() && !self.paths.journal().exists();
        if nothing_new && self.paths.state().exists() {
            return Ok(());
        }
        // Also when there is no state file yet: after a writer command there
        // is one (an empty state after `destroy` is a state, not a loss).
        self.compact()
    }

    fn compact(&mut self) -> Result<()> {
        self.sync()?;
        self.state.serial += 1;
        let bytes = serde_json::to_vec_pretty(&self.state).expect("a state serializes");
        let state_path = self.paths.state();
        if state_path.exists() {
            // A failed backup is not worth stopping for; the state itself is.
            let _ = std::fs::copy(&state_path, self.paths.backup());
        }
        atomic::write_atomic(&state_path, &bytes)?;
        self.journal = None;
        match std::fs::remove_file(self.paths.journal()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::io(
                    "remove the compacted journal",
                    self.paths.journal(),
                )(e));
            }
        }
        let _ = atomic::sync_dir(&self.paths.root);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StepState;

    fn step(id: &str) -> Op {
        Op::Step {
            id: id.into(),
            step: StepState {
                hash: "h".into(),
                host: "a[0]".into(),
                instance: "i".into(),
                step: None,
            },
        }
    }

    #[test]
    fn journal_survives_without_finish_and_compacts_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path(), "p");
        let mut s = Store::open(&paths).unwrap();
        s.record(step("step x a[0]")).unwrap();
        s.record(step("step y a[0]")).unwrap();
        s.record(Op::StepGone {
            id: "step x a[0]".into(),
        })
        .unwrap();
        drop(s); // as if killed: no finish
        let loaded = State::load(&paths).unwrap();
        assert_eq!(loaded.steps.keys().collect::<Vec<_>>(), ["step y a[0]"]);
        // A torn last line is ignored.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(paths.journal())
            .unwrap();
        f.write_all(b"{\"op\":\"step\",\"id\":").unwrap();
        let s = Store::open(&paths).unwrap();
        assert_eq!(s.state.steps.len(), 1);
        assert!(!paths.journal().exists(), "open compacts the journal");
        assert_eq!(
            State::load(&paths).unwrap().fingerprint(),
            s.state.fingerprint()
        );
    }

    #[test]
    fn a_bad_line_in_the_middle_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path(), "p");
        std::fs::create_dir_all(&paths.root).unwrap();
        std::fs::write(
            paths.journal(),
            "garbage\n{\"op\":\"step_gone\",\"id\":\"x\"}\n",
        )
        .unwrap();
        let e = State::load(&paths).unwrap_err().to_string();
        assert!(
            e.contains("p.journal:1: the state journal is corrupt"),
            "{e}"
        );
    }
}
