//! Statistics of repeated trials: a figure's spread over repetitions
//! (mean, sample standard deviation, Student's t 95 % interval, median,
//! extremes) and the two-sample tests a comparison uses — Mann–Whitney U
//! (SciPy's `mannwhitneyu`, `method="auto"`: exact when a sample has at
//! most 8 values and nothing is tied, else the normal approximation with
//! tie and continuity correction) and Welch's t (`ttest_ind(equal_var=
//! False)`, with the interval of the difference of means). Figures equal
//! SciPy 1.14's within 1e-9 (`tests/it/stats.rs` checks them against it).
//! Distributions from statrs; quantiles polished by Newton steps on the CDF.

use statrs::distribution::{Continuous, ContinuousCDF, Normal, StudentsT};

pub use crate::kinds::TestKind;

/// The confidence of every interval.
pub const CONFIDENCE: f64 = 0.95;

/// A figure over the trials that measured it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Values used.
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1); `None` for one value.
    pub stddev: Option<f64>,
    /// Student's t interval of the mean (n − 1 degrees of freedom).
    pub ci95: Option<(f64, f64)>,
    pub median: f64,
    /// The median's distribution-free 95 % interval (`median_ci`).
    pub median_ci95: Option<(f64, f64)>,
    pub min: f64,
    pub max: f64,
}

/// `None` for no values.
pub fn summary(values: &[f64]) -> Option<Summary> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = mean(values);
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    let stddev = (n > 1).then(|| variance(values, mean).sqrt());
    let ci95 = stddev.map(|sd| {
        let half = t_quantile(0.5 + CONFIDENCE / 2.0, (n - 1) as f64) * sd / (n as f64).sqrt();
        (mean - half, mean + half)
    });
    Some(Summary {
        n,
        mean,
        stddev,
        ci95,
        median,
        median_ci95: median_ci(&sorted),
        min: sorted[0],
        max: sorted[n - 1],
    })
}

/// The median's 95 % interval from order statistics, assuming nothing of
/// the distribution: the values ranked `k` and `n − k + 1`, `k` from the
/// binomial(n, ½) — SciPy's `quantile_test(x, p=0.5).confidence_interval()`.
/// At least 95 % coverage; `None` with fewer than 6 values (no such pair).
/// `sorted` in ascending order.
pub fn median_ci(sorted: &[f64]) -> Option<(f64, f64)> {
    let n = sorted.len();
    let tail = (1.0 - CONFIDENCE) / 2.0;
    let cdf = binomial_half_cdf(n);
    // SciPy: low = x[ppf(tail) − 1], high = x[isf(tail)]; ppf(q) the least
    // k with cdf(k) ≥ q, isf(q) the least k with 1 − cdf(k) ≤ q.
    let ppf = cdf.iter().position(|&c| c >= tail)?;
    let isf = cdf.iter().position(|&c| 1.0 - c <= tail)?;
    let low = sorted.get(ppf.checked_sub(1)?)?;
    let high = sorted.get(isf)?;
    Some((*low, *high))
}

/// P(X ≤ k) for k = 0..=n, X ~ binomial(n, ½), from log-space terms.
fn binomial_half_cdf(n: usize) -> Vec<f64> {
    let ln_half_n = n as f64 * std::f64::consts::LN_2;
    let mut ln_choose = 0.0f64;
    let mut running = 0.0;
    (0..=n)
        .map(|k| {
            if k > 0 {
                ln_choose += ((n - k + 1) as f64).ln() - (k as f64).ln();
            }
            running += (ln_choose - ln_half_n).exp();
            running.min(1.0)
        })
        .collect()
}

/// Benjamini–Hochberg adjusted p-values (q-values) of `ps`, in their
/// order: the false-discovery control across the rows of one comparison
/// (SciPy's `false_discovery_control(ps, method="bh")`).
pub fn q_values(ps: &[f64]) -> Vec<f64> {
    let m = ps.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| ps[a].total_cmp(&ps[b]));
    let mut q = vec![0.0; m];
    let mut smallest = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        smallest = smallest.min(ps[i] * m as f64 / (rank + 1) as f64);
        q[i] = smallest.clamp(0.0, 1.0);
    }
    q
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Sample variance (n − 1).
fn variance(v: &[f64], mean: f64) -> f64 {
    v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64
}

/// Student's t quantile, to machine precision.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let Ok(t) = StudentsT::new(0.0, 1.0, df) else {
        return f64::NAN;
    };
    let mut x = t.inverse_cdf(p);
    for _ in 0..4 {
        let step = (t.cdf(x) - p) / t.pdf(x);
        if !step.is_finite() {
            break;
        }
        x -= step;
        if step.abs() < 1e-15 * x.abs().max(1.0) {
            break;
        }
    }
    x
}

/// Mann–Whitney U of `a` against `b`: (U of `a`, two-sided p-value).
pub fn mann_whitney_u(a: &[f64], b: &[f64]) -> (f64, f64) {
    let (n1, n2) = (a.len(), b.len());
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&x| (x, true))
        .chain(b.iter().map(|&x| (x, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    // Mid-ranks, and the sizes of the groups of ties.
    let mut r1 = 0.0;
    let mut ties: Vec<f64> = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        r1 += rank * all[i..=j].iter().filter(|x| x.1).count() as f64;
        ties.push((j - i + 1) as f64);
        i = j + 1;
    }
    let (f1, f2) = (n1 as f64, n2 as f64);
    let u1 = r1 - f1 * (f1 + 1.0) / 2.0;
    let u = u1.max(f1 * f2 - u1);
    let tied = ties.iter().any(|&t| t > 1.0);
    let p = if (n1 <= 8 || n2 <= 8) && !tied {
        exact_u_sf(u.round() as usize, n1.min(n2), n1.max(n2))
    } else {
        let n = f1 + f2;
        let tie_term: f64 = ties.iter().map(|t| t * t * t - t).sum();
        let s = (f1 * f2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
        let z = (u - f1 * f2 / 2.0 - 0.5) / s;
        standard_normal().sf(z)
    };
    (u1, (2.0 * p).clamp(0.0, 1.0))
}

fn standard_normal() -> Normal {
    Normal::standard()
}

/// P(U ≥ u) for samples of `m` ≤ `n` values without ties: the number of
/// ways to pick the smaller sample's ranks with that U, over all ways.
fn exact_u_sf(u: usize, m: usize, n: usize) -> f64 {
    let max_u = m * n;
    if u > max_u {
        return 0.0;
    }
    // ways[k][s]: ways to choose k of the ranks seen so far with U-part s,
    // where choosing the j-th smallest value (j from 0) as the k-th pick
    // adds j − k to U.
    let mut ways = vec![vec![0.0f64; max_u + 1]; m + 1];
    ways[0][0] = 1.0;
    for j in 0..m + n {
        for k in (0..m).rev() {
            if j < k {
                continue;
            }
            let add = j - k;
            if add > n {
                continue;
            }
            for s in (0..=max_u - add).rev() {
                let w = ways[k][s];
                if w != 0.0 {
                    ways[k + 1][s + add] += w;
                }
            }
        }
    }
    let total: f64 = ways[m].iter().sum();
    ways[m][u..].iter().sum::<f64>() / total
}

/// The smallest two-sided p-value the U test can give for samples of
/// `n1` and `n2` values (all of one above all of the other, no ties):
/// `2 / C(n1 + n2, n1)`. At or above α, no change can be significant.
pub fn smallest_u_p(n1: usize, n2: usize) -> f64 {
    let (k, n) = (n1.min(n2), n1 + n2);
    let ways = (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64);
    (2.0 / ways).min(1.0)
}

/// Welch's t of `a` against `b`: (t, degrees of freedom, two-sided p, the
/// 95 % interval of mean(a) − mean(b)). `None` with fewer than 2 values on
/// a side.
pub fn welch(a: &[f64], b: &[f64]) -> Option<(f64, f64, f64, (f64, f64))> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let (ma, mb) = (mean(a), mean(b));
    let (va, vb) = (
        variance(a, ma) / a.len() as f64,
        variance(b, mb) / b.len() as f64,
    );
    let se = (va + vb).sqrt();
    let df =
        (va + vb).powi(2) / (va.powi(2) / (a.len() - 1) as f64 + vb.powi(2) / (b.len() - 1) as f64);
    let d = ma - mb;
    let t = d / se;
    let p = match StudentsT::new(0.0, 1.0, df) {
        Ok(dist) if t.is_finite() => (2.0 * dist.sf(t.abs())).clamp(0.0, 1.0),
        _ if d == 0.0 => f64::NAN,
        _ => 0.0,
    };
    // Every value the same on both sides: the difference is exactly known.
    let half = if se == 0.0 {
        0.0
    } else {
        t_quantile(0.5 + CONFIDENCE / 2.0, df) * se
    };
    Some((t, df, p, (d - half, d + half)))
}

/// A figure in A and in B, and what the change between them means.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub mean_a: f64,
    pub mean_b: f64,
    pub n_a: usize,
    pub n_b: usize,
    /// (B − A) / |A| in %; `None` when A's mean is 0.
    pub pct: Option<f64>,
    /// The 95 % interval of the change in % (Welch's interval of the
    /// difference of means over |A|); `None` with one value on a side.
    pub ci95: Option<(f64, f64)>,
    /// Two-sided p-value of the chosen test; `None` with one value on a
    /// side, or when every value is the same.
    pub p: Option<f64>,
}

/// A's and B's values of one figure compared.
pub fn change(a: &[f64], b: &[f64], test: TestKind) -> Option<Change> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (mean_a, mean_b) = (mean(a), mean(b));
    let scale = |x: f64| (mean_a != 0.0).then(|| x / mean_a.abs() * 100.0);
    let welch_ba = welch(b, a);
    let ci95 = welch_ba.and_then(|(_, _, _, (lo, hi))| Some((scale(lo)?, scale(hi)?)));
    let p = match test {
        _ if a.len() < 2 || b.len() < 2 => None,
        TestKind::UTest => Some(mann_whitney_u(a, b).1),
        TestKind::Welch => welch_ba.map(|w| w.2),
    }
    .filter(|p| p.is_finite());
    Some(Change {
        mean_a,
        mean_b,
        n_a: a.len(),
        n_b: b.len(),
        pct: scale(mean_b - mean_a),
        ci95,
        p,
    })
}

/// What a change comes to when its significance (the q-value of the
/// comparison's false-discovery control, or a lone p-value) is `q`, at
/// level `alpha`, with `better` the direction that is an improvement
/// (`None`: the unit does not say, or the figure is a spread).
pub fn verdict(
    c: &Change,
    q: Option<f64>,
    alpha: f64,
    better: Option<crate::units::Better>,
) -> &'static str {
    use crate::units::Better;
    let Some(p) = q else {
        return if c.n_a < 2 || c.n_b < 2 {
            "1 trial: noise not estimated"
        } else {
            "~"
        };
    };
    if p >= alpha || c.mean_a == c.mean_b {
        return "~";
    }
    match (better, c.mean_b > c.mean_a) {
        (Some(Better::Higher), true) | (Some(Better::Lower), false) => "better",
        (Some(_), _) => "worse",
        (None, _) => "changed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    /// Anchors from SciPy 1.14.1 (the integration test checks many more
    /// against a live SciPy).
    #[test]
    fn figures_equal_scipys() {
        let a = [10.2, 9.8, 10.5, 10.1, 9.9];
        let s = summary(&a).unwrap();
        // scipy.stats.t.interval(0.95, 4, loc=mean, scale=sem)
        assert!(close(s.mean, 10.1));
        assert!(close(s.stddev.unwrap(), 0.273_861_278_752_582_7));
        assert!(close(s.ci95.unwrap().0, 9.759_956_309_670_871), "{s:?}");
        assert!(close(s.ci95.unwrap().1, 10.440_043_690_329_128), "{s:?}");
        // t.ppf(0.975, 4), t.ppf(0.975, 1), t.ppf(0.975, 29.5)
        assert!(close(t_quantile(0.975, 4.0), 2.776_445_105_197_798_7));
        assert!(close(t_quantile(0.975, 1.0), 12.706_204_736_432_095));
        assert!(close(t_quantile(0.975, 29.5), 2.043_724_966_772_122));
        // mannwhitneyu(a, b): exact (no ties, 5 values)
        let b = [11.0, 10.9, 11.3, 10.7, 11.1];
        let (u, p) = mann_whitney_u(&a, &b);
        assert_eq!(u, 0.0);
        assert!(close(p, 0.007_936_507_936_507_936), "{p}");
        // with ties: normal approximation, tie and continuity correction
        let (u, p) = mann_whitney_u(&[1.0, 2.0, 2.0, 3.0], &[2.0, 3.0, 4.0, 5.0]);
        assert_eq!(u, 2.5);
        assert!(close(p, 0.136_658_247_738_147_5), "{p}");
    }

    /// SciPy 1.14.1: `quantile_test(arange(n), p=0.5).confidence_interval()`
    /// and `false_discovery_control`.
    #[test]
    fn median_intervals_and_q_values_equal_scipys() {
        for (n, lo, hi) in [
            (6, 0.0, 5.0),
            (7, 0.0, 6.0),
            (8, 0.0, 7.0),
            (9, 1.0, 7.0),
            (10, 1.0, 8.0),
            (17, 4.0, 12.0),
            (30, 9.0, 20.0),
            (100, 39.0, 60.0),
            (1000, 468.0, 531.0),
        ] {
            let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
            assert_eq!(median_ci(&x), Some((lo, hi)), "n = {n}");
        }
        assert_eq!(median_ci(&[1.0, 2.0, 3.0, 4.0, 5.0]), None);
        let q = q_values(&[0.01, 0.04, 0.03, 0.5, 0.02]);
        for (got, want) in q.iter().zip([0.05, 0.05, 0.05, 0.5, 0.05]) {
            assert!(close(*got, want), "{q:?}");
        }
    }

    #[test]
    fn one_value_gives_no_noise_and_a_plain_verdict() {
        let c = change(&[10.0], &[11.0], TestKind::UTest).unwrap();
        assert_eq!(c.pct, Some(10.0));
        assert_eq!((c.ci95, c.p), (None, None));
        assert_eq!(verdict(&c, c.p, 0.05, None), "1 trial: noise not estimated");
        let same = change(&[5.0, 5.0, 5.0], &[5.0, 5.0, 5.0], TestKind::UTest).unwrap();
        assert_eq!(verdict(&same, same.p, 0.05, None), "~");
    }

    #[test]
    fn three_trials_a_side_cannot_be_significant() {
        assert_eq!(smallest_u_p(3, 3), 0.1);
        assert!(smallest_u_p(4, 4) < 0.05);
        let (_, p) = mann_whitney_u(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]);
        assert!(close(p, smallest_u_p(3, 3)));
    }

    #[test]
    fn the_exact_distribution_sums_to_one() {
        for (m, n) in [(1, 1), (3, 5), (8, 8), (2, 30)] {
            assert!(close(exact_u_sf(0, m, n), 1.0));
            assert!(exact_u_sf(m * n, m, n) > 0.0);
            assert_eq!(exact_u_sf(m * n + 1, m, n), 0.0);
        }
    }
}
