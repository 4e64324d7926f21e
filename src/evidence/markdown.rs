//! `evidence.md`: the pack as Markdown, for pull requests and plain-text review.

use std::fmt::Write;

use super::pack::{Pack, RunSection, StepStatus};
use crate::eval::report::{actual, md_escape, pct, summary_rows};
use crate::version::manifest::short;

pub(super) fn render(p: &Pack) -> String {
    let mut o = String::new();
    let pr = &p.prompt;
    let (status, headline) = p.headline();
    let _ = writeln!(o, "# Evidence pack: {} {}\n", pr.name, pr.version);
    let _ = writeln!(
        o,
        "> {} **{}**: {}\n>\n> digest `{}` · generated {} by {}\n",
        icon(status),
        status.as_str().to_uppercase(),
        md_escape(&headline),
        pr.digest,
        p.generated_at,
        p.generator
    );

    o.push_str("## Gate timeline\n\n| step | status | when | detail |\n|---|---|---|---|\n");
    for s in &p.timeline {
        let _ = writeln!(
            o,
            "| {} | {} {} | {} | {} |",
            s.step,
            icon(s.status),
            s.status.as_str(),
            s.at.as_deref().unwrap_or("–"),
            md_escape(&s.detail)
        );
    }

    if !p.gate.is_empty() {
        o.push_str("\n## Promote gate\n\n| environment | suite | run it relies on | why not |\n|---|---|---|---|\n");
        for d in &p.gate {
            if d.suites.is_empty() {
                let _ = writeln!(o, "| `{}` | – | – | {} |", d.env, md_escape(&d.suites_from));
            }
            for s in &d.suites {
                let _ = writeln!(
                    o,
                    "| `{}` | `{}` | {} | {} |",
                    d.env,
                    s.suite,
                    s.run.as_ref().map_or("–".to_string(), |r| format!("`{r}`")),
                    md_escape(s.refused.as_deref().unwrap_or(""))
                );
            }
        }
    }

    o.push_str("\n## Release\n\n| | |\n|---|---|\n");
    let mut facts = vec![
        ("prompt", format!("`{}`", pr.name)),
        ("version", pr.version.clone()),
        (
            "parent",
            pr.parent
                .clone()
                .unwrap_or_else(|| "none (first release)".into()),
        ),
        ("released", pr.created_at.clone()),
        (
            "git commit",
            pr.git_commit
                .clone()
                .map_or("unknown".into(), |c| format!("`{c}`")),
        ),
        ("digest", format!("`{}`", pr.digest)),
        ("model", model_line(&pr.model)),
        (
            "verification",
            format!(
                "{} {}",
                if pr.verification.ok { "✅" } else { "❌" },
                pr.verification.checked
            ),
        ),
    ];
    if let Some(d) = &pr.description {
        facts.insert(1, ("description", d.clone()));
    }
    for (k, v) in facts {
        let _ = writeln!(o, "| {k} | {} |", md_escape(&v));
    }

    o.push_str("\n## Runbook\n\n");
    if p.runbook.escalation.is_empty() {
        o.push_str("No owners are declared in `prompt.yaml` (`owners:`).\n\n");
    } else {
        o.push_str("Escalation, in order:\n\n");
        for (i, (role, contact)) in p.runbook.escalation.iter().enumerate() {
            let _ = writeln!(
                o,
                "{}. **{}**: {}",
                i + 1,
                md_escape(role),
                md_escape(contact)
            );
        }
        o.push('\n');
    }
    if !p.runbook.environments.is_empty() {
        o.push_str("| environment | requires | live now | canary |\n|---|---|---|---|\n");
        for e in &p.runbook.environments {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                e.env,
                e.requires.as_deref().unwrap_or("–"),
                e.active.as_deref().unwrap_or("–"),
                e.canary.as_deref().unwrap_or("–")
            );
        }
        o.push('\n');
    }
    for (title, cmds) in [
        ("Promote", &p.runbook.promote),
        (
            "Roll back (no network, no key, no eval needed)",
            &p.runbook.rollback,
        ),
        ("Verify", &p.runbook.verify),
    ] {
        let _ = writeln!(o, "{title}:\n\n```sh");
        for c in cmds.iter() {
            let _ = writeln!(o, "{c}");
        }
        o.push_str("```\n\n");
    }

    o.push_str("## Eval runs\n\n");
    if p.runs.is_empty() {
        let _ = writeln!(
            o,
            "No eval run has evaluated this digest. Run `promptctl eval SUITE --prompt {}@{}` and rebuild the pack.\n",
            pr.name, pr.version
        );
    }
    for r in &p.runs {
        run(&mut o, r);
    }

    o.push_str("## Prompt\n\n");
    for m in &pr.messages {
        let _ = writeln!(o, "**{}** ({}):\n", m.role, md_escape(&m.source));
        fenced(&mut o, "text", &m.text);
    }
    if let Some(vars) = pr.variables.as_object().filter(|v| !v.is_empty()) {
        o.push_str("Variables:\n\n| variable | type | required | pii | description |\n|---|---|---|---|---|\n");
        for (k, v) in vars {
            let _ = writeln!(
                o,
                "| `{k}` | {} | {} | {} | {} |",
                v["type"].as_str().unwrap_or("?"),
                if v["required"].as_bool() == Some(true) {
                    "yes"
                } else {
                    "no"
                },
                if v["pii"].as_bool() == Some(true) {
                    "yes"
                } else {
                    "no"
                },
                md_escape(v["description"].as_str().unwrap_or(""))
            );
        }
        o.push('\n');
    }
    match &pr.output_schema {
        Some(s) => {
            o.push_str("Output schema:\n\n");
            fenced(
                &mut o,
                "json",
                &serde_json::to_string_pretty(s).expect("a schema serialises"),
            );
        }
        None => o.push_str("Output schema: none (free text).\n\n"),
    }
    if pr.limitations.is_empty() {
        o.push_str("Refusal policy: no `limitations` are declared.\n\n");
    } else {
        o.push_str("Refusal policy (`limitations`: what the prompt must refuse or hand over):\n\n");
        for l in &pr.limitations {
            let _ = writeln!(o, "- {}", md_escape(l));
        }
        o.push('\n');
    }
    if let Some(t) = &pr.tools {
        let _ = writeln!(o, "Tools: `{}`\n", md_escape(t));
    }

    o.push_str("## Deploy history\n\n");
    if p.deploys.is_empty() {
        o.push_str("Not deployed anywhere yet.\n\n");
    } else {
        o.push_str("| when | environment | action | version | from | by | reason |\n|---|---|---|---|---|---|---|\n");
        for e in &p.deploys {
            let action = match (e.action, e.percent) {
                (crate::rollout::deploy::Action::Canary, Some(pc)) => format!("canary {pc}%"),
                (a, _) => serde_json::to_value(a)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            };
            let _ = writeln!(
                o,
                "| {} | {} | {}{} | {} | {} | {} | {} |",
                e.at,
                e.env,
                action,
                if e.skip_gate { " (gate skipped)" } else { "" },
                e.version,
                e.from.as_ref().map_or("–".into(), |v| v.to_string()),
                md_escape(&e.by),
                md_escape(e.reason.as_deref().unwrap_or(""))
            );
        }
        o.push('\n');
    }

    let red = &p.redaction;
    o.push_str("## Redaction and retention\n\n");
    let _ = writeln!(
        o,
        "Everything in this pack went through the workspace's redactor; matches read `[REDACTED:<kind>]`.\n"
    );
    let _ = writeln!(o, "- built-in detectors: {}", list(&red.builtins));
    let patterns: Vec<String> = red
        .patterns
        .iter()
        .map(|(k, v)| format!("`{k}` (`{}`)", v.replace('`', "'")))
        .collect();
    let _ = writeln!(
        o,
        "- named patterns: {}",
        if patterns.is_empty() {
            "none".into()
        } else {
            patterns.join(", ")
        }
    );
    let _ = writeln!(o, "- variables marked `pii`: {}", list(&red.pii_variables));
    let _ = writeln!(
        o,
        "- case inputs sent to the provider: {}",
        red.send_to_provider
    );
    let _ = writeln!(o, "- retention: {}\n", md_escape(&red.retention));

    o.push_str("## Changelog\n\n");
    for c in &pr.changelog {
        let _ = writeln!(
            o,
            "- **{}** ({}): {}",
            c.version,
            c.created_at,
            md_escape(&c.changelog)
        );
    }

    o.push_str("\n## Integrity\n\n| file | sha256 |\n|---|---|\n");
    for (f, h) in &pr.files {
        let _ = writeln!(o, "| `{f}` | `{h}` |");
    }
    let _ = writeln!(
        o,
        "\nprompt hash `{}` · config hash `{}` · seal `{}`\n\nThe files of this pack are listed in `SHA256SUMS`; `promptctl verify` checks them and that the digest above is the released version's.",
        pr.prompt_hash, pr.config_hash, pr.seal
    );
    o
}

fn run(o: &mut String, r: &RunSection) {
    let h = &r.header;
    let s = &h.summary;
    let _ = writeln!(
        o,
        "### Suite `{}`: {} {}\n\n{}\n",
        h.suite.name,
        icon(if h.verdict.exit_code == 0 {
            StepStatus::Passed
        } else {
            StepStatus::Failed
        }),
        h.verdict.status.to_uppercase(),
        md_escape(&h.verdict.reason)
    );
    o.push_str("| | |\n|---|---|\n");
    let mut facts = vec![
        (
            "run".to_string(),
            format!("`{}` ({} → {})", h.run_id, h.started_at, h.finished_at),
        ),
        (
            "suite".into(),
            format!("`{}` `{}`", h.suite.path, short(&h.suite.sha256)),
        ),
        ("dataset".into(), format!("`{}`", h.suite.dataset_sha256)),
    ];
    facts.extend(summary_rows(h));
    for (k, v) in facts {
        let _ = writeln!(o, "| {} | {} |", md_escape(&k), md_escape(&v));
    }
    o.push_str("\n| gate | threshold | actual | verdict |\n|---|---|---|---|\n");
    for g in &h.gates {
        let _ = writeln!(
            o,
            "| `{}` | {} {} | {} | {}{} |",
            g.gate,
            g.op,
            g.threshold,
            actual(g),
            if g.passed { "✅ pass" } else { "❌ **FAIL**" },
            if g.note.is_empty() {
                String::new()
            } else {
                format!(" ({})", md_escape(&g.note))
            }
        );
    }

    if !s.criteria.is_empty() {
        o.push_str("\n| criterion | what the judge scores | mean score | scored cases |\n|---|---|---|---|\n");
        for (c, v) in &s.criteria {
            let text = r
                .rubric
                .as_ref()
                .and_then(|rb| rb.criteria.get(c))
                .map_or(String::new(), |t| md_escape(t));
            let _ = writeln!(
                o,
                "| {c} | {text} | {} | {} |",
                v.mean.map_or("n/a".into(), |m| format!("{m:.3}")),
                v.n
            );
        }
        if r.rubric.as_ref().is_some_and(|rb| !rb.same_suite_file) {
            o.push_str("\nThe rubric text is the suite file's as it is now; the file has changed since this run.\n");
        }
    }
    if !s.segments.is_empty() {
        o.push_str("\n| segment | cases | pass rate | 95% CI |");
        let crit: Vec<&String> = s.criteria.keys().collect();
        for c in &crit {
            let _ = write!(o, " {c} |");
        }
        o.push_str("\n|---|---|---|---|");
        o.push_str(&"---|".repeat(crit.len()));
        o.push('\n');
        for (name, seg) in &s.segments {
            let _ = write!(
                o,
                "| {name} | {} | {} | {} |",
                seg.cases,
                pct(seg.pass_rate),
                seg.pass_rate_ci95.map_or("n/a".into(), |[lo, hi]| format!(
                    "{:.1}–{:.1}%",
                    lo * 100.0,
                    hi * 100.0
                ))
            );
            for c in &crit {
                let m = seg.criteria.get(*c).and_then(|x| x.mean);
                let _ = write!(o, " {} |", m.map_or("n/a".into(), |m| format!("{m:.3}")));
            }
            o.push('\n');
        }
    }
    if let Some(l) = &r.latency {
        let _ = writeln!(
            o,
            "\nLatency over {} evaluated case{}: min {:.0} ms, p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms.",
            l.n,
            super::pack::plural(l.n),
            l.min_ms,
            l.p50_ms,
            l.p95_ms,
            l.max_ms
        );
    }
    cases(o, "failing case", "why", &r.failures);
    match &r.parent {
        Some(c) => {
            let _ = writeln!(
                o,
                "\nAgainst the parent version {} (run `{}`), {} paired cases: {} improved, {} regressed (McNemar p = {:.3}).\n",
                c.parent_version, c.parent_run, c.paired, c.improved, c.regressed, c.p_value
            );
            o.push_str("| metric | parent | this | change |\n|---|---|---|---|\n");
            for d in &c.deltas {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} |",
                    d.metric,
                    value(d.parent),
                    value(d.this),
                    change(d)
                );
            }
            cases(o, "top regression", "why it fails now", &c.regressions);
        }
        None => o.push_str("\nNo run of the parent version for this suite to compare with.\n"),
    }
    o.push('\n');
}

pub(super) fn value(x: Option<f64>) -> String {
    match x {
        None => "n/a".into(),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 1.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.4}"),
    }
}

/// `+12.0%` with a word saying whether that is better or worse.
pub(super) fn change(d: &super::pack::Delta) -> String {
    match (d.parent, d.this) {
        (Some(a), Some(b)) if a == b => "no change".into(),
        (Some(a), Some(b)) => {
            let better = (b > a) == d.higher_is_better;
            let diff = if a != 0.0 {
                format!("{:+.1}%", (b - a) / a.abs() * 100.0)
            } else {
                format!("{:+}", value(Some(b - a)))
            };
            format!("{diff} ({})", if better { "better" } else { "worse" })
        }
        _ => "n/a".into(),
    }
}

fn icon(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Passed => "✅",
        StepStatus::Failed => "❌",
        StepStatus::Pending => "⏳",
        StepStatus::Skipped => "➖",
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items
            .iter()
            .map(|i| format!("`{i}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub(super) fn model_line(model: &serde_json::Value) -> String {
    let get = |k: &str| model.get(k).filter(|v| !v.is_null());
    let mut s = format!(
        "{} via {}",
        get("name").and_then(|v| v.as_str()).unwrap_or("?"),
        get("provider").and_then(|v| v.as_str()).unwrap_or("?")
    );
    for k in [
        "temperature",
        "max_tokens",
        "max_completion_tokens",
        "reasoning_effort",
        "seed",
        "top_p",
        "response_format",
    ] {
        match get(k) {
            Some(serde_json::Value::String(v)) => {
                let _ = write!(s, ", {k} {v}");
            }
            Some(v) => {
                let _ = write!(s, ", {k} {v}");
            }
            None => {}
        }
    }
    s
}

/// A fenced block whose fence is longer than any backtick run in `text`.
fn fenced(o: &mut String, lang: &str, text: &str) {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(
        o,
        "{fence}{lang}\n{}\n{fence}\n",
        text.trim_end_matches('\n')
    );
}

/// A table of cases with why; nothing when there are none.
fn cases(o: &mut String, what: &str, why: &str, notes: &[super::pack::CaseNote]) {
    if notes.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n| {what} | segment | {why} |\n|---|---|---|");
    for f in notes {
        let _ = writeln!(
            o,
            "| `{}` | {} | {} |",
            f.id,
            f.segment.as_deref().unwrap_or("–"),
            md_escape(&f.why)
        );
    }
}
