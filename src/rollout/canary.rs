//! Canary analysis (SPEC §8): the canary version against the stable one, on
//! production logs, against the thresholds in `promptctl.yaml`.
//!
//! The verdict fails safe in both directions. A threshold breached on
//! enough data is a `rollback`; anything that makes the comparison
//! untrustworthy (too few requests in an arm, a sample-ratio mismatch, a
//! thresholded KPI with no data) is a `hold`, never a `promote`. Too few
//! requests and a mismatch outrank a breach: the breach is still shown, but
//! the numbers behind it are not yet evidence. p-values are shown for the
//! rates as information; the gate is the threshold, as configured.

use serde::Serialize;

use crate::error::{Class, Error};
use crate::rollout::prodlog::{LogLine, Outcome};
use crate::stats::{self, Srm};
use crate::workspace::config::{Canary, Threshold};

/// What to do with the canary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Verdict {
    /// Every gated KPI is within its threshold on enough data (exit 0).
    Promote,
    /// Not enough trustworthy data to decide yet (exit 5).
    Hold,
    /// A gated KPI breached its threshold (exit 1).
    Rollback,
}

impl Verdict {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Verdict::Promote => "promote",
            Verdict::Hold => "hold",
            Verdict::Rollback => "rollback",
        }
    }
}

/// One KPI's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Check {
    Pass,
    Fail,
    /// Gated, but an arm has no value for it: not a pass.
    NoData,
    /// No threshold is configured; shown for information.
    NotGated,
}

impl Check {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Check::Pass => "pass",
            Check::Fail => "fail",
            Check::NoData => "no data",
            Check::NotGated => "not gated",
        }
    }
}

/// How a KPI's values read: a share of requests or milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Unit {
    Rate,
    Ms,
}

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Kpi {
    pub name: &'static str,
    pub unit: Unit,
    pub stable: Option<f64>,
    pub canary: Option<f64>,
    /// canary - stable, in the KPI's unit (a rate difference is a fraction).
    pub delta: Option<f64>,
    /// canary / stable - 1, when stable is positive.
    pub relative_delta: Option<f64>,
    /// The configured threshold in words, e.g. `max drop 2 pts, max +15%`.
    pub threshold: Option<String>,
    /// The two-proportion z-test p-value, for rates (information only).
    pub p_value: Option<f64>,
    pub check: Check,
}

/// One arm: its version and how many requests it served.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Arm {
    pub version: String,
    pub requests: u64,
}

/// The whole analysis: what `canary --json` prints.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub prompt: String,
    pub env: String,
    /// The configured canary share, 0 < percent < 100.
    pub percent: f64,
    pub min_requests: u64,
    pub stable: Arm,
    pub canary: Arm,
    /// Requests of this prompt and environment from any other version.
    pub other_requests: u64,
    pub kpis: Vec<Kpi>,
    /// The sample-ratio check; `None` when there were no requests.
    pub srm: Option<Srm>,
    pub verdict: Verdict,
    /// Why, one sentence each; empty for a clean promote.
    pub reasons: Vec<String>,
}

/// Counts for one arm, gathered in one pass.
#[derive(Default)]
struct Tally {
    requests: u64,
    outcomes: [u64; 5],
    corrected_seen: u64,
    corrected: u64,
    latencies: Vec<f64>,
}

impl Tally {
    fn add(&mut self, line: &LogLine) {
        self.requests += 1;
        self.outcomes[outcome_index(line.outcome)] += 1;
        if let Some(c) = line.corrected {
            self.corrected_seen += 1;
            self.corrected += u64::from(c);
        }
        self.latencies.push(line.latency_ms);
    }

    /// (hits, out of) for a rate KPI.
    fn rate(&self, kpi: RateKpi) -> (u64, u64) {
        match kpi {
            RateKpi::Outcome(o) => (self.outcomes[outcome_index(o)], self.requests),
            RateKpi::Corrected => (self.corrected, self.corrected_seen),
        }
    }
}

fn outcome_index(o: Outcome) -> usize {
    match o {
        Outcome::Ok => 0,
        Outcome::Refusal => 1,
        Outcome::Escalation => 2,
        Outcome::Fallback => 3,
        Outcome::Error => 4,
    }
}

#[derive(Clone, Copy)]
enum RateKpi {
    Outcome(Outcome),
    Corrected,
}

/// Compares `canary` with `stable` on the lines of `prompt` in `env`.
///
/// `percent` is the configured canary share (0 < percent < 100), used for
/// the sample-ratio check. The first bad line is returned as its error.
pub(crate) fn analyze(
    lines: impl Iterator<Item = Result<LogLine, Error>>,
    prompt: &str,
    env: &str,
    stable: &str,
    canary: &str,
    percent: f64,
    config: &Canary,
) -> Result<Report, Error> {
    if !(percent > 0.0 && percent < 100.0) {
        return Err(Error::invalid(format!(
            "a canary percent is between 0 and 100, exclusive; got `{percent}`"
        )));
    }
    if stable == canary {
        return Err(Error::invalid(format!(
            "the canary and the stable version are both `{stable}`"
        )));
    }
    let (mut s, mut c, mut other) = (Tally::default(), Tally::default(), 0u64);
    for line in lines {
        let line = line?;
        if line.prompt != prompt || line.env != env {
            continue;
        }
        match line.version.as_str() {
            v if v == stable => s.add(&line),
            v if v == canary => c.add(&line),
            _ => other += 1,
        }
    }

    let t = &config.thresholds;
    let rates = [
        (
            "success_rate",
            RateKpi::Outcome(Outcome::Ok),
            &t.success_rate,
        ),
        (
            "refusal_rate",
            RateKpi::Outcome(Outcome::Refusal),
            &t.refusal_rate,
        ),
        (
            "escalation_rate",
            RateKpi::Outcome(Outcome::Escalation),
            &t.escalation_rate,
        ),
        (
            "fallback_rate",
            RateKpi::Outcome(Outcome::Fallback),
            &t.fallback_rate,
        ),
        ("error_rate", RateKpi::Outcome(Outcome::Error), &None),
        ("correction_rate", RateKpi::Corrected, &t.correction_rate),
    ];
    let mut kpis = Vec::new();
    for (name, kpi, threshold) in rates {
        let ((xs, ns), (xc, nc)) = (s.rate(kpi), c.rate(kpi));
        let share = |x: u64, n: u64| (n > 0).then(|| x as f64 / n as f64);
        let p_value = stats::two_proportion_z(xs, ns, xc, nc).map(|t| t.p_value);
        kpis.push(row(
            name,
            Unit::Rate,
            share(xs, ns),
            share(xc, nc),
            threshold.as_ref(),
            p_value,
        ));
    }
    let (mut ls, mut lc) = (s.latencies, c.latencies);
    for (name, pct, threshold) in [
        ("latency_p50_ms", 50.0, &t.latency_p50_ms),
        ("latency_p95_ms", 95.0, &t.latency_p95_ms),
    ] {
        let (a, b) = (
            stats::percentile(&mut ls, pct),
            stats::percentile(&mut lc, pct),
        );
        kpis.push(row(name, Unit::Ms, a, b, threshold.as_ref(), None));
    }

    let srm = stats::srm([s.requests, c.requests], [100.0 - percent, percent]);
    let (verdict, reasons) = decide(
        &kpis,
        srm.as_ref(),
        [(stable, s.requests), (canary, c.requests)],
        config.min_requests,
        percent,
    );
    Ok(Report {
        prompt: prompt.to_string(),
        env: env.to_string(),
        percent,
        min_requests: config.min_requests,
        stable: Arm {
            version: stable.to_string(),
            requests: s.requests,
        },
        canary: Arm {
            version: canary.to_string(),
            requests: c.requests,
        },
        other_requests: other,
        kpis,
        srm,
        verdict,
        reasons,
    })
}

/// One KPI row: the values, the delta and the threshold's verdict.
fn row(
    name: &'static str,
    unit: Unit,
    stable: Option<f64>,
    canary: Option<f64>,
    threshold: Option<&Threshold>,
    p_value: Option<f64>,
) -> Kpi {
    let delta = stable.zip(canary).map(|(s, c)| c - s);
    let relative_delta = stable
        .zip(canary)
        .filter(|(s, _)| *s > 0.0)
        .map(|(s, c)| c / s - 1.0);
    let check = match (threshold, stable.zip(canary)) {
        (None, _) => Check::NotGated,
        (Some(_), None) => Check::NoData,
        (Some(t), Some((s, c))) => {
            if breaches(t, s, c) {
                Check::Fail
            } else {
                Check::Pass
            }
        }
    };
    Kpi {
        name,
        unit,
        stable,
        canary,
        delta,
        relative_delta,
        threshold: threshold.map(|t| describe(t, unit)),
        p_value,
        check,
    }
}

/// Whether `canary` is beyond any limit of `t` relative to `stable`. The
/// limits are inclusive ("at most"), with a hair of slack so that 0.12 -
/// 0.10 does not breach a 0.02 limit by rounding.
fn breaches(t: &Threshold, stable: f64, canary: f64) -> bool {
    const SLACK: f64 = 1e-9;
    let scale = stable.abs().max(1.0);
    let drop = t
        .max_drop
        .is_some_and(|d| stable - canary > d + SLACK * scale);
    let rise = t
        .max_increase
        .is_some_and(|d| canary - stable > d + SLACK * scale);
    let rise_pct = t
        .max_increase_pct
        .is_some_and(|p| canary - stable * (1.0 + p / 100.0) > SLACK * scale);
    drop || rise || rise_pct
}

/// A threshold in words: `max drop 2 pts`, `max +50 ms`, `max +15%`.
fn describe(t: &Threshold, unit: Unit) -> String {
    let amount = |v: f64| match unit {
        Unit::Rate => {
            let pts = round4(v * 100.0);
            format!("{pts} {}", if pts == 1.0 { "pt" } else { "pts" })
        }
        Unit::Ms => format!("{} ms", round4(v)),
    };
    let mut parts = Vec::new();
    if let Some(d) = t.max_drop {
        parts.push(format!("max drop {}", amount(d)));
    }
    if let Some(d) = t.max_increase {
        parts.push(format!("max +{}", amount(d)));
    }
    if let Some(p) = t.max_increase_pct {
        parts.push(format!("max +{}%", round4(p)));
    }
    if parts.is_empty() {
        "no limit".to_string()
    } else {
        parts.join(", ")
    }
}

pub(crate) fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// The verdict and its reasons, in order of precedence.
fn decide(
    kpis: &[Kpi],
    srm: Option<&Srm>,
    arms: [(&str, u64); 2],
    min_requests: u64,
    percent: f64,
) -> (Verdict, Vec<String>) {
    let mut untrusted = Vec::new();
    for (arm, (version, n)) in ["stable", "canary"].into_iter().zip(arms) {
        if n < min_requests {
            untrusted.push(format!(
                "too few requests: {arm} `{version}` has {}, needs {}",
                stats::format_count(n),
                stats::format_count(min_requests)
            ));
        }
    }
    if let Some(srm) = srm.filter(|s| s.mismatch) {
        untrusted.push(format!(
            "sample-ratio mismatch: expected {}/{} stable/canary, observed {}/{} (p {}); \
             the split is broken, so the comparison is biased",
            round4(100.0 - percent),
            round4(percent),
            stats::format_count(srm.observed[0]),
            stats::format_count(srm.observed[1]),
            stats::p_phrase(srm.p_value),
        ));
    }
    let breached: Vec<String> = kpis
        .iter()
        .filter(|k| k.check == Check::Fail)
        .map(|k| {
            format!(
                "{} {} breaches {}",
                k.name,
                delta_text(k),
                k.threshold.as_deref().unwrap_or_default()
            )
        })
        .collect();
    let missing: Vec<String> = kpis
        .iter()
        .filter(|k| k.check == Check::NoData)
        .map(|k| {
            format!(
                "no data for `{}` in an arm; a metric with no data is not a pass",
                k.name
            )
        })
        .collect();

    if !untrusted.is_empty() {
        let mut reasons = untrusted;
        reasons.extend(
            breached
                .into_iter()
                .map(|b| format!("not yet evidence: {b}")),
        );
        return (Verdict::Hold, reasons);
    }
    if !breached.is_empty() {
        return (Verdict::Rollback, breached);
    }
    if !missing.is_empty() {
        return (Verdict::Hold, missing);
    }
    (Verdict::Promote, Vec::new())
}

impl Report {
    /// The error class the verdict exits with: `None` for promote,
    /// `Failed` (1) for rollback, `Inconclusive` (5) for hold.
    pub(crate) fn exit_class(&self) -> Option<Class> {
        match self.verdict {
            Verdict::Promote => None,
            Verdict::Hold => Some(Class::Inconclusive),
            Verdict::Rollback => Some(Class::Failed),
        }
    }

    /// The verdict and its reasons in one line, for an error message.
    pub(crate) fn summary(&self) -> String {
        if self.reasons.is_empty() {
            format!("canary verdict: {}", self.verdict.name())
        } else {
            format!(
                "canary verdict: {}: {}",
                self.verdict.name(),
                self.reasons.join("; ")
            )
        }
    }
}

/// A KPI's change for people: points for rates, ms and percent for latency.
pub(crate) fn delta_text(k: &Kpi) -> String {
    match (k.delta, k.unit) {
        (None, _) => "-".to_string(),
        (Some(d), Unit::Rate) => format!("{:+.2} pts", d * 100.0),
        (Some(d), Unit::Ms) => match k.relative_delta {
            Some(r) => format!("{d:+.1} ms ({:+.1}%)", r * 100.0),
            None => format!("{d:+.1} ms"),
        },
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::workspace::config::CanaryThresholds;

    const STABLE: &str = "1.2.0";
    const CANARY: &str = "1.3.0";

    fn line(version: &str, latency_ms: f64, outcome: Outcome) -> LogLine {
        LogLine {
            ts: "2026-11-21T10:00:00Z".into(),
            prompt: "support_bot".into(),
            version: version.into(),
            env: "production".into(),
            key: "u".into(),
            segment: None,
            latency_ms,
            outcome,
            corrected: None,
            tokens_in: None,
            tokens_out: None,
            cost_usd: None,
            extra: Default::default(),
        }
    }

    /// `n` lines of `version` with latencies 100, 101, … scaled by `slow`,
    /// and the first `failures` of every hundred ending in `outcome`.
    fn arm(version: &str, n: usize, slow: f64, failures: usize, outcome: Outcome) -> Vec<LogLine> {
        (0..n)
            .map(|i| {
                let o = if i % 100 < failures {
                    outcome
                } else {
                    Outcome::Ok
                };
                line(version, (100 + i % 1000) as f64 * slow, o)
            })
            .collect()
    }

    fn gated() -> Canary {
        let limit = |f: fn(&mut Threshold)| {
            let mut t = Threshold::default();
            f(&mut t);
            Some(t)
        };
        Canary {
            min_requests: 200,
            thresholds: CanaryThresholds {
                success_rate: limit(|t| t.max_drop = Some(0.02)),
                refusal_rate: limit(|t| t.max_increase = Some(0.02)),
                latency_p95_ms: limit(|t| t.max_increase_pct = Some(15.0)),
                ..Default::default()
            },
        }
    }

    fn run(lines: Vec<LogLine>, percent: f64, config: &Canary) -> Report {
        let lines = lines.into_iter().map(Ok);
        analyze(
            lines,
            "support_bot",
            "production",
            STABLE,
            CANARY,
            percent,
            config,
        )
        .unwrap()
    }

    fn kpi<'a>(r: &'a Report, name: &str) -> &'a Kpi {
        r.kpis.iter().find(|k| k.name == name).unwrap()
    }

    #[test]
    fn a_canary_30_percent_slower_at_p95_is_rolled_back() {
        let mut lines = arm(STABLE, 1000, 1.0, 0, Outcome::Ok);
        lines.extend(arm(CANARY, 1000, 1.3, 0, Outcome::Ok));
        let r = run(lines, 50.0, &gated());
        let p95 = kpi(&r, "latency_p95_ms");
        assert_eq!(p95.check, Check::Fail);
        assert!((p95.relative_delta.unwrap() - 0.3).abs() < 1e-9, "{p95:?}");
        assert_eq!(p95.threshold.as_deref(), Some("max +15%"));
        assert_eq!(r.verdict, Verdict::Rollback);
        assert_eq!(r.exit_class(), Some(Class::Failed));
        assert!(r.reasons[0].contains("latency_p95_ms") && r.reasons[0].contains("+30.0%"));
        // P50 is 30% slower too, but it has no threshold.
        assert_eq!(kpi(&r, "latency_p50_ms").check, Check::NotGated);
    }

    #[test]
    fn an_equal_canary_is_promoted() {
        let mut lines = arm(STABLE, 1000, 1.0, 3, Outcome::Refusal);
        lines.extend(arm(CANARY, 1000, 1.0, 3, Outcome::Refusal));
        let r = run(lines, 50.0, &gated());
        assert_eq!(r.verdict, Verdict::Promote, "{:?}", r.reasons);
        assert_eq!(r.exit_class(), None);
        assert!(r.reasons.is_empty());
        let s = kpi(&r, "success_rate");
        assert_eq!(
            (s.stable, s.canary, s.delta),
            (Some(0.97), Some(0.97), Some(0.0))
        );
        assert_eq!(s.p_value, Some(1.0));
        assert!(!r.srm.as_ref().unwrap().mismatch);
    }

    #[test]
    fn twenty_canary_requests_are_a_hold() {
        // 2% of 1,020 requests is 20.4: the split is right, the sample small.
        let mut lines = arm(STABLE, 1000, 1.0, 0, Outcome::Ok);
        lines.extend(arm(CANARY, 20, 1.0, 0, Outcome::Ok));
        let r = run(lines, 2.0, &gated());
        assert_eq!(r.verdict, Verdict::Hold);
        assert_eq!(r.exit_class(), Some(Class::Inconclusive));
        assert_eq!(
            r.reasons,
            ["too few requests: canary `1.3.0` has 20, needs 200"]
        );
    }

    #[test]
    fn a_70_30_split_configured_as_50_50_is_a_sample_ratio_mismatch() {
        let mut lines = arm(STABLE, 700, 1.0, 0, Outcome::Ok);
        lines.extend(arm(CANARY, 300, 1.0, 0, Outcome::Ok));
        let r = run(lines, 50.0, &gated());
        assert_eq!(r.verdict, Verdict::Hold);
        assert!(r.srm.as_ref().unwrap().mismatch);
        assert!(
            r.reasons[0].contains("sample-ratio mismatch"),
            "{:?}",
            r.reasons
        );
        assert!(r.reasons[0].contains("700/300"), "{:?}", r.reasons);
    }

    #[test]
    fn a_mismatch_or_small_sample_outranks_a_breach() {
        let mut lines = arm(STABLE, 700, 1.0, 0, Outcome::Ok);
        lines.extend(arm(CANARY, 300, 3.0, 0, Outcome::Ok));
        let r = run(lines, 50.0, &gated());
        assert_eq!(r.verdict, Verdict::Hold);
        assert_eq!(kpi(&r, "latency_p95_ms").check, Check::Fail);
        assert!(
            r.reasons
                .iter()
                .any(|x| x.starts_with("not yet evidence: latency_p95_ms"))
        );
    }

    #[test]
    fn success_rate_limits_are_inclusive() {
        // Stable 99% success; a canary at 97% drops exactly 2 points (pass),
        // at 96% it drops 3 (fail).
        for (failures, check, verdict) in [
            (3, Check::Pass, Verdict::Promote),
            (4, Check::Fail, Verdict::Rollback),
        ] {
            let mut lines = arm(STABLE, 1000, 1.0, 1, Outcome::Error);
            lines.extend(arm(CANARY, 1000, 1.0, failures, Outcome::Error));
            let r = run(lines, 50.0, &gated());
            let s = kpi(&r, "success_rate");
            assert_eq!(s.check, check, "{failures}: {s:?}");
            assert_eq!(r.verdict, verdict);
            assert_eq!(kpi(&r, "error_rate").check, Check::NotGated);
        }
    }

    #[test]
    fn a_gated_metric_with_no_data_is_a_hold() {
        let mut config = gated();
        config.thresholds.correction_rate = Some(Threshold {
            max_increase: Some(0.01),
            ..Default::default()
        });
        let mut lines = arm(STABLE, 1000, 1.0, 0, Outcome::Ok);
        lines.extend(arm(CANARY, 1000, 1.0, 0, Outcome::Ok));
        // Only the stable arm's logger tracks corrections.
        for l in lines.iter_mut().filter(|l| l.version == STABLE) {
            l.corrected = Some(false);
        }
        let r = run(lines, 50.0, &config);
        let c = kpi(&r, "correction_rate");
        assert_eq!(
            (c.stable, c.canary, c.check),
            (Some(0.0), None, Check::NoData)
        );
        assert_eq!(r.verdict, Verdict::Hold);
        assert!(r.reasons[0].contains("no data for `correction_rate`"));
    }

    #[test]
    fn only_this_prompt_and_environment_count() {
        let mut lines = arm(STABLE, 500, 1.0, 0, Outcome::Ok);
        lines.extend(arm(CANARY, 500, 1.0, 0, Outcome::Ok));
        let mut elsewhere = arm(CANARY, 300, 9.0, 50, Outcome::Error);
        elsewhere.iter_mut().for_each(|l| l.env = "staging".into());
        let mut other_prompt = arm(CANARY, 300, 9.0, 50, Outcome::Error);
        other_prompt
            .iter_mut()
            .for_each(|l| l.prompt = "other".into());
        lines.extend(elsewhere);
        lines.extend(other_prompt);
        lines.extend(arm("1.1.0", 7, 1.0, 0, Outcome::Ok));
        let r = run(lines, 50.0, &gated());
        assert_eq!(
            (r.stable.requests, r.canary.requests, r.other_requests),
            (500, 500, 7)
        );
        assert_eq!(r.verdict, Verdict::Promote);
    }

    #[test]
    fn bad_input_is_an_error() {
        let none = || std::iter::empty();
        let c = gated();
        for percent in [0.0, 100.0, -1.0, f64::NAN] {
            let e = analyze(none(), "p", "e", STABLE, CANARY, percent, &c).unwrap_err();
            assert_eq!(e.class(), Class::Invalid);
        }
        let e = analyze(none(), "p", "e", STABLE, STABLE, 5.0, &c).unwrap_err();
        assert_eq!(e.class(), Class::Invalid);
        let lines = vec![Err(Error::invalid("`prod.jsonl:2`: boom"))].into_iter();
        let e = analyze(lines, "p", "e", STABLE, CANARY, 5.0, &c).unwrap_err();
        assert_eq!(e.message(), "`prod.jsonl:2`: boom");
    }

    #[test]
    fn no_requests_at_all_is_a_hold_with_no_data() {
        let r = run(Vec::new(), 5.0, &gated());
        assert_eq!(r.verdict, Verdict::Hold);
        assert_eq!(r.srm, None);
        assert!(
            r.kpis
                .iter()
                .all(|k| k.stable.is_none() && k.canary.is_none())
        );
        assert!(r.srm.is_none());
    }

    #[test]
    fn the_report_reads_as_json() {
        let r = rollback_report();
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["verdict"], "rollback");
        assert_eq!(json["kpis"][7]["name"], "latency_p95_ms");
        assert_eq!(json["kpis"][7]["check"], "fail");
        assert_eq!(json["srm"]["mismatch"], false);
        assert!(
            r.summary()
                .starts_with("canary verdict: rollback: latency_p95_ms")
        );
    }

    /// A canary whose P95 latency is 30 % worse than stable's: rollback.
    pub(crate) fn rollback_report() -> Report {
        let mut lines = arm(STABLE, 1000, 1.0, 0, Outcome::Ok);
        lines.extend(arm(CANARY, 1000, 1.3, 0, Outcome::Ok));
        run(lines, 50.0, &gated())
    }
}
