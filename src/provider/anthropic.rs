//! The Anthropic Messages API.

use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::chat::{CallError, ChatRequest, ChatResponse, Provider, StopReason};
use super::http::Connection;
use super::key::ApiKey;
use super::params;
use crate::version::artifact::spec::ModelSpec;

/// The API version promptctl speaks.
pub(crate) const VERSION: &str = "2023-06-01";
/// `max_tokens` is required by the Messages API; used when the prompt sets none.
const DEFAULT_MAX_TOKENS: u32 = 1024;

pub(crate) struct Anthropic {
    conn: Connection,
}

impl Anthropic {
    /// Where the API lives unless `base_url` says otherwise.
    pub(crate) const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
    /// Appended to the base URL.
    pub(crate) const PATH: &str = "/v1/messages";
    /// The model list: a cheap authenticated request, for `doctor`.
    pub(crate) const MODELS_PATH: &str = "/v1/models";

    pub(crate) fn new(conn: Connection) -> Self {
        Anthropic { conn }
    }
}

/// Adds the API version and the key, when there is one.
pub(crate) fn auth(r: reqwest::RequestBuilder, key: Option<&ApiKey>) -> reqwest::RequestBuilder {
    let r = r.header("anthropic-version", VERSION);
    match key {
        Some(k) => r.header("x-api-key", k.expose()),
        None => r,
    }
}

/// The request body: system messages go to `system`, the rest to `messages`.
pub(crate) fn body(req: &ChatRequest) -> Value {
    let m = &req.model;
    let system: Vec<&str> = req
        .messages
        .iter()
        .filter(|x| x.role == "system")
        .map(|x| x.content.as_str())
        .collect();
    let messages: Vec<Value> = req
        .messages
        .iter()
        .filter(|x| x.role != "system")
        .map(|x| json!({ "role": x.role, "content": x.content }))
        .collect();
    let mut body = json!({
        "model": m.name,
        "max_tokens": max_tokens(m),
        "messages": messages,
    });
    let obj = body.as_object_mut().expect("an object");
    if !system.is_empty() {
        obj.insert("system".into(), Value::from(system.join("\n\n")));
    }
    parameters(m, obj);
    if let Some(tools) = &req.tools {
        obj.insert("tools".into(), tools.clone());
    }
    if let Some(config) = output_config(req) {
        obj.insert("output_config".into(), config);
    }
    params::put_extra(m, obj);
    body
}

/// The Messages API requires `max_tokens`: the prompt's, else its
/// `max_completion_tokens` (the same limit under OpenAI's newer name), else
/// [`DEFAULT_MAX_TOKENS`].
fn max_tokens(m: &ModelSpec) -> u32 {
    m.max_tokens
        .or(m.max_completion_tokens)
        .unwrap_or(DEFAULT_MAX_TOKENS)
}

/// The sampling parameters the Messages API takes, when the prompt sets
/// them. `seed` and the penalties have no Anthropic equivalent and are not
/// sent.
fn parameters(m: &ModelSpec, obj: &mut Map<String, Value>) {
    if let Some(t) = m.temperature {
        obj.insert("temperature".into(), Value::from(t));
    }
    if let Some(p) = m.top_p {
        obj.insert("top_p".into(), Value::from(p));
    }
    if let Some(s) = &m.stop {
        obj.insert("stop_sequences".into(), Value::from(s.clone()));
    }
}

/// `output_config`: `effort` from `reasoning_effort`, and `format` (`{type:
/// json_schema, schema}`) when the prompt asks the API to enforce its
/// schema. Both are generally available on the Messages API and need no
/// beta header (platform.claude.com/docs/en/build-with-claude/effort and
/// .../structured-outputs; the beta's `output_format` moved here).
fn output_config(req: &ChatRequest) -> Option<Value> {
    let mut config = Map::new();
    if let Some(e) = req.model.reasoning_effort {
        config.insert("effort".into(), Value::from(e.as_str()));
    }
    if let Some((_, schema)) = params::enforced_schema(req) {
        config.insert(
            "format".into(),
            json!({ "type": "json_schema", "schema": schema }),
        );
    }
    (!config.is_empty()).then_some(Value::Object(config))
}

/// The answer text (or, for a reply with `tool_use` blocks and no text, the
/// blocks as JSON), why the model stopped, and token usage.
pub(crate) fn parse(provider: &str, v: &Value) -> Result<ChatResponse, CallError> {
    let blocks =
        v.get("content")
            .and_then(Value::as_array)
            .ok_or_else(|| CallError::Retryable {
                message: format!("provider `{provider}` sent no `content` array"),
                retry_after: None,
            })?;
    let text: String = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    // TODO(issue 11, item 1): record the `tool_use` blocks as calls.
    let tool_calls = blocks
        .iter()
        .any(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"));
    let content = if text.is_empty() && tool_calls {
        Value::Array(blocks.clone()).to_string()
    } else {
        text
    };
    Ok(ChatResponse {
        content,
        stop_reason: v
            .get("stop_reason")
            .and_then(Value::as_str)
            .map(StopReason::from_anthropic),
        refusal: None,
        tool_calls,
        tokens_in: v.pointer("/usage/input_tokens").and_then(Value::as_u64),
        tokens_out: v.pointer("/usage/output_tokens").and_then(Value::as_u64),
        latency_ms: None,
    })
}

impl Provider for Anthropic {
    fn complete<'a>(
        &'a self,
        req: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, CallError>> {
        Box::pin(async move {
            let v = self.conn.post(auth, &body(req)).await?;
            parse(&self.conn.name, &v)
        })
    }

    fn identity(&self) -> Value {
        json!({ "type": "anthropic", "base_url": self.conn.base_url })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::artifact::spec::{RESERVED, ReasoningEffort, ResponseFormat};

    fn request(model: ModelSpec) -> ChatRequest {
        ChatRequest {
            model,
            messages: vec![],
            tools: None,
            output_schema: None,
            schema_name: None,
        }
    }

    #[test]
    fn max_tokens_is_always_sent() {
        let m = |max_tokens, max_completion_tokens| ModelSpec {
            max_tokens,
            max_completion_tokens,
            ..ModelSpec::default()
        };
        assert_eq!(body(&request(m(None, None)))["max_tokens"], 1024);
        assert_eq!(body(&request(m(None, Some(300))))["max_tokens"], 300);
        assert_eq!(body(&request(m(Some(200), Some(300))))["max_tokens"], 200);
        let b = body(&request(m(None, Some(300))));
        assert!(b.get("max_completion_tokens").is_none(), "{b}");
        assert!(b.get("temperature").is_none(), "{b}");
    }

    #[test]
    fn effort_and_format_share_output_config() {
        let mut req = request(ModelSpec {
            temperature: Some(1.0),
            seed: Some(3),
            reasoning_effort: Some(ReasoningEffort::High),
            response_format: Some(ResponseFormat::JsonSchema),
            extra: [("thinking".to_string(), json!({ "type": "adaptive" }))].into(),
            ..ModelSpec::default()
        });
        req.output_schema = Some(json!({ "type": "object" }));
        req.tools = Some(json!([]));
        let b = body(&req);
        assert_eq!(
            b["output_config"],
            json!({ "effort": "high", "format": { "type": "json_schema", "schema": { "type": "object" } } })
        );
        assert_eq!(b["thinking"], json!({ "type": "adaptive" }));
        assert!(b.get("seed").is_none(), "{b}");
        for k in b.as_object().unwrap().keys() {
            assert!(
                RESERVED.contains(&k.as_str()) || k == "thinking",
                "`{k}` is sent but not reserved"
            );
        }
    }
}
