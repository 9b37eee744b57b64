//! `[[monitor]]`, `[[test]]` and `[[collect]]` sections, validated: names,
//! hosts, commands, start times and timeouts, globs.

use std::time::Duration;

use super::model::{At, Collect, Group, Monitor, Test};
use super::syntax::{RawPlan, Sp};
use super::values::{self, required_run, resolve_on, section_name};
use crate::diag::Diagnostic;

/// How long a monitor gets between TERM and KILL unless it says otherwise.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a test may run unless it says otherwise.
pub const DEFAULT_TEST_TIMEOUT: Duration = Duration::from_secs(600);

pub fn validate_monitors(
    raw: &RawPlan,
    groups: &[Group],
    diags: &mut Vec<Diagnostic>,
) -> Vec<Monitor> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for m in &raw.monitors {
        let Some(name) = section_name(m.name.as_ref(), "monitor", &m.span, &mut seen, diags) else {
            continue;
        };
        let what = format!("monitor `{name}`");
        let at = m.name.as_ref().map_or(m.span.clone(), |n| n.span.clone());
        let hosts = resolve_on(m.on.as_ref(), &what, at.clone(), groups, diags);
        let stop_timeout = values::duration(
            m.stop_timeout.as_ref(),
            "stop_timeout",
            DEFAULT_STOP_TIMEOUT,
            diags,
        );
        if let Some(run) = required_run(m.run.as_ref(), &what, at, diags) {
            out.push(Monitor {
                name,
                hosts,
                run: run.value.clone(),
                run_span: run.span.clone(),
                stop_timeout,
            });
        }
    }
    out
}

pub fn validate_tests(raw: &RawPlan, groups: &[Group], diags: &mut Vec<Diagnostic>) -> Vec<Test> {
    let mut seen: Vec<String> = raw
        .monitors
        .iter()
        .filter_map(|m| m.name.as_ref().map(|n| n.value.clone()))
        .collect();
    let monitors = seen.len();
    let mut out = Vec::new();
    for t in &raw.tests {
        let name_clash = t
            .name
            .as_ref()
            .filter(|n| seen[..monitors].contains(&n.value));
        if let Some(n) = name_clash {
            diags.push(
                Diagnostic::at(
                    format!("test `{}` has the name of a monitor", n.value),
                    n.span.clone(),
                )
                .help("tests and monitors share the trial's folders: give them different names"),
            );
            continue;
        }
        let Some(name) = section_name(t.name.as_ref(), "test", &t.span, &mut seen, diags) else {
            continue;
        };
        let what = format!("test `{name}`");
        let head = t.name.as_ref().map_or(t.span.clone(), |n| n.span.clone());
        let hosts = resolve_on(t.on.as_ref(), &what, head.clone(), groups, diags);
        let timeout = values::duration(t.timeout.as_ref(), "timeout", DEFAULT_TEST_TIMEOUT, diags);
        let at = match &t.at {
            None => At::Offset(Duration::ZERO),
            Some(a) => parse_at(a, diags),
        };
        if let Some(run) = required_run(t.run.as_ref(), &what, head, diags) {
            out.push(Test {
                name,
                hosts,
                run: run.value.clone(),
                run_span: run.span.clone(),
                at,
                timeout,
            });
        }
    }
    out
}

/// `+30s` (after the trigger) or an RFC 3339 UTC time.
fn parse_at(a: &Sp<String>, diags: &mut Vec<Diagnostic>) -> At {
    let text = a.value.trim();
    if let Some(rest) = text.strip_prefix('+') {
        match values::checked_duration(rest) {
            Ok(d) => return At::Offset(d),
            // A duration, but too long: said with the maximum.
            Err(help) if super::model::parse_duration(rest).is_some() => {
                diags.push(
                    Diagnostic::at(format!("invalid `at` time `{}`", a.value), a.span.clone())
                        .help(help),
                );
                return At::Offset(Duration::ZERO);
            }
            Err(_) => {}
        }
    } else if let Ok(t) = humantime::parse_rfc3339(text)
        && let Ok(d) = t.duration_since(std::time::UNIX_EPOCH)
    {
        return At::Epoch(d.as_secs_f64());
    }
    diags.push(
        Diagnostic::at(format!("invalid `at` time `{}`", a.value), a.span.clone()).help(
            "write `+30s` (after the trial's trigger) or a UTC time such as `2026-11-23T18:00:00Z`",
        ),
    );
    At::Offset(Duration::ZERO)
}

pub fn validate_collects(
    raw: &RawPlan,
    groups: &[Group],
    diags: &mut Vec<Diagnostic>,
) -> Vec<Collect> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for (i, c) in raw.collects.iter().enumerate() {
        let name = match &c.name {
            Some(_) => section_name(c.name.as_ref(), "collect", &c.span, &mut seen, diags),
            None => {
                // Unnamed: `files`, `files-2`, …
                let n = if i == 0 {
                    "files".to_string()
                } else {
                    format!("files-{}", i + 1)
                };
                seen.push(n.clone());
                Some(n)
            }
        };
        let Some(name) = name else { continue };
        let what = format!("collect `{name}`");
        let head = c
            .name
            .as_ref()
            .map_or(c.span.start..c.span.start, |n| n.span.clone());
        let hosts = resolve_on(c.on.as_ref(), &what, head.clone(), groups, diags);
        let Some(files) = &c.files else {
            diags.push(Diagnostic::at(format!("{what} has no `files`"), head).help(
                "add `files = [\"*.csv\"]` (globs relative to each host's working directory)",
            ));
            continue;
        };
        for g in &files.value {
            if g.value.trim().is_empty() || g.value.trim() == "." {
                diags.push(
                    Diagnostic::at(
                        format!("{what}: `{}` names no file", g.value),
                        g.span.clone(),
                    )
                    .help("give globs such as `logs/*.csv` or `**/*.hlog`"),
                );
                continue;
            }
            let escapes = g.value.starts_with('/')
                || std::path::Path::new(&g.value)
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir));
            if escapes {
                diags.push(
                    Diagnostic::at(
                        format!("{what}: `{}` leaves the host's working directory", g.value),
                        g.span.clone(),
                    )
                    .help("collect globs are relative to the host's working directory; `..` and absolute paths are refused"),
                );
            } else if let Err(e) = crate::glob::glob_set(std::slice::from_ref(&g.value)) {
                diags.push(Diagnostic::at(e.to_string(), g.span.clone()).help(
                    "globs take `*`, `?`, `[abc]` within a path component and `**` across them",
                ));
            }
        }
        out.push(Collect {
            name,
            hosts,
            files: files.value.iter().map(|g| g.value.clone()).collect(),
        });
    }
    out
}
