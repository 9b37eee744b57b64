//! A host's link as measured at a trial's start, between runner's own
//! namespaces: the round trip from the hub to the host (a TCP connect to
//! its sshd: one SYN, one SYN-ACK; the median of 5), and with a shaped
//! rate, the rate that reaches the host from the hub (its downstream).

use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

/// What a probe found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measured {
    pub rtt_ms: f64,
    pub rate_bps: Option<f64>,
    /// The probe could not send faster than the link (one thread, 0.3 s
    /// of 1400-byte datagrams: a few hundred Mbit/s here): `rate_bps` is
    /// then what the probe reached, a lower bound of the link's rate.
    pub rate_at_least: bool,
}

/// How long the rate probe sends.
const SEND_FOR: Duration = Duration::from_millis(300);

/// Probes host namespace `ns` at `addr` from `hub`.
pub fn measure(
    hub: &str,
    ns: &str,
    addr: Ipv4Addr,
    rate: Option<u64>,
) -> std::io::Result<Measured> {
    let hub_path = crate::os::netns_path(hub);
    let mut rtts = Vec::new();
    for _ in 0..5 {
        let to = SocketAddr::from((addr, 22));
        let t = crate::os::in_netns(&hub_path, move || {
            let start = Instant::now();
            let s = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
            let rtt = start.elapsed();
            drop(s);
            Ok(rtt)
        })?;
        rtts.push(t.as_secs_f64() * 1000.0);
    }
    rtts.sort_by(f64::total_cmp);
    let (rate_bps, rate_at_least) = match rate {
        Some(r) => {
            let (got, sent) = rate_to(&hub_path, &crate::os::netns_path(ns), addr, r)?;
            // Sent at less than 1.2 × the link: the link was not the limit.
            (Some(got), sent < 1.2 * r as f64)
        }
        None => (None, false),
    };
    Ok(Measured {
        rtt_ms: rtts[rtts.len() / 2],
        rate_bps,
        rate_at_least,
    })
}

/// Bit/s that reach the host from the hub: UDP datagrams sent at 1.5 ×
/// the link's rate for 0.3 s, counted as they arrive (first to last). Not
/// TCP: a short TCP transfer over a long, lossy link measures slow start.
/// Also the rate the probe offered (bit/s on the wire): what it could send,
/// whether the link took it or pushed back.
fn rate_to(hub: &Path, host: &Path, addr: Ipv4Addr, rate: u64) -> std::io::Result<(f64, f64)> {
    let socket = crate::os::in_netns(host, move || UdpSocket::bind((addr, 0)))?;
    let to = socket.local_addr()?;
    let receiver = std::thread::spawn(move || -> std::io::Result<f64> {
        socket.set_read_timeout(Some(Duration::from_millis(500)))?;
        let mut buf = vec![0u8; 2048];
        let (mut first, mut last, mut bytes) = (None, Instant::now(), 0u64);
        loop {
            match socket.recv(&mut buf) {
                Ok(n) => {
                    let now = Instant::now();
                    if first.is_none() {
                        first = Some(now);
                    } else {
                        // Bytes on the wire: IP and UDP headers, Ethernet framing.
                        bytes += n as u64 + 28 + 14;
                    }
                    last = now;
                }
                Err(e)
                    if first.is_some()
                        && matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                {
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        let secs = first.map_or(0.0, |f| (last - f).as_secs_f64());
        Ok(if secs > 0.0 {
            bytes as f64 * 8.0 / secs
        } else {
            0.0
        })
    });
    let sent = crate::os::in_netns(hub, move || {
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        s.connect(to)?;
        // A full queue must not pace the sender to the link: what it
        // offered, not what got through, says whether it was the limit.
        s.set_nonblocking(true)?;
        let datagram = vec![0u8; 1400];
        let per_ms = (rate as f64 * 1.5 / 8.0 / 1000.0 / 1442.0).ceil().max(1.0) as usize;
        let start = Instant::now();
        let (mut tick, mut offered) = (0u32, 0u64);
        while start.elapsed() < SEND_FOR {
            for _ in 0..per_ms {
                // A full queue drops (or pushes back): that is the point.
                match s.send(&datagram) {
                    Ok(_) => offered += 1442,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => offered += 1442,
                    Err(_) => {}
                }
            }
            tick += 1;
            let next = start + Duration::from_millis(u64::from(tick));
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        Ok(offered as f64 * 8.0 / start.elapsed().as_secs_f64())
    })?;
    let got = receiver
        .join()
        .map_err(|_| std::io::Error::other("the rate probe's receiver panicked"))??;
    Ok((got, sent))
}
