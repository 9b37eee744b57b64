//! One SSH connection per host, made on first use and shared by every node
//! that runs there.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{Mutex, OnceCell};

use crate::ssh::{self, Session};
use crate::state::HostState;

type Cell = Arc<OnceCell<Result<Arc<Session>, String>>>;

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

    pub async fn get(&self, host: &str, h: &HostState) -> Result<Arc<Session>, String> {
        let cell = self
            .cells
            .lock()
            .await
            .entry(host.to_string())
            .or_default()
            .clone();
        let mut target = ssh::Target::of(host, h);
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
            let _starting = gate.acquire().await.map_err(|e| e.to_string())?;
            if let Some(msgs) = pin {
                let key = ssh::server_key(&target.address, target.port)
                    .await
                    .map_err(|e| {
                        format!(
                            "cannot reach {}:{} to learn its host key: {e}",
                            target.address, target.port
                        )
                    })?;
                let mut pinned = h;
                pinned.host_key = key.clone();
                let (tx, rx) = tokio::sync::oneshot::channel();
                let op = crate::state::Op::Host {
                    name: target.host.clone(),
                    host: pinned,
                };
                msgs.send(super::Msg::Record(Box::new(op), tx))
                    .map_err(|_| "the apply is ending".to_string())?;
                rx.await.map_err(|_| "the apply is ending".to_string())??;
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
