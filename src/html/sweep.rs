//! A series' charts (inline SVG): a figure against the first series var,
//! a line per combination of the others through the means (or medians),
//! each point's 95 % interval as an error bar and its trials as dots (a
//! strip plot, so an outlier run shows); a figure against another measured
//! one (latency against achieved throughput); and the trials in the order
//! they ran, to see drift. y on a log axis where asked.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::chart::{WIDTH, legend, si};

/// One line of a sweep chart.
pub struct Line {
    pub name: String,
    pub points: Vec<At>,
}

/// A line's point: its category on the x axis, the mean (or median), its
/// 95 % interval and each trial's value.
pub struct At {
    pub x: usize,
    pub mean: f64,
    pub ci: Option<(f64, f64)>,
    pub dots: Vec<f64>,
}

/// The y axis: what it is (with its unit), and whether it is a log axis
/// (values drawn as log10, labelled as themselves).
#[derive(Clone)]
pub struct YAxis {
    pub desc: String,
    pub log: bool,
}

impl YAxis {
    /// A value where it is drawn (`None`: not drawable on a log axis).
    fn at(&self, v: f64) -> Option<f64> {
        match self.log {
            true if v > 0.0 => Some(v.log10()),
            true => None,
            false => Some(v),
        }
    }

    fn label(&self, v: f64) -> String {
        if self.log {
            super::chart::log_label(v)
        } else {
            si(v)
        }
    }

    /// Ticks to ask for between `y0` and `y1`.
    fn ticks(&self, y0: f64, y1: f64) -> usize {
        if self.log {
            super::chart::log_ticks(y0, y1)
        } else {
            10
        }
    }
}

/// The y range of `values`, padded so that dots at the ends show whole.
fn y_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = super::chart::range(values)?;
    let pad = ((hi - lo) * 0.08)
        .max(hi.abs() * 0.02)
        .max(f64::MIN_POSITIVE);
    Some((lo - pad, hi + pad))
}

/// A figure over the points of the first series var; `None` with nothing to draw.
pub fn sweep(
    title: &str,
    x_desc: &str,
    y: &YAxis,
    x_labels: &[String],
    lines: &[Line],
) -> Option<String> {
    let lines: Vec<Line> = lines.iter().map(|l| on_axis(l, y)).collect();
    let all = lines.iter().flat_map(|l| {
        l.points.iter().flat_map(
            |At {
                 mean: m, ci, dots, ..
             }| {
                std::iter::once(*m)
                    .chain(ci.iter().flat_map(|c| [c.0, c.1]))
                    .chain(dots.iter().copied())
            },
        )
    });
    let (y0, y1) = y_range(all)?;
    let n = x_labels.len().max(1);
    let labels = x_labels.to_vec();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 360)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5..(n as f64 - 0.5), y0..y1)
            .ok()?;
        let lf = move |v: &f64| {
            let i = v.round();
            if (v - i).abs() < 0.01 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let yl = y.clone();
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(&y.desc)
            .x_labels(n * 4 + 1)
            .x_label_formatter(&lf)
            .y_labels(y.ticks(y0, y1))
            .y_label_formatter(&move |v| yl.label(*v))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .ok()?;
        let width = 0.5 / lines.len().max(1) as f64;
        for (li, line) in lines.iter().enumerate() {
            // Lines side by side within a category, so that their bars and dots do not hide each other.
            let dx = (li as f64 - (lines.len() as f64 - 1.0) / 2.0) * width;
            draw_line(&mut chart, line, Palette99::pick(li).to_rgba(), dx, width)?;
        }
        if lines.len() > 1 || lines.first().is_some_and(|l| !l.name.is_empty()) {
            legend(&mut chart, 12)?;
        }
        root.present().ok()?;
    }
    Some(svg)
}

/// A line with its values where the axis draws them.
fn on_axis(l: &Line, y: &YAxis) -> Line {
    Line {
        name: l.name.clone(),
        points: l
            .points
            .iter()
            .filter_map(|p| {
                Some(At {
                    x: p.x,
                    mean: y.at(p.mean)?,
                    ci: p.ci.and_then(|(lo, hi)| {
                        Some((y.at(lo.max(p.mean.min(hi) * 1e-3))?, y.at(hi)?))
                    }),
                    dots: p.dots.iter().filter_map(|d| y.at(*d)).collect(),
                })
            })
            .collect(),
    }
}

/// One point of a line against a measured x: x, y, y's interval.
pub struct XY {
    pub x: f64,
    pub y: f64,
    pub ci: Option<(f64, f64)>,
    /// The point's name (the series var's value), written beside it.
    pub label: String,
}

/// A figure against another measured figure (latency against achieved
/// throughput): a line per row through each point, the points named.
pub fn against(
    title: &str,
    x_desc: &str,
    y: &YAxis,
    lines: &[(String, Vec<XY>)],
) -> Option<String> {
    let drawn: Vec<(String, Vec<XY>)> = lines
        .iter()
        .map(|(name, pts)| {
            (
                name.clone(),
                pts.iter().filter_map(|p| xy_on_axis(p, y)).collect(),
            )
        })
        .collect();
    let xs = drawn.iter().flat_map(|(_, p)| p.iter().map(|q| q.x));
    let (x0, x1) = super::chart::range(xs.chain([0.0]))?;
    let ys = drawn.iter().flat_map(|(_, p)| {
        p.iter()
            .flat_map(|q| std::iter::once(q.y).chain(q.ci.iter().flat_map(|c| [c.0, c.1])))
    });
    let (y0, y1) = y_range(ys)?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 380)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1 * 1.08, y0..y1)
            .ok()?;
        let yl = y.clone();
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(&y.desc)
            .x_label_formatter(&|v| si(*v))
            .y_labels(y.ticks(y0, y1))
            .y_label_formatter(&move |v| yl.label(*v))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .ok()?;
        for (li, (name, pts)) in drawn.iter().enumerate() {
            let color = Palette99::pick(li).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    pts.iter().map(|p| (p.x, p.y)),
                    color.stroke_width(2),
                ))
                .ok()?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            for p in pts {
                draw_xy(&mut chart, p, color)?;
            }
        }
        if drawn.len() > 1 || drawn.first().is_some_and(|(n, _)| !n.is_empty()) {
            legend(&mut chart, 12)?;
        }
        root.present().ok()?;
    }
    Some(svg)
}

/// A point where the axis draws it.
fn xy_on_axis(p: &XY, y: &YAxis) -> Option<XY> {
    Some(XY {
        x: p.x,
        y: y.at(p.y)?,
        ci: p
            .ci
            .and_then(|(lo, hi)| Some((y.at(lo.max(p.y * 1e-3))?, y.at(hi)?))),
        label: p.label.clone(),
    })
}

/// A point: its interval, a dot, its name.
fn draw_xy(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    p: &XY,
    color: RGBAColor,
) -> Option<()> {
    if let Some((lo, hi)) = p.ci {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(p.x, lo), (p.x, hi)],
                color.stroke_width(1),
            )))
            .ok()?;
    }
    chart
        .draw_series(std::iter::once(Circle::new((p.x, p.y), 4, color.filled())))
        .ok()?;
    chart
        .draw_series(std::iter::once(Text::new(
            p.label.clone(),
            (p.x, p.y),
            ("sans-serif", 12).into_font().color(&BLACK.mix(0.7)),
        )))
        .ok()?;
    Some(())
}

/// One line: through the means, an error bar and the trials' dots at each point.
fn draw_line(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    line: &Line,
    color: RGBAColor,
    dx: f64,
    width: f64,
) -> Option<()> {
    let at = |x: usize| x as f64 + dx;
    chart
        .draw_series(LineSeries::new(
            line.points.iter().map(|p| (at(p.x), p.mean)),
            color.stroke_width(2),
        ))
        .ok()?
        .label(line.name.clone())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    for At { x, ci, dots, .. } in &line.points {
        if let Some((lo, hi)) = ci {
            let cap = width * 0.25;
            for seg in [
                vec![(at(*x), *lo), (at(*x), *hi)],
                vec![(at(*x) - cap, *lo), (at(*x) + cap, *lo)],
                vec![(at(*x) - cap, *hi), (at(*x) + cap, *hi)],
            ] {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        seg,
                        color.stroke_width(1),
                    )))
                    .ok()?;
            }
        }
        let k = dots.len().max(1) as f64;
        chart
            .draw_series(dots.iter().enumerate().map(|(i, v)| {
                let jitter = (i as f64 / k - 0.5) * width * 0.5;
                Circle::new((at(*x) + jitter, *v), 3, color.mix(0.45).filled())
            }))
            .ok()?;
    }
    Some(())
}

/// Each trial's value in the order the trials ran, coloured by point.
pub fn drift(
    title: &str,
    y_desc: &str,
    dots: &[(usize, f64, usize)],
    names: &[String],
) -> Option<String> {
    let (y0, y1) = y_range(dots.iter().map(|d| d.1))?;
    let n = dots.iter().map(|d| d.0).max()? + 1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 260)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 14))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0.5..(n as f64 + 0.5), y0..y1)
            .ok()?;
        chart
            .configure_mesh()
            .x_desc("trial, in the order they ran")
            .y_desc(y_desc)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| si(*v))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .ok()?;
        for (pi, name) in names.iter().enumerate() {
            let color = Palette99::pick(pi).to_rgba();
            chart
                .draw_series(
                    dots.iter()
                        .filter(|d| d.2 == pi)
                        .map(|d| Circle::new((d.0 as f64 + 1.0, d.1), 4, color.filled())),
                )
                .ok()?
                .label(name.clone())
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
        }
        // A legend for a few points; past that it would hide the dots.
        if (2..=8).contains(&names.len()) {
            legend(&mut chart, 11)?;
        }
        root.present().ok()?;
    }
    Some(svg)
}
