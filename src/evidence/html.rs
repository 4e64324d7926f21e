//! `evidence.html`: one self-contained page (inline CSS and SVG; no script,
//! font, image or link to anything outside the file) that reads on screen
//! and prints to PDF. maud escapes every interpolated value.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::charts;
use super::markdown::{change, model_line, value};
use super::pack::{Pack, RunSection, Step, StepStatus};
use crate::eval::report::{actual, money, num, pct};
use crate::version::manifest::short;

const CSS: &str = include_str!("evidence.css");

pub(super) fn render(p: &Pack) -> String {
    let pr = &p.prompt;
    let (status, headline) = p.headline();
    let title = format!("Evidence pack: {} {}", pr.name, pr.version);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content=(p.generator);
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header.top {
                    div.kicker { "promptctl evidence pack" }
                    h1 { (pr.name) " " span.version { (pr.version) } }
                    @if let Some(d) = &pr.description { p.lede { (d) } }
                    div class=(format!("verdict {}", status.as_str())) {
                        span.badge { (badge(status)) }
                        span { (headline) }
                    }
                    dl.meta {
                        div { dt { "digest" } dd { code { (pr.digest) } } }
                        div { dt { "released" } dd { (pr.created_at) } }
                        div { dt { "model" } dd { (model_line(&pr.model)) } }
                        div { dt { "generated" } dd { (p.generated_at) " · " (p.generator) } }
                    }
                }
                (timeline(&p.timeline))
                nav.toc {
                    a href="#runs" { "Eval runs" } " · "
                    @if !p.gate.is_empty() { a href="#gate" { "Promote gate" } " · " }
                    a href="#runbook" { "Runbook" } " · "
                    a href="#prompt" { "Prompt" } " · "
                    a href="#deploys" { "Deploy history" } " · "
                    a href="#redaction" { "Redaction" } " · "
                    a href="#changelog" { "Changelog" } " · "
                    a href="#integrity" { "Integrity" }
                }
                section #runs {
                    h2 { "Eval runs" }
                    @if p.runs.is_empty() {
                        p.empty { "No eval run has evaluated this digest. Run "
                            code { "promptctl eval SUITE --prompt " (pr.name) "@" (pr.version) }
                            " and rebuild the pack." }
                    }
                    @for r in &p.runs { (run(r)) }
                }
                @if !p.gate.is_empty() {
                    section #gate {
                        h2 { "Promote gate" }
                        p { "What " code { "promptctl promote" } " decides for each environment: each gating suite's newest run of this digest, and whether it counts." }
                        table {
                            thead { tr { th { "environment" } th { "suite" } th { "run it relies on" } th { "why not" } } }
                            tbody {
                                @for d in &p.gate {
                                    @if d.suites.is_empty() {
                                        tr { td { (d.env) } td { "–" } td { span.tag.fail { "none" } } td { (d.suites_from) } }
                                    }
                                    @for s in &d.suites {
                                        tr {
                                            td { (d.env) }
                                            td { code { (s.suite) } }
                                            td {
                                                @match &s.run {
                                                    Some(r) => { span.tag.pass { "counts" } " " code { (r) } }
                                                    None => { span.tag.fail { "none" } }
                                                }
                                            }
                                            td { (s.refused.as_deref().unwrap_or("")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                section #runbook {
                    h2 { "Runbook" }
                    div.cols {
                        div {
                            h3 { "Escalation" }
                            @if p.runbook.escalation.is_empty() {
                                p.empty { "No owners are declared in prompt.yaml (" code { "owners:" } ")." }
                            } @else {
                                ol.ladder {
                                    @for (role, contact) in &p.runbook.escalation {
                                        li { strong { (role) } " " span { (contact) } }
                                    }
                                }
                            }
                        }
                        div {
                            h3 { "Environments" }
                            table {
                                thead { tr { th { "environment" } th { "requires" } th { "live now" } th { "canary" } } }
                                tbody {
                                    @for e in &p.runbook.environments {
                                        tr {
                                            td { (e.env) }
                                            td { (e.requires.as_deref().unwrap_or("–")) }
                                            td { @if e.active.as_deref() == Some(pr.version.as_str()) { strong { (pr.version) " (this)" } } @else { (e.active.as_deref().unwrap_or("–")) } }
                                            td { (e.canary.as_deref().unwrap_or("–")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    h3 { "Promote" }
                    pre.cmd { (p.runbook.promote.join("\n")) }
                    h3 { "Roll back" }
                    p.note { "Needs no network, no API key and no eval: it reads only releases.yaml and the target version's manifest." }
                    pre.cmd { (p.runbook.rollback.join("\n")) }
                    h3 { "Verify" }
                    pre.cmd { (p.runbook.verify.join("\n")) }
                }
                section #prompt {
                    h2 { "Prompt" }
                    @for m in &pr.messages {
                        h3 { (m.role) " " span.muted { "(" (m.source) ")" } }
                        pre.text { (m.text) }
                    }
                    @if let Some(vars) = pr.variables.as_object().filter(|v| !v.is_empty()) {
                        h3 { "Variables" }
                        table {
                            thead { tr { th { "variable" } th { "type" } th { "required" } th { "pii" } th { "constraints" } } }
                            tbody {
                                @for (k, v) in vars {
                                    tr {
                                        td { code { (k) } }
                                        td { (v["type"].as_str().unwrap_or("?")) }
                                        td { (yes(v["required"].as_bool())) }
                                        td { (yes(v["pii"].as_bool())) }
                                        td { (constraints(v)) }
                                    }
                                }
                            }
                        }
                    }
                    h3 { "Output schema" }
                    @match &pr.output_schema {
                        Some(s) => pre.text { (serde_json::to_string_pretty(s).expect("a schema serialises")) },
                        None => p.empty { "None: the prompt answers in free text." },
                    }
                    h3 { "Refusal policy" }
                    @if pr.limitations.is_empty() {
                        p.empty { "No limitations are declared in prompt.yaml." }
                    } @else {
                        p.note { "What the prompt must refuse or hand over (" code { "limitations" } "):" }
                        ul { @for l in &pr.limitations { li { (l) } } }
                    }
                    @if let Some(t) = &pr.tools { h3 { "Tools" } p { code { (t) } } }
                }
                section #deploys {
                    h2 { "Deploy history" }
                    @if p.deploys.is_empty() {
                        p.empty { "Not deployed anywhere yet." }
                    } @else {
                        table {
                            thead { tr { th { "when" } th { "environment" } th { "action" } th { "version" } th { "from" } th { "by" } th { "reason" } } }
                            tbody {
                                @for e in &p.deploys {
                                    tr {
                                        td.nowrap { (e.at) }
                                        td { (e.env) }
                                        td {
                                            (serde_json::to_value(e.action).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default())
                                            @if let Some(pc) = e.percent { " " (pc) "%" }
                                            @if e.skip_gate { " " span.tag.fail { "gate skipped" } }
                                        }
                                        td { (e.version) }
                                        td { (e.from.as_ref().map_or("–".into(), |v| v.to_string())) }
                                        td { (e.by) }
                                        td { (e.reason.as_deref().unwrap_or("")) }
                                    }
                                }
                            }
                        }
                    }
                }
                section #redaction {
                    h2 { "Redaction and retention" }
                    p { "Everything in this pack went through the workspace's redactor; matches read " code { "[REDACTED:<kind>]" } "." }
                    table.facts {
                        tbody {
                            tr { th { "built-in detectors" } td { (list(&p.redaction.builtins)) } }
                            tr { th { "named patterns" } td {
                                @if p.redaction.patterns.is_empty() { "none" }
                                @for (k, v) in &p.redaction.patterns { code { (k) } " " span.muted { (v) } br; }
                            } }
                            tr { th { "variables marked pii" } td { (list(&p.redaction.pii_variables)) } }
                            tr { th { "inputs sent to the provider" } td { (p.redaction.send_to_provider) } }
                            tr { th { "retention" } td { (p.redaction.retention) } }
                        }
                    }
                }
                section #changelog {
                    h2 { "Changelog" }
                    table {
                        thead { tr { th { "version" } th { "released" } th { "change" } } }
                        tbody {
                            @for c in &pr.changelog {
                                tr { td { (c.version) } td.nowrap { (c.created_at) } td { (c.changelog) } }
                            }
                        }
                    }
                }
                section #integrity {
                    h2 { "Integrity" }
                    p {
                        @if pr.verification.ok { span.tag.pass { "verified" } } @else { span.tag.fail { "not verified" } }
                        " " (pr.verification.checked) "."
                    }
                    table.hashes {
                        thead { tr { th { "file" } th { "sha256" } } }
                        tbody {
                            @for (f, h) in &pr.files { tr { td { code { (f) } } td { code { (h) } } } }
                            tr { td { "prompt hash" } td { code { (pr.prompt_hash) } } }
                            tr { td { "config hash" } td { code { (pr.config_hash) } } }
                            tr { td { "digest" } td { code { (pr.digest) } } }
                            tr { td { "seal" } td { code { (pr.seal) } } }
                        }
                    }
                    p.note { "This pack's own files are listed in SHA256SUMS beside it. "
                        code { "promptctl verify" } " checks them, and that the digest above is the released version's." }
                }
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}

fn badge(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Passed => "✓ PASSED",
        StepStatus::Failed => "✗ FAILED",
        StepStatus::Pending => "… PENDING",
        StepStatus::Skipped => "– SKIPPED",
    }
}

fn mark(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Passed => "✓",
        StepStatus::Failed => "✗",
        StepStatus::Pending => "…",
        StepStatus::Skipped => "–",
    }
}

fn timeline(steps: &[Step]) -> Markup {
    html! {
        ol.timeline aria-label="Gate timeline" {
            @for s in steps {
                li class=(s.status.as_str()) {
                    span.dot aria-hidden="true" { (mark(s.status)) }
                    span.step { (s.step) }
                    span.state { (s.status.as_str()) @if let Some(at) = &s.at { " · " (at.get(..10).unwrap_or(at)) } }
                    span.detail { (s.detail) }
                }
            }
        }
    }
}

fn run(r: &RunSection) -> Markup {
    let h = &r.header;
    let s = &h.summary;
    let passed = h.verdict.exit_code == 0;
    let latency_gate = h
        .gates
        .iter()
        .find(|g| g.gate == "latency_p95_ms")
        .map(|g| g.threshold);
    html! {
        article.run {
            h3 {
                "Suite " code { (h.suite.name) } " "
                span class=(if passed { "tag pass" } else { "tag fail" }) { (h.verdict.status.to_uppercase()) }
            }
            p { (h.verdict.reason) }
            table.facts {
                tbody {
                    tr { th { "run" } td { code { (h.run_id) } " · " (h.started_at) " → " (h.finished_at) } }
                    tr { th { "suite" } td { code { (h.suite.path) } " " span.muted { (short(&h.suite.sha256)) } } }
                    tr { th { "dataset" } td { code { (h.suite.dataset_sha256) } } }
                    tr { th { "provider" } td { (h.provider.name) " (" (h.provider.kind) "), model " (h.provider.model) } }
                    tr { th { "judge" } td {
                        @match &h.judge {
                            Some(j) => { (j.model) " via " (j.provider) ", " (j.params_line()) ", judge prompt " code { (short(&j.prompt_sha256)) } },
                            None => "none",
                        }
                    } }
                    tr { th { "cases" } td { (s.cases) " (" (s.passed) " passed, " (s.failed) " failed, " (s.errors) " errors)" } }
                    tr { th { "pass rate" } td {
                        (pct(s.pass_rate))
                        @if let Some([lo, hi]) = s.pass_rate_ci95 { span.muted { (format!(" (95% CI {:.1}–{:.1}%)", lo * 100.0, hi * 100.0)) } }
                    } }
                    tr { th { "latency p50 / p95" } td { (num(s.latency_p50_ms, " ms")) " / " (num(s.latency_p95_ms, " ms")) } }
                    tr { th { "tokens in / out" } td { (s.tokens_in) " / " (s.tokens_out) } }
                    tr { th { "cost" } td { (money(s.cost_usd)) } }
                }
            }
            h4 { "Gates" }
            table.gates {
                thead { tr { th { "gate" } th.num { "threshold" } th.num { "actual" } th { "verdict" } } }
                tbody {
                    @for g in &h.gates {
                        tr class=(if g.passed { "pass" } else { "fail" }) {
                            td { code { (g.gate) } }
                            td.num { (match g.op.as_str() { ">=" => "≥", "<=" => "≤", other => other }) " " (g.threshold) }
                            td.num { (actual(g)) }
                            td {
                                @if g.passed { span.tag.pass { "✓ pass" } } @else { span.tag.fail { "✗ FAIL" } }
                                @if !g.note.is_empty() { " " span.muted { (g.note) } }
                            }
                        }
                    }
                }
            }
            @if let Some(rb) = &r.rubric {
                h4 { "Rubric" }
                table {
                    thead { tr { th { "criterion" } th { "what the judge scores" } th.num { "mean" } th.num { "scored" } } }
                    tbody {
                        @for (c, text) in &rb.criteria {
                            @let got = s.criteria.get(c);
                            tr {
                                td { (c) }
                                td { (text) }
                                td.num { (got.and_then(|g| g.mean).map_or("n/a".into(), |m| format!("{m:.3}"))) }
                                td.num { (got.map_or(0, |g| g.n)) }
                            }
                        }
                    }
                }
                @if !rb.same_suite_file {
                    p.note { "The rubric text is the suite file's as it is now; the file has changed since this run." }
                }
            }
            @if !s.criteria.is_empty() {
                figure {
                    figcaption { "Judge score per criterion (mean, 0–1); the black tick is the gate's minimum" }
                    (charts::criteria(&s.criteria, &h.gates))
                }
            }
            @if !s.segments.is_empty() {
                figure {
                    figcaption { "Pass rate by segment with 95% Wilson intervals; a solid tick is the segment's own gate (red: below it), a dashed one the run's overall pass-rate gate, for reference" }
                    (charts::segments(&s.segments, &h.gates))
                }
            }
            @if let Some(l) = &r.latency {
                figure {
                    figcaption { (format!("Latency of {} evaluated case{}: min {:.0} ms, p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms", l.n, super::pack::plural(l.n), l.min_ms, l.p50_ms, l.p95_ms, l.max_ms)) }
                    (charts::latency(l, latency_gate))
                }
            }
            @if !r.failures.is_empty() {
                h4 { "Failing cases" }
                table {
                    thead { tr { th { "case" } th { "segment" } th { "why" } } }
                    tbody {
                        @for f in &r.failures {
                            tr { td { code { (f.id) } } td { (f.segment.as_deref().unwrap_or("–")) } td { (f.why) } }
                        }
                    }
                }
            }
            h4 { "Against the parent version" }
            @match &r.parent {
                None => p.empty { "No run of the parent version for this suite to compare with." },
                Some(c) => {
                    p {
                        "Parent " strong { (c.parent_version) } " (run " code { (c.parent_run) } "): "
                        (c.paired) " paired cases, " (c.improved) " improved, " (c.regressed) " regressed "
                        span.muted { (format!("(McNemar exact p = {:.3})", c.p_value)) }
                    }
                    table {
                        thead { tr { th { "metric" } th.num { "parent" } th.num { "this" } th { "change" } } }
                        tbody {
                            @for d in &c.deltas {
                                @let ch = change(d);
                                tr {
                                    td { (d.metric) }
                                    td.num { (value(d.parent)) }
                                    td.num { (value(d.this)) }
                                    td class=(if ch.ends_with("(worse)") { "worse" } else if ch.ends_with("(better)") { "better" } else { "" }) { (ch) }
                                }
                            }
                        }
                    }
                    @if !c.regressions.is_empty() {
                        h4 { "Top regressions" }
                        table {
                            thead { tr { th { "case" } th { "segment" } th { "why it fails now" } } }
                            tbody {
                                @for f in &c.regressions {
                                    tr { td { code { (f.id) } } td { (f.segment.as_deref().unwrap_or("–")) } td { (f.why) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn yes(b: Option<bool>) -> &'static str {
    if b == Some(true) { "yes" } else { "no" }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// The constraints of a variable, in a few words.
fn constraints(v: &serde_json::Value) -> String {
    let mut out = Vec::new();
    for (key, word) in [
        ("max_length", "max length"),
        ("min_length", "min length"),
        ("minimum", "min"),
        ("maximum", "max"),
        ("pattern", "pattern"),
        ("default", "default"),
        ("enum", "one of"),
        ("description", ""),
    ] {
        if let Some(x) = v.get(key).filter(|x| !x.is_null()) {
            let shown = match x {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push(if word.is_empty() {
                shown
            } else {
                format!("{word} {shown}")
            });
        }
    }
    out.join("; ")
}
