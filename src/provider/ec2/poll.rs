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

    async fn run(self: Arc<Self>, client: aws_sdk_ec2::Client) {
        let mut failures = 0u32;
        loop {
            tokio::time::sleep(self.interval).await;
            let ids: Vec<String> = {
                let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
                waiting.retain(|_, w| {
                    w.retain(|(_, tx)| !tx.is_closed());
                    !w.is_empty()
                });
                if waiting.is_empty() {
                    *self.polling.lock().unwrap_or_else(|e| e.into_inner()) = false;
                    return;
                }
                waiting.keys().cloned().collect()
            };
            let mut seen: HashMap<String, Instance> = HashMap::new();
            let mut error = None;
            for chunk in ids.chunks(500) {
                match describe(&client, chunk).await {
                    Ok(found) => seen.extend(found),
                    // One unknown id fails the whole call: ask one by one.
                    Err(e) if e.code() == Some(NOT_FOUND) => {
                        for id in chunk {
                            match describe(&client, std::slice::from_ref(id)).await {
                                Ok(found) => seen.extend(found),
                                // Unknown here: not seen, so gone for those
                                // waiting for that, pending for the others.
                                Err(e) if e.code() == Some(NOT_FOUND) => {}
                                Err(e) => error = Some(e),
                            }
                        }
                    }
                    Err(e) => error = Some(e),
                }
            }
            if let Some(msg) = &error {
                failures += 1;
                if failures >= 5 {
                    let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
                    for (_, w) in waiting.drain() {
                        for (_, tx) in w {
                            let _ = tx.send(Err(msg.clone()));
                        }
                    }
                }
                continue;
            }
            failures = 0;
            let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
            for id in ids {
                let state = seen
                    .get(&id)
                    .and_then(|i| i.state())
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_string());
                let Some(list) = waiting.remove(&id) else {
                    continue;
                };
                let mut keep = Vec::new();
                for (want, tx) in list {
                    let done: Option<Result<Instance, Error>> = match (want, state.as_deref()) {
                        (Want::Running, Some("running")) => Some(Ok(seen[&id].clone())),
                        (
                            Want::Running,
                            Some(s @ ("shutting-down" | "terminated" | "stopping" | "stopped")),
                        ) => {
                            let reason = seen[&id]
                                .state_reason()
                                .and_then(|r| r.message())
                                .unwrap_or("no reason given");
                            Some(Err(format!(
                                "instance {id} is {s} instead of running: {reason}"
                            )
                            .into()))
                        }
                        (Want::Terminated, Some("terminated")) => Some(Ok(seen[&id].clone())),
                        (Want::Terminated, None) => {
                            Some(Ok(Instance::builder().instance_id(&id).build()))
                        }
                        _ => None,
                    };
                    match done {
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
