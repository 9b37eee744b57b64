//! How output looks: colour for plan symbols and failures (as Terraform
//! prints them: `+` green, `~` yellow, `-` red), on a terminal only, never
//! with `NO_COLOR` or `--no-color`; how much is said (`-q`, `-v`); and
//! timestamps on progress lines when stderr is not a terminal (CI logs).

use std::io::IsTerminal as _;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    color_out: bool,
    color_err: bool,
    err_is_terminal: bool,
    verbosity: Verbosity,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

/// Called once from `main` with the global flags. Whether a stream gets
/// colour is anstream's call (a terminal, `NO_COLOR`, `CLICOLOR_FORCE`,
/// `TERM=dumb`), unless `--no-color` says no.
pub fn init(no_color: bool, quiet: bool, verbose: bool) {
    use anstream::{AutoStream, ColorChoice};
    let colour = |choice: ColorChoice| !no_color && choice != ColorChoice::Never;
    let err_is_terminal = std::io::stderr().is_terminal();
    let _ = SETTINGS.set(Settings {
        color_out: colour(AutoStream::choice(&std::io::stdout())),
        color_err: colour(AutoStream::choice(&std::io::stderr())),
        err_is_terminal,
        verbosity: if quiet {
            Verbosity::Quiet
        } else if verbose {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        },
    });
}

fn settings() -> Settings {
    *SETTINGS.get_or_init(|| Settings {
        color_out: false,
        color_err: false,
        err_is_terminal: false,
        verbosity: Verbosity::Normal,
    })
}

pub fn verbosity() -> Verbosity {
    settings().verbosity
}

/// Whether progress lines carry a timestamp (stderr is not a terminal).
pub fn timestamps() -> bool {
    !settings().err_is_terminal
}

#[derive(Debug, Clone, Copy)]
pub enum Color {
    Green,
    Yellow,
    Red,
}

fn paint(text: &str, color: Color, on: bool) -> String {
    if !on {
        return text.to_string();
    }
    let color = match color {
        Color::Green => anstyle::AnsiColor::Green,
        Color::Yellow => anstyle::AnsiColor::Yellow,
        Color::Red => anstyle::AnsiColor::Red,
    };
    let style = anstyle::Style::new().fg_color(Some(color.into()));
    format!("{style}{text}{style:#}")
}

/// For stdout (plan listings).
pub fn out(text: &str, color: Color) -> String {
    paint(text, color, settings().color_out)
}

/// For stderr (progress, failures).
pub fn err(text: &str, color: Color) -> String {
    paint(text, color, settings().color_err)
}

/// The colour of a change symbol: `+` green, `~` yellow, `-` and `-/+` red.
pub fn of_symbol(symbol: &str) -> Color {
    match symbol {
        "+" => Color::Green,
        "~" => Color::Yellow,
        _ => Color::Red,
    }
}

/// `HH:MM:SS.mmm ` (UTC) for a progress line, when timestamps are on.
pub fn stamp() -> String {
    if !timestamps() {
        return String::new();
    }
    let now = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    // 2026-11-23T19:28:04.123Z → 19:28:04.123
    format!("{} ", now.get(11..23).unwrap_or(&now))
}

/// `1 host`, `3 hosts`.
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Control characters (ESC, BEL, CR, …) as `\x1b`-style escapes; tabs and
/// newlines stay. Text from logs and hosts goes through this before it
/// reaches a terminal or a table.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\t' && c != '\n' {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}
