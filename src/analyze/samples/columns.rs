//! Which field of a line is which, from a file's first line: a header
//! naming the columns, or numbers (columns given by number).

use super::fields::{Bad, latency, split, unquote};
use super::{Col, Sep, Spec};

/// What each column is, as indices into a line's fields.
#[derive(Debug, Clone)]
pub struct Columns {
    pub sep: Sep,
    pub latency: usize,
    pub time: Option<usize>,
    pub time_us: Option<usize>,
    pub status: Option<usize>,
    pub labels: Vec<usize>,
    /// The highest index any of them has: fields past it are not looked at.
    pub last: usize,
}

/// The columns, from a file's first line; whether that line is a header.
pub fn columns(spec: &Spec, text: &str) -> Result<(Columns, bool), Bad> {
    let sep = match spec.sep {
        Sep::Auto if text.contains('\t') => Sep::Tab,
        Sep::Auto if text.contains(',') => Sep::Comma,
        Sep::Auto if text.contains(';') => Sep::Semicolon,
        Sep::Auto => Sep::Space,
        s => s,
    };
    let mut fields: Vec<String> = Vec::new();
    split(text.as_bytes(), sep, usize::MAX - 1, |f| {
        fields.push(String::from_utf8_lossy(&unquote(f)).into_owned())
    })?;
    let header = spec.header.unwrap_or_else(|| {
        spec.names_a_column()
            || match spec.latency {
                Col::Index(i) => fields
                    .get(i)
                    .is_some_and(|c| latency(c.as_bytes()).is_none()),
                Col::Name(_) => true,
            }
    });
    let find = |c: &Col| -> Result<usize, Bad> {
        match c {
            Col::Index(i) if *i < fields.len() => Ok(*i),
            Col::Index(i) => Err(Bad::NoColumn {
                column: *i,
                fields: fields.len(),
            }),
            Col::Name(n) if !header => Err(Bad::NamedWithoutHeader(n.clone())),
            Col::Name(n) => fields
                .iter()
                .position(|h| h == n)
                .ok_or_else(|| Bad::NoSuchName {
                    name: n.clone(),
                    columns: fields.join(", "),
                }),
        }
    };
    let latency = find(&spec.latency)?;
    let time = spec.time.as_ref().map(find).transpose()?;
    let time_us = spec.time_us.as_ref().map(find).transpose()?;
    let status = spec.status.as_ref().map(find).transpose()?;
    let labels: Vec<usize> = spec.labels.iter().map(find).collect::<Result<_, _>>()?;
    if labels.len() > 8 {
        return Err(Bad::TooManyLabels);
    }
    let last = [Some(latency), time, time_us, status]
        .into_iter()
        .flatten()
        .chain(labels.iter().copied())
        .max()
        .unwrap_or(0);
    Ok((
        Columns {
            sep,
            latency,
            time,
            time_us,
            status,
            labels,
            last,
        },
        header,
    ))
}
