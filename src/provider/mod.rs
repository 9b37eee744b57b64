//! Providers make hosts exist: `local` (a private sshd per host on
//! 127.0.0.1), `static` (hosts that already exist) and `ec2` (EC2
//! instances). Each kind is one module. Calls are async; blocking work
//! (starting sshd) runs on blocking threads inside the provider.

pub mod ec2;
mod error;
pub mod fixed;
pub mod local;
pub mod netns;

pub use error::Error;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::kinds::Provider as Kind;
use crate::plan::{HostSpec, Plan};
use crate::state::{HostState, Op, Paths, Place, State};

pub type Fut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Makes a host's record durable (journal written and fsynced) while the
/// provider is still creating it: an EC2 instance id as soon as it exists.
pub type Recorder = Arc<dyn Fn(HostState) -> Fut<'static, Result<(), Error>> + Send + Sync>;

/// One host to create.
pub struct Create<'a> {
    pub host: &'a HostSpec,
    /// A fresh identity for this incarnation of the host.
    pub instance: &'a str,
    /// The host node's hash (cloud instances are tagged with it).
    pub hash: &'a str,
    /// Whether anything runs on the host over SSH: then creating waits
    /// until it answers and pins its host key.
    pub ssh: bool,
    /// An instance an interrupted apply launched for this host, to take
    /// over instead of launching another.
    pub adopt: Option<&'a str>,
    pub record: Recorder,
    /// A line for the operator (a host key accepted, an instance adopted).
    pub say: Arc<dyn Fn(String) + Send + Sync>,
}

pub trait Provider: Send + Sync {
    /// Once per apply, before any host is created (keys, directories, the
    /// security group); what it returns is recorded in the state.
    fn prepare<'a>(&'a self, creating: &'a [HostSpec]) -> Fut<'a, Result<Option<Op>, Error>>;
    /// Makes the host exist. Leftovers of an earlier attempt are cleaned first.
    fn create<'a>(&'a self, req: Create<'a>) -> Fut<'a, Result<HostState, Error>>;
    /// Removes the host; harmless if it is already gone.
    fn destroy<'a>(&'a self, host: &'a str, state: &'a HostState) -> Fut<'a, Result<(), Error>>;
    /// Removes a cloud instance that is tagged with the plan but recorded nowhere.
    fn destroy_orphan<'a>(&'a self, id: &'a str) -> Fut<'a, Result<(), Error>> {
        Box::pin(
            async move { Err(format!("this provider has no instance {id} to destroy").into()) },
        )
    }
    /// What the state records of a host before it exists (where its files
    /// will be on this machine, if anywhere), so that a crash leaves a trace.
    fn placeholder(&self, host: &str) -> Place;
    /// Whether this provider, as the plan configures it, can remove a host
    /// the state records (its kind; for EC2, its region and endpoint too).
    fn owns(&self, host: &HostState) -> bool;
    /// Why a host the state records as ready is gone (`None`: it is there).
    /// A cloud provider answers for all its hosts at once (`refresh`).
    fn refresh(&self, _host: &HostState) -> Option<String> {
        None
    }
    /// Whether host creations are batched into few API calls: then they are
    /// all started at once, not `--parallelism` at a time.
    fn batches(&self) -> bool {
        false
    }
}

/// Runs blocking provider work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f).await?
}

/// The provider of a plan. Every kind is named here, and nowhere else
/// outside this folder: a new kind fails to compile until it is handled.
pub fn for_plan(plan: &Plan, paths: &Paths) -> Box<dyn Provider> {
    match plan.provider {
        Kind::Ec2 => {
            let config = plan
                .ec2
                .clone()
                .unwrap_or_else(|| ec2::config_for("us-east-1", None));
            Box::new(ec2::Ec2::new(config, &plan.name, paths))
        }
        Kind::Static => Box::new(fixed::Fixed::new(&plan.name, plan.workdir.as_deref())),
        Kind::Local => Box::new(local::Local::new(paths, &plan.network)),
    }
}

/// The kind of provider that destroys a plan's leftovers when the plan
/// file is gone or unreadable: EC2's when the state says it had instances
/// (`ec2`), else local hosts under its folder.
pub fn kind_for_leftovers(ec2: bool) -> Kind {
    if ec2 { Kind::Ec2 } else { Kind::Local }
}

/// The provider that destroys what a state recorded, whatever the plan says now.
pub fn for_state(state: &HostState, paths: &Paths, plan_name: &str) -> Box<dyn Provider> {
    match &state.place {
        Place::Ec2(e) => Box::new(ec2::Ec2::from_state(e, plan_name, paths)),
        Place::Local { .. } => Box::new(local::Local::new(paths, &Default::default())),
        Place::Static => Box::new(fixed::Fixed::new(plan_name, None)),
    }
}

pub use crate::state::refresh::Refresh;

/// Where the plan's EC2 instances live: the plan's `[provider]`, or what the
/// state recorded when the plan says otherwise now.
pub fn ec2_config(plan: Option<&Plan>, state: &State) -> Option<crate::plan::model::Ec2Config> {
    if let Some(c) = plan.and_then(|p| p.ec2.clone()) {
        return Some(c);
    }
    if let Some(s) = &state.ec2 {
        return Some(ec2::config_for(&s.region, s.endpoint.clone()));
    }
    state
        .hosts
        .values()
        .find_map(HostState::ec2)
        .map(|e| ec2::config_for(&e.region, e.endpoint.clone()))
}

/// Asks each host's provider whether what the state records still exists;
/// for EC2 that is one tag query, which also finds what no state records.
/// Read-only.
pub fn refresh(state: &State, paths: &Paths, plan: Option<&Plan>) -> Result<Refresh, Error> {
    let mut out = Refresh::default();
    for (name, h) in &state.hosts {
        if h.status == crate::state::HostStatus::Ready
            && let Some(why) = for_state(h, paths, &state.plan).refresh(h)
        {
            out.gone.insert(name.clone(), why);
        }
    }
    if let Some(config) = ec2_config(plan, state) {
        // Every region (and endpoint) the plan or the state has instances
        // in: a plan moved to another region still finds the old ones.
        let mut places: Vec<(String, Option<String>)> =
            vec![(config.region.clone(), config.endpoint.clone())];
        for e in state.hosts.values().filter_map(HostState::ec2) {
            let place = (e.region.clone(), e.endpoint.clone());
            if !places.contains(&place) {
                places.push(place);
            }
        }
        let name = state.plan.clone();
        let p = paths.clone();
        // Its own runtime on its own thread: callers may or may not be async.
        let found = std::thread::scope(|s| {
            s.spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let mut all = Vec::new();
                for (region, endpoint) in &places {
                    let c = if *region == config.region && *endpoint == config.endpoint {
                        config.clone()
                    } else {
                        ec2::config_for(region, endpoint.clone())
                    };
                    all.extend(rt.block_on(ec2::tagged(&c, &name, &p))?);
                }
                Ok::<_, Error>(all)
            })
            .join()
            .unwrap_or_else(|_| Err(Error::Other("refresh panicked".into())))
        })?;
        out.key = ec2::public_key(&config, paths).map(|k| ec2::key_tag(&k));
        let (gone, notes) = ec2::compare(&state.hosts, &found, std::time::SystemTime::now());
        out.gone.extend(gone);
        out.notes = notes;
        out.tagged = found;
    }
    Ok(out)
}
