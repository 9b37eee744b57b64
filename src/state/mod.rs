//! What `apply` has done, saved in `.runner/<plan>.state.json`: each host as
//! provisioned, and each step with the hash it ran with.
//!
//! During a command every change is appended to `.runner/<plan>.journal` as
//! it happens (written at once, so it survives kill -9; fsynced in batches),
//! and the journal is compacted into the state file (atomic write) at the
//! end and by the next writer. Writing is linear in the number of nodes.

pub mod atomic;
pub mod error;
pub mod id;
pub mod journal;
pub mod lock;
mod place;
pub mod refresh;
mod status;

pub use atomic::write_atomic;
pub use journal::Store;
pub use place::{Ec2Instance, NetHost, Place};
pub use status::TrialStatus;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::paths::{Paths, shown};

use serde::{Deserialize, Serialize};

pub use error::{Error, Result};

/// The state file's version: what this runner writes and the newest it
/// reads (older ones are read as they were written). 2: trial statuses in
/// lower case (`complete`) instead of `Finished` and flags; typed node
/// identities beside the keys.
pub const STATE_VERSION: u32 = 2;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    /// Bumped on every write.
    pub serial: u64,
    pub plan: String,
    pub hosts: BTreeMap<String, HostState>,
    /// Step nodes by id (`step NAME HOST`).
    pub steps: BTreeMap<String, StepState>,
    /// The latest trial: armed (running on the hosts) or finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial: Option<TrialRecord>,
    /// Test, collect and analyze nodes by id (`collect files`), each with
    /// the trial it was done for.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub nodes: BTreeMap<String, NodeRecord>,
    /// What the `ec2` provider made for the plan as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2: Option<Ec2Shared>,
    /// The latest series, and which of its trials are done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<SeriesRecord>,
}

/// A series: its id (`series-20261205T120000Z`, its folder under
/// `trials/<plan>/`), the seed of its order, and its trials done, by slot
/// (the trial node's id).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeriesRecord {
    pub id: String,
    pub seed: u64,
    #[serde(default)]
    pub trials: BTreeMap<String, SlotRecord>,
}

/// A series' trial that is over: complete (done), or run again when it
/// is partial (a test failed on some host; its folder stays), failed or
/// abandoned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "SlotWritten")]
pub struct SlotRecord {
    pub trial: String,
    /// What it ran: a slot whose hash changed since starts a new series.
    pub hash: String,
    pub status: TrialStatus,
}

/// A slot record as any version wrote it (before: flags, no status).
#[derive(Deserialize)]
struct SlotWritten {
    trial: String,
    hash: String,
    #[serde(default)]
    status: Option<TrialStatus>,
    #[serde(default)]
    abandoned: bool,
    #[serde(default)]
    partial: bool,
}

impl From<SlotWritten> for SlotRecord {
    fn from(w: SlotWritten) -> Self {
        let status = w.status.unwrap_or(match (w.abandoned, w.partial) {
            (true, _) => TrialStatus::Abandoned,
            (false, true) => TrialStatus::Partial,
            (false, false) => TrialStatus::Complete,
        });
        SlotRecord {
            trial: w.trial,
            hash: w.hash,
            status,
        }
    }
}

/// The account, region and shared resources of an `ec2` plan: enough to
/// destroy what it made whatever the plan file says now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ec2Shared {
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// A key pair runner imported (deleted by destroy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_pair: Option<String>,
    /// A security group runner created (its id; deleted by destroy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "TrialWritten")]
pub struct TrialRecord {
    /// `20261123T084118Z`: sortable by time; the folder under `trials/<plan>/`.
    pub id: String,
    /// What the trial ran (monitors, tests, their hosts' configuration).
    pub hash: String,
    pub status: TrialStatus,
    /// A series' trial: its slot (the trial node's id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
}

/// A trial record as any version wrote it.
#[derive(Deserialize)]
struct TrialWritten {
    id: String,
    hash: String,
    status: status::Written,
    #[serde(default)]
    slot: Option<String>,
    #[serde(default)]
    abandoned: bool,
    #[serde(default)]
    partial: bool,
}

impl From<TrialWritten> for TrialRecord {
    fn from(w: TrialWritten) -> Self {
        TrialRecord {
            status: w.status.status(w.abandoned, w.partial),
            id: w.id,
            hash: w.hash,
            slot: w.slot,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeRecord {
    pub hash: String,
    /// The trial the node was done for.
    pub trial: String,
    /// The node's identity (its key is its text); states written before
    /// it was recorded lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<id::NodeId>,
    /// A `[[publish]]` node: what it wrote, and where it went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Published>,
}

/// What a publish wrote: the page's content hash (the same content is not
/// published again), the run it shows, and the wiki's revision (with its
/// time: a later edit is made on top of it) or the commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub content: String,
    pub run: String,
    /// Where it went (`Perf/Nightly on https://…/api.php`): a revision is
    /// built on only where it was made.
    #[serde(default)]
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostStatus {
    /// Written before the provider starts creating it: a crash leaves a
    /// record of what may exist, so nothing is duplicated or leaked.
    Creating,
    Ready,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "place::HostRecord", into = "place::HostRecord")]
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
    /// Where the host is, as its provider knows it.
    pub place: Place,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepState {
    pub hash: String,
    pub host: String,
    /// The host instance the step ran on.
    pub instance: String,
    /// The step's name (states written before it was recorded lack it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

impl State {
    /// The id of the plan's latest run: its series (`series`: the plan
    /// has one), else its trial.
    pub fn latest_run(&self, series: bool) -> Option<&str> {
        if series {
            self.series.as_ref().map(|s| s.id.as_str())
        } else {
            self.trial.as_ref().map(|t| t.id.as_str())
        }
    }

    /// A field of a ready host (`address`, `private_address`), for the
    /// markers of addresses known after apply.
    pub fn host_field(&self, host: &str, field: &str) -> Option<String> {
        self.hosts.get(host)?.field(field)
    }

    pub fn empty(plan: &str) -> Self {
        State {
            version: STATE_VERSION,
            serial: 0,
            plan: plan.to_string(),
            ..Default::default()
        }
    }

    /// The saved state: the state file with its journal replayed, or an
    /// empty state if there is neither. Read-only: writers use [`Store`].
    pub fn load(paths: &Paths) -> Result<Self> {
        let path = paths.state();
        let mut state = match std::fs::read(&path) {
            Ok(bytes) => Self::parse(&bytes, &path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::empty(&paths.name),
            Err(e) => return Err(Error::io("read", &path)(e)),
        };
        journal::replay(&paths.journal(), &mut state)?;
        Ok(state)
    }

    /// The state file alone, its journal left out (a destroy whose journal
    /// cannot be read).
    pub fn load_file_only(paths: &Paths) -> Result<Self> {
        let path = paths.state();
        let bytes = std::fs::read(&path).map_err(Error::io("read", &path))?;
        Self::parse(&bytes, &path)
    }

    /// A state file's bytes: refused when a newer runner wrote them (this
    /// one would drop what it does not know when it writes it back), read
    /// as the current version when an older one did.
    fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        #[derive(Deserialize)]
        struct Version {
            #[serde(default)]
            version: u32,
        }
        let newer = |found: u32| Error::Newer {
            path: path.to_path_buf(),
            found,
            reads: STATE_VERSION,
        };
        let mut state: State = serde_json::from_slice(bytes).map_err(|e| {
            match serde_json::from_slice::<Version>(bytes) {
                Ok(v) if v.version > STATE_VERSION => newer(v.version),
                _ => Error::Corrupt {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                },
            }
        })?;
        if state.version > STATE_VERSION {
            return Err(newer(state.version));
        }
        state.version = STATE_VERSION;
        Ok(state)
    }

    /// Applies one recorded change.
    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::Host { name, host } => {
                self.hosts.insert(name.clone(), host.clone());
            }
            Op::HostGone { name } => {
                self.hosts.remove(name);
                self.steps.retain(|_, s| &s.host != name);
            }
            Op::Step { id, step } => {
                self.steps.insert(id.clone(), step.clone());
            }
            Op::StepGone { id } => {
                self.steps.remove(id);
            }
            Op::Trial { trial } => {
                if let (Some(slot), Some(series)) = (&trial.slot, &mut self.series)
                    && trial.status != TrialStatus::Armed
                {
                    series.trials.insert(
                        slot.clone(),
                        SlotRecord {
                            trial: trial.id.clone(),
                            hash: trial.hash.clone(),
                            status: trial.status,
                        },
                    );
                }
                self.trial = Some(trial.clone());
            }
            Op::Series { series } => self.series = Some(series.clone()),
            Op::Node { id, node } => {
                self.nodes.insert(id.clone(), node.clone());
            }
            Op::NodeGone { id } => {
                self.nodes.remove(id);
            }
            Op::Ec2 { ec2 } => self.ec2 = ec2.clone(),
            Op::Nothing => {}
        }
    }

    /// What the state says, independent of how often it was compacted:
    /// a saved plan is stale when this changed.
    pub fn fingerprint(&self) -> String {
        let mut copy = self.clone();
        copy.serial = 0;
        crate::hash::sha256_hex(&serde_json::to_vec(&copy).unwrap_or_default())
    }

    /// What of this plan exists on disk although the state file does not:
    /// a backup, or host directories. `None` when a fresh start is safe.
    pub fn leftovers(paths: &Paths) -> Option<String> {
        if paths.state().exists() || paths.journal().exists() {
            return None;
        }
        let mut found = Vec::new();
        let bak = paths.backup();
        if bak.exists() {
            found.push(format!("its backup {}", shown(&bak)));
        }
        let hosts: Vec<String> = fs_err::read_dir(paths.hosts_dir())
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        if !hosts.is_empty() {
            found.push(format!(
                "{} host directories under {}",
                hosts.len(),
                shown(&paths.hosts_dir())
            ));
        }
        (!found.is_empty()).then(|| {
            format!(
                "the state file {} is missing, but runner found {}",
                shown(&paths.state()),
                found.join(" and ")
            )
        })
    }
}

/// One change to the state, as the journal records it. Replaying a change
/// twice has the effect of replaying it once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    Host {
        name: String,
        host: HostState,
    },
    HostGone {
        name: String,
    },
    Step {
        id: String,
        step: StepState,
    },
    StepGone {
        id: String,
    },
    Trial {
        trial: TrialRecord,
    },
    Node {
        id: String,
        node: NodeRecord,
    },
    NodeGone {
        id: String,
    },
    Ec2 {
        ec2: Option<Ec2Shared>,
    },
    /// A series begins (none of its trials done yet).
    Series {
        series: SeriesRecord,
    },
    /// Done, and nothing to remember (an orphan destroyed).
    Nothing,
}

impl Op {
    /// A trial's node (a test, a collect, an analysis…) done for `trial`
    /// with `hash`.
    pub fn node(id: &id::NodeId, hash: String, trial: &str) -> Op {
        Op::Node {
            id: id.key().to_string(),
            node: NodeRecord {
                hash,
                trial: trial.to_string(),
                id: Some(id.clone()),
                published: None,
            },
        }
    }
}

/// A file runner wrote with schema `found` (`trial.json`, `series.json`,
/// a saved plan), refused when it is newer than this runner reads
/// (`reads`): reading it would lose what the newer one added.
pub fn check_schema(what: &'static str, path: &Path, found: u32, reads: u32) -> Result<()> {
    if found <= reads {
        return Ok(());
    }
    Err(Error::NewerFile {
        what,
        path: path.to_path_buf(),
        found,
        reads,
    })
}

/// sha256 of a file's bytes, or `absent`.
pub fn file_fingerprint(path: &Path) -> String {
    match fs_err::read(path) {
        Ok(bytes) => crate::hash::sha256_hex(&bytes),
        Err(_) => "absent".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state written before providers were recorded still loads, and
    /// says which provider made each host.
    #[test]
    fn older_states_load_and_name_their_provider() {
        let old = r#"{"version":1,"serial":3,"plan":"p","hosts":{
            "a[0]":{"hash":"h","status":"Ready","instance":"i","address":"127.0.0.1","port":2222,
                    "user":"root","identity":"/k","host_key":"ssh-ed25519 AAAA","workdir":"/w",
                    "dir":"/d","pid":42},
            "b[0]":{"hash":"h","status":"Ready","instance":"i","address":"10.0.0.5","port":22,
                    "user":"u","identity":"/k","host_key":"ssh-ed25519 AAAA","workdir":"runner/p"}},
            "steps":{}}"#;
        let s: State = serde_json::from_str(old).unwrap();
        assert_eq!(s.hosts["a[0]"].provider(), crate::kinds::Provider::Local);
        assert_eq!(s.hosts["b[0]"].provider(), crate::kinds::Provider::Static);
        assert!(s.ec2.is_none());
        // Written back, an EC2 host keeps its part and its provider.
        let mut h = s.hosts["b[0]"].clone();
        h.place = Place::Ec2(Box::new(Ec2Instance {
            id: Some("i-1".into()),
            region: "us-east-1".into(),
            endpoint: None,
            instance_type: "t3.micro".into(),
            market: "spot".into(),
            expires: "2026-11-24T01:00:00Z".into(),
            private_address: "10.0.0.9".into(),
            launch: "l".into(),
        }));
        let back: HostState = serde_json::from_str(&serde_json::to_string(&h).unwrap()).unwrap();
        assert_eq!(back.provider(), crate::kinds::Provider::Ec2);
        assert_eq!(back.ec2(), h.ec2());
        assert_eq!(back, h);
    }
}
