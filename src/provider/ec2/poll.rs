//! Waiting for instances: one DescribeInstances per poll for every
//! instance anyone waits on, not one per instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_ec2::types::Instance;
use tokio::sync::oneshot;

use super::Error;

const NOT_FOUND: &str = "InvalidInstanceID.NotFound";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Running,
    Terminated,
}

type Waiter = (Want, oneshot::Sender<Result<Instance, Error>>);

pub struct Poller {
    interval: Duration,
    waiting: Mutex<HashMap<String, Vec<Waiter>>>,
    /// Whether a poll loop runs.
    polling: Mutex<bool>,
}

impl Poller {
    pub fn new(interval: Duration) -> Arc<Self> {
        Arc::new(Poller {
            interval,
            waiting: Mutex::new(HashMap::new()),
            polling: Mutex::new(false),
        })
    }

    /// Until instance `id` is running (its description then) or terminated.
    pub async fn wait(
        self: &Arc<Self>,
        client: &aws_sdk_ec2::Client,
        id: &str,
        want: Want,
        timeout: Duration,
    ) -> Result<Instance, Error> {
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(id.to_string())
            .or_default()
            .push((want, tx));
        {
            let mut polling = self.polling.lock().unwrap_or_else(|e| e.into_inner());
            if !*polling {
                *polling = true;
                tokio::spawn(self.clone().run(client.clone()));
            }
        }
        let what = match want {
            Want::Running => "running",
            Want::Terminated => "terminated",
        };
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(format!("waiting for instance {id} was abandoned").into()),
            Err(_) => Err(format!(
                "instance {id} was not {what} within {}",
                humantime::format_duration(timeout)
            )
            .into()),
        }
    }

    /// Polls until nobody waits any more: one DescribeInstances (per 500
    /// ids) for everyone waiting, each waiter answered once its instance
    /// is as wanted (or cannot become so).
    async fn run(self: Arc<Self>, client: aws_sdk_ec2::Client) {
        let mut failures = 0u32;
        loop {
            tokio::time::sleep(self.interval).await;
            let Some(ids) = self.waited_for() else { return };
            match seen(&client, &ids).await {
                Ok(seen) => {
                    failures = 0;
                    self.answer(ids, &seen);
                }
                Err(e) => {
                    failures += 1;
                    if failures >= 5 {
                        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
                        for (_, w) in waiting.drain() {
                            for (_, tx) in w {
                                let _ = tx.send(Err(e.clone()));
                            }
                        }
                    }
                }
            }
        }
    }

    /// The ids someone still waits for; `None` (and polling stops) when
    /// nobody does.
    fn waited_for(&self) -> Option<Vec<String>> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        waiting.retain(|_, w| {
            w.retain(|(_, tx)| !tx.is_closed());
            !w.is_empty()
        });
        if waiting.is_empty() {
            *self.polling.lock().unwrap_or_else(|e| e.into_inner()) = false;
            return None;
        }
        Some(waiting.keys().cloned().collect())
    }

    /// Answers whoever waited for an instance that is now as wanted, or
    /// cannot become so; the others go on waiting.
    fn answer(&self, ids: Vec<String>, seen: &HashMap<String, Instance>) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        for id in ids {
            let Some(list) = waiting.remove(&id) else {
                continue;
            };
            let mut keep = Vec::new();
            for (want, tx) in list {
                match verdict(&id, want, seen.get(&id)) {
                    Some(r) => {
                        let _ = tx.send(r);
                    }
                    None => keep.push((want, tx)),
                }
            }
            if !keep.is_empty() {
                waiting.insert(id, keep);
            }
        }
    }
}

/// Whether an instance is as wanted (`Ok`), cannot become so (`Err`), or
/// may still (`None`). Unknown to EC2 counts as terminated.
fn verdict(id: &str, want: Want, seen: Option<&Instance>) -> Option<Result<Instance, Error>> {
    let state = seen
        .and_then(|i| i.state())
        .and_then(|s| s.name())
        .map(|n| n.as_str().to_string());
    match (want, state.as_deref(), seen) {
        (Want::Running, Some("running"), Some(i)) => Some(Ok(i.clone())),
        (
            Want::Running,
            Some(s @ ("shutting-down" | "terminated" | "stopping" | "stopped")),
            Some(i),
        ) => {
            let reason = i
                .state_reason()
                .and_then(|r| r.message())
                .unwrap_or("no reason given");
            Some(Err(format!(
                "instance {id} is {s} instead of running: {reason}"
            )
            .into()))
        }
        (Want::Terminated, Some("terminated"), Some(i)) => Some(Ok(i.clone())),
        (Want::Terminated, None, _) => Some(Ok(Instance::builder().instance_id(id).build())),
        _ => None,
    }
}

/// What EC2 knows of `ids`, 500 at a time. One unknown id fails a whole
/// call: then they are asked one by one, and the unknown ones are left
/// out (gone for those waiting for that, pending for the others).
async fn seen(
    client: &aws_sdk_ec2::Client,
    ids: &[String],
) -> Result<HashMap<String, Instance>, Error> {
    let mut seen: HashMap<String, Instance> = HashMap::new();
    let mut error = None;
    for chunk in ids.chunks(500) {
        match describe(client, chunk).await {
            Ok(found) => seen.extend(found),
            Err(e) if e.code() == Some(NOT_FOUND) => {
                for id in chunk {
                    match describe(client, std::slice::from_ref(id)).await {
                        Ok(found) => seen.extend(found),
                        Err(e) if e.code() == Some(NOT_FOUND) => {}
                        Err(e) => error = Some(e),
                    }
                }
            }
            Err(e) => error = Some(e),
        }
    }
    match error {
        Some(e) => Err(e),
        None => Ok(seen),
    }
}

/// DescribeInstances of `ids` (paginated): what EC2 knows of them, or the
/// error's code and message.
async fn describe(
    client: &aws_sdk_ec2::Client,
    ids: &[String],
) -> Result<HashMap<String, Instance>, Error> {
    let mut out = HashMap::new();
    let mut pages = client
        .describe_instances()
        .set_instance_ids(Some(ids.to_vec()))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let p = page.map_err(|e| super::api::error("DescribeInstances", &e))?;
        for r in p.reservations() {
            for i in r.instances() {
                if let Some(id) = i.instance_id() {
                    out.insert(id.to_string(), i.clone());
                }
            }
        }
    }
    Ok(out)
}
