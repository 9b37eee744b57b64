//! Whether a namespaced host's network is whole: its namespace and the
//! hub's, the hub's bridge up with its address, the host's `eth0` up with
//! its address, its port on the hub up and on the bridge (or, where a
//! delay line cuts the link, that line's ports, and the line running), its
//! loss rules where it has them. What a kill, a crash or a hand left half
//! made is found here and the host made again, never tests run on a dead
//! network. The hub's view is read once for all its hosts (a second).

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A link of a namespace as `ip -o link show` lists it.
#[derive(Debug, Clone, PartialEq)]
struct Dev {
    name: String,
    up: bool,
    master: Option<String>,
}

/// What a hub holds, read at once.
#[derive(Debug, Clone)]
struct Hub {
    devs: Vec<Dev>,
    bridge_addrs: Vec<String>,
    /// `nft list chain bridge runner forward`: the loss rules.
    rules: String,
}

fn output(args: &[&str]) -> Option<String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `3: h1@p1: <BROADCAST,MULTICAST,UP> … master br0 state …`.
fn devs(text: &str) -> Vec<Dev> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ": ");
            let _index = parts.next()?;
            let name = parts.next()?.split('@').next()?.to_string();
            let rest = parts.next()?;
            let flags = rest.strip_prefix('<')?.split('>').next()?;
            let words: Vec<&str> = rest.split_whitespace().collect();
            let master = words
                .iter()
                .position(|w| *w == "master")
                .and_then(|i| words.get(i + 1))
                .map(|m| m.to_string());
            Some(Dev {
                name,
                up: flags.split(',').any(|f| f == "UP"),
                master,
            })
        })
        .collect()
}

/// `inet 10.203.0.1/24 …` → `10.203.0.1/24`.
fn addrs(text: &str) -> Vec<String> {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == "inet")
        .map(|w| w[1].to_string())
        .collect()
}

fn read_hub(hub: &str) -> Option<Hub> {
    let devs = devs(&output(&["-n", hub, "-o", "link", "show"])?);
    let bridge_addrs =
        addrs(&output(&["-n", hub, "-o", "-4", "addr", "show", "dev", "br0"]).unwrap_or_default());
    let rules = Command::new("ip")
        .args([
            "netns", "exec", hub, "nft", "list", "chain", "bridge", "runner", "forward",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    Some(Hub {
        devs,
        bridge_addrs,
        rules,
    })
}

/// The hub's view, read at most once a second for all its hosts.
fn hub(hub: &str) -> Option<Hub> {
    static SEEN: Mutex<Option<HashMap<String, (Instant, Hub)>>> = Mutex::new(None);
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    let map = seen.get_or_insert_with(HashMap::new);
    if let Some((at, h)) = map.get(hub)
        && at.elapsed() < Duration::from_secs(1)
    {
        return Some(h.clone());
    }
    let h = read_hub(hub)?;
    map.insert(hub.to_string(), (Instant::now(), h.clone()));
    Some(h)
}

/// What is broken in host `ns`'s network (its folder `dir` records its
/// address, its delay line and whether it drops frames), if anything.
pub fn host_broken(ns: &str, hub_ns: &str, dir: &Path) -> Option<String> {
    if !crate::os::netns_path(ns).exists() {
        return Some(format!("its network namespace {ns} is gone"));
    }
    if !crate::os::netns_path(hub_ns).exists() {
        return Some(format!("the plan's hub namespace {hub_ns} is gone"));
    }
    let Some(h) = hub(hub_ns) else {
        return Some(format!("the hub namespace {hub_ns} cannot be read"));
    };
    let dev = |name: &str| h.devs.iter().find(|d| d.name == name);
    match dev("br0") {
        None => return Some("the hub's bridge br0 is gone".into()),
        Some(b) if !b.up => return Some("the hub's bridge br0 is down".into()),
        _ if h.bridge_addrs.is_empty() => {
            return Some("the hub's bridge br0 has no address".into());
        }
        _ => {}
    }
    let host = devs(&output(&["-n", ns, "-o", "link", "show", "eth0"]).unwrap_or_default());
    if !host.first().is_some_and(|d| d.up) {
        return Some("its eth0 is gone or down".into());
    }
    let address = std::fs::read_to_string(dir.join("address")).unwrap_or_default();
    let have =
        addrs(&output(&["-n", ns, "-o", "-4", "addr", "show", "dev", "eth0"]).unwrap_or_default());
    if !address.trim().is_empty()
        && !have
            .iter()
            .any(|a| a.split('/').next() == Some(address.trim()))
    {
        return Some(format!(
            "its eth0 does not have its address {}",
            address.trim()
        ));
    }
    // The route to the plan's network (the kernel's, with the address).
    if output(&["-n", ns, "-4", "route", "show", "dev", "eth0"]).is_none_or(|r| r.trim().is_empty())
    {
        return Some("its eth0 has no route to the plan's network".into());
    }
    link_broken(ns, hub_ns, dir, &h)
}

/// What is broken in host `ns`'s link on the hub: its ports, its delay
/// line, its loss rules.
fn link_broken(ns: &str, hub_ns: &str, dir: &Path, h: &Hub) -> Option<String> {
    let file_name = ns
        .strip_prefix(hub_ns.strip_suffix("hub").unwrap_or(hub_ns))
        .unwrap_or(ns);
    let (p, d, b) = super::port_names(file_name);
    let lines = std::fs::read(dir.join("delayline"))
        .ok()
        .map(|b| std::path::PathBuf::from(String::from_utf8_lossy(&b).into_owned()));
    let line = lines.is_some();
    let (on_bridge, ends) = if line {
        (b.clone(), vec![p.clone(), d, b])
    } else {
        (p.clone(), vec![p.clone()])
    };
    for e in &ends {
        match h.devs.iter().find(|x| x.name == *e) {
            None => return Some(format!("its port {e} on the hub is gone")),
            Some(x) if !x.up => return Some(format!("its port {e} on the hub is down")),
            _ => {}
        }
    }
    if h.devs
        .iter()
        .find(|x| x.name == on_bridge)
        .and_then(|x| x.master.as_deref())
        != Some("br0")
    {
        return Some(format!("its port {on_bridge} is not on the hub's bridge"));
    }
    if let Some(lines) = &lines
        && let Some(broken) = super::delay::control::broken(hub_ns, lines, &p)
    {
        return Some(broken);
    }
    if dir.join("loss").exists() {
        return loss_broken(ns, h, &p);
    }
    None
}

/// A lossy link's two rules: on the hub's bridge (tagged with its port
/// `p`) and in the host's own namespace.
fn loss_broken(ns: &str, h: &Hub, p: &str) -> Option<String> {
    if !h.rules.contains(&format!("comment \"{p}\"")) {
        return Some("its link's loss rule is gone from the hub".into());
    }
    let host_rule = Command::new("ip")
        .args([
            "netns", "exec", ns, "nft", "list", "table", "inet", "runner",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    (!host_rule.is_ok_and(|s| s.success()))
        .then(|| "its link's loss rule is gone from its namespace".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_addresses_as_ip_lists_them() {
        let text = "2: br0: <BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state UNKNOWN mode DEFAULT\\    link/ether 1a\n4: h1@p1: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop master br0 state DOWN mode DEFAULT\\    link/ether f2\n";
        assert_eq!(
            devs(text),
            [
                Dev {
                    name: "br0".into(),
                    up: true,
                    master: None
                },
                Dev {
                    name: "h1".into(),
                    up: false,
                    master: Some("br0".into())
                },
            ]
        );
        assert_eq!(
            addrs("4: br0    inet 10.203.0.1/24 brd 10.203.0.255 scope global br0"),
            ["10.203.0.1/24"]
        );
    }
}
