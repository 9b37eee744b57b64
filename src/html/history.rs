//! `trials/<plan>/history.html`: a chart per figure over the plan's runs —
//! the value per run, a series' 95 % interval as a band, the runs'
//! labels on x, each change point a line with its change in % — and a
//! link to each run's report. Self-contained: inline CSS and SVG.

use std::fmt::Write as _;

use crate::history::{Figure, Run};

/// HTML text.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub fn page(plan: &str, runs: &[Run], figures: &[Figure], notes: &[String]) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>{} — history</h1><p>{} runs, oldest first. {}</p>",
        esc(plan),
        runs.len(),
        notes
            .iter()
            .map(|n| esc(&n.replace('`', "")))
            .collect::<Vec<_>>()
            .join(" ")
    );
    for f in figures {
        let _ = write!(
            body,
            "<h2>{} · {} · {}</h2>{}",
            esc(&f.analysis),
            esc(&f.row()),
            esc(&f.figure),
            chart(runs, f)
        );
        for c in &f.changes {
            let _ = write!(
                body,
                "<p class=\"change {v}\">Change point before run {} ({}): {:.4} → {:.4} ({:+.1} %), p = {:.4}: {v}</p>",
                c.run + 1,
                esc(&runs[c.run].label),
                c.before,
                c.after,
                c.percent(),
                c.p,
                v = c.verdict
            );
        }
    }
    body.push_str(
        "<h2>Runs</h2><table><tr><th>#</th><th>label</th><th>id</th><th>status</th></tr>",
    );
    for (i, r) in runs.iter().enumerate() {
        let link = if r.dir.join("report.html").is_file() {
            format!("<a href=\"{}/report.html\">{}</a>", esc(&r.id), esc(&r.id))
        } else {
            esc(&r.id)
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{link}</td><td>{}</td></tr>",
            i + 1,
            esc(&r.label),
            esc(&r.status)
        );
    }
    body.push_str("</table>");
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — history</title><style>{CSS}</style></head><body>{body}</body></html>\n",
        esc(plan)
    )
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}h2{font-size:1.05em;margin-top:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}.change{margin:.2em 0}.worse{color:#b00}.better{color:#070}svg{background:#fff}";

const W: f64 = 900.0;
const H: f64 = 260.0;
const LEFT: f64 = 80.0;
const BOTTOM: f64 = 70.0;
const TOP: f64 = 12.0;

/// One figure's values per run: a line with dots, the interval band, the
/// change points.
fn chart(runs: &[Run], f: &Figure) -> String {
    let ys = f
        .points
        .iter()
        .flat_map(|&(_, v, ci, _)| [Some(v), ci.map(|c| c.0), ci.map(|c| c.1)])
        .flatten()
        .filter(|v| v.is_finite());
    let (mut lo, mut hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        return String::new();
    }
    if hi - lo < 1e-12 {
        lo -= 1.0;
        hi += 1.0;
    }
    let pad = (hi - lo) * 0.08;
    let (lo, hi) = (lo - pad, hi + pad);
    let n = runs.len().max(2) as f64;
    let x = |i: usize| LEFT + (i as f64 + 0.5) * (W - LEFT - 10.0) / n;
    let y = |v: f64| TOP + (hi - v) / (hi - lo) * (H - TOP - BOTTOM);
    let mut s = axes(runs, lo, hi, &x, &y);
    let band: Vec<(usize, (f64, f64))> = f
        .points
        .iter()
        .filter_map(|&(i, _, ci, _)| Some((i, ci?)))
        .collect();
    if band.len() > 1 {
        let up: Vec<String> = band
            .iter()
            .map(|(i, c)| format!("{:.1},{:.1}", x(*i), y(c.1)))
            .collect();
        let down: Vec<String> = band
            .iter()
            .rev()
            .map(|(i, c)| format!("{:.1},{:.1}", x(*i), y(c.0)))
            .collect();
        let _ = write!(
            s,
            "<polygon points=\"{} {}\" fill=\"#1f77b4\" fill-opacity=\"0.18\"/>",
            up.join(" "),
            down.join(" ")
        );
    }
    let line: Vec<String> = f
        .points
        .iter()
        .map(|&(i, v, _, _)| format!("{:.1},{:.1}", x(i), y(v)))
        .collect();
    let _ = write!(
        s,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\"/>",
        line.join(" ")
    );
    for &(i, v, _, _) in &f.points {
        let _ = write!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#1f77b4\"><title>{}: {v}</title></circle>",
            x(i),
            y(v),
            esc(&runs[i].label)
        );
    }
    s.push_str(&marks(f, n, &x));
    s.push_str("</svg>");
    s
}

/// The frame, the y labels and the runs' labels.
fn axes(
    runs: &[Run],
    lo: f64,
    hi: f64,
    x: &dyn Fn(usize) -> f64,
    y: &dyn Fn(f64) -> f64,
) -> String {
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\">"
    );
    let _ = write!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{b}\" x2=\"{W}\" y2=\"{b}\" stroke=\"#888\"/><line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{b}\" stroke=\"#888\"/>",
        b = H - BOTTOM
    );
    for k in 0..=4 {
        let v = lo + (hi - lo) * k as f64 / 4.0;
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            LEFT - 4.0,
            y(v) + 4.0,
            esc(&crate::html::chart::si(v))
        );
    }
    for (i, r) in runs.iter().enumerate() {
        let _ = write!(
            s,
            "<text transform=\"translate({:.1},{}) rotate(-40)\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            x(i) + 3.0,
            H - BOTTOM + 12.0,
            esc(&r.label.chars().take(24).collect::<String>())
        );
    }
    s
}

/// Each change point: a dashed line before its first run, its change in %.
fn marks(f: &Figure, n: f64, x: &dyn Fn(usize) -> f64) -> String {
    let mut s = String::new();
    for c in &f.changes {
        let cx = x(c.run) - (W - LEFT - 10.0) / n / 2.0;
        let color = if c.verdict == "worse" {
            "#b00"
        } else if c.verdict == "better" {
            "#070"
        } else {
            "#a60"
        };
        let _ = write!(
            s,
            "<line x1=\"{cx:.1}\" y1=\"{TOP}\" x2=\"{cx:.1}\" y2=\"{}\" stroke=\"{color}\" stroke-dasharray=\"4 3\"/><text x=\"{:.1}\" y=\"{}\" font-size=\"11\" fill=\"{color}\">{:+.1} %</text>",
            H - BOTTOM,
            cx + 3.0,
            TOP + 10.0,
            c.percent()
        );
    }
    s
}
