//! Latency figures of a histogram, for every parser whose figures come
//! from histograms that merge exactly: percentiles by Java HdrHistogram's
//! definition, the percentiles a table shows (the plan's `percentiles`,
//! else [`DEFAULT`]), and the spectrum a report draws.

use hdrhistogram::Histogram;

use super::parser::{Kind, OptionDecl, Options, Refusal};

/// The percentiles a latency table shows unless asked for others.
pub const DEFAULT: [f64; 5] = [50.0, 90.0, 99.0, 99.9, 99.99];

/// The `percentiles` option, as every histogram-backed parser declares it.
pub const OPTION: OptionDecl = OptionDecl {
    name: "percentiles",
    kind: Kind::Numbers,
    help: "the percentiles the table shows, e.g. `[50, 95, 99, 99.9]` (default 50, 90, 99, 99.9, 99.99)",
};

/// The percentiles asked for, else the default list.
pub fn asked(opts: &Options) -> Vec<f64> {
    opts.numbers("percentiles")
        .map_or_else(|| DEFAULT.to_vec(), <[f64]>::to_vec)
}

/// `percentiles` checked: each in (0, 100], none twice.
pub fn check(opts: &Options) -> Vec<Refusal> {
    let Some(ps) = opts.numbers("percentiles") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if ps.is_empty() {
        out.push(Refusal {
            option: "percentiles".into(),
            message: "`percentiles` is empty".into(),
            help:
                "name at least one, e.g. `percentiles = [50, 99]`, or leave it out for the default"
                    .into(),
        });
    }
    for (i, &p) in ps.iter().enumerate() {
        if !(p > 0.0 && p <= 100.0) {
            out.push(Refusal {
                option: "percentiles".into(),
                message: format!("percentile {p} is not in (0, 100]"),
                help: "percentiles are in percent: 50 is the median, 99.9 the 99.9th".into(),
            });
        } else if ps[..i].contains(&p) {
            out.push(Refusal {
                option: "percentiles".into(),
                message: format!("percentile {p} is named twice"),
                help: "name each once".into(),
            });
        }
    }
    out
}

/// `p50`, `p99.9`, `p100`: a percentile's column name.
pub fn name(p: f64) -> String {
    format!("p{p}")
}

/// `getValueAtPercentile` of Java HdrHistogram 2.1.11: the target count is
/// `max(1, ceil(nextAfter(p, -inf) * total / 100))`; the answer is the
/// highest equivalent value of the first bucket that reaches it.
pub fn percentile(h: &Histogram<u64>, p: f64) -> u64 {
    let total = h.len();
    if total == 0 {
        return 0;
    }
    let requested = if p > 0.0 {
        f64::from_bits(p.to_bits() - 1)
    } else {
        0.0
    }
    .clamp(0.0, 100.0);
    let target = (((requested * total as f64) / 100.0).ceil() as u64).max(1);
    let mut cumulative = 0u64;
    for v in h.iter_recorded() {
        cumulative += v.count_at_value();
        if cumulative >= target {
            let value = v.value_iterated_to();
            return if p == 0.0 {
                h.lowest_equivalent(value)
            } else {
                h.highest_equivalent(value)
            };
        }
    }
    h.max()
}

/// Latency at percentiles spaced evenly on the nines axis (x =
/// -log10(1 - p/100)), up to the resolution the count allows.
pub fn spectrum(hist: &Histogram<u64>) -> Vec<(f64, f64)> {
    let n = hist.len();
    if n == 0 {
        return Vec::new();
    }
    let max_nines = (n as f64).log10().clamp(1.0, 6.0);
    let steps = 120;
    (0..=steps)
        .map(|i| {
            let x = max_nines * f64::from(i) / f64::from(steps);
            let p = 100.0 * (1.0 - 10f64.powf(-x));
            (x, percentile(hist, p) as f64)
        })
        .collect()
}

/// One latency spectrum per file and row name (a tag, a label): what a
/// histogram-backed parser's report shows of its files.
pub fn spectra(
    parser: &dyn super::parser::Parser,
    files: &[(String, std::path::PathBuf)],
    opts: &Options,
    unit: &str,
) -> Vec<crate::plot::Plot> {
    let series: Vec<crate::plot::Series> = files
        .iter()
        .flat_map(|(label, f)| {
            parser
                .histograms(std::slice::from_ref(f), opts)
                .into_iter()
                .map(move |(row, h)| crate::plot::Series {
                    name: if row.is_empty() {
                        label.clone()
                    } else {
                        format!("{label} [{row}]")
                    },
                    points: spectrum(&h),
                })
        })
        .collect();
    if series.is_empty() {
        return Vec::new();
    }
    vec![crate::plot::Plot {
        title: "latency by percentile".into(),
        x: crate::plot::XAxis::Nines,
        y: format!("latency ({unit})"),
        series,
        windows: false,
        height: 380,
    }]
}
