//! The Anthropic Messages API.

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::chat::{CallError, ChatRequest, ChatResponse, Provider, StopReason};
use super::http::Connection;
use super::key::ApiKey;

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
        "max_tokens": m.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "messages": messages,
    });
    let obj = body.as_object_mut().expect("an object");
    if !system.is_empty() {
        obj.insert("system".into(), Value::from(system.join("\n\n")));
    }
    if let Some(t) = m.temperature {
        obj.insert("temperature".into(), Value::from(t));
    }
    if let Some(p) = m.top_p {
        obj.insert("top_p".into(), Value::from(p));
    }
    if let Some(s) = &m.stop {
        obj.insert("stop_sequences".into(), Value::from(s.clone()));
    }
    if let Some(tools) = &req.tools {
        obj.insert("tools".into(), tools.clone());
    }
    body
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
