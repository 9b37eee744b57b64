//! `[[publish]]`: the latest run's tables as a page (`page`: a template
//! over the analyses' table files), written where people read them:
//! a MediaWiki page through its API (`mediawiki`, over `http`) or a
//! Markdown file committed to a git work tree (`git`).

pub mod git;
mod http;
pub mod mediawiki;
pub mod page;

pub use page::{Page, Run};

/// Why a page could not be made or published: said as the publish node's
/// failure, with what to do (the trial itself stays as it is).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub message: String,
}

impl Error {
    pub fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
