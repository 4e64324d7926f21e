//! `prompt.yaml`: the wire structs of one prompt artifact (SPEC §2).
//!
//! Strict: unknown keys are errors, and checks that fit one value (a message
//! has exactly one of `file` and `template`; a `file:` stays inside the
//! prompt's folder) run inside the parser so their errors carry a line.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::workspace::name::Name;

/// The whole of `prompt.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "prompt.yaml",
    description = "One prompt artifact: text, model and parameters, variable and output schemas, tools, retrieval settings and known limitations, versioned and hashed together. Unknown keys are errors."
)]
pub(crate) struct PromptSpec {
    /// The prompt's name; must equal its folder's name under `prompts/`.
    pub name: Name,
    /// One line on what the prompt is for. Metadata: not part of the digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Role → contact, e.g. `pm: ana@acme.test`. Metadata: not part of the
    /// digest.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub owners: BTreeMap<String, String>,
    /// The model and its parameters.
    pub model: ModelSpec,
    /// The messages sent to the model, in order; at least one.
    #[schemars(length(min = 1))]
    pub messages: Vec<MessageSpec>,
    /// The template variables (`{{name}}`) and their schemas. Every variable
    /// a message uses must be declared here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" }))]
    pub variables: BTreeMap<String, VariableSpec>,
    /// A path to a JSON Schema file beside `prompt.yaml`, or an inline schema.
    /// Every answer is validated against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<SchemaSpec>,
    /// A tool manifest (a JSON file beside `prompt.yaml`), hashed with the
    /// prompt and sent with every request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ToolsSpec>,
    /// Retrieval settings: any value, opaque to promptctl, but hashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieval: Option<Value>,
    /// Known limitations, for reviewers and the evidence pack.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limitations: Vec<String>,
    /// A token budget for the rendered system text, checked by `lint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_prompt_tokens: Option<u32>,
}

/// The model and its parameters. Parameters left out are not sent: the
/// API's own default applies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModelSpec {
    /// A provider defined under `providers:` in `promptctl.yaml`.
    pub provider: String,
    /// The model's name at that provider, e.g. `gpt-4o-mini`.
    pub name: String,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// The most tokens the answer may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// A sampling seed, for providers that honour one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Nucleus sampling: the probability mass to sample from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Sequences that end the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    /// OpenAI's presence penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// OpenAI's frequency penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// The most tokens the answer may have, reasoning included: what OpenAI's
    /// reasoning models (o-series, gpt-5) take instead of `max_tokens`. The
    /// Anthropic API takes it as `max_tokens` when that is not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// How hard a reasoning model thinks: OpenAI's `reasoning_effort`,
    /// Anthropic's `output_config.effort` (which takes `low` to `max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<ReasoningEffort>,
    /// `json_schema`: ask the API to enforce `output_schema` on the answer
    /// (OpenAI `response_format`, Anthropic `output_config.format`), as well
    /// as promptctl checking it. Needs an `output_schema`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// Provider-specific request fields, sent verbatim in the request body
    /// (e.g. Anthropic `thinking`, OpenAI `service_tier`) and hashed with the
    /// rest. A field promptctl sets itself (`model`, `messages`, `tools`,
    /// or one of the parameters here) is refused.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "extra"
    )]
    #[schemars(schema_with = "extra_schema")]
    pub extra: BTreeMap<String, Value>,
}

/// How much a reasoning model reasons. Which levels a model takes is the
/// API's to say; `none` and `minimal` are OpenAI's only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ReasoningEffort {
    /// No reasoning (OpenAI gpt-5.1 and later).
    None,
    /// OpenAI gpt-5.
    Minimal,
    Low,
    Medium,
    High,
    /// Beyond `high` (newer OpenAI and Anthropic models).
    Xhigh,
    /// Anthropic's highest level.
    Max,
}

impl ReasoningEffort {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ReasoningEffort::None => "none",
            ReasoningEffort::Minimal => "minimal",
            ReasoningEffort::Low => "low",
            ReasoningEffort::Medium => "medium",
            ReasoningEffort::High => "high",
            ReasoningEffort::Xhigh => "xhigh",
            ReasoningEffort::Max => "max",
        }
    }
}

/// What the API is asked to enforce on the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ResponseFormat {
    /// JSON that validates against the prompt's `output_schema`.
    JsonSchema,
}

/// Request-body fields promptctl sets itself on either API, which `extra`
/// may not name: passed through, each would replace (or be replaced by)
/// what promptctl sends, and the request hash would no longer say what was
/// sent.
pub(crate) const RESERVED: &[&str] = &[
    "model",
    "messages",
    "system",
    "tools",
    "stream",
    "temperature",
    "max_tokens",
    "max_completion_tokens",
    "seed",
    "top_p",
    "stop",
    "stop_sequences",
    "presence_penalty",
    "frequency_penalty",
    "reasoning_effort",
    "response_format",
    "output_config",
    "contents",
    "systemInstruction",
];

/// Why `extra` may not name `key`, if it may not.
pub(crate) fn reserved(key: &str) -> Option<String> {
    let why = match key {
        k if !RESERVED.contains(&k) => return None,
        "model" | "messages" | "system" | "tools" | "contents" | "systemInstruction" => {
            "it is part of the request promptctl builds".to_string()
        }
        "stream" => "promptctl reads whole answers, not streams".to_string(),
        "stop_sequences" => "promptctl sends `stop` as Anthropic's `stop_sequences`".to_string(),
        "output_config" => {
            "promptctl sends `reasoning_effort` and `response_format` in it to Anthropic"
                .to_string()
        }
        _ => format!("promptctl sends it itself (set `{key}` beside `extra`, not in it)"),
    };
    Some(format!("cannot set `{key}`: {why}"))
}

/// `extra:` a map whose keys are checked as they are read, so that the
/// error carries the line of the key that collides.
pub(crate) fn extra<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Value>, D::Error> {
    struct Extra;
    impl<'de> serde::de::Visitor<'de> for Extra {
        type Value = BTreeMap<String, Value>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of request-body fields")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key_seed(Key)? {
                out.insert(key, map.next_value::<Value>()?);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Extra)
}

/// An `extra` key, refused if promptctl sets it itself. A visitor, so that
/// the error is raised while the parser is at the key.
struct Key;

impl<'de> serde::de::DeserializeSeed<'de> for Key {
    type Value = String;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for Key {
    type Value = String;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<String, E> {
        match reserved(key) {
            Some(why) => Err(E::custom(why)),
            None => Ok(key.to_string()),
        }
    }
}

pub(crate) fn extra_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "propertyNames": { "not": { "enum": RESERVED } },
    })
}

/// Who says a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Role {
    /// Instructions: the system prompt.
    System,
    /// The user's turn.
    User,
    /// A model turn (for few-shot examples).
    Assistant,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message: a `role`, and its text from exactly one of `file` (a text
/// file beside `prompt.yaml`) and `template` (inline).
// On the wire it is a `RawMessage`, so its schema is that one's; this doc
// comment and the name are what the schema shows.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "RawMessage", into = "RawMessage")]
#[schemars(rename = "Message")]
pub(crate) struct MessageSpec {
    pub role: Role,
    pub source: MessageSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MessageSource {
    File(RelPath),
    Inline(String),
}

/// A message as written in YAML.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    // `TryFrom` below refuses both and neither (a `null` is neither).
    extend("oneOf" = [
        { "required": ["file"], "properties": { "file": { "type": "string" } } },
        { "required": ["template"], "properties": { "template": { "type": "string" } } },
    ])
)]
struct RawMessage {
    /// `system`, `user` or `assistant`.
    role: Role,
    /// A text file beside `prompt.yaml` that holds the message, e.g.
    /// `system.md`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<RelPath>,
    /// The message inline; `{{name}}` inserts a variable, `\{{` is a
    /// literal `{{`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    template: Option<String>,
}

impl TryFrom<RawMessage> for MessageSpec {
    type Error = String;
    fn try_from(raw: RawMessage) -> Result<Self, String> {
        let source = match (raw.file, raw.template) {
            (Some(f), None) => MessageSource::File(f),
            (None, Some(t)) => MessageSource::Inline(t),
            (Some(_), Some(_)) => {
                return Err("a message has `file` or `template`, not both".into());
            }
            (None, None) => return Err("a message needs `file` or `template`".into()),
        };
        Ok(MessageSpec {
            role: raw.role,
            source,
        })
    }
}

impl From<MessageSpec> for RawMessage {
    fn from(m: MessageSpec) -> Self {
        let (file, template) = match m.source {
            MessageSource::File(f) => (Some(f), None),
            MessageSource::Inline(t) => (None, Some(t)),
        };
        RawMessage {
            role: m.role,
            file,
            template,
        }
    }
}

/// The JSON type of a variable's value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum VarType {
    #[default]
    String,
    Number,
    Integer,
    Boolean,
    Array,
    Object,
}

impl VarType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            VarType::String => "string",
            VarType::Number => "number",
            VarType::Integer => "integer",
            VarType::Boolean => "boolean",
            VarType::Array => "array",
            VarType::Object => "object",
        }
    }
}

/// The schema of one template variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    rename = "Variable",
    // The loader refuses `required: true` with a `default`.
    extend("not" = {
        "required": ["required", "default"],
        "properties": { "required": { "const": true } }
    })
)]
pub(crate) struct VariableSpec {
    /// The value's JSON type (default `string`).
    #[serde(rename = "type", default)]
    pub kind: VarType,
    /// Rendering fails unless a value is given. Contradicts `default`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// The value when none is given; it must satisfy the rest of this schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// For humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// For strings: the fewest characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<usize>,
    /// For strings: the most characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// For strings: a regular expression the value must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The allowed values.
    #[serde(rename = "enum", default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<Value>>,
    /// For numbers: the smallest allowed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    /// For numbers: the largest allowed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
    /// Personal data: redacted wherever a value is written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pii: bool,
}

/// `output_schema:` a JSON Schema file beside `prompt.yaml`, or an inline
/// JSON Schema object.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "OutputSchema")]
pub(crate) enum SchemaSpec {
    File(RelPath),
    Inline(serde_json::Map<String, Value>),
}

// By hand rather than `untagged`, which would replace a precise error (a path
// outside the folder) with "did not match any variant". A visitor rather than
// a `Value` read first, so that an error is raised while the parser is at the
// value and carries its line, not the line where `prompt.yaml` starts.
impl<'de> Deserialize<'de> for SchemaSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> serde::de::Visitor<'de> for Either {
            type Value = SchemaSpec;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a file name or an inline JSON Schema object")
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<SchemaSpec, E> {
                RelPath::try_from(s.to_string())
                    .map(SchemaSpec::File)
                    .map_err(E::custom)
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<SchemaSpec, A::Error> {
                serde_json::Map::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(SchemaSpec::Inline)
            }
        }
        d.deserialize_any(Either)
    }
}

/// A tool manifest.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Tools")]
pub(crate) struct ToolsSpec {
    /// A JSON file beside `prompt.yaml` with the tool definitions, e.g.
    /// `tools.json`.
    pub file: RelPath,
    /// The manifest format's version, for the application that reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
}

/// A relative path that stays lexically inside the prompt's folder: not
/// absolute, no `..`, no `\`. Symlinks are checked when the file is read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RelPath(String);

/// By hand: the pattern says what [`RelPath::try_from`] refuses.
impl JsonSchema for RelPath {
    fn schema_name() -> Cow<'static, str> {
        "RelPath".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A file inside the prompt's folder, relative to `prompt.yaml`: not absolute, no `..`, `\\` or `:`, not under `versions/`, not `manifest.yaml`.",
            "type": "string",
            "pattern": RELPATH_PATTERN,
        })
    }
}

/// What [`RelPath::try_from`] accepts, as an ECMA-262 regular expression:
/// `/`-separated non-empty segments without `\` or `:`, none of them `..`,
/// the first not `versions`, and not `manifest.yaml` itself.
pub(crate) const RELPATH_PATTERN: &str =
    r"^(?!versions(/|$))(?!manifest\.yaml$)(?!(.*/)?\.\.(/|$))[^/\\:]+(/[^/\\:]+)*$";

impl RelPath {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RelPath {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let outside = || format!("`{s}` points outside the prompt's folder");
        if s.is_empty() {
            return Err("a file path is empty".into());
        }
        if s.starts_with('/') || s.contains('\\') || s.contains(':') {
            return Err(outside());
        }
        if s.split('/').any(|part| part == ".." || part.is_empty()) {
            return Err(outside());
        }
        if s.split('/').next() == Some("versions") {
            return Err(format!(
                "`{s}` is inside `versions/`, which holds released copies"
            ));
        }
        if s == "manifest.yaml" {
            return Err("`manifest.yaml` is reserved for released versions".into());
        }
        Ok(RelPath(s))
    }
}

impl From<RelPath> for String {
    fn from(p: RelPath) -> String {
        p.0
    }
}
