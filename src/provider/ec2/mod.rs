//! `ec2`: hosts are EC2 instances (aws-sdk-ec2), on-demand or spot.
//!
//! Never a leaked instance: every instance is tagged at launch
//! (`runner:plan`, `runner:group`, `runner:hosts` with the group indices in
//! launch-index order, `runner:launch`, `runner:hash`, `runner:expires`),
//! its id is written to the state as soon as RunInstances answers, and
//! refresh finds by one tag query what a crash left (adopted by the next
//! apply, or destroyed as an orphan). Launches and terminations are batched:
//! the hosts of a group that are created together are one RunInstances; a
//! destroy is one TerminateInstances; waiting is one DescribeInstances per
//! poll for every instance waited on.

pub mod api;
mod batch;
mod poll;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_ec2::types::{
    Filter, InstanceInterruptionBehavior, InstanceMarketOptionsRequest, InstanceType, IpPermission,
    IpRange, MarketType, ResourceType, SpotInstanceType, SpotMarketOptions, Tag, TagSpecification,
};

use super::{Create, Error, Fut, Provider};
use crate::plan::HostSpec;
use crate::plan::model::{Ec2Config, Ec2Host};
use crate::state::{Ec2Instance, Ec2Shared, HostState, HostStatus, Op, Paths, Place};
use api::env_ms;
use batch::Batch;
use poll::{Poller, Want};

pub const TAG_PLAN: &str = "runner:plan";
/// The host of an instance that earlier versions tagged one by one (now
/// derived from `runner:group`, `runner:hosts` and the launch index).
const TAG_HOST: &str = "runner:host";
/// Which working directory's plan: two people (or two checkouts) with the
/// same plan name in one account never see each other's instances.
const TAG_PROJECT: &str = "runner:project";
/// The public key the instance authorises (its fingerprint): an instance is
/// adopted only if runner can still log into it.
const TAG_KEY: &str = "runner:key";
const TAG_GROUP: &str = "runner:group";
const TAG_HOSTS: &str = "runner:hosts";
const TAG_LAUNCH: &str = "runner:launch";
const TAG_HASH: &str = "runner:hash";
const TAG_EXPIRES: &str = "runner:expires";
/// A tag value's limit in EC2.
const TAG_VALUE_MAX: usize = 256;

/// How long an instance may take to be running.
fn start_timeout() -> Duration {
    env_ms("RUNNER_EC2_START_TIMEOUT_MS", 600_000)
}

pub struct Ec2 {
    inner: Arc<Inner>,
}

struct Inner {
    config: Ec2Config,
    plan: String,
    paths: Paths,
    client: tokio::sync::OnceCell<aws_sdk_ec2::Client>,
    /// Key pair name, security group id and the key's tag to launch with
    /// (set by prepare).
    launch_with: Mutex<Option<(String, String, String)>>,
    launches: Mutex<HashMap<String, Arc<LaunchBatch>>>,
    terminations: Arc<Batch<String, Result<(), Error>>>,
    poller: Arc<Poller>,
    /// SSH handshakes under way (waiting for instances to answer).
    handshakes: tokio::sync::Semaphore,
}

/// Hosts of one group waiting for one RunInstances; each gets its instance id.
type LaunchBatch = Batch<Pending, Result<String, Error>>;

/// A host waiting to be launched, with what its instance is tagged with.
struct Pending {
    host: HostSpec,
    hash: String,
}

impl Ec2 {
    pub fn new(config: Ec2Config, plan: &str, paths: &Paths) -> Self {
        Ec2 {
            inner: Arc::new(Inner {
                config,
                plan: plan.to_string(),
                paths: paths.clone(),
                client: tokio::sync::OnceCell::new(),
                launch_with: Mutex::new(None),
                launches: Mutex::new(HashMap::new()),
                terminations: Batch::new(Duration::from_millis(50)),
                poller: Poller::new(env_ms("RUNNER_EC2_POLL_MS", 2000)),
                handshakes: tokio::sync::Semaphore::new(50),
            }),
        }
    }

    /// For a host the state records, whatever the plan says now.
    pub fn from_state(e: &Ec2Instance, plan: &str, paths: &Paths) -> Self {
        Self::new(config_for(&e.region, e.endpoint.clone()), plan, paths)
    }
}

/// A configuration good for finding and destroying what a plan made
/// (region and endpoint are all that matters then).
pub fn config_for(region: &str, endpoint: Option<String>) -> Ec2Config {
    Ec2Config {
        region: region.to_string(),
        endpoint,
        key_name: None,
        identity: None,
        subnet: None,
        security_group: None,
        ssh_from: Vec::new(),
        user: String::new(),
        workdir: None,
        max_instances: 0,
        expire_after: Duration::from_secs(0),
        ssh_timeout: Duration::from_secs(0),
        name_each_host: false,
    }
}

/// The key runner generates for a plan that names no key pair.
pub fn generated_key(paths: &Paths) -> PathBuf {
    paths.dir().join("ec2_ed25519")
}

/// The project of a plan: its working directory (the absolute `.runner`
/// folder), hashed. Tagged on everything runner makes.
pub fn project(paths: &Paths) -> String {
    crate::hash::sha256_hex(paths.root.to_string_lossy().as_bytes())
        .chars()
        .take(10)
        .collect()
}

/// The key pair and security group runner makes for a plan:
/// `runner-<plan>-<project>`.
pub fn resource_name(plan: &str, paths: &Paths) -> String {
    format!("runner-{plan}-{}", project(paths))
}

/// The public key instances of this plan authorise (OpenSSH line), when
/// it is known here: the `identity`'s, or runner's generated key's.
pub fn public_key(config: &Ec2Config, paths: &Paths) -> Option<String> {
    match &config.identity {
        Some(identity) => {
            let out = std::process::Command::new("ssh-keygen")
                .arg("-y")
                .arg("-f")
                .arg(identity)
                .stdin(std::process::Stdio::null())
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        }
        None if config.key_name.is_some() => None,
        None => fs_err::read_to_string(generated_key(paths).with_extension("pub"))
            .ok()
            .map(|s| s.trim().to_string()),
    }
}

/// A short fingerprint of an OpenSSH public key line (type and key only).
pub fn key_tag(public: &str) -> String {
    let material: Vec<&str> = public.split_whitespace().take(2).collect();
    crate::hash::sha256_hex(material.join(" ").as_bytes())
        .chars()
        .take(16)
        .collect()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

fn tags(resource: ResourceType, list: &[(&str, &str)]) -> TagSpecification {
    let mut b = TagSpecification::builder().resource_type(resource);
    for (k, v) in list {
        b = b.tags(tag(k, v));
    }
    b.build()
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `0-3,7,9-10`: group indices, in order, compact.
pub fn encode_indices(indices: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let start = indices[i];
        let mut end = start;
        while i + 1 < indices.len() && indices[i + 1] == end + 1 {
            end += 1;
            i += 1;
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    out.join(",")
}

pub fn decode_indices(text: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                if b < a || b - a > 10_000 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

pub use crate::state::refresh::Tagged;

fn tag_value<'a>(i: &'a aws_sdk_ec2::types::Instance, key: &str) -> Option<&'a str> {
    i.tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

fn to_tagged(i: &aws_sdk_ec2::types::Instance, config: &Ec2Config) -> Option<Tagged> {
    let id = i.instance_id()?.to_string();
    let host = tag_value(i, TAG_HOST).map(str::to_string).or_else(|| {
        let group = tag_value(i, TAG_GROUP)?;
        let indices = decode_indices(tag_value(i, TAG_HOSTS)?)?;
        let index = indices.get(usize::try_from(i.ami_launch_index()?).ok()?)?;
        Some(format!("{group}[{index}]"))
    });
    Some(Tagged {
        id,
        host,
        hash: tag_value(i, TAG_HASH).unwrap_or_default().to_string(),
        state: i
            .state()
            .and_then(|s| s.name())
            .map_or_else(|| "unknown".into(), |n| n.as_str().to_string()),
        expires: tag_value(i, TAG_EXPIRES).map(str::to_string),
        key: tag_value(i, TAG_KEY).unwrap_or_default().to_string(),
        region: config.region.clone(),
        endpoint: config.endpoint.clone(),
        market: if i.instance_lifecycle().is_some_and(|l| l.as_str() == "spot") {
            "spot".into()
        } else {
            "on-demand".into()
        },
    })
}

impl Inner {
    async fn client(&self) -> Result<&aws_sdk_ec2::Client, Error> {
        self.client
            .get_or_try_init(|| api::client(&self.config.region, self.config.endpoint.as_deref()))
            .await
    }

    /// Every instance tagged with the plan that is not terminated: one
    /// DescribeInstances (paginated) whatever the number of hosts.
    async fn tagged(&self) -> Result<Vec<Tagged>, Error> {
        let client = self.client().await?;
        let mut pages = client
            .describe_instances()
            .filters(
                Filter::builder()
                    .name(format!("tag:{TAG_PLAN}"))
                    .values(&self.plan)
                    .build(),
            )
            .filters(
                Filter::builder()
                    .name(format!("tag:{TAG_PROJECT}"))
                    .values(project(&self.paths))
                    .build(),
            )
            .filters(
                Filter::builder()
                    .name("instance-state-name")
                    .set_values(Some(
                        ["pending", "running", "stopping", "stopped", "shutting-down"]
                            .map(String::from)
                            .to_vec(),
                    ))
                    .build(),
            )
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| api::error("DescribeInstances", &e))?;
            for r in page.reservations() {
                out.extend(
                    r.instances()
                        .iter()
                        .filter_map(|i| to_tagged(i, &self.config)),
                );
            }
        }
        Ok(out)
    }

    /// The `Name` every instance of one RunInstances gets: `<plan>/<host>`
    /// when it launches one host, else `<plan>/<group>`.
    fn launch_name(&self, batch: &[Pending]) -> String {
        match batch {
            [one] => format!("{}/{}", self.plan, one.host.name),
            _ => format!("{}/{}", self.plan, batch[0].host.group),
        }
    }

    /// One RunInstances for hosts of one group (same AMI, type, market).
    async fn launch(self: Arc<Self>, batch: Vec<Pending>) -> Vec<Result<String, Error>> {
        let n = batch.len();
        let group = batch[0].host.group.clone();
        let fail = |e: Error| vec![Err(e.of(format!("group `{group}`"))); n];
        let client = match self.client().await {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        let Some((key_name, sg, key)) = self
            .launch_with
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        else {
            return fail("the key pair and security group are not ready".into());
        };
        let spec: &Ec2Host = batch[0].host.ec2.as_ref().expect("ec2 host");
        let launch = crate::os::unique_id();
        let labels = [
            (TAG_PLAN, self.plan.clone()),
            (TAG_PROJECT, project(&self.paths)),
            (TAG_KEY, key),
            (TAG_GROUP, group.clone()),
            (
                TAG_HOSTS,
                encode_indices(&batch.iter().map(|p| p.host.index).collect::<Vec<_>>()),
            ),
            (TAG_LAUNCH, launch.clone()),
            ("Name", self.launch_name(&batch)),
            (TAG_HASH, crate::hash::short(&batch[0].hash)),
            (
                TAG_EXPIRES,
                rfc3339(SystemTime::now() + self.config.expire_after),
            ),
        ];
        let req = self
            .run_instances(client, spec, n, &key_name, &sg, &launch)
            .tag_specifications(tags(
                ResourceType::Instance,
                &labels
                    .iter()
                    .map(|(k, v)| (*k, v.as_str()))
                    .collect::<Vec<_>>(),
            ));
        let out = match req.send().await {
            Ok(o) => o,
            Err(e) => {
                let e = api::error("RunInstances", &e);
                let hint = self.hint(&e, spec);
                return fail(e.hinted(&hint));
            }
        };
        let mut instances: Vec<(i32, String)> = out
            .instances()
            .iter()
            .enumerate()
            .filter_map(|(k, i)| {
                Some((
                    i.ami_launch_index().unwrap_or(k as i32),
                    i.instance_id()?.to_string(),
                ))
            })
            .collect();
        instances.sort();
        if instances.len() != n {
            // Whatever came up is tagged and will be found as orphans.
            return fail(format!(
                "RunInstances launched {} instances for {n} hosts (launch {launch}); the next plan lists them",
                instances.len()
            ).into());
        }
        instances.into_iter().map(|(_, id)| Ok(id)).collect()
    }

    /// RunInstances of `n` instances as `spec` asks (spot or on-demand).
    fn run_instances(
        &self,
        client: &aws_sdk_ec2::Client,
        spec: &Ec2Host,
        n: usize,
        key_name: &str,
        sg: &str,
        launch: &str,
    ) -> aws_sdk_ec2::operation::run_instances::builders::RunInstancesFluentBuilder {
        let count = i32::try_from(n).unwrap_or(i32::MAX);
        let mut req = client
            .run_instances()
            .image_id(&spec.ami)
            .instance_type(InstanceType::from(spec.instance_type.as_str()))
            .min_count(count)
            .max_count(count)
            .key_name(key_name)
            .security_group_ids(sg)
            .client_token(launch);
        if let Some(s) = &self.config.subnet {
            req = req.subnet_id(s);
        }
        if spec.spot {
            req = req.instance_market_options(
                InstanceMarketOptionsRequest::builder()
                    .market_type(MarketType::Spot)
                    .spot_options(
                        SpotMarketOptions::builder()
                            .spot_instance_type(SpotInstanceType::OneTime)
                            .instance_interruption_behavior(InstanceInterruptionBehavior::Terminate)
                            .build(),
                    )
                    .build(),
            );
        }
        req
    }

    /// What to check when a launch failed with `e`'s code.
    fn hint(&self, e: &Error, spec: &Ec2Host) -> String {
        match e.code() {
            Some("InsufficientInstanceCapacity") if spec.spot => {
                " (spot capacity: try another instance type or zone, or remove `spot = true`)"
                    .to_string()
            }
            Some("InsufficientInstanceCapacity") => {
                " (try another instance type or subnet)".to_string()
            }
            Some(c) if c.starts_with("InvalidAMIID") => format!(
                " (check `ami = \"{}\"` for region {})",
                spec.ami, self.config.region
            ),
            Some(c) if c.starts_with("InvalidKeyPair") => {
                " (check `key_name` exists in this region)".to_string()
            }
            _ => String::new(),
        }
    }

    async fn terminate(self: Arc<Self>, ids: Vec<String>) -> Vec<Result<(), Error>> {
        let n = ids.len();
        let client = match self.client().await {
            Ok(c) => c,
            Err(e) => return vec![Err(e); n],
        };
        for chunk in ids.chunks(500) {
            let r = client
                .terminate_instances()
                .set_instance_ids(Some(chunk.to_vec()))
                .send()
                .await;
            if let Err(e) = r {
                if api::code(&e).as_deref() == Some("InvalidInstanceID.NotFound")
                    && chunk.len() == 1
                {
                    continue;
                }
                if api::code(&e).as_deref() == Some("InvalidInstanceID.NotFound") {
                    // One of them is gone already: the others one by one.
                    for id in chunk {
                        if let Err(e) = client.terminate_instances().instance_ids(id).send().await
                            && api::code(&e).as_deref() != Some("InvalidInstanceID.NotFound")
                        {
                            return vec![Err(api::error("TerminateInstances", &e)); n];
                        }
                    }
                    continue;
                }
                return vec![Err(api::error("TerminateInstances", &e)); n];
            }
        }
        vec![Ok(()); n]
    }

    async fn terminate_and_wait(self: &Arc<Self>, id: &str) -> Result<(), Error> {
        let me = self.clone();
        self.terminations
            .submit(
                id.to_string(),
                Box::new(move |ids| Box::pin(me.terminate(ids))),
            )
            .await
            .unwrap_or_else(|| Err("terminating was abandoned".into()))?;
        let client = self.client().await?.clone();
        self.poller
            .wait(&client, id, Want::Terminated, start_timeout())
            .await
            .map(|_| ())
    }

    /// The key pair to launch with: the plan's, or runner's own (a local
    /// ed25519 key whose public half is imported as `runner-<plan>`).
    async fn key_pair(&self) -> Result<(String, Option<String>), Error> {
        if let Some(k) = &self.config.key_name {
            return Ok((k.clone(), None));
        }
        let client = self.client().await?;
        // `identity` without `key_name`: its public half is imported;
        // neither: runner's own key, made here once.
        if self.config.identity.is_none() && !generated_key(&self.paths).exists() {
            fs_err::create_dir_all(self.paths.dir())?;
            super::local::keygen(
                &generated_key(&self.paths),
                &format!("runner-{}", self.plan),
            )?;
        }
        let public = public_key(&self.config, &self.paths).ok_or_else(|| {
            format!(
                "cannot read the public key of {}",
                self.config
                    .identity
                    .clone()
                    .unwrap_or_else(|| generated_key(&self.paths))
                    .display()
            )
        })?;
        let name = resource_name(&self.plan, &self.paths);
        // Re-imported every time: the local key is the truth.
        match client.delete_key_pair().key_name(&name).send().await {
            Ok(_) => {}
            Err(e) if api::code(&e).as_deref() == Some("InvalidKeyPair.NotFound") => {}
            Err(e) => return Err(api::error("DeleteKeyPair", &e)),
        }
        client
            .import_key_pair()
            .key_name(&name)
            .public_key_material(aws_smithy_types::Blob::new(public.trim().as_bytes()))
            .tag_specifications(tags(
                ResourceType::KeyPair,
                &[(TAG_PLAN, &self.plan), (TAG_PROJECT, &project(&self.paths))],
            ))
            .send()
            .await
            .map_err(|e| api::error("ImportKeyPair", &e))?;
        Ok((name.clone(), Some(name)))
    }

    /// The security group to launch in: the plan's, or `runner-<plan>`
    /// allowing SSH from `ssh_from` only (created once, found by name after).
    async fn security_group(&self) -> Result<(String, Option<String>), Error> {
        if let Some(sg) = &self.config.security_group {
            return self.named_group(sg).await.map(|id| (id, None));
        }
        let client = self.client().await?;
        let name = resource_name(&self.plan, &self.paths);
        let vpc = match &self.config.subnet {
            None => None,
            Some(s) => client
                .describe_subnets()
                .subnet_ids(s)
                .send()
                .await
                .map_err(|e| api::error("DescribeSubnets", &e))?
                .subnets()
                .first()
                .and_then(|s| s.vpc_id())
                .map(str::to_string),
        };
        let id = match self.find_group(&name, vpc.as_deref()).await? {
            Some(id) => id,
            None => self.create_group(&name, vpc.as_deref()).await?,
        };
        self.allow_ssh(&id).await?;
        Ok((id.clone(), Some(id)))
    }

    /// The plan's own security group (`sg-…`, or a name looked up).
    async fn named_group(&self, sg: &str) -> Result<String, Error> {
        if sg.starts_with("sg-") {
            return Ok(sg.to_string());
        }
        let found = self
            .client()
            .await?
            .describe_security_groups()
            .filters(Filter::builder().name("group-name").values(sg).build())
            .send()
            .await
            .map_err(|e| api::error("DescribeSecurityGroups", &e))?;
        found
            .security_groups()
            .first()
            .and_then(|g| g.group_id())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::Other(format!(
                    "security group `{sg}` does not exist in {}",
                    self.config.region
                ))
            })
    }

    /// Creates runner's security group for the plan (tagged with it).
    async fn create_group(&self, name: &str, vpc: Option<&str>) -> Result<String, Error> {
        let mut req = self
            .client()
            .await?
            .create_security_group()
            .group_name(name)
            .description(format!(
                "runner plan {}: SSH from the runner only",
                self.plan
            ))
            .tag_specifications(tags(
                ResourceType::SecurityGroup,
                &[(TAG_PLAN, &self.plan), (TAG_PROJECT, &project(&self.paths))],
            ));
        if let Some(v) = vpc {
            req = req.vpc_id(v);
        }
        match req.send().await {
            Ok(out) => Ok(out.group_id().unwrap_or_default().to_string()),
            // Made meanwhile by another apply: that one.
            Err(e) if api::code(&e).as_deref() == Some("InvalidGroup.Duplicate") => {
                self.find_group(name, vpc).await?.ok_or_else(|| {
                    format!("security group `{name}` exists but cannot be found").into()
                })
            }
            Err(e) => Err(api::error("CreateSecurityGroup", &e)),
        }
    }

    /// SSH (22/tcp) from `ssh_from`, default this machine's address.
    async fn allow_ssh(&self, id: &str) -> Result<(), Error> {
        let from = if self.config.ssh_from.is_empty() {
            vec![format!("{}/32", self.own_address())]
        } else {
            self.config.ssh_from.clone()
        };
        let mut perm = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(22)
            .to_port(22);
        for cidr in &from {
            perm = perm.ip_ranges(
                IpRange::builder()
                    .cidr_ip(cidr)
                    .description("runner")
                    .build(),
            );
        }
        let sent = self
            .client()
            .await?
            .authorize_security_group_ingress()
            .group_id(id)
            .ip_permissions(perm.build())
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) if api::code(&e).as_deref() == Some("InvalidPermission.Duplicate") => Ok(()),
            Err(e) => Err(api::error("AuthorizeSecurityGroupIngress", &e)),
        }
    }

    async fn find_group(&self, name: &str, vpc: Option<&str>) -> Result<Option<String>, Error> {
        let client = self.client().await?;
        let mut req = client
            .describe_security_groups()
            .filters(Filter::builder().name("group-name").values(name).build());
        if let Some(v) = vpc {
            req = req.filters(Filter::builder().name("vpc-id").values(v).build());
        }
        let out = req
            .send()
            .await
            .map_err(|e| api::error("DescribeSecurityGroups", &e))?;
        Ok(out
            .security_groups()
            .first()
            .and_then(|g| g.group_id())
            .map(str::to_string))
    }

    /// This machine's address toward the EC2 endpoint (no packet is sent):
    /// the default source of SSH. Behind NAT, set `ssh_from`.
    fn own_address(&self) -> String {
        let host = self
            .config
            .endpoint
            .as_deref()
            .and_then(|e| e.split("://").nth(1))
            .map(|rest| rest.split(['/', ':']).next().unwrap_or(rest).to_string())
            .unwrap_or_else(|| format!("ec2.{}.amazonaws.com", self.config.region));
        std::net::UdpSocket::bind("0.0.0.0:0")
            .and_then(|s| {
                s.connect((host.as_str(), 443))?;
                s.local_addr()
            })
            .map_or_else(|_| "127.0.0.1".into(), |a| a.ip().to_string())
    }

    async fn create(self: Arc<Self>, req: Create<'_>) -> Result<HostState, Error> {
        let spec = req.host.ec2.clone().ok_or("not an ec2 host")?;
        let client = self.client().await?.clone();
        let host = req.host.name.clone();
        let mut state = self.creating(req.instance, &spec);
        let id = match req.adopt {
            Some(id) => {
                (req.say)(format!(
                    "host `{host}`: adopting instance {id}, launched by an interrupted apply"
                ));
                id.to_string()
            }
            None => self.clone().launch_one(&req, &spec).await?,
        };
        // The id is durable before anything waits on the instance.
        if let Some(e) = state.ec2_mut() {
            e.id = Some(id.clone());
        }
        (req.record)(state.clone()).await?;
        let instance = self
            .poller
            .wait(&client, &id, Want::Running, start_timeout())
            .await?;
        self.name_host(&client, &instance, &host, &req).await;
        self.running(&mut state, &instance, &host);
        if req.ssh {
            state.host_key = self.learn_key(&state, &host, &id).await?;
            (req.say)(format!(
                "host `{host}` ({id}): host key {} accepted on first connect and pinned",
                crate::ssh::fingerprint(&state.host_key)
            ));
        }
        state.status = HostStatus::Ready;
        Ok(state)
    }

    /// With `name_tags = "host"`, tags the instance `Name = <plan>/<host>`
    /// unless it was launched so (alone). Only for people reading the
    /// console: a failure (throttled past the retries) is a warning.
    async fn name_host(
        &self,
        client: &aws_sdk_ec2::Client,
        instance: &aws_sdk_ec2::types::Instance,
        host: &str,
        req: &Create<'_>,
    ) {
        let name = format!("{}/{host}", self.plan);
        if !self.config.name_each_host || tag_value(instance, "Name") == Some(name.as_str()) {
            return;
        }
        let id = instance.instance_id().unwrap_or_default();
        let sent = client
            .create_tags()
            .resources(id)
            .tags(tag("Name", &name))
            .send()
            .await;
        if let Err(e) = sent {
            (req.say)(format!(
                "warning: host `{host}` ({id}): its `Name` tag was not set: {}",
                api::error("CreateTags", &e)
            ));
        }
    }

    /// The record of an instance about to be launched.
    fn creating(&self, instance: &str, spec: &Ec2Host) -> HostState {
        HostState {
            hash: String::new(),
            status: HostStatus::Creating,
            instance: instance.to_string(),
            address: String::new(),
            port: 22,
            user: self.config.user.clone(),
            identity: self
                .config
                .identity
                .clone()
                .unwrap_or_else(|| generated_key(&self.paths)),
            host_key: String::new(),
            workdir: String::new(),
            place: Place::Ec2(Box::new(Ec2Instance {
                id: None,
                region: self.config.region.clone(),
                endpoint: self.config.endpoint.clone(),
                instance_type: spec.instance_type.clone(),
                market: if spec.spot { "spot" } else { "on-demand" }.into(),
                expires: rfc3339(SystemTime::now() + self.config.expire_after),
                private_address: String::new(),
                launch: String::new(),
            })),
        }
    }

    /// Launches the host's instance with the others of its group that are
    /// created at the same time (one RunInstances); its id.
    async fn launch_one(
        self: Arc<Self>,
        req: &Create<'_>,
        spec: &Ec2Host,
    ) -> Result<String, Error> {
        let key = format!(
            "{}|{}|{}|{}",
            req.host.group, spec.ami, spec.instance_type, spec.spot
        );
        let batch = self
            .launches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert_with(|| Batch::new(Duration::from_millis(50)))
            .clone();
        let me = self.clone();
        let flush = Box::new(
            move |items: Vec<Pending>| -> Fut<'static, Vec<Result<String, Error>>> {
                Box::pin(me.launch_all(items))
            },
        );
        let pending = Pending {
            host: req.host.clone(),
            hash: req.hash.to_string(),
        };
        batch
            .submit(pending, flush)
            .await
            .unwrap_or_else(|| Err("launching was abandoned".into()))
    }

    /// What a running instance tells: its addresses, expiry and launch.
    fn running(&self, state: &mut HostState, instance: &aws_sdk_ec2::types::Instance, host: &str) {
        state.address = instance
            .public_ip_address()
            .or(instance.private_ip_address())
            .unwrap_or_default()
            .to_string();
        if let Some(e) = state.ec2_mut() {
            e.private_address = instance
                .private_ip_address()
                .unwrap_or_default()
                .to_string();
            if let Some(x) = tag_value(instance, TAG_EXPIRES) {
                e.expires = x.to_string();
            }
            e.launch = tag_value(instance, TAG_LAUNCH)
                .unwrap_or_default()
                .to_string();
        }
        state.workdir = self
            .config
            .workdir
            .clone()
            .unwrap_or_else(|| format!("runner/{}", self.plan));
        if let Some((address, port)) = test_ssh_address(host) {
            state.address = address;
            state.port = port;
        }
    }

    /// The host key of a new instance, once its SSH server answers (within
    /// `ssh_timeout`): accepted on first connect and pinned.
    async fn learn_key(&self, state: &HostState, host: &str, id: &str) -> Result<String, Error> {
        let _permit = self.handshakes.acquire().await?;
        let deadline = tokio::time::Instant::now() + self.config.ssh_timeout;
        loop {
            let last = match crate::ssh::server_key(&state.address, state.port).await {
                Ok(key) => return Ok(key),
                Err(e) => e,
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "instance {id} of `{host}` is running but SSH at {}:{} did not answer within {} (`ssh_timeout`): {last}",
                    state.address,
                    state.port,
                    humantime::format_duration(self.config.ssh_timeout)
                ).into());
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    /// Launches in index order, in chunks whose `runner:hosts` tag fits
    /// EC2's tag limit; answers in the order of `items`.
    async fn launch_all(self: Arc<Self>, items: Vec<Pending>) -> Vec<Result<String, Error>> {
        let n = items.len();
        let mut order: Vec<(usize, Pending)> = items.into_iter().enumerate().collect();
        order.sort_by_key(|(_, p)| p.host.index);
        let mut out: Vec<Option<Result<String, Error>>> = (0..n).map(|_| None).collect();
        let mut chunk: Vec<(usize, Pending)> = Vec::new();
        let mut chunks = Vec::new();
        for (k, p) in order {
            let mut indices: Vec<usize> = chunk.iter().map(|(_, c)| c.host.index).collect();
            indices.push(p.host.index);
            if encode_indices(&indices).len() > TAG_VALUE_MAX || chunk.len() >= 500 {
                chunks.push(std::mem::take(&mut chunk));
            }
            chunk.push((k, p));
        }
        chunks.push(chunk);
        for chunk in chunks.into_iter().filter(|c| !c.is_empty()) {
            let (at, pending): (Vec<usize>, Vec<Pending>) = chunk.into_iter().unzip();
            for (k, r) in at.into_iter().zip(self.clone().launch(pending).await) {
                out[k] = Some(r);
            }
        }
        out.into_iter()
            .map(|r| r.unwrap_or_else(|| Err("not launched".into())))
            .collect()
    }
}

/// Test-only (a build with the `test-faults` feature):
/// `RUNNER_TEST_EC2_SSH="server[0]=127.0.0.1:2201;…"` reaches a host at a
/// local sshd instead of its instance's (unreachable) address.
#[cfg(feature = "test-faults")]
fn test_ssh_address(host: &str) -> Option<(String, u16)> {
    let map = std::env::var("RUNNER_TEST_EC2_SSH").ok()?;
    map.split(';').find_map(|entry| {
        let (h, addr) = entry.split_once('=')?;
        if h != host {
            return None;
        }
        let (a, p) = addr.rsplit_once(':')?;
        Some((a.to_string(), p.parse().ok()?))
    })
}

#[cfg(not(feature = "test-faults"))]
fn test_ssh_address(_host: &str) -> Option<(String, u16)> {
    None
}

impl Provider for Ec2 {
    fn prepare<'a>(&'a self, creating: &'a [HostSpec]) -> Fut<'a, Result<Option<Op>, Error>> {
        Box::pin(async move {
            if creating.is_empty() {
                return Ok(None);
            }
            let (key, own_key) = self.inner.key_pair().await?;
            let (sg, own_sg) = self.inner.security_group().await?;
            let fingerprint = public_key(&self.inner.config, &self.inner.paths)
                .map(|k| key_tag(&k))
                .unwrap_or_default();
            *self
                .inner
                .launch_with
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some((key, sg, fingerprint));
            Ok(Some(Op::Ec2 {
                ec2: Some(Ec2Shared {
                    region: self.inner.config.region.clone(),
                    endpoint: self.inner.config.endpoint.clone(),
                    key_pair: own_key,
                    security_group: own_sg,
                }),
            }))
        })
    }

    fn create<'a>(&'a self, req: Create<'a>) -> Fut<'a, Result<HostState, Error>> {
        Box::pin(self.inner.clone().create(req))
    }

    fn destroy<'a>(&'a self, _host: &'a str, state: &'a HostState) -> Fut<'a, Result<(), Error>> {
        Box::pin(async move {
            match state.cloud_id() {
                Some(id) => self.inner.terminate_and_wait(id).await,
                None => Ok(()),
            }
        })
    }

    fn destroy_orphan<'a>(&'a self, id: &'a str) -> Fut<'a, Result<(), Error>> {
        Box::pin(self.inner.terminate_and_wait(id))
    }

    fn batches(&self) -> bool {
        true
    }

    /// An instance in this plan's region and endpoint.
    fn owns(&self, host: &HostState) -> bool {
        let c = &self.inner.config;
        host.ec2()
            .is_some_and(|e| e.region == c.region && e.endpoint == c.endpoint)
    }

    /// An instance not launched yet: where it will be, no id.
    fn placeholder(&self, _host: &str) -> Place {
        let c = &self.inner.config;
        Place::Ec2(Box::new(Ec2Instance {
            id: None,
            region: c.region.clone(),
            endpoint: c.endpoint.clone(),
            instance_type: String::new(),
            market: String::new(),
            expires: String::new(),
            private_address: String::new(),
            launch: String::new(),
        }))
    }
}

/// What refresh finds for an ec2 plan: the instances tagged with it.
pub async fn tagged(config: &Ec2Config, plan: &str, paths: &Paths) -> Result<Vec<Tagged>, Error> {
    Ec2::new(config.clone(), plan, paths).inner.tagged().await
}

/// Deletes the key pair and security group runner made for the plan
/// (recorded in the state, or found by name and tag when the state was
/// lost); with `dry_run` only finds them. What was (or would be) deleted.
pub async fn delete_shared(
    config: &Ec2Config,
    plan: &str,
    paths: &Paths,
    shared: Option<&Ec2Shared>,
    dry_run: bool,
) -> Result<Vec<String>, Error> {
    let ec2 = Ec2::new(config.clone(), plan, paths);
    let client = ec2.inner.client().await?;
    let name = resource_name(plan, paths);
    let mut done = Vec::new();
    // A key pair the plan names is the user's: only runner's own goes.
    let key = shared
        .and_then(|s| s.key_pair.clone())
        .unwrap_or(name.clone());
    if config.key_name.as_deref() != Some(key.as_str()) && delete_key(client, &key, dry_run).await?
    {
        done.push(format!("key pair {key}"));
    }
    let recorded = shared.and_then(|s| s.security_group.clone());
    for id in runner_groups(client, &name, paths, recorded).await? {
        if dry_run || delete_group(client, &id).await? {
            done.push(format!("security group {id} ({name})"));
        }
    }
    Ok(done)
}

/// Deletes a key pair if it exists (only says so with `dry_run`); whether it did.
async fn delete_key(client: &aws_sdk_ec2::Client, key: &str, dry_run: bool) -> Result<bool, Error> {
    let exists = client
        .describe_key_pairs()
        .filters(Filter::builder().name("key-name").values(key).build())
        .send()
        .await
        .map_err(|e| api::error("DescribeKeyPairs", &e))?
        .key_pairs()
        .iter()
        .any(|k| k.key_name() == Some(key));
    if !exists || dry_run {
        return Ok(exists);
    }
    match client.delete_key_pair().key_name(key).send().await {
        Ok(_) => Ok(true),
        Err(e) if api::code(&e).as_deref() == Some("InvalidKeyPair.NotFound") => Ok(false),
        Err(e) => Err(api::error("DeleteKeyPair", &e)),
    }
}

/// The security groups runner made for the plan: the one the state
/// recorded, and any of its name tagged with this project.
async fn runner_groups(
    client: &aws_sdk_ec2::Client,
    name: &str,
    paths: &Paths,
    recorded: Option<String>,
) -> Result<Vec<String>, Error> {
    let mut groups: Vec<String> = recorded.into_iter().collect();
    let found = client
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name(format!("tag:{TAG_PROJECT}"))
                .values(project(paths))
                .build(),
        )
        .send()
        .await
        .map_err(|e| api::error("DescribeSecurityGroups", &e))?;
    for g in found.security_groups() {
        if g.group_name() == Some(name)
            && let Some(id) = g.group_id()
            && !groups.iter().any(|x| x == id)
        {
            groups.push(id.to_string());
        }
    }
    Ok(groups)
}

/// Deletes a security group, retrying a while when terminating instances
/// still use it; whether it was there to delete.
async fn delete_group(client: &aws_sdk_ec2::Client, id: &str) -> Result<bool, Error> {
    let mut tries = 0;
    loop {
        match client.delete_security_group().group_id(id).send().await {
            Ok(_) => return Ok(true),
            Err(e) if api::code(&e).as_deref() == Some("InvalidGroup.NotFound") => {
                return Ok(false);
            }
            Err(e) if api::code(&e).as_deref() == Some("DependencyViolation") && tries < 30 => {
                tries += 1;
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Err(e) => return Err(api::error("DeleteSecurityGroup", &e)),
        }
    }
}

/// Hosts whose recorded instance is gone, instances that no state records,
/// and expiry warnings, from one tag query.
pub fn compare(
    hosts: &BTreeMap<String, HostState>,
    found: &[Tagged],
    now: SystemTime,
) -> (BTreeMap<String, String>, Vec<String>) {
    let by_id: HashMap<&str, &Tagged> = found.iter().map(|t| (t.id.as_str(), t)).collect();
    let mut gone = BTreeMap::new();
    for (name, h) in hosts {
        let Some(id) = h.cloud_id() else {
            continue;
        };
        match by_id.get(id) {
            None => {
                gone.insert(
                    name.clone(),
                    format!("instance {id} is terminated (outside runner?)"),
                );
            }
            Some(t)
                if t.state == "shutting-down" || t.state == "stopping" || t.state == "stopped" =>
            {
                gone.insert(name.clone(), format!("instance {id} is {}", t.state));
            }
            Some(_) => {}
        }
    }
    let mut notes = Vec::new();
    for t in found {
        if let Some(x) = &t.expires
            && let Ok(when) = humantime::parse_rfc3339(x)
            && when < now
        {
            notes.push(format!(
                "instance {} ({}) expired at {x} (`expire_after`): `runner destroy` when done",
                t.id,
                t.host.as_deref().unwrap_or("?")
            ));
        }
    }
    (gone, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_round_trip() {
        for v in [
            vec![],
            vec![0],
            vec![0, 1, 2, 3, 7, 9, 10],
            vec![5, 3, 4],
            vec![199],
        ] {
            assert_eq!(decode_indices(&encode_indices(&v)).unwrap(), v);
        }
        assert_eq!(encode_indices(&[0, 1, 2, 3, 7, 9, 10]), "0-3,7,9-10");
        assert_eq!(decode_indices("3-1"), None);
        assert_eq!(decode_indices("x"), None);
        // 200 hosts of one group fit one tag.
        let all: Vec<usize> = (0..200).collect();
        assert_eq!(encode_indices(&all), "0-199");
    }
}
