//! Small exact statistics: percentiles, the Wilson interval, McNemar's exact test.
//!
//! Each is a few lines of arithmetic, written out so that the method is
//! visible; tests check them against published or independently computed
//! values (named in each test).

/// The `p`-th percentile (0..=100) by linear interpolation between closest
/// ranks (NumPy's default, "type 7"). `None` for no data or any NaN.
pub fn percentile(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = (p / 100.0) * (values.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    Some(values[lo] + (values[hi] - values[lo]) * (rank - lo as f64))
}

/// The mean, or `None` for no data or any NaN.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    Some(values.iter().sum::<f64>() / values.len() as f64)
}

/// The Wilson score interval for `successes` out of `n` at z (1.96 for 95%).
pub fn wilson(successes: u64, n: u64, z: f64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let (n, p) = (n as f64, successes as f64 / n as f64);
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// McNemar's exact test on discordant pairs: `b` cases that passed before and
/// fail now, `c` that failed before and pass now. The two-sided p-value is
/// twice the smaller binomial(b + c, 1/2) tail, capped at 1.
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // P(X <= k) for X ~ Binomial(n, 1/2), summed in log space for large n.
    let ln_half_n = n as f64 * 0.5f64.ln();
    let mut ln_choose = 0.0; // ln C(n, 0)
    let mut tail = 0.0;
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_choose + ln_half_n).exp();
    }
    (2.0 * tail).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn percentiles_match_numpy() {
        // numpy.percentile([1, 2, 3, 4], [50, 95]) == [2.5, 3.85]
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert!(close(percentile(&mut v, 50.0).unwrap(), 2.5, 1e-12));
        assert!(close(percentile(&mut v, 95.0).unwrap(), 3.85, 1e-12));
        assert_eq!(percentile(&mut [], 50.0), None);
        assert_eq!(percentile(&mut [1.0, f64::NAN], 50.0), None);
    }

    #[test]
    fn wilson_matches_reference() {
        // statsmodels.stats.proportion.proportion_confint(8, 10, method="wilson")
        // == (0.4901624, 0.9433178)
        let (lo, hi) = wilson(8, 10, 1.959963984540054).unwrap();
        assert!(close(lo, 0.4901624, 1e-6), "{lo}");
        assert!(close(hi, 0.9433178, 1e-6), "{hi}");
        assert_eq!(wilson(0, 0, 1.96), None);
        let (lo, hi) = wilson(10, 10, 1.96).unwrap();
        assert!(lo > 0.69 && hi == 1.0);
    }

    #[test]
    fn mcnemar_matches_binomial_test() {
        // scipy.stats.binomtest(1, 10, 0.5).pvalue == 0.021484375 (= 22/1024)
        assert!(close(mcnemar_exact(1, 9), 0.021484375, 1e-12));
        // binomtest(3, 8, 0.5).pvalue == 0.7265625
        assert!(close(mcnemar_exact(5, 3), 0.7265625, 1e-12));
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        assert_eq!(mcnemar_exact(4, 4), 1.0);
        // Large n stays finite: binomtest(400, 1000).pvalue ≈ 2.6e-10
        let p = mcnemar_exact(400, 600);
        assert!(p > 0.0 && p < 1e-9, "{p}");
    }
}
