//! One case's result, as the runner records it and every summary, gate and
//! report reads it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::assertions::Outcome;
use super::judge::Score;
use crate::provider::chat::{ChatMessage, StopReason};

/// One case (one sample of it, with `--repeat`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CaseResult {
    pub id: String,
    /// 0-based sample number under `--repeat`.
    #[serde(default)]
    pub sample: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub vars: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_out: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge_cost_usd: Option<f64>,
    /// Why the model stopped, when the provider said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<StopReason>,
    /// The model refused (a refusal field, or Anthropic `stop_reason: refusal`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refused: bool,
    /// Why the answer fails whatever its assertions say: "truncated at
    /// max_tokens", "stopped by the provider's content filter".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Model calls the case made (more than one in a tool loop).
    #[serde(default = "one", skip_serializing_if = "at_most_one")]
    pub turns: u32,
    /// Tool calls the model made, and how many of them were not
    /// schema-conformant (an undeclared tool, invalid arguments).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tool_calls: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub invalid_tool_calls: u32,
    /// The conversation after the prompt's messages: the case's prior
    /// turns, then every model turn and tool result, redacted. Kept for
    /// cases with turns, a tool script or tool calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transcript: Vec<ChatMessage>,
    #[serde(default)]
    pub cached: bool,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub assertions: Vec<Outcome>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scores: BTreeMap<String, Score>,
    /// Every assertion passed and nothing failed.
    pub passed: bool,
    /// Weighted share of assertions passed (0 on error).
    pub score: f64,
    /// Why the case could not be evaluated. An error is never a pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn one() -> u32 {
    1
}

fn at_most_one(n: &u32) -> bool {
    *n <= 1
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}
