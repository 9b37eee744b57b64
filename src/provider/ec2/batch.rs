//! Requests that arrive within a short window go out as one call: the
//! hosts of a group launched by one RunInstances, every instance of a
//! destroy terminated by one TerminateInstances.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use super::Fut;

type Flush<T, R> = Box<dyn FnOnce(Vec<T>) -> Fut<'static, Vec<R>> + Send>;

pub struct Batch<T, R> {
    queue: Mutex<Vec<(T, oneshot::Sender<R>)>>,
    /// A batch goes out once no request came for this long…
    window: Duration,
}

/// …or once it has waited this long.
const MAX_WAIT: Duration = Duration::from_secs(2);

impl<T: Send + 'static, R: Send + 'static> Batch<T, R> {
    pub fn new(window: Duration) -> Arc<Self> {
        Arc::new(Batch {
            queue: Mutex::new(Vec::new()),
            window,
        })
    }

    /// Queues `item`; the first item starts a timer: once the queue has not
    /// grown for `window` (or after [`MAX_WAIT`]), `flush` gets every queued
    /// item and answers each, in order. Later items' `flush` is not used.
    pub async fn submit(self: &Arc<Self>, item: T, flush: Flush<T, R>) -> Option<R> {
        let (tx, rx) = oneshot::channel();
        let first = {
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            q.push((item, tx));
            q.len() == 1
        };
        if first {
            let me = self.clone();
            tokio::spawn(async move {
                let start = tokio::time::Instant::now();
                let mut seen = 0;
                loop {
                    tokio::time::sleep(me.window).await;
                    let now = me.queue.lock().unwrap_or_else(|e| e.into_inner()).len();
                    if now == seen || start.elapsed() >= MAX_WAIT {
                        break;
                    }
                    seen = now;
                }
                let taken =
                    std::mem::take(&mut *me.queue.lock().unwrap_or_else(|e| e.into_inner()));
                let (items, answers): (Vec<T>, Vec<oneshot::Sender<R>>) = taken.into_iter().unzip();
                let results = flush(items).await;
                for (tx, r) in answers.into_iter().zip(results) {
                    let _ = tx.send(r);
                }
            });
        }
        rx.await.ok()
    }
}
