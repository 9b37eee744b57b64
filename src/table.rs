//! A result table: typed columns (unit, precision), rows of cells, and notes
//! saying what it was computed from. Renderers turn it into bytes.

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i128),
    Float(f64),
    Empty,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub unit: Option<String>,
    /// Decimals printed for floats (CSV prints full precision).
    pub decimals: usize,
    pub numeric: bool,
}

impl Column {
    pub fn text(name: &str) -> Column {
        Column {
            name: name.into(),
            unit: None,
            decimals: 0,
            numeric: false,
        }
    }
    pub fn int(name: &str, unit: Option<&str>) -> Column {
        Column {
            name: name.into(),
            unit: unit.map(str::to_string),
            decimals: 0,
            numeric: true,
        }
    }
    pub fn float(name: &str, unit: Option<&str>, decimals: usize) -> Column {
        Column {
            name: name.into(),
            unit: unit.map(str::to_string),
            decimals,
            numeric: true,
        }
    }

    /// `p99 (us)`
    pub fn header(&self) -> String {
        match &self.unit {
            Some(u) if !u.is_empty() => format!("{} ({u})", self.name),
            _ => self.name.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub title: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    /// "computed from" lines: trial, files, parser, units, rules.
    pub notes: Vec<String>,
}

impl Table {
    /// A cell as shown in Markdown/Mediawiki: fixed precision per column.
    pub fn shown(&self, col: usize, cell: &Cell) -> String {
        match cell {
            Cell::Text(t) => t.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => format!("{:.*}", self.columns[col].decimals, f),
            Cell::Empty => String::new(),
        }
    }

    /// A cell as written to CSV: full precision, nothing rounded.
    pub fn exact(cell: &Cell) -> String {
        match cell {
            Cell::Text(t) => t.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => f.to_string(),
            Cell::Empty => String::new(),
        }
    }
}

/// A column's header as a table writes it: `p99 (us)` is the name `p99`
/// in the unit `us`; `source` has no unit. Every reader of a table's CSV
/// splits headers here, and only here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub unit: Option<String>,
}

impl Header {
    pub fn parse(header: &str) -> Header {
        match header
            .rsplit_once(" (")
            .and_then(|(name, u)| Some((name, u.strip_suffix(')')?)))
        {
            Some((name, unit)) if !name.is_empty() => Header {
                name: name.to_string(),
                unit: Some(unit.to_string()),
            },
            _ => Header {
                name: header.to_string(),
                unit: None,
            },
        }
    }

    /// The unit, `""` when there is none.
    pub fn unit(&self) -> &str {
        self.unit.as_deref().unwrap_or("")
    }

    /// Whether `wanted` names this column: `p99`, `p99 (us)` or `p99 us`.
    pub fn is(&self, wanted: &str) -> bool {
        match &self.unit {
            None => wanted == self.name,
            Some(u) => {
                wanted == self.name
                    || wanted == format!("{} ({u})", self.name)
                    || wanted == format!("{} {u}", self.name)
            }
        }
    }
}

impl std::fmt::Display for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.unit {
            Some(u) => write!(f, "{} ({u})", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A row split: its text cells (its identity) and its figures, by header.
pub type SplitRow = (Vec<(String, String)>, Vec<(String, Option<f64>)>);

/// A table read back from its CSV (an analysis's `analysis/<name>.csv`):
/// the one reader of tables, for checks, series, comparisons and reports.
#[derive(Debug, Clone, Default)]
pub struct Csv {
    /// The headers as written (`p99 (us)`).
    pub headers: Vec<String>,
    /// The same, each split into name and unit.
    pub columns: Vec<Header>,
    pub rows: Vec<Vec<String>>,
}

impl Csv {
    /// The table at `path`; an error says what is wrong (the caller names
    /// the file, as its reader knows it).
    pub fn read(path: &std::path::Path) -> Result<Csv, Unreadable> {
        let r = csv::Reader::from_path(path).map_err(Unreadable)?;
        Self::from_reader(r)
    }

    pub fn parse(text: &str) -> Result<Csv, Unreadable> {
        Self::from_reader(csv::Reader::from_reader(text.as_bytes()))
    }

    fn from_reader<R: std::io::Read>(mut r: csv::Reader<R>) -> Result<Csv, Unreadable> {
        let headers: Vec<String> = r
            .headers()
            .map_err(Unreadable)?
            .iter()
            .map(str::to_string)
            .collect();
        let columns = headers.iter().map(|h| Header::parse(h)).collect();
        let rows = r
            .records()
            .map(|rec| {
                rec.map(|r| r.iter().map(str::to_string).collect())
                    .map_err(Unreadable)
            })
            .collect::<Result<_, _>>()?;
        Ok(Csv {
            headers,
            columns,
            rows,
        })
    }

    /// The column `wanted` names (`p99`, `p99 (us)`, `p99 us`); an error
    /// lists the columns there are, or asks for the unit when two share a
    /// name.
    pub fn find(&self, wanted: &str) -> Result<usize, NoColumn> {
        let matches: Vec<usize> = (0..self.columns.len())
            .filter(|&i| self.columns[i].is(wanted))
            .collect();
        match matches.as_slice() {
            [one] => Ok(*one),
            [] => Err(NoColumn::Missing {
                wanted: wanted.to_string(),
                have: self.headers.join(", "),
            }),
            [first, ..] => Err(NoColumn::Ambiguous {
                wanted: wanted.to_string(),
                unit: self.columns[*first].unit().to_string(),
            }),
        }
    }

    /// A row's identity: its text cells, `name=value`, space-separated.
    pub fn row_key(&self, row: &[String]) -> String {
        self.text_columns()
            .into_iter()
            .map(|i| {
                format!(
                    "{}={}",
                    self.columns[i].name,
                    row.get(i).map_or("", String::as_str)
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The column whose header is exactly `header`.
    pub fn position(&self, header: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == header)
    }

    /// A row's cell under `header` (`""` when absent).
    pub fn cell<'a>(&self, row: &'a [String], header: &str) -> &'a str {
        self.position(header)
            .and_then(|i| row.get(i))
            .map_or("", String::as_str)
    }

    /// Columns that hold text somewhere: a row's identity, not a figure.
    pub fn text_columns(&self) -> Vec<usize> {
        (0..self.headers.len())
            .filter(|&i| {
                self.rows.iter().any(|r| {
                    r.get(i)
                        .is_some_and(|c| !c.is_empty() && c.parse::<f64>().is_err())
                })
            })
            .collect()
    }

    /// Every row as (its text cells by header, its figures by header).
    pub fn split(&self) -> Vec<SplitRow> {
        let text = self.text_columns();
        self.rows
            .iter()
            .map(|r| {
                let mut keys = Vec::new();
                let mut figures = Vec::new();
                for (i, h) in self.headers.iter().enumerate() {
                    let cell = r.get(i).map_or("", String::as_str);
                    if text.contains(&i) {
                        keys.push((h.clone(), cell.to_string()));
                    } else {
                        figures.push((h.clone(), cell.parse::<f64>().ok()));
                    }
                }
                (keys, figures)
            })
            .collect()
    }
}

/// A table's CSV that cannot be read: the line, where the error has one.
#[derive(Debug)]
pub struct Unreadable(csv::Error);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.position() {
            Some(p) => write!(f, "line {}: {}", p.line(), self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

impl std::error::Error for Unreadable {}

/// A column a check or a selection names that the table does not have, or
/// that names two of its columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoColumn {
    Missing { wanted: String, have: String },
    Ambiguous { wanted: String, unit: String },
}

impl std::fmt::Display for NoColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoColumn::Missing { wanted, have } => {
                write!(f, "the table has no column `{wanted}`; it has: {have}")
            }
            NoColumn::Ambiguous { wanted, unit } => write!(
                f,
                "`{wanted}` names several columns; add the unit, as in `{wanted} {unit}`"
            ),
        }
    }
}

impl std::error::Error for NoColumn {}
