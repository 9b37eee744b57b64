//! Values every section checks the same way: durations (one rule, one
//! message, one maximum), paths under `~`, names with "did you mean".

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use super::model::parse_duration;
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
            "durations are at most {} (30 days)",
            humantime::format_duration(MAX_DURATION)
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
