//! Diagnostics: an error with a location in a source file, and the one
//! renderer that prints them (`file:line:col: error: …`, the source line, a
//! caret, and a `help:` that says what to do).

use std::fmt::Write as _;
use std::ops::Range;

/// How bad a diagnostic is: an error stops the command; a warning is said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem found in a plan or a file the plan names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// Byte range in the source; `None` when the problem has no place.
    pub span: Option<Range<usize>>,
    pub help: Option<String>,
}

/// Diagnostics of one file, carried as data to where a command ends and
/// rendered there once, with what that command did not do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The file as the user named it.
    pub file: String,
    /// Its text, for the lines the diagnostics point at.
    pub source: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// `file:line:col: error: …` blocks, then a line saying how many and
    /// `outcome` (`nothing was planned`).
    pub fn render(&self, outcome: &str) -> String {
        render(&self.file, &self.source, &self.diagnostics, outcome)
    }
}

impl Diagnostic {
    pub fn new(message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span,
            help: None,
        }
    }

    pub fn at(message: impl Into<String>, span: Range<usize>) -> Self {
        Self::new(message, Some(span))
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds "did you mean `x`?" when a close candidate exists.
    pub fn suggest<'a>(self, typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> Self {
        match did_you_mean(typed, candidates) {
            Some(help) => self.help(help),
            None => self,
        }
    }
}

/// Line and column (both 1-based, column in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = source[line_start..offset].chars().count() + 1;
    (line, col)
}

/// Renders diagnostics for one file, followed by a closing summary line.
pub fn render(file: &str, source: &str, diagnostics: &[Diagnostic], what_stopped: &str) -> String {
    let mut out = String::new();
    for d in diagnostics {
        render_one(&mut out, file, source, d);
    }
    let n = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let noun = if n == 1 { "error" } else { "errors" };
    let _ = writeln!(out, "error: {n} {noun} in {file}; {what_stopped}");
    out
}

fn render_one(out: &mut String, file: &str, source: &str, d: &Diagnostic) {
    let label = d.severity.label();
    let Some(span) = &d.span else {
        let _ = writeln!(out, "{file}: {label}: {}", d.message);
        if let Some(help) = &d.help {
            let _ = writeln!(out, "   = help: {help}");
        }
        out.push('\n');
        return;
    };
    let (line, col) = line_col(source, span.start);
    let _ = writeln!(out, "{file}:{line}:{col}: {label}: {}", d.message);
    let text = source.lines().nth(line - 1).unwrap_or("");
    let gutter = line.to_string().len();
    let pad = " ".repeat(gutter);
    // The caret covers the span on its first line only.
    let line_chars = text.chars().count();
    let span_chars = source
        .get(span.clone())
        .map_or(1, |s| s.lines().next().unwrap_or("").chars().count().max(1));
    let width = span_chars.min(line_chars.saturating_sub(col - 1).max(1));
    // A long line (a 200 KB command): a window around the span.
    let (shown, at, width) = window(text, col - 1, width);
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{line} | {shown}");
    let _ = writeln!(out, "{pad} | {}{}", " ".repeat(at), "^".repeat(width));
    if let Some(help) = &d.help {
        let _ = writeln!(out, "{pad} = help: {help}");
    }
    out.push('\n');
}

/// Characters of a line shown at most.
const WINDOW: usize = 100;

/// The part of `text` shown for a span at char `col` of `width` chars:
/// the whole line when short, else a window of `WINDOW` chars around the
/// span's start, cut ends marked `…`; the span's place and width in it.
fn window(text: &str, col: usize, width: usize) -> (String, usize, usize) {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= WINDOW {
        return (text.to_string(), col, width);
    }
    let start = col.saturating_sub(WINDOW / 4);
    let end = (start + WINDOW).min(chars.len());
    let mut shown = String::new();
    if start > 0 {
        shown.push('…');
    }
    shown.extend(&chars[start..end]);
    if end < chars.len() {
        shown.push('…');
    }
    let at = col - start + usize::from(start > 0);
    (shown, at, width.min(end.saturating_sub(col)).max(1))
}

/// The closest candidate within edit distance 2 (or a third of the length
/// for long names), if any. The distance is the optimal string alignment
/// (strsim): swapping two neighbours costs one, so `rnu` is closer to
/// `run` than to `on`.
pub fn suggest<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (typed.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (strsim::osa_distance(typed, c), c))
        .filter(|(d, _)| *d <= limit && *d > 0)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// "did you mean `x`?" for the closest candidate, if one is close.
pub fn did_you_mean<'a>(
    typed: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    suggest(typed, candidates).map(|best| format!("did you mean `{best}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_shows_a_window_around_the_span() {
        let text = format!("{}{{{{ nope }}}}{}", "a".repeat(200_000), "b".repeat(5000));
        let (shown, at, width) = window(&text, 200_000, 10);
        assert!(shown.chars().count() <= WINDOW + 2, "{}", shown.len());
        assert_eq!(shown.chars().nth(at), Some('{'));
        assert_eq!(width, 10);
        assert_eq!(window("short", 1, 2), ("short".to_string(), 1, 2));
    }

    #[test]
    fn distance_and_suggestion() {
        assert_eq!(strsim::osa_distance("rnu", "run"), 1);
        assert_eq!(strsim::osa_distance("rnu", "on"), 2);
        assert_eq!(strsim::osa_distance("clinet", "client"), 1);
        assert_eq!(suggest("rnu", ["run", "upload", "template"]), Some("run"));
        assert_eq!(suggest("xyzzy", ["run", "upload"]), None);
        assert_eq!(suggest("run", ["run"]), None);
    }

    #[test]
    fn renders_location_and_caret() {
        let src = "a = 1\nrnu = \"x\"\n";
        let d = Diagnostic::at("unknown key `rnu`", 6..9).help("did you mean `run`?");
        let out = render("p.toml", src, &[d], "nothing was planned");
        assert_eq!(
            out,
            "p.toml:2:1: error: unknown key `rnu`\n  |\n2 | rnu = \"x\"\n  | ^^^\n  = help: did you mean `run`?\n\nerror: 1 error in p.toml; nothing was planned\n"
        );
    }
}
