//! A page as a Markdown file in a folder of a git work tree (a GitHub or
//! GitLab wiki's clone), committed alone — whatever else is staged there
//! stays staged — as the repository's own user. Pushing is left to whoever
//! owns the clone.

use std::path::Path;
use std::process::{Command, Stdio};

use super::{Error, Result};

#[derive(Debug)]
pub struct Committed {
    pub commit: String,
    /// The file already said this: nothing was committed.
    pub unchanged: bool,
}

pub fn publish(folder: &Path, page: &str, text: &str, message: &str) -> Result<Committed> {
    let shown = crate::paths::shown(folder);
    if !folder.is_dir() {
        return Err(Error::new(format!(
            "{shown} is not a folder: clone the wiki's repository there first (`git clone <url> {shown}`)"
        )));
    }
    git(folder, &["rev-parse", "--show-toplevel"]).map_err(|e| {
        Error::new(format!(
            "{shown} is not in a git work tree ({e}): clone the wiki's repository there first"
        ))
    })?;
    let name = format!("{page}.md");
    let file = folder.join(&name);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::new(format!("{}: {e}", crate::paths::shown(parent))))?;
    }
    crate::state::write_atomic(&file, text.as_bytes())
        .map_err(|e| Error::new(format!("{}: {e}", crate::paths::shown(&file))))?;
    git(folder, &["add", "--", &name])?;
    let staged = Command::new("git")
        .current_dir(folder)
        .env("GIT_LITERAL_PATHSPECS", "1")
        .args(["diff", "--cached", "--quiet", "--", &name])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| Error::new(format!("git: {e}")))?;
    let unchanged = staged.success();
    if !unchanged && let Err(e) = git(folder, &["commit", "--quiet", "-m", message, "--", &name]) {
        // Left as it was found: the file written, not staged.
        if git(folder, &["reset", "--quiet", "--", &name]).is_err() {
            let _ = git(folder, &["rm", "--cached", "--quiet", "--", &name]);
        }
        return Err(Error::new(format!(
            "committing {name} in {shown}: {e}; if git asks who you are, set `git config user.name` and `user.email` in that repository"
        )));
    }
    let commit = git(folder, &["rev-parse", "HEAD"])?;
    Ok(Committed {
        commit: commit.trim().to_string(),
        unchanged,
    })
}

/// `git ARGS` in `dir`, its stdout; its stderr as the error. Never asks.
fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        // A page's name is a file's, never a pattern.
        .env("GIT_LITERAL_PATHSPECS", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::new(format!("cannot run git: {e}")))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    Err(Error::new(format!(
        "git {}: {}",
        args.first().unwrap_or(&""),
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}
