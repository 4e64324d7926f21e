//! OpenAI-compatible chat completions (OpenAI, vLLM, Ollama, llama.cpp, LM Studio).

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::chat::{CallError, ChatRequest, ChatResponse, Provider, StopReason};
use super::http::Connection;
use super::key::ApiKey;

pub(crate) struct OpenAi {
    conn: Connection,
}

impl OpenAi {
    /// Where the API lives unless `base_url` says otherwise.
    pub(crate) const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
    /// Appended to the base URL.
    pub(crate) const PATH: &str = "/chat/completions";
    /// The model list: a cheap authenticated request, for `doctor`.
    pub(crate) const MODELS_PATH: &str = "/models";

    pub(crate) fn new(conn: Connection) -> Self {
        OpenAi { conn }
    }
}

/// Adds the key as a bearer token, when there is one.
pub(crate) fn auth(r: reqwest::RequestBuilder, key: Option<&ApiKey>) -> reqwest::RequestBuilder {
    match key {
        Some(k) => r.bearer_auth(k.expose()),
        None => r,
    }
}

/// The request body for chat completions.
pub(crate) fn body(req: &ChatRequest) -> Value {
    let m = &req.model;
    let mut body = json!({ "model": m.name, "messages": req.messages });
    let obj = body.as_object_mut().expect("an object");
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            obj.insert(k.to_string(), v);
        }
    };
    put("temperature", m.temperature.map(Value::from));
    put("max_tokens", m.max_tokens.map(Value::from));
    put("seed", m.seed.map(Value::from));
    put("top_p", m.top_p.map(Value::from));
    put("stop", m.stop.clone().map(Value::from));
    put("presence_penalty", m.presence_penalty.map(Value::from));
    put("frequency_penalty", m.frequency_penalty.map(Value::from));
    put("tools", req.tools.clone());
    body
}

/// The answer text (or the tool calls, as JSON), the refusal, why the model
/// stopped, and token usage. A `null`, missing or empty `content` stays
/// empty (the runner fails it) unless the reply carries tool calls.
pub(crate) fn parse(provider: &str, v: &Value) -> Result<ChatResponse, CallError> {
    let message = v
        .pointer("/choices/0/message")
        .ok_or_else(|| CallError::Retryable {
            message: format!("provider `{provider}` sent no `choices[0].message`"),
            retry_after: None,
        })?;
    let text = message.get("content").and_then(Value::as_str).unwrap_or("");
    // TODO(issue 11, item 1): record the calls themselves (id, name, arguments).
    let calls = message
        .get("tool_calls")
        .filter(|c| c.as_array().is_none_or(|a| !a.is_empty()) && !c.is_null());
    let content = match calls {
        Some(calls) if text.is_empty() => calls.to_string(),
        _ => text.to_string(),
    };
    Ok(ChatResponse {
        content,
        stop_reason: v
            .pointer("/choices/0/finish_reason")
            .and_then(Value::as_str)
            .map(StopReason::from_openai),
        refusal: message
            .get("refusal")
            .and_then(Value::as_str)
            .filter(|r| !r.trim().is_empty())
            .map(str::to_string),
        tool_calls: calls.is_some(),
        tokens_in: v.pointer("/usage/prompt_tokens").and_then(Value::as_u64),
        tokens_out: v
            .pointer("/usage/completion_tokens")
            .and_then(Value::as_u64),
        latency_ms: None,
    })
}

impl Provider for OpenAi {
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
        json!({ "type": "openai", "base_url": self.conn.base_url })
    }
}
