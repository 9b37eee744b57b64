//! What each provider records of a host (`Place`): one variant per
//! provider kind, each with what that kind needs to find, reach and remove
//! the host. With `kinds`, the one file outside `provider/` that names the
//! kinds: the state reads and writes hosts without the providers.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{HostState, HostStatus};
use crate::kinds::Provider;

/// What each provider records of a host: one variant per provider kind,
/// each with what that kind needs to find, reach and remove the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// An sshd on this machine: its folder under `.runner/<plan>/hosts/`,
    /// its pid once started, and its network namespace when it has one.
    Local {
        dir: PathBuf,
        pid: Option<u32>,
        network: Option<NetHost>,
    },
    /// A host that exists without runner.
    Static,
    /// An EC2 instance.
    Ec2(Box<Ec2Instance>),
}

impl Place {
    /// The provider that records a host so.
    pub fn kind(&self) -> Provider {
        match self {
            Place::Local { .. } => Provider::Local,
            Place::Static => Provider::Static,
            Place::Ec2(_) => Provider::Ec2,
        }
    }
}

impl HostState {
    /// The provider that made the host.
    pub fn provider(&self) -> Provider {
        self.place.kind()
    }

    /// A local host's folder on this machine.
    pub fn dir(&self) -> Option<&Path> {
        match &self.place {
            Place::Local { dir, .. } => Some(dir),
            Place::Static | Place::Ec2(_) => None,
        }
    }

    /// A local host's sshd.
    pub fn pid(&self) -> Option<u32> {
        match &self.place {
            Place::Local { pid, .. } => *pid,
            Place::Static | Place::Ec2(_) => None,
        }
    }

    /// A local host's network namespace.
    pub fn network(&self) -> Option<&NetHost> {
        match &self.place {
            Place::Local { network, .. } => network.as_ref(),
            Place::Static | Place::Ec2(_) => None,
        }
    }

    /// A cloud host's instance.
    pub fn ec2(&self) -> Option<&Ec2Instance> {
        match &self.place {
            Place::Ec2(e) => Some(e),
            Place::Local { .. } | Place::Static => None,
        }
    }

    pub fn ec2_mut(&mut self) -> Option<&mut Ec2Instance> {
        match &mut self.place {
            Place::Ec2(e) => Some(e),
            Place::Local { .. } | Place::Static => None,
        }
    }

    /// A field of a ready host that templates name before apply knows it
    /// (`address`, `private_address`).
    pub fn field(&self, field: &str) -> Option<String> {
        if self.status != HostStatus::Ready {
            return None;
        }
        match field {
            "private_address" => self.ec2().map(|e| e.private_address.clone()),
            _ => Some(self.address.clone()),
        }
    }

    /// A cloud instance's id, once known.
    pub fn cloud_id(&self) -> Option<&str> {
        self.ec2().and_then(|e| e.id.as_deref())
    }
}

/// A host as the state file writes it: the place's fields beside the
/// others, as every version of the file has them (states written before
/// providers were recorded lack `provider`: local if the host has a folder
/// here, static otherwise).
#[derive(Serialize, Deserialize)]
pub(super) struct HostRecord {
    hash: String,
    status: HostStatus,
    instance: String,
    address: String,
    port: u16,
    user: String,
    identity: PathBuf,
    host_key: String,
    workdir: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    provider: Option<Provider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dir: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ec2: Option<Box<Ec2Instance>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    network: Option<NetHost>,
}

impl From<HostRecord> for HostState {
    fn from(r: HostRecord) -> Self {
        let kind = r.provider.unwrap_or(match (&r.ec2, &r.dir) {
            (Some(_), _) => Provider::Ec2,
            (None, Some(_)) => Provider::Local,
            (None, None) => Provider::Static,
        });
        let place = match (kind, r.ec2) {
            (Provider::Local, _) => Place::Local {
                dir: r.dir.unwrap_or_default(),
                pid: r.pid,
                network: r.network,
            },
            (Provider::Static, _) => Place::Static,
            (Provider::Ec2, Some(e)) => Place::Ec2(e),
            // An instance whose record was lost: nothing to find it by.
            (Provider::Ec2, None) => Place::Static,
        };
        HostState {
            hash: r.hash,
            status: r.status,
            instance: r.instance,
            address: r.address,
            port: r.port,
            user: r.user,
            identity: r.identity,
            host_key: r.host_key,
            workdir: r.workdir,
            place,
        }
    }
}

impl From<HostState> for HostRecord {
    fn from(h: HostState) -> Self {
        let provider = Some(h.provider());
        let (dir, pid, network, ec2) = match h.place {
            Place::Local { dir, pid, network } => (Some(dir), pid, network, None),
            Place::Static => (None, None, None, None),
            Place::Ec2(e) => (None, None, None, Some(e)),
        };
        HostRecord {
            hash: h.hash,
            status: h.status,
            instance: h.instance,
            address: h.address,
            port: h.port,
            user: h.user,
            identity: h.identity,
            host_key: h.host_key,
            workdir: h.workdir,
            provider,
            dir,
            pid,
            ec2,
            network,
        }
    }
}

/// A local host in a network namespace: its namespace (runner reaches its
/// sshd from inside it) and the plan's hub (links are probed from there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetHost {
    pub netns: String,
    pub hub: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ec2Instance {
    /// Absent while the launch is under way (recorded as soon as known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub instance_type: String,
    /// `on-demand` or `spot`.
    pub market: String,
    /// When the instance is due to be destroyed (RFC 3339, its
    /// `runner:expires` tag).
    pub expires: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub private_address: String,
    /// The launch that made it (its `runner:launch` tag).
    #[serde(default)]
    pub launch: String,
}
