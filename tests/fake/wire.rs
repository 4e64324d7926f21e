//! The two wire protocols: reading a chat request into a [`ChatCall`], and
//! writing answers and errors in each API's own JSON shape.
//!
//! Validation is deliberately close to the real APIs (a missing `model`, an
//! Anthropic request without `max_tokens` or `anthropic-version`, a role the
//! API does not know) so a client bug fails here the way it would in
//! production, with a 400 in the right error shape. Unknown fields are accepted.

use serde_json::{Value, json};

use super::{Api, ChatCall};

/// A 400 `invalid_request_error` with this message.
pub(super) struct Invalid(pub String);

fn invalid<T>(message: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid(message.into()))
}

/// The text of a message `content`: a string, or the `text` of every text
/// block (OpenAI parts `{type:"text",text}`, Anthropic blocks of the same
/// shape) joined with newlines. Other block types (images, tool results) are
/// skipped; `null` (an OpenAI assistant turn with tool calls) is empty.
fn text_of(content: &Value, at: &str) -> Result<String, Invalid> {
    match content {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        Value::Array(blocks) => {
            let mut texts = Vec::new();
            for (i, block) in blocks.iter().enumerate() {
                let Some(kind) = block.get("type").and_then(Value::as_str) else {
                    return invalid(format!("{at}.{i}.type: Field required"));
                };
                if kind == "text" {
                    match block.get("text").and_then(Value::as_str) {
                        Some(text) => texts.push(text),
                        None => return invalid(format!("{at}.{i}.text: Field required")),
                    }
                }
            }
            Ok(texts.join("\n"))
        }
        _ => invalid(format!(
            "{at}: Input should be a valid string or a list of content blocks"
        )),
    }
}

fn check_temperature(body: &Value, max: f64) -> Result<(), Invalid> {
    match body.get("temperature") {
        None | Some(Value::Null) => Ok(()),
        Some(t) => match t.as_f64() {
            Some(t) if (0.0..=max).contains(&t) => Ok(()),
            _ => invalid(format!(
                "temperature: must be a number between 0 and {max}, got {t}"
            )),
        },
    }
}

fn check_no_stream(body: &Value) -> Result<(), Invalid> {
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        return invalid(
            "stream: the fake server does not stream; send `stream: false` or leave it out",
        );
    }
    Ok(())
}

/// Reads `POST /v1/chat/completions`. System and developer messages become
/// [`ChatCall::system`] (joined with blank lines), so a responder sees the
/// same shape from either API.
pub(super) fn parse_openai(body: &Value) -> Result<ChatCall, Invalid> {
    if !body.is_object() {
        return invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
        );
    }
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return invalid("you must provide a model parameter");
    };
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return invalid("Missing required parameter: 'messages'.");
    };
    if messages.is_empty() {
        return invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        );
    }
    check_temperature(body, 2.0)?;
    check_no_stream(body)?;
    let mut call = ChatCall {
        api: Api::OpenAi,
        model: model.to_string(),
        system: String::new(),
        messages: Vec::new(),
    };
    let mut system = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let Some(role) = message.get("role").and_then(Value::as_str) else {
            return invalid(format!("Missing required parameter: 'messages[{i}].role'."));
        };
        let content = text_of(
            message.get("content").unwrap_or(&Value::Null),
            &format!("messages.{i}.content"),
        )?;
        match role {
            "system" | "developer" => system.push(content),
            "user" | "assistant" | "tool" | "function" => {
                call.messages.push((role.to_string(), content))
            }
            other => {
                return invalid(format!(
                    "Invalid value: '{other}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'."
                ));
            }
        }
    }
    call.system = system.join("\n\n");
    Ok(call)
}

/// Reads `POST /v1/messages`: `max_tokens` is required, roles are only
/// `user` and `assistant`, and `system` is a string or a list of text blocks.
pub(super) fn parse_anthropic(
    body: &Value,
    headers: &[(String, String)],
) -> Result<ChatCall, Invalid> {
    if !headers.iter().any(|(name, _)| name == "anthropic-version") {
        return invalid("anthropic-version: header is required");
    }
    if !body.is_object() {
        return invalid("There was an issue with your request body: it is not a JSON object");
    }
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return invalid("model: Field required");
    };
    match body.get("max_tokens") {
        Some(n) if n.as_u64().is_some_and(|n| n >= 1) => {}
        Some(_) => {
            return invalid(
                "max_tokens: Input should be a valid integer, greater than or equal to 1",
            );
        }
        None => return invalid("max_tokens: Field required"),
    }
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return invalid("messages: Field required");
    };
    if messages.is_empty() {
        return invalid("messages: at least one message is required");
    }
    check_temperature(body, 1.0)?;
    check_no_stream(body)?;
    let system = match body.get("system") {
        None | Some(Value::Null) => String::new(),
        Some(system) => text_of(system, "system")?,
    };
    let mut call = ChatCall {
        api: Api::Anthropic,
        model: model.to_string(),
        system,
        messages: Vec::new(),
    };
    for (i, message) in messages.iter().enumerate() {
        let role = match message.get("role").and_then(Value::as_str) {
            Some(role @ ("user" | "assistant")) => role,
            Some(_) => {
                return invalid(format!(
                    "messages.{i}.role: Input should be 'user' or 'assistant'"
                ));
            }
            None => return invalid(format!("messages.{i}.role: Field required")),
        };
        let Some(content) = message.get("content") else {
            return invalid(format!("messages.{i}.content: Field required"));
        };
        let content = text_of(content, &format!("messages.{i}.content"))?;
        call.messages.push((role.to_string(), content));
    }
    Ok(call)
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Prompt tokens: the words of the system text and of every message.
fn prompt_tokens(call: &ChatCall) -> u64 {
    words(&call.system)
        + call
            .messages
            .iter()
            .map(|(_, content)| words(content))
            .sum::<u64>()
}

/// A successful chat answer in the API's envelope. `model` is echoed as sent.
pub(super) fn answer(
    api: Api,
    id: u64,
    model: &str,
    call: Option<&ChatCall>,
    content: &str,
) -> Value {
    let input = call.map_or(0, prompt_tokens);
    let output = words(content);
    match api {
        Api::OpenAi => json!({
            "id": format!("chatcmpl-fake{id:012}"),
            "object": "chat.completion",
            "created": unix_now(),
            "model": model,
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": content, "refusal": null },
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "usage": {
                "prompt_tokens": input,
                "completion_tokens": output,
                "total_tokens": input + output,
            },
            "system_fingerprint": "fp_fake",
        }),
        Api::Anthropic => json!({
            "id": format!("msg_fake{id:012}"),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{ "type": "text", "text": content }],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            "usage": { "input_tokens": input, "output_tokens": output },
        }),
    }
}

/// `GET /v1/models` in the shape of the API that asked.
pub(super) fn models(api: Api) -> Value {
    match api {
        Api::OpenAi => json!({
            "object": "list",
            "data": [{
                "id": "gpt-4o-mini",
                "object": "model",
                "created": 1721172741,
                "owned_by": "system",
            }],
        }),
        Api::Anthropic => json!({
            "data": [{
                "type": "model",
                "id": "claude-3-5-haiku-20241022",
                "display_name": "Claude Haiku 3.5",
                "created_at": "2024-10-22T00:00:00Z",
            }],
            "has_more": false,
            "first_id": "claude-3-5-haiku-20241022",
            "last_id": "claude-3-5-haiku-20241022",
        }),
    }
}

/// The `type` and default message of an error status, per API.
fn describe(api: Api, status: u16) -> (&'static str, Option<&'static str>, &'static str) {
    match api {
        // OpenAI: (type, code, message)
        Api::OpenAi => match status {
            400 => ("invalid_request_error", None, "Invalid request."),
            401 => (
                "invalid_request_error",
                Some("invalid_api_key"),
                "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
            ),
            403 => (
                "invalid_request_error",
                Some("unsupported_country_region_territory"),
                "Country, region, or territory not supported",
            ),
            404 => (
                "invalid_request_error",
                Some("model_not_found"),
                "The model does not exist or you do not have access to it.",
            ),
            429 => (
                "requests",
                Some("rate_limit_exceeded"),
                "Rate limit reached for requests. Please try again in 1s.",
            ),
            503 => (
                "server_error",
                None,
                "The engine is currently overloaded, please try again later",
            ),
            500..=599 => (
                "server_error",
                None,
                "The server had an error while processing your request. Sorry about that!",
            ),
            _ => ("invalid_request_error", None, "The request failed."),
        },
        // Anthropic: (error.type, -, message)
        Api::Anthropic => match status {
            400 => ("invalid_request_error", None, "Invalid request."),
            401 => ("authentication_error", None, "invalid x-api-key"),
            402 => (
                "billing_error",
                None,
                "Your credit balance is too low to access the Anthropic API.",
            ),
            403 => (
                "permission_error",
                None,
                "Your API key does not have permission to use the specified resource.",
            ),
            404 => (
                "not_found_error",
                None,
                "The requested resource could not be found.",
            ),
            413 => (
                "request_too_large",
                None,
                "Request exceeds the maximum allowed number of bytes.",
            ),
            429 => (
                "rate_limit_error",
                None,
                "Number of requests has exceeded your rate limit.",
            ),
            504 => ("timeout_error", None, "Request timed out."),
            529 => ("overloaded_error", None, "Overloaded"),
            500..=599 => ("api_error", None, "Internal server error"),
            _ => ("invalid_request_error", None, "The request failed."),
        },
    }
}

/// An error body in the API's shape: OpenAI `{"error":{message,type,param,code}}`,
/// Anthropic `{"type":"error","error":{type,message},"request_id"}`.
/// `message` overrides the status's usual text.
pub(super) fn error(api: Api, status: u16, message: Option<&str>, request_id: &str) -> Value {
    let (kind, code, default) = describe(api, status);
    let message = message.unwrap_or(default);
    match api {
        Api::OpenAi => json!({
            "error": { "message": message, "type": kind, "param": null, "code": code },
        }),
        Api::Anthropic => json!({
            "type": "error",
            "error": { "type": kind, "message": message },
            "request_id": request_id,
        }),
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
