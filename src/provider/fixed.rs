//! `static`: hosts that already exist, by address, port, user, identity and
//! pinned host key. Creating records them; destroying forgets them.

use super::{Create, Error, Fut, Provider};
use crate::plan::HostSpec;
use crate::state::{HostState, HostStatus, Op, Place};

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
    fn prepare<'a>(&'a self, _creating: &'a [HostSpec]) -> Fut<'a, Result<Option<Op>, Error>> {
        Box::pin(async { Ok(None) })
    }

    fn create<'a>(&'a self, req: Create<'a>) -> Fut<'a, Result<HostState, Error>> {
        let r = self.create_now(req.host, req.instance);
        Box::pin(async move { r })
    }

    fn destroy<'a>(&'a self, _host: &'a str, _state: &'a HostState) -> Fut<'a, Result<(), Error>> {
        // Forgetting is all: the host is not runner's.
        Box::pin(async { Ok(()) })
    }

    fn placeholder(&self, _host: &str) -> Place {
        Place::Static
    }

    fn owns(&self, host: &HostState) -> bool {
        matches!(host.place, Place::Static)
    }
}

impl Fixed {
    fn create_now(&self, host: &HostSpec, instance: &str) -> Result<HostState, Error> {
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
            place: Place::Static,
        })
    }
}
