//! The echo provider: answers with the rendered prompt. No network; for dry runs.

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::chat::{CallError, ChatRequest, ChatResponse, Provider};

pub(crate) struct Echo;

impl Provider for Echo {
    fn complete<'a>(
        &'a self,
        req: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, CallError>> {
        let content = req
            .messages
            .iter()
            .map(|m| format!("[{}]\n{}", m.role, m.content))
            .collect::<Vec<_>>()
            .join("\n\n");
        Box::pin(std::future::ready(Ok(ChatResponse {
            content,
            tokens_in: None,
            tokens_out: None,
            latency_ms: None,
            ..ChatResponse::default()
        })))
    }

    fn identity(&self) -> Value {
        json!({ "type": "echo" })
    }

    fn is_remote(&self) -> bool {
        false
    }
}
