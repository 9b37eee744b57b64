//! Tools that write several kinds of file (a report on stdout, a
//! per-request log, a CSV of percentiles): each file's kind is seen from
//! its start, and one analysis reads one kind.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use super::{FileError, Found, Group};

/// The kinds of file one tool writes.
pub trait FileKind: Copy + PartialEq + Sized {
    /// The tool, for messages: `pgbench`.
    const TOOL: &'static str;
    /// The kind of `path`, from its start.
    fn of(path: &Path) -> Result<Self, FileError>;
    /// What it is, for messages: `a summary (stdout)`.
    fn name(self) -> &'static str;
}

/// The one kind of every file of the groups, and the groups holding only
/// the files that could be read (the others are errors); `None` with a
/// problem naming two files of different kinds, or with no file read.
pub fn one_kind<K: FileKind>(groups: &[Group], found: &mut Found) -> Option<(K, Vec<Group>)> {
    let mut kinds: Vec<(K, PathBuf)> = Vec::new();
    for f in groups.iter().flat_map(|g| &g.files) {
        match K::of(f) {
            Ok(k) => kinds.push((k, f.clone())),
            Err(e) => found.errors.push(e),
        }
    }
    let (kind, first) = kinds.first().cloned()?;
    if let Some((other, f)) = kinds.iter().find(|(k, _)| *k != kind) {
        found.problems.push(format!(
            "{} is {}, but {} is {}: one analysis reads one kind of {} output (give each its own `[[analyze]]`)",
            f.display(),
            other.name(),
            first.display(),
            kind.name(),
            K::TOOL,
        ));
        return None;
    }
    let readable = groups
        .iter()
        .map(|g| Group {
            label: g.label.clone(),
            files: g
                .files
                .iter()
                .filter(|f| kinds.iter().any(|(_, k)| k == *f))
                .cloned()
                .collect(),
        })
        .collect();
    Some((kind, readable))
}

/// The files of `kind` among `files`.
pub fn only<K: FileKind>(files: &[PathBuf], kind: K) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|f| K::of(f).is_ok_and(|k| k == kind))
        .cloned()
        .collect()
}

/// The start of a file (up to 64 KiB) as text: enough to tell a kind
/// without reading a large log whole.
pub fn head(path: &Path) -> Result<String, FileError> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(64 << 10).read_to_end(&mut bytes))
        .map_err(|e| FileError::whole(path, e.to_string()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
