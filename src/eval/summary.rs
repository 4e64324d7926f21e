//! The numbers a run is judged by, computed from its case results.
//!
//! Fail closed: an errored case counts in the denominator of the pass rate
//! and never as a pass; a criterion nobody scored, or a latency nobody
//! measured, is `None`, which no gate accepts.
//!
//! The stats arrive in the order cases finish, which changes from run to run
//! with `-j`. Every number here is order-free: counts, sorted percentiles,
//! and sums correctly rounded by [`stats::fsum`], so the same case results
//! give the same summary bytes (and a mean on its gate's threshold the same
//! verdict) however they were scheduled.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::case::CaseResult;
use crate::provider::chat::StopReason;
use crate::stats;

/// 95% two-sided normal quantile.
pub(crate) const Z95: f64 = 1.959963984540054;

/// The few numbers of one case the summary needs (kept in memory per case).
#[derive(Debug, Clone)]
pub(crate) struct Stat {
    pub id: String,
    pub segment: Option<String>,
    pub passed: bool,
    pub error: bool,
    pub cached: bool,
    pub latency_ms: Option<f64>,
    pub tokens_in: Option<u64>,
    pub tokens_out: Option<u64>,
    pub cost_usd: Option<f64>,
    pub judge_cost_usd: Option<f64>,
    pub judged: bool,
    pub scores: Vec<(String, f64)>,
    pub metrics: Vec<(String, bool)>,
    /// The answer was cut off by the token limit.
    pub truncated: bool,
    pub refused: bool,
    /// Tool calls the model made, and how many were not schema-conformant.
    pub tool_calls: u32,
    pub invalid_tool_calls: u32,
}

impl From<&CaseResult> for Stat {
    fn from(r: &CaseResult) -> Stat {
        Stat {
            id: r.id.clone(),
            segment: r.segment.clone(),
            passed: r.passed && r.error.is_none(),
            error: r.error.is_some(),
            cached: r.cached,
            latency_ms: r.latency_ms,
            tokens_in: r.tokens_in,
            tokens_out: r.tokens_out,
            cost_usd: r.cost_usd,
            judge_cost_usd: r.judge_cost_usd,
            judged: !r.scores.is_empty(),
            scores: r.scores.iter().map(|(k, v)| (k.clone(), v.score)).collect(),
            metrics: r
                .assertions
                .iter()
                .filter_map(|a| a.metric.clone().map(|m| (m, a.passed)))
                .collect(),
            truncated: r.stop_reason == Some(StopReason::Length),
            refused: r.refused,
            tool_calls: r.tool_calls,
            invalid_tool_calls: r.invalid_tool_calls.min(r.tool_calls),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Summary {
    pub cases: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub cached: usize,
    pub pass_rate: Option<f64>,
    pub pass_rate_ci95: Option<[f64; 2]>,
    pub error_rate: Option<f64>,
    pub criteria: BTreeMap<String, Criterion>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, Metric>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub tokens_in: u64,
    pub tokens_out: u64,
    /// Total cost of the prompt's and the judge's calls; `None` when any
    /// call's cost is unknown (no token counts, or no price for its model).
    pub cost_usd: Option<f64>,
    pub segments: BTreeMap<String, Segment>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flaky: Vec<String>,
    /// Answers cut off by the token limit (allowed or not).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub truncated: usize,
    /// Answers the provider marked as refusals.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refused: usize,
    /// The tool calls made, and the share that were schema-conformant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<ToolCalls>,
}

/// Tool calls over a run or a segment, in every case (errored ones too: a
/// call made is a call made).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ToolCalls {
    pub total: u64,
    pub valid: u64,
    /// `valid / total`; absent when no call was made.
    pub validity: Option<f64>,
}

impl ToolCalls {
    fn add(this: &mut Option<ToolCalls>, st: &Stat) {
        if st.tool_calls == 0 {
            return;
        }
        let t = this.get_or_insert_with(ToolCalls::default);
        t.total += u64::from(st.tool_calls);
        t.valid += u64::from(st.tool_calls - st.invalid_tool_calls);
        t.validity = Some(t.valid as f64 / t.total as f64);
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Criterion {
    pub mean: Option<f64>,
    pub n: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Metric {
    pub n: usize,
    pub passed: usize,
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Segment {
    pub cases: usize,
    pub passed: usize,
    pub errors: usize,
    pub pass_rate: Option<f64>,
    pub pass_rate_ci95: Option<[f64; 2]>,
    pub criteria: BTreeMap<String, Criterion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<ToolCalls>,
}

/// Summarises case stats; `criteria` are the rubric's, so that a criterion
/// nobody scored still appears (with no mean).
pub(crate) fn summarise(stats: &[Stat], criteria: &[String]) -> Summary {
    let mut s = Summary {
        cases: stats.len(),
        ..Summary::default()
    };
    let mut latencies = Vec::new();
    // Every term of the cost, summed once at the end (see `stats::fsum`).
    let mut costs = Some(Vec::new());
    let mut scores: BTreeMap<&str, Vec<f64>> =
        criteria.iter().map(|c| (c.as_str(), Vec::new())).collect();
    let mut seg_scores: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    for st in stats {
        match (st.error, st.passed) {
            (true, _) => s.errors += 1,
            (false, true) => s.passed += 1,
            (false, false) => s.failed += 1,
        }
        s.cached += st.cached as usize;
        s.truncated += st.truncated as usize;
        s.refused += st.refused as usize;
        ToolCalls::add(&mut s.tool_calls, st);
        if let Some(l) = st.latency_ms.filter(|_| !st.error) {
            latencies.push(l);
        }
        s.tokens_in += st.tokens_in.unwrap_or(0);
        s.tokens_out += st.tokens_out.unwrap_or(0);
        let judge_cost = if st.judged {
            st.judge_cost_usd
        } else {
            Some(0.0)
        };
        costs = match (costs, st.cost_usd, judge_cost) {
            (Some(mut terms), Some(c), Some(j)) if !st.error => {
                terms.extend([c, j]);
                Some(terms)
            }
            (Some(mut terms), c, _) if st.error => {
                terms.push(c.unwrap_or(0.0));
                Some(terms)
            }
            _ => None,
        };
        for (name, score) in &st.scores {
            if !st.error {
                scores.entry(name.as_str()).or_default().push(*score);
                if let Some(seg) = &st.segment {
                    seg_scores
                        .entry((seg.as_str(), name.as_str()))
                        .or_default()
                        .push(*score);
                }
            }
        }
        for (m, passed) in &st.metrics {
            let e = s.metrics.entry(m.clone()).or_default();
            e.n += 1;
            e.passed += *passed as usize;
        }
        if let Some(seg) = &st.segment {
            let e = s.segments.entry(seg.clone()).or_default();
            e.cases += 1;
            e.passed += st.passed as usize;
            e.errors += st.error as usize;
            ToolCalls::add(&mut e.tool_calls, st);
        }
    }
    if s.cases > 0 {
        s.pass_rate = Some(s.passed as f64 / s.cases as f64);
        s.pass_rate_ci95 = stats::wilson(s.passed as u64, s.cases as u64, Z95).map(|(a, b)| [a, b]);
        s.error_rate = Some(s.errors as f64 / s.cases as f64);
    }
    for (name, v) in scores {
        s.criteria.insert(
            name.to_string(),
            Criterion {
                mean: stats::mean(&v),
                n: v.len(),
            },
        );
    }
    for m in s.metrics.values_mut() {
        m.rate = (m.n > 0).then(|| m.passed as f64 / m.n as f64);
    }
    for (name, seg) in s.segments.iter_mut() {
        seg.pass_rate = (seg.cases > 0).then(|| seg.passed as f64 / seg.cases as f64);
        seg.pass_rate_ci95 =
            stats::wilson(seg.passed as u64, seg.cases as u64, Z95).map(|(a, b)| [a, b]);
        for c in criteria {
            let v = seg_scores
                .get(&(name.as_str(), c.as_str()))
                .cloned()
                .unwrap_or_default();
            seg.criteria.insert(
                c.clone(),
                Criterion {
                    mean: stats::mean(&v),
                    n: v.len(),
                },
            );
        }
    }
    s.latency_p50_ms = stats::percentile(&mut latencies, 50.0);
    s.latency_p95_ms = stats::percentile(&mut latencies, 95.0);
    // Nothing evaluated means the cost is unknown, not zero.
    s.cost_usd = if s.passed + s.failed > 0 {
        costs.map(|terms| stats::fsum(&terms))
    } else {
        None
    };
    s.flaky = flaky(stats);
    s
}

/// Cases whose samples disagree under `--repeat`.
fn flaky(stats: &[Stat]) -> Vec<String> {
    let mut outcomes: BTreeMap<&str, BTreeSet<bool>> = BTreeMap::new();
    for st in stats {
        outcomes
            .entry(st.id.as_str())
            .or_default()
            .insert(st.passed);
    }
    outcomes
        .into_iter()
        .filter(|(_, o)| o.len() > 1)
        .map(|(id, _)| id.to_string())
        .collect()
}

/// A case-by-case comparison with a baseline run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Comparison {
    pub baseline_run: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_version: Option<String>,
    pub paired: usize,
    pub baseline_pass_rate: Option<f64>,
    pub pass_rate: Option<f64>,
    /// Baseline pass rate minus this run's, over the paired cases.
    pub drop: Option<f64>,
    pub improved: usize,
    pub regressed: usize,
    pub unchanged: usize,
    /// McNemar's exact test on the discordant pairs.
    pub p_value: f64,
    pub regressed_cases: Vec<String>,
}

/// Pairs cases by id (a case passes if all its samples passed).
pub(crate) fn compare(
    baseline_run: &str,
    baseline_version: Option<String>,
    base: &[Stat],
    current: &[Stat],
) -> Comparison {
    let by_id = |stats: &[Stat]| {
        let mut m: BTreeMap<String, bool> = BTreeMap::new();
        for st in stats {
            let e = m.entry(st.id.clone()).or_insert(true);
            *e &= st.passed;
        }
        m
    };
    let (b, c) = (by_id(base), by_id(current));
    let (mut improved, mut regressed, mut unchanged) = (0, 0, 0);
    let mut regressed_cases = Vec::new();
    let (mut bp, mut cp) = (0usize, 0usize);
    for (id, was) in &b {
        let Some(now) = c.get(id) else { continue };
        bp += *was as usize;
        cp += *now as usize;
        match (was, now) {
            (true, false) => {
                regressed += 1;
                regressed_cases.push(id.clone());
            }
            (false, true) => improved += 1,
            _ => unchanged += 1,
        }
    }
    let paired = improved + regressed + unchanged;
    let rate = |n: usize| (paired > 0).then(|| n as f64 / paired as f64);
    Comparison {
        baseline_run: baseline_run.to_string(),
        baseline_version,
        paired,
        baseline_pass_rate: rate(bp),
        pass_rate: rate(cp),
        drop: rate(bp).zip(rate(cp)).map(|(b, c)| b - c),
        improved,
        regressed,
        unchanged,
        p_value: stats::mcnemar_exact(regressed as u64, improved as u64),
        regressed_cases,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(id: &str, passed: bool, error: bool) -> Stat {
        Stat {
            id: id.into(),
            segment: Some("s".into()),
            passed,
            error,
            cached: false,
            latency_ms: Some(10.0),
            tokens_in: Some(1),
            tokens_out: Some(1),
            cost_usd: Some(0.001),
            judge_cost_usd: None,
            judged: false,
            scores: vec![],
            metrics: vec![],
            truncated: false,
            refused: false,
            tool_calls: 0,
            invalid_tool_calls: 0,
        }
    }

    #[test]
    fn errors_are_never_passes() {
        let s = summarise(
            &[stat("a", true, false), stat("b", false, true)],
            &["tone".into()],
        );
        assert_eq!((s.passed, s.errors, s.failed), (1, 1, 0));
        assert_eq!(s.pass_rate, Some(0.5));
        assert_eq!(s.error_rate, Some(0.5));
        assert_eq!(s.criteria["tone"].mean, None, "nobody scored tone");
        assert_eq!(s.latency_p95_ms, Some(10.0), "errored calls are not timed");
    }

    #[test]
    fn a_summary_does_not_depend_on_the_order_cases_finish() {
        let scored = |id: &str, tone: f64, cost: f64| Stat {
            scores: vec![("tone".into(), tone)],
            judged: true,
            judge_cost_usd: Some(cost),
            ..stat(id, true, false)
        };
        let mut stats = vec![
            scored("a", 0.1, 0.1),
            scored("b", 0.2, 0.2),
            scored("c", 0.3, 0.3),
        ];
        let json =
            |stats: &[Stat]| serde_json::to_string(&summarise(stats, &["tone".into()])).unwrap();
        let in_order = json(&stats);
        stats.reverse();
        assert_eq!(json(&stats), in_order);
        stats.swap(0, 1);
        assert_eq!(json(&stats), in_order);
        let s = summarise(&stats, &["tone".into()]);
        assert_eq!(s.criteria["tone"].mean, Some(0.6 / 3.0));
        assert_eq!(s.segments["s"].criteria["tone"].mean, Some(0.6 / 3.0));
        assert_eq!(s.cost_usd, Some(0.603));
    }

    #[test]
    fn no_cases_no_rates() {
        let s = summarise(&[], &[]);
        assert_eq!(
            (s.pass_rate, s.cost_usd, s.latency_p95_ms),
            (None, None, None)
        );
    }

    #[test]
    fn comparison_counts_pairs() {
        let base = [
            stat("a", true, false),
            stat("b", true, false),
            stat("c", false, false),
        ];
        let now = [
            stat("a", false, false),
            stat("b", true, false),
            stat("c", true, false),
            stat("d", true, false),
        ];
        let c = compare("r", None, &base, &now);
        assert_eq!(
            (c.paired, c.improved, c.regressed, c.unchanged),
            (3, 1, 1, 1)
        );
        assert_eq!(c.regressed_cases, vec!["a".to_string()]);
        assert_eq!(c.p_value, 1.0);
    }
}
