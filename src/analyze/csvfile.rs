//! Generic CSV with a header row → n, mean, min, max of every column whose
//! values are all numbers. The delimiter is `,`, `;` or tab (sysstat's
//! `sadf -d` writes `;` and starts its header with `# `).

use std::path::Path;

use super::FileError;
use super::stats::{self, Stats};
use crate::table::{Cell, Column, Table};

#[derive(Debug, Clone)]
pub struct Summary {
    pub delimiter: u8,
    pub rows: usize,
    /// Numeric columns in header order.
    pub numeric: Vec<(String, Stats)>,
    pub non_numeric: Vec<String>,
}

pub fn read_file(path: &Path) -> Result<Summary, FileError> {
    let bytes = fs_err::read(path).map_err(|e| FileError::whole(path, e.to_string()))?;
    parse(&bytes, path)
}

pub fn parse(bytes: &[u8], path: &Path) -> Result<Summary, FileError> {
    let text = String::from_utf8_lossy(bytes);
    let first = text.lines().next().unwrap_or("");
    if first.trim().is_empty() {
        return Err(FileError::whole(
            path,
            "the file is empty; expected CSV with a header row".into(),
        ));
    }
    let delimiter = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| first.matches(*d as char).count())
        .unwrap_or(b',');
    let body = text.strip_prefix("# ").unwrap_or(&text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(body.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| FileError::at(path, 1, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); header.len()];
    let mut numeric = vec![true; header.len()];
    let mut rows = 0;
    for r in reader.records() {
        let r = r.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            FileError::at(
                path,
                line,
                format!("expected {} fields as in the header: {e}", header.len()),
            )
        })?;
        rows += 1;
        for (c, v) in r.iter().enumerate() {
            match v.trim().parse::<f64>() {
                Ok(x) if numeric[c] => columns[c].push(x),
                _ => numeric[c] = false,
            }
        }
    }
    if rows == 0 {
        return Err(FileError::at(path, 1, "a header but no data rows".into()));
    }
    let mut out = Summary {
        delimiter,
        rows,
        numeric: Vec::new(),
        non_numeric: Vec::new(),
    };
    for (c, name) in header.into_iter().enumerate() {
        match (numeric[c], stats::of(columns[c].iter().copied())) {
            (true, Some(s)) => out.numeric.push((name, s)),
            _ => out.non_numeric.push(name),
        }
    }
    Ok(out)
}

pub fn table(rows: Vec<(String, String, Stats)>) -> Table {
    let columns: Vec<Column> = [Column::text("source"), Column::text("column")]
        .into_iter()
        .chain(stats::columns())
        .collect();
    let rows = rows
        .into_iter()
        .map(|(source, col, s)| {
            let mut r = vec![Cell::Text(source), Cell::Text(col)];
            r.extend(stats::cells(Some(&s)));
            r
        })
        .collect();
    Table {
        title: "numeric columns (CSV)".into(),
        columns,
        rows,
        notes: Vec::new(),
    }
}
