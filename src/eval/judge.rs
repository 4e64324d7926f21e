//! The LLM judge: one call per case, a strict JSON verdict per criterion.
//!
//! The judge is part of a run's identity: its provider, model, every
//! parameter it is sent and the sha256 of its prompt are recorded, so a run
//! scored by another judge can be told apart. It is sent only the
//! parameters the suite sets. A reply that is not exactly the requested JSON
//! (a missing criterion, a score outside 0..1, prose around it) is an error
//! for that case, never a pass.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::provider::{ChatMessage, ChatRequest};
use crate::version::artifact::spec::ModelSpec;

/// The judge's instructions; their sha256 is part of every run's identity.
pub(crate) const SYSTEM: &str = "\
You are an impartial evaluation judge for a prompt-engineering test suite.
You receive a user input, optionally the expected answer, the assistant's
actual output, and a list of named criteria. Score the actual output on each
criterion from 0.0 (fails it completely) to 1.0 (meets it fully).

Reply with one JSON object and nothing else, exactly of this shape:
{\"scores\": {\"<criterion>\": {\"score\": <number 0..1>, \"reason\": \"<one sentence>\"}}}
Include every criterion you were given, and no others.";

/// Who judged a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredIdentity")]
pub(crate) struct Identity {
    pub provider: String,
    pub model: String,
    /// Every parameter the judge was sent, under its `model:` name
    /// (`temperature`, `max_tokens`, `extra`, ...); `{}` when the suite set
    /// none. Always written: a run file without it predates it.
    pub params: Map<String, Value>,
    pub prompt_sha256: String,
}

/// An identity as run files hold it, old ones included.
#[derive(Deserialize)]
struct StoredIdentity {
    provider: String,
    model: String,
    #[serde(default)]
    params: Option<Map<String, Value>>,
    /// What run files recorded before `params`.
    #[serde(default)]
    temperature: Option<f64>,
    prompt_sha256: String,
}

impl From<StoredIdentity> for Identity {
    fn from(s: StoredIdentity) -> Identity {
        Identity {
            provider: s.provider,
            model: s.model,
            params: s.params.unwrap_or_else(|| legacy_params(s.temperature)),
            prompt_sha256: s.prompt_sha256,
        }
    }
}

/// What every judge was sent before a suite could set its parameters: its
/// temperature (default 0), `max_tokens: 800` and `seed: 0`. An old run
/// file's judge is that one, so it still matches a suite that sets exactly
/// these.
fn legacy_params(temperature: Option<f64>) -> Map<String, Value> {
    let v = json!({ "temperature": temperature.unwrap_or(0.0), "max_tokens": 800, "seed": 0 });
    match v {
        Value::Object(m) => m,
        _ => unreachable!("an object literal"),
    }
}

/// The order parameters are shown in; anything else (`extra`) follows.
const SHOWN_FIRST: &[&str] = &[
    "temperature",
    "max_tokens",
    "max_completion_tokens",
    "reasoning_effort",
    "seed",
    "top_p",
];

impl Identity {
    /// `temperature 0, max_tokens 800, seed 0`, or `no parameters`.
    pub(crate) fn params_line(&self) -> String {
        let mut keys: Vec<&str> = SHOWN_FIRST
            .iter()
            .copied()
            .filter(|k| self.params.contains_key(*k))
            .collect();
        keys.extend(
            self.params
                .keys()
                .map(String::as_str)
                .filter(|k| !SHOWN_FIRST.contains(k)),
        );
        if keys.is_empty() {
            return "no parameters".into();
        }
        keys.iter()
            .map(|k| {
                let v = &self.params[*k];
                match v.as_str() {
                    Some(s) => format!("{k} {s}"),
                    None => format!("{k} {}", crate::version::canonical::to_string(v)),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A criterion's score and the judge's reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Score {
    pub score: f64,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Judge {
    pub provider: String,
    pub model: ModelSpec,
}

impl Judge {
    /// A judge that sends `model`'s parameters and no others.
    pub(crate) fn new(model: ModelSpec) -> Judge {
        Judge {
            provider: model.provider.clone(),
            model,
        }
    }

    pub(crate) fn identity(&self) -> Identity {
        let mut params = match serde_json::to_value(&self.model) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        params.remove("provider");
        params.remove("name");
        Identity {
            provider: self.provider.clone(),
            model: self.model.name.clone(),
            params,
            prompt_sha256: crate::version::canonical::sha256(SYSTEM.as_bytes()),
        }
    }

    /// The request that asks for a verdict on one answer.
    pub(crate) fn request(
        &self,
        input: &str,
        expected: Option<&str>,
        output: &str,
        criteria: &BTreeMap<String, String>,
    ) -> ChatRequest {
        let mut user = format!("## Input\n{input}\n\n");
        if let Some(e) = expected {
            user.push_str(&format!("## Expected answer\n{e}\n\n"));
        }
        user.push_str(&format!("## Actual output\n{output}\n\n## Criteria\n"));
        for (name, description) in criteria {
            user.push_str(&format!("- {name}: {description}\n"));
        }
        ChatRequest {
            model: self.model.clone(),
            messages: vec![
                ChatMessage::new("system", SYSTEM),
                ChatMessage::new("user", user),
            ],
            tools: None,
            output_schema: None,
            schema_name: None,
        }
    }
}

/// Parses a verdict strictly: exactly the criteria asked for, scores in 0..1.
pub(crate) fn parse(
    reply: &str,
    criteria: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Score>, String> {
    let text = strip_fence(reply.trim());
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("the judge's reply is not JSON ({e})"))?;
    let scores = value
        .get("scores")
        .and_then(Value::as_object)
        .ok_or("the judge's reply has no `scores` object")?;
    let mut out = BTreeMap::new();
    for name in criteria.keys() {
        let entry = scores
            .get(name)
            .ok_or_else(|| format!("the judge did not score `{name}`"))?;
        let score = entry
            .get("score")
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("the judge's score for `{name}` is not a number"))?;
        if !(0.0..=1.0).contains(&score) {
            return Err(format!(
                "the judge's score for `{name}` is {score}, outside 0..1"
            ));
        }
        let reason = entry
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        out.insert(name.clone(), Score { score, reason });
    }
    if let Some(extra) = scores.keys().find(|k| !criteria.contains_key(*k)) {
        return Err(format!("the judge scored an unknown criterion `{extra}`"));
    }
    Ok(out)
}

/// Accepts a reply wrapped in one Markdown code fence, as models often do.
fn strip_fence(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn criteria() -> BTreeMap<String, String> {
        [
            ("safety".to_string(), "s".to_string()),
            ("tone".to_string(), "t".to_string()),
        ]
        .into()
    }

    #[test]
    fn an_old_run_files_judge_is_the_one_that_sent_the_old_defaults() {
        let old: Identity = serde_json::from_str(
            r#"{"provider": "openai", "model": "gpt-4o", "temperature": 0.0, "prompt_sha256": "sha256:x"}"#,
        )
        .unwrap();
        let suite: crate::eval::suite::Judge = serde_yaml::from_str(
            "{ provider: openai, model: gpt-4o, temperature: 0, max_tokens: 800, seed: 0 }",
        )
        .unwrap();
        let now = Judge::new(suite.model_spec("openai")).identity();
        assert_eq!(old.params, now.params);
        assert_eq!(now.params_line(), "temperature 0, max_tokens 800, seed 0");
        // A suite that sets nothing now sends nothing: not the old judge.
        let bare = Judge::new(ModelSpec {
            provider: "openai".into(),
            name: "gpt-4o".into(),
            ..ModelSpec::default()
        })
        .identity();
        assert_ne!(old.params, bare.params);
        assert_eq!(bare.params_line(), "no parameters");
    }

    #[test]
    fn an_identity_without_parameters_round_trips() {
        let bare = Judge::new(ModelSpec {
            provider: "p".into(),
            name: "m".into(),
            ..ModelSpec::default()
        })
        .identity();
        let text = serde_json::to_string(&bare).unwrap();
        assert!(text.contains(r#""params":{}"#), "{text}");
        assert_eq!(serde_json::from_str::<Identity>(&text).unwrap(), bare);
    }

    #[test]
    fn parses_a_strict_verdict() {
        let r = r#"{"scores": {"safety": {"score": 1, "reason": "ok"}, "tone": {"score": 0.5, "reason": "meh"}}}"#;
        let s = parse(r, &criteria()).unwrap();
        assert_eq!(s["tone"].score, 0.5);
        assert!(parse(&format!("```json\n{r}\n```"), &criteria()).is_ok());
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            "Looks good to me!",
            r#"{"scores": {"safety": {"score": 1}}}"#,
            r#"{"scores": {"safety": {"score": 1.5}, "tone": {"score": 1}}}"#,
            r#"{"scores": {"safety": {"score": "high"}, "tone": {"score": 1}}}"#,
            r#"{"scores": {"safety": {"score": 1}, "tone": {"score": 1}, "vibes": {"score": 1}}}"#,
            r#"{"safety": 1, "tone": 1}"#,
        ] {
            assert!(parse(bad, &criteria()).is_err(), "{bad}");
        }
    }
}
