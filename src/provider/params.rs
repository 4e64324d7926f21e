//! What the two wire protocols share about parameters: the schema the API is
//! asked to enforce, `extra` passed through, and which effort levels the
//! Anthropic API takes.
//!
//! The design decision to know: a parameter is sent only when the prompt
//! (or the suite's judge) sets it. Nothing here supplies a default, so a
//! model that refuses `temperature` or `seed` is never sent one behind the
//! user's back; the one exception is Anthropic's required `max_tokens`,
//! which `anthropic.rs` fills in.

use serde_json::{Map, Value};

use super::chat::ChatRequest;
use crate::version::artifact::spec::{ModelSpec, ReasoningEffort, ResponseFormat};
use crate::workspace::config::ProviderType;

/// The schema's name when a request carries none.
const DEFAULT_SCHEMA_NAME: &str = "output";

/// A name the OpenAI API takes for a JSON Schema (`^[a-zA-Z0-9_-]{1,64}$`):
/// every other character becomes `_`, and it is cut at 64.
pub(crate) fn schema_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if clean.is_empty() {
        DEFAULT_SCHEMA_NAME.to_string()
    } else {
        clean
    }
}

/// The schema the API is asked to enforce on the answer, and its name: only
/// when the model's `response_format` is `json_schema` and the request
/// carries a schema (the artifact loader refuses the one without the other).
pub(crate) fn enforced_schema(req: &ChatRequest) -> Option<(String, &Value)> {
    match (req.model.response_format, &req.output_schema) {
        (Some(ResponseFormat::JsonSchema), Some(schema)) => Some((
            schema_name(req.schema_name.as_deref().unwrap_or(DEFAULT_SCHEMA_NAME)),
            schema,
        )),
        _ => None,
    }
}

/// Copies `extra` into the body. The loader has refused every key that
/// promptctl sets itself, so nothing is overwritten.
pub(crate) fn put_extra(m: &ModelSpec, body: &mut Map<String, Value>) {
    for (k, v) in &m.extra {
        body.entry(k.clone()).or_insert_with(|| v.clone());
    }
}

/// The effort levels Anthropic's `output_config.effort` takes.
pub(crate) const ANTHROPIC_EFFORTS: &[ReasoningEffort] = &[
    ReasoningEffort::Low,
    ReasoningEffort::Medium,
    ReasoningEffort::High,
    ReasoningEffort::Xhigh,
    ReasoningEffort::Max,
];

/// Whether a provider of `kind` can be sent `m` as written; the reason when
/// not, phrased after the field's name (`reasoning_effort: …`). Checked
/// before any request, so a run never starts with a request that cannot work.
pub(crate) fn check(kind: ProviderType, m: &ModelSpec) -> Result<(), String> {
    if kind == ProviderType::Anthropic
        && let Some(e) = m.reasoning_effort
        && !ANTHROPIC_EFFORTS.contains(&e)
    {
        let levels: Vec<&str> = ANTHROPIC_EFFORTS.iter().map(|e| e.as_str()).collect();
        return Err(format!(
            "reasoning_effort: `{}` is not an effort level the Anthropic API takes ({})",
            e.as_str(),
            levels.join(", ")
        ));
    }
    if kind == ProviderType::Gemini && m.reasoning_effort.is_some() {
        return Err(
            "reasoning_effort: the Gemini API has no such parameter; set \
             `extra: { generationConfig: { thinkingConfig: … } }` instead"
                .to_string(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_fit_the_openai_pattern() {
        for (name, want) in [
            ("support_bot", "support_bot"),
            ("ticket-classifier", "ticket-classifier"),
            ("a.b c/d", "a_b_c_d"),
            ("", "output"),
            ("é", "_"),
        ] {
            assert_eq!(schema_name(name), want, "{name:?}");
        }
        let long = "x".repeat(100);
        assert_eq!(schema_name(&long).len(), 64);
    }

    #[test]
    fn anthropic_refuses_openai_only_efforts() {
        let with = |e| ModelSpec {
            reasoning_effort: Some(e),
            ..ModelSpec::default()
        };
        assert!(check(ProviderType::Anthropic, &with(ReasoningEffort::Minimal)).is_err());
        assert!(check(ProviderType::Anthropic, &with(ReasoningEffort::None)).is_err());
        assert!(check(ProviderType::Anthropic, &with(ReasoningEffort::Max)).is_ok());
        assert!(check(ProviderType::Openai, &with(ReasoningEffort::Minimal)).is_ok());
        assert!(check(ProviderType::Gemini, &with(ReasoningEffort::High)).is_err());
        assert!(check(ProviderType::Gemini, &ModelSpec::default()).is_ok());
    }
}
