//! The Anthropic Messages API.

use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::chat::{
    CallError, ChatMessage, ChatRequest, ChatResponse, Provider, StopReason, ToolCall,
};
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
    let messages = messages(&req.messages);
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
        obj.insert("tools".into(), tools.anthropic());
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

/// The conversation in Anthropic's shape. A text turn stays a string (as it
/// always was sent); an assistant turn's calls become `tool_use` blocks, and
/// tool results become `tool_result` blocks of one `user` turn, which is
/// where the API wants every result of the turn before.
fn messages(all: &[ChatMessage]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for m in all.iter().filter(|x| x.role != "system") {
        if m.role == "tool" {
            let mut block = json!({
                "type": "tool_result",
                "tool_use_id": m.tool_call_id.as_deref().unwrap_or_default(),
                "content": m.content,
            });
            if m.is_error {
                block["is_error"] = Value::Bool(true);
            }
            let joins = out.last().is_some_and(|last| {
                last["role"] == "user"
                    && last["content"]
                        .as_array()
                        .is_some_and(|blocks| blocks.iter().all(|b| b["type"] == "tool_result"))
            });
            match out.last_mut() {
                Some(last) if joins => last["content"]
                    .as_array_mut()
                    .expect("checked: a list")
                    .push(block),
                _ => out.push(json!({ "role": "user", "content": [block] })),
            }
            continue;
        }
        if m.tool_calls.is_empty() {
            out.push(json!({ "role": m.role, "content": m.content }));
            continue;
        }
        let mut blocks = Vec::new();
        if !m.content.is_empty() {
            blocks.push(json!({ "type": "text", "text": m.content }));
        }
        for c in &m.tool_calls {
            let input = match &c.arguments {
                Value::Object(_) => c.arguments.clone(),
                _ => json!({}),
            };
            blocks.push(json!({ "type": "tool_use", "id": c.id, "name": c.name, "input": input }));
        }
        out.push(json!({ "role": m.role, "content": blocks }));
    }
    out
}

/// The answer: its text blocks, its `tool_use` blocks as calls, why the
/// model stopped, and token usage.
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
    let mut tool_calls = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        if b.get("type").and_then(Value::as_str) != Some("tool_use") {
            continue;
        }
        let name = super::chat::call_name(provider, b, &format!("content[{i}]"))?;
        tool_calls.push(ToolCall {
            id: b
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            name: name.to_string(),
            arguments: b.get("input").cloned().unwrap_or(json!({})),
            raw_arguments: None,
            signature: None,
        });
    }
    Ok(ChatResponse {
        content: text,
        stop_reason: v
            .get("stop_reason")
            .and_then(Value::as_str)
            .map(StopReason::from_anthropic),
        refusal: None,
        tool_calls,
        tokens_in: v.pointer("/usage/input_tokens").and_then(Value::as_u64),
        tokens_out: v.pointer("/usage/output_tokens").and_then(Value::as_u64),
        tokens_cached: v
            .pointer("/usage/cache_read_input_tokens")
            .and_then(Value::as_u64),
        tokens_reasoning: None,
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
        req.tools = Some(crate::version::artifact::tools::Tools::parse(json!([])).unwrap());
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
