//! `static`: hosts that already exist, by address, port, user, identity and
//! pinned host key. Creating records them; destroying forgets them.

use super::Provider;
use crate::plan::HostSpec;
use crate::state::{HostState, HostStatus};

pub struct Fixed {
    workdir: String,
}

impl Fixed {
    /// `workdir` defaults to `runner/<plan>`, relative to the login directory.
    pub fn new(plan_name: &str, workdir: Option<&str>) -> Self {
        Fixed {
            workdir: workdir.map_or_else(|| format!("runner/{plan_name}"), str::to_string),
        }
    }
}

impl Provider for Fixed {
    fn prepare(&self) -> Result<(), String> {
        Ok(())
    }

    fn create(&self, host: &HostSpec, instance: &str) -> Result<HostState, String> {
        let f = host
            .fixed
            .as_ref()
            .ok_or_else(|| format!("host `{}` has no address", host.name))?;
        Ok(HostState {
            hash: String::new(),
            status: HostStatus::Ready,
            instance: instance.to_string(),
            address: f.address.clone(),
            port: f.port,
            user: f.user.clone(),
            identity: f.identity.clone(),
            host_key: f.host_key.clone(),
            workdir: self.workdir.clone(),
            dir: None,
            pid: None,
        })
    }

    fn destroy(&self, _host: &str, _state: &HostState) -> Result<(), String> {
        Ok(())
    }

    fn refresh(&self, _host: &str, _state: &HostState) -> Option<String> {
        // Static hosts are not probed at plan time: planning makes no connections.
        None
    }
}
