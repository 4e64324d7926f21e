//! The provider-neutral call: the request every provider takes, the answer
//! it gives, the errors a call can end in, and the [`Provider`] trait.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::version::artifact::spec::ModelSpec;

/// One chat message as sent to a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ChatMessage {
    pub role: String,
    pub content: String,
}

/// Everything that decides a model's answer. Its canonical hash (without the
/// provider's identity) keys cassettes; with it, the response cache.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChatRequest {
    pub model: ModelSpec,
    pub messages: Vec<ChatMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Value>,
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
    /// The provider's content filter stopped it (OpenAI `content_filter`).
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
    /// The reply carried tool calls (kept in `content`, as JSON, until the
    /// answer records them as calls).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tool_calls: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_out: Option<u64>,
    /// The latency recorded with the answer (replay, cache), in place of the
    /// near-zero time it took to read it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
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
