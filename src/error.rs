//! The error a command ends with. Each stage names its own failures
//! (`plan::Error`, `state::Error`, `ssh::Error`, `provider::Error`), each
//! carrying the file, host or step it concerns; this is their sum at the
//! edge. Text is made once, here, with the `help:` that says what to do,
//! and each kind is given its exit status.

use std::fmt;

use crate::exit::Exit;

#[derive(Debug)]
pub enum Error {
    /// Plan diagnostics, as data, and what the command did not do because
    /// of them (`nothing was planned`; default: `the plan has errors`).
    Diagnostics {
        report: Box<crate::diag::Report>,
        outcome: Option<&'static str>,
    },
    Plan(crate::plan::Error),
    State(crate::state::Error),
    Ssh(crate::ssh::Error),
    Provider(crate::provider::Error),
    /// A file outside the state (its message names it: fs_err).
    Io(std::io::Error),
    /// Anything else: the message, and what to do.
    Message {
        message: String,
        help: Option<String>,
    },
}

impl Error {
    pub fn msg(message: impl Into<String>) -> Self {
        Error::Message {
            message: message.into(),
            help: None,
        }
    }

    /// A plan's diagnostics as this command ends with them: `outcome`
    /// says what it did not do (`nothing was planned`).
    pub fn outcome(self, outcome: &'static str) -> Self {
        match self {
            Error::Diagnostics { report, .. } => Error::Diagnostics {
                report,
                outcome: Some(outcome),
            },
            other => other,
        }
    }

    /// The same error with `help` as what to do (replacing any other).
    pub fn help(self, help: impl Into<String>) -> Self {
        match self {
            Error::Diagnostics { .. } => self,
            other => Error::Message {
                message: other.message(),
                help: Some(help.into()),
            },
        }
    }

    /// The exit status a command ends with on this error.
    pub fn code(&self) -> Exit {
        match self {
            Error::Diagnostics { .. }
            | Error::Plan(_)
            | Error::State(_)
            | Error::Ssh(_)
            | Error::Provider(_)
            | Error::Io(_)
            | Error::Message { .. } => Exit::Failure,
        }
    }

    /// The message without its help.
    fn message(&self) -> String {
        match self {
            Error::Diagnostics { report, outcome } => report
                .render(outcome.unwrap_or("the plan has errors"))
                .trim_end()
                .to_string(),
            Error::Plan(e) => e.to_string(),
            Error::State(e) => e.to_string(),
            Error::Ssh(e) => e.to_string(),
            Error::Provider(e) => e.to_string(),
            Error::Io(e) => e.to_string(),
            Error::Message { message, .. } => message.clone(),
        }
    }

    fn help_text(&self) -> Option<String> {
        match self {
            Error::Plan(e) => e.help(),
            Error::State(e) => e.help(),
            Error::Message { help, .. } => help.clone(),
            _ => None,
        }
    }

    /// The error as the command ends with it: one `error:` prefix.
    pub fn render(&self) -> String {
        match self {
            Error::Diagnostics { .. } => self.to_string(),
            _ => format!("error: {self}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())?;
        if let Some(help) = self.help_text() {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Plan(e) => Some(e),
            Error::State(e) => Some(e),
            Error::Ssh(e) => Some(e),
            Error::Provider(e) => Some(e),
            Error::Io(e) => Some(e),
            Error::Diagnostics { .. } | Error::Message { .. } => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<crate::state::Error> for Error {
    fn from(e: crate::state::Error) -> Self {
        Error::State(e)
    }
}

impl From<crate::plan::Error> for Error {
    fn from(e: crate::plan::Error) -> Self {
        match e {
            crate::plan::Error::Invalid(report) => Error::Diagnostics {
                report,
                outcome: None,
            },
            other => Error::Plan(other),
        }
    }
}

impl From<crate::ssh::Error> for Error {
    fn from(e: crate::ssh::Error) -> Self {
        Error::Ssh(e)
    }
}

impl From<crate::provider::Error> for Error {
    fn from(e: crate::provider::Error) -> Self {
        Error::Provider(e)
    }
}

impl From<crate::glob::Error> for Error {
    fn from(e: crate::glob::Error) -> Self {
        Error::msg(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
