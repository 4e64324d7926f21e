//! `lint`: problems a release would not catch, as a list of findings.
//!
//! A finding is an error (exit 1) or a warning (exit 0 unless `--strict`); an
//! artifact that does not load at all is `invalid` (exit 2, as for every
//! command). Secrets are reported by kind and line, never by value.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::eval::suite::Suite;
use crate::version::artifact::spec::Role;
use crate::version::artifact::tokens::Count;
use crate::version::artifact::{Artifact, PROMPT_FILE};
use crate::workspace::Workspace;
use crate::workspace::name::Name;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Severity {
    Warning,
    Error,
    /// The input does not load; exit 2.
    Invalid,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Finding {
    pub prompt: String,
    pub severity: Severity,
    pub code: &'static str,
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Report {
    pub findings: Vec<Finding>,
    /// Tokens of each prompt's system text, by prompt.
    pub tokens: BTreeMap<String, TokenUse>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct TokenUse {
    #[serde(flatten)]
    pub count: Count,
    pub budget: Option<u32>,
}

/// The five sections every system text should have, with the words that
/// identify each one's heading.
pub(crate) const SECTIONS: [(&str, &[&str]); 5] = [
    ("identity & role", &["identity", "role"]),
    ("behaviour", &["behaviour", "behavior"]),
    ("capabilities & limits", &["capabilit", "limit"]),
    ("output format", &["output", "format"]),
    ("safety & escalation", &["safety", "escalat"]),
];

/// Shorter eval inputs are too generic to count as leaked few-shot examples.
const MIN_LEAK_CHARS: usize = 24;

pub(crate) fn lint(ws: &Workspace, names: &[Name]) -> Report {
    let mut report = Report::default();
    let mut suites = Vec::new();
    for suite in Suite::all(ws) {
        match suite {
            Ok(s) => suites.push(s),
            Err(e) => report.findings.push(Finding {
                prompt: String::new(),
                severity: Severity::Invalid,
                code: "invalid-suite",
                file: String::new(),
                line: None,
                message: e.message().to_string(),
            }),
        }
    }
    for name in names {
        lint_prompt(ws, name, &suites, &mut report);
    }
    report
}

fn lint_prompt(ws: &Workspace, name: &Name, suites: &[Suite], report: &mut Report) {
    let label = ws.prompt_label(name);
    let mut push = |severity, code, file: String, line, message: String| {
        report.findings.push(Finding {
            prompt: name.to_string(),
            severity,
            code,
            file,
            line,
            message,
        })
    };
    let artifact = match Artifact::load(&ws.prompt_dir(name), &label, name) {
        Ok(a) => a,
        Err(e) => {
            push(
                Severity::Invalid,
                "invalid",
                format!("{label}/{PROMPT_FILE}"),
                None,
                e.message().to_string(),
            );
            return;
        }
    };
    let prompt_file = format!("{label}/{PROMPT_FILE}");
    if let Err(e) = artifact.check_provider(&ws.config) {
        push(
            Severity::Error,
            "unknown-provider",
            prompt_file.clone(),
            None,
            e.message().to_string(),
        );
    }

    let used: Vec<&str> = artifact
        .messages
        .iter()
        .flat_map(|m| m.template.variables())
        .collect();
    for var in artifact.spec.variables.keys() {
        if !used.contains(&var.as_str()) {
            push(
                Severity::Warning,
                "unused-variable",
                prompt_file.clone(),
                crate::workspace::yaml::line_at(&artifact.source, &["variables", var]),
                format!("variable `{var}` is declared but no message uses it"),
            );
        }
    }

    for (rel, found) in crate::privacy::secrets::scan_files(&artifact.files) {
        push(
            Severity::Error,
            "secret",
            format!("{label}/{rel}"),
            Some(found.line),
            format!(
                "a credential ({}) is in the prompt's files; remove it and rotate it",
                found.kind
            ),
        );
    }

    let system: Vec<_> = artifact
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .collect();
    if system.is_empty() {
        push(
            Severity::Warning,
            "no-system-message",
            prompt_file.clone(),
            None,
            "there is no system message".into(),
        );
    } else {
        let headings: Vec<String> = system
            .iter()
            .flat_map(|m| m.text.lines())
            .filter(|l| l.trim_start().starts_with('#'))
            .map(str::to_lowercase)
            .collect();
        let file = system[0]
            .file
            .as_ref()
            .map_or(prompt_file.clone(), |f| format!("{label}/{f}"));
        let missing: Vec<&str> = SECTIONS
            .iter()
            .filter(|(_, words)| !headings.iter().any(|h| words.iter().any(|w| h.contains(w))))
            .map(|(section, _)| *section)
            .collect();
        if !missing.is_empty() {
            push(
                Severity::Warning,
                "missing-section",
                file.clone(),
                None,
                format!(
                    "the system text has no Markdown heading for: {}",
                    missing
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        // Count the system text as sent, with defaults filled in.
        let text: String = system
            .iter()
            .map(|m| {
                m.template
                    .render(|n| {
                        artifact
                            .spec
                            .variables
                            .get(n)
                            .and_then(|v| v.default.as_ref())
                            .and_then(|d| d.as_str())
                    })
                    .unwrap_or_else(|_| m.template.source_form())
            })
            .collect::<Vec<_>>()
            .join("\n");
        let count = crate::version::artifact::tokens::count(&artifact.spec.model.name, &text);
        let budget = artifact.spec.max_prompt_tokens;
        if let Some(max) = budget.filter(|m| count.tokens > *m as usize) {
            push(
                Severity::Error,
                "token-budget",
                file.clone(),
                None,
                format!(
                    "the system text is {} tokens, over max_prompt_tokens {max}",
                    count.tokens
                ),
            );
        }
        report
            .tokens
            .insert(name.to_string(), TokenUse { count, budget });
    }

    for suite in suites
        .iter()
        .filter(|s| s.spec.prompt.split('@').next() == Some(name.as_str()))
    {
        let cases = match suite.cases() {
            Ok(c) => c,
            Err(e) => {
                push(
                    Severity::Invalid,
                    "invalid-suite",
                    suite.label.clone(),
                    None,
                    e.message().to_string(),
                );
                continue;
            }
        };
        for case in cases {
            let case = match case {
                Ok(c) => c,
                Err(e) => {
                    push(
                        Severity::Invalid,
                        "invalid-suite",
                        suite.label.clone(),
                        None,
                        e.message().to_string(),
                    );
                    break;
                }
            };
            let inputs = case
                .vars
                .values()
                .chain(case.expected.iter())
                .filter_map(|v| v.as_str());
            for input in inputs {
                let needle = input.trim();
                if needle.chars().count() < MIN_LEAK_CHARS {
                    continue;
                }
                for m in &artifact.messages {
                    if let Some(pos) = m.text.find(needle) {
                        let line = m.text[..pos].matches('\n').count() + 1;
                        let file = m
                            .file
                            .as_ref()
                            .map_or(prompt_file.clone(), |f| format!("{label}/{f}"));
                        push(
                            Severity::Warning,
                            "eval-leakage",
                            file,
                            Some(line),
                            format!(
                                "an input of eval case `{}` ({}) appears verbatim in the prompt: the eval would measure recall, not skill",
                                case.id, suite.label
                            ),
                        );
                    }
                }
            }
        }
    }
}
