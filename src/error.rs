//! The error a command ends with: pre-rendered diagnostics, or a message
//! with an optional `help:` line that says what to do.

use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// Already rendered (`file:line:col: error: …` blocks and a summary).
    Diagnostics(String),
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

    pub fn help(self, help: impl Into<String>) -> Self {
        match self {
            Error::Message { message, .. } => Error::Message {
                message,
                help: Some(help.into()),
            },
            other => other,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Diagnostics(text) => f.write_str(text.trim_end()),
            Error::Message { message, help } => {
                write!(f, "{message}")?;
                if let Some(help) = help {
                    write!(f, "\n  help: {help}")?;
                }
                Ok(())
            }
        }
    }
}

impl Error {
    /// The error as the command ends with it: one `error:` prefix.
    pub fn render(&self) -> String {
        match self {
            Error::Diagnostics(_) => self.to_string(),
            Error::Message { .. } => format!("error: {self}"),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::msg(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
