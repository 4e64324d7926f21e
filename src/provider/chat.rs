//! The provider-neutral call: the request every provider takes, the answer
//! it gives, the errors a call can end in, and the [`Provider`] trait.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::version::artifact::spec::ModelSpec;
use crate::version::artifact::tools::Tools;

/// One chat message as sent to a model: `system`, `user`, `assistant` (with
/// the tool calls it made, if any) or `tool` (the result of one call).
///
/// The fields beyond `role` and `content` are left out when empty, so a
/// text-only conversation hashes as it always has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChatMessage {
    pub role: String,
    #[serde(default)]
    pub content: String,
    /// The calls an `assistant` turn made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The call a `tool` turn answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// The tool failed: `content` is its error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
}

impl ChatMessage {
    /// A text message.
    pub(crate) fn new(role: &str, content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: role.to_string(),
            content: content.into(),
            ..ChatMessage::default()
        }
    }
}

/// How the ids the runner gives calls that came without one begin
/// (`promptctl_call_{turn}_{i}`): a provider that sends ids back knows
/// them from the API's own.
pub(crate) const GENERATED_CALL_ID: &str = "promptctl_call_";

/// One tool call, as the model made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ToolCall {
    /// The API's id for the call, which its result must name.
    #[serde(default)]
    pub id: String,
    pub name: String,
    /// The arguments, parsed as JSON (`null` when they are not JSON).
    #[serde(default)]
    pub arguments: Value,
    /// The arguments as sent, when they are not valid JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_arguments: Option<String>,
    /// An opaque token the API sent with the call and wants back with it
    /// in the next turn (Gemini's `thoughtSignature`); absent otherwise, so
    /// other APIs' calls hash as they always have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

impl ToolCall {
    /// A call whose arguments came as a string (OpenAI's shape): parsed if
    /// they are JSON, kept raw if not. An empty string is no arguments.
    pub(crate) fn from_string(id: String, name: String, arguments: &str) -> ToolCall {
        let (arguments, raw_arguments) = if arguments.trim().is_empty() {
            (Value::Object(Default::default()), None)
        } else {
            match serde_json::from_str::<Value>(arguments) {
                Ok(v) => (v, None),
                Err(_) => (Value::Null, Some(arguments.to_string())),
            }
        };
        ToolCall {
            id,
            name,
            arguments,
            raw_arguments,
            signature: None,
        }
    }

    /// The arguments as a string, as OpenAI takes them back.
    pub(crate) fn arguments_string(&self) -> String {
        match &self.raw_arguments {
            Some(raw) => raw.clone(),
            None => self.arguments.to_string(),
        }
    }
}

/// Everything that decides a model's answer. Its canonical hash (without the
/// provider's identity) keys cassettes; with it, the response cache.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChatRequest {
    pub model: ModelSpec,
    pub messages: Vec<ChatMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Tools>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// The name the API is given for `output_schema` when the model's
    /// `response_format` asks it to enforce the schema (OpenAI requires one);
    /// absent otherwise, so requests that do not enforce hash as before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_name: Option<String>,
}

impl ChatRequest {
    /// sha256 of the canonical request: model, every parameter (`extra`
    /// and `response_format` included), messages, tools and output schema.
    /// Cassettes are keyed by this.
    pub(crate) fn request_hash(&self) -> String {
        crate::version::canonical::hash_of(self)
    }
}

/// Why the model stopped, as either API reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StopReason {
    /// A natural end (OpenAI `stop`, Anthropic `end_turn` / `stop_sequence`).
    Stop,
    /// The token limit cut the answer off (OpenAI `length`, Anthropic `max_tokens`).
    Length,
    /// The model called tools (OpenAI `tool_calls`, Anthropic `tool_use`).
    ToolCalls,
    /// The provider's content filter stopped it (OpenAI `content_filter`,
    /// Gemini `SAFETY` and its kin).
    ContentFilter,
    /// The model declined (Anthropic `refusal`).
    Refusal,
    /// Anything else, as sent.
    Other(String),
}

impl StopReason {
    /// OpenAI's `finish_reason`.
    pub(crate) fn from_openai(s: &str) -> StopReason {
        match s {
            "stop" => StopReason::Stop,
            "length" => StopReason::Length,
            "tool_calls" | "function_call" => StopReason::ToolCalls,
            "content_filter" => StopReason::ContentFilter,
            other => StopReason::Other(other.to_string()),
        }
    }

    /// Gemini's `finishReason`. Every reason that means a filter cut the
    /// answer (safety, recitation, a blocklist, prohibited content, personal
    /// data) is [`StopReason::ContentFilter`], so those answers fail closed.
    /// A natural stop that called tools is [`StopReason::ToolCalls`]: Gemini
    /// says `STOP` either way.
    pub(crate) fn from_gemini(s: &str, called: bool) -> StopReason {
        match s {
            "STOP" if called => StopReason::ToolCalls,
            "STOP" => StopReason::Stop,
            "MAX_TOKENS" => StopReason::Length,
            "SAFETY"
            | "RECITATION"
            | "BLOCKLIST"
            | "PROHIBITED_CONTENT"
            | "SPII"
            | "IMAGE_SAFETY"
            | "IMAGE_PROHIBITED_CONTENT"
            | "IMAGE_RECITATION" => StopReason::ContentFilter,
            other => StopReason::Other(other.to_string()),
        }
    }

    /// Anthropic's `stop_reason`.
    pub(crate) fn from_anthropic(s: &str) -> StopReason {
        match s {
            "end_turn" | "stop_sequence" => StopReason::Stop,
            "max_tokens" => StopReason::Length,
            "tool_use" => StopReason::ToolCalls,
            "refusal" => StopReason::Refusal,
            other => StopReason::Other(other.to_string()),
        }
    }
}

/// A model's answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ChatResponse {
    pub content: String,
    /// Why the model stopped; absent from text-only recordings and caches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<StopReason>,
    /// The model's refusal message (OpenAI `message.refusal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// The tools the model called, in order. (Recordings made before calls
    /// were recorded hold `true` here, and the calls as JSON in `content`.)
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "calls_or_flag"
    )]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_out: Option<u64>,
    /// Input tokens read from the provider's prompt cache (OpenAI
    /// `cached_tokens`, Anthropic `cache_read_input_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_cached: Option<u64>,
    /// Output tokens spent reasoning (OpenAI `reasoning_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_reasoning: Option<u64>,
    /// The latency recorded with the answer (replay, cache), in place of the
    /// near-zero time it took to read it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

/// The non-empty `name` of a tool call as a provider sent it, or the error
/// for a malformed one (`at` says where: `content[2]`), retried like any
/// garbled answer.
pub(crate) fn call_name<'v>(
    provider: &str,
    call: &'v Value,
    at: &str,
) -> Result<&'v str, CallError> {
    call.get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| CallError::Retryable {
            message: format!("provider `{provider}` sent a malformed tool call: {at} has no name"),
            retry_after: None,
        })
}

/// The tool calls of an answer, or the flag older recordings kept instead.
fn calls_or_flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ToolCall>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Calls(Vec<ToolCall>),
        Flag(#[allow(dead_code, reason = "read to be dropped")] bool),
    }
    Ok(match Either::deserialize(d)? {
        Either::Calls(calls) => calls,
        Either::Flag(_) => Vec::new(),
    })
}

impl ChatResponse {
    /// Neither text, nor a refusal, nor a tool call: no answer at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.content.trim().is_empty() && self.refusal.is_none() && self.tool_calls.is_empty()
    }
}

/// How a call failed, by what to do next.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum CallError {
    /// The key was refused (401/403) or is missing: stop the whole run.
    #[error("{0}")]
    Auth(String),
    /// Worth another try: 429, 5xx, a garbled body.
    #[error("{message}")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// No answer at all: a timeout, a refused connection, a connection
    /// dropped before the answer was read. Worth another try, and counted by
    /// the runner's circuit breaker, which declares a provider that keeps
    /// giving no answer down.
    #[error("{0}")]
    NoAnswer(String),
    /// The provider's circuit breaker is open: it gave no answer too many
    /// times in a row. Never returned by a provider: the runner says so, and
    /// stops the whole run.
    #[error("{0}")]
    Down(String),
    /// This case cannot succeed (400, 404, 422, a missing recording, an
    /// answer over `max_response_bytes`, a `Retry-After` over
    /// `max_retry_wait_s`).
    #[error("{0}")]
    Fatal(String),
}

impl CallError {
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Retryable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub(crate) fn is_retryable(&self) -> bool {
        matches!(self, CallError::Retryable { .. } | CallError::NoAnswer(_))
    }
}

/// A model API.
pub(crate) trait Provider: Send + Sync {
    /// Answers one request. No retries, no waiting: the runner does those.
    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, CallError>>;

    /// What identifies this endpoint in the response cache key (type and base URL).
    fn identity(&self) -> Value;

    /// Whether answers come from the network (and so need limits, retries, a cache).
    fn is_remote(&self) -> bool {
        true
    }
}

/// The limits the runner applies to one provider.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub max_in_flight: usize,
    pub rps: Option<f64>,
    pub timeout: Duration,
    pub retries: u32,
    /// Calls in a row without an answer after which the provider is down.
    pub circuit_breaker: u32,
    /// The longest single wait a `Retry-After` may ask for.
    pub max_retry_wait: Duration,
    /// The largest response body read.
    pub max_response_bytes: u64,
}
