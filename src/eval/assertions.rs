//! Assertions: compiled once per suite, checked against every answer.
//!
//! Compiling up front means a bad regex or a bad `value` is a config error
//! (exit 2) before any call is made, never a silent pass mid-run. `rubric`
//! assertions are answered by the judge (`eval::judge`); everything else is
//! decided here from the output, latency and cost.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub(crate) use super::suite::type_name;
use super::suite::{Assertion, AssertionType};
use super::trajectory::{Declared, ToolCheck};
use crate::error::Error;
use crate::provider::chat::ToolCall;
use crate::version::artifact::tools::Tools;

/// An assertion ready to check.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub kind: AssertionType,
    pub weight: f64,
    pub metric: Option<String>,
    check: Check,
}

#[derive(Debug)]
enum Check {
    Text(String),
    Texts(Vec<String>),
    Pattern(Regex),
    Number(f64),
    Schema(Box<jsonschema::Validator>),
    Json(Value),
    Question(String),
    Tool(ToolCheck),
    None,
}

/// The outcome of one assertion on one answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Outcome {
    #[serde(rename = "type")]
    pub kind: AssertionType,
    pub passed: bool,
    pub weight: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    pub reason: String,
}

/// What an assertion looks at.
pub(crate) struct Observed<'a> {
    pub output: &'a str,
    /// The provider said the model refused (OpenAI `message.refusal`,
    /// Anthropic `stop_reason: refusal`), whatever the text says.
    pub refused: bool,
    pub latency_ms: Option<f64>,
    pub cost_usd: Option<f64>,
    /// Every tool call the model made in the case, in order.
    pub calls: &'a [ToolCall],
    /// The prompt's tools, if it declares any.
    pub declared: Option<&'a Declared>,
}

impl Compiled {
    /// Compiles an assertion on a prompt without tools; `at` names where it
    /// came from, for errors.
    #[cfg(test)]
    pub(crate) fn new(a: &Assertion, at: &str) -> Result<Compiled, Error> {
        Compiled::with_tools(a, at, None)
    }

    /// Compiles an assertion; tool assertions are checked against `tools`.
    pub(crate) fn with_tools(
        a: &Assertion,
        at: &str,
        tools: Option<&Tools>,
    ) -> Result<Compiled, Error> {
        use AssertionType::*;
        let bad = |what: &str| {
            Error::invalid(format!(
                "{at}: `{}` assertion needs {what}",
                type_name(a.kind)
            ))
        };
        let text = || {
            a.value
                .as_ref()
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| bad("a string `value`"))
        };
        let number = || {
            a.value
                .as_ref()
                .and_then(Value::as_f64)
                .filter(|n| n.is_finite())
                .ok_or_else(|| bad("a number `value`"))
        };
        let check =
            match a.kind {
                Contains | NotContains | StartsWith => Check::Text(text()?),
                Equals => match &a.value {
                    Some(Value::String(s)) => Check::Text(s.clone()),
                    Some(v) => Check::Json(v.clone()),
                    None => return Err(bad("a `value`")),
                },
                ContainsAny | ContainsAll => {
                    let items: Option<Vec<String>> = a
                        .value
                        .as_ref()
                        .and_then(Value::as_array)
                        .map(|v| {
                            v.iter()
                                .map(|x| x.as_str().map(str::to_string))
                                .collect::<Option<Vec<_>>>()
                        })
                        .unwrap_or(None);
                    match items {
                        Some(v) if !v.is_empty() => Check::Texts(v),
                        _ => return Err(bad("a non-empty list of strings as `value`")),
                    }
                }
                Regex | NotRegex => {
                    let pattern = text()?;
                    Check::Pattern(regex::Regex::new(&pattern).map_err(|e| {
                        Error::invalid(format!("{at}: invalid regex `{pattern}`: {e}"))
                    })?)
                }
                MaxChars | MaxWords | LatencyMs | CostUsd => Check::Number(number()?),
                JsonSchema => {
                    let schema = a
                        .value
                        .as_ref()
                        .filter(|v| v.is_object())
                        .ok_or_else(|| bad("a JSON Schema object as `value`"))?;
                    Check::Schema(Box::new(compile_schema(schema, at)?))
                }
                Rubric => Check::Question(text()?),
                ToolCalled | ToolNotCalled | ToolArgs | ToolSequence | ValidToolCalls => {
                    Check::Tool(ToolCheck::compile(a.kind, a.value.as_ref(), at, tools)?)
                }
                IsJson | Refusal | NotRefusal => Check::None,
            };
        let weight = a.weight.unwrap_or(1.0);
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(Error::invalid(format!(
                "{at}: `weight` must be a non-negative number"
            )));
        }
        Ok(Compiled {
            kind: a.kind,
            weight,
            metric: a.metric.clone(),
            check,
        })
    }

    /// The prompt's `output_schema`, as an implicit assertion on every answer.
    pub(crate) fn output_schema(schema: &Value, at: &str) -> Result<Compiled, Error> {
        Ok(Compiled {
            kind: AssertionType::JsonSchema,
            weight: 1.0,
            metric: Some("output_schema".into()),
            check: Check::Schema(Box::new(compile_schema(schema, at)?)),
        })
    }

    /// The judge question of a `rubric` assertion.
    pub(crate) fn question(&self) -> Option<&str> {
        match &self.check {
            Check::Question(q) => Some(q),
            _ => None,
        }
    }

    /// Checks everything but `rubric` (which returns `None`: the judge decides).
    pub(crate) fn check(&self, o: &Observed) -> Option<Outcome> {
        use AssertionType::*;
        let out = o.output;
        let refused = o.refused || is_refusal(out);
        let (passed, reason) = match (&self.kind, &self.check) {
            (Rubric, _) => return None,
            (_, Check::Tool(t)) => t.check(o.calls, o.declared),
            (Contains, Check::Text(t)) => (
                out.contains(t.as_str()),
                format!(
                    "{} `{t}`",
                    if out.contains(t.as_str()) {
                        "contains"
                    } else {
                        "does not contain"
                    }
                ),
            ),
            (NotContains, Check::Text(t)) => (
                !out.contains(t.as_str()),
                format!(
                    "{} `{t}`",
                    if out.contains(t.as_str()) {
                        "contains"
                    } else {
                        "does not contain"
                    }
                ),
            ),
            (StartsWith, Check::Text(t)) => (
                out.trim_start().starts_with(t.as_str()),
                format!(
                    "starts with {:?}",
                    out.trim_start()
                        .chars()
                        .take(t.chars().count().max(12))
                        .collect::<String>()
                ),
            ),
            (Equals, Check::Text(t)) => (
                out.trim() == t.trim(),
                if out.trim() == t.trim() {
                    "equal".into()
                } else {
                    format!("expected `{t}`")
                },
            ),
            (Equals, Check::Json(v)) => {
                let same = serde_json::from_str::<Value>(out.trim()).is_ok_and(|x| &x == v);
                (
                    same,
                    if same {
                        "equal JSON".into()
                    } else {
                        format!("expected JSON {v}")
                    },
                )
            }
            (ContainsAny, Check::Texts(ts)) => {
                let hit = ts.iter().find(|t| out.contains(t.as_str()));
                (
                    hit.is_some(),
                    match hit {
                        Some(t) => format!("contains `{t}`"),
                        None => format!("contains none of {ts:?}"),
                    },
                )
            }
            (ContainsAll, Check::Texts(ts)) => {
                let missing: Vec<&String> =
                    ts.iter().filter(|t| !out.contains(t.as_str())).collect();
                (
                    missing.is_empty(),
                    if missing.is_empty() {
                        "contains all".into()
                    } else {
                        format!("missing {missing:?}")
                    },
                )
            }
            (Regex, Check::Pattern(re)) => (
                re.is_match(out),
                format!(
                    "{} /{re}/",
                    if re.is_match(out) {
                        "matches"
                    } else {
                        "does not match"
                    }
                ),
            ),
            (NotRegex, Check::Pattern(re)) => (
                !re.is_match(out),
                format!(
                    "{} /{re}/",
                    if re.is_match(out) {
                        "matches"
                    } else {
                        "does not match"
                    }
                ),
            ),
            (MaxChars, Check::Number(n)) => {
                let c = out.chars().count();
                (c as f64 <= *n, format!("{c} characters (max {n})"))
            }
            (MaxWords, Check::Number(n)) => {
                let w = out.split_whitespace().count();
                (w as f64 <= *n, format!("{w} words (max {n})"))
            }
            (IsJson, _) => match serde_json::from_str::<Value>(out.trim()) {
                Ok(_) => (true, "valid JSON".into()),
                Err(e) => (false, format!("not JSON: {e}")),
            },
            (JsonSchema, Check::Schema(v)) => match serde_json::from_str::<Value>(out.trim()) {
                Err(e) => (false, format!("not JSON: {e}")),
                Ok(json) => {
                    let errors: Vec<String> = v
                        .iter_errors(&json)
                        .take(3)
                        .map(|e| format!("{}: {e}", e.instance_path()))
                        .collect();
                    (
                        errors.is_empty(),
                        if errors.is_empty() {
                            "matches the schema".into()
                        } else {
                            errors.join("; ")
                        },
                    )
                }
            },
            (Refusal, _) => (
                refused,
                if refused {
                    "refused".into()
                } else {
                    "did not refuse".into()
                },
            ),
            (NotRefusal, _) => (
                !refused,
                if refused {
                    "refused".into()
                } else {
                    "did not refuse".into()
                },
            ),
            (LatencyMs, Check::Number(max)) => match o.latency_ms {
                Some(l) if l.is_finite() => (l <= *max, format!("{l:.0} ms (max {max})")),
                _ => (false, "no latency was measured".into()),
            },
            (CostUsd, Check::Number(max)) => match o.cost_usd {
                Some(c) if c.is_finite() => (c <= *max, format!("${c:.6} (max ${max})")),
                _ => (
                    false,
                    "cost unknown: no token counts or no price for the model".into(),
                ),
            },
            _ => (false, "assertion could not be checked".into()),
        };
        Some(Outcome {
            kind: self.kind,
            passed,
            weight: self.weight,
            metric: self.metric.clone(),
            reason,
        })
    }
}

fn compile_schema(schema: &Value, at: &str) -> Result<jsonschema::Validator, Error> {
    jsonschema::validator_for(schema)
        .map_err(|e| Error::invalid(format!("{at}: invalid JSON Schema: {e}")))
}

/// Phrases by which chat models decline. Deliberately conservative: a miss
/// fails a `refusal` assertion, it never passes one wrongly.
static REFUSAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(I can(?:'|’)?t|I cannot|I can not|I won(?:'|’)t|I will not|I(?:'|’)m (?:not able|unable)|I am (?:not able|unable)|I(?:'|’)m sorry,? but|I must decline|not able to (?:help|assist)|can(?:'|’)t (?:help|assist) with)\b",
    )
    .expect("the refusal pattern compiles")
});

pub(crate) fn is_refusal(text: &str) -> bool {
    REFUSAL.is_match(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(kind: &str, value: Value, out: &str) -> bool {
        let a: Assertion = serde_json::from_value(json!({"type": kind, "value": value})).unwrap();
        let c = Compiled::new(&a, "test").unwrap();
        c.check(&Observed {
            output: out,
            refused: false,
            latency_ms: Some(100.0),
            cost_usd: None,
            calls: &[],
            declared: None,
        })
        .unwrap()
        .passed
    }

    #[test]
    fn table() {
        assert!(check("contains", json!("b"), "abc"));
        assert!(!check("not_contains", json!("b"), "abc"));
        assert!(check("contains_any", json!(["x", "c"]), "abc"));
        assert!(!check("contains_all", json!(["a", "x"]), "abc"));
        assert!(check("regex", json!("^a.c$"), "abc"));
        assert!(check("not_regex", json!("z"), "abc"));
        assert!(check("starts_with", json!("ab"), "  abc"));
        assert!(check("equals", json!("abc"), "abc\n"));
        assert!(check("equals", json!({"a": 1}), "{\"a\": 1}"));
        assert!(check("max_chars", json!(3), "abc"));
        assert!(!check("max_words", json!(1), "a b"));
        assert!(check("is_json", Value::Null, "[1]"));
        assert!(!check("is_json", Value::Null, "nope"));
        assert!(check(
            "json_schema",
            json!({"type": "object", "required": ["a"]}),
            "{\"a\": 1}"
        ));
        assert!(!check(
            "json_schema",
            json!({"type": "object", "required": ["a"]}),
            "{}"
        ));
        assert!(check(
            "refusal",
            Value::Null,
            "I'm sorry, but I can't help with that."
        ));
        assert!(check(
            "not_refusal",
            Value::Null,
            "Open Settings > Billing."
        ));
        assert!(check("latency_ms", json!(200), "x"));
        assert!(
            !check("cost_usd", json!(1), "x"),
            "unknown cost never passes"
        );
    }

    #[test]
    fn bad_values_are_config_errors() {
        for (kind, value) in [
            ("regex", json!("(")),
            ("contains", json!(1)),
            ("contains_any", json!([])),
            ("max_words", json!("x")),
            ("json_schema", json!("x")),
        ] {
            let a: Assertion =
                serde_json::from_value(json!({"type": kind, "value": value})).unwrap();
            assert!(Compiled::new(&a, "t").is_err(), "{kind}");
        }
    }
}
