//! A/B tests on production logs (SPEC §8): planning a sample size, and
//! analysing two versions' logs on one metric, its guardrails and segments.
//!
//! Arm A is the control and B the treatment; every difference is B − A.
//! Rates use the two-proportion z-test, means Welch's t-test. The analysis
//! is inconclusive (exit 5), not "no difference", whenever it cannot be
//! trusted: an arm without data, or a sample-ratio mismatch. A guardrail
//! that got significantly worse is a "no" (exit 1).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::error::{Class, Error};
use crate::rollout::prodlog::{Kind, LogLine, Metric};
use crate::stats::{self, Srm, Test};

/// The significance level of the primary test, its interval and the guardrails.
pub(crate) const ALPHA: f64 = 0.05;

/// The sample size needed to detect a change of a rate.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Plan {
    pub baseline_rate: f64,
    pub mde: f64,
    /// `baseline_rate + mde`.
    pub target_rate: f64,
    pub alpha: f64,
    pub power: f64,
    pub per_arm: u64,
    pub total: u64,
}

/// Plans a two-arm test of a rate: `baseline_rate` now, detecting a change
/// of `mde` (absolute, e.g. 0.02 for two points) with a two-sided test.
pub(crate) fn plan(baseline_rate: f64, mde: f64, alpha: f64, power: f64) -> Result<Plan, Error> {
    let open_unit = |x: f64| x > 0.0 && x < 1.0;
    let check = |ok: bool, what: String| {
        if ok {
            Ok(())
        } else {
            Err(Error::invalid(what))
        }
    };
    check(
        open_unit(baseline_rate),
        format!("the baseline rate `{baseline_rate}` is not between 0 and 1 (a share, e.g. 0.10)"),
    )?;
    check(
        mde.is_finite() && mde != 0.0,
        format!(
            "the minimum detectable effect `{mde}` must be a non-zero change of the rate, e.g. 0.02"
        ),
    )?;
    let target_rate = baseline_rate + mde;
    check(
        open_unit(target_rate),
        format!(
            "the baseline rate plus the effect, {baseline_rate} + {mde} = {}, is not between 0 and 1",
            round(target_rate, 6)
        ),
    )?;
    check(
        open_unit(alpha),
        format!("alpha `{alpha}` is not between 0 and 1 (usually 0.05)"),
    )?;
    check(
        open_unit(power),
        format!("power `{power}` is not between 0 and 1 (usually 0.8)"),
    )?;
    let per_arm = stats::sample_size_two_proportions(baseline_rate, mde, alpha, power)
        .expect("the inputs were checked above");
    Ok(Plan {
        baseline_rate,
        mde,
        target_rate,
        alpha,
        power,
        per_arm,
        total: per_arm * 2,
    })
}

impl Plan {
    /// The plan for people.
    pub(crate) fn text(&self) -> String {
        format!(
            "baseline rate  {}\n\
             target rate    {} (a change of {}, two-sided)\n\
             alpha          {}\n\
             power          {}\n\
             per arm        {}\n\
             total          {}\n",
            percent(self.baseline_rate),
            percent(self.target_rate),
            points(self.mde),
            self.alpha,
            self.power,
            stats::format_count(self.per_arm),
            stats::format_count(self.total),
        )
    }
}

/// What to analyse.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub metric: Metric,
    /// Only lines of this prompt; required when the logs hold several.
    pub prompt: Option<String>,
    /// Only lines of this environment.
    pub env: Option<String>,
    /// The versions to compare, control first; found in the logs when `None`.
    pub arms: Option<[String; 2]>,
    /// A field to split the analysis by (`segment`, or any field the logs carry).
    pub segment_by: Option<String>,
    /// The configured traffic split, A then B (any positive scale).
    pub split: [f64; 2],
    /// Metrics that must not get significantly worse.
    pub guardrails: Vec<Metric>,
}

#[cfg(test)]
impl Options {
    /// The primary metric on a 50/50 split, all else default.
    pub(crate) fn new(metric: Metric) -> Options {
        Options {
            metric,
            prompt: None,
            env: None,
            arms: None,
            segment_by: None,
            split: [50.0, 50.0],
            guardrails: Vec::new(),
        }
    }
}

/// One arm's value of one metric.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ArmValue {
    /// Lines that carry the metric.
    pub n: u64,
    /// The rate or mean; `None` without data.
    pub value: Option<f64>,
}

/// A metric compared across the two arms.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Comparison {
    pub metric: Metric,
    pub kind: Kind,
    pub a: ArmValue,
    pub b: ArmValue,
    /// The test of B − A; `None` when there is too little data to test
    /// (an empty arm; for a mean, fewer than two values or no variance).
    pub test: Option<Test>,
    /// The level the p-value is judged at.
    pub alpha: f64,
    /// `p < alpha`; `None` without a test.
    pub significant: Option<bool>,
}

/// A guardrail: a metric that must not get significantly worse.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Guardrail {
    #[serde(flatten)]
    pub comparison: Comparison,
    /// `ok`, `worse` or `no data`.
    pub check: GuardrailCheck,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum GuardrailCheck {
    Ok,
    /// Significantly worse at `ALPHA`, in the metric's bad direction.
    Worse,
    NoData,
}

/// The primary metric within one segment.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Segment {
    pub segment: String,
    #[serde(flatten)]
    pub comparison: Comparison,
}

/// The primary metric split by a field.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Segments {
    pub field: String,
    /// The number of segments, k.
    pub k: usize,
    /// The Bonferroni level, `ALPHA / k`, each segment is judged at.
    pub alpha: f64,
    pub rows: Vec<Segment>,
}

/// One arm: its version and how many requests it served.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Arm {
    pub version: String,
    pub requests: u64,
}

/// How the analysis ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Conclusion {
    /// The numbers stand (whether or not the difference is significant).
    Complete,
    /// A guardrail got significantly worse (exit 1).
    GuardrailBreached,
    /// An arm has no data, a test could not run, or the split is off (exit 5).
    Inconclusive,
}

/// The whole analysis: what `ab analyze --json` prints.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Analysis {
    pub prompt: Option<String>,
    pub env: Option<String>,
    /// Arm A (control) and arm B (treatment).
    pub arms: [Arm; 2],
    pub primary: Comparison,
    pub srm: Option<Srm>,
    pub guardrails: Vec<Guardrail>,
    pub segments: Option<Segments>,
    pub conclusion: Conclusion,
    /// Why the analysis is inconclusive or breached, one sentence each.
    pub reasons: Vec<String>,
}

/// One version's lines, reduced to what the analysis needs.
#[derive(Default)]
struct Tally {
    requests: u64,
    /// Values of the primary metric and each guardrail.
    values: BTreeMap<Metric, Vec<f64>>,
    /// Values of the primary metric by segment.
    segments: BTreeMap<String, Vec<f64>>,
}

/// The segment of lines without the `--segment-by` field.
const NO_SEGMENT: &str = "(none)";

/// Analyses the logs in one pass; the first bad line is returned as its error.
pub(crate) fn analyze(
    lines: impl Iterator<Item = Result<LogLine, Error>>,
    opts: &Options,
) -> Result<Analysis, Error> {
    if !opts.split.iter().all(|s| s.is_finite() && *s > 0.0) {
        return Err(Error::invalid(format!(
            "a split gives each arm a positive share, e.g. 10/90; got {}/{}",
            opts.split[0], opts.split[1]
        )));
    }
    if let Some([a, b]) = &opts.arms
        && a == b
    {
        return Err(Error::invalid(format!(
            "the two arms are both `{a}`; compare two different versions"
        )));
    }
    let mut metrics = vec![opts.metric];
    for g in &opts.guardrails {
        if !metrics.contains(g) {
            metrics.push(*g);
        }
    }

    let mut prompts = BTreeSet::new();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut segment_field_seen = false;
    for line in lines {
        let line = line?;
        if opts.prompt.as_ref().is_some_and(|p| *p != line.prompt)
            || opts.env.as_ref().is_some_and(|e| *e != line.env)
        {
            continue;
        }
        if opts.prompt.is_none() && !prompts.contains(&line.prompt) {
            prompts.insert(line.prompt.clone());
        }
        let tally = tallies.entry(line.version.clone()).or_default();
        tally.requests += 1;
        for m in &metrics {
            if let Some(v) = m.value(&line) {
                tally.values.entry(*m).or_default().push(v);
            }
        }
        if let Some(field) = &opts.segment_by {
            let segment = line.field(field);
            segment_field_seen |= segment.is_some();
            if let Some(v) = opts.metric.value(&line) {
                let key = segment.unwrap_or_else(|| NO_SEGMENT.to_string());
                tally.segments.entry(key).or_default().push(v);
            }
        }
    }
    if prompts.len() > 1 {
        return Err(Error::invalid(format!(
            "the logs hold {} prompts ({}); an A/B test compares versions of one",
            prompts.len(),
            quoted(prompts.iter())
        ))
        .with_hint("choose one with `--prompt NAME`"));
    }
    if let Some(field) = opts.segment_by.as_ref().filter(|_| !segment_field_seen) {
        return Err(Error::invalid(format!(
            "no line in the logs has the field `{field}` to segment by"
        ))
        .with_hint("segment by `segment`, `env`, or another field the log lines carry"));
    }
    let [a, b] = choose_arms(&tallies, opts.arms.as_ref())?;
    let empty = Tally::default();
    let (ta, tb) = (
        tallies.get(&a).unwrap_or(&empty),
        tallies.get(&b).unwrap_or(&empty),
    );

    let values =
        |t: &'_ Tally, m: Metric| -> Vec<f64> { t.values.get(&m).cloned().unwrap_or_default() };
    let primary = compare(
        opts.metric,
        &values(ta, opts.metric),
        &values(tb, opts.metric),
        ALPHA,
    );
    let guardrails: Vec<Guardrail> = opts
        .guardrails
        .iter()
        .map(|&m| {
            let comparison = compare(m, &values(ta, m), &values(tb, m), ALPHA);
            let check = match &comparison.test {
                None => GuardrailCheck::NoData,
                Some(t) if t.p_value < ALPHA && is_worse(m, t.estimate) => GuardrailCheck::Worse,
                Some(_) => GuardrailCheck::Ok,
            };
            Guardrail { comparison, check }
        })
        .collect();
    let segments = opts.segment_by.as_ref().map(|field| {
        let keys: BTreeSet<&String> = ta.segments.keys().chain(tb.segments.keys()).collect();
        let k = keys.len().max(1);
        let alpha = ALPHA / k as f64;
        let none = Vec::new();
        let rows = keys
            .into_iter()
            .map(|key| Segment {
                segment: key.clone(),
                comparison: compare(
                    opts.metric,
                    ta.segments.get(key).unwrap_or(&none),
                    tb.segments.get(key).unwrap_or(&none),
                    alpha,
                ),
            })
            .collect();
        Segments {
            field: field.clone(),
            k,
            alpha,
            rows,
        }
    });
    let srm = stats::srm([ta.requests, tb.requests], opts.split);

    let mut inconclusive = Vec::new();
    for (name, arm, value) in [("A", &a, &primary.a), ("B", &b, &primary.b)] {
        if value.n == 0 {
            inconclusive.push(format!(
                "arm {name} (`{arm}`) has no data for `{}`",
                opts.metric
            ));
        }
    }
    if inconclusive.is_empty() && primary.test.is_none() {
        inconclusive.push(format!(
            "too little data to test `{}`: a mean needs two values per arm and some variance",
            opts.metric
        ));
    }
    if let Some(s) = srm.as_ref().filter(|s| s.mismatch) {
        inconclusive.push(format!(
            "sample-ratio mismatch: expected {}/{}, observed {}/{} (p {}); the split is broken, so the comparison is biased",
            round(s.expected_share[0] * 100.0, 2),
            round(s.expected_share[1] * 100.0, 2),
            stats::format_count(s.observed[0]),
            stats::format_count(s.observed[1]),
            stats::p_phrase(s.p_value)
        ));
    }
    for g in guardrails
        .iter()
        .filter(|g| g.check == GuardrailCheck::NoData)
    {
        inconclusive.push(format!(
            "guardrail `{}` has too little data to test",
            g.comparison.metric
        ));
    }
    let breached: Vec<String> = guardrails
        .iter()
        .filter(|g| g.check == GuardrailCheck::Worse)
        .map(|g| {
            let t = g
                .comparison
                .test
                .as_ref()
                .expect("a worse guardrail was tested");
            format!(
                "guardrail `{}` got significantly worse: {} (p {})",
                g.comparison.metric,
                diff_text(g.comparison.metric, t.estimate),
                stats::p_phrase(t.p_value)
            )
        })
        .collect();
    let (conclusion, reasons) = if !inconclusive.is_empty() {
        (Conclusion::Inconclusive, inconclusive)
    } else if !breached.is_empty() {
        (Conclusion::GuardrailBreached, breached)
    } else {
        (Conclusion::Complete, Vec::new())
    };

    Ok(Analysis {
        prompt: opts.prompt.clone().or_else(|| prompts.into_iter().next()),
        env: opts.env.clone(),
        arms: [
            Arm {
                version: a,
                requests: ta.requests,
            },
            Arm {
                version: b,
                requests: tb.requests,
            },
        ],
        primary,
        srm,
        guardrails,
        segments,
        conclusion,
        reasons,
    })
}

/// The two arms: as given, or the two versions in the logs, older first.
fn choose_arms(
    tallies: &BTreeMap<String, Tally>,
    given: Option<&[String; 2]>,
) -> Result<[String; 2], Error> {
    if let Some(arms) = given {
        return Ok(arms.clone());
    }
    let mut versions: Vec<&String> = tallies.keys().collect();
    match versions.len() {
        0 => Err(Error::new(
            Class::Inconclusive,
            "no request in the logs matches; there is nothing to compare",
        )),
        1 => Err(Error::new(
            Class::Inconclusive,
            format!(
                "the logs hold one version, `{}`; an A/B test needs two",
                versions[0]
            ),
        )
        .with_hint("name both arms with `--arms A,B` to see what there is")),
        2 => {
            // Older first: the control is usually the version already live.
            versions.sort_by(
                |x, y| match (semver::Version::parse(x), semver::Version::parse(y)) {
                    (Ok(vx), Ok(vy)) => vx.cmp(&vy),
                    _ => x.cmp(y),
                },
            );
            Ok([versions[0].clone(), versions[1].clone()])
        }
        n => Err(Error::invalid(format!(
            "the logs hold {n} versions ({}); an A/B test compares two",
            quoted(versions.into_iter())
        ))
        .with_hint("choose them with `--arms A,B` (A is the control)")),
    }
}

/// Compares `a` and `b` on `metric`: a rate's 0/1 values or a mean's numbers.
fn compare(metric: Metric, a: &[f64], b: &[f64], alpha: f64) -> Comparison {
    let kind = metric.kind();
    let test = match kind {
        Kind::Rate => {
            let hits = |v: &[f64]| v.iter().filter(|x| **x > 0.5).count() as u64;
            stats::two_proportion_z(hits(a), a.len() as u64, hits(b), b.len() as u64)
        }
        Kind::Mean => stats::welch_t(a, b),
    };
    let value = |v: &[f64]| ArmValue {
        n: v.len() as u64,
        value: stats::mean(v),
    };
    Comparison {
        metric,
        kind,
        a: value(a),
        b: value(b),
        significant: test.map(|t| t.p_value < alpha),
        test,
        alpha,
    }
}

/// Whether a change of `estimate` (B − A) is in the metric's bad direction.
fn is_worse(metric: Metric, estimate: f64) -> bool {
    if metric.higher_is_better() {
        estimate < 0.0
    } else {
        estimate > 0.0
    }
}

impl Analysis {
    /// The error class the analysis exits with: `None` when complete,
    /// `Failed` (1) for a breached guardrail, `Inconclusive` (5) otherwise.
    pub(crate) fn exit_class(&self) -> Option<Class> {
        match self.conclusion {
            Conclusion::Complete => None,
            Conclusion::GuardrailBreached => Some(Class::Failed),
            Conclusion::Inconclusive => Some(Class::Inconclusive),
        }
    }

    /// The conclusion and its reasons in one line, for an error message.
    pub(crate) fn summary(&self) -> String {
        let what = match self.conclusion {
            Conclusion::Complete => "complete",
            Conclusion::GuardrailBreached => "guardrail breached",
            Conclusion::Inconclusive => "inconclusive",
        };
        if self.reasons.is_empty() {
            format!("A/B analysis {what}")
        } else {
            format!("A/B analysis {what}: {}", self.reasons.join("; "))
        }
    }
}

pub(crate) fn diff_text(m: Metric, d: f64) -> String {
    match m {
        Metric::LatencyMs => format!("{d:+.1} ms"),
        Metric::TokensIn | Metric::TokensOut => format!("{d:+.1}"),
        Metric::CostUsd => format!("{d:+.6} USD"),
        _ => points(d),
    }
}

pub(crate) fn percent(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

pub(crate) fn points(d: f64) -> String {
    format!("{:+.2} pts", d * 100.0)
}

pub(crate) fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

pub(crate) fn quoted<'a>(items: impl Iterator<Item = &'a String>) -> String {
    items
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::prodlog::Outcome;

    fn line(version: &str, outcome: Outcome, latency_ms: f64, segment: &str) -> LogLine {
        LogLine {
            ts: "2026-11-21T10:00:00Z".into(),
            prompt: "support_bot".into(),
            version: version.into(),
            env: "production".into(),
            key: "u".into(),
            segment: Some(segment.into()),
            latency_ms,
            outcome,
            corrected: None,
            tokens_in: None,
            tokens_out: None,
            cost_usd: None,
            extra: Default::default(),
        }
    }

    /// `n` lines of `version`: `fails` of every 100 refused, latency
    /// 100 + (i mod 50) + `slower`, segments cycling through `eu`, `us`, `apac`.
    fn arm(version: &str, n: usize, fails: usize, slower: f64) -> Vec<LogLine> {
        (0..n)
            .map(|i| {
                let o = if i % 100 < fails {
                    Outcome::Refusal
                } else {
                    Outcome::Ok
                };
                let seg = ["eu", "us", "apac"][i % 3];
                line(version, o, 100.0 + (i % 50) as f64 + slower, seg)
            })
            .collect()
    }

    fn run(lines: Vec<LogLine>, opts: &Options) -> Result<Analysis, Error> {
        analyze(lines.into_iter().map(Ok), opts)
    }

    #[test]
    fn plan_matches_the_issue_and_rejects_nonsense() {
        let p = plan(0.10, 0.02, 0.05, 0.8).unwrap();
        assert_eq!((p.per_arm, p.total), (3841, 7682));
        assert!((p.target_rate - 0.12).abs() < 1e-12);
        let text = p.text();
        assert!(text.contains("per arm        3,841\n"), "{text}");
        assert!(text.contains("total          7,682\n"), "{text}");
        assert!(text.contains("12.00% (a change of +2.00 pts"), "{text}");
        for (rate, mde, alpha, power) in [
            (0.0, 0.02, 0.05, 0.8),
            (1.2, 0.02, 0.05, 0.8),
            (0.1, 0.0, 0.05, 0.8),
            (0.1, 0.95, 0.05, 0.8),
            (0.1, 0.02, 0.0, 0.8),
            (0.1, 0.02, 0.05, 1.0),
            (f64::NAN, 0.02, 0.05, 0.8),
        ] {
            let e = plan(rate, mde, alpha, power).unwrap_err();
            assert_eq!(e.class(), Class::Invalid, "{rate} {mde} {alpha} {power}");
        }
    }

    #[test]
    fn a_rate_is_compared_with_the_two_proportion_test() {
        let mut lines = arm("1.3.0", 1000, 12, 0.0);
        lines.extend(arm("1.2.0", 1000, 8, 0.0));
        let a = run(lines, &Options::new(Metric::RefusalRate)).unwrap();
        // The older version is arm A whichever comes first in the logs.
        assert_eq!(a.arms[0].version, "1.2.0");
        assert_eq!((a.arms[0].requests, a.arms[1].requests), (1000, 1000));
        let want = stats::two_proportion_z(80, 1000, 120, 1000).unwrap();
        assert_eq!(a.primary.test, Some(want));
        assert_eq!(a.primary.a.value, Some(0.08));
        assert_eq!(a.primary.significant, Some(want.p_value < 0.05));
        assert_eq!(a.conclusion, Conclusion::Complete);
        assert_eq!(a.exit_class(), None);
        assert!(!a.srm.as_ref().unwrap().mismatch);
    }

    #[test]
    fn versions_are_ordered_as_semver_not_text() {
        let mut lines = arm("1.10.0", 100, 0, 0.0);
        lines.extend(arm("1.9.0", 100, 0, 0.0));
        let a = run(lines, &Options::new(Metric::SuccessRate)).unwrap();
        assert_eq!(a.arms.map(|x| x.version), ["1.9.0", "1.10.0"]);
    }

    #[test]
    fn a_mean_is_compared_with_welchs_test() {
        let mut lines = arm("1.2.0", 300, 0, 0.0);
        lines.extend(arm("1.3.0", 200, 0, 7.5));
        let mut opts = Options::new(Metric::LatencyMs);
        opts.split = [60.0, 40.0];
        let a = run(lines.clone(), &opts).unwrap();
        let lat = |v: &str| -> Vec<f64> {
            lines
                .iter()
                .filter(|l| l.version == v)
                .map(|l| l.latency_ms)
                .collect()
        };
        assert_eq!(a.primary.test, stats::welch_t(&lat("1.2.0"), &lat("1.3.0")));
        assert!((a.primary.test.unwrap().estimate - 7.5).abs() < 1e-9);
        assert_eq!(a.primary.kind, Kind::Mean);
        assert_eq!(a.conclusion, Conclusion::Complete);
    }

    #[test]
    fn a_70_30_split_is_a_sample_ratio_mismatch_unless_configured() {
        let mut lines = arm("1.2.0", 700, 5, 0.0);
        lines.extend(arm("1.3.0", 300, 5, 0.0));
        let a = run(lines.clone(), &Options::new(Metric::SuccessRate)).unwrap();
        assert_eq!(a.conclusion, Conclusion::Inconclusive);
        assert_eq!(a.exit_class(), Some(Class::Inconclusive));
        assert!(
            a.reasons[0].starts_with("sample-ratio mismatch: expected 50/50, observed 700/300")
        );
        let mut opts = Options::new(Metric::SuccessRate);
        opts.split = [70.0, 30.0];
        assert_eq!(run(lines, &opts).unwrap().conclusion, Conclusion::Complete);
    }

    #[test]
    fn a_guardrail_that_gets_significantly_worse_is_a_breach() {
        let mut lines = arm("1.2.0", 1000, 5, 0.0);
        lines.extend(arm("1.3.0", 1000, 2, 20.0));
        let mut opts = Options::new(Metric::SuccessRate);
        opts.guardrails = vec![Metric::LatencyMs, Metric::RefusalRate];
        let a = run(lines, &opts).unwrap();
        let g: Vec<_> = a
            .guardrails
            .iter()
            .map(|g| (g.comparison.metric, g.check))
            .collect();
        // Latency got worse; refusals got significantly *better*, which is fine.
        assert_eq!(
            g,
            [
                (Metric::LatencyMs, GuardrailCheck::Worse),
                (Metric::RefusalRate, GuardrailCheck::Ok)
            ]
        );
        assert!(a.guardrails[1].comparison.test.unwrap().p_value < 0.05);
        assert_eq!(a.conclusion, Conclusion::GuardrailBreached);
        assert_eq!(a.exit_class(), Some(Class::Failed));
        assert!(
            a.reasons[0].starts_with("guardrail `latency_ms` got significantly worse: +20.0 ms")
        );
    }

    #[test]
    fn segments_are_judged_at_the_bonferroni_level() {
        let mut lines = arm("1.2.0", 900, 5, 0.0);
        lines.extend(arm("1.3.0", 900, 5, 0.0));
        let mut opts = Options::new(Metric::SuccessRate);
        opts.segment_by = Some("segment".into());
        let a = run(lines, &opts).unwrap();
        let s = a.segments.as_ref().unwrap();
        assert_eq!((s.k, s.rows.len()), (3, 3));
        assert!((s.alpha - 0.05 / 3.0).abs() < 1e-15);
        let names: Vec<_> = s.rows.iter().map(|r| r.segment.as_str()).collect();
        assert_eq!(names, ["apac", "eu", "us"]);
        assert!(
            s.rows
                .iter()
                .all(|r| r.comparison.a.n == 300 && r.comparison.alpha == s.alpha)
        );
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["segments"]["rows"][0]["segment"], "apac");
        assert_eq!(json["segments"]["rows"][0]["metric"], "success_rate");
    }

    #[test]
    fn segments_can_use_any_field_and_an_unknown_one_is_bad_input() {
        let mut lines = arm("1.2.0", 100, 5, 0.0);
        lines.extend(arm("1.3.0", 100, 5, 0.0));
        for (i, l) in lines.iter_mut().enumerate() {
            l.extra.insert(
                "plan".into(),
                if i % 2 == 0 { "free" } else { "pro" }.into(),
            );
        }
        let mut opts = Options::new(Metric::SuccessRate);
        opts.segment_by = Some("plan".into());
        assert_eq!(run(lines.clone(), &opts).unwrap().segments.unwrap().k, 2);
        opts.segment_by = Some("plna".into());
        let e = run(lines, &opts).unwrap_err();
        assert_eq!(e.class(), Class::Invalid);
        assert!(e.message().contains("`plna`"));
    }

    #[test]
    fn arms_must_be_found_or_named() {
        let one = arm("1.2.0", 50, 0, 0.0);
        let e = run(one.clone(), &Options::new(Metric::SuccessRate)).unwrap_err();
        assert_eq!(e.class(), Class::Inconclusive);
        let e = run(Vec::new(), &Options::new(Metric::SuccessRate)).unwrap_err();
        assert_eq!(e.class(), Class::Inconclusive);

        let mut three = one.clone();
        three.extend(arm("1.3.0", 50, 0, 0.0));
        three.extend(arm("1.4.0", 50, 0, 0.0));
        let e = run(three.clone(), &Options::new(Metric::SuccessRate)).unwrap_err();
        assert_eq!(e.class(), Class::Invalid);
        assert!(e.hint().unwrap().contains("--arms"));

        let mut opts = Options::new(Metric::SuccessRate);
        opts.arms = Some(["1.4.0".into(), "1.2.0".into()]);
        let a = run(three, &opts).unwrap();
        assert_eq!(a.arms.map(|x| x.version), ["1.4.0", "1.2.0"]);

        opts.arms = Some(["1.2.0".into(), "2.0.0".into()]);
        let a = run(one, &opts).unwrap();
        assert_eq!(a.conclusion, Conclusion::Inconclusive);
        assert_eq!(
            a.reasons[0],
            "arm B (`2.0.0`) has no data for `success_rate`"
        );

        opts.arms = Some(["1.2.0".into(), "1.2.0".into()]);
        assert_eq!(run(Vec::new(), &opts).unwrap_err().class(), Class::Invalid);
    }

    #[test]
    fn several_prompts_need_a_choice() {
        let mut lines = arm("1.2.0", 50, 0, 0.0);
        lines.extend(arm("1.3.0", 50, 0, 0.0));
        let mut other = arm("0.1.0", 50, 0, 0.0);
        other.iter_mut().for_each(|l| l.prompt = "triage".into());
        lines.extend(other);
        let e = run(lines.clone(), &Options::new(Metric::SuccessRate)).unwrap_err();
        assert_eq!(e.class(), Class::Invalid);
        assert!(
            e.message().contains("`support_bot`, `triage`"),
            "{}",
            e.message()
        );
        let mut opts = Options::new(Metric::SuccessRate);
        opts.prompt = Some("support_bot".into());
        let a = run(lines, &opts).unwrap();
        assert_eq!(a.prompt.as_deref(), Some("support_bot"));
        assert_eq!(a.arms.map(|x| x.requests), [50, 50]);
    }

    #[test]
    fn a_metric_the_logs_do_not_carry_is_inconclusive() {
        let mut lines = arm("1.2.0", 50, 0, 0.0);
        lines.extend(arm("1.3.0", 50, 0, 0.0));
        let a = run(lines.clone(), &Options::new(Metric::TokensIn)).unwrap();
        assert_eq!(a.conclusion, Conclusion::Inconclusive);
        assert_eq!(a.reasons.len(), 2);
        let mut opts = Options::new(Metric::SuccessRate);
        opts.guardrails = vec![Metric::CostUsd];
        let a = run(lines, &opts).unwrap();
        assert_eq!(a.guardrails[0].check, GuardrailCheck::NoData);
        assert_eq!(a.conclusion, Conclusion::Inconclusive);
    }
}
