//! The `ab analyze` report for people: arms, difference, sample ratio,
//! guardrails, segments and the conclusion, as tables. No colour.

use crate::cli::output::table;
use crate::rollout::ab::{
    ALPHA, Analysis, Arm, ArmValue, Comparison, Conclusion, GuardrailCheck, diff_text, percent,
    round,
};
use crate::rollout::prodlog::{Kind, Metric};
use crate::stats;

/// The analysis for people: the arms, the difference, the sample ratio,
/// the guardrails and the segments, then the conclusion. No colour.
pub(crate) fn analysis(r: &Analysis) -> String {
    let m = r.primary.metric;
    let [a, b] = &r.arms;
    let method = match m.kind() {
        Kind::Rate => "two-proportion z-test",
        Kind::Mean => "Welch's t-test",
    };
    let mut out = format!(
        "{}A `{}` vs B `{}` on {m} ({method})\n",
        r.prompt
            .as_ref()
            .map_or(String::new(), |p| format!("{p}: ")),
        a.version,
        b.version
    );
    let arm_row = |name: &str, arm: &Arm, v: &ArmValue| {
        vec![
            name.to_string(),
            arm.version.clone(),
            stats::format_count(arm.requests),
            stats::format_count(v.n),
            value_text(m, v.value),
        ]
    };
    out.push_str(&table(
        &["arm", "version", "requests", "n", m.name()],
        [arm_row("A", a, &r.primary.a), arm_row("B", b, &r.primary.b)],
    ));
    match &r.primary.test {
        Some(t) => out.push_str(&format!(
            "difference (B - A): {}, 95% CI {}, p {} ({} at {})\n",
            diff_text(m, t.estimate),
            ci_text(m, t.ci95),
            stats::p_phrase(t.p_value),
            if t.p_value < ALPHA {
                "significant"
            } else {
                "not significant"
            },
            ALPHA
        )),
        None => out.push_str("difference (B - A): too little data to test\n"),
    }
    match &r.srm {
        Some(s) => {
            let total = (s.observed[0] + s.observed[1]) as f64;
            out.push_str(&format!(
                "sample ratio: {} (expected {}/{}, observed {:.1}/{:.1}, p {})\n",
                if s.mismatch { "MISMATCH" } else { "ok" },
                round(s.expected_share[0] * 100.0, 2),
                round(s.expected_share[1] * 100.0, 2),
                100.0 * s.observed[0] as f64 / total,
                100.0 * s.observed[1] as f64 / total,
                stats::p_phrase(s.p_value)
            ));
        }
        None => out.push_str("sample ratio: no requests\n"),
    }
    if !r.guardrails.is_empty() {
        out.push_str(&format!(
            "\nguardrails (must not get significantly worse at p < {ALPHA}):\n"
        ));
        let rows = r.guardrails.iter().map(|g| {
            let c = &g.comparison;
            let mut row = comparison_cells(c);
            row.insert(0, c.metric.to_string());
            row.push(
                match g.check {
                    GuardrailCheck::Ok => "ok",
                    GuardrailCheck::Worse => "WORSE",
                    GuardrailCheck::NoData => "no data",
                }
                .to_string(),
            );
            row
        });
        out.push_str(&table(
            &[
                "metric", "n A", "A", "n B", "B", "B - A", "95% CI", "p", "result",
            ],
            rows,
        ));
    }
    if let Some(s) = &r.segments {
        out.push_str(&format!(
            "\n{m} by `{}`: with {} segment{}, a segment's difference is significant at p < {}/{} = {} (Bonferroni)\n",
            s.field,
            s.k,
            if s.k == 1 { "" } else { "s" },
            ALPHA,
            s.k,
            round(s.alpha, 4)
        ));
        let rows = s.rows.iter().map(|r| {
            let mut row = comparison_cells(&r.comparison);
            row.insert(0, r.segment.clone());
            row.push(match r.comparison.significant {
                Some(true) => "yes".to_string(),
                Some(false) => "no".to_string(),
                None => "-".to_string(),
            });
            row
        });
        out.push_str(&table(
            &[
                "segment",
                "n A",
                "A",
                "n B",
                "B",
                "B - A",
                "95% CI",
                "p",
                "significant",
            ],
            rows,
        ));
    }
    match r.conclusion {
        Conclusion::Complete => {}
        Conclusion::Inconclusive => out.push_str("\ninconclusive:\n"),
        Conclusion::GuardrailBreached => out.push_str("\nguardrail breached:\n"),
    }
    for r in &r.reasons {
        out.push_str(&format!("  - {r}\n"));
    }
    out
}

/// n A, A, n B, B, difference, CI, p.
fn comparison_cells(c: &Comparison) -> Vec<String> {
    let m = c.metric;
    let (diff, ci, p) = match &c.test {
        Some(t) => (
            diff_text(m, t.estimate),
            ci_text(m, t.ci95),
            stats::format_p(t.p_value),
        ),
        None => ("-".to_string(), "-".to_string(), "-".to_string()),
    };
    vec![
        stats::format_count(c.a.n),
        value_text(m, c.a.value),
        stats::format_count(c.b.n),
        value_text(m, c.b.value),
        diff,
        ci,
        p,
    ]
}

fn value_text(m: Metric, v: Option<f64>) -> String {
    let Some(v) = v else {
        return "-".to_string();
    };
    match m {
        Metric::LatencyMs => format!("{v:.1} ms"),
        Metric::TokensIn | Metric::TokensOut => format!("{v:.1}"),
        Metric::CostUsd => format!("${v:.6}"),
        _ => percent(v),
    }
}

fn ci_text(m: Metric, (lo, hi): (f64, f64)) -> String {
    match m {
        Metric::LatencyMs => format!("[{lo:+.1}, {hi:+.1}] ms"),
        Metric::TokensIn | Metric::TokensOut => format!("[{lo:+.1}, {hi:+.1}]"),
        Metric::CostUsd => format!("[{lo:+.6}, {hi:+.6}] USD"),
        _ => format!("[{:+.2}, {:+.2}] pts", lo * 100.0, hi * 100.0),
    }
}
