//! Reports of a run: the terminal tables, Markdown (PRs, `$GITHUB_STEP_SUMMARY`)
//! and JUnit XML (CI test tabs). Pure functions from a run to text.

use super::gates::GateResult;
use super::results::{CaseResult, RunHeader};

pub(crate) fn pct(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |v| format!("{:.1}%", v * 100.0))
}

pub(crate) fn num(x: Option<f64>, unit: &str) -> String {
    x.map_or("n/a".into(), |v| format!("{v:.0}{unit}"))
}

pub(crate) fn money(x: Option<f64>) -> String {
    x.map_or("unknown".into(), |v| format!("${v:.4}"))
}

pub(crate) fn actual(g: &GateResult) -> String {
    match g.actual {
        None => "n/a".into(),
        Some(v)
            if g.gate.contains("rate")
                || g.gate.contains("criteria")
                || g.gate == "max_regression" =>
        {
            format!("{v:.3}")
        }
        Some(v) if g.gate == "max_cost_usd" => format!("{v:.4}"),
        Some(v) => format!("{v:.0}"),
    }
}

/// Rows of the summary: (what, value).
pub(crate) fn summary_rows(h: &RunHeader) -> Vec<(String, String)> {
    let s = &h.summary;
    let mut rows = vec![
        (
            "prompt".to_string(),
            format!(
                "{}{} ({})",
                h.prompt.name,
                h.prompt
                    .version
                    .as_ref()
                    .map_or(" (draft)".into(), |v| format!("@{v}")),
                crate::version::manifest::short(&h.prompt.digest)
            ),
        ),
        (
            "provider".into(),
            format!(
                "{} ({}), model {}",
                h.provider.name, h.provider.kind, h.provider.model
            ),
        ),
        (
            "cases".into(),
            format!(
                "{} ({} passed, {} failed, {} errors, {} cached)",
                s.cases, s.passed, s.failed, s.errors, s.cached
            ),
        ),
        (
            "pass rate".into(),
            match s.pass_rate_ci95 {
                Some([lo, hi]) => format!(
                    "{} (95% CI {:.1}–{:.1}%)",
                    pct(s.pass_rate),
                    lo * 100.0,
                    hi * 100.0
                ),
                None => pct(s.pass_rate),
            },
        ),
    ];
    for (c, v) in &s.criteria {
        rows.push((
            format!("judge: {c}"),
            v.mean
                .map_or("n/a".into(), |m| format!("{m:.3} (n={})", v.n)),
        ));
    }
    rows.push((
        "latency p50 / p95".into(),
        format!(
            "{} / {}",
            num(s.latency_p50_ms, " ms"),
            num(s.latency_p95_ms, " ms")
        ),
    ));
    rows.push((
        "tokens in / out".into(),
        format!("{} / {}", s.tokens_in, s.tokens_out),
    ));
    rows.push(("cost".into(), money(s.cost_usd)));
    if let Some(j) = &h.judge {
        rows.push((
            "judge".into(),
            format!(
                "{} via {}, temperature {} (prompt {})",
                j.model,
                j.provider,
                j.temperature,
                crate::version::manifest::short(&j.prompt_sha256)
            ),
        ));
    }
    if let Some(b) = &h.baseline {
        rows.push((
            "vs baseline".into(),
            format!(
                "{} → {} on {} paired cases: {} improved, {} regressed (McNemar p = {:.3})",
                pct(b.baseline_pass_rate),
                pct(b.pass_rate),
                b.paired,
                b.improved,
                b.regressed,
                b.p_value
            ),
        ));
    }
    if !s.flaky.is_empty() {
        rows.push(("flaky".into(), s.flaky.join(", ")));
    }
    rows
}

pub(crate) fn failure_reason(c: &CaseResult) -> String {
    if let Some(e) = &c.error {
        return format!("error: {e}");
    }
    let mut reasons: Vec<String> = c
        .assertions
        .iter()
        .filter(|a| !a.passed)
        .map(|a| format!("{}: {}", super::assertions::type_name(a.kind), a.reason))
        .collect();
    reasons.truncate(3);
    reasons.join("; ")
}

pub(crate) fn case_label(c: &CaseResult) -> String {
    if c.sample > 0 {
        format!("{} #{}", c.id, c.sample + 1)
    } else {
        c.id.clone()
    }
}

pub(crate) fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Markdown for pull requests and `$GITHUB_STEP_SUMMARY`.
pub fn markdown(h: &RunHeader, failures: &[CaseResult]) -> String {
    let icon = if h.verdict.exit_code == 0 {
        "✅"
    } else {
        "❌"
    };
    let mut out = format!(
        "### {icon} promptctl eval `{}`: {}\n\n{}\n\n",
        h.suite.name,
        h.verdict.status.to_uppercase(),
        md_escape(&h.verdict.reason)
    );
    out.push_str("| | |\n|---|---|\n");
    for (k, v) in summary_rows(h) {
        out.push_str(&format!("| {} | {} |\n", md_escape(&k), md_escape(&v)));
    }
    out.push_str("\n| gate | threshold | actual | verdict |\n|---|---|---|---|\n");
    for g in &h.gates {
        let note = if g.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", md_escape(&g.note))
        };
        out.push_str(&format!(
            "| `{}` | {} {} | {} | {}{} |\n",
            g.gate,
            g.op,
            g.threshold,
            actual(g),
            if g.passed { "pass" } else { "**FAIL**" },
            note
        ));
    }
    if !failures.is_empty() {
        out.push_str("\n| failing case | why |\n|---|---|\n");
        for c in failures {
            out.push_str(&format!(
                "| `{}` | {} |\n",
                case_label(c),
                md_escape(&failure_reason(c))
            ));
        }
    }
    out.push_str(&format!(
        "\nRun `{}` · prompt digest `{}`\n",
        h.run_id,
        crate::version::manifest::short(&h.prompt.digest)
    ));
    out
}

/// JUnit XML: one test case per eval case, failures and errors as such.
pub fn junit(h: &RunHeader, cases: &[CaseResult]) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("promptctl");
    let mut suite = TestSuite::new(format!("{} ({})", h.suite.name, h.prompt.name));
    for c in cases {
        let status = match (&c.error, c.passed) {
            (Some(e), _) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(e.clone());
                s
            }
            (None, true) => TestCaseStatus::success(),
            (None, false) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(failure_reason(c));
                s
            }
        };
        let mut tc = TestCase::new(case_label(c), status);
        if let Some(l) = c.latency_ms {
            tc.set_time(std::time::Duration::from_secs_f64(l / 1000.0));
        }
        if let Some(seg) = &c.segment {
            tc.set_classname(seg.clone());
        }
        suite.add_test_case(tc);
    }
    for g in &h.gates {
        let status = if g.passed {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(format!(
                "{} {} {} (actual {}) {}",
                g.gate,
                g.op,
                g.threshold,
                actual(g),
                g.note
            ));
            s
        };
        let mut tc = TestCase::new(format!("gate {}", g.gate), status);
        tc.set_classname("gates");
        suite.add_test_case(tc);
    }
    report.add_test_suite(suite);
    report.to_string().unwrap_or_default()
}
