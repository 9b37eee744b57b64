//! The hidden commands of namespaced local hosts: `runner proxy NETNS HOST
//! PORT`, OpenSSH's `ProxyCommand` for a host in a network namespace (this
//! machine has no route to it: the connection is made from inside the
//! namespace); `runner delay-line`, a shaped link's delay line.

use crate::error::{Error, Result};
use crate::exit::Exit;

pub fn run(netns: &str, host: &str, port: u16) -> Result<Exit> {
    let ip: std::net::IpAddr = host
        .parse()
        .map_err(|_| Error::msg(format!("`{host}` is not an address")))?;
    let addr = std::net::SocketAddr::new(ip, port);
    crate::ssh::proxy(netns, addr, std::io::stdin(), std::io::stdout().lock())
        .map_err(|e| Error::msg(format!("cannot reach {host}:{port} in {netns}: {e}")))?;
    Ok(Exit::Success)
}

/// `runner delay-line NETNS DIR`: the plan's delay line, serving the
/// links DIR names, until DIR is removed or it is killed.
pub fn delay_line(netns: &str, dir: &std::path::Path) -> Result<Exit> {
    crate::provider::netns::delay::run(netns, dir)?;
    Ok(Exit::Success)
}
