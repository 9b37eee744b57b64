//! The charts of a series' analysis, from its trials' own tables: a figure
//! against the first series var (a line per row and combination of the
//! other vars), against another measured figure (`x`), in the order the
//! trials ran, and each point's latency spectrum from its trials'
//! histograms merged. Values in a unit a person reads (ms, not 2M us), on
//! a log axis when they span more than a decade (or as `scale` says);
//! skewed figures (percentiles and maxima of a time) are drawn through
//! their medians with the median's order-statistic interval, others
//! through their means with Student's t interval (never below 0 for a
//! figure that cannot be negative).

use std::path::Path;

use super::sweep::{self, At, Line, XY, YAxis};
use crate::plan::model::{Analysis, Scale};
use crate::series::SeriesFile;
use crate::series::tables::{Gathered, Keys, PointInput, cannot_be_negative, unit_for};
use crate::table::Header;

/// A figure (its full name, its unit) and its values at each point.
type Measured = (String, String, Vec<(usize, Vec<f64>)>);

/// Lines of one chart at most.
const MAX_LINES: usize = 6;

/// What every chart of a series' analysis shares.
pub struct Charts<'a> {
    pub file: &'a SeriesFile,
    pub measured: &'a [Vec<&'a crate::series::TrialEntry>],
    pub inputs: &'a [PointInput<'a>],
    pub g: Gathered,
    /// x labels, each point's x, each point's line (the other vars).
    pub axes: (Vec<String>, Vec<usize>, Vec<String>),
    pub first_var: String,
}

/// A figure's centre and interval over a point's trials.
fn centre(figure: &str, unit: &str, values: &[f64]) -> Option<(f64, Option<(f64, f64)>)> {
    let s = crate::stats::summary(values)?;
    if skewed(figure, unit) {
        return Some((s.median, s.median_ci95));
    }
    let floor = if cannot_be_negative(unit, values) {
        0.0
    } else {
        f64::NEG_INFINITY
    };
    Some((s.mean, s.ci95.map(|(lo, hi)| (lo.max(floor), hi))))
}

/// A percentile or maximum of a time: a heavy tail, summarised by its median.
pub fn skewed(figure: &str, unit: &str) -> bool {
    let name = Header::parse(figure).name;
    let percentile = name
        .strip_prefix('p')
        .is_some_and(|r| r.parse::<f64>().is_ok());
    matches!(crate::units::unit(unit), Some(("time", _))) && (percentile || name.ends_with("max"))
}

impl Charts<'_> {
    /// The values of `figure` in row `keys` at each point.
    fn values(&self, keys: &Keys, figure: &str) -> Vec<(usize, Vec<f64>)> {
        self.g
            .entries
            .iter()
            .filter(|(_, k, f, _)| k == keys && Header::parse(f).is(figure))
            .map(|(pi, _, _, v)| (*pi, v.iter().flatten().copied().collect()))
            .collect()
    }

    /// The rows (in table order) that have `figure`.
    fn rows_with(&self, figure: &str) -> Vec<Keys> {
        let mut rows: Vec<Keys> = Vec::new();
        for (_, keys, f, _) in &self.g.entries {
            if Header::parse(f).is(figure) && !rows.contains(keys) {
                rows.push(keys.clone());
            }
        }
        rows
    }

    /// The full name (with its unit) of `figure` in the tables.
    fn figure_name(&self, figure: &str) -> Option<(String, String)> {
        self.g
            .entries
            .iter()
            .find(|(_, _, f, _)| Header::parse(f).is(figure))
            .map(|(_, k, f, _)| (f.clone(), unit_for(k, f)))
    }

    /// The y axis for these values of `unit`: readable, log when asked or
    /// when they span more than a decade.
    fn axis(&self, a: &Analysis, name: &str, unit: &str, values: &[f64]) -> (YAxis, f64) {
        let (shown, factor) = crate::units::readable(unit, values);
        let positive: Vec<f64> = values.iter().copied().filter(|v| *v > 0.0).collect();
        let spread = positive.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            / positive.iter().copied().fold(f64::INFINITY, f64::min);
        let log = match a.shown.scale {
            Scale::Log => !positive.is_empty(),
            Scale::Linear => false,
            Scale::Auto => positive.len() == values.len() && spread > 10.0,
        };
        let desc = if shown.is_empty() {
            name.to_string()
        } else {
            format!("{name} ({shown})")
        };
        let desc = match (log, positive.len() < values.len()) {
            (true, true) => format!("{desc}, log: values ≤ 0 not drawn"),
            (true, false) => format!("{desc}, log"),
            (false, _) => desc,
        };
        (YAxis { desc, log }, factor)
    }

    /// `figure` against the first series var: a line per row (up to
    /// `MAX_LINES`) and combination of the other vars.
    pub fn sweep(&self, a: &Analysis, figure: &str, rows: &[Keys]) -> Option<String> {
        let (full, unit) = self.figure_name(figure)?;
        let (x_labels, x_of, line_of) = &self.axes;
        let all: Vec<f64> = rows
            .iter()
            .flat_map(|k| self.values(k, figure))
            .flat_map(|(_, v)| v)
            .collect();
        let name = Header::parse(&full).name;
        let (y, factor) = self.axis(a, &name, &unit, &all);
        let mut lines: Vec<Line> = Vec::new();
        for keys in rows {
            for (pi, values) in self.values(keys, figure) {
                let values: Vec<f64> = values.iter().map(|v| v * factor).collect();
                let Some((mid, ci)) = centre(&full, &unit, &values) else {
                    continue;
                };
                // A row is named when there are several.
                let row = if rows.len() > 1 {
                    row_text(keys)
                } else {
                    String::new()
                };
                let line = [row, line_of[pi].clone()]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" · ");
                let at = match lines.iter().position(|l| l.name == line) {
                    Some(i) => i,
                    None if lines.len() < MAX_LINES => {
                        lines.push(Line {
                            name: line,
                            points: Vec::new(),
                        });
                        lines.len() - 1
                    }
                    None => continue,
                };
                lines[at].points.push(At {
                    x: x_of[pi],
                    mean: mid,
                    ci,
                    dots: values,
                });
            }
        }
        for l in &mut lines {
            l.points.sort_by_key(|p| p.x);
        }
        let how = if skewed(&full, &unit) {
            "median, its 95 % interval"
        } else {
            "mean, 95 % interval"
        };
        let title = format!(
            "{}: {name} against {} ({how}; dots: trials)",
            a.name, self.first_var
        );
        sweep::sweep(&title, &self.first_var, &y, x_labels, &lines)
    }

    /// The analysis's headline figures against its `x` figure, for its
    /// first row: a line per figure through the points, each named by its
    /// series var.
    pub fn against(&self, a: &Analysis, x: &str, figures: &[String]) -> Option<String> {
        let keys = self.rows_with(x).into_iter().next()?;
        let (x_full, x_unit) = self.figure_name(x)?;
        let xs: Vec<(usize, f64)> = self
            .values(&keys, x)
            .into_iter()
            .filter_map(|(pi, v)| Some((pi, centre(&x_full, &x_unit, &v)?.0)))
            .collect();
        let ys: Vec<Measured> = figures
            .iter()
            .filter(|f| !Header::parse(f).is(x))
            .filter_map(|f| {
                let (full, unit) = self.figure_name(f)?;
                Some((full, unit, self.values(&keys, f)))
            })
            .collect();
        let (_, unit, _) = ys.first()?;
        let all: Vec<f64> = ys
            .iter()
            .flat_map(|(_, _, v)| v.iter().flat_map(|(_, x)| x.iter().copied()))
            .collect();
        let names: Vec<String> = ys
            .iter()
            .filter(|(_, u, _)| u == unit)
            .map(|(f, _, _)| Header::parse(f).name)
            .collect();
        let (y, factor) = self.axis(a, &names.join(", "), unit, &all);
        let lines: Vec<(String, Vec<XY>)> = ys
            .iter()
            .filter(|(_, u, _)| u == unit)
            .map(|(full, unit, values)| {
                let mut pts: Vec<XY> = values
                    .iter()
                    .filter_map(|(pi, v)| {
                        let v: Vec<f64> = v.iter().map(|x| x * factor).collect();
                        let (mid, ci) = centre(full, unit, &v)?;
                        let x = xs.iter().find(|(p, _)| p == pi)?.1;
                        Some(XY {
                            x,
                            y: mid,
                            ci,
                            label: self.axes.0[self.axes.1[*pi]].clone(),
                        })
                    })
                    .collect();
                pts.sort_by(|p, q| p.x.total_cmp(&q.x));
                (Header::parse(full).name, pts)
            })
            .collect();
        let x_desc = if x_unit.is_empty() {
            Header::parse(&x_full).name
        } else {
            x_full.clone()
        };
        let title = format!(
            "{}: against {} (each point a {} value; {})",
            a.name,
            Header::parse(&x_full).name,
            self.first_var,
            row_text(&keys)
        );
        sweep::against(&title, &x_desc, &y, &lines)
    }

    /// Each point's latency spectrum, from all its trials' histograms
    /// merged (the first row of each).
    pub fn spectra(&self, a: &Analysis, dir: &Path) -> Option<String> {
        if !a.parser.decl().histograms {
            return None;
        }
        let root = dir.parent().unwrap_or(Path::new("."));
        let parser = a.parser.parser();
        let mut series = Vec::new();
        let mut y = String::new();
        for (pi, point) in self.inputs.iter().enumerate() {
            let files: Vec<(String, std::path::PathBuf)> = self.measured[pi]
                .iter()
                .flat_map(|t| super::input_files(a, &root.join(&t.id)))
                .collect();
            if y.is_empty()
                && let Some(p) = parser
                    .plots(&files[..files.len().min(1)], &a.options, 0.0)
                    .into_iter()
                    .find(|p| p.x == crate::plot::XAxis::Nines)
            {
                y = p.y;
            }
            let paths: Vec<std::path::PathBuf> = files.into_iter().map(|(_, p)| p).collect();
            if let Some((_, h)) = parser.histograms(&paths, &a.options).into_iter().next() {
                let name = if point.label.is_empty() {
                    "all".to_string()
                } else {
                    point.label.to_string()
                };
                series.push(crate::plot::Series {
                    name,
                    points: crate::analyze::latency::spectrum(&h),
                });
            }
        }
        if series.len() > 12 {
            series.truncate(12);
        }
        super::chart::lines(
            &format!(
                "{}: latency by percentile, each point's trials merged",
                a.name
            ),
            crate::plot::XAxis::Nines,
            &y,
            &series,
            &[],
            400,
        )
    }

    /// A figure of a row in the order the trials ran, coloured by point.
    pub fn drift(&self, a: &Analysis, keys: &Keys, figure: &str) -> Option<String> {
        let (full, unit) = self.figure_name(figure)?;
        let mut dots: Vec<(usize, f64, usize)> = Vec::new();
        for (pi, k, f, values) in &self.g.entries {
            if k != keys || f != &full {
                continue;
            }
            for (t, v) in self.measured[*pi].iter().zip(values) {
                let run = self.file.trials.iter().position(|x| x.id == t.id);
                if let (Some(v), Some(run)) = (v, run) {
                    dots.push((run, *v, *pi));
                }
            }
        }
        let all: Vec<f64> = dots.iter().map(|d| d.1).collect();
        let (shown, factor) = crate::units::readable(&unit, &all);
        for d in &mut dots {
            d.1 *= factor;
        }
        let names: Vec<String> = self
            .file
            .points
            .iter()
            .map(|p| {
                if p.label.is_empty() {
                    "all".into()
                } else {
                    p.label.clone()
                }
            })
            .collect();
        let row = row_text(keys);
        let title = format!(
            "{}: {full}{}, in the order the trials ran",
            a.name,
            if row.is_empty() {
                String::new()
            } else {
                format!(" — {row}")
            }
        );
        sweep::drift(&title, &shown, &dots, &names)
    }
}

pub fn row_text(keys: &[(String, String)]) -> String {
    keys.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}
