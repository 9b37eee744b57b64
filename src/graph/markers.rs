//! Values known only after apply (an EC2 host's address): a marker stands
//! for each in rendered text until the host exists, so that `runner plan`
//! can show "(known after apply)" and the executor can fill them in.

use super::{Node, Payload};
use crate::hash::Hasher;

const MARK_OPEN: char = '\u{E000}';
const MARK_SEP: char = '\u{E002}';
const MARK_CLOSE: char = '\u{E001}';
/// How `runner plan` shows a value known only after apply.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// The marker for `field` (`address`, `private_address`) of `host`.
pub fn deferred(field: &str, host: &str) -> String {
    format!("{MARK_OPEN}{field}{MARK_SEP}{host}{MARK_CLOSE}")
}

/// The markers in `text`: (field, host), in order.
fn markers(text: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(MARK_OPEN) {
        let after = &rest[start + MARK_OPEN.len_utf8()..];
        let Some(end) = after.find(MARK_CLOSE) else {
            break;
        };
        if let Some((field, host)) = after[..end].split_once(MARK_SEP) {
            out.push((field, host));
        }
        rest = &after[end + MARK_CLOSE.len_utf8()..];
    }
    out
}

fn payload_texts(payload: &Payload) -> Vec<std::borrow::Cow<'_, str>> {
    match payload {
        Payload::None | Payload::Series(_) => Vec::new(),
        Payload::Run { command } => vec![command.as_str().into()],
        Payload::Write {
            bytes,
            rendered: true,
            ..
        } => vec![String::from_utf8_lossy(bytes)],
        Payload::Write { .. } => Vec::new(),
        Payload::Trial(spec) => spec
            .monitors
            .iter()
            .chain(&spec.tests)
            .map(|a| a.command.as_str().into())
            .collect(),
    }
}

/// The hosts whose addresses a node's payload uses before they are known.
pub fn deferred_refs(payload: &Payload) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for text in payload_texts(payload) {
        if !text.contains(MARK_OPEN) {
            continue;
        }
        for (_, host) in markers(&text) {
            if !out.iter().any(|h| h == host) {
                out.push(host.to_string());
            }
        }
    }
    out
}

/// What a marker stands for, as the caller knows it: (host, field) → the
/// value (`address`, `private_address`), `None` while it is not known.
pub type Lookup<'a> = &'a dyn Fn(&str, &str) -> Option<String>;

/// An address a command names that is not known yet.
#[derive(Debug, thiserror::Error)]
#[error("the {field} of `{host}` is not known: the host is not provisioned")]
pub struct Unknown {
    pub field: String,
    pub host: String,
}

/// `text` with every marker replaced by the value the state records, or
/// an error naming the host whose address is not known.
pub fn resolve(text: &str, lookup: Lookup<'_>) -> Result<String, Unknown> {
    if !text.contains(MARK_OPEN) {
        return Ok(text.to_string());
    }
    let mut out = text.to_string();
    for (field, host) in markers(text) {
        let value = lookup(host, field).ok_or_else(|| Unknown {
            field: field.to_string(),
            host: host.to_string(),
        })?;
        out = out.replace(&deferred(field, host), &value);
    }
    Ok(out)
}

/// The hash a node is recorded with: its own, plus the values its markers
/// stand for. `None` while one of them is not known.
pub fn effective_hash(node: &Node, lookup: Lookup<'_>) -> Option<String> {
    let mut hasher = Hasher::default().part("node", node.hash.as_bytes());
    let mut any = false;
    for text in payload_texts(&node.payload) {
        for (field, host) in markers(&text) {
            let value = lookup(host, field)?;
            hasher = hasher.part(field, value.as_bytes());
            any = true;
        }
    }
    Some(if any {
        hasher.finish()
    } else {
        node.hash.clone()
    })
}
