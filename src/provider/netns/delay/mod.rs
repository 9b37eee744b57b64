//! The delay line of shaped links where the kernel has no netem (or the
//! link has jitter): one runner process per plan (`runner delay-line HUB
//! DIR`, hidden) in the plan's hub namespace serves every link of the plan
//! — for each, two interfaces, every frame arriving on one sent out of the
//! other once its delay has passed, both directions ([`worker`]: one event
//! loop per core, up to four, every link's directions spread over them).
//! Offloads must be off on the interfaces (whole frames, full checksums):
//! `netns` sees to it.
//!
//! Its links are files in DIR (`.runner/<plan>/delay-lines/`), one per
//! link, named after the link's hub port (`h…`): `A B DELAY_US JITTER_US
//! NONCE`. The line watches DIR (inotify) and serves what the files say;
//! once it serves a link, `up/<name>` holds the link's nonce (or `NONCE
//! error: …`), which is how runner knows ([`control`]). A line started
//! again (after a kill) serves every link its files name: nothing else is
//! needed to bring it back. It ends when DIR is removed, or with the hub.

pub mod control;
mod worker;

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustix::fs::inotify;

/// One link as its file says.
#[derive(Debug, Clone, PartialEq)]
struct Spec {
    a: String,
    b: String,
    delay: Duration,
    jitter: Duration,
    nonce: String,
}

impl Spec {
    fn parse(text: &str) -> Option<Spec> {
        let w: Vec<&str> = text.split_whitespace().collect();
        let [a, b, delay, jitter, nonce] = w[..] else {
            return None;
        };
        Some(Spec {
            a: a.to_string(),
            b: b.to_string(),
            delay: Duration::from_micros(delay.parse().ok()?),
            jitter: Duration::from_micros(jitter.parse().ok()?),
            nonce: nonce.to_string(),
        })
    }

    fn text(&self) -> String {
        format!(
            "{} {} {} {} {}\n",
            self.a,
            self.b,
            self.delay.as_micros(),
            self.jitter.as_micros(),
            self.nonce
        )
    }
}

/// Whether `name` in DIR is a link's file (not `up`, `pid`, a temporary).
fn is_link(name: &str) -> bool {
    name.starts_with('h') && name.len() > 1 && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Runs the plan's delay line (hub namespace `netns`, links in `dir`)
/// until `dir` is removed or the process is killed.
pub fn run(netns: &str, dir: &Path) -> io::Result<()> {
    crate::os::enter_netns_now(&crate::os::netns_path(netns))?;
    let dead = Arc::new(Mutex::new(Vec::new()));
    let n = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let workers = (0..n)
        .map(|_| worker::start(dead.clone()))
        .collect::<io::Result<Vec<_>>>()?;
    let watch = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)?;
    use inotify::WatchFlags as W;
    inotify::add_watch(
        &watch,
        dir,
        W::MOVED_TO
            | W::MOVED_FROM
            | W::DELETE
            | W::CLOSE_WRITE
            | W::DELETE_SELF
            | W::MOVE_SELF
            | W::ONLYDIR,
    )?;
    let up = dir.join("up");
    let _ = std::fs::remove_dir_all(&up);
    std::fs::create_dir_all(&up)?;
    let mut lines = Lines {
        dir: dir.to_path_buf(),
        up,
        workers,
        open: HashMap::new(),
    };
    lines.scan_all();
    let mut buf = vec![MaybeUninit::<u8>::uninit(); 65_536];
    loop {
        let mut fds = [rustix::event::PollFd::new(
            &watch,
            rustix::event::PollFlags::IN,
        )];
        let second = rustix::event::Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        let _ = rustix::event::poll(&mut fds, Some(&second));
        let (touched, all, gone) = changes(&watch, &mut buf);
        if gone || !dir.is_dir() {
            return Ok(());
        }
        if all {
            lines.scan_all();
        } else {
            for name in touched {
                lines.look_at(&name);
            }
        }
        let died = std::mem::take(&mut *dead.lock().unwrap_or_else(|e| e.into_inner()));
        for key in died {
            lines.died(&key);
        }
    }
}

/// The link files that changed since last asked; whether every file must
/// be read again (the kernel's queue overflowed); whether DIR is gone.
fn changes<Fd: std::os::fd::AsFd>(
    watch: Fd,
    buf: &mut [MaybeUninit<u8>],
) -> (BTreeSet<String>, bool, bool) {
    use inotify::ReadFlags as R;
    let mut touched = BTreeSet::new();
    let (mut all, mut gone) = (false, false);
    let mut reader = inotify::Reader::new(watch, buf);
    while let Ok(ev) = reader.next() {
        let flags = ev.events();
        all |= flags.contains(R::QUEUE_OVERFLOW);
        gone |= flags.intersects(R::DELETE_SELF | R::MOVE_SELF | R::IGNORED);
        if let Some(name) = ev.file_name().map(|n| n.to_string_lossy().into_owned())
            && is_link(&name)
        {
            touched.insert(name);
        }
    }
    (touched, all, gone)
}

/// The links being served.
struct Lines {
    dir: PathBuf,
    up: PathBuf,
    workers: Vec<worker::Handle>,
    /// By file name: what is served.
    open: HashMap<String, Spec>,
}

impl Lines {
    fn scan_all(&mut self) {
        let mut names: BTreeSet<String> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| is_link(n))
                    .collect()
            })
            .unwrap_or_default();
        names.extend(self.open.keys().cloned());
        for name in names {
            self.look_at(&name);
        }
    }

    /// Serves what link file `name` says now (nothing if it is gone).
    fn look_at(&mut self, name: &str) {
        let spec = std::fs::read_to_string(self.dir.join(name))
            .ok()
            .and_then(|t| Spec::parse(&t));
        if self.open.get(name) == spec.as_ref() {
            return;
        }
        self.close(name);
        match spec {
            None => {
                let _ = std::fs::remove_file(self.up.join(name));
            }
            Some(s) => {
                let said = match self.open_link(name, &s) {
                    Ok(()) => s.nonce.clone(),
                    Err(e) => format!("{} error: {e}", s.nonce),
                };
                self.say(name, &said);
            }
        }
    }

    fn open_link(&mut self, name: &str, s: &Spec) -> io::Result<()> {
        let a = Arc::new(crate::os::packet_socket(&s.a)?);
        let b = Arc::new(crate::os::packet_socket(&s.b)?);
        let key = format!("{name} {}", s.nonce);
        for (k, (from, to)) in [(a.clone(), b.clone()), (b, a)].into_iter().enumerate() {
            let w = worker::index_of(name, k, self.workers.len());
            self.workers[w].send(worker::Command::Add(worker::Direction {
                link: key.clone(),
                from,
                to,
                delay: s.delay,
                jitter: s.jitter,
            }));
        }
        self.open.insert(name.to_string(), s.clone());
        Ok(())
    }

    fn close(&mut self, name: &str) {
        if let Some(s) = self.open.remove(name) {
            let key = format!("{name} {}", s.nonce);
            for w in &self.workers {
                w.send(worker::Command::Remove(key.clone()));
            }
        }
    }

    /// A link whose socket failed (its interface deleted): no longer up.
    fn died(&mut self, key: &str) {
        let Some((name, nonce)) = key.split_once(' ') else {
            return;
        };
        if self.open.get(name).is_some_and(|s| s.nonce == nonce) {
            self.close(name);
            self.say(name, &format!("{nonce} error: its interface is gone"));
        }
    }

    /// `up/<name>` := `what`, at once (a rename).
    fn say(&self, name: &str, what: &str) {
        let tmp = self.up.join(format!(".{name}"));
        if std::fs::write(&tmp, what).is_ok() {
            let _ = std::fs::rename(&tmp, self.up.join(name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_file_reads_back_as_written() {
        let s = Spec {
            a: "h0123".into(),
            b: "d0123".into(),
            delay: Duration::from_micros(20_000),
            jitter: Duration::from_micros(500),
            nonce: "x1".into(),
        };
        assert_eq!(Spec::parse(&s.text()), Some(s));
        assert_eq!(Spec::parse("h1 d1 20000"), None);
        assert_eq!(Spec::parse("h1 d1 x 0 n"), None);
        assert!(is_link("h0123abcd") && !is_link("up") && !is_link(".h01") && !is_link("h"));
    }
}
