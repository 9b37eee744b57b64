//! `runner proxy NETNS HOST PORT` (hidden): OpenSSH's `ProxyCommand` for a
//! local host in a network namespace (this machine has no route to it):
//! the connection is made from inside the namespace.

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
