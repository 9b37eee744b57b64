//! What can go wrong making or removing hosts: a cloud API call (its name
//! and AWS error code, for callers that act on them), missing credentials,
//! a file of a local host, an SSH exchange, or the apply ending meanwhile.

use std::sync::Arc;

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// An EC2 call failed; `message` says it whole (`RunInstances failed:
    /// InvalidAMIID.NotFound: …`).
    #[error("{message}")]
    Api {
        call: String,
        code: Option<String>,
        message: String,
    },
    #[error(
        "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, as for the aws command (the AWS SDK said: {0})"
    )]
    NoCredentials(String),
    /// A file operation (fs_err's message names the path).
    #[error("{0}")]
    Io(Arc<std::io::Error>),
    #[error(transparent)]
    Ssh(#[from] crate::ssh::Error),
    /// The apply that asked is ending: nothing more is done.
    #[error("the apply is ending")]
    Ending,
    /// Anything else, where the text is the whole story (an sshd that did
    /// not start, a host that never answered).
    #[error("{0}")]
    Other(String),
    /// One of the errors above, said of a group or a host.
    #[error("{context}: {source}")]
    In {
        context: String,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// The same error, said of `context` (`group `client``).
    pub fn of(self, context: impl Into<String>) -> Error {
        Error::In {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// The same error with `hint` (what to check) after its message.
    pub fn hinted(self, hint: &str) -> Error {
        match self {
            Error::Api {
                call,
                code,
                mut message,
            } => {
                message.push_str(hint);
                Error::Api {
                    call,
                    code,
                    message,
                }
            }
            other => other,
        }
    }

    /// The AWS error code, when an API call failed with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => code.as_deref(),
            Error::In { source, .. } => source.code(),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(Arc::new(e))
    }
}

/// A semaphore closed: the apply is ending.
impl From<tokio::sync::AcquireError> for Error {
    fn from(_: tokio::sync::AcquireError) -> Self {
        Error::Ending
    }
}

/// Blocking provider work that panicked or was cancelled.
impl From<tokio::task::JoinError> for Error {
    fn from(e: tokio::task::JoinError) -> Self {
        Error::Other(format!("provider work did not finish: {e}"))
    }
}

impl From<String> for Error {
    fn from(text: String) -> Self {
        Error::Other(text)
    }
}

impl From<&str> for Error {
    fn from(text: &str) -> Self {
        Error::Other(text.to_string())
    }
}
