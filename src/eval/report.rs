//! Reports of a run, or of a comparison of runs: the rows of the terminal
//! tables, Markdown (PRs, `$GITHUB_STEP_SUMMARY`) and JUnit XML (CI test
//! tabs). Pure functions from a run to text.

use super::compare::{self, CaseOutcome, Comparison};
use super::gates::GateResult;
use super::results::{CaseResult, RunHeader};
use super::summary::Summary;

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
                || g.gate.ends_with("tool_call_validity")
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
    if let Some(t) = &s.tool_calls {
        rows.push((
            "tool calls".into(),
            format!(
                "{} ({} schema-conformant, {})",
                t.total,
                t.valid,
                pct(t.validity)
            ),
        ));
    }
    rows.push(("cost".into(), money(s.cost_usd)));
    if let Some(j) = &h.judge {
        rows.push((
            "judge".into(),
            format!(
                "{} via {}, {} (prompt {})",
                j.model,
                j.provider,
                j.params_line(),
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
    for (label, n) in [("truncated", s.truncated), ("refused", s.refused)] {
        if n > 0 {
            rows.push((
                label.into(),
                format!(
                    "{n} of {} ({:.1}%)",
                    s.cases,
                    n as f64 * 100.0 / s.cases as f64
                ),
            ));
        }
    }
    rows
}

pub(crate) fn failure_reason(c: &CaseResult) -> String {
    if let Some(e) = &c.error {
        return format!("error: {e}");
    }
    let mut reasons: Vec<String> = c
        .stopped
        .iter()
        .cloned()
        .chain(
            c.assertions
                .iter()
                .filter(|a| !a.passed)
                .map(|a| format!("{}: {}", super::assertions::type_name(a.kind), a.reason)),
        )
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

/// "and N more failing cases", when the report lists only the first ones.
pub(crate) fn more_failing(h: &RunHeader, listed: &[CaseResult]) -> Option<String> {
    let failing = h.summary.failed + h.summary.errors;
    let more = failing.saturating_sub(listed.len());
    (more > 0).then(|| {
        format!(
            "and {more} more failing case{} (all of them are in the run file)",
            if more == 1 { "" } else { "s" }
        )
    })
}

pub(crate) fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Markdown for pull requests and `$GITHUB_STEP_SUMMARY`.
pub(crate) fn markdown(h: &RunHeader, failures: &[CaseResult]) -> String {
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
        if let Some(more) = more_failing(h, failures) {
            out.push_str(&format!("\n{more}\n"));
        }
    }
    out.push_str(&format!(
        "\nRun `{}` · prompt digest `{}`\n",
        h.run_id,
        crate::version::manifest::short(&h.prompt.digest)
    ));
    out
}

/// How many disagreeing cases a comparison's report lists (JSON lists all).
pub(crate) const TOP_DISAGREEMENTS: usize = 20;

/// Rows of a comparison: (what, one value per target), in target order.
pub(crate) fn compare_rows(c: &Comparison) -> Vec<(String, Vec<String>)> {
    let each = |f: &dyn Fn(&compare::Target) -> String| c.targets.iter().map(f).collect();
    let mut rows: Vec<(String, Vec<String>)> = vec![
        ("run".into(), each(&|t| t.run_id.clone())),
        (
            "cases".into(),
            each(&|t| {
                let s = &t.summary;
                format!(
                    "{} ({} passed, {} failed, {} errors, {} cached)",
                    s.cases, s.passed, s.failed, s.errors, s.cached
                )
            }),
        ),
        (
            "pass rate".into(),
            each(&|t| {
                let s = &t.summary;
                match s.pass_rate_ci95 {
                    Some([lo, hi]) => format!(
                        "{} (95% CI {:.1}–{:.1}%)",
                        pct(s.pass_rate),
                        lo * 100.0,
                        hi * 100.0
                    ),
                    None => pct(s.pass_rate),
                }
            }),
        ),
    ];
    let criteria: std::collections::BTreeSet<&String> = c
        .targets
        .iter()
        .flat_map(|t| t.summary.criteria.keys())
        .collect();
    for name in criteria {
        rows.push((
            format!("judge: {name}"),
            each(&|t| match t.summary.criteria.get(name) {
                Some(v) => v
                    .mean
                    .map_or("n/a".into(), |m| format!("{m:.3} (n={})", v.n)),
                None => "n/a".into(),
            }),
        ));
    }
    rows.push((
        "latency p50 / p95".into(),
        each(&|t| {
            format!(
                "{} / {}",
                num(t.summary.latency_p50_ms, " ms"),
                num(t.summary.latency_p95_ms, " ms")
            )
        }),
    ));
    rows.push((
        "tokens in / out".into(),
        each(&|t| format!("{} / {}", t.summary.tokens_in, t.summary.tokens_out)),
    ));
    rows.push(("cost".into(), each(&|t| money(t.summary.cost_usd))));
    let truncated = |s: &Summary| s.truncated;
    let refused = |s: &Summary| s.refused;
    for (label, n) in [
        ("truncated", &truncated as &dyn Fn(&Summary) -> usize),
        ("refused", &refused),
    ] {
        if c.targets.iter().any(|t| n(&t.summary) > 0) {
            rows.push((label.into(), each(&|t| n(&t.summary).to_string())));
        }
    }
    if c.targets.iter().any(|t| !t.summary.flaky.is_empty()) {
        rows.push(("flaky".into(), each(&|t| t.summary.flaky.join(", "))));
    }
    rows
}

/// A target's verdict in a word or two: `pass`, `fail: pass_rate, …`,
/// `error`, `interrupted`, `inconclusive`.
pub(crate) fn target_verdict(t: &compare::Target) -> String {
    let failed: Vec<&str> = t
        .gates
        .iter()
        .filter(|g| !g.passed)
        .map(|g| g.gate.as_str())
        .collect();
    match t.verdict.status.as_str() {
        "fail" if !failed.is_empty() => format!("fail: {}", failed.join(", ")),
        status => status.to_string(),
    }
}

/// "A vs B: …" for each pair of targets.
pub(crate) fn pair_lines(c: &Comparison, quote: &dyn Fn(&str) -> String) -> Vec<String> {
    c.pairs
        .iter()
        .map(|p| {
            format!(
                "{} vs {}: of {} cases, {} pass only on {}, {} only on {} (McNemar p = {:.3})",
                quote(&p.a),
                quote(&p.b),
                p.paired,
                p.only_a,
                quote(&p.a),
                p.only_b,
                quote(&p.b),
                p.p_value
            )
        })
        .collect()
}

/// "N of M cases disagree" (or that none do).
pub(crate) fn disagreement_line(c: &Comparison) -> String {
    match c.disagreements.len() {
        0 => format!("the targets agree on every case ({})", c.cases),
        n => format!(
            "{n} of {} case{} pass on some targets and not on others",
            c.cases,
            if c.cases == 1 { "" } else { "s" }
        ),
    }
}

/// "and N more disagreeing cases", when the report lists only the first.
pub(crate) fn more_disagreeing(c: &Comparison) -> Option<String> {
    let more = c.disagreements.len().saturating_sub(TOP_DISAGREEMENTS);
    (more > 0).then(|| {
        format!(
            "and {more} more disagreeing case{} (all of them are in `--format json`)",
            if more == 1 { "" } else { "s" }
        )
    })
}

/// Markdown of a comparison, for pull requests and `$GITHUB_STEP_SUMMARY`.
pub(crate) fn compare_markdown(c: &Comparison) -> String {
    let icon = if c.verdict.exit_code == 0 {
        "✅"
    } else {
        "❌"
    };
    let mut out = format!(
        "### {icon} promptctl eval `{}`: {} targets side by side: {}\n\n{}\n\n",
        c.suite,
        c.targets.len(),
        c.verdict.status.to_uppercase(),
        md_escape(&c.verdict.reason)
    );
    let head: Vec<String> = c
        .targets
        .iter()
        .map(|t| format!("`{}`", t.target))
        .collect();
    out.push_str(&format!(
        "| | {} |\n|---|{}\n",
        head.join(" | "),
        "---|".repeat(head.len())
    ));
    for (k, vs) in compare_rows(c) {
        let vs: Vec<String> = vs.iter().map(|v| md_escape(v)).collect();
        out.push_str(&format!("| {} | {} |\n", md_escape(&k), vs.join(" | ")));
    }
    let verdicts: Vec<String> = c
        .targets
        .iter()
        .map(|t| {
            let v = md_escape(&target_verdict(t));
            if t.verdict.exit_code == 0 {
                v
            } else {
                format!("**{v}**")
            }
        })
        .collect();
    out.push_str(&format!("| verdict | {} |\n", verdicts.join(" | ")));
    out.push_str(&format!("\n{}\n", disagreement_line(c)));
    if !c.disagreements.is_empty() {
        out.push_str(&format!(
            "\n| case | {} |\n|---|{}\n",
            head.join(" | "),
            "---|".repeat(head.len())
        ));
        for d in c.disagreements.iter().take(TOP_DISAGREEMENTS) {
            let cells: Vec<String> = c
                .targets
                .iter()
                .map(|t| match d.outcome(&t.target) {
                    CaseOutcome::Pass => "pass".to_string(),
                    other => format!("**{}**", other.word()),
                })
                .collect();
            out.push_str(&format!(
                "| `{}` | {} |\n",
                md_escape(&d.id),
                cells.join(" | ")
            ));
        }
        if let Some(more) = more_disagreeing(c) {
            out.push_str(&format!("\n{more}\n"));
        }
    }
    let lines = pair_lines(c, &|t| format!("`{t}`"));
    if !lines.is_empty() {
        out.push('\n');
        for l in lines {
            out.push_str(&format!("- {}\n", md_escape(&l)));
        }
    }
    out.push_str(&format!(
        "\nPrompt `{}`{} · digest `{}`\n",
        c.prompt.name,
        c.prompt
            .version
            .as_ref()
            .map_or(" (draft)".into(), |v| format!("@{v}")),
        crate::version::manifest::short(&c.prompt.digest)
    ));
    out
}

/// JUnit XML for CI test tabs: one `<testsuite>` in `<testsuites>`; each
/// eval case (each sample, under `--repeat`) is a testcase whose classname
/// is its segment (or the suite's name), and each gate a testcase of
/// classname `gates`.
///
/// It validates against the Jenkins xUnit plugin's `junit-10.xsd` and the
/// stricter Ant schema (`tests/fixtures/`), so it is written by hand:
/// quick-junit puts `skipped` on `<testsuites>`, which `junit-10.xsd`
/// rejects, and a zone on timestamps, which Ant's rejects. Nothing is read
/// from the clock or the machine: the timestamp is the run's start (UTC,
/// without the `Z` Ant forbids), times are the recorded latencies and
/// duration, and the hostname is `localhost` (a run does not record where
/// it ran; Ant's schema asks for `localhost` then).
pub(crate) fn junit(h: &RunHeader, cases: &[CaseResult]) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    x.push_str(&testsuite(h, cases, 0, None));
    x.push_str("</testsuites>\n");
    x
}

/// JUnit XML for a comparison: one `<testsuite>` per target (`id` its
/// position, its name ending `on provider:model`), each as [`junit`] writes
/// one run's.
pub(crate) fn junit_targets(runs: &[(&str, RunHeader, Vec<CaseResult>)]) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for (i, (label, h, cases)) in runs.iter().enumerate() {
        x.push_str(&testsuite(h, cases, i, Some(label)));
    }
    x.push_str("</testsuites>\n");
    x
}

/// One run's `<testsuite>` element, `id` its position in `<testsuites>`.
fn testsuite(h: &RunHeader, cases: &[CaseResult], id: usize, target: Option<&str>) -> String {
    let errors = cases.iter().filter(|c| c.error.is_some()).count();
    let failures = cases
        .iter()
        .filter(|c| c.error.is_none() && !c.passed)
        .count()
        + h.gates.iter().filter(|g| !g.passed).count();
    let tests = (cases.len() + h.gates.len()).to_string();
    let prompt = match &h.prompt.version {
        Some(v) => format!("{}@{v}", h.prompt.name),
        None => format!("{} (draft)", h.prompt.name),
    };
    let name = match target {
        Some(t) => format!("{} ({}) on {t}", h.suite.name, h.prompt.name),
        None => format!("{} ({})", h.suite.name, h.prompt.name),
    };
    let mut x = open(
        1,
        "testsuite",
        &[
            ("name", &name),
            ("package", &h.suite.name),
            ("id", &id.to_string()),
            ("tests", &tests),
            ("failures", &failures.to_string()),
            ("errors", &errors.to_string()),
            ("skipped", "0"),
            ("time", &seconds(Some(h.duration_ms))),
            ("timestamp", h.started_at.trim_end_matches('Z')),
            ("hostname", "localhost"),
        ],
    );
    x.push_str("        <properties>\n");
    let properties = [
        ("run_id", h.run_id.as_str()),
        ("suite", &h.suite.path),
        ("prompt", &prompt),
        ("digest", &h.prompt.digest),
        ("provider", &h.provider.name),
        ("model", &h.provider.model),
        ("verdict", &h.verdict.status),
    ];
    for (name, value) in properties {
        x.push_str(&element(
            3,
            "property",
            &[("name", name), ("value", value)],
            None,
        ));
    }
    x.push_str("        </properties>\n");
    for c in cases {
        let classname = c.segment.as_deref().unwrap_or(&h.suite.name);
        let attrs = [
            ("name", case_label(c)),
            ("classname", classname.to_string()),
            ("time", seconds(c.latency_ms)),
        ];
        let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if let Some(e) = &c.error {
            x.push_str(&open(2, "testcase", &attrs));
            x.push_str(&element(
                3,
                "error",
                &[("type", "error"), ("message", e)],
                Some(e),
            ));
            x.push_str("        </testcase>\n");
        } else if !c.passed {
            let failed: Vec<_> = c.assertions.iter().filter(|a| !a.passed).collect();
            let kind = failed.first().map_or("failure".to_string(), |a| {
                super::assertions::type_name(a.kind)
            });
            let detail: Vec<String> = failed
                .iter()
                .map(|a| format!("{}: {}", super::assertions::type_name(a.kind), a.reason))
                .collect();
            x.push_str(&open(2, "testcase", &attrs));
            x.push_str(&element(
                3,
                "failure",
                &[("type", &kind), ("message", &failure_reason(c))],
                Some(&detail.join("\n")),
            ));
            x.push_str("        </testcase>\n");
        } else {
            x.push_str(&element(2, "testcase", &attrs, None));
        }
    }
    for g in &h.gates {
        let name = format!("gate {}", g.gate);
        let attrs = [
            ("name", name.as_str()),
            ("classname", "gates"),
            ("time", "0.000"),
        ];
        if g.passed {
            x.push_str(&element(2, "testcase", &attrs, None));
            continue;
        }
        let message = format!("{} {} {} (actual {})", g.gate, g.op, g.threshold, actual(g));
        let detail = if g.note.is_empty() {
            message.clone()
        } else {
            format!("{message}: {}", g.note)
        };
        x.push_str(&open(2, "testcase", &attrs));
        x.push_str(&element(
            3,
            "failure",
            &[("type", "gate"), ("message", &detail)],
            Some(&detail),
        ));
        x.push_str("        </testcase>\n");
    }
    let verdict = format!(
        "{} (exit {}): {}",
        h.verdict.status.to_uppercase(),
        h.verdict.exit_code,
        h.verdict.reason
    );
    x.push_str(&element(2, "system-out", &[], Some(&verdict)));
    x.push_str(&element(2, "system-err", &[], None));
    x.push_str("    </testsuite>\n");
    x
}

/// Seconds with three decimals (what `junit-10.xsd` allows); 0 when unknown.
fn seconds(ms: Option<f64>) -> String {
    let s = ms.filter(|m| m.is_finite() && *m > 0.0).unwrap_or(0.0) / 1000.0;
    format!("{s:.3}")
}

/// `<name a="v"…>` and a newline, indented by `depth` levels.
fn open(depth: usize, name: &str, attrs: &[(&str, &str)]) -> String {
    let mut out = format!("{:width$}<{name}", "", width = depth * 4);
    for (k, v) in attrs {
        out.push_str(&format!(" {k}=\"{}\"", xml_escape(v, true)));
    }
    out.push_str(">\n");
    out
}

/// A whole element on one line: `<name …/>`, or `<name …>text</name>`.
fn element(depth: usize, name: &str, attrs: &[(&str, &str)], text: Option<&str>) -> String {
    let mut out = open(depth, name, attrs);
    out.truncate(out.len() - 2);
    match text.filter(|t| !t.is_empty()) {
        Some(t) => out.push_str(&format!(">{}</{name}>\n", xml_escape(t, false))),
        None => out.push_str("/>\n"),
    }
    out
}

/// Text made safe for XML 1.0: markup characters escaped, and characters
/// XML cannot carry at all (most C0 controls, U+FFFE, U+FFFF) replaced by
/// U+FFFD. In attributes, tabs and newlines are character references so
/// that a parser keeps them instead of turning them into spaces.
pub(crate) fn xml_escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(ch),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escape_keeps_text_and_drops_what_xml_cannot_carry() {
        let cases = [
            ("plain", "plain", "plain"),
            (
                "a < b & c > d",
                "a &lt; b &amp; c &gt; d",
                "a &lt; b &amp; c &gt; d",
            ),
            ("\"q\" 'a'", "\"q\" 'a'", "&quot;q&quot; 'a'"),
            ("l1\nl2\tx\r", "l1\nl2\tx&#13;", "l1&#10;l2&#9;x&#13;"),
            (
                "bell\u{7} nul\u{0} \u{ffff}",
                "bell\u{fffd} nul\u{fffd} \u{fffd}",
                "bell\u{fffd} nul\u{fffd} \u{fffd}",
            ),
            ("é – ✓", "é – ✓", "é – ✓"),
        ];
        for (raw, text, attribute) in cases {
            assert_eq!(xml_escape(raw, false), text, "{raw:?} as text");
            assert_eq!(xml_escape(raw, true), attribute, "{raw:?} as an attribute");
        }
    }

    #[test]
    fn junit_seconds_have_at_most_three_decimals() {
        assert_eq!(seconds(Some(702.262891)), "0.702");
        assert_eq!(seconds(Some(1_234_567.0)), "1234.567");
        assert_eq!(seconds(None), "0.000");
        assert_eq!(seconds(Some(f64::NAN)), "0.000");
    }
}
