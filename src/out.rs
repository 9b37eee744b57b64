//! The terminal streams, as commands write them: stdout for data, stderr
//! for what is said. A closed pipe (`runner plan | head -1`) ends quietly:
//! later output is dropped and the command still finishes what it writes
//! to disk. Any other write error on stdout (a full disk behind `>`) is
//! remembered and makes the command exit 1 once it is done (`main`);
//! stderr, where that error would be said, is written when it can be.

use std::io::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);
/// The first stdout write error that was not a closed pipe.
static FAILED: Mutex<Option<String>> = Mutex::new(None);

/// Writes `text` to stdout; a closed stdout is remembered, not fatal.
pub fn write(text: &str) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            let mut failed = FAILED.lock().unwrap_or_else(|e| e.into_inner());
            failed.get_or_insert_with(|| e.to_string());
        }
    }
}

/// Why stdout could not be written (not a closed pipe), if it could not.
pub fn failure() -> Option<String> {
    FAILED.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Writes `text` to stderr; a closed or full stderr is not an error
/// worth more than the text (there is nowhere left to say it).
pub fn write_err(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// `println!` that never panics on a closed stdout.
macro_rules! outln {
    () => { $crate::out::write("\n") };
    ($($arg:tt)*) => { $crate::out::write(&format!("{}\n", format_args!($($arg)*))) };
}

/// `print!` that never panics on a closed stdout.
macro_rules! out {
    ($($arg:tt)*) => { $crate::out::write(&format!($($arg)*)) };
}

/// `eprintln!` that never panics on a closed stderr.
macro_rules! errln {
    () => { $crate::out::write_err("\n") };
    ($($arg:tt)*) => { $crate::out::write_err(&format!("{}\n", format_args!($($arg)*))) };
}

/// `eprint!` that never panics on a closed stderr.
macro_rules! err {
    ($($arg:tt)*) => { $crate::out::write_err(&format!($($arg)*)) };
}

pub(crate) use {err, errln, out, outln};
