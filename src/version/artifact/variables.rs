//! Template variable values: checked against their schema, then turned into text.
//!
//! Values come typed from `--vars FILE` or eval cases, or as strings from
//! `--var k=v` (parsed as JSON when the variable is not a string). Every
//! failure names the variable.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::Error;
use crate::version::artifact::spec::{VarType, VariableSpec};

/// Checks `given` against `specs`, fills defaults, and returns every variable's value.
pub(crate) fn resolve(
    specs: &BTreeMap<String, VariableSpec>,
    given: &BTreeMap<String, Value>,
) -> Result<BTreeMap<String, Value>, Error> {
    for name in given.keys() {
        if !specs.contains_key(name) {
            let mut err = Error::invalid(format!("unknown variable `{name}`"));
            if let Some(best) =
                crate::workspace::yaml::closest(name, specs.keys().map(String::as_str))
            {
                err = err.with_hint(format!("did you mean `{best}`?"));
            }
            return Err(err);
        }
    }
    let mut out = BTreeMap::new();
    for (name, spec) in specs {
        let value = match (given.get(name), &spec.default) {
            (Some(v), _) => v.clone(),
            (None, Some(d)) => d.clone(),
            (None, None) if spec.required => {
                return Err(
                    Error::invalid(format!("missing required variable `{name}`"))
                        .with_hint(format!("pass it with `--var {name}=…` or `--vars FILE`")),
                );
            }
            (None, None) => continue,
        };
        check(name, spec, &value).map_err(Error::invalid)?;
        out.insert(name.clone(), value);
    }
    Ok(out)
}

/// Checks one value against its schema; the error names the variable.
pub(crate) fn check(name: &str, spec: &VariableSpec, value: &Value) -> Result<(), String> {
    let type_ok = match spec.kind {
        VarType::String => value.is_string(),
        VarType::Number => value.is_number(),
        VarType::Integer => value.is_i64() || value.is_u64(),
        VarType::Boolean => value.is_boolean(),
        VarType::Array => value.is_array(),
        VarType::Object => value.is_object(),
    };
    if !type_ok {
        return Err(format!(
            "variable `{name}` must be a {}, not {}",
            spec.kind.as_str(),
            json_type(value)
        ));
    }
    if let Some(s) = value.as_str() {
        let len = s.chars().count();
        if let Some(max) = spec.max_length.filter(|m| len > *m) {
            return Err(format!(
                "variable `{name}` is {len} characters, more than max_length {max}"
            ));
        }
        if let Some(min) = spec.min_length.filter(|m| len < *m) {
            return Err(format!(
                "variable `{name}` is {len} characters, fewer than min_length {min}"
            ));
        }
        if let Some(pattern) = &spec.pattern {
            let re = regex::Regex::new(pattern)
                .map_err(|e| format!("variable `{name}`: invalid pattern: {e}"))?;
            if !re.is_match(s) {
                return Err(format!(
                    "variable `{name}` does not match pattern `{pattern}`"
                ));
            }
        }
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = spec.minimum.filter(|m| n < *m) {
            return Err(format!("variable `{name}` is {n}, below minimum {min}"));
        }
        if let Some(max) = spec.maximum.filter(|m| n > *m) {
            return Err(format!("variable `{name}` is {n}, above maximum {max}"));
        }
    }
    if let Some(choices) = &spec.choices
        && !choices.contains(value)
    {
        return Err(format!(
            "variable `{name}` must be one of {}",
            crate::version::canonical::to_string(&Value::Array(choices.clone()))
        ));
    }
    Ok(())
}

/// Parses a `--var k=v` value: strings stay strings; other types are JSON.
pub(crate) fn from_cli(name: &str, spec: Option<&VariableSpec>, raw: &str) -> Result<Value, Error> {
    match spec.map(|s| s.kind) {
        None | Some(VarType::String) => Ok(Value::String(raw.to_string())),
        Some(kind) => serde_json::from_str(raw).map_err(|_| {
            Error::invalid(format!(
                "variable `{name}` must be a {}; `{raw}` is not one (write JSON)",
                kind.as_str()
            ))
        }),
    }
}

/// The text a value renders as: strings as they are, anything else as JSON.
pub(crate) fn to_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(yaml: &str) -> BTreeMap<String, VariableSpec> {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn fills_defaults_and_checks_required() {
        let s = spec("q: { type: string, required: true }\nu: { default: there }\n");
        let err = resolve(&s, &BTreeMap::new()).unwrap_err();
        assert!(err.message().contains("`q`"));
        let out = resolve(&s, &[("q".to_string(), json!("hi"))].into()).unwrap();
        assert_eq!(out["u"], json!("there"));
    }

    #[test]
    fn rejects_wrong_type_and_length() {
        let s = spec("q: { type: string, max_length: 3 }\nn: { type: integer }\n");
        let e = resolve(&s, &[("q".to_string(), json!("toolong"))].into()).unwrap_err();
        assert!(e.message().contains("max_length 3"), "{}", e.message());
        let e = resolve(&s, &[("n".to_string(), json!(1.5))].into()).unwrap_err();
        assert!(e.message().contains("must be a integer") || e.message().contains("integer"));
    }

    #[test]
    fn unknown_variable_suggests_a_name() {
        let s = spec("question: {}\n");
        let e = resolve(&s, &[("questoin".to_string(), json!("x"))].into()).unwrap_err();
        assert_eq!(e.hint(), Some("did you mean `question`?"));
    }
}
