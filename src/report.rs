//! The only terminal writer during apply: one line per finished node on
//! stderr, never remote output (that goes to per-host, per-step log files).

use std::io::Write as _;
use std::time::Duration;

use crate::diff::{Action, Change};
use crate::exec::{Event, Events, Failure, Report};

#[derive(Default)]
pub struct Reporter;

impl Events for Reporter {
    fn event(&self, e: Event<'_>) {
        use crate::style::{Verbosity, verbosity};
        match e {
            // Progress: quiet leaves it out; errors always get through.
            Event::Line(text) if verbosity() == Verbosity::Quiet && !text.starts_with("error") => {}
            Event::Done { .. } if verbosity() == Verbosity::Quiet => {}
            Event::Line(text) => Reporter::line(self, format!("{}{text}", crate::style::stamp())),
            Event::Done { change, elapsed } => Reporter::node_done(self, change, elapsed),
            Event::Failed {
                change,
                failure,
                elapsed,
            } => Reporter::node_failed(self, change, failure, elapsed),
        }
    }
}

impl Reporter {
    pub fn line(&self, text: String) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{text}");
    }

    pub fn node_done(&self, change: &Change, elapsed: Duration) {
        let verb = match change.action {
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
    }

    pub fn node_failed(&self, change: &Change, failure: &Failure, elapsed: Duration) {
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
            text.push_str(&format!("\n      log: {}", crate::state::shown(log)));
        }
        self.line(text);
    }

    /// The closing summary; names every failure with its host, step, status and log.
    pub fn summary(&self, verb: &str, report: &Report) {
        let count = |a: Action| report.succeeded.iter().filter(|&&x| x == a).count();
        let counts = format!(
            "{} added, {} changed, {} replaced, {} destroyed",
            count(Action::Create),
            count(Action::Update),
            count(Action::Replace),
            count(Action::Destroy)
        );
        let notes: String = report.notes.iter().map(|n| format!("\n  {n}")).collect();
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
                text.push_str(&format!("\n          log: {}", crate::state::shown(log)));
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
