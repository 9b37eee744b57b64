//! `runner proxy NETNS HOST PORT` (hidden): OpenSSH's `ProxyCommand` for a
//! local host in a network namespace. The connection is made from inside
//! the namespace (this machine has no route to it), then stdin goes to it
//! and what it sends to stdout.

use std::io::{Read as _, Write as _};

use crate::error::{Error, Result};
use crate::exit::Exit;

pub fn run(netns: &str, host: &str, port: u16) -> Result<Exit> {
    let ip: std::net::IpAddr = host
        .parse()
        .map_err(|_| Error::msg(format!("`{host}` is not an address")))?;
    let path = crate::os::netns_path(netns);
    let stream = crate::os::connect_in_netns(
        &path,
        std::net::SocketAddr::new(ip, port),
        std::time::Duration::from_secs(20),
    )
    .map_err(|e| Error::msg(format!("cannot reach {host}:{port} in {netns}: {e}")))?;
    let mut up = stream.try_clone()?;
    let mut down = stream;
    let to_host = std::thread::spawn(move || {
        let mut buf = [0u8; 32 * 1024];
        let mut stdin = std::io::stdin().lock();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || up.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = up.shutdown(std::net::Shutdown::Write);
    });
    let mut buf = [0u8; 32 * 1024];
    let mut stdout = std::io::stdout().lock();
    while let Ok(n) = down.read(&mut buf) {
        if n == 0 || stdout.write_all(&buf[..n]).is_err() || stdout.flush().is_err() {
            break;
        }
    }
    drop(to_host);
    Ok(Exit::Success)
}
