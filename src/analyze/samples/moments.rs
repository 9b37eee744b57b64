//! A row's mean and variance as events arrive: exact integer sums while
//! every value is whole (a latency log's usual µs or ms), Welford's
//! running mean and squared deviations once one is not; two rows' moments
//! merge (Chan et al.).

/// The running moments of `n` values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Moments {
    /// Every value whole: their sum and sum of squares, exact.
    Whole { n: u64, sum: u128, squares: u128 },
    /// Welford's: the mean and the sum of squared deviations from it.
    Real { n: u64, mean: f64, m2: f64 },
}

/// Values below this are whole numbers an f64 holds exactly, and their
/// squares add in a u128 for 2^20 · 2^64 events without overflow checks
/// mattering in practice (they are still checked).
const WHOLE: f64 = 9_007_199_254_740_992.0;

impl Default for Moments {
    fn default() -> Self {
        Moments::Whole {
            n: 0,
            sum: 0,
            squares: 0,
        }
    }
}

impl Moments {
    pub fn record(&mut self, v: f64) {
        if let Moments::Whole { n, sum, squares } = self
            && (0.0..WHOLE).contains(&v)
            && v.fract() == 0.0
        {
            let w = v as u128;
            if let (Some(s), Some(q)) = (sum.checked_add(w), squares.checked_add(w * w)) {
                (*n, *sum, *squares) = (*n + 1, s, q);
                return;
            }
        }
        let (mut n, mut mean, mut m2) = self.real();
        n += 1;
        let d = v - mean;
        mean += d / n as f64;
        m2 += d * (v - mean);
        *self = Moments::Real { n, mean, m2 };
    }

    /// `other`'s values added.
    pub fn add(&mut self, other: &Moments) {
        if let (
            Moments::Whole { n, sum, squares },
            Moments::Whole {
                n: n2,
                sum: s2,
                squares: q2,
            },
        ) = (&mut *self, other)
            && let (Some(s), Some(q)) = (sum.checked_add(*s2), squares.checked_add(*q2))
        {
            (*n, *sum, *squares) = (*n + n2, s, q);
            return;
        }
        let (na, ma, m2a) = self.real();
        let (nb, mb, m2b) = other.real();
        let n = na + nb;
        if n == 0 {
            return;
        }
        let d = mb - ma;
        let mean = ma + d * nb as f64 / n as f64;
        let m2 = m2a + m2b + d * d * na as f64 * nb as f64 / n as f64;
        *self = Moments::Real { n, mean, m2 };
    }

    /// n, mean and sum of squared deviations.
    fn real(&self) -> (u64, f64, f64) {
        match *self {
            Moments::Real { n, mean, m2 } => (n, mean, m2),
            Moments::Whole { n: 0, .. } => (0, 0.0, 0.0),
            Moments::Whole { n, sum, squares } => {
                // n·Σx² − (Σx)² is exact in integers; one division each.
                let nn = u128::from(n);
                let m2 = match nn
                    .checked_mul(squares)
                    .and_then(|a| sum.checked_mul(sum).map(|b| (a, b)))
                {
                    Some((a, b)) => (a - b) as f64 / n as f64,
                    None => squares as f64 - (sum as f64) * (sum as f64) / n as f64,
                };
                (n, sum as f64 / n as f64, m2)
            }
        }
    }

    pub fn mean(&self) -> f64 {
        self.real().1
    }

    /// The population's variance (over n).
    pub fn variance(&self) -> f64 {
        let (n, _, m2) = self.real();
        if n == 0 { 0.0 } else { m2 / n as f64 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(values: &[f64]) -> Moments {
        let mut m = Moments::default();
        for &v in values {
            m.record(v);
        }
        m
    }

    /// Whole values give the exact mean and variance; a fraction turns
    /// the sums into Welford's without losing them; parts merge to the
    /// whole's figures either way.
    #[test]
    fn whole_real_and_merged_agree() {
        let whole = of(&[1.0, 2.0, 3.0, 4.0, 100_000.0]);
        assert!(matches!(whole, Moments::Whole { .. }));
        assert_eq!(whole.mean(), 20_002.0);
        // Σ(x − 20002)² / 5, by hand: 1,599,920,002.
        assert_eq!(whole.variance(), 1_599_920_002.0);
        let mixed = of(&[1.0, 2.0, 3.0, 4.5]);
        assert!(matches!(mixed, Moments::Real { .. }));
        assert!((mixed.mean() - 2.625).abs() < 1e-12);
        assert!((mixed.variance() - 1.671875).abs() < 1e-12);
        let mut a = of(&[1.0, 2.0]);
        a.add(&of(&[3.0, 4.0, 100_000.0]));
        assert_eq!(a, whole);
        let mut b = of(&[1.0, 2.0]);
        b.add(&of(&[3.0, 4.5]));
        assert!((b.mean() - 2.625).abs() < 1e-12 && (b.variance() - 1.671875).abs() < 1e-12);
        assert_eq!(Moments::default().variance(), 0.0);
    }
}
