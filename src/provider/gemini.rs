//! Google's Gemini API, natively: `POST {base}/v1beta/models/{model}:generateContent`
//! with the key in `x-goog-api-key`.
//!
//! The design decision to know: Gemini's conversation has two roles, `user`
//! and `model`, and a tool result is a `functionResponse` part that names
//! its function rather than a call id (an id is optional, and the Developer
//! API seldom sends one). So a result is matched to its call through the
//! assistant turn that made it, and sent back under that call's name, and
//! the API's own id and `thoughtSignature` go back only when it gave them.
//! Every `finishReason` that means a filter cut the answer, and a prompt
//! blocked before any answer (`promptFeedback.blockReason`), fail the case:
//! never an empty pass.

use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::chat::{
    CallError, ChatMessage, ChatRequest, ChatResponse, Provider, StopReason, ToolCall,
};
use super::http::Connection;
use super::key::ApiKey;
use super::params;
use crate::version::artifact::spec::ModelSpec;

pub(crate) struct Gemini {
    conn: Connection,
}

impl Gemini {
    /// Where the API lives unless `base_url` says otherwise.
    pub(crate) const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";
    /// Appended to the base URL: the model list (`doctor`'s check), under
    /// which each model's `:generateContent` is.
    pub(crate) const MODELS_PATH: &str = "/v1beta/models";

    pub(crate) fn new(conn: Connection) -> Self {
        Gemini { conn }
    }
}

/// Adds the key, when there is one: a header, never the `?key=` query
/// parameter, which would put it in every URL a message shows.
pub(crate) fn auth(r: reqwest::RequestBuilder, key: Option<&ApiKey>) -> reqwest::RequestBuilder {
    match key {
        Some(k) => r.header("x-goog-api-key", k.expose()),
        None => r,
    }
}

/// The URL of `model`'s `generateContent` under `models` (the connection's
/// URL). A leading `models/` (as the model list names them) is dropped, and
/// any character outside `[A-Za-z0-9._-]` percent-encoded, so a model name
/// stays one path segment.
pub(crate) fn url(models: &str, model: &str) -> String {
    let name = model.strip_prefix("models/").unwrap_or(model);
    let mut segment = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            segment.push(b as char);
        } else {
            segment.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{models}/{segment}:generateContent")
}

/// The request body: system messages go to `systemInstruction`, the rest to
/// `contents`, the tools to one `functionDeclarations` tool, and the
/// parameters to `generationConfig`. `extra` goes in at the top level
/// (`safetySettings`, `toolConfig`, `cachedContent`), except its
/// `generationConfig`, whose keys join the ones promptctl sets (which win).
pub(crate) fn body(req: &ChatRequest) -> Value {
    let m = &req.model;
    let system: Vec<&str> = req
        .messages
        .iter()
        .filter(|x| x.role == "system")
        .map(|x| x.content.as_str())
        .collect();
    let mut body = json!({ "contents": contents(&req.messages) });
    let obj = body.as_object_mut().expect("an object");
    if !system.is_empty() {
        obj.insert(
            "systemInstruction".into(),
            json!({ "parts": [{ "text": system.join("\n\n") }] }),
        );
    }
    if let Some(tools) = req.tools.as_ref().and_then(|t| t.gemini()) {
        obj.insert("tools".into(), tools);
    }
    let mut config = generation_config(req);
    if let Some(Value::Object(theirs)) = m.extra.get("generationConfig") {
        for (k, v) in theirs {
            config.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if !config.is_empty() {
        obj.insert("generationConfig".into(), Value::Object(config));
    }
    params::put_extra(m, obj);
    body
}

/// `generationConfig` from the parameters the prompt sets; one not set is
/// not sent. `max_tokens` (else `max_completion_tokens`) is
/// `maxOutputTokens`; a schema the API is to enforce is `responseJsonSchema`
/// (JSON Schema as written, where `responseSchema` takes only an OpenAPI
/// subset) with `responseMimeType: application/json`.
fn generation_config(req: &ChatRequest) -> Map<String, Value> {
    let m: &ModelSpec = &req.model;
    let mut config = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            config.insert(k.to_string(), v);
        }
    };
    put("temperature", m.temperature.map(Value::from));
    put("topP", m.top_p.map(Value::from));
    put(
        "maxOutputTokens",
        m.max_tokens.or(m.max_completion_tokens).map(Value::from),
    );
    put("stopSequences", m.stop.clone().map(Value::from));
    put("seed", m.seed.map(Value::from));
    put("presencePenalty", m.presence_penalty.map(Value::from));
    put("frequencyPenalty", m.frequency_penalty.map(Value::from));
    if let Some((_, schema)) = params::enforced_schema(req) {
        put("responseMimeType", Some(Value::from("application/json")));
        put("responseJsonSchema", Some(schema.clone()));
    }
    config
}

/// The conversation in Gemini's shape: `user` and `model` turns of parts.
/// An assistant turn's calls are `functionCall` parts (with the API's id
/// and `thoughtSignature` when it sent them); a tool result is a
/// `functionResponse` part under its call's name, `{output}` or, for a
/// failed call, `{error}`. Turns of one role in a row become one turn, so
/// every result of a model turn goes back together, as the API wants.
fn contents(all: &[ChatMessage]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for (i, m) in all.iter().enumerate().filter(|(_, x)| x.role != "system") {
        let (role, parts) = match m.role.as_str() {
            "tool" => ("user", vec![function_response(&all[..i], m)]),
            "assistant" => ("model", model_parts(m)),
            _ => ("user", vec![json!({ "text": m.content })]),
        };
        match out.last_mut() {
            Some(last) if last["role"] == role => last["parts"]
                .as_array_mut()
                .expect("built as a list")
                .extend(parts),
            _ => out.push(json!({ "role": role, "parts": parts })),
        }
    }
    out
}

/// A model turn's parts: its text (unless it is empty and the turn calls
/// tools), then a `functionCall` part a call.
fn model_parts(m: &ChatMessage) -> Vec<Value> {
    let mut parts = Vec::new();
    if !m.content.is_empty() || m.tool_calls.is_empty() {
        parts.push(json!({ "text": m.content }));
    }
    for c in &m.tool_calls {
        let args = match &c.arguments {
            Value::Object(_) => c.arguments.clone(),
            _ => json!({}),
        };
        let mut call = json!({ "name": c.name, "args": args });
        if own_id(&c.id) {
            call["id"] = Value::from(c.id.clone());
        }
        let mut part = json!({ "functionCall": call });
        if let Some(s) = &c.signature {
            part["thoughtSignature"] = Value::from(s.clone());
        }
        parts.push(part);
    }
    parts
}

/// Whether an id is the API's own, to be sent back: not empty, and not one
/// the runner gave a call that came without one.
fn own_id(id: &str) -> bool {
    !id.is_empty() && !id.starts_with(super::chat::GENERATED_CALL_ID)
}

/// A tool result as a `functionResponse` part: the name of the call it
/// answers (found in the turns `before` it, by id), and the result as
/// `{output: …}` (JSON when it parses, else the text) or `{error: "…"}`.
fn function_response(before: &[ChatMessage], m: &ChatMessage) -> Value {
    let id = m.tool_call_id.as_deref().unwrap_or_default();
    let name = before
        .iter()
        .rev()
        .flat_map(|x| x.tool_calls.iter())
        .find(|c| c.id == id)
        .map_or(id, |c| c.name.as_str());
    let response = if m.is_error {
        json!({ "error": m.content })
    } else {
        let output =
            serde_json::from_str::<Value>(&m.content).unwrap_or_else(|_| m.content.clone().into());
        json!({ "output": output })
    };
    let mut r = json!({ "name": name, "response": response });
    if own_id(id) {
        r["id"] = Value::from(id);
    }
    json!({ "functionResponse": r })
}

/// The answer: the first candidate's text parts (thoughts left out), its
/// `functionCall` parts as calls, why it stopped, and `usageMetadata`. No
/// candidate with a `promptFeedback.blockReason` is a case error that says
/// the prompt was blocked.
pub(crate) fn parse(provider: &str, v: &Value) -> Result<ChatResponse, CallError> {
    let Some(candidate) = v.pointer("/candidates/0") else {
        if let Some(reason) = v
            .pointer("/promptFeedback/blockReason")
            .and_then(Value::as_str)
        {
            let why = v
                .pointer("/promptFeedback/blockReasonMessage")
                .and_then(Value::as_str)
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            return Err(CallError::Fatal(format!(
                "provider `{provider}` blocked the prompt (blockReason `{reason}`{why}); no answer was made"
            )));
        }
        return Err(CallError::Retryable {
            message: format!("provider `{provider}` sent no `candidates`"),
            retry_after: None,
        });
    };
    let parts: &[Value] = candidate
        .pointer("/content/parts")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let text: String = parts
        .iter()
        .filter(|p| p.get("thought").and_then(Value::as_bool) != Some(true))
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect();
    let mut tool_calls = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let Some(call) = p.get("functionCall") else {
            continue;
        };
        let name = super::chat::call_name(provider, call, &format!("parts[{i}]"))?;
        tool_calls.push(ToolCall {
            // Left empty without one: the runner gives it a deterministic id.
            id: call
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            name: name.to_string(),
            arguments: match call.get("args") {
                None | Some(Value::Null) => json!({}),
                Some(args) => args.clone(),
            },
            raw_arguments: None,
            signature: p
                .get("thoughtSignature")
                .and_then(Value::as_str)
                .map(str::to_string),
        });
    }
    let usage = |k: &str| {
        v.get("usageMetadata")
            .and_then(|u| u.get(k))
            .and_then(Value::as_u64)
    };
    let thoughts = usage("thoughtsTokenCount");
    // Thinking is billed as output, as OpenAI's `completion_tokens` counts it.
    let tokens_out = match (usage("candidatesTokenCount"), thoughts) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    };
    let tokens_in = match (usage("promptTokenCount"), usage("toolUsePromptTokenCount")) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    };
    Ok(ChatResponse {
        content: text,
        stop_reason: candidate
            .get("finishReason")
            .and_then(Value::as_str)
            .map(|r| StopReason::from_gemini(r, !tool_calls.is_empty())),
        refusal: None,
        tool_calls,
        tokens_in,
        tokens_out,
        tokens_cached: usage("cachedContentTokenCount"),
        tokens_reasoning: thoughts,
        latency_ms: None,
    })
}

impl Provider for Gemini {
    fn complete<'a>(
        &'a self,
        req: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, CallError>> {
        Box::pin(async move {
            let url = url(&self.conn.url, &req.model.name);
            let v = self.conn.post_to(&url, auth, &body(req)).await?;
            parse(&self.conn.name, &v)
        })
    }

    fn identity(&self) -> Value {
        json!({ "type": "gemini", "base_url": self.conn.base_url })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::artifact::spec::{RESERVED, ResponseFormat};
    use crate::version::artifact::tools::Tools;

    fn request(model: ModelSpec, messages: Vec<ChatMessage>) -> ChatRequest {
        ChatRequest {
            model,
            messages,
            tools: None,
            output_schema: None,
            schema_name: None,
        }
    }

    #[test]
    fn model_names_stay_one_path_segment() {
        let base = "http://h/v1beta/models";
        assert_eq!(
            url(base, "gemini-2.5-flash"),
            "http://h/v1beta/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            url(base, "models/gemini-2.5-pro"),
            "http://h/v1beta/models/gemini-2.5-pro:generateContent"
        );
        assert_eq!(
            url(base, "../x?key=1"),
            "http://h/v1beta/models/..%2Fx%3Fkey%3D1:generateContent"
        );
    }

    #[test]
    fn a_parameter_not_set_is_not_sent() {
        let b = body(&request(
            ModelSpec::default(),
            vec![ChatMessage::new("user", "hi")],
        ));
        assert_eq!(
            b,
            json!({ "contents": [{ "role": "user", "parts": [{ "text": "hi" }] }] })
        );
    }

    #[test]
    fn every_parameter_goes_to_generation_config() {
        let mut req = request(
            ModelSpec {
                temperature: Some(0.5),
                top_p: Some(0.9),
                max_completion_tokens: Some(20),
                stop: Some(vec!["END".into()]),
                seed: Some(7),
                presence_penalty: Some(0.1),
                frequency_penalty: Some(0.2),
                response_format: Some(ResponseFormat::JsonSchema),
                extra: [
                    ("safetySettings".to_string(), json!([])),
                    (
                        "generationConfig".to_string(),
                        json!({ "topK": 3, "temperature": 9 }),
                    ),
                ]
                .into(),
                ..ModelSpec::default()
            },
            vec![
                ChatMessage::new("system", "a"),
                ChatMessage::new("system", "b"),
                ChatMessage::new("user", "hi"),
            ],
        );
        req.output_schema = Some(json!({ "type": "object" }));
        req.tools = Some(Tools::parse(json!([])).unwrap());
        let b = body(&req);
        assert_eq!(
            b["generationConfig"],
            json!({
                "temperature": 0.5, "topP": 0.9, "maxOutputTokens": 20,
                "stopSequences": ["END"], "seed": 7,
                "presencePenalty": 0.1, "frequencyPenalty": 0.2,
                "responseMimeType": "application/json",
                "responseJsonSchema": { "type": "object" },
                "topK": 3,
            })
        );
        assert_eq!(
            b["systemInstruction"],
            json!({ "parts": [{ "text": "a\n\nb" }] })
        );
        // An empty manifest declares no tool at all.
        assert!(b.get("tools").is_none(), "{b}");
        for k in b.as_object().unwrap().keys() {
            assert!(
                RESERVED.contains(&k.as_str()) || k == "safetySettings" || k == "generationConfig",
                "`{k}` is sent but not reserved"
            );
        }
    }

    #[test]
    fn results_go_back_under_their_calls_name() {
        let mut turn = ChatMessage::new("assistant", "");
        turn.tool_calls = vec![
            ToolCall {
                id: "promptctl_call_1_1".into(),
                name: "lookup".into(),
                arguments: json!({ "id": "A1" }),
                raw_arguments: None,
                signature: Some("sig".into()),
            },
            ToolCall {
                id: "api-id".into(),
                name: "refund".into(),
                arguments: Value::Null,
                raw_arguments: Some("{oops".into()),
                signature: None,
            },
        ];
        let mut ok = ChatMessage::new("tool", r#"{"status":"shipped"}"#);
        ok.tool_call_id = Some("promptctl_call_1_1".into());
        let mut failed = ChatMessage::new("tool", "no such order");
        failed.tool_call_id = Some("api-id".into());
        failed.is_error = true;
        let c = contents(&[
            ChatMessage::new("user", "where?"),
            turn,
            ok,
            failed,
            ChatMessage::new("user", "and?"),
        ]);
        assert_eq!(
            Value::Array(c),
            json!([
                { "role": "user", "parts": [{ "text": "where?" }] },
                { "role": "model", "parts": [
                    { "functionCall": { "name": "lookup", "args": { "id": "A1" } }, "thoughtSignature": "sig" },
                    { "functionCall": { "name": "refund", "args": {}, "id": "api-id" } },
                ] },
                { "role": "user", "parts": [
                    { "functionResponse": { "name": "lookup", "response": { "output": { "status": "shipped" } } } },
                    { "functionResponse": { "name": "refund", "id": "api-id", "response": { "error": "no such order" } } },
                    { "text": "and?" },
                ] },
            ])
        );
    }

    #[test]
    fn answers_parse_with_calls_usage_and_stop_reasons() {
        let v = json!({
            "candidates": [{
                "content": { "role": "model", "parts": [
                    { "text": "thinking…", "thought": true },
                    { "text": "Let me look." },
                    { "functionCall": { "name": "lookup", "args": { "id": "A1" } }, "thoughtSignature": "s1" },
                ] },
                "finishReason": "STOP",
            }],
            "usageMetadata": {
                "promptTokenCount": 10, "candidatesTokenCount": 4, "cachedContentTokenCount": 6,
                "thoughtsTokenCount": 3, "totalTokenCount": 17,
            },
        });
        let r = parse("g", &v).unwrap();
        assert_eq!(r.content, "Let me look.");
        assert_eq!(r.stop_reason, Some(StopReason::ToolCalls));
        assert_eq!(r.tool_calls.len(), 1);
        assert_eq!(r.tool_calls[0].id, "");
        assert_eq!(r.tool_calls[0].signature.as_deref(), Some("s1"));
        assert_eq!(
            (
                r.tokens_in,
                r.tokens_out,
                r.tokens_cached,
                r.tokens_reasoning
            ),
            (Some(10), Some(7), Some(6), Some(3))
        );
        for (reason, want) in [
            ("STOP", StopReason::Stop),
            ("MAX_TOKENS", StopReason::Length),
            ("SAFETY", StopReason::ContentFilter),
            ("RECITATION", StopReason::ContentFilter),
            ("BLOCKLIST", StopReason::ContentFilter),
            ("PROHIBITED_CONTENT", StopReason::ContentFilter),
            ("SPII", StopReason::ContentFilter),
            (
                "MALFORMED_FUNCTION_CALL",
                StopReason::Other("MALFORMED_FUNCTION_CALL".into()),
            ),
        ] {
            // A filtered candidate may come without `content`.
            let v = json!({ "candidates": [{ "finishReason": reason }] });
            assert_eq!(parse("g", &v).unwrap().stop_reason, Some(want), "{reason}");
        }
    }

    #[test]
    fn a_blocked_prompt_is_a_case_error() {
        let v = json!({ "promptFeedback": { "blockReason": "PROHIBITED_CONTENT" },
                        "usageMetadata": { "promptTokenCount": 5 } });
        let e = parse("g", &v).unwrap_err();
        assert!(
            matches!(&e, CallError::Fatal(m) if m.contains("blocked the prompt") && m.contains("PROHIBITED_CONTENT")),
            "{e:?}"
        );
        assert!(parse("g", &json!({})).unwrap_err().is_retryable());
    }
}
