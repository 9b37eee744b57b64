//! Charts as inline SVG (plotters' SVG backend: `<text>` for labels, no
//! font files, nothing fetched). Long series are thinned for drawing only;
//! tables always carry the exact figures.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

pub const WIDTH: u32 = 1200;
/// Points per series drawn at most (a 1 h series of 1 s samples is 3600).
const MAX_POINTS: usize = 1500;

pub use crate::plot::{Plot, Series, Span, XAxis};

/// At most `max` points, evenly taken, the last one kept.
fn thin(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max {
        return points.to_vec();
    }
    let step = points.len().div_ceil(max);
    let mut out: Vec<(f64, f64)> = points.iter().step_by(step).copied().collect();
    if let Some(&last) = points.last()
        && out.last() != Some(&last)
    {
        out.push(last);
    }
    out
}

pub(super) fn range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo > hi {
        return None;
    }
    Some(if (hi - lo).abs() < f64::EPSILON {
        (lo - 1.0, hi + 1.0)
    } else {
        (lo, hi)
    })
}

/// `1.2 G`, `350 k`: compact axis labels.
pub fn si(v: f64) -> String {
    let a = v.abs();
    let (d, s) = if a >= 1e12 {
        (1e12, "T")
    } else if a >= 1e9 {
        (1e9, "G")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e4 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    let x = v / d;
    if x.fract().abs() < 1e-9 {
        format!("{x:.0}{s}")
    } else {
        format!("{x:.1}{s}")
    }
}

fn nines_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    let digits = (x.ceil() as usize).saturating_sub(2);
    format!("{p:.digits$}%")
}

/// A 2-D chart on an SVG string.
pub(super) type Chart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A line chart; `None` when there is nothing to draw.
pub fn lines(
    title: &str,
    x: XAxis,
    y_desc: &str,
    series: &[Series],
    spans: &[Span],
    height: u32,
) -> Option<String> {
    // Values in a unit a person reads (ms, not 2M us).
    let (series, y_desc) = &readable(series, y_desc);
    // Latency spectra span decades (a 2 s outlier over 1 ms reads): a
    // log latency axis, drawn as log10 on a linear one.
    let log_y = matches!(x, XAxis::Nines);
    let drawn = drawable(series, log_y);
    let (x0, x1) = range(drawn.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)))?;
    let (y0, y1) = range(drawn.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)))?;
    let (y0, y1) = if log_y {
        (y0.floor(), y1.ceil().max(y0.floor() + 1.0))
    } else {
        (y0.min(0.0), y1 * 1.05)
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .ok()?;
        let nines = matches!(x, XAxis::Nines);
        let fine = x1 - x0 < 20.0;
        let xf = move |v: &f64| {
            if nines {
                nines_label(*v)
            } else if fine {
                format!("{v:.1}")
            } else {
                format!("{v:.0}")
            }
        };
        chart
            .configure_mesh()
            .x_desc(if nines {
                "percentile"
            } else {
                "seconds since the trigger"
            })
            .y_desc(y_desc)
            .x_labels(if nines { (x1.ceil() as usize) + 1 } else { 10 })
            .x_label_formatter(&xf)
            .y_labels(if log_y { log_ticks(y0, y1) } else { 10 })
            .y_label_formatter(&move |v| if log_y { log_label(*v) } else { si(*v) })
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .ok()?;
        draw_spans(&mut chart, spans, (x0, x1), y0, y1)?;
        draw_lines(&mut chart, &drawn)?;
        root.present().ok()?;
    }
    Some(svg)
}

/// Series whose y is a quantity (`latency (us)`) in the unit a person
/// reads its values in, and the y description in it.
fn readable(series: &[Series], y_desc: &str) -> (Vec<Series>, String) {
    let h = crate::table::Header::parse(y_desc);
    let all: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .collect();
    let (unit, f) = crate::units::readable(h.unit(), &all);
    if f == 1.0 {
        return (series.to_vec(), y_desc.to_string());
    }
    let scaled = series
        .iter()
        .map(|s| Series {
            name: s.name.clone(),
            points: s.points.iter().map(|&(x, y)| (x, y * f)).collect(),
        })
        .collect();
    (scaled, format!("{} ({unit})", h.name))
}

/// Ticks to ask for on a log10 axis from `y0` to `y1`: one each 0.1, so
/// that 1, 2 and 5 of each decade fall on one (`log_label`).
pub fn log_ticks(y0: f64, y1: f64) -> usize {
    (((y1 - y0) / 0.1).round() as usize + 1).clamp(2, 80)
}

/// A log10 axis's tick, labelled only at 1, 2 and 5 of a decade.
pub fn log_label(v: f64) -> String {
    let decade = v.floor();
    let frac = v - decade;
    use std::f64::consts::LOG10_2;
    let mantissa = [
        (0.0, 1.0),
        (LOG10_2, 2.0),
        (1.0 - LOG10_2, 5.0),
        (1.0, 10.0),
    ]
    .iter()
    .find(|(at, _)| (frac - at).abs() < 0.02)
    .map(|(_, m)| *m);
    match mantissa {
        Some(m) => crate::units::significant(m * 10f64.powf(decade), 3),
        None => String::new(),
    }
}

/// The series with points, thinned for drawing (many lines share a
/// budget: a chart of 50 hosts stays small), on a log axis if asked.
fn drawable(series: &[Series], log_y: bool) -> Vec<(String, Vec<(f64, f64)>)> {
    let n = series
        .iter()
        .filter(|s| !s.points.is_empty())
        .count()
        .max(1);
    let budget = (MAX_POINTS * 4 / n).clamp(150, MAX_POINTS);
    series
        .iter()
        .filter(|s| !s.points.is_empty())
        .map(|s| {
            let mut pts = thin(&s.points, budget);
            if log_y {
                for p in &mut pts {
                    p.1 = p.1.max(1.0).log10();
                }
            }
            (s.name.clone(), pts)
        })
        .collect()
}

/// Shaded spans of the x axis (tests' windows), each labelled.
fn draw_spans(
    chart: &mut Chart,
    spans: &[Span],
    (x0, x1): (f64, f64),
    y0: f64,
    y1: f64,
) -> Option<()> {
    for s in spans {
        let from = s.from.max(x0);
        let to = s.to.min(x1);
        if to <= from {
            continue;
        }
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(from, y0), (to, y1)],
                RGBColor(70, 130, 220).mix(0.12).filled(),
            )))
            .ok()?;
        chart
            .draw_series(std::iter::once(Text::new(
                s.label.clone(),
                (from, y1),
                ("sans-serif", 12).into_font().color(&RGBColor(40, 80, 160)),
            )))
            .ok()?;
    }
    Some(())
}

/// A line per series, and a legend when there is more than one (or a named one).
fn draw_lines<'a, 'b: 'a>(
    chart: &mut Chart<'a, 'b>,
    drawn: &[(String, Vec<(f64, f64)>)],
) -> Option<()> {
    for (i, (name, pts)) in drawn.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
            .ok()?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    if drawn.len() > 1 || !drawn[0].0.is_empty() {
        legend(chart, 12)?;
    }
    Some(())
}

/// The chart's legend, top right, its labels `font` px.
pub(super) fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>, font: u32) -> Option<()> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .border_style(BLACK.mix(0.3))
        .background_style(WHITE.mix(0.85))
        .label_font(("sans-serif", font))
        .draw()
        .ok()
}

/// The y labels of a chart of rows (row `i` from the top spans
/// `n − 1 − i … n − i`): a row's label at its middle, nothing elsewhere.
pub(super) fn row_labels(labels: Vec<String>) -> impl Fn(&f64) -> String {
    let n = labels.len();
    move |v: &f64| {
        let i = v.floor() as usize;
        if n > 0 && (v - v.floor() - 0.5).abs() < 0.01 {
            labels
                .get(n - 1 - i.min(n - 1))
                .cloned()
                .unwrap_or_default()
        } else {
            String::new()
        }
    }
}

/// Horizontal bars, one per label: the slow host stands out.
pub fn bars(title: &str, x_desc: &str, items: &[(String, f64)]) -> Option<String> {
    if items.is_empty() {
        return None;
    }
    let max = items
        .iter()
        .map(|i| i.1)
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE)
        * 1.1;
    let height = (80 + 30 * items.len() as u32).max(300);
    let labels: Vec<String> = items.iter().map(|i| i.0.clone()).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let n = items.len();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(220)
            .build_cartesian_2d(0.0..max, 0.0..n as f64)
            .ok()?;
        let lf = row_labels(labels);
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .x_label_formatter(&|v| si(*v))
            .y_labels(n * 2 + 1)
            .y_label_formatter(&lf)
            .disable_y_mesh()
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .ok()?;
        chart
            .draw_series(items.iter().enumerate().map(|(i, (_, v))| {
                let y = (n - 1 - i) as f64;
                Rectangle::new(
                    [(0.0, y + 0.15), (*v, y + 0.85)],
                    RGBColor(70, 130, 220).filled(),
                )
            }))
            .ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

/// One row of the timeline: spans on one line (a host's test run, a
/// monitor), `failed` ones in red.
pub struct Lane {
    pub label: String,
    pub spans: Vec<(f64, f64, bool)>,
}

/// The trial's timeline: a lane per host and test (and monitor), armed
/// times as vertical marks.
pub fn timeline(lanes: &[Lane], marks: &[(f64, String)]) -> Option<String> {
    let (x0, x1) = range(
        lanes
            .iter()
            .flat_map(|l| l.spans.iter().flat_map(|s| [s.0, s.1]))
            .chain(marks.iter().map(|m| m.0)),
    )?;
    let pad = (x1 - x0) * 0.02;
    let n = lanes.len();
    let height = (80 + 24 * n as u32).max(300);
    let labels: Vec<String> = lanes.iter().map(|l| l.label.clone()).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .caption("timeline", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(260)
            .build_cartesian_2d((x0 - pad)..(x1 + pad), 0.0..n.max(1) as f64)
            .ok()?;
        let lf = move |v: &f64| {
            let i = v.floor() as usize;
            if (v - v.floor() - 0.5).abs() < 0.01 && i < n {
                labels[n - 1 - i].clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .x_desc("seconds since the trigger")
            .x_label_formatter(&move |v| {
                if x1 - x0 < 5.0 {
                    format!("{v:.2}")
                } else {
                    format!("{v:.1}")
                }
            })
            .y_labels(n * 2 + 1)
            .y_label_formatter(&lf)
            .disable_y_mesh()
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .ok()?;
        draw_lanes(&mut chart, lanes, pad)?;
        draw_marks(&mut chart, marks, n)?;
        root.present().ok()?;
    }
    Some(svg)
}

/// Each lane's spans as bars, failed ones red; short runs stay visible.
fn draw_lanes(chart: &mut Chart, lanes: &[Lane], pad: f64) -> Option<()> {
    let n = lanes.len();
    for (i, lane) in lanes.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        chart
            .draw_series(lane.spans.iter().map(|&(a, b, failed)| {
                let color = if failed {
                    RGBColor(210, 50, 50)
                } else {
                    RGBColor(70, 130, 220)
                };
                Rectangle::new(
                    [(a, y + 0.2), (b.max(a + pad * 0.25), y + 0.8)],
                    color.filled(),
                )
            }))
            .ok()?;
    }
    Some(())
}

/// Vertical marks (the times tests were armed to start), labelled.
fn draw_marks(chart: &mut Chart, marks: &[(f64, String)], n: usize) -> Option<()> {
    for (x, label) in marks {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(*x, 0.0), (*x, n as f64)],
                BLACK.mix(0.5).stroke_width(1),
            )))
            .ok()?;
        chart
            .draw_series(std::iter::once(Text::new(
                label.clone(),
                (*x, n as f64),
                ("sans-serif", 11),
            )))
            .ok()?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_axes_and_thinned_series() {
        let points: Vec<(f64, f64)> = (0..3600)
            .map(|i| (f64::from(i), f64::from(i % 60)))
            .collect();
        let svg = lines(
            "cpu",
            XAxis::Seconds,
            "%",
            &[Series {
                name: "usr".into(),
                points,
            }],
            &[Span {
                from: 10.0,
                to: 20.0,
                label: "tcp".into(),
            }],
            300,
        )
        .unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("seconds since the trigger"));
        assert!(svg.contains("\ntcp\n") && svg.contains("\nusr\n"), "{svg}");
        assert!(svg.len() < 200_000, "{} bytes", svg.len());
        assert_eq!(nines_label(1.0), "90%");
        assert_eq!(nines_label(3.0), "99.9%");
        assert_eq!(si(9.5e8), "950M");
        assert_eq!(si(1.25e9), "1.2G");
        assert!(
            bars("b", "bit/s", &[("client[0]".into(), 1e9)])
                .unwrap()
                .contains("client[0]")
        );
        assert!(lines("x", XAxis::Seconds, "", &[], &[], 300).is_none());
    }
}
