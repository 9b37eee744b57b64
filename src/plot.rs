//! A chart as data: lines of (x, y) points on an x axis, with shaded spans
//! (test windows). Parsers say what their input files show; the report
//! draws it (`html::chart`). No drawing here.

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A shaded span of the x axis (a test's window), with a label.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub from: f64,
    pub to: f64,
    pub label: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// Seconds (since the trial's trigger).
    Seconds,
    /// Percentiles on a log "nines" axis: x = -log10(1 - p/100).
    Nines,
}

/// A chart of an analysis's input files.
#[derive(Debug, Clone, PartialEq)]
pub struct Plot {
    pub title: String,
    pub x: XAxis,
    /// What y is, with its unit (`bit/s`, `latency (us)`).
    pub y: String,
    pub series: Vec<Series>,
    /// Shade the tests' windows (time series only).
    pub windows: bool,
    /// Height in pixels.
    pub height: u32,
}
