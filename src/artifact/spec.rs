//! `prompt.yaml`: the wire structs of one prompt artifact (SPEC §2).
//!
//! Strict: unknown keys are errors, and checks that fit one value (a message
//! has exactly one of `file` and `template`; a `file:` stays inside the
//! prompt's folder) run inside the parser so their errors carry a line.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::name::Name;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptSpec {
    pub name: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Role → contact, e.g. `pm: ana@acme.test`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub owners: BTreeMap<String, String>,
    pub model: ModelSpec,
    pub messages: Vec<MessageSpec>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, VariableSpec>,
    /// A path to a JSON Schema file beside `prompt.yaml`, or an inline schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<SchemaSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ToolsSpec>,
    /// Retrieval settings: opaque to promptctl, but hashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieval: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limitations: Vec<String>,
    /// A budget for the rendered system text, checked by `lint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_prompt_tokens: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub provider: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message: its text comes from a file beside `prompt.yaml` or inline.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RawMessage", into = "RawMessage")]
pub struct MessageSpec {
    pub role: Role,
    pub source: MessageSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageSource {
    File(RelPath),
    Inline(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMessage {
    role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<RelPath>,
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VarType {
    #[default]
    String,
    Number,
    Integer,
    Boolean,
    Array,
    Object,
}

impl VarType {
    pub fn as_str(self) -> &'static str {
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableSpec {
    #[serde(rename = "type", default)]
    pub kind: VarType,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(rename = "enum", default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
    /// Personal data: redacted wherever a value is written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pii: bool,
}

/// `output_schema:` a file name or an inline JSON Schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SchemaSpec {
    File(RelPath),
    Inline(serde_json::Map<String, Value>),
}

// By hand rather than `untagged`, which would replace a precise error (a path
// outside the folder) with "did not match any variant".
impl<'de> Deserialize<'de> for SchemaSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match Value::deserialize(d)? {
            Value::String(s) => RelPath::try_from(s)
                .map(SchemaSpec::File)
                .map_err(D::Error::custom),
            Value::Object(map) => Ok(SchemaSpec::Inline(map)),
            _ => Err(D::Error::custom(
                "output_schema is a file name or an inline JSON Schema object",
            )),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolsSpec {
    pub file: RelPath,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
}

/// A relative path that stays lexically inside the prompt's folder: not
/// absolute, no `..`, no `\`. Symlinks are checked when the file is read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RelPath(String);

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
