//! `[[step]]` sections, validated: a name, hosts, one action (`run`, an
//! `upload` or a `template` read from the resources), `after`, a timeout.

use std::path::Path;
use std::time::Duration;

use super::model::{Action, Group, Step};
use super::syntax::{RawStep, Sp};
use super::values::{self, check_name, resolve_on};
use crate::diag::Diagnostic;

/// Steps run at most this long unless they say otherwise.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(600);

pub fn validate_step(
    s: &RawStep,
    earlier: &[RawStep],
    all: &[RawStep],
    groups: &[Group],
    base: &Path,
    diags: &mut Vec<Diagnostic>,
) -> Option<Step> {
    let head = s.span.start..s.span.start;
    let Some(name) = &s.name else {
        diags.push(
            Diagnostic::at("a `[[step]]` has no `name`", head)
                .help("add `name = \"…\"` to the step"),
        );
        return None;
    };
    check_name(name, "step name", diags);
    if earlier
        .iter()
        .any(|e| e.name.as_ref().is_some_and(|n| n.value == name.value))
    {
        diags.push(
            Diagnostic::at(
                format!("step `{}` is defined twice", name.value),
                name.span.clone(),
            )
            .help("give each step its own name"),
        );
    }
    let hosts = resolve_on(
        s.on.as_ref(),
        &format!("step `{}`", name.value),
        name.span.clone(),
        groups,
        diags,
    );
    let (kind, value) = one_action(s, name, diags)?;
    let action = action(s, name, kind, value, base, diags)?;
    let (after, after_spans) = after(s, name, all, diags);
    let timeout = values::duration(s.timeout.as_ref(), "timeout", DEFAULT_STEP_TIMEOUT, diags);
    Some(Step {
        name: name.value.clone(),
        hosts,
        action,
        after,
        timeout,
        span: s.span.clone(),
        action_span: value.span.clone(),
        after_spans,
    })
}

/// Exactly one of `run`, `upload`, `template`.
fn one_action<'s>(
    s: &'s RawStep,
    name: &Sp<String>,
    diags: &mut Vec<Diagnostic>,
) -> Option<(&'static str, &'s Sp<String>)> {
    let actions: Vec<(&str, &Sp<String>)> = [
        ("run", &s.run),
        ("upload", &s.upload),
        ("template", &s.template),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    .collect();
    match actions.as_slice() {
        [one] => Some(*one),
        [] => {
            diags.push(
                Diagnostic::at(format!("step `{}` has nothing to do", name.value), name.span.clone())
                    .help("add one of `run = \"…\"`, `upload = \"resources/…\"` or `template = \"resources/…\"`"),
            );
            None
        }
        [_, (second, v), ..] => {
            diags.push(
                Diagnostic::at(
                    format!(
                        "step `{}` has more than one of `run`, `upload`, `template`",
                        name.value
                    ),
                    v.span.clone(),
                )
                .help(format!("split it into two steps; remove `{second}` here")),
            );
            None
        }
    }
}

/// The step's action: a command, or a resource file read now.
fn action(
    s: &RawStep,
    name: &Sp<String>,
    kind: &str,
    value: &Sp<String>,
    base: &Path,
    diags: &mut Vec<Diagnostic>,
) -> Option<Action> {
    if kind == "run" {
        if let Some(d) = &s.dest {
            diags.push(Diagnostic::at(
                format!("step `{}` runs a command and takes no `dest`", name.value),
                d.span.clone(),
            ));
        }
        return Some(Action::Run {
            command: value.value.clone(),
        });
    }
    let source = base.join(&value.value);
    let dest = match &s.dest {
        Some(d) if !d.value.is_empty() => d.value.clone(),
        _ => {
            diags.push(
                Diagnostic::at(
                    format!("step `{}` has no `dest`", name.value),
                    value.span.clone(),
                )
                .help("add `dest = \"path/on/host\"` (relative to the host's working directory)"),
            );
            return None;
        }
    };
    let Ok(bytes) = fs_err::read(&source) else {
        diags.push(
            Diagnostic::at(
                format!("resource file `{}` does not exist", value.value),
                value.span.clone(),
            )
            .help(format!(
                "paths are relative to the working directory {}",
                base.display()
            )),
        );
        return None;
    };
    if kind == "upload" {
        return Some(Action::Upload {
            source,
            bytes: std::sync::Arc::new(bytes),
            dest,
        });
    }
    let Ok(text) = String::from_utf8(bytes) else {
        diags.push(Diagnostic::at(
            format!("template `{}` is not UTF-8 text", value.value),
            value.span.clone(),
        ));
        return None;
    };
    Some(Action::Template {
        name: value.value.clone(),
        source,
        text,
        dest,
    })
}

/// `after = […]`: steps that exist, not itself.
fn after(
    s: &RawStep,
    name: &Sp<String>,
    all: &[RawStep],
    diags: &mut Vec<Diagnostic>,
) -> (Vec<String>, Vec<std::ops::Range<usize>>) {
    let mut after = Vec::new();
    let mut after_spans = Vec::new();
    let names = || {
        all.iter()
            .filter_map(|o| o.name.as_ref().map(|n| n.value.as_str()))
    };
    for a in &s.after {
        if a.value == name.value {
            diags.push(Diagnostic::at(
                format!("step `{}` cannot run after itself", name.value),
                a.span.clone(),
            ));
        } else if names().any(|n| n == a.value) {
            after.push(a.value.clone());
            after_spans.push(a.span.clone());
        } else {
            diags.push(
                Diagnostic::at(
                    format!(
                        "step `{}` runs after `{}`, which is not defined",
                        name.value, a.value
                    ),
                    a.span.clone(),
                )
                .suggest(&a.value, names()),
            );
        }
    }
    (after, after_spans)
}
