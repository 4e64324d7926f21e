//! The prompt's tool manifest (`tools.json`): the tools the model may call.
//!
//! Teams keep tool definitions in one of three shapes, and all three are
//! read: OpenAI's function tools (`[{type: function, function: {name,
//! description, parameters}}]`), a plain list (`[{name, description,
//! parameters}]`), and Anthropic's (`[{name, description, input_schema}]`).
//! Each provider then sends them in its own API's shape. The file's bytes
//! stay what is hashed and what a request's cassette key covers, so the
//! shape chosen is part of the prompt, like every other byte of it.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};

/// One tool: its name, what it is for, and a JSON Schema of its arguments.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolDef {
    pub name: String,
    pub description: Option<String>,
    /// A JSON Schema object (`{"type": "object", …}`).
    pub parameters: Value,
}

/// The manifest as written (what is hashed) and the definitions read from
/// it; cheap to clone, as every request carries it.
///
/// Read when a run starts, not when the artifact loads: a manifest this
/// reader refuses must not stop `verify` or `rollback` of a version.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tools(Arc<Manifest>);

#[derive(Debug, PartialEq)]
struct Manifest {
    raw: Value,
    defs: Vec<ToolDef>,
}

impl Serialize for Tools {
    /// As written: the request hash covers the file, not its reading.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.raw.serialize(s)
    }
}

impl Tools {
    /// Reads a manifest; the error names the tool (by index) and the field.
    pub(crate) fn parse(raw: Value) -> Result<Tools, String> {
        let list = match &raw {
            Value::Array(list) => list,
            Value::Object(o) if o.get("tools").is_some_and(Value::is_array) => {
                o["tools"].as_array().expect("checked")
            }
            _ => {
                return Err("a tool manifest is a JSON list of tools \
                            (or an object with a `tools` list)"
                    .into());
            }
        };
        let mut defs = Vec::with_capacity(list.len());
        let mut seen = BTreeSet::new();
        for (i, tool) in list.iter().enumerate() {
            let def = one(tool).map_err(|e| format!("tools[{i}]: {e}"))?;
            if !seen.insert(def.name.clone()) {
                return Err(format!(
                    "tools[{i}]: the tool `{}` is defined twice",
                    def.name
                ));
            }
            defs.push(def);
        }
        Ok(Tools(Arc::new(Manifest { raw, defs })))
    }

    pub(crate) fn defs(&self) -> &[ToolDef] {
        &self.0.defs
    }

    pub(crate) fn get(&self, name: &str) -> Option<&ToolDef> {
        self.0.defs.iter().find(|d| d.name == name)
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.0.defs.iter().map(|d| d.name.as_str())
    }

    /// OpenAI's shape: `[{type: function, function: {name, description, parameters}}]`.
    pub(crate) fn openai(&self) -> Value {
        Value::Array(
            self.defs()
                .iter()
                .map(|d| {
                    let mut f = Map::new();
                    f.insert("name".into(), d.name.clone().into());
                    if let Some(desc) = &d.description {
                        f.insert("description".into(), desc.clone().into());
                    }
                    f.insert("parameters".into(), d.parameters.clone());
                    json!({ "type": "function", "function": f })
                })
                .collect(),
        )
    }

    /// Anthropic's shape: `[{name, description, input_schema}]`.
    pub(crate) fn anthropic(&self) -> Value {
        Value::Array(
            self.defs()
                .iter()
                .map(|d| {
                    let mut t = Map::new();
                    t.insert("name".into(), d.name.clone().into());
                    if let Some(desc) = &d.description {
                        t.insert("description".into(), desc.clone().into());
                    }
                    t.insert("input_schema".into(), d.parameters.clone());
                    Value::Object(t)
                })
                .collect(),
        )
    }
}

impl Tools {
    /// Gemini's shape: one tool holding every function, `[{functionDeclarations:
    /// [{name, description, parametersJsonSchema}]}]`; no tool at all when the
    /// manifest is empty. The schema goes as `parametersJsonSchema`, which
    /// takes JSON Schema as written, rather than `parameters`, which takes
    /// only a subset of OpenAPI 3.0 and would need every schema translated
    /// (and some refused).
    pub(crate) fn gemini(&self) -> Option<Value> {
        if self.defs().is_empty() {
            return None;
        }
        let declarations: Vec<Value> = self
            .defs()
            .iter()
            .map(|d| {
                let mut f = Map::new();
                f.insert("name".into(), d.name.clone().into());
                if let Some(desc) = &d.description {
                    f.insert("description".into(), desc.clone().into());
                }
                f.insert("parametersJsonSchema".into(), d.parameters.clone());
                Value::Object(f)
            })
            .collect();
        Some(json!([{ "functionDeclarations": declarations }]))
    }
}

/// One tool in any of the three shapes.
fn one(tool: &Value) -> Result<ToolDef, String> {
    let Some(obj) = tool.as_object() else {
        return Err("a tool is an object".into());
    };
    let (obj, schema_key) = match obj.get("type").and_then(Value::as_str) {
        Some("function") => match obj.get("function").and_then(Value::as_object) {
            Some(f) => (f, "parameters"),
            None => return Err("a `type: function` tool needs a `function` object".into()),
        },
        Some(other) if obj.get("input_schema").is_none() && obj.get("parameters").is_none() => {
            return Err(format!(
                "`type: {other}` is not a function tool; only function tools can be evaluated"
            ));
        }
        _ if obj.contains_key("input_schema") => (obj, "input_schema"),
        _ => (obj, "parameters"),
    };
    let name = match obj.get("name") {
        Some(Value::String(n)) if valid_name(n) => n.clone(),
        Some(Value::String(n)) => {
            return Err(format!(
                "name `{n}`: a tool name is 1 to 64 letters, digits, `_` or `-`"
            ));
        }
        _ => return Err("`name` (a string) is required".into()),
    };
    let description = match obj.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) => Some(d.clone()),
        Some(_) => return Err(format!("`{name}`: `description` must be a string")),
    };
    let parameters = match obj.get(schema_key) {
        None | Some(Value::Null) => json!({ "type": "object", "properties": {} }),
        Some(Value::Object(p)) => {
            jsonschema::validator_for(&Value::Object(p.clone()))
                .map_err(|e| format!("`{name}`: `{schema_key}` is not a valid JSON Schema: {e}"))?;
            Value::Object(p.clone())
        }
        Some(_) => {
            return Err(format!(
                "`{name}`: `{schema_key}` must be a JSON Schema object"
            ));
        }
    };
    Ok(ToolDef {
        name,
        description,
        parameters,
    })
}

/// What both APIs accept as a tool name.
fn valid_name(n: &str) -> bool {
    (1..=64).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_three_shapes_read_alike() {
        let params = json!({ "type": "object", "properties": { "id": { "type": "string" } } });
        let forms = [
            json!([{ "type": "function", "function": { "name": "lookup", "description": "d", "parameters": params } }]),
            json!([{ "name": "lookup", "description": "d", "parameters": params }]),
            json!([{ "name": "lookup", "description": "d", "input_schema": params }]),
            json!({ "tools": [{ "name": "lookup", "description": "d", "parameters": params }] }),
        ];
        let defs: Vec<_> = forms
            .into_iter()
            .map(|f| Tools::parse(f).unwrap().defs().to_vec())
            .collect();
        assert!(defs.windows(2).all(|w| w[0] == w[1]), "{defs:?}");
        assert_eq!(defs[0][0].parameters, params);
    }

    #[test]
    fn each_api_gets_its_shape() {
        let t = Tools::parse(json!([{ "name": "a", "parameters": { "type": "object" } }])).unwrap();
        assert_eq!(
            t.openai(),
            json!([{ "type": "function", "function": { "name": "a", "parameters": { "type": "object" } } }])
        );
        assert_eq!(
            t.anthropic(),
            json!([{ "name": "a", "input_schema": { "type": "object" } }])
        );
        assert_eq!(
            t.gemini(),
            Some(json!([{ "functionDeclarations": [
                { "name": "a", "parametersJsonSchema": { "type": "object" } }] }]))
        );
        assert_eq!(Tools::parse(json!([])).unwrap().gemini(), None);
    }

    #[test]
    fn it_serializes_as_written() {
        let raw = json!([{ "type": "function", "function": { "name": "a" } }]);
        let t = Tools::parse(raw.clone()).unwrap();
        assert_eq!(serde_json::to_value(&t).unwrap(), raw);
    }

    #[test]
    fn bad_manifests_say_where() {
        for (raw, says) in [
            (json!({ "name": "a" }), "a JSON list"),
            (json!([{ "description": "x" }]), "tools[0]: `name`"),
            (json!([{ "name": "a b" }]), "tools[0]: name `a b`"),
            (
                json!([{ "name": "a" }, { "name": "a" }]),
                "tools[1]: the tool `a` is defined twice",
            ),
            (
                json!([{ "name": "a", "parameters": [] }]),
                "`parameters` must be",
            ),
            (
                json!([{ "name": "a", "parameters": { "type": 7 } }]),
                "not a valid JSON Schema",
            ),
            (json!([{ "type": "function" }]), "needs a `function` object"),
            (json!([{ "type": "web_search" }]), "not a function tool"),
        ] {
            let err = Tools::parse(raw).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }
}
