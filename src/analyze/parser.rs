//! What a parser is: a declaration (its name, its options, the columns that
//! name a table's rows, its headline figures, whether its figures come from
//! histograms that merge exactly) and a reader. Help text, the plan's
//! validation, the series' key columns, the report's charts and headline
//! figures read the declaration; nothing outside a parser's own file knows
//! it by name. The registry (`analyze::PARSERS`) lists them, one line each.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hdrhistogram::Histogram;

use super::{Analysed, Found, Group, Window};
use crate::plot::Plot;

/// What a parser reads, and what its tables hold.
#[derive(Debug)]
pub struct Declaration {
    /// As the plan and the command line spell it.
    pub name: &'static str,
    /// Other names it answers to (`dool` for `dstat`).
    pub aliases: &'static [&'static str],
    /// One line for help: what it reads.
    pub reads: &'static str,
    pub options: &'static [OptionDecl],
    /// The text columns that name a table's rows (`source`, `tag`): a
    /// series' tables carry them, so a series var may not be named so.
    pub keys: &'static [&'static str],
    /// The figures charted first, as their columns are named (`p99`, or
    /// with the unit where two columns share a name: `received (bit/s)`):
    /// the first is the one per-host bars show.
    pub headline: &'static [&'static str],
    /// Its percentiles come from histograms that merge exactly: a series
    /// pools its trials' files into one histogram per row, and the report
    /// draws latency spectra.
    pub histograms: bool,
    /// Its files span several tests (a monitor's recording): with
    /// `by = ["test"]` they are cut by the tests' windows.
    pub spans_tests: bool,
}

/// One option a parser takes (`unit = "us"`, `--unit us`).
#[derive(Debug)]
pub struct OptionDecl {
    pub name: &'static str,
    pub kind: Kind,
    /// What it does, and its default.
    pub help: &'static str,
}

/// The shape of an option's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `unit = "us"`
    Text,
    /// `columns = ["a", "b"]` (one string is a list of one)
    Texts,
    /// `percentiles = [50, 99.9]`
    Numbers,
    /// `merge = { rps = "sum" }`
    Map,
}

impl Kind {
    /// How the shape is said in an error.
    pub fn shown(self) -> &'static str {
        match self {
            Kind::Text => "a string",
            Kind::Texts => "a list of strings",
            Kind::Numbers => "a list of numbers",
            Kind::Map => "a table of strings (`{ column = \"value\" }`)",
        }
    }

    /// A value as written in a plan, checked against the shape.
    pub fn of_json(self, v: &serde_json::Value) -> Option<Value> {
        use serde_json::Value as J;
        let text = |v: &J| v.as_str().map(str::to_string);
        match (self, v) {
            (Kind::Text, J::String(s)) => Some(Value::Text(s.clone())),
            // A column by its number: `latency = 3`.
            (Kind::Text, J::Number(n)) => Some(Value::Text(n.to_string())),
            (Kind::Texts, J::String(s)) => Some(Value::Texts(vec![s.clone()])),
            (Kind::Texts, J::Array(items)) => items
                .iter()
                .map(text)
                .collect::<Option<_>>()
                .map(Value::Texts),
            (Kind::Numbers, J::Number(n)) => Some(Value::Numbers(vec![n.as_f64()?])),
            (Kind::Numbers, J::Array(items)) => items
                .iter()
                .map(J::as_f64)
                .collect::<Option<_>>()
                .map(Value::Numbers),
            (Kind::Map, J::Object(m)) => m
                .iter()
                .map(|(k, v)| Some((k.clone(), text(v)?)))
                .collect::<Option<_>>()
                .map(Value::Map),
            _ => None,
        }
    }

    /// A value as given on the command line: lists comma-separated, a
    /// table as `key=value,key=value`.
    pub fn of_text(self, s: &str) -> Result<Value, BadValue> {
        let items = || s.split(',').map(str::trim).filter(|x| !x.is_empty());
        match self {
            Kind::Text => Ok(Value::Text(s.to_string())),
            Kind::Texts => Ok(Value::Texts(items().map(str::to_string).collect())),
            Kind::Numbers => items()
                .map(|x| {
                    x.parse::<f64>()
                        .ok()
                        .filter(|n| n.is_finite())
                        .ok_or_else(|| BadValue(format!("`{x}` is not a number")))
                })
                .collect::<Result<_, _>>()
                .map(Value::Numbers),
            Kind::Map => items()
                .map(|x| {
                    x.split_once('=')
                        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                        .ok_or_else(|| BadValue(format!("`{x}`: expected KEY=VALUE")))
                })
                .collect::<Result<_, _>>()
                .map(Value::Map),
        }
    }
}

/// A value given on the command line that is not of an option's shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadValue(pub String);

/// An option's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Texts(Vec<String>),
    Numbers(Vec<f64>),
    Map(Vec<(String, String)>),
}

impl Value {
    /// The value as text, for a content hash and for notes.
    pub fn shown(&self) -> String {
        match self {
            Value::Text(t) => t.clone(),
            Value::Texts(l) => l.join(","),
            Value::Numbers(n) => n.iter().map(f64::to_string).collect::<Vec<_>>().join(","),
            Value::Map(m) => m
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// What an analysis asks of its parser: the options given (a parser's
/// defaults apply to the rest) and the tests' windows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    pub values: BTreeMap<String, Value>,
    /// Test windows (empty: the whole recording).
    pub windows: Vec<Window>,
}

impl Options {
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.values.get(name) {
            Some(Value::Text(t)) => Some(t),
            _ => None,
        }
    }

    /// A list of strings (empty when not given).
    pub fn texts(&self, name: &str) -> &[String] {
        match self.values.get(name) {
            Some(Value::Texts(l)) => l,
            _ => &[],
        }
    }

    pub fn numbers(&self, name: &str) -> Option<&[f64]> {
        match self.values.get(name) {
            Some(Value::Numbers(n)) => Some(n),
            _ => None,
        }
    }

    /// A table of strings (empty when not given).
    pub fn map(&self, name: &str) -> &[(String, String)] {
        match self.values.get(name) {
            Some(Value::Map(m)) => m,
            _ => &[],
        }
    }
}

/// An option a parser refuses, beyond its shape: the option, what is
/// wrong, and what to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub option: String,
    pub message: String,
    pub help: String,
}

/// A parser: its declaration, and how it reads files into a table.
pub trait Parser: Sync {
    fn declaration(&self) -> &'static Declaration;

    /// The options' values checked beyond their shape (a rule that does
    /// not exist, a merge without a key).
    fn check(&self, _opts: &Options) -> Vec<Refusal> {
        Vec::new()
    }

    /// Reads the groups' files into one table: a row per group (and per
    /// whatever the parser tells apart in it).
    fn analyze(&self, groups: &[Group], opts: &Options, found: &mut Found) -> Analysed;

    /// Charts of the files (label, path) over time or percentile, `t0`
    /// being the trial's trigger (seconds since the epoch).
    fn plots(&self, _files: &[(String, PathBuf)], _opts: &Options, _t0: f64) -> Vec<Plot> {
        Vec::new()
    }

    /// The files' histograms merged per row name (a tag, a label), for
    /// latency spectra; empty for a parser without histograms.
    fn histograms(&self, _files: &[PathBuf], _opts: &Options) -> Vec<(String, Histogram<u64>)> {
        Vec::new()
    }
}

/// A parser as the plan and the command line name it.
#[derive(Clone, Copy)]
pub struct ParserKind(pub(super) &'static dyn Parser);

impl ParserKind {
    pub fn parser(self) -> &'static dyn Parser {
        self.0
    }

    pub fn decl(self) -> &'static Declaration {
        self.0.declaration()
    }

    pub fn name(self) -> &'static str {
        self.decl().name
    }

    /// Every parser, in the registry's order.
    pub fn all() -> impl Iterator<Item = ParserKind> {
        super::PARSERS.iter().map(|&p| ParserKind(p))
    }

    /// A name (or an alias) as written.
    pub fn parse(name: &str) -> Option<ParserKind> {
        Self::all().find(|k| k.name() == name || k.decl().aliases.contains(&name))
    }

    /// Every name, aliases left out.
    pub fn names() -> Vec<&'static str> {
        Self::all().map(ParserKind::name).collect()
    }

    /// The option of this name, if the parser takes it.
    pub fn option(self, name: &str) -> Option<&'static OptionDecl> {
        self.decl().options.iter().find(|o| o.name == name)
    }
}

impl PartialEq for ParserKind {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for ParserKind {}

impl std::fmt::Debug for ParserKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Every key column any parser declares (a series var may not be named so).
pub fn key_columns() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in ParserKind::all().flat_map(|p| p.decl().keys.iter().copied()) {
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}
