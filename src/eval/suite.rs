//! Eval suites (`evals/<suite>.yaml`) and their cases: strict wire structs.
//!
//! Cases may be inline or in a JSONL file beside the suite; the JSONL file is
//! read line by line ([`CaseReader`]) so a large dataset never sits in memory
//! whole, and every bad line is reported with its line number.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;
use crate::version::artifact::spec::{self, ModelSpec, ReasoningEffort};
use crate::workspace::Workspace;
use crate::workspace::bounded;

/// The whole of an eval suite file, `evals/<suite>.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "eval suite",
    description = "An eval suite (evals/<suite>.yaml): the prompt under test, its cases, assertions, an optional LLM judge, and the gates a run must pass. Unknown keys are errors."
)]
pub(crate) struct SuiteSpec {
    /// For humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The prompt under test: `name` (the draft) or `name@X.Y.Z`.
    #[schemars(regex(
        pattern = r"^[a-z0-9][a-z0-9_-]{0,63}(@v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?)?$"
    ))]
    pub prompt: String,
    /// A provider from `promptctl.yaml` to run the cases on (default: the
    /// prompt's `model.provider`); `--provider` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The cases: a file beside the suite (`.jsonl`, one case a line, or a
    /// YAML list), or an inline list.
    pub cases: CasesSpec,
    /// What applies to every case.
    #[serde(default)]
    pub defaults: Defaults,
    /// An LLM judge that scores every answer on named criteria.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rubric: Option<Rubric>,
    /// The thresholds a run must meet to pass (exit 0).
    #[serde(default)]
    pub gates: Gates,
}

/// A JSONL/YAML file of cases beside the suite, or an inline list.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum CasesSpec {
    /// A file beside the suite: `.jsonl` (one case a line) or a YAML list.
    File(String),
    /// The cases themselves.
    Inline(Vec<Case>),
}

/// What applies to every case.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Defaults {
    /// Assertions checked on every case, before the case's own.
    #[serde(default, rename = "assert")]
    pub asserts: Vec<Assertion>,
    /// Let an answer cut off by the token limit (`finish_reason: length`,
    /// `stop_reason: max_tokens`) pass on its assertions. By default it
    /// fails its case: "truncated at max_tokens".
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_truncated: bool,
    /// The most model calls a case with scripted `tools:` may make before
    /// it gives a final answer (default 5); running out is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_turns: Option<u32>,
}

/// Model calls a case with scripted tools may make, when `max_turns` is not set.
pub(crate) const DEFAULT_MAX_TURNS: u32 = 5;

/// One prior turn of a conversation, placed after the prompt's messages.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Turn {
    /// `user`, `assistant` or `tool` (a tool's result).
    pub role: TurnRole,
    /// The text; for a `tool` turn, its result.
    #[serde(default)]
    pub content: String,
    /// The tools an `assistant` turn called.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<TurnCall>,
    /// For a `tool` turn: the `id` of the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// For a `tool` turn: the tool failed, and `content` is its error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
}

/// Who says a prior turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TurnRole {
    User,
    Assistant,
    Tool,
}

/// A tool call in a prior `assistant` turn.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TurnCall {
    /// The call's id, which the `tool` turn answering it names.
    pub id: String,
    /// A tool the prompt declares.
    pub name: String,
    /// The arguments (a JSON object).
    #[serde(default)]
    pub arguments: serde_json::Map<String, Value>,
}

/// One eval case.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Case {
    /// A unique id within the suite, e.g. `billing-double-charge`.
    pub id: String,
    /// The prompt's variables for this case.
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
    /// The expected answer, for the judge and for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
    /// A segment to report and gate by, e.g. `billing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// Tags that `eval --tag` selects by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// This case's assertions, checked after the suite's defaults.
    #[serde(default, rename = "assert", skip_serializing_if = "Vec::is_empty")]
    pub asserts: Vec<Assertion>,
    /// Prior turns of the conversation, sent after the prompt's messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Turn>,
    /// Scripted tool results by tool name. With `tools:` the case runs a
    /// tool loop: each call the model makes is answered from here and the
    /// model is called again, until it answers without calling a tool. A
    /// value is returned for every call; a list is consumed call by call;
    /// `{ error: "…" }` is a failed call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<BTreeMap<String, Value>>,
    /// The most model calls this case may make (default: the suite's
    /// `defaults.max_turns`, else 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_turns: Option<u32>,
}

/// What an assertion checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AssertionType {
    /// The answer equals `value` (a string, trimmed; or any JSON value).
    Equals,
    /// The answer contains the string `value`.
    Contains,
    /// The answer contains at least one of the strings in `value`.
    ContainsAny,
    /// The answer contains every string in `value`.
    ContainsAll,
    /// The answer does not contain the string `value`.
    NotContains,
    /// The answer matches the regular expression `value`.
    Regex,
    /// The answer does not match the regular expression `value`.
    NotRegex,
    /// The answer starts with the string `value` (leading space ignored).
    StartsWith,
    /// The answer is valid JSON.
    IsJson,
    /// The answer is JSON valid against the JSON Schema `value`.
    JsonSchema,
    /// The answer has at most `value` characters.
    MaxChars,
    /// The answer has at most `value` words.
    MaxWords,
    /// The answer is a refusal.
    Refusal,
    /// The answer is not a refusal.
    NotRefusal,
    /// The call took at most `value` milliseconds.
    LatencyMs,
    /// The call cost at most `value` USD.
    CostUsd,
    /// The judge answers the question `value` about the answer.
    Rubric,
    /// The model called the tool `value` (a name, or `{name, times}`,
    /// `{name, min, max}`).
    ToolCalled,
    /// The model did not call the tool `value`.
    ToolNotCalled,
    /// A call of `value.name` has arguments containing `value.args` (a JSON
    /// subset) and/or valid against `value.schema`; `value.call` (1-based)
    /// picks one call, else any call may match.
    ToolArgs,
    /// The model called the tools `value` in this order: a list (a
    /// subsequence of the calls), or `{names, mode: exact|subsequence}`.
    ToolSequence,
    /// Every call names a tool the prompt declares, with arguments valid
    /// against its parameter schema: valid JSON, no unknown or missing fields.
    ValidToolCalls,
}

/// An assertion type as suites spell it (`tool_called`).
pub(crate) fn type_name(t: AssertionType) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// One assertion on an answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = value_by_type)]
pub(crate) struct Assertion {
    /// What to check.
    #[serde(rename = "type")]
    pub kind: AssertionType,
    /// The argument: a string, a list of strings, a number or a JSON Schema,
    /// by `type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// The assertion's weight in the case's score (default 1, at least 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub weight: Option<f64>,
    /// A name to aggregate this assertion's results by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
}

/// The `value` each assertion `type` needs, as `Compiled::new` checks it
/// when a run starts: a schema part by hand, since `value` is any JSON.
fn value_by_type(schema: &mut schemars::Schema) {
    let needs = |types: &[&str], value: Value| {
        serde_json::json!({
            "if": { "properties": { "type": { "enum": types } }, "required": ["type"] },
            "then": { "properties": { "value": value }, "required": ["value"] },
        })
    };
    let texts = [
        "contains",
        "not_contains",
        "starts_with",
        "regex",
        "not_regex",
        "rubric",
    ];
    let numbers = ["max_chars", "max_words", "latency_ms", "cost_usd"];
    let count = serde_json::json!({ "type": "integer", "minimum": 0 });
    schema.insert(
        "allOf".into(),
        serde_json::json!([
            needs(&texts, serde_json::json!({ "type": "string" })),
            needs(
                &["contains_any", "contains_all"],
                serde_json::json!({ "type": "array", "items": { "type": "string" }, "minItems": 1 }),
            ),
            needs(&numbers, serde_json::json!({ "type": "number" })),
            needs(&["json_schema"], serde_json::json!({ "type": "object" })),
            needs(&["equals"], serde_json::json!({ "not": { "type": "null" } })),
            needs(
                &["tool_called"],
                serde_json::json!({ "oneOf": [
                    { "type": "string" },
                    { "type": "object", "required": ["name"], "additionalProperties": false,
                      "properties": { "name": { "type": "string" }, "times": count,
                                      "min": count, "max": count } },
                ] }),
            ),
            needs(&["tool_not_called"], serde_json::json!({ "type": "string" })),
            needs(
                &["tool_args"],
                serde_json::json!({
                    "type": "object", "required": ["name"], "additionalProperties": false,
                    "properties": { "name": { "type": "string" }, "args": {},
                                    "schema": { "type": "object" },
                                    "call": { "type": "integer", "minimum": 1 } },
                    "anyOf": [{ "required": ["args"] }, { "required": ["schema"] }],
                }),
            ),
            needs(
                &["tool_sequence"],
                serde_json::json!({ "oneOf": [
                    { "type": "array", "items": { "type": "string" }, "minItems": 1 },
                    { "type": "object", "required": ["names"], "additionalProperties": false,
                      "properties": { "names": { "type": "array", "items": { "type": "string" } },
                                      "mode": { "enum": ["exact", "subsequence"] } } },
                ] }),
            ),
        ]),
    );
}

/// An LLM judge and what it scores.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rubric {
    /// The model that judges.
    pub judge: Judge,
    /// Criterion name → what the judge scores, 0..1 per case.
    pub criteria: BTreeMap<String, String>,
}

/// The judge model and its parameters; part of a run's identity. The
/// parameters are a prompt's `model:` parameters, and as there, one left
/// out is not sent: no temperature, seed or token limit unless set here
/// (the Anthropic API, which requires `max_tokens`, gets the provider's
/// default).
// The parameters repeat `ModelSpec`'s (serde's `flatten` would lose the
// strict loader's line numbers); a test keeps the two lists the same.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Judge {
    /// A provider from `promptctl.yaml`.
    pub provider: String,
    /// The judge model's name, e.g. `gpt-4o`.
    pub model: String,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// The most tokens the verdict may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// The most tokens the verdict may have, reasoning included (OpenAI
    /// reasoning models take it instead of `max_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// A sampling seed, for providers that honour one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Nucleus sampling: the probability mass to sample from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Sequences that end the verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    /// OpenAI's presence penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// OpenAI's frequency penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// How hard a reasoning judge thinks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<ReasoningEffort>,
    /// Provider-specific request fields, sent verbatim; a field promptctl
    /// sets itself is refused.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "spec::extra"
    )]
    #[schemars(schema_with = "spec::extra_schema")]
    pub extra: BTreeMap<String, Value>,
}

impl Judge {
    /// The judge as a prompt's `model:` block would be, at `provider` (the
    /// suite's, or the one `--judge-provider` names).
    pub(crate) fn model_spec(&self, provider: &str) -> ModelSpec {
        ModelSpec {
            provider: provider.to_string(),
            name: self.model.clone(),
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            seed: self.seed,
            top_p: self.top_p,
            stop: self.stop.clone(),
            presence_penalty: self.presence_penalty,
            frequency_penalty: self.frequency_penalty,
            max_completion_tokens: self.max_completion_tokens,
            reasoning_effort: self.reasoning_effort,
            // The judge's verdict is checked by its own parser.
            response_format: None,
            extra: self.extra.clone(),
        }
    }
}

/// The thresholds a run must meet. A gate whose metric is missing fails.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Gates {
    /// The least share of cases whose assertions all pass, 0..1.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "rate"
    )]
    pub pass_rate: Option<f64>,
    /// Criterion → the least mean judge score, 0..1.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "rates"
    )]
    pub criteria: BTreeMap<String, f64>,
    /// The most share of cases that could not be evaluated (default 0).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "rate"
    )]
    pub max_error_rate: Option<f64>,
    /// The most 95th-percentile latency, in milliseconds.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "amount"
    )]
    pub latency_p95_ms: Option<f64>,
    /// The most the run may cost, in USD.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "amount"
    )]
    pub max_cost_usd: Option<f64>,
    /// The least share of tool calls that are schema-conformant (a declared
    /// tool, valid arguments), 0..1. A run with no tool calls fails it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "rate"
    )]
    pub tool_call_validity: Option<f64>,
    /// The most the pass rate may drop against `--baseline`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "rate"
    )]
    pub max_regression: Option<f64>,
    /// Segment → gates for the cases of that segment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub segments: BTreeMap<String, SegmentGates>,
}

fn rate<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    bounded::optional_f64(d, &bounded::RATE)
}

fn amount<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    bounded::optional_f64(d, &bounded::AMOUNT)
}

fn rates<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
    bounded::map_f64(d, &bounded::RATE)
}

impl Gates {
    /// No gate is set (no `gates:`, or `gates: {}`): the strict default
    /// applies, every case passes and none errors.
    pub(crate) fn is_unset(&self) -> bool {
        self.pass_rate.is_none()
            && self.criteria.is_empty()
            && self.max_error_rate.is_none()
            && self.latency_p95_ms.is_none()
            && self.max_cost_usd.is_none()
            && self.tool_call_validity.is_none()
            && self.max_regression.is_none()
            && self.segments.is_empty()
    }
}

/// The gates for one segment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SegmentGates {
    /// The least share of this segment's cases that pass, 0..1.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "rate"
    )]
    pub pass_rate: Option<f64>,
    /// Criterion → the least mean judge score in this segment, 0..1.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "rates"
    )]
    pub criteria: BTreeMap<String, f64>,
    /// The least share of this segment's tool calls that are
    /// schema-conformant, 0..1.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "rate"
    )]
    pub tool_call_validity: Option<f64>,
}

/// A suite read from disk.
#[derive(Debug, Clone)]
pub(crate) struct Suite {
    pub name: String,
    pub path: PathBuf,
    /// How errors name the file, relative to the workspace.
    pub label: String,
    pub spec: SuiteSpec,
}

impl Suite {
    /// Loads `evals/<name>.yaml`, or a path to a suite file.
    pub(crate) fn load(ws: &Workspace, name_or_path: &str) -> Result<Suite, Error> {
        let as_path = Path::new(name_or_path);
        let path = if name_or_path.ends_with(".yaml") || name_or_path.ends_with(".yml") {
            if as_path.is_absolute() {
                as_path.to_path_buf()
            } else {
                ws.root.join(as_path)
            }
        } else {
            ws.evals_dir().join(format!("{name_or_path}.yaml"))
        };
        let label = path
            .strip_prefix(&ws.root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or(name_or_path)
            .to_string();
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::invalid(format!(
                "no suite `{name_or_path}`: `{label}` does not exist"
            )),
            _ => Error::invalid(format!("cannot read `{label}`: {e}")),
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|e| crate::error::not_utf8(&label, e.as_bytes(), &e.utf8_error()))?;
        let spec: SuiteSpec = crate::workspace::yaml::from_str(Path::new(&label), &text)?;
        Ok(Suite {
            name,
            path,
            label,
            spec,
        })
    }

    /// Every suite under `evals/`, sorted by name. Files that do not parse
    /// are returned as errors so callers can report them.
    pub(crate) fn all(ws: &Workspace) -> Vec<Result<Suite, Error>> {
        Suite::all_by_path(ws).into_iter().map(|(_, s)| s).collect()
    }

    /// Every suite file in `evals/` with what loading it gave, sorted by
    /// path. A YAML list of cases that a suite names as its `cases:` file
    /// (SPEC §1 allows one beside the suite) is that suite's dataset, not a
    /// suite, and is left out.
    pub(crate) fn all_by_path(ws: &Workspace) -> Vec<(PathBuf, Result<Suite, Error>)> {
        let Ok(entries) = std::fs::read_dir(ws.evals_dir()) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        paths.sort();
        let loaded: Vec<(PathBuf, Result<Suite, Error>)> = paths
            .into_iter()
            .map(|p| {
                let suite = Suite::load(ws, &p.to_string_lossy());
                (p, suite)
            })
            .collect();
        let datasets: std::collections::HashSet<PathBuf> = loaded
            .iter()
            .filter_map(|(_, s)| s.as_ref().ok())
            .filter_map(Suite::cases_path)
            .collect();
        loaded
            .into_iter()
            .filter(|(p, _)| !datasets.contains(p))
            .collect()
    }

    /// Where the cases file is (beside the suite), when the cases are not inline.
    pub(crate) fn cases_path(&self) -> Option<PathBuf> {
        match &self.spec.cases {
            CasesSpec::File(f) => Some(self.path.parent().unwrap_or(Path::new(".")).join(f)),
            CasesSpec::Inline(_) => None,
        }
    }

    /// How errors name the file the cases are in: the cases file beside
    /// the suite, or the suite itself for inline cases.
    pub(crate) fn cases_label(&self) -> String {
        match &self.spec.cases {
            CasesSpec::File(file) => Path::new(&self.label)
                .parent()
                .unwrap_or(Path::new(""))
                .join(file)
                .display()
                .to_string(),
            CasesSpec::Inline(_) => self.label.clone(),
        }
    }

    /// The line of case `index` (0-based, in file order) in
    /// [`Suite::cases_label`]: `line` when the reader knew it (JSONL), else
    /// the line of the case's `id:` in the YAML. For errors only: it reads
    /// the file again.
    pub(crate) fn case_line(&self, index: usize, line: Option<usize>) -> Option<usize> {
        if line.is_some() {
            return line;
        }
        let i = index.to_string();
        let (path, steps) = match &self.spec.cases {
            CasesSpec::Inline(_) => (self.path.clone(), vec!["cases", &i, "id"]),
            CasesSpec::File(_) => (self.cases_path()?, vec![&i, "id"]),
        };
        let text = std::fs::read_to_string(path).ok()?;
        crate::workspace::yaml::line_at(&text, &steps)
    }

    /// The suite's cases, read one at a time.
    pub(crate) fn cases(&self) -> Result<CaseReader, Error> {
        match &self.spec.cases {
            CasesSpec::Inline(cases) => Ok(CaseReader::Inline(cases.clone().into_iter())),
            CasesSpec::File(file) => {
                let dir = self.path.parent().unwrap_or(Path::new("."));
                let path = dir.join(file);
                let label = self.cases_label();
                if file.ends_with(".jsonl") {
                    let f = std::fs::File::open(&path).map_err(|e| {
                        Error::invalid(format!(
                            "`{}`: cases: cannot open `{label}`: {e}",
                            self.label
                        ))
                    })?;
                    Ok(CaseReader::Jsonl {
                        reader: std::io::BufReader::new(f),
                        buf: Vec::new(),
                        label,
                        line: 0,
                        offset: 0,
                    })
                } else {
                    let cases: Vec<Case> = crate::workspace::yaml::load(&path).map_err(|e| {
                        Error::invalid(e.message().replace(&path.display().to_string(), &label))
                    })?;
                    Ok(CaseReader::Inline(cases.into_iter()))
                }
            }
        }
    }
}

/// The case ids of a suite read so far: an empty or repeated id is
/// invalid, and the error names the file and line of each occurrence.
#[derive(Debug, Default)]
pub(crate) struct Ids(HashMap<String, (usize, Option<usize>)>);

impl Ids {
    /// Checks case `index` (0-based, in file order), read from JSONL `line`
    /// if known ([`CaseReader::line`]).
    pub(crate) fn check(
        &mut self,
        suite: &Suite,
        index: usize,
        line: Option<usize>,
        case: &Case,
    ) -> Result<(), Error> {
        let at = |index: usize, line: Option<usize>| match suite.case_line(index, line) {
            Some(l) => format!("{}:{l}", suite.cases_label()),
            None => suite.cases_label(),
        };
        if case.id.trim().is_empty() {
            return Err(Error::invalid(format!(
                "`{}`: case #{}: `id` is empty",
                at(index, line),
                index + 1
            )));
        }
        let Some(&(first, first_line)) = self.0.get(&case.id) else {
            self.0.insert(case.id.clone(), (index, line));
            return Ok(());
        };
        let message = match (
            suite.case_line(first, first_line),
            suite.case_line(index, line),
        ) {
            (Some(a), Some(b)) => format!(
                "`{}:{b}`: case id `{}` appears twice (first at line {a})",
                suite.cases_label(),
                case.id
            ),
            _ => format!(
                "`{}`: case id `{}` appears twice (cases #{} and #{})",
                suite.cases_label(),
                case.id,
                first + 1,
                index + 1
            ),
        };
        Err(Error::invalid(message).with_hint("give every case its own id"))
    }
}

/// Cases in file order; a line that does not parse is an error naming it.
/// A JSONL file may start with a UTF-8 byte-order mark.
pub(crate) enum CaseReader {
    Inline(std::vec::IntoIter<Case>),
    Jsonl {
        reader: std::io::BufReader<std::fs::File>,
        /// The bytes of the line being read.
        buf: Vec<u8>,
        label: String,
        /// The 1-based number of the last line read.
        line: usize,
        /// The byte offset of the next line.
        offset: u64,
    },
}

impl CaseReader {
    /// The line of a JSONL file that the last case came from; `None` for
    /// cases in YAML (see [`Suite::case_line`]).
    pub(crate) fn line(&self) -> Option<usize> {
        match self {
            CaseReader::Inline(_) => None,
            CaseReader::Jsonl { line, .. } => Some(*line),
        }
    }
}

impl Iterator for CaseReader {
    type Item = Result<Case, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            CaseReader::Inline(it) => it.next().map(Ok),
            CaseReader::Jsonl {
                reader,
                buf,
                label,
                line,
                offset,
            } => loop {
                buf.clear();
                let start = *offset;
                match reader.read_until(b'\n', buf) {
                    Ok(0) => return None,
                    Ok(n) => *offset += n as u64,
                    Err(e) => return Some(Err(Error::invalid(format!("`{label}`: {e}")))),
                }
                *line += 1;
                let mut bytes = buf.strip_suffix(b"\n").unwrap_or(buf);
                bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
                let mut skipped = 0;
                if *line == 1 {
                    let rest = crate::workspace::text::strip_bom_bytes(bytes);
                    skipped = (bytes.len() - rest.len()) as u64;
                    bytes = rest;
                }
                let text = match std::str::from_utf8(bytes) {
                    Ok(t) => t,
                    Err(e) => {
                        return Some(Err(crate::error::not_utf8_in(
                            label,
                            bytes,
                            &e,
                            *line,
                            start + skipped,
                        )));
                    }
                };
                if text.trim().is_empty() {
                    continue;
                }
                return Some(serde_json::from_str(text).map_err(|e| {
                    let msg = e.to_string();
                    let msg = msg
                        .rfind(" at line ")
                        .map_or(msg.as_str(), |i| &msg[..i])
                        .to_string();
                    Error::invalid(format!("`{label}:{}:{}`: {msg}", line, e.column()))
                }));
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys of a struct's JSON Schema.
    fn properties<T: JsonSchema>() -> std::collections::BTreeSet<String> {
        let schema = schemars::schema_for!(T).to_value();
        schema["properties"]
            .as_object()
            .expect("an object schema")
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn the_judge_takes_every_parameter_a_prompt_does() {
        let mut prompt = properties::<ModelSpec>();
        prompt.remove("name");
        // The judge's verdict is checked by its own strict parser.
        prompt.remove("response_format");
        let mut judge = properties::<Judge>();
        judge.remove("model");
        assert_eq!(judge, prompt);
    }

    #[test]
    fn a_judge_sends_only_what_the_suite_sets() {
        let judge: Judge = serde_yaml::from_str("{ provider: p, model: m }").unwrap();
        let spec = judge.model_spec("q");
        assert_eq!(
            spec,
            ModelSpec {
                provider: "q".into(),
                name: "m".into(),
                ..ModelSpec::default()
            }
        );
        let judge: Judge = serde_yaml::from_str(
            "{ provider: p, model: m, max_completion_tokens: 9, reasoning_effort: low, extra: { service_tier: flex } }",
        )
        .unwrap();
        let spec = judge.model_spec("p");
        assert_eq!(spec.max_completion_tokens, Some(9));
        assert_eq!(spec.reasoning_effort, Some(ReasoningEffort::Low));
        assert_eq!(spec.extra["service_tier"], "flex");
        assert!(
            serde_yaml::from_str::<Judge>("{ provider: p, model: m, extra: { seed: 1 } }").is_err()
        );
    }
}
