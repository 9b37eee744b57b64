//! Groups, validated: `count` hosts (local, EC2) or listed hosts (static),
//! each static host with its address, user, identity and pinned key; the
//! plan's hosts held to `max_instances`.

use super::model::{FixedHost, Group, HostSpec, Provider};
use super::syntax::{RawGroup, RawPlan};
use super::values::{self, check_name};
use crate::diag::Diagnostic;

pub fn validate_groups(
    raw: &RawPlan,
    provider: &Provider,
    network: &super::model::Network,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Group> {
    let groups: Vec<Group> = raw
        .groups
        .iter()
        .map(|g| {
            check_name(&g.name, "group name", diags);
            let mut hosts = if provider.lists_hosts() {
                listed(raw, g, diags)
            } else {
                counted(raw, g, provider, diags)
            };
            let links = super::network::links(g, hosts.len(), network, diags);
            for (h, l) in hosts.iter_mut().zip(links) {
                h.link = l;
            }
            Group {
                name: g.name.value.clone(),
                vars: g.vars.clone(),
                hosts,
            }
        })
        .collect();
    if provider.on_this_machine() {
        check_local_max(raw, &groups, diags);
    }
    groups
}

/// A local or EC2 group's `count` hosts.
fn counted(
    raw: &RawPlan,
    g: &RawGroup,
    provider: &Provider,
    diags: &mut Vec<Diagnostic>,
) -> Vec<HostSpec> {
    if let Some(h) = &g.hosts {
        diags.push(
            Diagnostic::at(
                format!(
                    "group `{}` lists `hosts`, which only the `static` provider uses",
                    g.name.value
                ),
                h.span.clone(),
            )
            .help(format!(
                "use `count = N` with the `{}` provider",
                provider.name()
            )),
        );
    }
    let count = match &g.count {
        None => {
            diags.push(
                Diagnostic::at(
                    format!("group `{}` has no `count`", g.name.value),
                    g.name.span.clone(),
                )
                .help("add `count = 1` (or more) to the group"),
            );
            return Vec::new();
        }
        Some(c) if c.value < 1 => {
            diags.push(
                Diagnostic::at(
                    format!("group `{}` is empty (`count = {}`)", g.name.value, c.value),
                    c.span.clone(),
                )
                .help("a group needs at least one host; remove the group or set `count = 1`"),
            );
            return Vec::new();
        }
        Some(c) if c.value > 10_000 => {
            diags.push(Diagnostic::at(
                format!(
                    "group `{}` asks for {} hosts; the limit is 10000",
                    g.name.value, c.value
                ),
                c.span.clone(),
            ));
            return Vec::new();
        }
        Some(c) => c.value as usize,
    };
    (0..count)
        .map(|index| HostSpec {
            name: format!("{}[{index}]", g.name.value),
            group: g.name.value.clone(),
            index,
            fixed: None,
            ec2: provider.is_ec2().then(|| super::ec2::host_of(raw, g)),
            link: None,
        })
        .collect()
}

/// A static group's listed hosts.
fn listed(raw: &RawPlan, g: &RawGroup, diags: &mut Vec<Diagnostic>) -> Vec<HostSpec> {
    let Some(list) = &g.hosts else {
        diags.push(
            Diagnostic::at(format!("group `{}` lists no `hosts`", g.name.value), g.name.span.clone())
                .help("the `static` provider needs `hosts = [{ address = \"…\", host_key = \"ssh-ed25519 …\" }]`"),
        );
        return Vec::new();
    };
    if list.value.is_empty() {
        diags.push(Diagnostic::at(
            format!("group `{}` is empty (`hosts = []`)", g.name.value),
            list.span.clone(),
        ));
    }
    if let Some(c) = &g.count
        && c.value != list.value.len() as i64
    {
        diags.push(
            Diagnostic::at(
                format!(
                    "group `{}` has `count = {}` but lists {} hosts",
                    g.name.value,
                    c.value,
                    list.value.len()
                ),
                c.span.clone(),
            )
            .help("remove `count`; a static group has as many hosts as it lists"),
        );
    }
    list.value
        .iter()
        .enumerate()
        .map(|(index, h)| {
            let name = format!("{}[{index}]", g.name.value);
            let fixed = validate_fixed_host(h, &name, raw, diags);
            HostSpec {
                name,
                group: g.name.value.clone(),
                index,
                fixed,
                ec2: None,
                link: None,
            }
        })
        .collect()
}

/// Local hosts a plan may ask for unless it says otherwise: each is an
/// sshd on this machine (about 1.5 MB each, and a port).
pub const DEFAULT_MAX_LOCAL: usize = 1000;

/// A local plan's hosts, held to `max_instances` (default 1,000) before
/// anything starts.
fn check_local_max(raw: &RawPlan, groups: &[Group], diags: &mut Vec<Diagnostic>) {
    let max = match &raw.provider.max_instances {
        None => DEFAULT_MAX_LOCAL,
        Some(m) if (1..=100_000).contains(&m.value) => m.value as usize,
        Some(m) => {
            diags.push(Diagnostic::at(
                format!(
                    "`max_instances = {}` is out of range (1 to 100000)",
                    m.value
                ),
                m.span.clone(),
            ));
            return;
        }
    };
    let total: usize = groups.iter().map(|g| g.hosts.len()).sum();
    if total <= max {
        return;
    }
    let span = raw
        .provider
        .max_instances
        .as_ref()
        .map(|m| m.span.clone())
        .or_else(|| {
            // The largest group's count, where the hosts come from.
            let biggest = raw.groups.iter().filter_map(|g| g.count.as_ref());
            biggest.max_by_key(|c| c.value).map(|c| c.span.clone())
        });
    diags.push(
        Diagnostic::new(
            format!(
                "the plan asks for {total} local hosts (an sshd each on this machine), more than `max_instances = {max}`"
            ),
            span,
        )
        .help(format!(
            "lower the groups' `count`, or raise `max_instances` in `[provider]` (default {DEFAULT_MAX_LOCAL}) if this machine can carry {total} sshds"
        )),
    );
}

fn validate_fixed_host(
    h: &super::syntax::RawHost,
    name: &str,
    raw: &RawPlan,
    diags: &mut Vec<Diagnostic>,
) -> Option<FixedHost> {
    let missing = |key: &str, example: &str| {
        Diagnostic::at(format!("host `{name}` has no `{key}`"), h.span.clone())
            .help(format!("add `{key} = {example}`"))
    };
    let Some(address) = &h.address else {
        diags.push(missing("address", "\"10.0.0.5\""));
        return None;
    };
    let port = match &h.port {
        None => 22,
        Some(p) if (1..=65535).contains(&p.value) => p.value as u16,
        Some(p) => {
            diags.push(Diagnostic::at(
                format!("port {} of host `{name}` is out of range", p.value),
                p.span.clone(),
            ));
            return None;
        }
    };
    let user = h
        .user
        .as_ref()
        .or(raw.provider.user.as_ref())
        .map(|u| u.value.clone())
        .unwrap_or_else(crate::os::current_user);
    let Some(identity) = h.identity.as_ref().or(raw.provider.identity.as_ref()) else {
        diags.push(
            missing("identity", "\"~/.ssh/id_ed25519\"")
                .help("name the private key to log in with, on the host or in `[provider]`"),
        );
        return None;
    };
    let identity_path = values::expand_home(&identity.value);
    if !identity_path.is_file() {
        diags.push(
            Diagnostic::at(
                format!("identity file `{}` does not exist", identity_path.display()),
                identity.span.clone(),
            )
            .help("give the path of an existing private key"),
        );
    }
    let Some(key) = &h.host_key else {
        diags.push(missing("host_key", "\"ssh-ed25519 AAAA…\"").help(
            "host keys are always pinned: copy the line from the host's /etc/ssh/ssh_host_ed25519_key.pub",
        ));
        return None;
    };
    if russh::keys::PublicKey::from_openssh(key.value.trim()).is_err() {
        diags.push(
            Diagnostic::at(
                format!("`host_key` of host `{name}` is not an OpenSSH public key"),
                key.span.clone(),
            )
            .help("expected `ssh-ed25519 AAAA…` as in a `.pub` file"),
        );
        return None;
    }
    Some(FixedHost {
        address: address.value.clone(),
        port,
        user,
        identity: identity_path,
        host_key: key.value.trim().to_string(),
    })
}
