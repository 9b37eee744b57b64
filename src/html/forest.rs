//! A forest plot (inline SVG): each figure's change in % as a dot with its
//! 95 % interval, a row each, grouped as given, coloured by its verdict,
//! against a line at no change.

use plotters::prelude::*;

use super::chart::WIDTH;

/// One row of the plot.
pub struct Row {
    pub label: String,
    pub pct: f64,
    pub ci: Option<(f64, f64)>,
    /// `better`, `worse`, `changed` or anything else (no significant change).
    pub verdict: String,
}

fn color(verdict: &str) -> RGBColor {
    match verdict {
        "better" => RGBColor(30, 140, 60),
        "worse" => RGBColor(200, 40, 40),
        "changed" => RGBColor(210, 130, 20),
        _ => RGBColor(130, 130, 130),
    }
}

/// `None` with no row.
pub fn forest(title: &str, rows: &[Row]) -> Option<String> {
    if rows.is_empty() {
        return None;
    }
    // The axis spans the changes themselves (not every interval: one
    // figure whose mean is near 0 would flatten all the others), within
    // ±1000 %; what reaches past it is drawn to the edge.
    let points = rows
        .iter()
        .map(|r| r.pct)
        .filter(|v| v.is_finite())
        .chain([0.0]);
    let (lo, hi) = super::chart::range(points)?;
    let pad = ((hi - lo) * 0.25).max(5.0);
    let (lo, hi) = ((lo - pad).max(-1000.0), (hi + pad).min(1000.0));
    let clip = |v: f64| v.clamp(lo, hi);
    let n = rows.len();
    let height = (70 + 18 * n as u32).max(160);
    // Labels that fit their area.
    let labels: Vec<String> = rows
        .iter()
        .map(|r| match r.label.char_indices().nth(56) {
            Some((i, _)) => format!("{}…", &r.label[..i]),
            None => r.label.clone(),
        })
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(360)
            .build_cartesian_2d(lo..hi, 0.0..n as f64)
            .ok()?;
        let lf = super::chart::row_labels(labels);
        chart
            .configure_mesh()
            .x_desc("change of B against A, % (95 % interval)")
            .x_label_formatter(&|v| format!("{v:+.0} %"))
            .y_labels(n * 2 + 1)
            .y_label_formatter(&lf)
            .y_label_style(("sans-serif", 11))
            .disable_y_mesh()
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .ok()?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(0.0, 0.0), (0.0, n as f64)],
                BLACK.mix(0.4).stroke_width(1),
            )))
            .ok()?;
        for (i, r) in rows.iter().enumerate() {
            let y = (n - 1 - i) as f64 + 0.5;
            let c = color(&r.verdict);
            if let Some((a, b)) = r.ci {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(clip(a), y), (clip(b), y)],
                        c.stroke_width(2),
                    )))
                    .ok()?;
            }
            chart
                .draw_series(std::iter::once(Circle::new(
                    (clip(r.pct), y),
                    4,
                    c.filled(),
                )))
                .ok()?;
        }
        root.present().ok()?;
    }
    Some(svg)
}
