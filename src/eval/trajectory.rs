//! Tool assertions: checks on the calls a model made over a whole case (its
//! trajectory), and whether each call is schema-conformant.
//!
//! A call is conformant when it names a tool the prompt declares and its
//! arguments are a JSON object valid against that tool's parameter schema
//! with no field the schema does not name (unless the schema allows extra
//! ones with `additionalProperties`). Tool assertions are compiled against
//! the prompt's tools when a run starts: one on a prompt that declares no
//! tools, or naming a tool it does not declare, is a config error (exit 2),
//! never a vacuous pass.

use std::collections::BTreeMap;

use serde_json::Value;

use super::suite::AssertionType;
use crate::error::Error;
use crate::provider::chat::ToolCall;
use crate::version::artifact::tools::Tools;

/// The prompt's tools with their parameter schemas compiled.
pub(crate) struct Declared {
    pub tools: Tools,
    validators: BTreeMap<String, jsonschema::Validator>,
}

impl Declared {
    /// `at` names the manifest, for errors.
    pub(crate) fn new(tools: Tools, at: &str) -> Result<Declared, Error> {
        let mut validators = BTreeMap::new();
        for d in tools.defs() {
            let v = jsonschema::validator_for(&d.parameters).map_err(|e| {
                Error::invalid(format!("{at}: tool `{}`: invalid JSON Schema: {e}", d.name))
            })?;
            validators.insert(d.name.clone(), v);
        }
        Ok(Declared { tools, validators })
    }

    /// Why `call` is not schema-conformant, or `None` if it is.
    pub(crate) fn invalid(&self, call: &ToolCall) -> Option<String> {
        let name = &call.name;
        let Some(def) = self.tools.get(name) else {
            return Some(format!("`{name}` is not a tool the prompt declares"));
        };
        if call.raw_arguments.is_some() {
            return Some(format!("`{name}`: the arguments are not valid JSON"));
        }
        let Some(args) = call.arguments.as_object() else {
            return Some(format!("`{name}`: the arguments are not a JSON object"));
        };
        let schema = &def.parameters;
        let extra_allowed = match schema.get("additionalProperties") {
            None => schema.get("patternProperties").is_some(),
            Some(Value::Bool(b)) => *b,
            Some(_) => true,
        };
        if !extra_allowed {
            let known = schema.get("properties").and_then(Value::as_object);
            let unknown: Vec<&str> = args
                .keys()
                .filter(|k| known.is_none_or(|p| !p.contains_key(*k)))
                .map(String::as_str)
                .collect();
            if !unknown.is_empty() {
                return Some(format!(
                    "`{name}`: unknown argument{} {}",
                    if unknown.len() == 1 { "" } else { "s" },
                    quoted(&unknown)
                ));
            }
        }
        let errors: Vec<String> = self.validators[name]
            .iter_errors(&call.arguments)
            .take(3)
            .map(|e| {
                let path = e.instance_path().to_string();
                if path.is_empty() {
                    e.to_string()
                } else {
                    format!("{path}: {e}")
                }
            })
            .collect();
        (!errors.is_empty()).then(|| format!("`{name}`: {}", errors.join("; ")))
    }
}

/// A compiled tool assertion.
#[derive(Debug)]
pub(crate) enum ToolCheck {
    Called {
        name: String,
        min: u32,
        max: Option<u32>,
    },
    NotCalled(String),
    Args {
        name: String,
        /// 1-based: which call of `name`; any call when unset.
        call: Option<usize>,
        subset: Option<Value>,
        schema: Option<Box<jsonschema::Validator>>,
    },
    Sequence {
        names: Vec<String>,
        exact: bool,
    },
    Valid,
}

impl ToolCheck {
    /// Compiles a tool assertion's `value` against the prompt's tools.
    pub(crate) fn compile(
        kind: AssertionType,
        value: Option<&Value>,
        at: &str,
        tools: Option<&Tools>,
    ) -> Result<ToolCheck, Error> {
        let kind_name = super::suite::type_name(kind);
        let Some(tools) = tools else {
            return Err(Error::invalid(format!(
                "{at}: a `{kind_name}` assertion needs a prompt with tools, and this prompt declares none"
            )));
        };
        let bad = |what: &str| Error::invalid(format!("{at}: `{kind_name}` needs {what}"));
        let declared = |name: &str| -> Result<String, Error> {
            if tools.get(name).is_some() {
                return Ok(name.to_string());
            }
            let mut err = Error::invalid(format!(
                "{at}: `{kind_name}` names `{name}`, which is not a tool the prompt declares ({})",
                quoted(&tools.names().collect::<Vec<_>>())
            ));
            if let Some(best) = crate::workspace::yaml::closest(name, tools.names()) {
                err = err.with_hint(format!("did you mean `{best}`?"));
            }
            Err(err)
        };
        let count = |v: Option<&Value>, field: &str| -> Result<Option<u32>, Error> {
            match v {
                None => Ok(None),
                Some(n) => n
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .map(Some)
                    .ok_or_else(|| bad(&format!("a whole number `{field}`"))),
            }
        };
        Ok(match kind {
            AssertionType::ToolCalled => match value {
                Some(Value::String(name)) => ToolCheck::Called {
                    name: declared(name)?,
                    min: 1,
                    max: None,
                },
                Some(Value::Object(o)) => {
                    only(o, &["name", "times", "min", "max"], at, &kind_name)?;
                    let name = o
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad("a `name`"))?;
                    let times = count(o.get("times"), "times")?;
                    if times.is_some() && (o.contains_key("min") || o.contains_key("max")) {
                        return Err(bad("either `times` or `min`/`max`, not both"));
                    }
                    let min = times.or(count(o.get("min"), "min")?).unwrap_or(1);
                    let max = times.or(count(o.get("max"), "max")?);
                    if max.is_some_and(|m| m < min) {
                        return Err(bad("`max` at least `min`"));
                    }
                    ToolCheck::Called {
                        name: declared(name)?,
                        min,
                        max,
                    }
                }
                _ => return Err(bad("a tool name, or `{ name, times }` as `value`")),
            },
            AssertionType::ToolNotCalled => match value {
                Some(Value::String(name)) => ToolCheck::NotCalled(declared(name)?),
                _ => return Err(bad("a tool name as `value`")),
            },
            AssertionType::ToolArgs => {
                let Some(Value::Object(o)) = value else {
                    return Err(bad("`{ name, args | schema }` as `value`"));
                };
                only(o, &["name", "args", "schema", "call"], at, &kind_name)?;
                let name = o
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("a `name`"))?;
                let subset = o.get("args").cloned();
                let schema = match o.get("schema") {
                    None => None,
                    Some(s @ Value::Object(_)) => {
                        Some(Box::new(jsonschema::validator_for(s).map_err(|e| {
                            Error::invalid(format!("{at}: invalid JSON Schema: {e}"))
                        })?))
                    }
                    Some(_) => return Err(bad("a JSON Schema object as `schema`")),
                };
                if subset.is_none() && schema.is_none() {
                    return Err(bad("`args` (a JSON subset) or `schema` (a JSON Schema)"));
                }
                let call = match count(o.get("call"), "call")? {
                    Some(0) => return Err(bad("a 1-based `call`")),
                    c => c.map(|c| c as usize),
                };
                ToolCheck::Args {
                    name: declared(name)?,
                    call,
                    subset,
                    schema,
                }
            }
            AssertionType::ToolSequence => {
                let (list, exact) = match value {
                    Some(Value::Array(list)) => (list, false),
                    Some(Value::Object(o)) => {
                        only(o, &["names", "mode"], at, &kind_name)?;
                        let exact = match o.get("mode").and_then(Value::as_str) {
                            None | Some("subsequence") => false,
                            Some("exact") => true,
                            Some(_) => return Err(bad("`mode: exact` or `mode: subsequence`")),
                        };
                        match o.get("names") {
                            Some(Value::Array(list)) => (list, exact),
                            _ => return Err(bad("a list of tool names as `names`")),
                        }
                    }
                    _ => return Err(bad("a list of tool names as `value`")),
                };
                let names = list
                    .iter()
                    .map(|n| {
                        n.as_str()
                            .ok_or_else(|| bad("a list of tool names"))
                            .and_then(declared)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if names.is_empty() && !exact {
                    return Err(bad("at least one tool name"));
                }
                ToolCheck::Sequence { names, exact }
            }
            AssertionType::ValidToolCalls => ToolCheck::Valid,
            other => unreachable!("{other:?} is not a tool assertion"),
        })
    }

    /// Passed, and why.
    pub(crate) fn check(&self, calls: &[ToolCall], declared: Option<&Declared>) -> (bool, String) {
        let count = |name: &str| calls.iter().filter(|c| c.name == name).count() as u32;
        match self {
            ToolCheck::Called { name, min, max } => {
                let n = count(name);
                let ok = n >= *min && max.is_none_or(|m| n <= m);
                let want = match (min, max) {
                    (a, Some(b)) if a == b => format!("{a}"),
                    (a, Some(b)) => format!("{a} to {b}"),
                    (a, None) => format!("at least {a}"),
                };
                (
                    ok,
                    format!("`{name}` called {n} time{} (want {want})", plural(n)),
                )
            }
            ToolCheck::NotCalled(name) => {
                let n = count(name);
                (n == 0, format!("`{name}` called {n} time{}", plural(n)))
            }
            ToolCheck::Args {
                name,
                call,
                subset,
                schema,
            } => {
                let of_name: Vec<&ToolCall> = calls.iter().filter(|c| &c.name == name).collect();
                let picked: Vec<(usize, &ToolCall)> = match call {
                    Some(k) => of_name
                        .get(k - 1)
                        .map(|c| vec![(*k, *c)])
                        .unwrap_or_default(),
                    None => of_name
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (i + 1, *c))
                        .collect(),
                };
                if picked.is_empty() {
                    return (
                        false,
                        match call {
                            Some(k) => format!(
                                "`{name}` was called {} time{}, so there is no call {k}",
                                of_name.len(),
                                plural(of_name.len() as u32)
                            ),
                            None => format!("`{name}` was not called"),
                        },
                    );
                }
                let mut why = String::new();
                for (k, c) in &picked {
                    match args_match(c, subset.as_ref(), schema.as_deref()) {
                        Ok(()) => return (true, format!("`{name}` call {k} matches")),
                        Err(e) if why.is_empty() => why = format!("`{name}` call {k}: {e}"),
                        Err(_) => {}
                    }
                }
                (false, why)
            }
            ToolCheck::Sequence { names, exact } => {
                let made: Vec<&str> = calls.iter().map(|c| c.name.as_str()).collect();
                let ok = if *exact {
                    made.len() == names.len() && made.iter().zip(names).all(|(a, b)| *a == b)
                } else {
                    let mut it = made.iter();
                    names.iter().all(|n| it.any(|m| m == n))
                };
                (
                    ok,
                    format!(
                        "called [{}]; want [{}]{}",
                        made.join(", "),
                        names.join(", "),
                        if *exact { " exactly" } else { " in order" }
                    ),
                )
            }
            ToolCheck::Valid => {
                let Some(declared) = declared else {
                    return (false, "the prompt declares no tools".into());
                };
                let bad: Vec<String> = calls.iter().filter_map(|c| declared.invalid(c)).collect();
                match (calls.len(), bad.first()) {
                    (0, _) => (true, "no tool calls".into()),
                    (n, None) => (true, format!("{n} call{} valid", plural(n as u32))),
                    (n, Some(first)) => (
                        false,
                        format!("{} of {n} calls invalid: {first}", bad.len()),
                    ),
                }
            }
        }
    }
}

/// A call's arguments against a subset and a schema.
fn args_match(
    call: &ToolCall,
    subset: Option<&Value>,
    schema: Option<&jsonschema::Validator>,
) -> Result<(), String> {
    if call.raw_arguments.is_some() {
        return Err("the arguments are not valid JSON".into());
    }
    if let Some(want) = subset
        && !contains(&call.arguments, want)
    {
        return Err(format!(
            "arguments {} do not contain {want}",
            call.arguments
        ));
    }
    if let Some(v) = schema
        && let Some(e) = v.iter_errors(&call.arguments).next()
    {
        return Err(format!("{}: {e}", e.instance_path()));
    }
    Ok(())
}

/// `want` is a subset of `have`: every key of an object (recursively), the
/// same items of a list, equal numbers by value.
pub(crate) fn contains(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(k, wv)| h.get(k).is_some_and(|hv| contains(hv, wv))),
        (Value::Array(h), Value::Array(w)) => {
            h.len() == w.len() && h.iter().zip(w).all(|(a, b)| contains(a, b))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

fn only(
    o: &serde_json::Map<String, Value>,
    allowed: &[&str],
    at: &str,
    kind: &str,
) -> Result<(), Error> {
    match o.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(Error::invalid(format!(
            "{at}: `{kind}` does not take `{k}` (it takes {})",
            quoted(allowed)
        ))),
        None => Ok(()),
    }
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tools() -> Tools {
        Tools::parse(json!([
            { "name": "lookup_order", "parameters": {
                "type": "object",
                "properties": { "order_id": { "type": "string" } },
                "required": ["order_id"] } },
            { "name": "escalate", "parameters": { "type": "object", "properties": {} } },
        ]))
        .unwrap()
    }

    fn call(name: &str, args: &str) -> ToolCall {
        ToolCall::from_string("c".into(), name.into(), args)
    }

    #[test]
    fn validity_catches_each_way_a_call_goes_wrong() {
        let d = Declared::new(tools(), "t").unwrap();
        assert_eq!(
            d.invalid(&call("lookup_order", r#"{"order_id":"A1"}"#)),
            None
        );
        for (c, says) in [
            (call("refund", "{}"), "not a tool the prompt declares"),
            (call("lookup_order", "{}"), "order_id"),
            (
                call("lookup_order", r#"{"order_id":"A1","x":1}"#),
                "unknown argument `x`",
            ),
            (call("lookup_order", r#"{"order_id":"#), "not valid JSON"),
            (call("lookup_order", r#"["A1"]"#), "not a JSON object"),
            (call("lookup_order", r#"{"order_id":7}"#), "string"),
        ] {
            let why = d.invalid(&c).unwrap_or_default();
            assert!(why.contains(says), "{c:?}: {why}");
        }
    }

    #[test]
    fn a_tool_assertion_without_tools_is_a_config_error() {
        let err = ToolCheck::compile(AssertionType::ValidToolCalls, None, "here", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("declares none"), "{err}");
        let err = ToolCheck::compile(
            AssertionType::ToolCalled,
            Some(&json!("lookup")),
            "here",
            Some(&tools()),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("not a tool the prompt declares"),
            "{err}"
        );
    }

    #[test]
    fn sequences_exact_and_in_order() {
        let t = tools();
        let calls = [
            call("lookup_order", "{}"),
            call("escalate", "{}"),
            call("lookup_order", "{}"),
        ];
        let seq = |v: Value| {
            ToolCheck::compile(AssertionType::ToolSequence, Some(&v), "", Some(&t))
                .unwrap()
                .check(&calls, None)
                .0
        };
        assert!(seq(json!(["lookup_order", "lookup_order"])));
        assert!(seq(json!(["escalate", "lookup_order"])));
        assert!(!seq(json!(["escalate", "escalate"])));
        assert!(!seq(
            json!({ "names": ["lookup_order", "escalate"], "mode": "exact" })
        ));
        assert!(seq(
            json!({ "names": ["lookup_order", "escalate", "lookup_order"], "mode": "exact" })
        ));
    }

    #[test]
    fn subsets_compare_numbers_by_value() {
        assert!(contains(
            &json!({ "a": 1.0, "b": [1, { "c": 2 }] }),
            &json!({ "b": [1, {}] , "a": 1 })
        ));
        assert!(!contains(&json!({ "a": 1 }), &json!({ "a": 1, "b": null })));
        assert!(!contains(&json!([1, 2]), &json!([1])));
    }
}
