//! Several targets side by side: one suite, run on each target, compared.
//!
//! The design decision to know: a comparison is made of ordinary runs, one
//! per target (a provider and a model), each saved as its own run file with
//! its own provider and model, so `gate`, `merge`, `evidence` and `promote`
//! see nothing new (and a run on another model never counts for `promote`).
//! This module only lines the runs up: each target's numbers, the cases on
//! which the targets disagree, a McNemar test per pair, and one verdict:
//! the worst target's in fail-closed order, or, with `--compare-only`, a
//! pass once every target ran to its end.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::gates::{GateResult, Verdict};
use super::results::{PromptInfo, ProviderInfo, RunHeader};
use super::summary::{Stat, Summary};
use crate::error::Class;
use crate::stats;

pub(crate) const SCHEMA: &str = "promptctl.comparison/v1";

/// How one case went on one target: it passes only if every sample passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum CaseOutcome {
    Pass,
    Fail,
    /// A sample could not be evaluated (its call or judge failed, or it was
    /// not run).
    Error,
}

impl CaseOutcome {
    pub(crate) fn word(self) -> &'static str {
        match self {
            CaseOutcome::Pass => "pass",
            CaseOutcome::Fail => "fail",
            CaseOutcome::Error => "error",
        }
    }
}

/// Each case's outcome, by id, from a run's stats: an error in any sample
/// makes it an error, else a failure in any sample a failure.
pub(crate) fn by_case(stats: &[Stat]) -> BTreeMap<String, CaseOutcome> {
    let mut out: BTreeMap<String, CaseOutcome> = BTreeMap::new();
    for st in stats {
        let this = match (st.error, st.passed) {
            (true, _) => CaseOutcome::Error,
            (false, true) => CaseOutcome::Pass,
            (false, false) => CaseOutcome::Fail,
        };
        let e = out.entry(st.id.clone()).or_insert(this);
        *e = (*e).max(this);
    }
    out
}

/// One target's run, as the comparison reads it.
pub(crate) struct Side<'a> {
    /// `provider:model`.
    pub label: &'a str,
    pub header: &'a RunHeader,
    /// The run file, relative to the workspace root.
    pub run_file: &'a str,
    pub cases: &'a BTreeMap<String, CaseOutcome>,
}

/// The comparison of several targets' runs of one suite.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Comparison {
    pub schema: String,
    pub suite: String,
    pub prompt: PromptInfo,
    /// `--compare-only`: the gates do not decide the exit code.
    pub compare_only: bool,
    pub targets: Vec<Target>,
    /// Cases (by id) that every target has a result for.
    pub cases: usize,
    /// The cases that passed on some targets and not on others, in id order.
    pub disagreements: Vec<Disagreement>,
    /// Every pair of targets, in the order they were given.
    pub pairs: Vec<Pair>,
    pub verdict: Verdict,
}

/// One target: its run and the numbers it is judged by.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Target {
    /// `provider:model`.
    pub target: String,
    pub provider: ProviderInfo,
    pub run_id: String,
    pub run_file: String,
    pub duration_ms: f64,
    pub summary: Summary,
    pub gates: Vec<GateResult>,
    pub verdict: Verdict,
}

/// A case the targets disagree on: where it passed, failed, and errored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Disagreement {
    pub id: String,
    pub passed: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl Disagreement {
    /// The outcome on target `label`.
    pub(crate) fn outcome(&self, label: &str) -> CaseOutcome {
        let on = |v: &[String]| v.iter().any(|t| t == label);
        if on(&self.passed) {
            CaseOutcome::Pass
        } else if on(&self.errors) {
            CaseOutcome::Error
        } else {
            CaseOutcome::Fail
        }
    }
}

/// Two targets on the cases both have: how many passed on only one of
/// them, and McNemar's exact test of whether that split is chance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Pair {
    pub a: String,
    pub b: String,
    pub paired: usize,
    pub only_a: usize,
    pub only_b: usize,
    pub p_value: f64,
}

/// Lines the runs up. `sides` are in the order the targets were given.
pub(crate) fn build(sides: &[Side], compare_only: bool) -> Comparison {
    let common: Vec<&String> = sides
        .first()
        .map(|first| {
            first
                .cases
                .keys()
                .filter(|id| sides.iter().all(|s| s.cases.contains_key(*id)))
                .collect()
        })
        .unwrap_or_default();
    let mut disagreements = Vec::new();
    for id in &common {
        let mut d = Disagreement {
            id: (*id).clone(),
            passed: Vec::new(),
            failed: Vec::new(),
            errors: Vec::new(),
        };
        for s in sides {
            let list = match s.cases[*id] {
                CaseOutcome::Pass => &mut d.passed,
                CaseOutcome::Fail => &mut d.failed,
                CaseOutcome::Error => &mut d.errors,
            };
            list.push(s.label.to_string());
        }
        if !d.passed.is_empty() && d.passed.len() < sides.len() {
            disagreements.push(d);
        }
    }
    let mut pairs = Vec::new();
    for (i, a) in sides.iter().enumerate() {
        for b in &sides[i + 1..] {
            pairs.push(pair(a, b));
        }
    }
    let targets: Vec<Target> = sides
        .iter()
        .map(|s| Target {
            target: s.label.to_string(),
            provider: s.header.provider.clone(),
            run_id: s.header.run_id.clone(),
            run_file: s.run_file.to_string(),
            duration_ms: s.header.duration_ms,
            summary: s.header.summary.clone(),
            gates: s.header.gates.clone(),
            verdict: s.header.verdict.clone(),
        })
        .collect();
    let verdict = verdict(&targets, compare_only);
    let (suite, prompt) = sides.first().map_or_else(
        || {
            (
                String::new(),
                PromptInfo {
                    name: String::new(),
                    version: None,
                    digest: String::new(),
                },
            )
        },
        |s| (s.header.suite.name.clone(), s.header.prompt.clone()),
    );
    Comparison {
        schema: SCHEMA.into(),
        suite,
        prompt,
        compare_only,
        targets,
        cases: common.len(),
        disagreements,
        pairs,
        verdict,
    }
}

fn pair(a: &Side, b: &Side) -> Pair {
    let (mut paired, mut only_a, mut only_b) = (0, 0, 0);
    for (id, x) in a.cases {
        let Some(y) = b.cases.get(id) else { continue };
        paired += 1;
        match (*x == CaseOutcome::Pass, *y == CaseOutcome::Pass) {
            (true, false) => only_a += 1,
            (false, true) => only_b += 1,
            _ => {}
        }
    }
    Pair {
        a: a.label.to_string(),
        b: b.label.to_string(),
        paired,
        only_a,
        only_b,
        p_value: stats::mcnemar_exact(only_a as u64, only_b as u64),
    }
}

/// How bad a verdict is, fail-closed: a pass, then a failed gate, then an
/// inconclusive run (nothing to judge), then a run that could not be
/// completed, then an interrupted one; a code this does not know is the
/// worst of all.
pub(crate) fn severity(v: &Verdict) -> u8 {
    match (v.status.as_str(), v.exit_code) {
        ("interrupted", _) => 4,
        (_, 0) => 0,
        (_, 1) => 1,
        (_, 5) => 2,
        (_, 3) => 3,
        _ => 5,
    }
}

/// A target ran to its end: its verdict is its gates' (pass or fail), not
/// an error, an interruption or an empty run.
pub(crate) fn completed(v: &Verdict) -> bool {
    severity(v) <= 1
}

/// The comparison's verdict: the worst target's, naming every target that
/// did not pass; with `compare_only`, a pass when every target completed.
fn verdict(targets: &[Target], compare_only: bool) -> Verdict {
    let Some(worst) = targets.iter().max_by_key(|t| severity(&t.verdict)) else {
        return Verdict {
            status: "inconclusive".into(),
            exit_code: Class::Inconclusive as u8,
            reason: "no targets to compare".into(),
        };
    };
    let not_passed: Vec<String> = targets
        .iter()
        .filter(|t| t.verdict.exit_code != 0)
        .map(|t| format!("`{}`: {}", t.target, t.verdict.reason))
        .collect();
    if not_passed.is_empty() {
        return Verdict {
            status: "pass".into(),
            exit_code: 0,
            reason: format!("every target passed its gates ({} targets)", targets.len()),
        };
    }
    if compare_only && targets.iter().all(|t| completed(&t.verdict)) {
        return Verdict {
            status: "pass".into(),
            exit_code: 0,
            reason: format!(
                "every target ran to its end; with `--compare-only` the gates do not decide the exit code ({})",
                not_passed.join("; ")
            ),
        };
    }
    Verdict {
        status: worst.verdict.status.clone(),
        exit_code: worst.verdict.exit_code,
        reason: not_passed.join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(status: &str, exit_code: u8) -> Verdict {
        Verdict {
            status: status.into(),
            exit_code,
            reason: format!("{status} reason"),
        }
    }

    fn target(label: &str, v: Verdict) -> Target {
        Target {
            target: label.into(),
            provider: ProviderInfo {
                name: "p".into(),
                kind: "openai".into(),
                model: label.into(),
            },
            run_id: "r".into(),
            run_file: "f".into(),
            duration_ms: 0.0,
            summary: Summary::default(),
            gates: Vec::new(),
            verdict: v,
        }
    }

    #[test]
    fn the_worst_target_decides_in_fail_closed_order() {
        let order = [
            verdict("pass", 0),
            verdict("fail", 1),
            verdict("inconclusive", 5),
            verdict("error", 3),
            verdict("interrupted", 3),
            verdict("strange", 4),
        ];
        for (i, better) in order.iter().enumerate() {
            for worse in &order[i + 1..] {
                let ts = [target("a", better.clone()), target("b", worse.clone())];
                let v = super::verdict(&ts, false);
                assert_eq!(
                    (v.status.as_str(), v.exit_code),
                    (worse.status.as_str(), worse.exit_code),
                    "{better:?} vs {worse:?}"
                );
                // The order the targets come in does not matter.
                let ts = [target("b", worse.clone()), target("a", better.clone())];
                assert_eq!(super::verdict(&ts, false).status, worse.status);
            }
        }
    }

    #[test]
    fn compare_only_passes_completed_runs_and_nothing_else() {
        let both = |a: Verdict, b: Verdict| [target("a", a), target("b", b)];
        let v = super::verdict(&both(verdict("pass", 0), verdict("fail", 1)), true);
        assert_eq!(v.exit_code, 0, "{v:?}");
        assert!(v.reason.contains("`b`: fail reason"), "{v:?}");
        for bad in [
            verdict("error", 3),
            verdict("inconclusive", 5),
            verdict("interrupted", 3),
        ] {
            let v = super::verdict(&both(verdict("fail", 1), bad.clone()), true);
            assert_eq!(v.exit_code, bad.exit_code, "{bad:?}");
            assert_eq!(v.status, bad.status);
        }
        let v = super::verdict(&both(verdict("pass", 0), verdict("fail", 1)), false);
        assert_eq!((v.exit_code, v.reason.as_str()), (1, "`b`: fail reason"));
    }

    #[test]
    fn a_case_is_only_as_good_as_its_worst_sample() {
        let st = |id: &str, passed: bool, error: bool| Stat {
            id: id.into(),
            segment: None,
            passed,
            error,
            cached: false,
            latency_ms: None,
            tokens_in: None,
            tokens_out: None,
            cost_usd: None,
            judge_cost_usd: None,
            judged: false,
            scores: vec![],
            metrics: vec![],
            truncated: false,
            refused: false,
            tool_calls: 0,
            invalid_tool_calls: 0,
        };
        let m = by_case(&[
            st("a", true, false),
            st("a", false, false),
            st("b", true, false),
            st("c", false, false),
            st("c", false, true),
            st("c", true, false),
        ]);
        assert_eq!(m["a"], CaseOutcome::Fail);
        assert_eq!(m["b"], CaseOutcome::Pass);
        assert_eq!(m["c"], CaseOutcome::Error);
    }
}
