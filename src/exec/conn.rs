//! One SSH connection per host, made on first use and shared by every node
//! that runs there.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::{Mutex, OnceCell};

use crate::ssh::{self, Session};
use crate::state::{HostState, HostStatus};

type Cell = Arc<OnceCell<Result<Arc<Session>, ssh::Error>>>;

/// Connections being made to one address and port at once. sshd drops
/// unauthenticated connections past its `MaxStartups` (10:30:100 by
/// default: some from the 11th on); a machine listed as many hosts would
/// see one per host at once. Hosts at different addresses are not held.
const STARTING_PER_ENDPOINT: usize = 8;

#[derive(Default)]
pub struct Pool {
    cells: Mutex<HashMap<String, Cell>>,
    starting: std::sync::Mutex<HashMap<(String, u16), Arc<tokio::sync::Semaphore>>>,
    /// Where a host key learnt on first connect is recorded (pinned).
    pin: Option<tokio::sync::mpsc::UnboundedSender<super::Msg>>,
}

impl Pool {
    /// A pool that pins the key of a host whose key is not known yet (a
    /// cloud host nothing has logged into) on first connect, in the state.
    pub fn pinning(msgs: tokio::sync::mpsc::UnboundedSender<super::Msg>) -> Self {
        Pool {
            pin: Some(msgs),
            ..Pool::default()
        }
    }

    pub async fn get(&self, host: &str, h: &HostState) -> Result<Arc<Session>, ssh::Error> {
        let cell = self
            .cells
            .lock()
            .await
            .entry(host.to_string())
            .or_default()
            .clone();
        let mut target = target(host, h);
        let pin = self.pin.clone().filter(|_| h.host_key.is_empty());
        let h = h.clone();
        let gate = self
            .starting
            .lock()
            .expect("lock")
            .entry((h.address.clone(), h.port))
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(STARTING_PER_ENDPOINT)))
            .clone();
        cell.get_or_init(|| async move {
            let _starting = gate.acquire().await.map_err(|_| ssh::Error::Ending)?;
            if let Some(msgs) = pin {
                let key = ssh::server_key(&target.address, target.port).await?;
                let mut pinned = h;
                pinned.host_key = key.clone();
                let (tx, rx) = tokio::sync::oneshot::channel();
                let op = crate::state::Op::Host {
                    name: target.host.clone(),
                    host: pinned,
                };
                msgs.send(super::Msg::Record(Box::new(op), tx))
                    .map_err(|_| ssh::Error::Ending)?;
                rx.await
                    .map_err(|_| ssh::Error::Ending)?
                    .map_err(|_| ssh::Error::Ending)?;
                let _ = msgs.send(super::Msg::Line(format!(
                    "host `{}`: host key {} accepted on first connect and pinned",
                    target.host,
                    ssh::fingerprint(&key)
                )));
                target.host_key = key;
            }
            ssh::connect(target).await.map(Arc::new)
        })
        .await
        .clone()
    }

    /// Connections to `wanted`, all at once; every host that cannot be
    /// reached is named.
    pub async fn sessions(
        self: &Arc<Self>,
        wanted: &[String],
        hosts: &BTreeMap<String, HostState>,
    ) -> Result<BTreeMap<String, Arc<Session>>, String> {
        let mut set = tokio::task::JoinSet::new();
        for host in wanted {
            let h = hosts
                .get(host)
                .filter(|h| h.status == HostStatus::Ready)
                .cloned()
                .ok_or_else(|| format!("host `{host}` is not provisioned"))?;
            let (host, pool) = (host.clone(), self.clone());
            set.spawn(async move {
                let r = pool.get(&host, &h).await;
                (host, r)
            });
        }
        let mut out = BTreeMap::new();
        let mut errors = Vec::new();
        while let Some(Ok((host, r))) = set.join_next().await {
            match r {
                Ok(s) => {
                    out.insert(host, s);
                }
                Err(e) => errors.push(format!("{host}: {e}")),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors.join("; "))
        }
    }

    /// The open connection to `host`, if one was made.
    pub async fn open(&self, host: &str) -> Option<Arc<Session>> {
        let cell = self.cells.lock().await.get(host).cloned()?;
        cell.get().and_then(|r| r.as_ref().ok().cloned())
    }

    /// Forgets a host's connection (the host is being recreated).
    pub async fn forget(&self, host: &str) {
        self.cells.lock().await.remove(host);
    }

    pub async fn close_all(&self) {
        for cell in self.cells.lock().await.values() {
            if let Some(Ok(session)) = cell.get() {
                session.close().await;
            }
        }
    }
}

/// How to reach a host the state records.
pub fn target(host: &str, h: &crate::state::HostState) -> ssh::Target {
    ssh::Target {
        host: host.to_string(),
        address: h.address.clone(),
        port: h.port,
        user: h.user.clone(),
        identity: h.identity.clone(),
        host_key: h.host_key.clone(),
        workdir: h.workdir.clone(),
        netns: h.network().map(|n| n.netns.clone()),
    }
}
