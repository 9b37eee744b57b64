//! The reporter: the only terminal writer during apply. One line per
//! finished node on stderr, the executor's lines (warnings, trial progress)
//! as they come, live bars on a terminal, the closing summary; never
//! remote output (that goes to per-host, per-step log files).

use std::io::Write as _;
use std::time::Duration;

use crate::diff::{Action, Change, ChangeId, Phase};
use crate::exec::{Applied, Event, Events, Failure};

#[derive(Default)]
pub struct Reporter {
    bars: Option<Bars>,
}

/// Live progress on a terminal: a bar per phase, finished nodes and
/// failures printed above them as they happen.
struct Bars {
    mp: indicatif::MultiProgress,
    phases: Vec<(Phase, indicatif::ProgressBar)>,
}

/// The phase a change belongs to, by its id.
impl Reporter {
    /// With live bars when stderr is a terminal and `-q` is not given.
    pub fn for_changes(changes: &crate::diff::Changes) -> Reporter {
        use std::io::IsTerminal as _;
        if !std::io::stderr().is_terminal()
            || crate::style::verbosity() == crate::style::Verbosity::Quiet
        {
            return Reporter::default();
        }
        let mp = indicatif::MultiProgress::new();
        let style =
            indicatif::ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> ");
        let mut phases = Vec::new();
        for phase in Phase::ALL {
            let n = changes
                .changes
                .iter()
                .filter(|c| c.id.phase() == phase)
                .count();
            if n == 0 {
                continue;
            }
            let pb = mp.add(indicatif::ProgressBar::new(n as u64));
            pb.set_style(style.clone());
            pb.set_prefix(phase.name());
            phases.push((phase, pb));
        }
        Reporter {
            bars: Some(Bars { mp, phases }),
        }
    }

    fn advance(&self, id: &ChangeId) {
        if let Some(b) = &self.bars
            && let Some((_, pb)) = b.phases.iter().find(|(p, _)| *p == id.phase())
        {
            pb.inc(1);
        }
    }

    /// Counts down to the trigger, then to the last test's end.
    fn trial_armed(&self, trigger: f64, end: f64) {
        let Some(pb) = self
            .bars
            .as_ref()
            .and_then(|b| b.phases.iter().find(|(p, _)| *p == Phase::Trial))
            .map(|(_, pb)| pb.clone())
        else {
            return;
        };
        std::thread::spawn(move || {
            while !pb.is_finished() {
                let now = crate::os::now();
                let msg = if now < trigger {
                    format!("armed: tests start in {:.1} s", trigger - now)
                } else if now < end {
                    format!(
                        "tests running; {:.0} s at most to go (their timeouts)",
                        end - now
                    )
                } else {
                    break;
                };
                pb.set_message(msg);
                std::thread::sleep(Duration::from_millis(200));
            }
            pb.set_message(String::new());
        });
    }

    /// Ends the bars before the summary.
    fn finish_bars(&self) {
        if let Some(b) = &self.bars {
            for (_, pb) in &b.phases {
                pb.finish_and_clear();
            }
            let _ = b.mp.clear();
        }
    }
}

impl Events for Reporter {
    fn event(&self, e: Event<'_>) {
        use crate::style::{Verbosity, verbosity};
        match e {
            Event::TrialArmed { trigger, end } => self.trial_armed(trigger, end),
            // Progress: quiet leaves it out; errors always get through.
            Event::Line(text) if verbosity() == Verbosity::Quiet && !text.starts_with("error") => {}
            Event::Done { .. } if verbosity() == Verbosity::Quiet => {}
            Event::Line(text) => self.line(format!("{}{text}", crate::style::stamp())),
            Event::Done { change, elapsed } => self.node_done(change, elapsed),
            Event::Failed {
                change,
                failure,
                elapsed,
            } => self.node_failed(change, failure, elapsed),
        }
    }
}

impl Reporter {
    /// Writes a line to stderr, above the bars if there are any.
    pub fn line(&self, text: String) {
        if let Some(b) = &self.bars {
            let _ = b.mp.println(&text);
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{text}");
    }

    fn node_done(&self, change: &Change, elapsed: Duration) {
        let verb = match change.action {
            _ if matches!(change.work, crate::diff::Work::Forget(_)) => "forgotten",
            Action::Create => "created",
            Action::Update => "updated",
            Action::Replace => "replaced",
            Action::Destroy => "destroyed",
        };
        let symbol = change.action.symbol();
        let mut text = format!(
            "{}{} {}: {verb} ({:.2}s)",
            crate::style::stamp(),
            crate::style::err(&format!("{symbol:>3}"), crate::style::of_symbol(symbol)),
            change.id,
            elapsed.as_secs_f64()
        );
        if crate::style::verbosity() == crate::style::Verbosity::Verbose
            && !change.reason.is_empty()
        {
            text.push_str(&format!(" — {}", change.reason));
        }
        self.line(text);
        self.advance(&change.id);
    }

    fn node_failed(&self, change: &Change, failure: &Failure, elapsed: Duration) {
        let mut text = format!(
            "{}{:>3} {}: {}: {} ({:.2}s)",
            crate::style::stamp(),
            change.action.symbol(),
            change.id,
            crate::style::err("FAILED", crate::style::Color::Red),
            failure.message,
            elapsed.as_secs_f64()
        );
        if let Some(log) = &failure.log {
            text.push_str(&format!("\n      log: {}", crate::paths::shown(log)));
        }
        self.line(text);
        self.advance(&change.id);
    }

    /// The closing summary; names every failure with its host, step, status and log.
    pub fn summary(&self, verb: &str, report: &Applied) {
        self.finish_bars();
        let count = |a: Action| report.succeeded.iter().filter(|&&x| x == a).count();
        let counts = format!(
            "{} added, {} changed, {} replaced, {} destroyed",
            count(Action::Create),
            count(Action::Update),
            count(Action::Replace),
            count(Action::Destroy)
        );
        let notes: String = report.notes.iter().map(|n| format!("\n  {n}")).collect();
        if report.complete() && report.checks_failed > 0 {
            let head = crate::style::err(
                &format!(
                    "{verb} complete, but {} check{} failed:",
                    report.checks_failed,
                    if report.checks_failed == 1 { "" } else { "s" }
                ),
                crate::style::Color::Red,
            );
            self.line(format!("\n{head} {counts}.{notes}"));
            return;
        }
        if report.complete() {
            let head = crate::style::err(&format!("{verb} complete:"), crate::style::Color::Green);
            self.line(format!("\n{head} {counts}.{notes}"));
            return;
        }
        let head = crate::style::err(&format!("{verb} incomplete:"), crate::style::Color::Red);
        let mut text = format!("\n{head} {counts}");
        if !report.failures.is_empty() {
            text.push_str(&format!("; {} failed", report.failures.len()));
        }
        if report.skipped > 0 {
            text.push_str(&format!(
                "; {} skipped because something they depend on failed",
                report.skipped
            ));
        }
        if report.abandoned > 0 {
            text.push_str(&format!("; {} abandoned", report.abandoned));
            if report.stopped_remote > 0 {
                text.push_str(&format!(
                    " (their commands stopped on the hosts: {} step{})",
                    report.stopped_remote,
                    if report.stopped_remote == 1 { "" } else { "s" }
                ));
            }
        }
        if report.not_started > 0 {
            text.push_str(&format!("; {} not started", report.not_started));
        }
        text.push('.');
        text.push_str(&notes);
        if let Some(e) = &report.state_error {
            text.push_str(&format!(
                "\n  error: {e}\n  the apply stopped: free the space or fix the permissions, then run `runner apply PLAN` again"
            ));
        }
        for f in &report.failures {
            if f.host.is_empty() || f.host == "-" {
                text.push_str(&format!("\n  failed: {}: {}", f.what, f.message));
            } else {
                text.push_str(&format!(
                    "\n  failed: {} on `{}`: {}",
                    f.what, f.host, f.message
                ));
            }
            if let Some(log) = &f.log {
                text.push_str(&format!("\n          log: {}", crate::paths::shown(log)));
            }
        }
        if report.interrupted {
            text.push_str(
                "\n  interrupted: the state is saved; run `runner apply PLAN` again to finish",
            );
        }
        self.line(text);
    }
}
