//! One thread of the delay line: the directions it was given, each frame
//! read from one interface (an `AF_PACKET` socket, whole Ethernet frames)
//! and sent out of the other once its delay has passed. One `epoll` for
//! every socket it reads and its command queue; it sleeps until a socket
//! has a frame, a command comes, or the next frame is due (`epoll_pwait2`:
//! nanoseconds). Each frame's delay is uniform in delay ± jitter, and
//! frames leave in the order they came (never before the one ahead).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::os::fd::OwnedFd;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::event::{EventfdFlags, epoll, eventfd};
use rustix::io::Errno;

/// Frames held at most per direction (a full line drops, like a full queue).
const QUEUE: usize = 65_536;

/// Frames read from one socket before the others get their turn.
const BURST: usize = 64;

/// How long a frame may wait past its time before it is dropped: the
/// line's queue (as long as tbf's, 100 ms), so that a line that cannot keep
/// up (its interface's queue full behind a rate, or the CPU) drops like a
/// full queue instead of holding seconds of frames.
const LATE: Duration = Duration::from_millis(100);

/// The epoll key of the command queue's eventfd.
const COMMANDS: u64 = u64::MAX;

/// One way of a link: frames from `from` leave by `to`.
pub struct Direction {
    /// The link's name (its file's): what removes it.
    pub link: String,
    pub from: Arc<OwnedFd>,
    pub to: Arc<OwnedFd>,
    pub delay: Duration,
    pub jitter: Duration,
}

pub enum Command {
    Add(Direction),
    /// Every direction of this link.
    Remove(String),
}

/// A direction being served: its frames waiting, each with its time to leave.
struct Served {
    d: Direction,
    queue: VecDeque<(Instant, Vec<u8>)>,
    /// When the last frame queued leaves (the next never leaves before).
    last: Instant,
    /// Which life of the slot (a removed direction's slot is reused).
    life: u64,
}

/// A worker's handle: where its commands go.
pub struct Handle {
    tx: Sender<Command>,
    wake: Arc<OwnedFd>,
}

impl Handle {
    pub fn send(&self, c: Command) {
        if self.tx.send(c).is_ok() {
            let _ = rustix::io::write(&*self.wake, &1u64.to_ne_bytes());
        }
    }
}

/// Starts a worker; the links whose sockets failed (an interface gone)
/// are pushed on `dead`.
pub fn start(dead: Arc<Mutex<Vec<String>>>) -> std::io::Result<Handle> {
    let wake = Arc::new(eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?);
    let (tx, rx) = std::sync::mpsc::channel();
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC)?;
    epoll::add(
        &ep,
        &*wake,
        epoll::EventData::new_u64(COMMANDS),
        epoll::EventFlags::IN,
    )?;
    let mut w = Worker {
        ep,
        wake: wake.clone(),
        rx,
        dead,
        slots: Vec::new(),
        due: BinaryHeap::new(),
        lives: 0,
        buf: vec![0u8; 65_536],
    };
    std::thread::spawn(move || w.run(&mut rand::rng()));
    Ok(Handle { tx, wake })
}

struct Worker {
    ep: OwnedFd,
    wake: Arc<OwnedFd>,
    rx: Receiver<Command>,
    dead: Arc<Mutex<Vec<String>>>,
    slots: Vec<Option<Served>>,
    /// The head of each direction with frames: (due, slot, life).
    due: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    lives: u64,
    buf: Vec<u8>,
}

impl Worker {
    fn run(&mut self, rng: &mut rand::rngs::ThreadRng) {
        let mut events = Vec::with_capacity(256);
        loop {
            let timeout = self.due.peek().map(|Reverse((at, _, _))| {
                let d = at.saturating_duration_since(Instant::now());
                rustix::event::Timespec {
                    tv_sec: d.as_secs() as i64,
                    tv_nsec: i64::from(d.subsec_nanos()),
                }
            });
            events.clear();
            match epoll::wait(
                &self.ep,
                rustix::buffer::spare_capacity(&mut events),
                timeout.as_ref(),
            ) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(_) => return,
            }
            for ev in &events {
                match ev.data.u64() {
                    COMMANDS => {
                        if !self.commands() {
                            return;
                        }
                    }
                    slot => self.read(slot as usize, rng),
                }
            }
            self.send_due();
        }
    }

    /// The commands queued; false once the daemon is gone.
    fn commands(&mut self) -> bool {
        let mut n = [0u8; 8];
        let _ = rustix::io::read(&*self.wake, &mut n);
        loop {
            match self.rx.try_recv() {
                Ok(Command::Add(d)) => self.add(d),
                Ok(Command::Remove(link)) => self.remove(&link),
                Err(std::sync::mpsc::TryRecvError::Empty) => return true,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn add(&mut self, d: Direction) {
        let slot = self
            .slots
            .iter()
            .position(Option::is_none)
            .unwrap_or_else(|| {
                self.slots.push(None);
                self.slots.len() - 1
            });
        let added = epoll::add(
            &self.ep,
            &*d.from,
            epoll::EventData::new_u64(slot as u64),
            epoll::EventFlags::IN,
        );
        if added.is_err() {
            self.dead
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(d.link);
            return;
        }
        self.lives += 1;
        self.slots[slot] = Some(Served {
            d,
            queue: VecDeque::new(),
            last: Instant::now(),
            life: self.lives,
        });
    }

    fn remove(&mut self, link: &str) {
        for slot in 0..self.slots.len() {
            if self.slots[slot].as_ref().is_some_and(|s| s.d.link == link) {
                self.drop_slot(slot);
            }
        }
    }

    fn drop_slot(&mut self, slot: usize) {
        if let Some(s) = self.slots[slot].take() {
            let _ = epoll::delete(&self.ep, &*s.d.from);
        }
    }

    /// Frames waiting on a direction's socket (a burst at most), each
    /// stamped with its time to leave.
    fn read(&mut self, slot: usize, rng: &mut rand::rngs::ThreadRng) {
        use rand::RngExt as _;
        for _ in 0..BURST {
            let Some(s) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
                return;
            };
            let got = rustix::net::recv(
                &*s.d.from,
                &mut self.buf[..],
                rustix::net::RecvFlags::DONTWAIT,
            );
            let n = match got {
                Ok((n, _)) => n,
                Err(Errno::AGAIN | Errno::INTR) => return,
                Err(_) => {
                    // The interface is gone: the link is dead.
                    let link = s.d.link.clone();
                    self.drop_slot(slot);
                    self.dead
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(link);
                    return;
                }
            };
            let now = Instant::now();
            let d = if s.d.jitter.is_zero() {
                s.d.delay
            } else {
                let j = s.d.jitter.as_nanos() as i64;
                let off = rng.random_range(-j..=j);
                Duration::from_nanos((s.d.delay.as_nanos() as i64 + off).max(0) as u64)
            };
            if s.queue.len() >= QUEUE {
                continue;
            }
            // In order: never before the frame ahead of it.
            let due = (now + d).max(s.last);
            s.last = due;
            if s.queue.is_empty() {
                self.due.push(Reverse((due, slot, s.life)));
            }
            s.queue.push_back((due, self.buf[..n].to_vec()));
        }
    }

    /// Every frame whose time has come, sent (or dropped if far too late).
    fn send_due(&mut self) {
        let now = Instant::now();
        while let Some(&Reverse((at, slot, life))) = self.due.peek() {
            if at > now {
                return;
            }
            self.due.pop();
            let Some(s) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
                continue;
            };
            if s.life != life {
                continue;
            }
            let Some((due, frame)) = s.queue.pop_front() else {
                continue;
            };
            if now.saturating_duration_since(due) <= LATE {
                // A frame the interface refuses (too big, down, its queue
                // full): dropped, as a wire would.
                let _ = rustix::net::send(&*s.d.to, &frame, rustix::net::SendFlags::DONTWAIT);
            }
            if let Some(&(next, _)) = s.queue.front() {
                self.due.push(Reverse((next, slot, life)));
            }
        }
    }
}

/// Which worker serves each link (by name): a stable spread.
pub fn index_of(link: &str, direction: usize, workers: usize) -> usize {
    let h: u64 = link.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    (h as usize).wrapping_add(direction) % workers.max(1)
}
