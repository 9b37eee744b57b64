//! A line's fields as bytes, read in place: split by the separator
//! (quotes respected), trimmed and unquoted, numbers of digits parsed in
//! one pass; and why a line cannot be read.

use std::borrow::Cow;
use std::fmt;

use super::Sep;

/// Why a line, or a file's first line, cannot be read.
#[derive(Debug, Clone, PartialEq)]
pub enum Bad {
    /// The line has no field `column` (0-based) for `what`.
    Missing {
        what: &'static str,
        column: usize,
        fields: usize,
    },
    NotNumber {
        what: &'static str,
        text: String,
    },
    /// A latency that is not a number nor one of the `skip` values.
    Latency {
        text: String,
        skip: String,
    },
    /// A latency past what a histogram holds.
    TooLarge {
        text: String,
    },
    /// Test windows are asked for, but no `time` column named.
    NoTimestamp,
    /// A quote opened and not closed on the line.
    OpenQuote,
    /// A column number past the first line's fields.
    NoColumn {
        column: usize,
        fields: usize,
    },
    NamedWithoutHeader(String),
    NoSuchName {
        name: String,
        columns: String,
    },
    TooManyLabels,
}

/// A cell as shown in a message: at most 60 characters.
fn shown(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

impl fmt::Display for Bad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bad::Missing {
                what,
                column,
                fields,
            } => write!(
                f,
                "no {what} (column {}): the line has {fields} fields",
                column + 1
            ),
            Bad::NotNumber { what, text } => {
                write!(f, "the {what} `{}` is not a number", shown(text))
            }
            Bad::Latency { text, skip } => write!(
                f,
                "the latency `{}` is not a number (nor one of the `skip` values: {skip})",
                shown(text)
            ),
            Bad::TooLarge { text } => write!(
                f,
                "the latency `{}` is larger than a histogram holds (4.6·10^15 of its unit): check `unit` and the column",
                shown(text)
            ),
            Bad::NoTimestamp => write!(f, "test windows need a timestamp: give `time`"),
            Bad::OpenQuote => write!(
                f,
                "a quoted field does not end on its line: fields that hold line breaks are not read; write one event a line"
            ),
            Bad::NoColumn { column, fields } => write!(
                f,
                "column {} does not exist: the first line has {fields} fields",
                column + 1
            ),
            Bad::NamedWithoutHeader(n) => {
                write!(
                    f,
                    "the column `{n}` is named, but the file has no header line"
                )
            }
            Bad::NoSuchName { name, columns } => {
                write!(f, "no column `{name}`; the columns are {}", shown(columns))
            }
            Bad::TooManyLabels => write!(f, "at most 8 `label` columns"),
        }
    }
}

/// A field without its blanks and its enclosing quotes.
pub fn trim(b: &[u8]) -> &[u8] {
    let b = b.trim_ascii();
    b.strip_prefix(b"\"")
        .and_then(|x| x.strip_suffix(b"\""))
        .unwrap_or(b)
}

/// `trim`, and a quoted field's doubled quotes (`""`) made one.
pub fn unquote(b: &[u8]) -> Cow<'_, [u8]> {
    let quoted = b.trim_ascii().starts_with(b"\"");
    let t = trim(b);
    if quoted && t.windows(2).any(|w| w == b"\"\"") {
        let mut out = Vec::with_capacity(t.len());
        let mut i = 0;
        while i < t.len() {
            out.push(t[i]);
            i += if t[i] == b'"' && t.get(i + 1) == Some(&b'"') {
                2
            } else {
                1
            };
        }
        Cow::Owned(out)
    } else {
        Cow::Borrowed(t)
    }
}

/// A line's fields up to index `last`, each to `push`; an error when a
/// quote is left open.
pub fn split<'l>(
    line: &'l [u8],
    sep: Sep,
    last: usize,
    mut push: impl FnMut(&'l [u8]),
) -> Result<(), Bad> {
    let mut n = 0;
    let mut each = |f: &'l [u8]| {
        if n <= last {
            push(f);
        }
        n += 1;
        n <= last
    };
    let delimiter = match sep {
        Sep::Space | Sep::Auto => {
            let (mut i, len) = (0, line.len());
            loop {
                while i < len && line[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i == len {
                    return Ok(());
                }
                let start = i;
                while i < len && !line[i].is_ascii_whitespace() {
                    i += 1;
                }
                if !each(&line[start..i]) {
                    return Ok(());
                }
            }
        }
        Sep::Comma => b',',
        Sep::Tab => b'\t',
        Sep::Semicolon => b';',
    };
    if !line.contains(&b'"') {
        for f in line.split(|&b| b == delimiter) {
            if !each(f) {
                break;
            }
        }
        return Ok(());
    }
    // A quoted field may hold the separator.
    let (mut start, mut quoted) = (0, false);
    for (i, &c) in line.iter().enumerate() {
        if c == b'"' {
            quoted = !quoted;
        } else if c == delimiter && !quoted {
            if !each(&line[start..i]) {
                return Ok(());
            }
            start = i + 1;
        }
    }
    if quoted {
        return Err(Bad::OpenQuote);
    }
    each(&line[start..]);
    Ok(())
}

/// A number of digits only (at most 18: no overflow), in one pass.
pub fn digits(cell: &[u8]) -> Option<u64> {
    if cell.is_empty() || cell.len() > 18 {
        return None;
    }
    let mut n = 0u64;
    for &b in cell {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + u64::from(d);
    }
    Some(n)
}

/// A number: digits fast, anything else trimmed and through the standard
/// parse.
pub fn number(cell: &[u8], what: &'static str) -> Result<f64, Bad> {
    if let Some(n) = digits(cell) {
        return Ok(n as f64);
    }
    let cell = trim(cell);
    if let Some(n) = digits(cell) {
        return Ok(n as f64);
    }
    std::str::from_utf8(cell)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .ok_or_else(|| Bad::NotNumber {
            what,
            text: String::from_utf8_lossy(cell).into_owned(),
        })
}

/// A latency and its decimals as written; `None` when it is not a
/// non-negative number.
pub fn latency(cell: &[u8]) -> Option<(f64, u8)> {
    if let Some(n) = digits(cell) {
        return Some((n as f64, 0));
    }
    let v = std::str::from_utf8(cell).ok()?.parse::<f64>().ok()?;
    let decimals = cell.iter().position(|&b| b == b'.').map_or(0, |p| {
        cell[p + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    });
    (v.is_finite() && v >= 0.0).then_some((v, decimals.min(9) as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(line: &str, sep: Sep) -> Result<Vec<String>, Bad> {
        let mut out = Vec::new();
        split(line.as_bytes(), sep, 99, |f| {
            out.push(String::from_utf8_lossy(&unquote(f)).into_owned())
        })?;
        Ok(out)
    }

    #[test]
    fn quotes_hold_separators_and_double_to_escape() {
        assert_eq!(
            fields(r#"1,"a, b",x"#, Sep::Comma).unwrap(),
            ["1", "a, b", "x"]
        );
        assert_eq!(
            fields(r#"1;"say ""hi""";2"#, Sep::Semicolon).unwrap(),
            ["1", r#"say "hi""#, "2"]
        );
        assert_eq!(fields("1\t\"a\tb\"", Sep::Tab).unwrap(), ["1", "a\tb"]);
        assert_eq!(fields("  1   2 3 ", Sep::Space).unwrap(), ["1", "2", "3"]);
        assert_eq!(fields(r#"1,"open"#, Sep::Comma), Err(Bad::OpenQuote));
        // An unquoted field keeps its quotes as they are.
        assert_eq!(&*unquote(br#"a""b"#), br#"a""b"#);
    }

    #[test]
    fn numbers_and_messages() {
        assert_eq!(number(b"1796500000", "t"), Ok(1_796_500_000.0));
        assert_eq!(number(b" 1.5 ", "t"), Ok(1.5));
        assert!(number(b"inf", "t").is_err());
        assert_eq!(latency(b"12.250"), Some((12.25, 3)));
        assert_eq!(latency(b"-1"), None);
        let long = Bad::NotNumber {
            what: "timestamp",
            text: "x".repeat(70_000),
        }
        .to_string();
        assert!(
            long.len() < 120,
            "a long cell is cut in the message: {long}"
        );
    }
}
