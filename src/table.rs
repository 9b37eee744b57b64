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
