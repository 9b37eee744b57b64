//! What templates see, per host: `host` (name, group, index, address),
//! `groups` (every host of every group) and `vars` (the plan's, overlaid
//! by the host's group's, and in a series' trial by the point's), and in a
//! series' trial `series` (`point`, `repetition`). The shared parts are
//! built once and reference-counted, not copied per host.

use std::collections::HashMap;

use minijinja::Value;

use super::markers::deferred;
use crate::kinds::Address;
use crate::plan::model::Network;
use crate::plan::{HostSpec, Plan};

pub(super) struct Contexts<'p> {
    plan: &'p Plan,
    groups: Value,
    vars_by_group: HashMap<&'p str, Value>,
    /// Every host of the plan by name.
    pub specs: HashMap<&'p str, &'p HostSpec>,
    /// In a series' trial: `series.point`, `series.repetition`.
    series: Option<Value>,
}

impl<'p> Contexts<'p> {
    pub fn of(plan: &'p Plan) -> Self {
        let groups: serde_json::Map<String, serde_json::Value> = plan
            .groups
            .iter()
            .map(|g| {
                let hosts = g.hosts.iter().map(|h| host_json(plan, h)).collect();
                (g.name.clone(), hosts)
            })
            .collect();
        let vars_by_group = plan
            .groups
            .iter()
            .map(|g| {
                let mut vars = plan.vars.clone();
                vars.extend(g.vars.clone());
                (g.name.as_str(), crate::template::value(&&vars))
            })
            .collect();
        Contexts {
            plan,
            groups: crate::template::value(&&groups),
            vars_by_group,
            specs: plan.hosts().map(|h| (h.name.as_str(), h)).collect(),
            series: None,
        }
    }

    /// The contexts of one trial of a series: the point's vars over each
    /// group's, and `series`.
    pub fn for_point(&self, point: &crate::plan::model::Vars, series: Value) -> Contexts<'p> {
        let vars_by_group = self
            .plan
            .groups
            .iter()
            .map(|g| {
                let mut vars = self.plan.vars.clone();
                vars.extend(g.vars.clone());
                vars.extend(point.clone());
                (g.name.as_str(), crate::template::value(&&vars))
            })
            .collect();
        Contexts {
            plan: self.plan,
            groups: self.groups.clone(),
            vars_by_group,
            specs: self.specs.clone(),
            series: Some(series),
        }
    }

    /// The context of templates rendered for `spec`.
    pub fn of_host(&self, spec: &HostSpec) -> Value {
        let base = minijinja::context! {
            host => crate::template::value(&host_json(self.plan, spec)),
            groups => self.groups.clone(),
            vars => self.vars_by_group.get(spec.group.as_str()).cloned().unwrap_or_default(),
        };
        match &self.series {
            Some(series) => minijinja::context! { series => series.clone(), ..base },
            None => base,
        }
    }
}

fn host_json(plan: &Plan, h: &HostSpec) -> serde_json::Value {
    let mut v = serde_json::json!({
        "name": h.name,
        "group": h.group,
        "index": h.index,
        "address": address_of(plan, h, "address"),
    });
    if plan.provider.is_ec2() {
        v["private_address"] = address_of(plan, h, "private_address").into();
    }
    v
}

/// The address a host is reached at: known before it is provisioned for
/// static hosts and local hosts on loopback; for EC2 and for a local host
/// in its own namespace (its address is given when it is placed) a marker
/// that stands for it until the host exists ("known after apply").
fn address_of(plan: &Plan, host: &HostSpec, field: &str) -> String {
    let namespaced = plan.network != Network::Loopback;
    match (plan.provider.address_before_apply(namespaced), &host.fixed) {
        (Address::Listed, Some(f)) => f.address.clone(),
        (Address::Loopback, _) => "127.0.0.1".to_string(),
        (Address::Listed, None) | (Address::AfterApply, _) => deferred(field, &host.name),
    }
}
