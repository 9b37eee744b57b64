//! One SSH connection per host, made on first use and shared by every node
//! that runs there.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{Mutex, OnceCell};

use crate::ssh::{self, Session};
use crate::state::HostState;

type Cell = Arc<OnceCell<Result<Arc<Session>, String>>>;

#[derive(Default)]
pub struct Pool {
    cells: Mutex<HashMap<String, Cell>>,
}

impl Pool {
    pub async fn get(&self, host: &str, h: &HostState) -> Result<Arc<Session>, String> {
        let cell = self
            .cells
            .lock()
            .await
            .entry(host.to_string())
            .or_default()
            .clone();
        let target = ssh::Target::of(host, h);
        cell.get_or_init(|| async move { ssh::connect(target).await.map(Arc::new) })
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
