//! OpenAI-compatible chat completions (OpenAI, vLLM, Ollama, llama.cpp, LM Studio).

use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::chat::{
    CallError, ChatMessage, ChatRequest, ChatResponse, Provider, StopReason, ToolCall,
};
use super::http::Connection;
use super::key::ApiKey;
use super::params;
use crate::version::artifact::spec::ModelSpec;

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
    let messages: Vec<Value> = req.messages.iter().map(message).collect();
    let mut body = json!({ "model": m.name, "messages": messages });
    let obj = body.as_object_mut().expect("an object");
    parameters(m, obj);
    if let Some(tools) = &req.tools {
        obj.insert("tools".into(), tools.openai());
    }
    if let Some(format) = response_format(req) {
        obj.insert("response_format".into(), format);
    }
    params::put_extra(m, obj);
    body
}

/// The sampling and length parameters the prompt sets, under the names the
/// API takes; one not set is not sent.
fn parameters(m: &ModelSpec, obj: &mut Map<String, Value>) {
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            obj.insert(k.to_string(), v);
        }
    };
    put("temperature", m.temperature.map(Value::from));
    put("max_tokens", m.max_tokens.map(Value::from));
    put(
        "max_completion_tokens",
        m.max_completion_tokens.map(Value::from),
    );
    put("seed", m.seed.map(Value::from));
    put("top_p", m.top_p.map(Value::from));
    put("stop", m.stop.clone().map(Value::from));
    put("presence_penalty", m.presence_penalty.map(Value::from));
    put("frequency_penalty", m.frequency_penalty.map(Value::from));
    put(
        "reasoning_effort",
        m.reasoning_effort.map(|e| Value::from(e.as_str())),
    );
}

/// Structured outputs: `{type: json_schema, json_schema: {name, schema,
/// strict: true}}`, when the prompt asks the API to enforce its schema.
fn response_format(req: &ChatRequest) -> Option<Value> {
    let (name, schema) = params::enforced_schema(req)?;
    Some(json!({
        "type": "json_schema",
        "json_schema": { "name": name, "schema": schema, "strict": true },
    }))
}

/// One message in OpenAI's shape: an assistant turn's calls as
/// `tool_calls` (arguments as a JSON string), a tool result as a `tool`
/// message naming its call.
fn message(m: &ChatMessage) -> Value {
    if m.role == "tool" {
        let content = if m.is_error {
            format!("error: {}", m.content)
        } else {
            m.content.clone()
        };
        return json!({
            "role": "tool",
            "tool_call_id": m.tool_call_id.as_deref().unwrap_or_default(),
            "content": content,
        });
    }
    if m.tool_calls.is_empty() {
        return json!({ "role": m.role, "content": m.content });
    }
    let calls: Vec<Value> = m
        .tool_calls
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "type": "function",
                "function": { "name": c.name, "arguments": c.arguments_string() },
            })
        })
        .collect();
    let content = if m.content.is_empty() {
        Value::Null
    } else {
        Value::from(m.content.clone())
    };
    json!({ "role": m.role, "content": content, "tool_calls": calls })
}

/// The calls of `message.tool_calls` (and the legacy `function_call`).
/// A call without a function name is a malformed answer.
fn calls(provider: &str, message: &Value) -> Result<Vec<ToolCall>, CallError> {
    let malformed = |what: &str| CallError::Retryable {
        message: format!("provider `{provider}` sent a malformed tool call: {what}"),
        retry_after: None,
    };
    let mut out = Vec::new();
    match message.get("tool_calls") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, c) in list.iter().enumerate() {
                let name = c
                    .pointer("/function/name")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| malformed(&format!("tool_calls[{i}] has no function name")))?;
                let id = c.get("id").and_then(Value::as_str).unwrap_or_default();
                let arguments = match c.pointer("/function/arguments") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(a)) => a.clone(),
                    // Some servers send the object itself.
                    Some(other) => other.to_string(),
                };
                out.push(ToolCall::from_string(
                    id.to_string(),
                    name.to_string(),
                    &arguments,
                ));
            }
        }
        Some(_) => return Err(malformed("`tool_calls` is not a list")),
    }
    if let Some(f) = message.get("function_call").filter(|f| !f.is_null()) {
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("`function_call` has no name"))?;
        let arguments = f.get("arguments").and_then(Value::as_str).unwrap_or("");
        out.push(ToolCall::from_string(
            String::new(),
            name.to_string(),
            arguments,
        ));
    }
    Ok(out)
}

/// The answer: its text, tool calls, refusal, why the model stopped, and
/// token usage. A `null`, missing or empty `content` stays empty; the
/// runner fails an answer with no text, no calls and no refusal.
pub(crate) fn parse(provider: &str, v: &Value) -> Result<ChatResponse, CallError> {
    let message = v
        .pointer("/choices/0/message")
        .ok_or_else(|| CallError::Retryable {
            message: format!("provider `{provider}` sent no `choices[0].message`"),
            retry_after: None,
        })?;
    let content = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        // Content parts (`[{type: text, text}]`), as some servers send them.
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
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
        tool_calls: calls(provider, message)?,
        tokens_in: v.pointer("/usage/prompt_tokens").and_then(Value::as_u64),
        tokens_out: v
            .pointer("/usage/completion_tokens")
            .and_then(Value::as_u64),
        tokens_cached: v
            .pointer("/usage/prompt_tokens_details/cached_tokens")
            .and_then(Value::as_u64),
        tokens_reasoning: v
            .pointer("/usage/completion_tokens_details/reasoning_tokens")
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

    fn every_parameter() -> ModelSpec {
        ModelSpec {
            provider: "p".into(),
            name: "m".into(),
            temperature: Some(0.5),
            max_tokens: Some(10),
            seed: Some(1),
            top_p: Some(0.9),
            stop: Some(vec!["END".into()]),
            presence_penalty: Some(0.1),
            frequency_penalty: Some(0.2),
            max_completion_tokens: Some(20),
            reasoning_effort: Some(ReasoningEffort::Minimal),
            response_format: Some(ResponseFormat::JsonSchema),
            extra: [("service_tier".to_string(), json!("flex"))].into(),
        }
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn a_parameter_not_set_is_not_sent() {
        let body = body(&request(ModelSpec {
            name: "m".into(),
            ..ModelSpec::default()
        }));
        assert_eq!(keys(&body), ["messages", "model"]);
    }

    #[test]
    fn extra_can_name_no_key_that_promptctl_sends() {
        let mut req = request(every_parameter());
        req.tools = Some(crate::version::artifact::tools::Tools::parse(json!([])).unwrap());
        req.output_schema = Some(json!({ "type": "object" }));
        let body = body(&req);
        assert_eq!(body["max_completion_tokens"], 20);
        assert_eq!(body["reasoning_effort"], "minimal");
        assert_eq!(body["service_tier"], "flex");
        for k in keys(&body) {
            assert!(
                RESERVED.contains(&k) || k == "service_tier",
                "`{k}` is sent but not reserved"
            );
        }
    }

    #[test]
    fn structured_outputs_name_the_schema() {
        let mut req = request(every_parameter());
        req.output_schema = Some(json!({ "type": "object" }));
        req.schema_name = Some("support bot".into());
        assert_eq!(
            body(&req)["response_format"],
            json!({
                "type": "json_schema",
                "json_schema": { "name": "support_bot", "schema": { "type": "object" }, "strict": true },
            })
        );
        // Without a schema there is nothing to enforce.
        req.output_schema = None;
        assert!(body(&req).get("response_format").is_none());
    }
}
