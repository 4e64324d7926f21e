//! The `canary` report for people: the sample ratio, each KPI of stable
//! and canary with its threshold and result, and the verdict.

use crate::cli::output::table;
use crate::rollout::canary::{Report, Unit, delta_text, round4};
use crate::stats;

/// The report for people: the arms, the sample ratio, a table of KPIs,
/// and the verdict with its reasons. Plain text; no colour.
pub(crate) fn canary(r: &Report) -> String {
    let mut out = format!(
        "{} in {}: canary `{}` ({}%) vs stable `{}`\n",
        r.prompt,
        r.env,
        r.canary.version,
        round4(r.percent),
        r.stable.version
    );
    out.push_str(&format!(
        "requests: stable {}, canary {} (minimum {} per arm)\n",
        stats::format_count(r.stable.requests),
        stats::format_count(r.canary.requests),
        stats::format_count(r.min_requests)
    ));
    if r.other_requests > 0 {
        out.push_str(&format!(
            "ignored {} requests from other versions\n",
            stats::format_count(r.other_requests)
        ));
    }
    match &r.srm {
        Some(s) => out.push_str(&format!(
            "sample ratio: {} (expected {}/{}, observed {:.1}/{:.1}, p {})\n",
            if s.mismatch { "MISMATCH" } else { "ok" },
            round4(s.expected_share[0] * 100.0),
            round4(s.expected_share[1] * 100.0),
            100.0 * s.observed[0] as f64 / (s.observed[0] + s.observed[1]) as f64,
            100.0 * s.observed[1] as f64 / (s.observed[0] + s.observed[1]) as f64,
            stats::p_phrase(s.p_value)
        )),
        None => out.push_str("sample ratio: no requests\n"),
    }
    let rows = r.kpis.iter().map(|k| {
        vec![
            k.name.to_string(),
            value_text(k.stable, k.unit),
            value_text(k.canary, k.unit),
            delta_text(k),
            k.threshold.clone().unwrap_or_else(|| "-".to_string()),
            k.p_value.map_or("-".to_string(), stats::format_p),
            k.check.name().to_string(),
        ]
    });
    out.push_str(&table(
        &[
            "KPI",
            "stable",
            "canary",
            "delta",
            "threshold",
            "p",
            "result",
        ],
        rows,
    ));
    out.push_str(&format!("verdict: {}\n", r.verdict.name()));
    for r in &r.reasons {
        out.push_str(&format!("  - {r}\n"));
    }
    out
}

/// A KPI's value for people.
fn value_text(v: Option<f64>, unit: Unit) -> String {
    match (v, unit) {
        (None, _) => "-".to_string(),
        (Some(v), Unit::Rate) => format!("{:.2}%", v * 100.0),
        (Some(v), Unit::Ms) => format!("{v:.1} ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::canary::tests::rollback_report;

    #[test]
    fn the_report_reads_as_a_table() {
        let r = rollback_report();
        let text = canary(&r);
        assert!(
            text.starts_with("support_bot in production: canary `1.3.0` (50%) vs stable `1.2.0`\n")
        );
        assert!(text.contains("requests: stable 1,000, canary 1,000 (minimum 200 per arm)"));
        assert!(text.contains("max drop 2 pts"), "{text}");
        assert!(
            text.contains("verdict: rollback\n  - latency_p95_ms"),
            "{text}"
        );
        for name in [
            "success_rate",
            "refusal_rate",
            "escalation_rate",
            "fallback_rate",
            "error_rate",
            "correction_rate",
            "latency_p50_ms",
        ] {
            assert!(text.contains(name), "{name}\n{text}");
        }
    }
}
