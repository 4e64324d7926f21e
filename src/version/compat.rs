//! What kind of semver bump a change between two versions needs.
//!
//! A caller of a prompt depends on its variables (inputs) and its output
//! schema (outputs). Removing or renaming a variable, making one required,
//! tightening its constraints, or changing the output schema so that old
//! consumers can break is a major change; adding an optional variable or an
//! output field is minor; anything else (text, model, parameters) is a patch.
//! Before 1.0.0 everything shifts down one level, as Cargo does.

use std::collections::BTreeSet;

use semver::Version;
use serde::Serialize;
use serde_json::Value;

use crate::version::artifact::Artifact;
use crate::version::artifact::spec::VariableSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Level {
    Patch,
    Minor,
    Major,
}

impl Level {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Level::Patch => "patch",
            Level::Minor => "minor",
            Level::Major => "major",
        }
    }
}

/// One change between versions and the bump it needs.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Change {
    pub level: Level,
    pub what: String,
}

/// Every interface change from `old` to `new`.
pub(crate) fn changes(old: &Artifact, new: &Artifact) -> Vec<Change> {
    let mut out = Vec::new();
    let (ov, nv) = (&old.spec.variables, &new.spec.variables);
    for (name, o) in ov {
        match nv.get(name) {
            None => out.push(major(format!("variable `{name}` was removed"))),
            Some(n) => variable(name, o, n, &mut out),
        }
    }
    for (name, n) in nv {
        if !ov.contains_key(name) {
            if n.required {
                out.push(major(format!("new required variable `{name}`")));
            } else {
                out.push(minor(format!("new optional variable `{name}`")));
            }
        }
    }
    match (&old.output_schema, &new.output_schema) {
        (Some(_), None) => out.push(major("output_schema was removed".into())),
        (None, Some(_)) => out.push(minor("output_schema was added".into())),
        (Some(o), Some(n)) => schema("output_schema", o, n, &mut out),
        (None, None) => {}
    }
    out
}

fn variable(name: &str, o: &VariableSpec, n: &VariableSpec, out: &mut Vec<Change>) {
    if o.kind != n.kind {
        out.push(major(format!(
            "variable `{name}` changed type from {} to {}",
            o.kind.as_str(),
            n.kind.as_str()
        )));
    }
    if !o.required && n.required {
        out.push(major(format!("variable `{name}` is now required")));
    }
    if o.default.is_some() && n.default.is_none() && !n.required && o.required == n.required {
        out.push(minor(format!("variable `{name}` lost its default")));
    }
    let tighter =
        |old: Option<usize>, new: Option<usize>, smaller_is_tighter: bool| match (old, new) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(o), Some(n)) => (smaller_is_tighter && n < o) || (!smaller_is_tighter && n > o),
        };
    if tighter(o.max_length, n.max_length, true) {
        out.push(major(format!("variable `{name}` has a lower max_length")));
    }
    if tighter(o.min_length, n.min_length, false) {
        out.push(major(format!("variable `{name}` has a higher min_length")));
    }
    if n.pattern.is_some() && o.pattern != n.pattern {
        out.push(major(format!("variable `{name}` has a new pattern")));
    }
    if let Some(nc) = &n.choices {
        let narrowed = match &o.choices {
            None => true,
            Some(oc) => oc.iter().any(|c| !nc.contains(c)),
        };
        if narrowed {
            out.push(major(format!(
                "variable `{name}` accepts fewer values (enum)"
            )));
        }
    }
}

/// Output-schema changes that can break a consumer of the output.
fn schema(path: &str, o: &Value, n: &Value, out: &mut Vec<Change>) {
    if o.get("type") != n.get("type") {
        out.push(major(format!("{path}: type changed")));
        return;
    }
    let set = |v: &Value, key: &str| -> BTreeSet<String> {
        v.get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|x| x.to_string()).collect())
            .unwrap_or_default()
    };
    let (oreq, nreq) = (set(o, "required"), set(n, "required"));
    for r in oreq.difference(&nreq) {
        out.push(major(format!("{path}: {r} is no longer required")));
    }
    for r in nreq.difference(&oreq) {
        out.push(minor(format!("{path}: {r} is now always present")));
    }
    if o.get("enum").is_some() || n.get("enum").is_some() {
        let (oe, ne) = (set(o, "enum"), set(n, "enum"));
        if o.get("enum").is_some() && n.get("enum").is_none() || ne.difference(&oe).next().is_some()
        {
            out.push(major(format!(
                "{path}: can now produce values outside its old enum"
            )));
        }
    }
    let closed = |v: &Value| v.get("additionalProperties") == Some(&Value::Bool(false));
    if closed(o) && !closed(n) {
        out.push(major(format!(
            "{path}: additionalProperties is no longer false"
        )));
    }
    let props = |v: &Value| {
        v.get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (op, np) = (props(o), props(n));
    for (k, ov) in &op {
        match np.get(k) {
            None => out.push(major(format!("{path}: property `{k}` was removed"))),
            Some(nv) => schema(&format!("{path}.{k}"), ov, nv, out),
        }
    }
    for k in np.keys().filter(|k| !op.contains_key(*k)) {
        out.push(minor(format!("{path}: new property `{k}`")));
    }
    if let (Some(oi), Some(ni)) = (o.get("items"), n.get("items")) {
        schema(&format!("{path}[]"), oi, ni, out);
    }
}

fn major(what: String) -> Change {
    Change {
        level: Level::Major,
        what,
    }
}

fn minor(what: String) -> Change {
    Change {
        level: Level::Minor,
        what,
    }
}

/// The bump from `from` to `to`.
pub(crate) fn bump_of(from: &Version, to: &Version) -> Level {
    if to.major > from.major {
        Level::Major
    } else if to.minor > from.minor {
        Level::Minor
    } else {
        Level::Patch
    }
}

/// The bump a set of changes needs from `from`; before 1.0.0, one level less.
pub(crate) fn required(from: &Version, changes: &[Change]) -> Level {
    let level = changes
        .iter()
        .map(|c| c.level)
        .max()
        .unwrap_or(Level::Patch);
    if from.major == 0 {
        match level {
            Level::Major => Level::Minor,
            _ => Level::Patch,
        }
    } else {
        level
    }
}

/// `from` bumped by `level`.
pub(crate) fn bump(from: &Version, level: Level) -> Version {
    match level {
        Level::Major => Version::new(from.major + 1, 0, 0),
        Level::Minor => Version::new(from.major, from.minor + 1, 0),
        Level::Patch => Version::new(from.major, from.minor, from.patch + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps() {
        let v = Version::new(1, 2, 3);
        assert_eq!(bump(&v, Level::Patch), Version::new(1, 2, 4));
        assert_eq!(bump(&v, Level::Minor), Version::new(1, 3, 0));
        assert_eq!(bump(&v, Level::Major), Version::new(2, 0, 0));
        assert_eq!(bump_of(&v, &Version::new(2, 0, 0)), Level::Major);
        assert_eq!(bump_of(&v, &Version::new(1, 2, 9)), Level::Patch);
    }

    #[test]
    fn pre_one_shifts_down() {
        let c = vec![major("x".into())];
        assert_eq!(required(&Version::new(0, 3, 0), &c), Level::Minor);
        assert_eq!(required(&Version::new(1, 0, 0), &c), Level::Major);
    }

    #[test]
    fn schema_changes() {
        let o = serde_json::json!({"type":"object","required":["a"],"properties":{"a":{"type":"string","enum":["x","y"]}}});
        let n = serde_json::json!({"type":"object","required":[],"properties":{"a":{"type":"string","enum":["x","y","z"]},"b":{}}});
        let mut out = Vec::new();
        schema("output_schema", &o, &n, &mut out);
        let majors: Vec<_> = out
            .iter()
            .filter(|c| c.level == Level::Major)
            .map(|c| c.what.as_str())
            .collect();
        assert_eq!(majors.len(), 2, "{out:?}");
        assert!(
            out.iter()
                .any(|c| c.level == Level::Minor && c.what.contains("`b`"))
        );
    }
}
