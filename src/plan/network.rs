//! `[provider] network` (`loopback`, the default, or `namespaces`) and
//! `addresses` of local hosts, and each group's `link` (every host of the
//! group) or `links` (host by host): rate, delay, jitter, loss.

use std::net::Ipv4Addr;

use super::model::{Link, Network, Provider};
use super::syntax::{RawGroup, RawLink, RawPlan, Sp};
use crate::diag::Diagnostic;

/// The hosts' addresses when the plan does not say.
pub const DEFAULT_ADDRESSES: &str = "10.203.0.0/16";

pub fn network(raw: &RawPlan, provider: &Provider, diags: &mut Vec<Diagnostic>) -> Network {
    let kind = raw.provider.network.as_ref();
    match kind.map(|k| k.value.as_str()) {
        None | Some("loopback") => {
            if let Some(a) = &raw.provider.addresses {
                diags.push(
                    Diagnostic::at(
                        "`addresses` is for `network = \"namespaces\"`",
                        a.span.clone(),
                    )
                    .help("add `network = \"namespaces\"` to `[provider]`, or remove `addresses`"),
                );
            }
            Network::Loopback
        }
        Some("namespaces") if !provider.on_this_machine() => {
            diags.push(
                Diagnostic::at(
                    format!(
                        "`network = \"namespaces\"` is for local hosts, not `{}`",
                        provider.name()
                    ),
                    kind.map_or(0..0, |k| k.span.clone()),
                )
                .help("namespaces put local hosts on a shaped network on this machine"),
            );
            Network::Loopback
        }
        Some("namespaces") => addresses(raw, diags),
        Some(other) => {
            diags.push(super::values::unknown(
                "network",
                other,
                kind.map_or(0..0, |k| k.span.clone()),
                &["loopback", "namespaces"],
            ));
            Network::Loopback
        }
    }
}

/// `addresses = "10.203.0.0/16"`: a private range no route of this machine
/// covers (the hosts' network is its own, reached through namespaces).
fn addresses(raw: &RawPlan, diags: &mut Vec<Diagnostic>) -> Network {
    let written = raw.provider.addresses.as_ref();
    let text = written.map_or(DEFAULT_ADDRESSES, |a| a.value.as_str());
    let span = written
        .map(|a| a.span.clone())
        .or(raw.provider.span.clone());
    let (base, prefix) = match parse_cidr(text) {
        Ok(range) => range,
        Err(why) => {
            diags.push(
                Diagnostic::new(
                    format!("`addresses = \"{text}\"` is not an IPv4 range"),
                    span,
                )
                .help(why.to_string()),
            );
            return Network::Loopback;
        }
    };
    let hosts: usize = raw
        .groups
        .iter()
        .map(|g| g.count.as_ref().map_or(0, |c| c.value.max(0) as usize))
        .sum();
    if let Some((dest, p, what)) = RESERVED
        .iter()
        .find(|&&(dest, p, _)| overlaps((base, prefix), (dest, p)))
    {
        diags.push(
            Diagnostic::new(
                format!("`addresses = \"{text}\"` overlaps {dest}/{p}, {what}"),
                span.clone(),
            )
            .help("hosts need unicast addresses of a network of their own: use a private range, e.g. `10.213.0.0/16`, `172.29.0.0/16` or `192.168.213.0/24`"),
        );
    }
    if hosts > MAX_BRIDGED {
        diags.push(
            Diagnostic::new(
                format!("{hosts} hosts in namespaces: a plan's bridge holds at most {MAX_BRIDGED}"),
                raw.provider.span.clone(),
            )
            .help(
                "a Linux bridge has at most 1,024 ports: use fewer hosts, or the loopback network",
            ),
        );
    }
    let room = (1usize << (32 - prefix)).saturating_sub(3);
    if hosts > room {
        let s = if room == 1 { "" } else { "s" };
        diags.push(
            Diagnostic::new(
                format!(
                    "`addresses = \"{text}\"` has room for {room} host{s}, the plan asks for {hosts}"
                ),
                span.clone(),
            )
            .help("give a larger range (a shorter prefix)"),
        );
    }
    if let Some((dest, p)) = crate::os::ipv4_routes()
        .into_iter()
        .filter(|&(_, p)| p > 0)
        .find(|&(dest, p)| overlaps((base, prefix), (dest, p)))
    {
        diags.push(
            Diagnostic::new(
                format!("`addresses = \"{text}\"` overlaps {dest}/{p}, a route of this machine"),
                span,
            )
            .help("the hosts' network must be one this machine does not reach: set `addresses` in `[provider]` to a free private range, e.g. `10.213.0.0/16`"),
        );
    }
    Network::Namespaces { base, prefix }
}

/// Hosts of one plan in namespaces: each is a port of the hub's bridge.
const MAX_BRIDGED: usize = 1000;

/// Ranges no host can be given: (base, prefix, what it is).
const RESERVED: [(Ipv4Addr, u8, &str); 5] = [
    (
        Ipv4Addr::new(0, 0, 0, 0),
        8,
        "\"this network\" (not an address a host can have)",
    ),
    (
        Ipv4Addr::new(127, 0, 0, 0),
        8,
        "loopback (each namespace has its own)",
    ),
    (Ipv4Addr::new(169, 254, 0, 0), 16, "link-local addresses"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast addresses"),
    (
        Ipv4Addr::new(240, 0, 0, 0),
        4,
        "reserved addresses (and broadcast)",
    ),
];

/// `10.203.0.0/16` → (base, 16), a prefix from /8 to /30. A range
/// written with host bits set (`10.99.0.5/24`) is an error that names
/// the range it would be.
pub fn parse_cidr(text: &str) -> Result<(Ipv4Addr, u8), BadRange> {
    let net: ipnet::Ipv4Net = text.trim().parse().map_err(|_| BadRange::NotARange)?;
    if !(8..=30).contains(&net.prefix_len()) {
        return Err(BadRange::Prefix(net.prefix_len()));
    }
    if net.addr() != net.network() {
        return Err(BadRange::HostBits(net.trunc()));
    }
    Ok((net.network(), net.prefix_len()))
}

/// Why `addresses` is not a range runner can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadRange {
    #[error("write a range as `10.203.0.0/16` (a prefix from /8 to /30)")]
    NotARange,
    #[error("a prefix from /8 to /30, not /{0}")]
    Prefix(u8),
    #[error("it has host bits set: the range is `{0}`")]
    HostBits(ipnet::Ipv4Net),
}

fn overlaps(a: (Ipv4Addr, u8), b: (Ipv4Addr, u8)) -> bool {
    let p = a.1.min(b.1);
    let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
    u32::from(a.0) & mask == u32::from(b.0) & mask
}

/// Each host's link of group `g` (`count` hosts): `links[i]` over `link`.
pub fn links(
    g: &RawGroup,
    count: usize,
    network: &Network,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Option<Link>> {
    let written = g.link.is_some() || g.links.is_some();
    if written && *network == Network::Loopback {
        let span = g
            .link
            .as_ref()
            .map(|l| l.span.clone())
            .or_else(|| g.links.as_ref().map(|l| l.span.clone()));
        diags.push(
            Diagnostic::new(
                format!("group `{}` has a link, but the hosts are on loopback", g.name.value),
                span,
            )
            .help("links are shaped between network namespaces: add `network = \"namespaces\"` to `[provider]`"),
        );
        // Its values are checked all the same: every error at once.
        for l in g.link.iter().chain(g.links.iter().flat_map(|l| &l.value)) {
            let _ = link(l, diags);
        }
        return vec![None; count];
    }
    if let (Some(_), Some(list)) = (&g.link, &g.links) {
        diags.push(
            Diagnostic::at(
                format!("group `{}` has both `link` and `links`", g.name.value),
                list.span.clone(),
            )
            .help(
                "`link` shapes every host of the group alike, `links` each host its own: keep one",
            ),
        );
    }
    let group = g.link.as_ref().and_then(|l| link(l, diags));
    let mut out = vec![group; count];
    if let Some(list) = &g.links {
        if list.value.len() != count {
            diags.push(
                Diagnostic::at(
                    format!(
                        "group `{}` lists {} links for {count} hosts",
                        g.name.value,
                        list.value.len()
                    ),
                    list.span.clone(),
                )
                .help("`links` gives each host its own link, in index order: one per host"),
            );
        }
        for (i, l) in list.value.iter().enumerate().take(count) {
            out[i] = link(l, diags);
        }
    }
    out
}

/// One link, validated; `None` when it shapes nothing.
fn link(l: &RawLink, diags: &mut Vec<Diagnostic>) -> Option<Link> {
    let mut out = Link::default();
    if let Some(r) = &l.rate {
        match parse_rate(&r.value) {
            Ok(bps) => out.rate_bps = Some(bps),
            Err(e @ crate::units::Error::AmbiguousBps { .. }) => {
                diags.push(bad(r, "rate", &e.to_string()))
            }
            Err(e) => diags.push(bad(
                r,
                "rate",
                &format!("{e}; write a rate as tc does: `50mbit`, `1gbit`, `500kbit`"),
            )),
        }
    }
    let micros = |d: &Option<Sp<String>>, key: &str, diags: &mut Vec<Diagnostic>| {
        let d = d.as_ref()?;
        match humantime::parse_duration(d.value.trim()) {
            Ok(v) if v <= std::time::Duration::from_secs(10) => Some(v.as_micros() as u64),
            Ok(_) => {
                diags.push(bad(d, key, "at most 10s"));
                None
            }
            Err(_) => {
                diags.push(bad(d, key, "write a duration such as `20ms`"));
                None
            }
        }
    };
    out.delay_us = micros(&l.delay, "delay", diags);
    out.jitter_us = micros(&l.jitter, "jitter", diags);
    if let (Some(j), Some(span)) = (out.jitter_us, &l.jitter)
        && j > out.delay_us.unwrap_or(0)
    {
        diags.push(bad(span, "jitter", "jitter is at most the link's `delay` (each packet's delay is uniform in delay ± jitter)"));
    }
    if let Some(p) = &l.loss {
        match p
            .value
            .trim()
            .strip_suffix('%')
            .map(|v| v.trim().parse::<f64>())
        {
            Some(Ok(v)) if (0.0..100.0).contains(&v) => out.loss = Some(v / 100.0),
            _ => diags.push(bad(
                p,
                "loss",
                "write loss as a percentage below 100, e.g. `\"0.5%\"`",
            )),
        }
    }
    (!out.is_empty()).then_some(out)
}

fn bad(v: &Sp<String>, key: &str, help: &str) -> Diagnostic {
    Diagnostic::at(
        format!("invalid link `{key}` `{}`", v.value),
        v.span.clone(),
    )
    .help(help.to_string())
}

/// A link's rate (`50mbit`, `2.5Gbit/s`, `800000`), as every rate is read
/// (`units::parse_rate`), from 8kbit to 1000gbit → bit/s.
pub fn parse_rate(text: &str) -> Result<u64, crate::units::Error> {
    match crate::units::parse_rate(text)? {
        v if (8000.0..=1e12).contains(&v) => Ok(v.round() as u64),
        _ => Err(crate::units::Error::OutOfRange {
            text: text.to_string(),
            low: "8kbit",
            high: "1000gbit",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_ranges_and_overlaps() {
        assert_eq!(parse_rate("50mbit"), Ok(50_000_000));
        assert_eq!(parse_rate("2.5Gbit/s"), Ok(2_500_000_000));
        assert_eq!(parse_rate("500kbit"), Ok(500_000));
        assert!(parse_rate("fast").is_err());
        assert!(
            parse_rate("50mbps")
                .unwrap_err()
                .to_string()
                .contains("ambiguous")
        );
        assert_eq!(
            parse_cidr("10.203.0.0/16"),
            Ok((Ipv4Addr::new(10, 203, 0, 0), 16))
        );
        assert!(
            parse_cidr("10.203.4.5/16")
                .unwrap_err()
                .to_string()
                .contains("`10.203.0.0/16`")
        );
        assert!(parse_cidr("10.0.0.0/31").is_err());
        let r = |a: &str| parse_cidr(a).unwrap();
        assert!(overlaps(r("10.203.0.0/16"), r("10.203.7.0/24")));
        assert!(!overlaps(r("10.203.0.0/16"), r("10.204.0.0/16")));
    }
}
