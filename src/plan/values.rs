//! Values every section checks the same way: durations (one rule, one
//! message, one maximum), paths under `~`, names with "did you mean".

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use super::model::{Group, HostSpec, parse_duration};
use super::syntax::Sp;
use crate::diag::Diagnostic;

/// The longest duration a plan may give anything (a timeout, an `at`
/// offset, an expiry): 30 days. Longer is a typo, and it would overflow
/// the clocks it is added to.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// `key = "30s"`: more than zero and at most [`MAX_DURATION`]; `default`
/// when absent (or wrong, after a diagnostic).
pub fn duration(
    value: Option<&Sp<String>>,
    key: &str,
    default: Duration,
    diags: &mut Vec<Diagnostic>,
) -> Duration {
    let Some(t) = value else { return default };
    match checked_duration(&t.value) {
        Ok(d) if !d.is_zero() => d,
        Ok(_) => {
            diags.push(Diagnostic::at(
                format!("`{key}` must be more than zero"),
                t.span.clone(),
            ));
            default
        }
        Err(help) => {
            diags.push(
                Diagnostic::at(format!("invalid {key} `{}`", t.value), t.span.clone()).help(help),
            );
            default
        }
    }
}

/// A duration, or the help that says what is wrong with it.
pub fn checked_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text) {
        Some(d) if d <= MAX_DURATION => Ok(d),
        Some(_) => Err(format!(
            "durations are at most 30 days (`{}h`)",
            MAX_DURATION.as_secs() / 3600
        )),
        None => Err("write a duration such as `30s`, `5m` or `1h30m`".into()),
    }
}

/// `~/x` → `$HOME/x`.
pub fn expand_home(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map_or_else(|| PathBuf::from(path), |h| PathBuf::from(h).join(rest)),
        None => PathBuf::from(path),
    }
}

/// `unknown provider `x``, with "did you mean" and the names there are.
pub fn unknown(what: &str, typed: &str, span: Range<usize>, names: &[&str]) -> Diagnostic {
    let listed: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    Diagnostic::at(format!("unknown {what} `{typed}`"), span)
        .help(format!("expected one of {}", listed.join(", ")))
        .suggest(typed, names.iter().copied())
}

/// The hosts one entry of `on` names: a group (all its hosts) or one host.
fn pick<'g>(
    target: &Sp<String>,
    by_name: &std::collections::HashMap<&str, &'g Group>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<&'g HostSpec>> {
    let (group_name, index) = match target.value.split_once('[') {
        Some((g, rest)) => match rest.strip_suffix(']').and_then(|i| i.parse::<usize>().ok()) {
            Some(i) => (g, Some(i)),
            None => {
                diags.push(
                    Diagnostic::at(
                        format!("`{}` is not a group or a host", target.value),
                        target.span.clone(),
                    )
                    .help("write a group name (`client`) or one host (`client[0]`)"),
                );
                return None;
            }
        },
        None => (target.value.as_str(), None),
    };
    let Some(group) = by_name.get(group_name) else {
        let mut names: Vec<&str> = by_name.keys().copied().collect();
        names.sort_unstable();
        diags.push(
            Diagnostic::at(
                format!("group `{group_name}` is not defined"),
                target.span.clone(),
            )
            .suggest(group_name, names),
        );
        return None;
    };
    let Some(i) = index else {
        return Some(group.hosts.iter().collect());
    };
    if let Some(h) = group.hosts.get(i) {
        return Some(vec![h]);
    }
    diags.push(
        Diagnostic::at(
            format!(
                "host `{}` does not exist: group `{}` has {} hosts",
                target.value,
                group.name,
                group.hosts.len()
            ),
            target.span.clone(),
        )
        .help(format!(
            "hosts are numbered from 0 to {}",
            group.hosts.len().saturating_sub(1)
        )),
    );
    None
}

/// A name as the plan may write it: lowercase letters, digits, `-`, `_`.
/// Names are at most this long: they name files and network namespaces
/// (`runner-<plan>.<hex>-<host>`, 255 bytes at most).
pub const NAME_MAX: usize = 64;

pub fn check_name(n: &Sp<String>, what: &str, diags: &mut Vec<Diagnostic>) -> bool {
    let ok = !n.value.is_empty()
        && n.value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        diags.push(
            Diagnostic::at(format!("invalid {what} `{}`", n.value), n.span.clone())
                .help("use lowercase letters, digits, `-` and `_`"),
        );
        return false;
    }
    if n.value.len() > NAME_MAX {
        diags.push(
            Diagnostic::at(
                format!("{what} of {} characters", n.value.len()),
                n.span.clone(),
            )
            .help(format!(
                "at most {NAME_MAX}: names become file and network namespace names"
            )),
        );
        return false;
    }
    true
}

/// A section's `name`: present, well-formed and not used twice in `seen`.
pub fn section_name(
    name: Option<&Sp<String>>,
    kind: &str,
    span: &std::ops::Range<usize>,
    seen: &mut Vec<String>,
    diags: &mut Vec<Diagnostic>,
) -> Option<String> {
    let Some(name) = name else {
        diags.push(
            Diagnostic::at(
                format!("a `[[{kind}]]` has no `name`"),
                span.start..span.start,
            )
            .help(format!(
                "add `name = \"…\"`: it names the {kind}'s output folder and its node"
            )),
        );
        return None;
    };
    check_name(name, &format!("{kind} name"), diags);
    if seen.contains(&name.value) {
        diags.push(Diagnostic::at(
            format!("{kind} `{}` is defined twice", name.value),
            name.span.clone(),
        ));
    }
    seen.push(name.value.clone());
    Some(name.value.clone())
}

pub fn required_run<'a>(
    run: Option<&'a Sp<String>>,
    what: &str,
    at: std::ops::Range<usize>,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'a Sp<String>> {
    if run.is_none() {
        diags.push(Diagnostic::at(format!("{what} has no `run`"), at).help(
            "give the command: `run = \"…\"` (a template: `{{ out }}` is its output folder)",
        ));
    }
    run
}

/// `on = ["client", "server[0]"]` → host names, in the order written, no duplicates.
pub fn resolve_on(
    on: Option<&Sp<Vec<Sp<String>>>>,
    what: &str,
    at: std::ops::Range<usize>,
    groups: &[Group],
    diags: &mut Vec<Diagnostic>,
) -> Vec<String> {
    let Some(on) = on else {
        diags.push(
            Diagnostic::at(format!("{what} has no `on`"), at)
                .help("say where it runs: `on = [\"group\"]`"),
        );
        return Vec::new();
    };
    if on.value.is_empty() {
        diags.push(
            Diagnostic::at(
                format!("{what} runs on no host: `on` is empty"),
                on.span.clone(),
            )
            .help("name a group (`on = [\"client\"]`) or a host (`on = [\"client[0]\"]`)"),
        );
        return Vec::new();
    }
    // Plans list hundreds of groups in `on`: looked up by name, not scanned.
    let by_name: std::collections::HashMap<&str, &Group> =
        groups.iter().map(|g| (g.name.as_str(), g)).collect();
    let mut hosts: Vec<String> = Vec::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for target in &on.value {
        let Some(picked) = pick(target, &by_name, diags) else {
            continue;
        };
        for h in picked {
            if seen.insert(h.name.clone()) {
                hosts.push(h.name.clone());
            }
        }
    }
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_have_a_maximum() {
        assert_eq!(checked_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(checked_duration("720h"), Ok(MAX_DURATION));
        assert!(checked_duration("721h").unwrap_err().contains("at most"));
        assert!(checked_duration("99999999999h").is_err());
        assert!(
            checked_duration("5 minuets")
                .unwrap_err()
                .contains("such as")
        );
    }
}
