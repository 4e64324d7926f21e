//! The three wire protocols: reading a chat request into a [`ChatCall`], and
//! writing answers and errors in each API's own JSON shape.
//!
//! Validation is deliberately close to the real APIs (a missing `model`, an
//! Anthropic request without `max_tokens` or `anthropic-version`, a role the
//! API does not know) so a client bug fails here the way it would in
//! production, with a 400 in the right error shape. Unknown fields are accepted.

use serde_json::{Value, json};

use super::{Api, ChatCall, FakeCall, Reply, ToolResult};

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
        tools: tool_names(body, Api::OpenAi)?,
        calls: Vec::new(),
        results: Vec::new(),
    };
    let mut system = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let Some(role) = message.get("role").and_then(Value::as_str) else {
            return invalid(format!("Missing required parameter: 'messages[{i}].role'."));
        };
        if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
            for (j, c) in calls.iter().enumerate() {
                let at = format!("messages[{i}].tool_calls[{j}]");
                let (Some(id), Some(name), Some(arguments)) = (
                    c.get("id").and_then(Value::as_str),
                    c.pointer("/function/name").and_then(Value::as_str),
                    c.pointer("/function/arguments").and_then(Value::as_str),
                ) else {
                    return invalid(format!(
                        "Missing required parameter: '{at}': id, function.name and function.arguments (a string)."
                    ));
                };
                call.calls.push(FakeCall {
                    id: id.into(),
                    name: name.into(),
                    arguments: arguments.into(),
                });
            }
        }
        if role == "tool" {
            let Some(id) = message.get("tool_call_id").and_then(Value::as_str) else {
                return invalid(format!(
                    "Missing required parameter: 'messages[{i}].tool_call_id'."
                ));
            };
            if !call.calls.iter().any(|c| c.id == id) {
                return invalid(format!(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'. ({id})"
                ));
            }
            call.results.push(ToolResult {
                id: id.into(),
                content: text_of(
                    message.get("content").unwrap_or(&Value::Null),
                    &format!("messages.{i}.content"),
                )?,
                is_error: false,
            });
        }
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
        tools: tool_names(body, Api::Anthropic)?,
        calls: Vec::new(),
        results: Vec::new(),
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
        for (j, block) in content.as_array().into_iter().flatten().enumerate() {
            let at = format!("messages.{i}.content.{j}");
            match block.get("type").and_then(Value::as_str) {
                Some("tool_use") => {
                    let (Some(id), Some(name), Some(input)) = (
                        block.get("id").and_then(Value::as_str),
                        block.get("name").and_then(Value::as_str),
                        block.get("input").filter(|i| i.is_object()),
                    ) else {
                        return invalid(format!(
                            "{at}: tool_use needs id, name and an object input"
                        ));
                    };
                    if role != "assistant" {
                        return invalid(format!("{at}: tool_use blocks belong to assistant turns"));
                    }
                    call.calls.push(FakeCall {
                        id: id.into(),
                        name: name.into(),
                        arguments: input.to_string(),
                    });
                }
                Some("tool_result") => {
                    let Some(id) = block.get("tool_use_id").and_then(Value::as_str) else {
                        return invalid(format!("{at}.tool_use_id: Field required"));
                    };
                    if role != "user" || !call.calls.iter().any(|c| c.id == id) {
                        return invalid(format!(
                            "{at}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                        ));
                    }
                    let text = text_of(
                        block.get("content").unwrap_or(&Value::Null),
                        &format!("{at}.content"),
                    )?;
                    call.results.push(ToolResult {
                        id: id.into(),
                        content: text.clone(),
                        is_error: block.get("is_error").and_then(Value::as_bool) == Some(true),
                    });
                    call.messages.push(("tool".into(), text));
                }
                _ => {}
            }
        }
        let content = text_of(content, &format!("messages.{i}.content"))?;
        if !(role == "user" && content.is_empty() && !call.results.is_empty()) {
            call.messages.push((role.to_string(), content));
        }
    }
    Ok(call)
}

/// Reads `POST /v1beta/models/{model}:generateContent`: `contents` of
/// `user` and `model` turns (no two `model` turns in a row), parts of
/// `text`, `functionCall` and `functionResponse` (each answering a call of
/// that name in the `model` turn before it), `systemInstruction` of text
/// parts, and `tools` of `functionDeclarations`. A result's id is its
/// `functionResponse.id`, else the function's name.
pub(super) fn parse_gemini(body: &Value, model: &str) -> Result<ChatCall, Invalid> {
    if !body.is_object() {
        return invalid("Invalid JSON payload received. Unknown name: the body is not an object");
    }
    let Some(contents) = body.get("contents").and_then(Value::as_array) else {
        return invalid("* GenerateContentRequest.contents: contents is not specified");
    };
    if contents.is_empty() {
        return invalid("* GenerateContentRequest.contents: contents is not specified");
    }
    if let Some(t) = body.pointer("/generationConfig/temperature")
        && !t.as_f64().is_some_and(|t| (0.0..=2.0).contains(&t))
    {
        return invalid(format!(
            "* GenerateContentRequest.generation_config.temperature: must be between 0 and 2, got {t}"
        ));
    }
    let parts_text = |parts: &Value, at: &str| -> Result<String, Invalid> {
        let Some(parts) = parts.as_array() else {
            return invalid(format!("* {at}.parts: must be a list"));
        };
        Ok(parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"))
    };
    let system = match body.pointer("/systemInstruction/parts") {
        None => String::new(),
        Some(parts) => parts_text(parts, "GenerateContentRequest.system_instruction")?,
    };
    let mut names = Vec::new();
    if let Some(tools) = body.get("tools") {
        let Some(tools) = tools.as_array() else {
            return invalid("* GenerateContentRequest.tools: must be a list");
        };
        for (i, t) in tools.iter().enumerate() {
            for (j, f) in t
                .get("functionDeclarations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let Some(name) = f.get("name").and_then(Value::as_str) else {
                    return invalid(format!(
                        "* GenerateContentRequest.tools[{i}].function_declarations[{j}].name: Name cannot be empty."
                    ));
                };
                if f.get("parameters").is_some() && f.get("parametersJsonSchema").is_some() {
                    return invalid(format!(
                        "* GenerateContentRequest.tools[{i}].function_declarations[{j}]: parameters and parameters_json_schema are mutually exclusive"
                    ));
                }
                names.push(name.to_string());
            }
        }
    }
    let mut call = ChatCall {
        api: Api::Gemini,
        model: model.to_string(),
        system,
        messages: Vec::new(),
        tools: names,
        calls: Vec::new(),
        results: Vec::new(),
    };
    let mut previous: Option<&str> = None;
    // The calls of the last `model` turn that have no response yet.
    let mut open: Vec<String> = Vec::new();
    for (i, content) in contents.iter().enumerate() {
        let at = format!("GenerateContentRequest.contents[{i}]");
        let role = match content.get("role").and_then(Value::as_str) {
            Some(role @ ("user" | "model")) => role,
            // The API takes a turn without a role as the user's.
            None => "user",
            Some(other) => {
                return invalid(format!(
                    "Please use a valid role: user, model. (got `{other}` at {at})"
                ));
            }
        };
        if role == "model" && previous == Some("model") {
            return invalid(format!(
                "* {at}: a model turn must follow a user turn, not another model turn"
            ));
        }
        let Some(parts) = content.get("parts").and_then(Value::as_array) else {
            return invalid(format!("* {at}.parts: contents.parts must not be empty"));
        };
        if parts.is_empty() {
            return invalid(format!("* {at}.parts: contents.parts must not be empty"));
        }
        if role == "model" {
            open.clear();
        }
        let mut texts = Vec::new();
        for (j, part) in parts.iter().enumerate() {
            let at = format!("{at}.parts[{j}]");
            if let Some(text) = part.get("text") {
                match text.as_str() {
                    Some(t) => texts.push(t.to_string()),
                    None => return invalid(format!("* {at}.text: must be a string")),
                }
            } else if let Some(f) = part.get("functionCall") {
                let (Some(name), args) = (f.get("name").and_then(Value::as_str), f.get("args"))
                else {
                    return invalid(format!("* {at}.function_call.name: Name cannot be empty."));
                };
                if role != "model" {
                    return invalid(format!("* {at}: a function call belongs to a model turn"));
                }
                if args.is_some_and(|a| !a.is_object()) {
                    return invalid(format!("* {at}.function_call.args: must be an object"));
                }
                let id = f.get("id").and_then(Value::as_str).unwrap_or_default();
                call.calls.push(FakeCall {
                    id: id.to_string(),
                    name: name.to_string(),
                    arguments: args.cloned().unwrap_or_else(|| json!({})).to_string(),
                });
                open.push(name.to_string());
            } else if let Some(r) = part.get("functionResponse") {
                let Some(name) = r.get("name").and_then(Value::as_str) else {
                    return invalid(format!(
                        "* {at}.function_response.name: Name cannot be empty."
                    ));
                };
                let Some(response) = r.get("response").filter(|r| r.is_object()) else {
                    return invalid(format!(
                        "* {at}.function_response.response: must be an object"
                    ));
                };
                let Some(k) = open
                    .iter()
                    .position(|n| n == name)
                    .filter(|_| role == "user")
                else {
                    return invalid(format!(
                        "* {at}: Please ensure that function response turn comes immediately after a function call turn, and that `{name}` was called there."
                    ));
                };
                open.remove(k);
                let (content, is_error) = match (response.get("output"), response.get("error")) {
                    (_, Some(e)) => (
                        e.as_str().map_or_else(|| e.to_string(), str::to_string),
                        true,
                    ),
                    (Some(Value::String(s)), None) => (s.clone(), false),
                    (Some(o), None) => (o.to_string(), false),
                    (None, None) => (response.to_string(), false),
                };
                call.results.push(ToolResult {
                    id: r
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or(name)
                        .to_string(),
                    content: content.clone(),
                    is_error,
                });
                call.messages.push(("tool".into(), content));
            } else if part.get("thought").is_none() {
                return invalid(format!(
                    "* {at}: a part needs text, function_call or function_response"
                ));
            }
        }
        if !texts.is_empty() || role == "model" {
            let role = if role == "model" { "assistant" } else { "user" };
            call.messages.push((role.to_string(), texts.join("\n")));
        }
        previous = Some(role);
    }
    Ok(call)
}

/// The body of Gemini's 400 for a key that is not valid.
pub(super) fn gemini_key_invalid() -> Value {
    json!({ "error": {
        "code": 400,
        "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT",
        "details": [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": { "service": "generativelanguage.googleapis.com" },
        }],
    } })
}

/// The names of the declared tools: OpenAI `[{type: function, function:
/// {name}}]`, Anthropic `[{name, input_schema}]`. A tool in the other API's
/// shape is a 400, as the real APIs answer it.
fn tool_names(body: &Value, api: Api) -> Result<Vec<String>, Invalid> {
    let Some(tools) = body.get("tools") else {
        return Ok(Vec::new());
    };
    let Some(tools) = tools.as_array() else {
        return invalid("tools: Input should be a valid list");
    };
    let mut names = Vec::new();
    for (i, t) in tools.iter().enumerate() {
        let name = match api {
            Api::OpenAi => match (
                t.get("type").and_then(Value::as_str),
                t.pointer("/function/name"),
            ) {
                (Some("function"), Some(Value::String(n))) => n.clone(),
                _ => {
                    return invalid(format!(
                        "Missing required parameter: 'tools[{i}].function'."
                    ));
                }
            },
            Api::Anthropic => match (t.get("name"), t.get("input_schema")) {
                (Some(Value::String(n)), Some(Value::Object(_))) => n.clone(),
                _ => return invalid(format!("tools.{i}.custom.input_schema: Field required")),
            },
            Api::Gemini => unreachable!("parse_gemini reads its own tools"),
        };
        names.push(name);
    }
    Ok(names)
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
    reply: &Reply,
) -> Value {
    let input = call.map_or(0, prompt_tokens);
    let text = reply.content.as_deref().unwrap_or("");
    let output = words(text)
        + reply
            .calls
            .iter()
            .map(|c| words(&c.arguments) + 1)
            .sum::<u64>();
    let tooled = !reply.calls.is_empty();
    match api {
        Api::OpenAi => json!({
            "id": format!("chatcmpl-fake{id:012}"),
            "object": "chat.completion",
            "created": unix_now(),
            "model": model,
            "choices": [{
                "index": 0,
                "message": openai_message(reply),
                "logprobs": null,
                "finish_reason": reply.finish.clone().unwrap_or_else(|| {
                    (if tooled { "tool_calls" } else { "stop" }).into()
                }),
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
            "content": anthropic_blocks(reply),
            "stop_reason": reply.finish.clone().unwrap_or_else(|| {
                (if tooled { "tool_use" } else { "end_turn" }).into()
            }),
            "stop_sequence": null,
            "usage": { "input_tokens": input, "output_tokens": output },
        }),
        Api::Gemini => json!({
            "candidates": [{
                "content": { "role": "model", "parts": gemini_parts(id, reply) },
                "finishReason": reply.finish.clone().unwrap_or_else(|| "STOP".into()),
                "index": 0,
            }],
            "usageMetadata": {
                "promptTokenCount": input,
                "candidatesTokenCount": output,
                "totalTokenCount": input + output,
            },
            "modelVersion": model,
            "responseId": format!("fake{id:012}"),
        }),
    }
}

/// Gemini's parts: a text part (unless the reply has no text and calls
/// tools), then a `functionCall` part a call, without an id (as the
/// Developer API sends them) and, on the first, a `thoughtSignature` the
/// client must send back.
fn gemini_parts(id: u64, reply: &Reply) -> Value {
    let mut parts = Vec::new();
    match &reply.content {
        Some(text) if !text.is_empty() || reply.calls.is_empty() => {
            parts.push(json!({ "text": text }));
        }
        None if reply.calls.is_empty() => parts.push(json!({ "text": "" })),
        _ => {}
    }
    for (i, c) in reply.calls.iter().enumerate() {
        let args: Value = serde_json::from_str(&c.arguments).unwrap_or_else(|_| json!({}));
        let mut part = json!({ "functionCall": { "name": c.name, "args": args } });
        if i == 0 {
            part["thoughtSignature"] = Value::from(format!("fake-signature-{id}"));
        }
        parts.push(part);
    }
    Value::Array(parts)
}

/// OpenAI's assistant message: `content` as the reply has it (`null`, `""`
/// or text) and `tool_calls` when it calls tools.
fn openai_message(reply: &Reply) -> Value {
    let mut m = json!({ "role": "assistant", "content": reply.content, "refusal": null });
    if !reply.calls.is_empty() {
        m["tool_calls"] = reply
            .calls
            .iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "type": "function",
                    "function": { "name": c.name, "arguments": c.arguments },
                })
            })
            .collect();
    }
    m
}

/// Anthropic's content blocks: a text block (unless the reply has no text
/// and calls tools), then a `tool_use` block a call.
fn anthropic_blocks(reply: &Reply) -> Value {
    let mut blocks = Vec::new();
    match &reply.content {
        Some(text) if !text.is_empty() || reply.calls.is_empty() => {
            blocks.push(json!({ "type": "text", "text": text }));
        }
        None if reply.calls.is_empty() => blocks.push(json!({ "type": "text", "text": "" })),
        _ => {}
    }
    for c in &reply.calls {
        let input: Value = serde_json::from_str(&c.arguments).unwrap_or_else(|_| json!({}));
        blocks.push(json!({ "type": "tool_use", "id": c.id, "name": c.name, "input": input }));
    }
    Value::Array(blocks)
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
        Api::Gemini => json!({
            "models": [{
                "name": "models/gemini-2.5-flash",
                "displayName": "Gemini 2.5 Flash",
                "inputTokenLimit": 1048576,
                "outputTokenLimit": 65536,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            }],
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
        // Gemini: (status, -, message)
        Api::Gemini => match status {
            400 => (
                "INVALID_ARGUMENT",
                None,
                "Request contains an invalid argument.",
            ),
            401 => (
                "UNAUTHENTICATED",
                None,
                "Request had invalid authentication credentials.",
            ),
            403 => (
                "PERMISSION_DENIED",
                None,
                "The caller does not have permission",
            ),
            404 => ("NOT_FOUND", None, "Requested entity was not found."),
            429 => (
                "RESOURCE_EXHAUSTED",
                None,
                "Resource has been exhausted (e.g. check quota).",
            ),
            503 => (
                "UNAVAILABLE",
                None,
                "The model is overloaded. Please try again later.",
            ),
            504 => (
                "DEADLINE_EXCEEDED",
                None,
                "Deadline expired before operation could complete.",
            ),
            500..=599 => ("INTERNAL", None, "An internal error has occurred."),
            _ => ("UNKNOWN", None, "The request failed."),
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
        Api::Gemini => json!({
            "error": { "code": status, "message": message, "status": kind },
        }),
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
