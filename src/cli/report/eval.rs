//! The eval report for people: the run's facts, segments, gates, the top
//! failures and the verdict, as tables.

use crate::cli::output::table;
use crate::eval::report::{actual, case_label, failure_reason, more_failing, pct, summary_rows};
use crate::eval::results::{CaseResult, RunHeader};

/// The human report: summary, segments, gates, top failures, verdict.
pub(crate) fn run(
    h: &RunHeader,
    failures: &[CaseResult],
    paint: &dyn Fn(bool, &str) -> String,
) -> String {
    let mut out = table(
        &["run", &h.run_id],
        summary_rows(h).into_iter().map(|(a, b)| vec![a, b]),
    );
    if !h.summary.segments.is_empty() {
        out.push_str(&table(
            &["segment", "cases", "pass rate", "95% CI"],
            h.summary.segments.iter().map(|(name, s)| {
                vec![
                    name.clone(),
                    s.cases.to_string(),
                    pct(s.pass_rate),
                    s.pass_rate_ci95.map_or("n/a".into(), |[lo, hi]| {
                        format!("{:.1}–{:.1}%", lo * 100.0, hi * 100.0)
                    }),
                ]
            }),
        ));
    }
    out.push_str(&table(
        &["gate", "threshold", "actual", "verdict", "note"],
        h.gates.iter().map(|g| {
            vec![
                g.gate.clone(),
                format!("{} {}", g.op, g.threshold),
                actual(g),
                paint(g.passed, if g.passed { "pass" } else { "FAIL" }),
                g.note.clone(),
            ]
        }),
    ));
    if !failures.is_empty() {
        out.push_str(&table(
            &["failing case", "why"],
            failures
                .iter()
                .map(|c| vec![case_label(c), truncate(&failure_reason(c), 110)]),
        ));
        if let Some(more) = more_failing(h, failures) {
            out.push_str(&format!("{more}\n"));
        }
    }
    let v = &h.verdict;
    out.push_str(&format!(
        "{} (exit {}): {}\n",
        paint(v.exit_code == 0, &v.status.to_uppercase()),
        v.exit_code,
        v.reason
    ));
    out
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max - 1).collect();
    t.push('…');
    t
}
