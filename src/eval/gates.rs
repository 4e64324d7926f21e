//! Gates: thresholds a run must meet, each reported with its actual value.
//!
//! A gate whose number is missing (no cases, nobody scored the criterion,
//! no price for the model) fails and says why. A gate that names a criterion,
//! segment or metric the suite does not have is a config error, never
//! silently skipped. The verdict maps to the exit code: 0 pass, 1 a gate
//! failed, 3 errors beyond `max_error_rate` or a run interrupted by a
//! signal, 5 nothing was evaluated.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::suite::Gates;
use super::summary::{Comparison, Summary};
use crate::error::{Class, Error};

/// The p-value below which a drop vs the baseline counts as a regression.
pub(crate) const REGRESSION_ALPHA: f64 = 0.05;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct GateResult {
    pub gate: String,
    /// `>=` (at least) or `<=` (at most).
    pub op: String,
    pub threshold: f64,
    pub actual: Option<f64>,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Verdict {
    /// `pass`, `fail`, `error`, `inconclusive` or `interrupted`.
    pub status: String,
    pub exit_code: u8,
    pub reason: String,
}

/// What the suite defines, to check gate names against.
pub(crate) struct Known {
    pub criteria: BTreeSet<String>,
    pub segments: BTreeSet<String>,
    pub metrics: BTreeSet<String>,
}

/// Checks that every name a gate uses exists (exit 2 otherwise).
pub(crate) fn check_names(gates: &Gates, known: &Known, at: &str) -> Result<(), Error> {
    let unknown = |kind: &str, name: &str, set: &BTreeSet<String>| {
        let mut err = Error::invalid(format!("{at}: gates: unknown {kind} `{name}`"));
        if let Some(best) = crate::workspace::yaml::closest(name, set.iter().map(String::as_str)) {
            err = err.with_hint(format!("did you mean `{best}`?"));
        } else if set.is_empty() {
            err = err.with_hint(format!("the suite defines no {kind}s"));
        }
        err
    };
    for c in gates.criteria.keys() {
        if !known.criteria.contains(c) {
            return Err(unknown("criterion", c, &known.criteria));
        }
    }
    for (seg, g) in &gates.segments {
        if !known.segments.contains(seg) {
            return Err(unknown("segment", seg, &known.segments));
        }
        for c in g.criteria.keys() {
            if !known.criteria.contains(c) {
                return Err(unknown("criterion", c, &known.criteria));
            }
        }
    }
    for (name, value) in gate_thresholds(gates) {
        if !value.is_finite() {
            return Err(Error::invalid(format!(
                "{at}: gates.{name} must be a finite number"
            )));
        }
    }
    let _ = &known.metrics;
    Ok(())
}

fn gate_thresholds(g: &Gates) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = [
        ("pass_rate", g.pass_rate),
        ("max_error_rate", g.max_error_rate),
        ("latency_p95_ms", g.latency_p95_ms),
        ("max_cost_usd", g.max_cost_usd),
        ("tool_call_validity", g.tool_call_validity),
        ("max_regression", g.max_regression),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
    .collect();
    v.extend(
        g.criteria
            .iter()
            .map(|(k, t)| (format!("criteria.{k}"), *t)),
    );
    v
}

/// Whether a gate reads tool calls (and so needs a prompt with tools).
pub(crate) fn needs_tools(g: &Gates) -> bool {
    g.tool_call_validity.is_some() || g.segments.values().any(|s| s.tool_call_validity.is_some())
}

/// Applies the gates to a summary (and a baseline comparison, if any).
pub(crate) fn apply(g: &Gates, s: &Summary, baseline: Option<&Comparison>) -> Vec<GateResult> {
    let mut out = Vec::new();
    let at_least =
        |gate: String, threshold: f64, actual: Option<f64>, why_missing: &str| GateResult {
            passed: actual.is_some_and(|a| a >= threshold),
            note: if actual.is_none() {
                why_missing.to_string()
            } else {
                String::new()
            },
            gate,
            op: ">=".into(),
            threshold,
            actual,
        };
    let at_most =
        |gate: String, threshold: f64, actual: Option<f64>, why_missing: &str| GateResult {
            passed: actual.is_some_and(|a| a <= threshold),
            note: if actual.is_none() {
                why_missing.to_string()
            } else {
                String::new()
            },
            gate,
            op: "<=".into(),
            threshold,
            actual,
        };
    // A suite that sets no gate gets the strict default: every case passes.
    let default = g.is_unset();
    if let Some(t) = g.pass_rate.or(default.then_some(1.0)) {
        let mut r = at_least(
            "pass_rate".into(),
            t,
            s.pass_rate,
            "no cases were evaluated",
        );
        if let (Some([lo, hi]), true) = (s.pass_rate_ci95, r.note.is_empty()) {
            r.note = format!("95% CI {:.1}–{:.1}%", lo * 100.0, hi * 100.0);
        }
        if default {
            r.note = if r.note.is_empty() {
                DEFAULT_NOTE.to_string()
            } else {
                format!("{}; {DEFAULT_NOTE}", r.note)
            };
        }
        out.push(r);
    }
    for (c, t) in &g.criteria {
        let actual = s.criteria.get(c).and_then(|x| x.mean);
        out.push(at_least(
            format!("criteria.{c}"),
            *t,
            actual,
            "no case was scored on it",
        ));
    }
    // Errors are gated even when the suite does not say so: the default is 0.
    out.push(at_most(
        "max_error_rate".into(),
        g.max_error_rate.unwrap_or(0.0),
        s.error_rate,
        "no cases were evaluated",
    ));
    if let Some(t) = g.latency_p95_ms {
        out.push(at_most(
            "latency_p95_ms".into(),
            t,
            s.latency_p95_ms,
            "no latency was measured",
        ));
    }
    if let Some(t) = g.max_cost_usd {
        out.push(at_most(
            "max_cost_usd".into(),
            t,
            s.cost_usd,
            "cost unknown: a call had no token counts or its model no price in promptctl.yaml",
        ));
    }
    if let Some(t) = g.tool_call_validity {
        out.push(at_least(
            "tool_call_validity".into(),
            t,
            s.tool_calls.as_ref().and_then(|c| c.validity),
            "no tool calls were made",
        ));
    }
    for (seg, sg) in &g.segments {
        let ss = s.segments.get(seg);
        if let Some(t) = sg.pass_rate {
            out.push(at_least(
                format!("segments.{seg}.pass_rate"),
                t,
                ss.and_then(|x| x.pass_rate),
                "no case in this segment was evaluated",
            ));
        }
        for (c, t) in &sg.criteria {
            let actual = ss.and_then(|x| x.criteria.get(c)).and_then(|x| x.mean);
            out.push(at_least(
                format!("segments.{seg}.criteria.{c}"),
                *t,
                actual,
                "no case in this segment was scored on it",
            ));
        }
        if let Some(t) = sg.tool_call_validity {
            out.push(at_least(
                format!("segments.{seg}.tool_call_validity"),
                t,
                ss.and_then(|x| x.tool_calls.as_ref())
                    .and_then(|c| c.validity),
                "no tool calls were made in this segment",
            ));
        }
    }
    if let Some(t) = g.max_regression {
        let mut r = match baseline {
            None => at_most(
                "max_regression".into(),
                t,
                None,
                "no baseline: pass `--baseline VERSION|RUN.json`",
            ),
            Some(b) => at_most(
                "max_regression".into(),
                t,
                b.drop,
                "no cases in common with the baseline",
            ),
        };
        if let (Some(b), Some(drop)) = (baseline, r.actual) {
            // A drop beyond the threshold is a regression only if it is not noise.
            if drop > t && b.p_value >= REGRESSION_ALPHA {
                r.passed = true;
                r.note = format!(
                    "drop not significant (McNemar p = {:.3}, {} regressed, {} improved)",
                    b.p_value, b.regressed, b.improved
                );
            } else {
                r.note = format!(
                    "McNemar p = {:.3}; {} regressed, {} improved",
                    b.p_value, b.regressed, b.improved
                );
            }
        }
        out.push(r);
    }
    out
}

/// Said beside a gate that applies because the suite sets none.
pub(crate) const DEFAULT_NOTE: &str = "the default: the suite sets no gates";

/// The run's verdict and exit code.
pub(crate) fn verdict(s: &Summary, gates: &[GateResult], aborted: Option<&str>) -> Verdict {
    let v = |class: Option<Class>, status: &str, reason: String| Verdict {
        status: status.into(),
        exit_code: class.map_or(0, |c| c as u8),
        reason,
    };
    if let Some(why) = aborted {
        return v(Some(Class::Incomplete), "error", why.to_string());
    }
    if s.cases == 0 {
        return v(
            Some(Class::Inconclusive),
            "inconclusive",
            "no cases were selected: an empty run is not a pass".into(),
        );
    }
    let failed: Vec<&str> = gates
        .iter()
        .filter(|g| !g.passed)
        .map(|g| g.gate.as_str())
        .collect();
    if failed.contains(&"max_error_rate") {
        return v(
            Some(Class::Incomplete),
            "error",
            format!(
                "{} of {} cases could not be evaluated (max_error_rate allows {})",
                s.errors,
                s.cases,
                gates
                    .iter()
                    .find(|g| g.gate == "max_error_rate")
                    .map_or(0.0, |g| g.threshold)
            ),
        );
    }
    if !failed.is_empty() {
        return v(
            Some(Class::Failed),
            "fail",
            format!("gates failed: {}", failed.join(", ")),
        );
    }
    v(None, "pass", format!("all {} gates passed", gates.len()))
}

/// The verdict of a run stopped by a signal (`None`: not known which):
/// `interrupted`, exit 3 (the work was not completed), whatever its gates
/// say of the cases it did finish.
pub(crate) fn interrupted(signal: Option<&str>) -> Verdict {
    let by = signal.map(|s| format!(" by {s}")).unwrap_or_default();
    Verdict {
        status: "interrupted".into(),
        exit_code: Class::Incomplete as u8,
        reason: format!(
            "the run was interrupted{by} before its end: a partial run, which does not count for `promote`"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::summary::{Criterion, Summary};

    fn gates(yaml: &str) -> Gates {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn missing_numbers_fail() {
        let s = Summary {
            cases: 2,
            passed: 2,
            pass_rate: Some(1.0),
            error_rate: Some(0.0),
            ..Summary::default()
        };
        let g = gates("criteria: { tone: 0.5 }\nlatency_p95_ms: 100\nmax_cost_usd: 1\n");
        let r = apply(&g, &s, None);
        assert!(
            r.iter()
                .filter(|x| x.gate != "max_error_rate")
                .all(|x| !x.passed),
            "{r:?}"
        );
        assert_eq!(verdict(&s, &r, None).exit_code, 1);
    }

    #[test]
    fn errors_exit_3_unless_allowed() {
        let s = Summary {
            cases: 10,
            passed: 9,
            errors: 1,
            pass_rate: Some(0.9),
            error_rate: Some(0.1),
            ..Summary::default()
        };
        let r = apply(&gates("pass_rate: 0.8\n"), &s, None);
        assert_eq!(verdict(&s, &r, None).exit_code, 3);
        let r = apply(&gates("pass_rate: 0.8\nmax_error_rate: 0.1\n"), &s, None);
        assert_eq!(verdict(&s, &r, None).exit_code, 0);
    }

    #[test]
    fn empty_run_is_inconclusive() {
        let s = Summary::default();
        assert_eq!(
            verdict(&s, &apply(&gates("{}"), &s, None), None).exit_code,
            5
        );
    }

    #[test]
    fn unknown_names_are_config_errors() {
        let known = Known {
            criteria: ["tone".into()].into(),
            segments: ["billing".into()].into(),
            metrics: BTreeSet::new(),
        };
        assert!(check_names(&gates("criteria: { tonee: 0.5 }\n"), &known, "s").is_err());
        assert!(
            check_names(
                &gates("segments: { biling: { pass_rate: 1 } }\n"),
                &known,
                "s"
            )
            .is_err()
        );
        assert!(
            check_names(
                &gates("criteria: { tone: 0.5 }\nsegments: { billing: { pass_rate: 1 } }\n"),
                &known,
                "s"
            )
            .is_ok()
        );
        let _ = Criterion::default();
    }
}
