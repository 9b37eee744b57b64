//! E-Divisive means (Matteson & James, JASA 2014) as MongoDB's
//! `signal-processing-algorithms` 2.1.6 applies it to performance history
//! (Daly et al., ICPE 2020): the series is bisected where the energy
//! statistic between the two sides is greatest, each candidate kept when a
//! permutation test finds it significant, then each side is searched
//! again. The same statistic, the same candidate order and the same
//! permutation rule as that library (`e_divisive(series, pvalue,
//! permutations)`); the permutations come from a seeded generator, so a
//! history gives the same change points every time.

use rand::SeedableRng as _;
use rand::seq::SliceRandom as _;

/// A change point: the index of the first value after the change, and the
/// permutation test's p-value (the share of permutations whose best
/// statistic was at least the candidate's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChangePoint {
    pub index: usize,
    pub p: f64,
}

/// The change points of `series`, in the order found.
pub fn e_divisive(series: &[f64], pvalue: f64, permutations: usize, seed: u64) -> Vec<ChangePoint> {
    let n = series.len();
    let d: Vec<Vec<f64>> = series
        .iter()
        .map(|a| series.iter().map(|b| (a - b).abs()).collect())
        .collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut found: Vec<ChangePoint> = Vec::new();
    let mut memo: std::collections::HashMap<(usize, usize), (usize, f64)> =
        std::collections::HashMap::new();
    loop {
        let mut bounds: Vec<usize> = found.iter().map(|c| c.index).collect();
        bounds.push(0);
        bounds.push(n);
        bounds.sort_unstable();
        let windows: Vec<(usize, usize)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
        // The best candidate of every window (the first on ties, as
        // Python's max and numpy's argmax take it).
        let mut best: Option<(usize, f64)> = None;
        for &(a, b) in &windows {
            let c = *memo.entry((a, b)).or_insert_with(|| {
                let idx: Vec<usize> = (a..b).collect();
                let t = t_stats(&d, &idx);
                let (i, v) = argmax(&t);
                (i + a, v)
            });
            if best.is_none_or(|(_, v)| c.1 > v) {
                best = Some(c);
            }
        }
        let Some((index, stat)) = best else {
            return found;
        };
        let mut better = 0usize;
        for _ in 0..permutations {
            let mut top = f64::NEG_INFINITY;
            for &(a, b) in &windows {
                let mut idx: Vec<usize> = (a..b).collect();
                idx.shuffle(&mut rng);
                let t = t_stats(&d, &idx);
                top = top.max(argmax(&t).1);
            }
            if top >= stat {
                better += 1;
            }
        }
        let p = better as f64 / (permutations + 1) as f64;
        // An index of 0 ends the search, as in the library.
        if p > pvalue || index == 0 {
            return found;
        }
        found.push(ChangePoint { index, p });
    }
}

/// The first index of the greatest value, and the value.
fn argmax(v: &[f64]) -> (usize, f64) {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, &x) in v.iter().enumerate() {
        if x > best.1 {
            best = (i, x);
        }
    }
    best
}

/// The test statistic of splitting the values `idx` (rows of the distance
/// matrix `d`, in this order) before each position τ.
fn t_stats(d: &[Vec<f64>], idx: &[usize]) -> Vec<f64> {
    let n = idx.len();
    let at = |i: usize, j: usize| d[idx[i]][idx[j]];
    // Within X (before τ), within Y (from τ), between: upper triangles.
    let (mut x, mut xy) = (0.0, 0.0);
    let mut y: f64 = (0..n).map(|r| (r..n).map(|c| at(r, c)).sum::<f64>()).sum();
    let mut out = vec![0.0; n];
    for (tau, slot) in out.iter_mut().enumerate() {
        *slot = statistic(2.0 * x, 2.0 * y, xy, tau, n - tau);
        let column: f64 = (0..tau).map(|r| at(r, tau)).sum();
        let row: f64 = (tau..n).map(|c| at(tau, c)).sum();
        xy = xy - column + row;
        x += column;
        y -= row;
    }
    out
}

/// (n m / (n + m)) · (2 E|X−Y| − E|X−X'| − E|Y−Y'|).
fn statistic(x: f64, y: f64, xy: f64, n: usize, m: usize) -> f64 {
    let (nf, mf) = (n as f64, m as f64);
    let xy_avg = if n > 0 && m > 0 { xy / (nf * mf) } else { 0.0 };
    let x_avg = if n > 0 { x / (nf * nf) } else { 0.0 };
    let y_avg = if m > 0 { y / (mf * mf) } else { 0.0 };
    let e = 2.0 * xy_avg - x_avg - y_avg;
    (nf * mf / (nf + mf)) * e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_found_where_it_is_and_a_flat_line_has_none() {
        let mut s = vec![100.0, 101.0, 99.5, 100.2, 100.8, 99.9];
        s.extend([110.1, 109.7, 110.4, 110.0, 109.5, 110.6]);
        let c = e_divisive(&s, 0.05, 100, 1);
        assert_eq!(c.iter().map(|c| c.index).collect::<Vec<_>>(), [6]);
        assert!(c[0].p < 0.05);
        assert!(e_divisive(&[5.0; 12], 0.05, 100, 1).is_empty());
        assert!(e_divisive(&[], 0.05, 100, 1).is_empty());
        // The same seed, the same answer.
        assert_eq!(e_divisive(&s, 0.05, 100, 7), e_divisive(&s, 0.05, 100, 7));
    }
}
