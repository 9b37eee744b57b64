//! Quantities with units, as checks are written (`5ms`, `900 Mbit/s`,
//! `10%`) and as table columns carry them (`p99 (us)`): parsing, converting
//! within a dimension (time, rate, size, percent), and which way is better.

/// Why a quantity cannot be read or converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("`{0}` is not a number with an optional unit")]
    NotANumber(String),
    #[error("unknown unit `{unit}` in `{text}`; known: {known}")]
    UnknownUnit {
        unit: String,
        text: String,
        known: String,
    },
    #[error(
        "`{text}` is ambiguous (tc reads `bps` as bytes a second, others as bits): write bits, e.g. `{suggestion}`"
    )]
    AmbiguousBps { text: String, suggestion: String },
    #[error("`{0}` is not a percentage such as \"10%\"")]
    NotAPercent(String),
    #[error("`{0}` is not a rate: write bits a second, e.g. `50mbit`")]
    NotARate(String),
    #[error("`{0}`: a rate is a positive number")]
    NotPositive(String),
    #[error("`{text}`: a rate from {low} to {high}")]
    OutOfRange {
        text: String,
        low: &'static str,
        high: &'static str,
    },
    #[error("the limit is in `{limit}` but the column is in `{column}`, which cannot be converted")]
    Inconvertible { limit: String, column: String },
    #[error("the limit is in `{0}` but the column has no unit: write a plain number")]
    NoColumnUnit(String),
}

/// A number with an optional unit: `5ms`, `900 Mbit/s`, `0.5`.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    pub value: f64,
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
}

impl Better {
    pub fn name(self) -> &'static str {
        match self {
            Better::Higher => "higher",
            Better::Lower => "lower",
        }
    }
}

/// Units a quantity may be written in, by dimension, with their factor to
/// the dimension's base (seconds, bit/s, bytes, percent).
const UNITS: &[(&str, &str, f64)] = &[
    ("ns", "time", 1e-9),
    ("us", "time", 1e-6),
    ("µs", "time", 1e-6),
    ("ms", "time", 1e-3),
    ("s", "time", 1.0),
    ("min", "time", 60.0),
    ("h", "time", 3600.0),
    ("bit/s", "rate", 1.0),
    ("kbit/s", "rate", 1e3),
    ("Kbit/s", "rate", 1e3),
    ("Mbit/s", "rate", 1e6),
    ("Gbit/s", "rate", 1e9),
    ("Tbit/s", "rate", 1e12),
    ("bytes", "size", 1.0),
    ("B", "size", 1.0),
    ("KB", "size", 1e3),
    ("kB", "size", 1e3),
    ("MB", "size", 1e6),
    ("GB", "size", 1e9),
    ("KiB", "size", 1024.0),
    ("MiB", "size", 1_048_576.0),
    ("GiB", "size", 1_073_741_824.0),
    ("%", "percent", 1.0),
    ("1/s", "throughput", 1.0),
    ("ops/s", "throughput", 1.0),
    ("req/s", "throughput", 1.0),
    ("tps", "throughput", 1.0),
    ("IOPS", "throughput", 1.0),
    ("bytes/s", "bandwidth", 1.0),
    ("B/s", "bandwidth", 1.0),
    ("KiB/s", "bandwidth", 1024.0),
    ("MiB/s", "bandwidth", 1_048_576.0),
];

/// A unit's dimension and its factor to the dimension's base.
pub fn unit(u: &str) -> Option<(&'static str, f64)> {
    UNITS
        .iter()
        .find(|(name, _, _)| *name == u)
        .map(|(_, dim, f)| (*dim, *f))
}

/// The factor from `from` to `to` when both are units of one dimension
/// (`us` → `ms`: 0.001).
pub fn factor(from: &str, to: &str) -> Option<f64> {
    let (a, fa) = unit(from)?;
    let (b, fb) = unit(to)?;
    (a == b).then_some(fa / fb)
}

/// The unit to show values of `unit` in for a person — the largest of
/// its dimension in which their median is at least 1 (`us` at 2,000,000 →
/// `s`; `bit/s` at 9e9 → `Gbit/s`) — and the factor to it. A unit runner
/// does not know is kept.
pub fn readable(unit: &str, values: &[f64]) -> (String, f64) {
    const LADDERS: &[&[&str]] = &[
        &["ns", "us", "ms", "s"],
        &["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"],
        &["bytes", "KB", "MB", "GB"],
        &["bytes/s", "KiB/s", "MiB/s"],
    ];
    let Some(ladder) = LADDERS.iter().find(|l| l.contains(&unit)) else {
        return (unit.to_string(), 1.0);
    };
    let mut sorted: Vec<f64> = values
        .iter()
        .map(|v| v.abs())
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    sorted.sort_by(f64::total_cmp);
    let Some(&median) = sorted.get(sorted.len() / 2) else {
        return (unit.to_string(), 1.0);
    };
    ladder
        .iter()
        .rev()
        .filter_map(|to| Some((*to, factor(unit, to)?)))
        .find(|(_, f)| median * f >= 1.0)
        .map_or((unit.to_string(), 1.0), |(to, f)| (to.to_string(), f))
}

/// `5ms`, `5 ms`, `900 Mbit/s`, `12`, `1e6 bit/s`.
pub fn parse_quantity(text: &str) -> Result<Quantity, Error> {
    let t = text.trim();
    let split = t
        .char_indices()
        .find(|&(i, c)| {
            !(c.is_ascii_digit()
                || c == '.'
                || c == '_'
                || ((c == '-' || c == '+') && (i == 0 || t[..i].ends_with(['e', 'E'])))
                || ((c == 'e' || c == 'E')
                    && i > 0
                    && t[i + 1..]
                        .starts_with(|d: char| d.is_ascii_digit() || d == '-' || d == '+')))
        })
        .map_or(t.len(), |(i, _)| i);
    let (num, rest) = t.split_at(split);
    let value: f64 = num
        .replace('_', "")
        .parse()
        .map_err(|_| Error::NotANumber(text.to_string()))?;
    let rest = rest.trim();
    if rest.is_empty() {
        return Ok(Quantity { value, unit: None });
    }
    ambiguous_bps(text, rest)?;
    if unit(rest).is_none() {
        return Err(Error::UnknownUnit {
            unit: rest.to_string(),
            text: text.to_string(),
            known: UNITS.iter().map(|u| u.0).collect::<Vec<_>>().join(", "),
        });
    }
    Ok(Quantity {
        value,
        unit: Some(rest.to_string()),
    })
}

/// `bps`, `Mbps`: refused everywhere, said the same way (tc reads `bps`
/// as bytes a second; many people mean bits).
fn ambiguous_bps(text: &str, unit: &str) -> Result<(), Error> {
    let lower = unit.to_ascii_lowercase();
    let Some(prefix) = lower.strip_suffix("bps") else {
        return Ok(());
    };
    let number = text.trim().trim_end_matches(unit).trim();
    Err(Error::AmbiguousBps {
        text: text.trim().to_string(),
        suggestion: format!("{number}{prefix}bit"),
    })
}

/// A rate, as links and checks write it: `900 Mbit/s`, tc's `50mbit`,
/// `2.5Gbit/s`, a plain number of bit/s → bit/s. The one rule for rates
/// (`bps` is refused as ambiguous).
pub fn parse_rate(text: &str) -> Result<f64, Error> {
    let q = parse_tc_rate(text).map_or_else(|| parse_quantity(text), Ok)?;
    match q.unit.as_deref() {
        None => Ok(q.value),
        Some(u) => match unit(u) {
            Some(("rate", f)) => Ok(q.value * f),
            _ => Err(Error::NotARate(text.to_string())),
        },
    }
    .and_then(|v| {
        (v > 0.0 && v.is_finite())
            .then_some(v)
            .ok_or_else(|| Error::NotPositive(text.to_string()))
    })
}

/// tc's spelling, `50mbit` (any case, optional `/s`), as a quantity.
fn parse_tc_rate(text: &str) -> Option<Quantity> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let lower = lower.strip_suffix("/s").unwrap_or(&lower);
    [
        ("tbit", "Tbit/s"),
        ("gbit", "Gbit/s"),
        ("mbit", "Mbit/s"),
        ("kbit", "kbit/s"),
        ("bit", "bit/s"),
    ]
    .iter()
    .find_map(|(suffix, unit)| {
        let n = lower.strip_suffix(suffix)?.trim();
        Some(Quantity {
            value: n.replace('_', "").parse().ok()?,
            unit: Some(unit.to_string()),
        })
    })
}

/// `10%` → 0.1.
pub fn parse_percent(text: &str) -> Result<f64, Error> {
    let q = parse_quantity(text)?;
    match q.unit.as_deref() {
        Some("%") if q.value >= 0.0 => Ok(q.value / 100.0),
        _ => Err(Error::NotAPercent(text.to_string())),
    }
}

/// `q` in the column's unit.
pub fn in_unit(q: &Quantity, column_unit: Option<&str>) -> Result<f64, Error> {
    match (&q.unit, column_unit) {
        (None, _) => Ok(q.value),
        (Some(u), Some(c)) if u == c => Ok(q.value),
        (Some(u), Some(c)) => match (unit(u), unit(c)) {
            (Some((d1, f1)), Some((d2, f2))) if d1 == d2 => Ok(q.value * f1 / f2),
            _ => Err(Error::Inconvertible {
                limit: u.clone(),
                column: c.to_string(),
            }),
        },
        (Some(u), None) => Err(Error::NoColumnUnit(u.clone())),
    }
}

/// Which way is better for a column when nothing says: less time, more
/// bits per second.
pub fn better_of(column_unit: Option<&str>) -> Option<Better> {
    match column_unit.and_then(unit) {
        Some(("time", _)) => Some(Better::Lower),
        Some(("rate" | "throughput" | "bandwidth", _)) => Some(Better::Higher),
        _ => None,
    }
}

/// A figure for a person to read: `9.29 Gbit/s`, `2.20 %`, `4851`,
/// `0.0123`. Rates and sizes are scaled to a prefix (and carry their unit,
/// which the prefix changes); percentages get two decimals; anything else
/// four significant digits. Tables and CSV keep the exact value.
pub fn human(v: f64, column_unit: Option<&str>) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let dim = column_unit.and_then(|u| Some((u, unit(u)?)));
    match dim {
        Some((_, ("rate", f))) => prefixed(v * f, "bit/s", 1000.0, &["", "k", "M", "G", "T"]),
        Some((_, ("size", f))) => prefixed(v * f, "B", 1000.0, &["", "k", "M", "G", "T"]),
        Some(("%", _)) => format!("{v:.2} %"),
        _ => significant(v, 4),
    }
}

/// `v` in `base` units scaled by `step` to the largest prefix it reaches,
/// three significant digits.
fn prefixed(v: f64, base: &str, step: f64, prefixes: &[&str]) -> String {
    let mut x = v;
    let mut i = 0;
    while x.abs() >= step && i + 1 < prefixes.len() {
        x /= step;
        i += 1;
    }
    format!("{} {}{base}", significant(x, 3), prefixes[i])
}

/// `v` with `digits` significant digits, trailing zeros after the point
/// dropped: `2.205`, `4851`, `0.0001235`.
pub fn significant(v: f64, digits: i32) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).max(0) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_units() {
        assert_eq!(
            readable("us", &[2_000_000.0, 3_000_000.0, 900.0]),
            ("s".to_string(), 1e-6)
        );
        assert_eq!(readable("us", &[35_000.0, 800_000.0]).0, "ms");
        assert_eq!(readable("bit/s", &[9.3e9]).0, "Gbit/s");
        assert_eq!(readable("1/s", &[12_000.0]), ("1/s".to_string(), 1.0));
        assert_eq!(readable("us", &[]), ("us".to_string(), 1.0));
    }

    #[test]
    fn quantities_and_units() {
        assert_eq!(
            parse_quantity("5ms").unwrap(),
            Quantity {
                value: 5.0,
                unit: Some("ms".into())
            }
        );
        assert_eq!(parse_quantity(" 900 Mbit/s").unwrap().value, 900.0);
        assert_eq!(parse_quantity("1e6 bit/s").unwrap().value, 1e6);
        // One rule for rates, links and checks alike.
        assert_eq!(parse_rate("50mbit"), Ok(5e7));
        assert_eq!(parse_rate("900 Mbit/s"), Ok(9e8));
        assert_eq!(parse_rate("2.5Gbit/s"), Ok(2.5e9));
        assert_eq!(parse_rate("8000"), Ok(8000.0));
        assert!(
            parse_rate("50mbps")
                .unwrap_err()
                .to_string()
                .contains("ambiguous")
        );
        assert!(
            parse_quantity("50 Mbps")
                .unwrap_err()
                .to_string()
                .contains("`50mbit`")
        );
        assert!(parse_rate("5 ms").is_err());
        assert_eq!(parse_quantity("12").unwrap().unit, None);
        assert!(parse_quantity("5 parsecs").is_err());
        assert!(parse_quantity("fast").is_err());
        assert_eq!(parse_percent("10%").unwrap(), 0.1);
        assert!(parse_percent("10").is_err());
        // 5 ms against a column in microseconds is 5000.
        let q = parse_quantity("5ms").unwrap();
        assert_eq!(in_unit(&q, Some("us")).unwrap(), 5000.0);
        let q = parse_quantity("900 Mbit/s").unwrap();
        assert_eq!(in_unit(&q, Some("bit/s")).unwrap(), 9e8);
        assert!(in_unit(&q, Some("ms")).is_err());
        assert!(in_unit(&q, None).is_err());
        assert_eq!(better_of(Some("us")), Some(Better::Lower));
        assert_eq!(better_of(Some("bit/s")), Some(Better::Higher));
        assert_eq!(better_of(Some("packets")), None);
    }

    #[test]
    fn figures_for_people() {
        assert_eq!(human(9288092501.627907, Some("bit/s")), "9.29 Gbit/s");
        assert_eq!(human(950.0, Some("bit/s")), "950 bit/s");
        assert_eq!(human(2.2047499999999998, Some("%")), "2.20 %");
        assert_eq!(human(4851.0, Some("us")), "4851");
        assert_eq!(human(0.012345, None), "0.01235");
        assert_eq!(human(12.0, None), "12");
        assert_eq!(human(3.5e6, Some("bytes")), "3.5 MB");
        assert_eq!(human(f64::NAN, None), "NaN");
    }
}
