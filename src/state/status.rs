//! A trial's status: one type from the state to `trial.json`,
//! `series.json` and the reports. `trial.json` and `series.json` write it
//! in lower case (`complete`); so does the state, which before this type
//! wrote `Armed`/`Unfetched`/`Finished` and two flags (read still).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrialStatus {
    /// `trial.json` written; nothing started on a host yet.
    #[default]
    Starting,
    /// The tests' start times are being sent to the hosts.
    Arming,
    /// Its tests are armed (on the hosts, running or about to): an apply
    /// that dies from here on finishes the trial instead of starting the
    /// tests again.
    Armed,
    /// Over on the hosts, but some output could not be stored here (a
    /// full disk): the next apply fetches it again.
    Unfetched,
    /// Every test succeeded on every host, every output stored.
    Complete,
    /// A test failed, timed out or left no result on some host.
    Partial,
    /// Its monitors did not start: no test ran.
    Failed,
    /// It could not be finished (its hosts were gone or unreachable), or
    /// its tests never were armed.
    Abandoned,
}

impl TrialStatus {
    pub fn name(self) -> &'static str {
        match self {
            TrialStatus::Starting => "starting",
            TrialStatus::Arming => "arming",
            TrialStatus::Armed => "armed",
            TrialStatus::Unfetched => "unfetched",
            TrialStatus::Complete => "complete",
            TrialStatus::Partial => "partial",
            TrialStatus::Failed => "failed",
            TrialStatus::Abandoned => "abandoned",
        }
    }

    /// Not over for runner: the next apply finishes it (waits, stops,
    /// fetches).
    pub fn unfinished(self) -> bool {
        matches!(self, TrialStatus::Armed | TrialStatus::Unfetched)
    }

    /// Its tests ran and its results are here: its tables mean something.
    pub fn has_results(self) -> bool {
        matches!(self, TrialStatus::Complete | TrialStatus::Partial)
    }

    /// Over without running its tests: a series runs that repetition again.
    pub fn did_not_run(self) -> bool {
        matches!(self, TrialStatus::Failed | TrialStatus::Abandoned)
    }
}

impl std::fmt::Display for TrialStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A status as states before this type wrote it: `Armed`, `Unfetched` or
/// `Finished`, with the flags that said how it finished; or as now.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Written {
    Now(TrialStatus),
    Before(Before),
}

#[derive(Deserialize)]
pub(super) enum Before {
    Armed,
    Unfetched,
    Finished,
}

impl Written {
    /// The status, given the flags that older states wrote beside it.
    pub(super) fn status(self, abandoned: bool, partial: bool) -> TrialStatus {
        match self {
            Written::Now(s) => s,
            Written::Before(Before::Armed) => TrialStatus::Armed,
            Written::Before(Before::Unfetched) => TrialStatus::Unfetched,
            Written::Before(Before::Finished) if abandoned => TrialStatus::Abandoned,
            Written::Before(Before::Finished) if partial => TrialStatus::Partial,
            Written::Before(Before::Finished) => TrialStatus::Complete,
        }
    }
}
