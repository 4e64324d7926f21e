//! Detectors for credentials that must never be committed in a prompt.
//!
//! Shapes are those the providers issue (OpenAI `sk-…`, `sk-proj-…`,
//! Anthropic `sk-ant-…`), plus bearer tokens, AWS access keys, GitHub and
//! Slack tokens and PEM private keys. Matches are reported by kind and line,
//! never by value.

use std::sync::LazyLock;

use regex::Regex;

/// Each credential kind and the pattern that finds it; `redact` reuses them.
pub static DETECTORS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        ("anthropic_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
        (
            "openai_key",
            r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
        ),
        ("bearer_token", r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{20,}"),
        ("aws_access_key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        ("github_token", r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
        ("slack_token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
        ("private_key", r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
    ]
    .into_iter()
    .map(|(kind, re)| (kind, Regex::new(re).expect("secret patterns compile")))
    .collect()
});

/// A credential found in text: its kind and 1-based line, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub kind: &'static str,
    pub line: usize,
}

/// Every credential-shaped string in `text`, one per kind and line.
pub fn scan(text: &str) -> Vec<Found> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for (kind, re) in DETECTORS.iter() {
            if re.is_match(line) {
                // An Anthropic key also looks like an OpenAI one; report it once.
                if *kind == "openai_key"
                    && out
                        .iter()
                        .any(|f: &Found| f.line == i + 1 && f.kind == "anthropic_key")
                {
                    continue;
                }
                out.push(Found { kind, line: i + 1 });
            }
        }
    }
    out
}

/// `text` with every credential-shaped string replaced by `(redacted)`.
pub fn mask(text: &str) -> String {
    let mut out = text.to_string();
    for (_, re) in DETECTORS.iter() {
        if re.is_match(&out) {
            out = re.replace_all(&out, "(redacted)").into_owned();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_by_kind_and_line() {
        let text = "ok\nkey: sk-proj-abcdefghijklmnopqrstuvwx\nAuthorization: Bearer abcdefghijklmnopqrstuvwxyz012\nx sk-ant-api03-abcdefghijklmnopqrstuv";
        let found = scan(text);
        assert_eq!(
            found,
            vec![
                Found {
                    kind: "openai_key",
                    line: 2
                },
                Found {
                    kind: "bearer_token",
                    line: 3
                },
                Found {
                    kind: "anthropic_key",
                    line: 4
                },
            ]
        );
    }

    #[test]
    fn ignores_ordinary_text() {
        assert!(scan("Ask the user for the task-id; skip small talk.").is_empty());
    }
}
