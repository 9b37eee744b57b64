//! Commands on the hosts the state records: `runner ping` (reachable, round
//! trip, clock offset), `runner ssh` (OpenSSH with the pinned host key) and
//! `runner inventory` (Ansible inventory or OpenSSH config).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::paths::host_file_name;
use crate::state::{HostState, HostStatus, Paths, State};

/// The state's ready hosts, in name order.
fn hosts(plan: &Path) -> Result<(Paths, Vec<(String, HostState)>)> {
    let name = super::plan_name(plan)?;
    let paths = Paths::here(&name);
    let state = State::load(&paths)?;
    let hosts: Vec<(String, HostState)> = state
        .hosts
        .into_iter()
        .filter(|(_, h)| h.status == HostStatus::Ready)
        .collect();
    if hosts.is_empty() {
        return Err(Error::msg(format!("plan `{name}` has no hosts yet"))
            .help(format!("run `runner apply {} --yes` first", plan.display())));
    }
    Ok((paths, hosts))
}

/// `known_hosts` with every host's pinned key, written beside the state.
fn write_known_hosts(paths: &Paths, hosts: &[(String, HostState)]) -> Result<PathBuf> {
    let mut text = String::new();
    for (_, h) in hosts.iter().filter(|(_, h)| !h.host_key.is_empty()) {
        let addr = if h.port == 22 {
            h.address.clone()
        } else {
            format!("[{}]:{}", h.address, h.port)
        };
        let _ = writeln!(text, "{addr} {}", h.host_key);
    }
    let path = paths.dir().join("known_hosts");
    crate::state::write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// How OpenSSH reaches a host in a network namespace: through this
/// runner, which connects from inside the namespace (`runner proxy`).
fn proxy_command(h: &HostState) -> Option<String> {
    let n = h.network()?;
    let exe = std::env::current_exe().ok()?;
    Some(format!(
        "{} proxy {} %h %p",
        crate::shell::quote(&exe.to_string_lossy()),
        n.netns
    ))
}

fn ssh_config(paths: &Paths, hosts: &[(String, HostState)]) -> Result<String> {
    let known = write_known_hosts(paths, hosts)?;
    let mut text = String::new();
    for (name, h) in hosts {
        let _ = writeln!(text, "Host {} {name}", host_file_name(name));
        let _ = writeln!(
            text,
            "  HostName {}\n  Port {}\n  User {}",
            h.address, h.port, h.user
        );
        let _ = writeln!(
            text,
            "  IdentityFile \"{}\"\n  IdentitiesOnly yes",
            h.identity.display()
        );
        let _ = writeln!(
            text,
            "  UserKnownHostsFile \"{}\"\n  GlobalKnownHostsFile /dev/null",
            known.display()
        );
        if let Some(proxy) = proxy_command(h) {
            let _ = writeln!(text, "  ProxyCommand {proxy}");
        }
        // A cloud host nothing has logged into yet: its key is accepted on
        // first connect and kept in the same file, pinned from then on.
        let strict = if h.host_key.is_empty() {
            "accept-new"
        } else {
            "yes"
        };
        let _ = writeln!(
            text,
            "  StrictHostKeyChecking {strict}\n  UpdateHostKeys no\n  CheckHostIP no\n  LogLevel ERROR\n"
        );
    }
    Ok(text)
}

/// The plan's vars for the inventory: `[all:vars]` (the plan's) and
/// `[<group>:vars]` (a group's), as Python literals (what Ansible's INI
/// inventory reads values as), so that a playbook sees them as templates
/// do: a group's over the plan's. None when the plan no longer validates
/// (said on stderr: the hosts are exported all the same).
fn plan_vars(plan: &Path) -> String {
    let base = std::env::current_dir().unwrap_or_default();
    let plan = match crate::plan::load(plan, &base) {
        Ok((p, _)) => p,
        Err(e) => {
            crate::out::errln!(
                "warning: the plan's vars are not in the inventory: {}",
                e.to_string().lines().next().unwrap_or("")
            );
            return String::new();
        }
    };
    let section = |name: &str, vars: &crate::plan::model::Vars| {
        let mut s = String::new();
        if !vars.is_empty() {
            let _ = writeln!(s, "[{name}:vars]");
            for (k, v) in vars {
                let _ = writeln!(s, "{k}={}", python_literal(v));
            }
            s.push('\n');
        }
        s
    };
    std::iter::once(section("all", &plan.vars))
        .chain(plan.groups.iter().map(|g| section(&g.name, &g.vars)))
        .collect()
}

/// A JSON value as a Python literal: `True`, `None`, `'it\'s'`, `[1, 'a']`.
fn python_literal(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let escaped: String = s
                .chars()
                .flat_map(|c| match c {
                    '\\' => vec!['\\', '\\'],
                    '\'' => vec!['\\', '\''],
                    '\n' => vec!['\\', 'n'],
                    '\r' => vec!['\\', 'r'],
                    '\t' => vec!['\\', 't'],
                    c => vec![c],
                })
                .collect();
            format!("'{escaped}'")
        }
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(python_literal)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!(
                    "{}: {}",
                    python_literal(&Value::String(k.clone())),
                    python_literal(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn ansible(paths: &Paths, hosts: &[(String, HostState)]) -> Result<String> {
    let known = write_known_hosts(paths, hosts)?;
    if hosts.iter().any(|(_, h)| h.network().is_some()) {
        // Ansible makes its ControlPath folder only when it names the path
        // itself; the inventory names it for namespaced hosts.
        if let Some(home) = std::env::var_os("HOME") {
            let cp = std::path::Path::new(&home).join(".ansible/cp");
            if fs_err::create_dir_all(&cp).is_ok() {
                use std::os::unix::fs::PermissionsExt as _;
                let _ = fs_err::set_permissions(&cp, std::fs::Permissions::from_mode(0o700));
            }
        }
    }
    let mut groups: Vec<(String, Vec<&(String, HostState)>)> = Vec::new();
    for entry in hosts {
        let group = entry.0.split('[').next().unwrap_or(&entry.0).to_string();
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, list)) => list.push(entry),
            None => groups.push((group, vec![entry])),
        }
    }
    let mut text = String::new();
    for (group, list) in groups {
        let _ = writeln!(text, "[{group}]");
        for (name, h) in list {
            let mut ssh = vec![
                format!("UserKnownHostsFile=\"{}\"", known.display()),
                "StrictHostKeyChecking=yes".to_string(),
            ];
            if let Some(p) = proxy_command(h) {
                // Hosts of two projects in namespaces may share an address:
                // their own ControlPath keeps Ansible's persistent
                // connections apart (its default is named by address).
                let ns = h.network().map_or("", |n| n.netns.as_str());
                let tag = &crate::hash::sha256_hex(ns.as_bytes())[..16];
                ssh.push(format!("ProxyCommand={p}"));
                ssh.push(format!("ControlPath=~/.ansible/cp/runner-{tag}"));
            }
            let _ = writeln!(
                text,
                "{} ansible_host={} ansible_port={} ansible_user={} ansible_ssh_private_key_file=\"{}\" ansible_ssh_common_args={} runner_host='{name}' runner_workdir=\"{}\"",
                host_file_name(name),
                h.address,
                h.port,
                h.user,
                h.identity.display(),
                ini_ssh_args(&ssh),
                h.workdir
            );
        }
        text.push('\n');
    }
    Ok(text)
}

/// `-o OPTION` for each of `options`, as an INI inventory value: Ansible
/// splits the line (shell words), then the value again before it calls
/// ssh, and ssh splits an option's value at spaces unless it is in double
/// quotes — so each option is one shell word (single quotes) in a
/// double-quoted value. Paths with spaces survive all three.
fn ini_ssh_args(options: &[String]) -> String {
    let words: Vec<String> = options
        .iter()
        .map(|o| format!("-o {}", crate::shell::quote(o)))
        .collect();
    let value = words.join(" ").replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{value}\"")
}

pub fn inventory(plan: &Path, format: crate::cli::InventoryFormat) -> Result<Exit> {
    let (paths, hosts) = hosts(plan)?;
    let text = match format {
        crate::cli::InventoryFormat::SshConfig => ssh_config(&paths, &hosts)?,
        crate::cli::InventoryFormat::Ansible => ansible(&paths, &hosts)? + &plan_vars(plan),
    };
    crate::out::out!("{text}");
    Ok(Exit::Success)
}

pub fn ssh(plan: &Path, host: &str, command: &[String]) -> Result<Exit> {
    use std::os::unix::process::CommandExt as _;
    let (paths, hosts) = hosts(plan)?;
    let Some((name, h)) = hosts
        .iter()
        .find(|(n, _)| n == host || host_file_name(n) == host)
    else {
        let names: Vec<&str> = hosts.iter().map(|(n, _)| n.as_str()).collect();
        let e = Error::msg(format!("no host `{host}` in the state"));
        return Err(e.help(
            crate::diag::did_you_mean(host, names.iter().copied())
                .unwrap_or_else(|| format!("hosts: {}", names.join(", "))),
        ));
    };
    let config = paths.dir().join("ssh_config");
    crate::state::write_atomic(&config, ssh_config(&paths, &hosts)?.as_bytes())?;
    let mut cmd = std::process::Command::new("ssh");
    cmd.arg("-F").arg(&config).arg(host_file_name(name));
    if !command.is_empty() {
        // Like every step: in the host's working directory.
        cmd.arg(format!(
            "cd {} 2>/dev/null; {}",
            crate::shell::quote(&h.workdir),
            command.join(" ")
        ));
    }
    crate::os::keep_open_files_limit(&mut cmd);
    let err = cmd.exec();
    Err(Error::msg(format!("cannot run ssh: {err}")).help("install openssh-client"))
}

struct Probe {
    rtt_ms: f64,
    offset_ms: f64,
}

pub fn ping(plan: &Path) -> Result<Exit> {
    let (_, hosts) = hosts(plan)?;
    let rt = super::runtime()?;
    let results: Vec<(String, String, std::result::Result<Probe, String>)> = rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (name, h)) in hosts.iter().enumerate() {
            let target = crate::exec::target(name, h);
            tasks.spawn(async move {
                let probe = async {
                    let session = crate::ssh::connect(target)
                        .await
                        .map_err(|e| e.to_string())?;
                    let samples = session.clock_samples(5, Duration::from_secs(5)).await;
                    session.close().await;
                    // The sample with the shortest round trip bounds the offset best.
                    let (t0, remote, t1) = samples
                        .map_err(|e| e.to_string())?
                        .into_iter()
                        .min_by(|a, b| (a.2 - a.0).total_cmp(&(b.2 - b.0)))
                        .ok_or("no clock sample")?;
                    Ok::<_, String>(Probe {
                        rtt_ms: (t1 - t0) * 1e3,
                        offset_ms: (remote - (t0 + t1) / 2.0) * 1e3,
                    })
                };
                (i, probe.await)
            });
        }
        let mut out: Vec<Option<std::result::Result<Probe, String>>> =
            (0..hosts.len()).map(|_| None).collect();
        while let Some(Ok((i, r))) = tasks.join_next().await {
            out[i] = Some(r);
        }
        hosts
            .iter()
            .zip(out)
            .map(|((n, h), r)| {
                (
                    n.clone(),
                    format!("{}:{}", h.address, h.port),
                    r.unwrap_or_else(|| Err("probe failed".into())),
                )
            })
            .collect()
    });
    crate::out::outln!(
        "{:<16} {:<22} {:<10} {:>12} {:>14}",
        "host",
        "address",
        "reachable",
        "round trip",
        "clock offset"
    );
    let mut down = 0;
    for (name, addr, r) in &results {
        match r {
            Ok(p) => crate::out::outln!(
                "{name:<16} {addr:<22} {:<10} {:>9.2} ms {:>+11.2} ms",
                "yes",
                p.rtt_ms,
                p.offset_ms
            ),
            Err(e) => {
                down += 1;
                crate::out::outln!(
                    "{name:<16} {addr:<22} {:<10} {:>12} {:>14}  {e}",
                    "no",
                    "-",
                    "-"
                );
            }
        }
    }
    Ok(if down == 0 {
        Exit::Success
    } else {
        Exit::Failure
    })
}
