//! Providers make hosts exist: `local` (a private sshd per host on
//! 127.0.0.1) and `static` (hosts that already exist). Each kind is one file.
//! Calls are blocking; the executor runs them on blocking threads.

pub mod fixed;
pub mod local;

use crate::plan::{HostSpec, Plan};
use crate::state::{HostState, Paths};

pub trait Provider: Send + Sync {
    /// Once per apply, before any host is created (keys, directories).
    fn prepare(&self) -> Result<(), String>;
    /// Makes the host exist. Leftovers of an earlier attempt are cleaned first.
    fn create(&self, host: &HostSpec, instance: &str) -> Result<HostState, String>;
    /// Removes the host; harmless if it is already gone.
    fn destroy(&self, host: &str, state: &HostState) -> Result<(), String>;
    /// `Some(reason)` when the host recorded in the state no longer exists.
    fn refresh(&self, host: &str, state: &HostState) -> Option<String>;
    /// Where the provider keeps a host's files on this machine, if anywhere
    /// (recorded before the host is created, so that a crash leaves a trace).
    fn host_dir(&self, _host: &str) -> Option<std::path::PathBuf> {
        None
    }
}

pub fn for_plan(plan: &Plan, paths: &Paths) -> Box<dyn Provider> {
    match plan.provider {
        crate::plan::Provider::Local => Box::new(local::Local::new(paths)),
        crate::plan::Provider::Static => {
            Box::new(fixed::Fixed::new(&plan.name, plan.workdir.as_deref()))
        }
    }
}

/// The provider that destroys what a state recorded, whatever the plan says now.
pub fn for_state(state: &HostState, paths: &Paths, plan_name: &str) -> Box<dyn Provider> {
    if state.dir.is_some() {
        Box::new(local::Local::new(paths))
    } else {
        Box::new(fixed::Fixed::new(plan_name, None))
    }
}

pub fn current_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            if crate::process::is_root() {
                "root".into()
            } else {
                "nobody".into()
            }
        })
}

/// A fresh identity for a host instance.
pub fn new_instance() -> String {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{nanos:x}-{:x}-{n:x}", std::process::id())
}
