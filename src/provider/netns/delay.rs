//! The delay line of a shaped link where the kernel has no netem: a
//! runner process (`runner delay-line`, hidden) in the plan's hub
//! namespace that reads every frame arriving on one interface (an
//! `AF_PACKET` socket, whole Ethernet frames) and sends it out of the other
//! once its delay has passed, both directions. Each frame's delay is
//! uniform in delay ± jitter, and frames leave in the order they came
//! (a frame never leaves before the one ahead of it). Offloads must be off
//! on the interfaces (whole frames, full checksums): `netns` sees to it.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

/// Frames held at most per direction (a full line drops, like a full queue).
const QUEUE: usize = 65_536;

/// Runs the line between interfaces `a` and `b` of namespace `netns` until
/// killed.
pub fn run(
    netns: &str,
    a: &str,
    b: &str,
    delay: Duration,
    jitter: Duration,
) -> std::io::Result<()> {
    crate::os::enter_netns_now(&crate::os::netns_path(netns))?;
    let sa = Arc::new(crate::os::packet_socket(a)?);
    let sb = Arc::new(crate::os::packet_socket(b)?);
    let one = direction(sa.clone(), sb.clone(), delay, jitter);
    let other = direction(sb, sa, delay, jitter);
    // Each direction runs until a socket fails (an interface gone).
    let _ = one.join();
    let _ = other.join();
    Ok(())
}

/// Frames from `from` to `to`: a reader that stamps each with its time
/// to leave, and a sender that waits for it.
fn direction(
    from: Arc<OwnedFd>,
    to: Arc<OwnedFd>,
    delay: Duration,
    jitter: Duration,
) -> std::thread::JoinHandle<()> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<(Instant, Vec<u8>)>(QUEUE);
    std::thread::spawn(move || send_when_due(&to, rx));
    std::thread::spawn(move || {
        let _ = read_and_stamp(&from, &tx, delay, jitter);
    })
}

fn read_and_stamp(
    from: &OwnedFd,
    tx: &SyncSender<(Instant, Vec<u8>)>,
    delay: Duration,
    jitter: Duration,
) -> std::io::Result<()> {
    use rand::RngExt as _;
    let mut rng = rand::rng();
    let mut buf = vec![0u8; 65_536];
    let mut last = Instant::now();
    loop {
        let (n, _) = rustix::net::recv(from, &mut buf[..], rustix::net::RecvFlags::empty())?;
        let now = Instant::now();
        let d = if jitter.is_zero() {
            delay
        } else {
            let j = jitter.as_nanos() as i64;
            let off = rng.random_range(-j..=j);
            Duration::from_nanos((delay.as_nanos() as i64 + off).max(0) as u64)
        };
        // In order: never before the frame ahead of it.
        let due = (now + d).max(last);
        last = due;
        match tx.try_send((due, buf[..n].to_vec())) {
            Ok(()) | Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected(_)) => return Ok(()),
        }
    }
}

/// How long a frame may wait past its time before it is dropped: the
/// line's queue (as long as tbf's, 100 ms), so that a line that cannot keep
/// up (its interface's queue full behind a rate, or the CPU) drops like a
/// full queue instead of holding seconds of frames.
const LATE: Duration = Duration::from_millis(100);

fn send_when_due(to: &OwnedFd, rx: Receiver<(Instant, Vec<u8>)>) {
    for (due, frame) in rx {
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        } else if now - due > LATE {
            continue;
        }
        if rustix::net::send(to, &frame, rustix::net::SendFlags::empty()).is_err() {
            // A frame the interface refuses (too big, down): dropped, as a wire would.
            continue;
        }
    }
}
