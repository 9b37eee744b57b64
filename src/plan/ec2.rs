//! `[provider] kind = "ec2"`: its keys, checked; a group's overrides.

use std::time::Duration;

use super::model::{Ec2Config, Ec2Host, Group};
use super::syntax::{RawGroup, RawPlan, Sp};
use crate::diag::Diagnostic;

/// Instances a plan may ask for unless it says otherwise.
pub const DEFAULT_MAX_INSTANCES: usize = 20;
const DEFAULT_EXPIRE_AFTER: Duration = Duration::from_secs(4 * 3600);
const DEFAULT_SSH_TIMEOUT: Duration = Duration::from_secs(300);
const DEFAULT_USER: &str = "ec2-user";

pub fn validate_config(
    raw: &RawPlan,
    _plan_name: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Ec2Config> {
    let p = &raw.provider;
    let region = region(raw, diags)?;
    if let Some(e) = &p.endpoint
        && !is_url(&e.value)
    {
        diags.push(
            Diagnostic::at(
                format!("`endpoint` `{}` is not a URL", e.value),
                e.span.clone(),
            )
            .help("write it as `http://127.0.0.1:5000` or `https://…`"),
        );
    }
    let identity = identity(raw, diags);
    let max_instances = match &p.max_instances {
        None => DEFAULT_MAX_INSTANCES,
        Some(m) if (1..=10_000).contains(&m.value) => m.value as usize,
        Some(m) => {
            diags.push(Diagnostic::at(
                format!("`max_instances = {}` is out of range (1 to 10000)", m.value),
                m.span.clone(),
            ));
            DEFAULT_MAX_INSTANCES
        }
    };
    Some(Ec2Config {
        region: region.value.clone(),
        endpoint: p
            .endpoint
            .as_ref()
            .map(|e| e.value.trim_end_matches('/').to_string()),
        key_name: p.key_name.as_ref().map(|k| k.value.clone()),
        identity,
        subnet: p.subnet.as_ref().map(|s| s.value.clone()),
        security_group: p.security_group.as_ref().map(|s| s.value.clone()),
        ssh_from: ssh_from(raw, diags),
        user: p
            .user
            .as_ref()
            .map_or_else(|| DEFAULT_USER.to_string(), |u| u.value.clone()),
        workdir: p.workdir.as_ref().map(|w| w.value.clone()),
        max_instances,
        expire_after: super::values::duration(
            p.expire_after.as_ref(),
            "expire_after",
            DEFAULT_EXPIRE_AFTER,
            diags,
        ),
        ssh_timeout: super::values::duration(
            p.ssh_timeout.as_ref(),
            "ssh_timeout",
            DEFAULT_SSH_TIMEOUT,
            diags,
        ),
        name_each_host: name_each_host(raw, diags),
    })
}

/// `name_tags`: `"group"` (default) or `"host"`.
fn name_each_host(raw: &RawPlan, diags: &mut Vec<Diagnostic>) -> bool {
    match raw.provider.name_tags.as_ref() {
        None => false,
        Some(n) if n.value == "group" => false,
        Some(n) if n.value == "host" => true,
        Some(n) => {
            diags.push(
                Diagnostic::at(
                    format!("`name_tags = \"{}\"` is not `\"group\"` or `\"host\"`", n.value),
                    n.span.clone(),
                )
                .help("`\"group\"` (default) names instances `<plan>/<group>` at launch; `\"host\"` names each `<plan>/<host>`, one CreateTags call per instance"),
            );
            false
        }
    }
}

fn region<'r>(raw: &'r RawPlan, diags: &mut Vec<Diagnostic>) -> Option<&'r Sp<String>> {
    let p = &raw.provider;
    let Some(region) = &p.region else {
        diags.push(
            Diagnostic::new("the `ec2` provider has no `region`", p.span.clone())
                .help("add `region = \"us-east-1\"` to `[provider]`"),
        );
        return None;
    };
    if region.value.is_empty()
        || !region
            .value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        diags.push(Diagnostic::at(
            format!("`region` `{}` is not a region name", region.value),
            region.span.clone(),
        ));
    }
    Some(region)
}

/// `identity`: the key pair's private key (needed with `key_name`).
fn identity(raw: &RawPlan, diags: &mut Vec<Diagnostic>) -> Option<std::path::PathBuf> {
    let p = &raw.provider;
    let identity = p
        .identity
        .as_ref()
        .map(|i| super::values::expand_home(&i.value));
    match (&p.key_name, &p.identity, &identity) {
        (Some(k), None, _) => diags.push(
            Diagnostic::at(
                format!("`key_name = \"{}\"` needs `identity`, its private key", k.value),
                k.span.clone(),
            )
            .help("add `identity = \"~/.ssh/my-key.pem\"`, or remove `key_name` and runner makes a key pair for the plan"),
        ),
        (_, Some(i), Some(path)) if !path.is_file() => diags.push(
            Diagnostic::at(format!("identity file `{}` does not exist", path.display()), i.span.clone())
                .help("give the path of an existing private key"),
        ),
        _ => {}
    }
    identity
}

/// `ssh_from`: IPv4 CIDRs, for the security group runner creates only.
fn ssh_from(raw: &RawPlan, diags: &mut Vec<Diagnostic>) -> Vec<String> {
    let p = &raw.provider;
    for s in p.ssh_from.iter().flat_map(|l| l.value.iter()) {
        if !is_cidr(&s.value) {
            diags.push(
                Diagnostic::at(
                    format!("`ssh_from` entry `{}` is not an IPv4 CIDR", s.value),
                    s.span.clone(),
                )
                .help("write it as `203.0.113.7/32`"),
            );
        }
    }
    if p.security_group.is_some()
        && let Some(s) = &p.ssh_from
    {
        diags.push(
            Diagnostic::at(
                "`ssh_from` is used only for the security group runner creates",
                s.span.clone(),
            )
            .help("remove `ssh_from`, or remove `security_group` to let runner create one"),
        );
    }
    p.ssh_from
        .as_ref()
        .map(|l| l.value.iter().map(|s| s.value.clone()).collect())
        .unwrap_or_default()
}

/// `http(s)://host[:port][/path]` with a host and a port in range.
fn is_url(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
    else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, Some(p)),
        _ => (authority, None),
    };
    !host.is_empty()
        && !s.contains(char::is_whitespace)
        && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
}

fn is_cidr(s: &str) -> bool {
    s.parse::<ipnet::Ipv4Net>().is_ok()
}

/// The group's `ami` and `instance_type` (or the provider's), and `spot`.
pub fn host_of(raw: &RawPlan, g: &RawGroup) -> Ec2Host {
    let pick = |own: &Option<Sp<String>>, shared: &Option<Sp<String>>| {
        own.as_ref()
            .or(shared.as_ref())
            .map(|v| v.value.clone())
            .unwrap_or_default()
    };
    Ec2Host {
        ami: pick(&g.ami, &raw.provider.ami),
        instance_type: pick(&g.instance_type, &raw.provider.instance_type),
        spot: g.spot.as_ref().is_some_and(|s| s.value),
    }
}

/// Every group has an AMI and an instance type; the plan stays within
/// `max_instances`.
pub fn check_groups(
    raw: &RawPlan,
    config: &Ec2Config,
    groups: &[Group],
    diags: &mut Vec<Diagnostic>,
) {
    for g in &raw.groups {
        for (key, own, shared, example) in [
            ("ami", &g.ami, &raw.provider.ami, "ami-0abcdef1234567890"),
            (
                "instance_type",
                &g.instance_type,
                &raw.provider.instance_type,
                "t3.micro",
            ),
        ] {
            if let Some(v) = own.as_ref().or(shared.as_ref())
                && v.value.trim().is_empty()
            {
                diags.push(
                    Diagnostic::at(format!("`{key}` is empty"), v.span.clone())
                        .help(format!("write it as `{key} = \"{example}\"`")),
                );
            }
            if own.is_none() && shared.is_none() {
                diags.push(
                    Diagnostic::at(
                        format!("group `{}` has no `{key}`", g.name.value),
                        g.name.span.clone(),
                    )
                    .help(format!(
                        "add `{key} = \"{example}\"` to `[provider]` (all groups) or to the group"
                    )),
                );
            }
        }
    }
    let total: usize = groups.iter().map(|g| g.hosts.len()).sum();
    if total > config.max_instances {
        let span = raw
            .provider
            .max_instances
            .as_ref()
            .map(|m| m.span.clone())
            .or_else(|| raw.provider.span.clone());
        diags.push(
            Diagnostic::new(
                format!(
                    "the plan asks for {total} instances, more than `max_instances = {}`",
                    config.max_instances
                ),
                span,
            )
            .help(format!(
                "lower the groups' `count`, or raise `max_instances` in `[provider]` (default {DEFAULT_MAX_INSTANCES}) if you mean to pay for {total}"
            )),
        );
    }
}

/// ec2-only keys in a plan of another provider.
pub fn refuse_ec2_keys(raw: &RawPlan, diags: &mut Vec<Diagnostic>) {
    let p = &raw.provider;
    let kind = p.kind.as_ref().map_or("local", |k| k.value.as_str());
    let strings = [
        ("region", &p.region),
        ("ami", &p.ami),
        ("instance_type", &p.instance_type),
        ("key_name", &p.key_name),
        ("subnet", &p.subnet),
        ("security_group", &p.security_group),
        ("endpoint", &p.endpoint),
        ("expire_after", &p.expire_after),
        ("ssh_timeout", &p.ssh_timeout),
        ("name_tags", &p.name_tags),
    ];
    let mut spans: Vec<(&str, std::ops::Range<usize>)> = strings
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (*k, v.span.clone())))
        .collect();
    // Local plans have a `max_instances` of their own.
    if let Some(m) = p.max_instances.as_ref().filter(|_| kind != "local") {
        spans.push(("max_instances", m.span.clone()));
    }
    if let Some(s) = &p.ssh_from {
        spans.push(("ssh_from", s.span.clone()));
    }
    for g in &raw.groups {
        if let Some(v) = &g.ami {
            spans.push(("ami", v.span.clone()));
        }
        if let Some(v) = &g.instance_type {
            spans.push(("instance_type", v.span.clone()));
        }
        if let Some(v) = &g.spot {
            spans.push(("spot", v.span.clone()));
        }
    }
    for (key, span) in spans {
        diags.push(
            Diagnostic::at(
                format!("`{key}` is a key of the `ec2` provider; this plan's provider is `{kind}`"),
                span,
            )
            .help("remove it, or set `kind = \"ec2\"` in `[provider]`"),
        );
    }
}
