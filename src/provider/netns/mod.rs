//! Local hosts on a network of their own (`[provider] network =
//! "namespaces"`): each host a network namespace with its own address,
//! joined by a veth pair to a bridge in the plan's hub namespace. A host's
//! `link` is shaped on its pair: rate with `tbf` on each end's egress (so
//! each direction), delay, jitter and loss with netem where the kernel has
//! it; where it has not, delay and jitter by a runner delay line in the hub
//! ([`delay`]) and loss by nftables in the host's namespace. Nothing in the
//! machine's own namespace changes: every link is made inside namespaces,
//! and every namespace is named `runner-<plan>.<project>-…` (`ip netns
//! list`), so that destroy finds what a kill left.

pub mod delay;
mod health;
pub mod probe;

pub use health::host_broken;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::plan::model::Link;

/// The plan's network: its namespaces' names, its addresses.
#[derive(Debug, Clone)]
pub struct Net {
    /// `runner-<plan>.<project>-`: every namespace of the plan starts so.
    prefix: String,
    pub base: Ipv4Addr,
    pub prefix_len: u8,
    /// The plan's delay line folder ([`delay::control::lines_dir`]).
    lines: PathBuf,
}

/// A command that failed: what ran, and what it said.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NetError(pub String);

type Result<T> = std::result::Result<T, NetError>;

impl Net {
    /// The network of the plan whose folder is `dir` (`.runner/<plan>`).
    pub fn new(plan: &str, dir: &Path, base: Ipv4Addr, prefix_len: u8) -> Net {
        Net {
            prefix: prefix_of(plan, dir),
            base,
            prefix_len,
            lines: delay::control::lines_dir(dir),
        }
    }

    pub fn hub(&self) -> String {
        format!("{}hub", self.prefix)
    }

    /// The namespace of host `file_name` (`client-0`).
    pub fn host(&self, file_name: &str) -> String {
        format!("{}{file_name}", self.prefix)
    }

    /// The hub's own address (probes start there).
    pub fn hub_address(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + 1)
    }

    /// The lowest address of the range that `used` does not hold (the
    /// first is the network's, the second the hub's).
    pub fn free_address(&self, used: &[Ipv4Addr]) -> Option<Ipv4Addr> {
        let size = 1u32 << (32 - self.prefix_len);
        (2..size - 1)
            .map(|i| Ipv4Addr::from(u32::from(self.base) + i))
            .find(|a| !used.contains(a))
    }

    /// The hub namespace and its bridge, if missing.
    pub fn ensure_hub(&self) -> Result<()> {
        remove_stale_probes();
        let hub = self.hub();
        let addr = format!("{}/{}", self.hub_address(), self.prefix_len);
        if crate::os::netns_path(&hub).exists() && ip(&["-n", &hub, "link", "show", "br0"]).is_ok()
        {
            // The plan's range may have changed (its hosts are made again):
            // the hub's own address follows it.
            if !bridge_has(&hub, &addr) {
                ip(&["-n", &hub, "addr", "flush", "dev", "br0"])?;
                ip(&["-n", &hub, "addr", "add", &addr, "dev", "br0"])?;
            }
            // Up, whatever a kill between its making and this left.
            ip(&["-n", &hub, "link", "set", "lo", "up"])?;
            ip(&["-n", &hub, "link", "set", "br0", "up"])?;
            return ipv4_only(&hub);
        }
        // Half-made (a kill), or gone: made again, what runs in it stopped
        // first — and the plan's delay line, wherever the old hub left it.
        stop_processes(&hub);
        if let Some(pid) = delay::control::named(&self.lines.join("pid"), Some(&hub)) {
            crate::os::terminate(&[pid], std::time::Duration::from_secs(2));
        }
        let _ = ip(&["netns", "del", &hub]);
        ip(&["netns", "add", &hub])?;
        ipv4_only(&hub)?;
        for args in [
            vec!["-n", &hub, "link", "set", "lo", "up"],
            vec!["-n", &hub, "link", "add", "br0", "type", "bridge"],
            vec!["-n", &hub, "addr", "add", &addr, "dev", "br0"],
            vec!["-n", &hub, "link", "set", "br0", "up"],
        ] {
            ip(&args)?;
        }
        Ok(())
    }

    /// Host `file_name`'s namespace at `addr`, joined to the hub through
    /// its link, shaped. `dir` keeps what destroy needs (the delay line's pid).
    pub fn add_host(
        &self,
        file_name: &str,
        addr: Ipv4Addr,
        link: Option<&Link>,
        dir: &Path,
    ) -> Result<()> {
        let ns = self.host(file_name);
        let hub = self.hub();
        // What an earlier life of this host left (a kill, a failed make, a
        // state lost): gone first — what runs in it too, as destroy does —
        // so that nothing is made twice nor left running unnamed.
        clear_host(&hub, file_name, Some(&self.lines));
        stop_processes(&ns);
        let _ = ip(&["netns", "del", &ns]);
        ip(&["netns", "add", &ns])?;
        ipv4_only(&ns)?;
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        let (h, d, b) = port_names(file_name);
        // eth0's MAC from the host's name: a host made again keeps it, so
        // that what its peers and the hub learned of it (ARP) stays true.
        let mac = mac_of(file_name);
        ip(&[
            "-n", &hub, "link", "add", &h, "type", "veth", "peer", "name", "eth0", "address", &mac,
            "netns", &ns,
        ])?;
        // netem delays where the kernel has it, unless the link has jitter:
        // netem's jitter reorders packets, runner's delay line keeps them in
        // order, and a plan means the same on every kernel.
        let netem = link.is_some_and(uses_netem);
        let line = link.filter(|l| l.delay_us.is_some() && !netem);
        if line.is_some() {
            // host eth0 ⇄ h (hub) ═ delay line ═ d ⇄ b (bridge port)
            ip(&[
                "-n", &hub, "link", "add", &d, "type", "veth", "peer", "name", &b,
            ])?;
            ip(&["-n", &hub, "link", "set", &b, "master", "br0"])?;
            for i in [&d, &b] {
                ip(&["-n", &hub, "link", "set", i, "up"])?;
            }
        } else {
            ip(&["-n", &hub, "link", "set", &h, "master", "br0"])?;
        }
        ip(&["-n", &hub, "link", "set", &h, "up"])?;
        let cidr = format!("{addr}/{}", self.prefix_len);
        ip(&["-n", &ns, "addr", "add", &cidr, "dev", "eth0"])?;
        ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        let Some(l) = link else {
            return Ok(());
        };
        if let Some(l) = line {
            self.delay_line(&ns, file_name, l, dir)?;
        }
        for (space, dev) in [(&ns, "eth0"), (&hub, h.as_str())] {
            for cmd in shaping(l, dev, netem) {
                let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
                tool_in(space, &args)?;
            }
        }
        if let (Some(loss), false) = (l.loss, netem) {
            let port = if line.is_some() { &b } else { &h };
            drop_at_random(&ns, &hub, port, &h, loss)?;
            // Refresh checks the rule is still there.
            std::fs::write(dir.join("loss"), "").map_err(|e| NetError(e.to_string()))?;
        }
        Ok(())
    }
}

impl Net {
    /// Host `file_name`'s link (namespace `ns`) served by the plan's delay
    /// line, between its hub port and the bridge's.
    fn delay_line(&self, ns: &str, file_name: &str, l: &Link, dir: &Path) -> Result<()> {
        let hub = self.hub();
        let (h, d, b) = port_names(file_name);
        for (space, dev) in [
            (ns, "eth0"),
            (&hub, h.as_str()),
            (&hub, d.as_str()),
            (&hub, b.as_str()),
        ] {
            offloads_off(space, dev)?;
        }
        // The host's folder says where its line is (refresh, destroy).
        std::fs::write(
            dir.join("delayline"),
            self.lines.as_os_str().as_encoded_bytes(),
        )
        .map_err(|e| NetError(e.to_string()))?;
        delay::control::serve(&hub, &self.lines, (&h, &d), l).map_err(|e| NetError(e.to_string()))
    }
}

/// `runner-<plan>.<project>-`: the project is the plan folder's path (a
/// hash of it), so that two checkouts of one plan never share a name; the
/// `.`, which no plan name has, so that plan `a` never takes plan `a-b`'s
/// namespaces for its own.
fn prefix_of(plan: &str, dir: &Path) -> String {
    format!("runner-{plan}.{}-", project_of(dir))
}

fn project_of(dir: &Path) -> String {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    crate::hash::sha256_hex(abs.to_string_lossy().as_bytes())[..6].to_string()
}

/// The namespaces the plan's host folders under `dir` name (`netns`,
/// `hub`): how names an older runner gave (`runner-<plan>-<project>-…`)
/// are found exactly.
fn recorded(dir: &Path) -> Vec<String> {
    let Ok(hosts) = std::fs::read_dir(dir.join("hosts")) else {
        return Vec::new();
    };
    let mut out: Vec<String> = hosts
        .flatten()
        .flat_map(|h| ["netns", "hub"].map(|f| std::fs::read_to_string(h.path().join(f))))
        .flatten()
        .map(|n| n.trim().to_string())
        .filter(|n| n.starts_with("runner-") && !n.contains('/'))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Every namespace of plan `plan` (folder `dir`), and every delay line in
/// them, gone: what destroy leaves, whatever the state says (also what a
/// kill left). The names removed.
pub fn remove_plan(plan: &str, dir: &Path) -> Vec<String> {
    remove_stale_probes();
    let prefix = prefix_of(plan, dir);
    let recorded = recorded(dir);
    let ours: Vec<String> = namespaces()
        .into_iter()
        .filter(|n| n.starts_with(&prefix) || recorded.contains(n))
        .collect();
    // Everything inside them, delay lines (in the hub) included.
    for name in &ours {
        stop_processes(name);
        let _ = ip(&["netns", "del", name]);
    }
    let _ = std::fs::remove_dir_all(delay::control::lines_dir(dir));
    ours
}

/// The plan's hub gone, with every port of every host in one batch (the
/// kernel removes a namespace's interfaces together; one by one, each
/// waits its turn for the kernel's lock: minutes at 1,000 hosts). What a
/// destroy does first; its hosts' namespaces follow.
pub fn remove_hub(plan: &str, dir: &Path) {
    // Its name now, and the one the hosts' folders record (an older
    // runner's `runner-<plan>-<project>-hub`), while they are there.
    let mut hubs = vec![format!("{}hub", prefix_of(plan, dir))];
    hubs.extend(recorded(dir).into_iter().filter(|n| n.ends_with("-hub")));
    for hub in hubs {
        if crate::os::netns_path(&hub).exists() {
            stop_processes(&hub);
            let _ = ip(&["netns", "del", &hub]);
        }
    }
}

/// IPv6 off in namespace `ns` (for the interfaces made after): the
/// network is IPv4, and IPv6's own chatter (neighbour discovery, MLD) of
/// every new interface would flood every port of the bridge, through every
/// delay line — quadratic in the number of hosts.
fn ipv4_only(ns: &str) -> Result<()> {
    tool_in(
        ns,
        &[
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ],
    )
}

/// Host `ns` gone: its delay line stopped (pid in `dir`), what it had in
/// the hub (its veth ends, its loss rule) removed, its namespace deleted.
pub fn remove_host(ns: &str, hub: Option<&str>, dir: &Path) {
    // An older runner's line of this host alone (its pid in `dir`).
    if let Some(pid) = old_delay_line(dir, hub) {
        crate::os::terminate(&[pid], std::time::Duration::from_secs(2));
    }
    let lines = std::fs::read(dir.join("delayline"))
        .ok()
        .map(|b| PathBuf::from(String::from_utf8_lossy(&b).into_owned()));
    if let Some(hub) = hub
        && let Some(file_name) = hub.strip_suffix("hub").and_then(|p| ns.strip_prefix(p))
    {
        clear_host(hub, file_name, lines.as_deref());
    }
    stop_processes(ns);
    let _ = ip(&["netns", "del", ns]);
}

/// A host's MAC address: locally administered, unicast, from its name.
fn mac_of(file_name: &str) -> String {
    let h = crate::hash::sha256_hex(format!("mac {file_name}").as_bytes());
    format!(
        "02:{}:{}:{}:{}:{}",
        &h[0..2],
        &h[2..4],
        &h[4..6],
        &h[6..8],
        &h[8..10]
    )
}

/// The hub's ends of host `file_name`'s link: `h` (its veth's peer), and
/// where a delay line cuts the link, `d` ⇄ `b` (the bridge port).
pub(super) fn port_names(file_name: &str) -> (String, String, String) {
    // 15 bytes at most (the kernel's limit): a letter and 14 hex digits,
    // so that two hosts of a plan never share a name.
    let id = &crate::hash::sha256_hex(file_name.as_bytes())[..14];
    (format!("h{id}"), format!("d{id}"), format!("b{id}"))
}

/// Host `file_name`'s part of the hub removed: its delay line, its veth
/// pairs (deleting one end deletes the other; done here rather than left
/// to the namespace's deletion, which the kernel finishes later), and its
/// loss rule on the bridge. Absent parts are no error.
fn clear_host(hub: &str, file_name: &str, lines: Option<&Path>) {
    let (h, d, _) = port_names(file_name);
    if let Some(lines) = lines {
        delay::control::unserve(lines, &h);
    }
    stop_delay_line_of(hub, &h);
    for dev in [&h, &d] {
        let _ = ip(&["-n", hub, "link", "del", dev]);
    }
    let Ok(out) = Command::new("ip")
        .args([
            "netns", "exec", hub, "nft", "-a", "list", "chain", "bridge", "runner", "forward",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    else {
        return;
    };
    let tag = format!("comment \"{h}\"");
    for line in String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&tag))
    {
        if let Some(handle) = line.rsplit("# handle ").next().map(str::trim) {
            let _ = nft(
                hub,
                &format!("delete rule bridge runner forward handle {handle}\n"),
            );
        }
    }
}

/// Every process left in namespace `ns` stopped (what a test or a step
/// started there and left running, a daemon such as `iperf3 -D`): a
/// namespace runner made belongs to the plan, and so does what runs in it.
fn stop_processes(ns: &str) {
    let pids = pids_in(ns);
    if !pids.is_empty() {
        crate::os::terminate(&pids, std::time::Duration::from_secs(2));
    }
}

/// The processes inside namespace `ns` (`ip netns pids`: those whose
/// network namespace is that one): a plan's processes, whatever their
/// command lines say, and no other plan's.
fn pids_in(ns: &str) -> Vec<u32> {
    let Ok(out) = Command::new("ip")
        .args(["netns", "pids", ns])
        .stdin(Stdio::null())
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The namespaces `ip netns` knows.
pub fn namespaces() -> Vec<String> {
    std::fs::read_dir("/var/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `ip ARGS`; its stderr is the error.
fn ip(args: &[&str]) -> Result<()> {
    tool("ip", args)
}

fn tool(prog: &str, args: &[&str]) -> Result<()> {
    let out = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| NetError(format!("cannot run `{prog}`: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NetError(format!(
            "`{prog} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// `tc …` (or another tool: `cmd[0]`) run inside namespace `ns`.
fn tool_in(ns: &str, cmd: &[&str]) -> Result<()> {
    let mut args = vec!["netns", "exec", ns];
    args.extend(cmd);
    tool("ip", &args)
}

/// The qdiscs that shape `dev`'s egress for `link`: `tbf` for the rate;
/// netem for delay, jitter and loss where the kernel has it (tbf then its
/// child). Pure, so that the netem path is checked where netem is missing.
pub fn shaping(link: &Link, dev: &str, netem: bool) -> Vec<Vec<String>> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    let mut out = Vec::new();
    let delayed = netem && (link.delay_us.is_some() || link.loss.is_some());
    let mut parent = vec!["root".to_string()];
    if delayed {
        let mut cmd = s(&[
            "tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", "netem",
        ]);
        if let Some(d) = link.delay_us {
            cmd.extend(s(&["delay", &format!("{d}us")]));
            // No distribution table: netem's jitter is then uniform
            // (iproute2 ships no `uniform.dist` to name).
            if let Some(j) = link.jitter_us.filter(|&j| j > 0) {
                cmd.push(format!("{j}us"));
            }
        }
        if let Some(p) = link.loss {
            cmd.extend(s(&[
                "loss",
                &format!("{}%", crate::plan::model::percent(p)),
            ]));
        }
        // A queue long enough for the link's delay at any rate it carries.
        cmd.extend(s(&["limit", "100000"]));
        out.push(cmd);
        parent = s(&["parent", "1:1", "handle", "10:"]);
    }
    if let Some(rate) = link.rate_bps {
        // Burst: 10 ms of traffic, at least two frames; a queue of 100 ms.
        let burst = (rate / 8 / 100).max(3028);
        let mut cmd = s(&["tc", "qdisc", "add", "dev", dev]);
        cmd.extend(parent);
        cmd.extend(s(&[
            "tbf",
            "rate",
            &format!("{rate}bit"),
            "burst",
            &burst.to_string(),
            "latency",
            "100ms",
        ]));
        out.push(cmd);
    }
    out
}

/// Whether this kernel has netem: tried once, in a namespace of no name
/// (`unshare --net`), which ends with the `tc` that tries — nothing a kill
/// could leave behind.
pub fn has_netem() -> bool {
    static NETEM: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *NETEM.get_or_init(|| {
        if std::env::var("RUNNER_NO_NETEM").is_ok_and(|v| !v.is_empty() && v != "0") {
            return false;
        }
        tool(
            "unshare",
            &[
                "--net", "--", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
            ],
        )
        .is_ok()
    })
}

/// Namespaces an older runner named `runner-probe-<time>-<pid>-<n>` to
/// try netem in, left by a kill: removed once the runner that made each
/// is gone.
pub fn remove_stale_probes() {
    for ns in namespaces() {
        let Some(rest) = ns.strip_prefix("runner-probe-") else {
            continue;
        };
        let pid = rest
            .split('-')
            .nth(1)
            .and_then(|p| u32::from_str_radix(p, 16).ok());
        if pid.is_some_and(|p| !crate::os::is_alive(p)) {
            stop_processes(&ns);
            let _ = ip(&["netns", "del", &ns]);
        }
    }
}

/// Whether `link` is shaped by netem: the kernel has it, and the link has
/// no jitter (netem's jitter reorders; runner's delay line keeps order).
pub fn uses_netem(link: &Link) -> bool {
    has_netem() && link.jitter_us.unwrap_or(0) == 0
}

/// Whether bridge `br0` in `hub` has address `addr` (`a.b.c.d/len`).
fn bridge_has(hub: &str, addr: &str) -> bool {
    Command::new("ip")
        .args(["-n", hub, "-4", "-o", "addr", "show", "dev", "br0"])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .any(|w| w == addr)
        })
}

/// Whole frames, full checksums: what a packet socket must see.
fn offloads_off(ns: &str, dev: &str) -> Result<()> {
    tool_in(
        ns,
        &[
            "ethtool", "-K", dev, "tx", "off", "tso", "off", "gso", "off", "gro", "off",
        ],
    )
}

/// Loss without netem, silent as a wire's: nftables drops each frame with
/// probability `loss` as it arrives — in the host's namespace on its way
/// in (`eth0`), and on the hub's bridge on its way out (from `port`, the
/// host's bridge port). Dropping on the host's own way out would fail the
/// sender's `send` (EPERM), which no link does.
/// The hub's rule carries the host's tag (`comment`), by which
/// [`clear_host`] finds it.
fn drop_at_random(ns: &str, hub: &str, port: &str, tag: &str, loss: f64) -> Result<()> {
    let per_million = (loss * 1e6).round() as u64;
    let rule = format!("numgen random mod 1000000 < {per_million} drop");
    let host = format!(
        "table inet runner {{\n  chain input {{ type filter hook input priority 0; iifname \"eth0\" {rule}; }}\n}}\n"
    );
    nft(ns, &host)?;
    // One table on the hub for every host: `add` makes it once.
    let bridge = format!(
        "add table bridge runner\nadd chain bridge runner forward {{ type filter hook forward priority 0; }}\nadd rule bridge runner forward iifname \"{port}\" {rule} comment \"{tag}\"\n"
    );
    nft(hub, &bridge)
}

/// `nft -f -` with `rules`, inside namespace `ns`.
fn nft(ns: &str, rules: &str) -> Result<()> {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| NetError(format!("cannot run `nft`: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        let _ = stdin.write_all(rules.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| NetError(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NetError(format!(
            "`nft` failed in {ns}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// The delay line of one host an older runner started (its pid in `dir`),
/// if it is still ours (its command line names the hub).
fn old_delay_line(dir: &Path, hub: Option<&str>) -> Option<u32> {
    delay::control::recorded(&dir.join("delayline.pid"), hub)
}

/// An older runner's delay line of port `h` in `hub`, if one runs (one
/// process per host, `delay-line HUB h d …`): looked for only among the
/// processes inside the hub, the plan's own namespace.
fn stop_delay_line_of(hub: &str, h: &str) {
    let needle = format!(" {hub} {h} ");
    let pids: Vec<u32> = pids_in(hub)
        .into_iter()
        .filter(|&p| {
            crate::os::cmdline(p).is_some_and(|c| c.contains(" delay-line ") && c.contains(&needle))
        })
        .collect();
    if !pids.is_empty() {
        crate::os::terminate(&pids, std::time::Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netem_where_the_kernel_has_it_else_tbf_alone() {
        let l = Link {
            rate_bps: Some(50_000_000),
            delay_us: Some(20_000),
            jitter_us: Some(2_000),
            loss: Some(0.005),
        };
        let with: Vec<String> = shaping(&l, "eth0", true)
            .iter()
            .map(|c| c.join(" "))
            .collect();
        assert_eq!(
            with,
            [
                "tc qdisc add dev eth0 root handle 1: netem delay 20000us 2000us loss 0.5% limit 100000",
                "tc qdisc add dev eth0 parent 1:1 handle 10: tbf rate 50000000bit burst 62500 latency 100ms",
            ]
        );
        let without: Vec<String> = shaping(&l, "eth0", false)
            .iter()
            .map(|c| c.join(" "))
            .collect();
        assert_eq!(
            without,
            ["tc qdisc add dev eth0 root tbf rate 50000000bit burst 62500 latency 100ms"]
        );
        assert!(shaping(&Link::default(), "eth0", false).is_empty());
    }

    #[test]
    fn addresses_skip_the_network_and_the_hub() {
        let n = Net::new("p", Path::new("/tmp/x"), Ipv4Addr::new(10, 9, 0, 0), 30);
        assert_eq!(n.hub_address(), Ipv4Addr::new(10, 9, 0, 1));
        assert_eq!(n.free_address(&[]), Some(Ipv4Addr::new(10, 9, 0, 2)));
        assert_eq!(n.free_address(&[Ipv4Addr::new(10, 9, 0, 2)]), None);
        assert!(n.hub().starts_with("runner-p.") && n.hub().ends_with("-hub"));
        // A plan whose name extends this one never shares the prefix.
        let longer = Net::new("p-1", Path::new("/tmp/x"), Ipv4Addr::new(10, 9, 0, 0), 30);
        assert!(!longer.hub().starts_with(&n.hub().replace("hub", "")));
    }
}
