//! JSON Schemas (draft 2020-12) for promptctl's YAML files, for editors and CI.
//!
//! The design decision to know: every schema is derived (schemars) from the
//! same wire structs that the strict loader deserialises into, so a key added
//! to a struct is in its schema at once. Where serde reads a value in a way
//! derive cannot see (a `try_from` string with rules, "exactly one of `file`
//! and `template`", an assertion's `value` by its `type`), the type carries a
//! hand-written schema part beside its parser. Schemas check what one file can
//! say; rules across files (a provider that `promptctl.yaml` defines, a
//! referenced file that exists) stay with the loader. The repository's
//! `schemas/` folder is this module's output; a test fails when it differs.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value};

/// The folder, at a workspace's root, that holds the schemas.
pub(crate) const DIR: &str = "schemas";

/// The base of every schema's `$id`. A URN: the schemas are files in the
/// workspace, not hosted anywhere.
const ID_BASE: &str = "urn:promptctl:schema:";

/// One generated schema: the file it is written to and the YAML file it describes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kind {
    /// The short name: `prompt` is written to `prompt.schema.json`.
    pub name: &'static str,
    /// The YAML files it is for, as users know them.
    pub describes: &'static str,
    generate: fn() -> Schema,
}

impl Kind {
    /// `prompt.schema.json`.
    pub(crate) fn file_name(&self) -> String {
        format!("{}.schema.json", self.name)
    }

    /// The schema, with `$schema`, `$id` and `title`.
    pub(crate) fn schema(&self) -> Value {
        let mut schema = (self.generate)().to_value();
        if let Value::Object(map) = &mut schema {
            map.insert("$id".into(), format!("{ID_BASE}{}", self.name).into());
            map.entry("title")
                .or_insert_with(|| self.describes.to_string().into());
        }
        tidy(schema)
    }

    /// The schema as written to disk: pretty JSON and a final newline.
    pub(crate) fn text(&self) -> String {
        let mut text =
            serde_json::to_string_pretty(&self.schema()).expect("a schema serialises to JSON");
        text.push('\n');
        text
    }

    /// The first line of a YAML file of this kind that lets editors find the
    /// schema; `to_root` leads from the file's folder to the workspace root
    /// (`""`, `"../../"`).
    pub(crate) fn modeline(&self, to_root: &str) -> String {
        format!(
            "{}{to_root}{DIR}/{}\n",
            crate::workspace::yaml::MODELINE_PREFIX,
            self.file_name()
        )
    }
}

const fn kind<T: JsonSchema>(name: &'static str, describes: &'static str) -> Kind {
    Kind {
        name,
        describes,
        generate: generate::<T>,
    }
}

/// Every schema promptctl writes. A new file kind is one line here.
pub(crate) const KINDS: &[Kind] = &[
    kind::<crate::workspace::config::Config>("promptctl", "promptctl.yaml"),
    kind::<crate::version::artifact::spec::PromptSpec>("prompt", "prompts/<name>/prompt.yaml"),
    kind::<crate::eval::suite::SuiteSpec>("suite", "evals/<suite>.yaml"),
    kind::<crate::version::manifest::Manifest>(
        "manifest",
        "prompts/<name>/versions/<X.Y.Z>/manifest.yaml",
    ),
    kind::<crate::rollout::deploy::state::Releases>("releases", "prompts/<name>/releases.yaml"),
];

/// The schema kind called `name` (`prompt`, `prompt.schema.json`).
pub(crate) fn find(name: &str) -> Option<&'static Kind> {
    let name = name.strip_suffix(".schema.json").unwrap_or(name);
    KINDS.iter().find(|k| k.name == name)
}

fn generate<T: JsonSchema>() -> Schema {
    SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<T>()
}

/// `value` with every object's keys in sorted order, so the files do not
/// depend on how `serde_json` happens to be built, and every description
/// unwrapped: a doc comment's line breaks are not paragraph breaks, and
/// editors show descriptions as they are.
fn tidy(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| match (k.as_str(), v) {
                        ("description", Value::String(text)) => (k, unwrap_lines(&text).into()),
                        (_, v) => (k, tidy(v)),
                    })
                    .collect::<Map<String, Value>>(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(tidy).collect()),
        other => other,
    }
}

/// Joins wrapped lines with spaces; blank lines stay paragraph breaks.
fn unwrap_lines(text: &str) -> String {
    text.split("\n\n")
        .map(|para| {
            para.split('\n')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests;
