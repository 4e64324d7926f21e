//! Small statistics: percentiles, the Wilson interval, McNemar's exact test,
//! and the tests behind canary and A/B analysis (two-proportion z, Welch's t,
//! chi-square goodness of fit, sample size).
//!
//! Each is a few lines of arithmetic, written out so that the method is
//! visible; only the distribution functions (normal, Student's t,
//! chi-square) come from `statrs`. Tests check every function against
//! published or independently computed values (named in each test).

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

/// The `p`-th percentile (0..=100) by linear interpolation between closest
/// ranks (NumPy's default, "type 7"). `None` for no data or any NaN.
pub(crate) fn percentile(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = (p / 100.0) * (values.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    Some(values[lo] + (values[hi] - values[lo]) * (rank - lo as f64))
}

/// The mean, or `None` for no data or any NaN. The sum is [`fsum`]'s, so
/// the mean of the same values is the same bits in any order.
pub(crate) fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    Some(fsum(values) / values.len() as f64)
}

/// The sum of `values` correctly rounded (Python's `math.fsum`: Shewchuk's
/// exact partials, then one rounding, half to even).
///
/// A plain left-to-right sum depends on the order of its terms
/// (`0.1 + 0.2 + 0.3` is `0.6000000000000001`, `0.3 + 0.2 + 0.1` is `0.6`),
/// and eval results arrive in the order cases finish; this one does not, so
/// the same results give the same summary, gate and evidence bytes at any
/// `-j`. With an infinity among the terms it is the plain sum (infinite or
/// NaN whatever the order).
pub(crate) fn fsum(values: &[f64]) -> f64 {
    if values.iter().any(|v| !v.is_finite()) {
        return values.iter().sum();
    }
    // Non-overlapping partials, smallest magnitude first, whose exact sum
    // is the exact sum of the values seen so far.
    let mut partials: Vec<f64> = Vec::new();
    for &v in values {
        let mut x = v;
        let mut kept = 0;
        for j in 0..partials.len() {
            let mut y = partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        partials.truncate(kept);
        partials.push(x);
    }
    // Add the partials from the largest down, stopping at the first
    // inexact step; then round half to even on what is left below it.
    let Some(mut hi) = partials.pop() else {
        return 0.0;
    };
    let mut lo = 0.0;
    while let Some(y) = partials.pop() {
        let x = hi;
        hi = x + y;
        lo = y - (hi - x);
        if lo != 0.0 {
            break;
        }
    }
    if let Some(&next) = partials.last()
        && ((lo < 0.0 && next < 0.0) || (lo > 0.0 && next > 0.0))
    {
        let y = lo * 2.0;
        let x = hi + y;
        if y == x - hi {
            hi = x;
        }
    }
    hi
}

/// The Wilson score interval for `successes` out of `n` at z (1.96 for 95%).
pub(crate) fn wilson(successes: u64, n: u64, z: f64) -> Option<(f64, f64)> {
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
pub(crate) fn mcnemar_exact(b: u64, c: u64) -> f64 {
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

/// The result of a two-sample test of `b - a` (or `p2 - p1`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Test {
    /// The estimated difference, second sample minus first.
    pub estimate: f64,
    /// A 95% confidence interval for the difference.
    pub ci95: (f64, f64),
    /// The test statistic (z or t).
    pub statistic: f64,
    /// The two-sided p-value.
    pub p_value: f64,
}

/// The standard normal quantile at `q` (0 < q < 1).
pub(crate) fn normal_quantile(q: f64) -> f64 {
    Normal::standard().inverse_cdf(q)
}

/// The two-sided p-value of a standard normal statistic: P(|Z| >= |z|).
fn normal_two_sided(z: f64) -> f64 {
    // erfc keeps its relative precision far out in the tail, where
    // 2 * (1 - cdf) would round to zero.
    statrs::function::erf::erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// The pooled two-proportion z-test of `p2 - p1`, with `p1 = x1 / n1` and
/// `p2 = x2 / n2`, two-sided; the interval is the unpooled Wald interval.
/// As `statsmodels.stats.proportion.proportions_ztest([x2, x1], [n2, n1])`
/// and `confint_proportions_2indep(x2, n2, x1, n1, method="wald")`. `None`
/// when a sample is empty or a count exceeds its sample.
pub(crate) fn two_proportion_z(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<Test> {
    if n1 == 0 || n2 == 0 || x1 > n1 || x2 > n2 {
        return None;
    }
    let (f1, f2) = (n1 as f64, n2 as f64);
    let (p1, p2) = (x1 as f64 / f1, x2 as f64 / f2);
    let pooled = (x1 + x2) as f64 / (f1 + f2);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / f1 + 1.0 / f2)).sqrt();
    let estimate = p2 - p1;
    // A pooled rate of 0 or 1 means both samples are all-or-nothing alike:
    // no difference, and no evidence of one.
    let (statistic, p_value) = if se_pooled > 0.0 {
        let z = estimate / se_pooled;
        (z, normal_two_sided(z))
    } else {
        (0.0, 1.0)
    };
    let half = normal_quantile(0.975) * (p1 * (1.0 - p1) / f1 + p2 * (1.0 - p2) / f2).sqrt();
    Some(Test {
        estimate,
        ci95: (estimate - half, estimate + half),
        statistic,
        p_value,
    })
}

/// Welch's unequal-variance t-test of `mean(b) - mean(a)`, two-sided, with
/// Welch–Satterthwaite degrees of freedom and a 95% interval from the t
/// quantile (`scipy.stats.ttest_ind(b, a, equal_var=False)`). `None` when a
/// sample has fewer than two values or any NaN, or both have zero variance.
pub(crate) fn welch_t(a: &[f64], b: &[f64]) -> Option<Test> {
    let moments = |xs: &[f64]| -> Option<(f64, f64, f64)> {
        if xs.len() < 2 {
            return None;
        }
        let n = xs.len() as f64;
        let m = mean(xs)?;
        let var = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
        Some((n, m, var))
    };
    let (na, ma, va) = moments(a)?;
    let (nb, mb, vb) = moments(b)?;
    let (sa, sb) = (va / na, vb / nb);
    let se2 = sa + sb;
    if se2 <= 0.0 || !se2.is_finite() {
        return None;
    }
    let se = se2.sqrt();
    let df = se2 * se2 / (sa * sa / (na - 1.0) + sb * sb / (nb - 1.0));
    let estimate = mb - ma;
    let t = estimate / se;
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    let p_value = (2.0 * dist.sf(t.abs())).min(1.0);
    let half = dist.inverse_cdf(0.975) * se;
    Some(Test {
        estimate,
        ci95: (estimate - half, estimate + half),
        statistic: t,
        p_value,
    })
}

/// Pearson's chi-square goodness of fit of `observed` counts against
/// `expected_share`s (normalised to sum to one), with `k - 1` degrees of
/// freedom: the sample-ratio-mismatch test. Returns `(statistic, p)`;
/// `None` for fewer than two categories, mismatched lengths, no
/// observations, or a share that is not positive.
pub(crate) fn chi_square_gof(observed: &[u64], expected_share: &[f64]) -> Option<(f64, f64)> {
    let k = observed.len();
    if k < 2 || expected_share.len() != k {
        return None;
    }
    if expected_share.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return None;
    }
    let total = observed.iter().sum::<u64>() as f64;
    let shares = expected_share.iter().sum::<f64>();
    if total == 0.0 {
        return None;
    }
    let statistic = observed
        .iter()
        .zip(expected_share)
        .map(|(&o, &s)| {
            let e = total * s / shares;
            (o as f64 - e).powi(2) / e
        })
        .sum::<f64>();
    let p = ChiSquared::new((k - 1) as f64).ok()?.sf(statistic);
    Some((statistic, p))
}

/// The p-value below which a sample-ratio mismatch is reported. Deliberately
/// strict: a real mismatch in production traffic is usually overwhelming,
/// and a looser alarm would fire on every tenth look.
pub(crate) const SRM_ALPHA: f64 = 0.001;

/// A sample-ratio-mismatch check of two arms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Srm {
    /// Requests observed in each arm.
    pub observed: [u64; 2],
    /// The share each arm was configured to get (sums to one).
    pub expected_share: [f64; 2],
    pub statistic: f64,
    pub p_value: f64,
    /// `p_value < SRM_ALPHA`: the split is not what was configured.
    pub mismatch: bool,
}

/// Checks two arms' counts against their configured shares; `None` when
/// there are no requests or a share is not positive.
pub(crate) fn srm(observed: [u64; 2], expected_share: [f64; 2]) -> Option<Srm> {
    let (statistic, p_value) = chi_square_gof(&observed, &expected_share)?;
    let sum = expected_share[0] + expected_share[1];
    Some(Srm {
        observed,
        expected_share: [expected_share[0] / sum, expected_share[1] / sum],
        statistic,
        p_value,
        mismatch: p_value < SRM_ALPHA,
    })
}

/// The sample size per arm to detect a change of a rate from `p` to
/// `p + mde` with a two-sided test at level `alpha` and the given `power`:
///
/// n = (z₁₋α/₂·√(2·p̄(1−p̄)) + z₁₋β·√(p₁(1−p₁) + p₂(1−p₂)))² / mde², p̄ = (p₁+p₂)/2,
///
/// rounded up (Fleiss, *Statistical Methods for Rates and Proportions*,
/// without the continuity correction). `None` unless both rates lie strictly
/// between 0 and 1, `mde` is not zero and `alpha` and `power` are in (0, 1).
pub(crate) fn sample_size_two_proportions(p: f64, mde: f64, alpha: f64, power: f64) -> Option<u64> {
    let (p1, p2) = (p, p + mde);
    let open_unit = |x: f64| x > 0.0 && x < 1.0;
    if !(open_unit(p1) && open_unit(p2) && open_unit(alpha) && open_unit(power)) || mde == 0.0 {
        return None;
    }
    let pbar = (p1 + p2) / 2.0;
    let za = normal_quantile(1.0 - alpha / 2.0);
    let zb = normal_quantile(power);
    let root =
        za * (2.0 * pbar * (1.0 - pbar)).sqrt() + zb * (p1 * (1.0 - p1) + p2 * (1.0 - p2)).sqrt();
    let n = root * root / (mde * mde);
    // Guard against 3000.0000000000005 becoming 3001.
    Some((n - 1e-9).ceil().max(1.0) as u64)
}

/// A p-value for people: four decimals, or `<0.0001`.
pub(crate) fn format_p(p: f64) -> String {
    if p < 0.0001 {
        "<0.0001".to_string()
    } else {
        format!("{p:.4}")
    }
}

/// A p-value after "p": `= 0.0496` or `< 0.0001`.
pub(crate) fn p_phrase(p: f64) -> String {
    if p < 0.0001 {
        "< 0.0001".to_string()
    } else {
        format!("= {p:.4}")
    }
}

/// A count with thousands separators: `3,841`.
pub(crate) fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn fsum_matches_python_math_fsum() {
        // Python 3: math.fsum(...) for each left-hand list.
        let cases: [(&[f64], f64); 6] = [
            (&[0.1, 0.2, 0.3], 0.6),
            (&[0.3, 0.2, 0.1], 0.6),
            (&[1e-16, 1.0, 1e16], 1.0000000000000002e16),
            (&[0.1; 10], 1.0),
            (&[1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50], 1e-100),
            (&[], 0.0),
        ];
        for (values, want) in cases {
            assert_eq!(fsum(values).to_bits(), want.to_bits(), "{values:?}");
        }
        assert_eq!(0.1 + 0.2 + 0.3, 0.6000000000000001, "the plain sum is not");
        assert!(fsum(&[1.0, f64::INFINITY]).is_infinite());
        assert!(fsum(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
    }

    #[test]
    fn a_mean_is_the_same_in_any_order() {
        // The bundled example's how_to tone scores: summed in the order the
        // cases finished, their mean was 0.825 in some runs and
        // 0.8250000000000001 in others.
        assert_eq!((0.95 + 0.9 + 0.55 + 0.9) / 4.0, 0.8250000000000001);
        assert_eq!(mean(&[0.95, 0.9, 0.55, 0.9]), Some(0.825));
        assert_eq!(mean(&[0.95, 0.9, 0.9, 0.55]), Some(0.825));
    }

    proptest::proptest! {
        #[test]
        fn fsum_does_not_depend_on_order(
            mut values in proptest::collection::vec(-1e6f64..1e6, 0..40),
            seed in proptest::prelude::any::<u64>(),
        ) {
            let sum = fsum(&values);
            fastrand::Rng::with_seed(seed).shuffle(&mut values);
            proptest::prop_assert_eq!(fsum(&values).to_bits(), sum.to_bits());
            values.reverse();
            proptest::prop_assert_eq!(fsum(&values).to_bits(), sum.to_bits());
        }
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

    // The references below were computed with mpmath 1.3.0 at 30 digits
    // (scipy and statsmodels are not installed here), straight from the
    // formulas, and cross-checked a second way as noted. The script:
    //
    //   from mpmath import mp, mpf, sqrt, erfc, betainc, gammainc, quad, gamma, pi, findroot, inf
    //   mp.dps = 30
    //   zq = lambda q: findroot(lambda x: mp.ncdf(x) - q, 1.0)
    //   tpdf = lambda x, v: gamma((v+1)/2) / (sqrt(v*pi) * gamma(v/2)) * (1 + x*x/v)**(-(v+1)/2)

    #[test]
    fn two_proportion_z_matches_reference() {
        // p1, p2, pp = x1/n1, x2/n2, (x1+x2)/(n1+n2)
        // z = (p2-p1) / sqrt(pp*(1-pp)*(1/n1+1/n2)); p = erfc(|z|/sqrt(2))
        // ci = p2-p1 -/+ zq(0.975)*sqrt(p1*(1-p1)/n1 + p2*(1-p2)/n2)
        // Cross-check: Python's math.erfc gives the same p to 1e-16.
        let t = two_proportion_z(120, 1000, 150, 1000).unwrap();
        assert!(close(t.estimate, 0.03, 1e-12));
        assert!(close(t.statistic, 1.9630498076223552, 1e-9), "{t:?}");
        assert!(close(t.p_value, 0.04964038686536879, 1e-9), "{t:?}");
        assert!(close(t.ci95.0, 0.000076028821297786, 1e-9), "{t:?}");
        assert!(close(t.ci95.1, 0.05992397117870221, 1e-9), "{t:?}");

        let t = two_proportion_z(45, 500, 30, 480).unwrap();
        assert!(close(t.estimate, -0.0275, 1e-12));
        assert!(close(t.statistic, -1.618812060181121, 1e-9), "{t:?}");
        assert!(close(t.p_value, 0.10548770645875271, 1e-9), "{t:?}");
        assert!(close(t.ci95.0, -0.06063848266785477, 1e-9), "{t:?}");
        assert!(close(t.ci95.1, 0.005638482667854774, 1e-9), "{t:?}");
    }

    #[test]
    fn two_proportion_z_edges() {
        assert_eq!(two_proportion_z(0, 0, 1, 10), None);
        assert_eq!(two_proportion_z(1, 10, 0, 0), None);
        assert_eq!(two_proportion_z(11, 10, 1, 10), None);
        // All successes in both arms: no difference, no evidence.
        let t = two_proportion_z(10, 10, 20, 20).unwrap();
        assert_eq!((t.estimate, t.statistic, t.p_value), (0.0, 0.0, 1.0));
        // Far in the tail the p-value stays positive rather than rounding to 0.
        let t = two_proportion_z(100, 10_000, 400, 10_000).unwrap();
        assert!(t.p_value > 0.0 && t.p_value < 1e-30, "{t:?}");
    }

    #[test]
    fn welch_t_matches_reference_with_integer_df() {
        // a = [1..5], b = [3..7]: equal variances 2.5 and sizes, so se = 1,
        // t = 2 and df = 8 exactly.
        //   p = betainc(df/2, 1/2, 0, df/(df+t*t), regularized=True)
        //     = 0.0805162379572626713372815717932
        // Cross-checked with the closed form for even df (Abramowitz & Stegun
        // 26.7.3): th = atan(t/sqrt(8)),
        //   p = 1 - sin(th)*(1 + cos(th)**2/2 + 3/8*cos(th)**4 + 15/48*cos(th)**6)
        // which agrees to 30 digits. t(0.975, 8) = 2.306004135204167
        // (findroot on the integrated density; printed tables give 2.306).
        let t = welch_t(&[1.0, 2.0, 3.0, 4.0, 5.0], &[3.0, 4.0, 5.0, 6.0, 7.0]).unwrap();
        assert!(close(t.estimate, 2.0, 1e-12));
        assert!(close(t.statistic, 2.0, 1e-12));
        assert!(close(t.p_value, 0.08051623795726267, 1e-9), "{t:?}");
        assert!(close(t.ci95.0, -0.3060041352041667, 1e-9), "{t:?}");
        assert!(close(t.ci95.1, 4.306004135204167, 1e-9), "{t:?}");
    }

    #[test]
    fn welch_t_matches_reference_with_fractional_df() {
        // Unequal sizes and variances: df = 11.609019750995422.
        //   p = betainc(df/2, 1/2, 0, df/(df+t*t), regularized=True)
        //   cross-check: 2*quad(lambda x: tpdf(x, df), [abs(t), inf]), same to 30 digits
        //   tq = findroot(lambda x: 1 - quad(lambda y: tpdf(y, df), [x, inf]) - 0.975, 2.0)
        let a = [12.1, 14.3, 11.8, 15.2, 13.9, 12.7];
        let b = [15.4, 17.9, 14.2, 19.6, 16.1, 18.8, 15.5, 20.3];
        let t = welch_t(&a, &b).unwrap();
        assert!(close(t.estimate, 3.891666666666667, 1e-9), "{t:?}");
        assert!(close(t.statistic, 4.054986819394504, 1e-9), "{t:?}");
        assert!(close(t.p_value, 0.0017047277315071038, 1e-9), "{t:?}");
        assert!(close(t.ci95.0, 1.7927709829103154, 1e-9), "{t:?}");
        assert!(close(t.ci95.1, 5.990562350423019, 1e-9), "{t:?}");
        // Swapping the samples flips the sign, not the p-value.
        let s = welch_t(&b, &a).unwrap();
        assert!(close(s.statistic, -t.statistic, 1e-12) && close(s.p_value, t.p_value, 1e-15));
    }

    #[test]
    fn welch_t_edges() {
        assert_eq!(welch_t(&[1.0], &[1.0, 2.0]), None);
        assert_eq!(welch_t(&[1.0, 2.0], &[]), None);
        assert_eq!(welch_t(&[3.0, 3.0], &[4.0, 4.0, 4.0]), None);
        assert_eq!(welch_t(&[1.0, f64::NAN], &[1.0, 2.0]), None);
        // One constant sample is fine: all the variance is in the other.
        assert!(welch_t(&[3.0, 3.0], &[4.0, 5.0, 6.0]).is_some());
    }

    #[test]
    fn chi_square_gof_matches_closed_forms() {
        // p = gammainc((k-1)/2, stat/2, inf, regularized=True); cross-checked
        // with the closed forms erfc(sqrt(stat/2)) for one degree of freedom
        // and exp(-stat/2) for two.
        let (s, p) = chi_square_gof(&[5050, 4950], &[0.5, 0.5]).unwrap();
        assert!(close(s, 1.0, 1e-12));
        // P(|Z| > 1), the two-sided one-sigma tail.
        assert!(close(p, 0.3173105078629141, 1e-9), "{p}");

        let (s, p) = chi_square_gof(&[30, 50, 20], &[1.0, 1.0, 1.0]).unwrap();
        assert!(close(s, 14.0, 1e-12));
        assert!(close(p, 0.0009118819655545162, 1e-9), "{p}");

        // Shares need not be normalised: 10/90 is 0.1/0.9.
        let (s, p) = chi_square_gof(&[95, 905], &[10.0, 90.0]).unwrap();
        assert!(close(s, 0.2777777777777778, 1e-12));
        assert!(close(p, 0.598161452683528, 1e-9), "{p}");

        // 700 vs 300 against 50/50: stat 160, p = 1.1314837902432984e-36.
        let (s, p) = chi_square_gof(&[700, 300], &[0.5, 0.5]).unwrap();
        assert!(close(s, 160.0, 1e-9));
        assert!((p / 1.1314837902432984e-36 - 1.0).abs() < 1e-6, "{p}");

        assert_eq!(chi_square_gof(&[1], &[1.0]), None);
        assert_eq!(chi_square_gof(&[1, 2], &[1.0]), None);
        assert_eq!(chi_square_gof(&[0, 0], &[0.5, 0.5]), None);
        assert_eq!(chi_square_gof(&[1, 2], &[0.0, 1.0]), None);
    }

    #[test]
    fn srm_flags_a_lopsided_split_only() {
        let s = srm([5050, 4950], [50.0, 50.0]).unwrap();
        assert!(!s.mismatch);
        assert_eq!(s.expected_share, [0.5, 0.5]);
        assert!(srm([700, 300], [0.5, 0.5]).unwrap().mismatch);
        assert!(!srm([950, 50], [0.95, 0.05]).unwrap().mismatch);
        assert_eq!(srm([0, 0], [0.5, 0.5]), None);
    }

    #[test]
    fn sample_size_matches_reference() {
        // n = (zq(1-alpha/2)*sqrt(2*pb*(1-pb)) + zq(power)*sqrt(p1*(1-p1)+p2*(1-p2)))**2 / mde**2
        // in mpmath, cross-checked with statistics.NormalDist().inv_cdf in
        // plain Python floats (agree to 1e-12):
        //   p=0.10 mde=0.02  alpha=0.05 power=0.8 -> 3840.8474824362729 -> 3841
        //   p=0.50 mde=0.10  alpha=0.05 power=0.9 ->  518.0371692998068 ->  519
        //   p=0.20 mde=-0.05 alpha=0.01 power=0.8 -> 1347.4815489537019 -> 1348
        assert_eq!(
            sample_size_two_proportions(0.10, 0.02, 0.05, 0.8),
            Some(3841)
        );
        assert_eq!(
            sample_size_two_proportions(0.50, 0.10, 0.05, 0.9),
            Some(519)
        );
        assert_eq!(
            sample_size_two_proportions(0.20, -0.05, 0.01, 0.8),
            Some(1348)
        );
        assert_eq!(sample_size_two_proportions(0.10, 0.0, 0.05, 0.8), None);
        assert_eq!(sample_size_two_proportions(0.95, 0.05, 0.05, 0.8), None);
        assert_eq!(sample_size_two_proportions(0.0, 0.05, 0.05, 0.8), None);
        assert_eq!(sample_size_two_proportions(0.1, 0.05, 0.0, 0.8), None);
        assert_eq!(sample_size_two_proportions(0.1, 0.05, 0.05, 1.0), None);
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(format_p(0.049640386), "0.0496");
        assert_eq!(format_p(1.1e-36), "<0.0001");
        assert_eq!(p_phrase(0.5), "= 0.5000");
        assert_eq!(p_phrase(1e-9), "< 0.0001");
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(3841), "3,841");
        assert_eq!(format_count(1_234_567), "1,234,567");
    }

    #[test]
    fn normal_quantile_matches_reference() {
        // findroot(lambda x: mp.ncdf(x) - 0.975, 1.0) = 1.95996398454005423552
        assert!(close(normal_quantile(0.975), 1.959963984540054, 1e-12));
        assert!(close(normal_quantile(0.5), 0.0, 1e-15));
    }
}
