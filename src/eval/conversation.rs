//! Multi-turn cases: a case's prior turns as messages, and its scripted
//! tool results.
//!
//! A case's `messages:` go after the prompt's rendered messages. Its
//! `tools:` script answers the model's calls, tool by tool: a value is
//! returned for every call, a list is consumed call by call, and
//! `{ error: "…" }` is a failed call (a partial tool failure the model must
//! handle). A call the script does not cover, or a list run dry, is an
//! error for the case, never a made-up result. Everything is checked when
//! the run starts, so a bad script is exit 2 before any call.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::suite::{Case, TurnRole};
use crate::error::Error;
use crate::provider::chat::{ChatMessage, ToolCall};
use crate::version::artifact::tools::Tools;

/// The case's prior turns as messages; `at` names the case, for errors.
pub(crate) fn prior_turns(
    case: &Case,
    tools: Option<&Tools>,
    at: &str,
) -> Result<Vec<ChatMessage>, Error> {
    let mut open: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::with_capacity(case.messages.len());
    for (i, t) in case.messages.iter().enumerate() {
        let here = format!("{at}: messages[{i}]");
        let bad = |what: String| Error::invalid(format!("{here}: {what}"));
        let mut m = ChatMessage::new(role(t.role), t.content.clone());
        match t.role {
            TurnRole::Tool => {
                let id = t.tool_call_id.clone().ok_or_else(|| {
                    bad("a `tool` turn needs the `tool_call_id` it answers".into())
                })?;
                if !open.remove(&id) {
                    return Err(bad(format!(
                        "`tool_call_id: {id}` answers no earlier unanswered assistant tool call"
                    )));
                }
                m.tool_call_id = Some(id);
                m.is_error = t.is_error;
            }
            _ if t.tool_call_id.is_some() || t.is_error => {
                return Err(bad(
                    "`tool_call_id` and `is_error` belong to `tool` turns".into()
                ));
            }
            TurnRole::User if !t.tool_calls.is_empty() => {
                return Err(bad("only an `assistant` turn has `tool_calls`".into()));
            }
            TurnRole::User if t.content.trim().is_empty() => {
                return Err(bad("a `user` turn needs `content`".into()));
            }
            _ => {}
        }
        if !t.tool_calls.is_empty() {
            let Some(tools) = tools else {
                return Err(bad(
                    "an assistant turn calls tools, and the prompt declares none".into(),
                ));
            };
            for c in &t.tool_calls {
                if tools.get(&c.name).is_none() {
                    return Err(bad(format!(
                        "`{}` is not a tool the prompt declares",
                        c.name
                    )));
                }
                if !open.insert(c.id.clone()) {
                    return Err(bad(format!("the call id `{}` is used twice", c.id)));
                }
                m.tool_calls.push(ToolCall {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    arguments: Value::Object(c.arguments.clone()),
                    raw_arguments: None,
                    signature: None,
                });
            }
        } else if t.role == TurnRole::Assistant && t.content.trim().is_empty() {
            return Err(bad(
                "an `assistant` turn needs `content` or `tool_calls`".into()
            ));
        }
        out.push(m);
    }
    if let Some(id) = open.first() {
        return Err(Error::invalid(format!(
            "{at}: messages: the tool call `{id}` has no `tool` turn answering it"
        )));
    }
    Ok(out)
}

fn role(r: TurnRole) -> &'static str {
    match r {
        TurnRole::User => "user",
        TurnRole::Assistant => "assistant",
        TurnRole::Tool => "tool",
    }
}

/// What one call of a tool returns: its result, or its error.
pub(crate) type ToolResult = Result<String, String>;

/// A case's tool script, checked.
#[derive(Debug, Clone)]
pub(crate) struct Script {
    tools: BTreeMap<String, Scripted>,
}

#[derive(Debug, Clone)]
enum Scripted {
    Always(ToolResult),
    Each(Vec<ToolResult>),
}

impl Script {
    /// The case's `tools:`, if it has one; `at` names the case.
    pub(crate) fn of(
        case: &Case,
        tools: Option<&Tools>,
        at: &str,
    ) -> Result<Option<Script>, Error> {
        let Some(script) = &case.tools else {
            return Ok(None);
        };
        let Some(declared) = tools else {
            return Err(Error::invalid(format!(
                "{at}: `tools:` scripts tool results, and the prompt declares no tools"
            )));
        };
        let mut out = BTreeMap::new();
        for (name, v) in script {
            let here = format!("{at}: tools.{name}");
            if declared.get(name).is_none() {
                let mut err = Error::invalid(format!(
                    "{here}: `{name}` is not a tool the prompt declares"
                ));
                if let Some(best) = crate::workspace::yaml::closest(name, declared.names()) {
                    err = err.with_hint(format!("did you mean `{best}`?"));
                }
                return Err(err);
            }
            let scripted = match v {
                Value::Array(list) if list.is_empty() => {
                    return Err(Error::invalid(format!(
                        "{here}: an empty list answers no call; leave the tool out instead"
                    )));
                }
                Value::Array(list) => Scripted::Each(
                    list.iter()
                        .enumerate()
                        .map(|(i, x)| result(x, &format!("{here}[{i}]")))
                        .collect::<Result<_, _>>()?,
                ),
                other => Scripted::Always(result(other, &here)?),
            };
            out.insert(name.clone(), scripted);
        }
        Ok(Some(Script { tools: out }))
    }

    /// A fresh run of the script, for one case evaluation.
    pub(crate) fn start(&self) -> Playback<'_> {
        Playback {
            script: self,
            used: BTreeMap::new(),
        }
    }
}

/// `{ error: "…" }` is a failure; anything else is the result, as text (a
/// string as it is, other JSON as JSON).
fn result(v: &Value, here: &str) -> Result<ToolResult, Error> {
    if let Value::Object(o) = v
        && o.contains_key("error")
    {
        return match (o.len(), &o["error"]) {
            (1, Value::String(e)) if !e.trim().is_empty() => Ok(Err(e.clone())),
            _ => Err(Error::invalid(format!(
                "{here}: a failed call is `{{ error: \"<message>\" }}` and nothing else"
            ))),
        };
    }
    Ok(Ok(match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }))
}

/// The script as one case plays it: each list is consumed once.
pub(crate) struct Playback<'a> {
    script: &'a Script,
    used: BTreeMap<String, usize>,
}

impl Playback<'_> {
    /// The scripted result of the next call of `name`; `Err` when the
    /// script has none (an error for the case).
    pub(crate) fn answer(&mut self, name: &str) -> Result<ToolResult, String> {
        let Some(s) = self.script.tools.get(name) else {
            return Err(format!(
                "the model called `{name}`, and the case scripts no result for it"
            ));
        };
        let n = self.used.entry(name.to_string()).or_default();
        *n += 1;
        match s {
            Scripted::Always(r) => Ok(r.clone()),
            Scripted::Each(list) => list.get(*n - 1).cloned().ok_or_else(|| {
                format!(
                    "the model called `{name}` {n} times, and the case scripts {} result{}",
                    list.len(),
                    if list.len() == 1 { "" } else { "s" }
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tools() -> Tools {
        Tools::parse(json!([{ "name": "lookup" }, { "name": "refund" }])).unwrap()
    }

    fn case(v: Value) -> Case {
        let mut base = json!({ "id": "c" });
        base.as_object_mut()
            .unwrap()
            .extend(v.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn scripts_play_values_lists_and_errors() {
        let c = case(json!({ "tools": {
            "lookup": { "status": "shipped" },
            "refund": [{ "ok": true }, { "error": "payments down" }],
        } }));
        let script = Script::of(&c, Some(&tools()), "c").unwrap().unwrap();
        let mut p = script.start();
        for _ in 0..3 {
            assert_eq!(p.answer("lookup"), Ok(Ok(r#"{"status":"shipped"}"#.into())));
        }
        assert_eq!(p.answer("refund"), Ok(Ok(r#"{"ok":true}"#.into())));
        assert_eq!(p.answer("refund"), Ok(Err("payments down".into())));
        assert!(p.answer("refund").unwrap_err().contains("2 results"));
        assert!(
            p.answer("escalate")
                .unwrap_err()
                .contains("scripts no result")
        );
        // A fresh playback starts the lists over.
        assert_eq!(
            script.start().answer("refund"),
            Ok(Ok(r#"{"ok":true}"#.into()))
        );
    }

    #[test]
    fn bad_scripts_are_config_errors() {
        for (v, tools_declared, says) in [
            (
                json!({ "tools": { "lookup": 1 } }),
                false,
                "declares no tools",
            ),
            (
                json!({ "tools": { "lokup": 1 } }),
                true,
                "not a tool the prompt declares",
            ),
            (json!({ "tools": { "lookup": [] } }), true, "empty list"),
            (
                json!({ "tools": { "lookup": { "error": 3 } } }),
                true,
                "a failed call is",
            ),
            (
                json!({ "tools": { "lookup": { "error": "x", "y": 1 } } }),
                true,
                "and nothing else",
            ),
        ] {
            let t = tools();
            let err = Script::of(&case(v), tools_declared.then_some(&t), "c")
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn prior_turns_must_pair_calls_with_results() {
        let t = tools();
        let ok = case(json!({ "messages": [
            { "role": "user", "content": "where is A1?" },
            { "role": "assistant", "tool_calls": [{ "id": "k1", "name": "lookup", "arguments": { "id": "A1" } }] },
            { "role": "tool", "tool_call_id": "k1", "content": "shipped" },
        ] }));
        let m = prior_turns(&ok, Some(&t), "c").unwrap();
        assert_eq!(m[1].tool_calls[0].arguments, json!({ "id": "A1" }));
        assert_eq!(m[2].tool_call_id.as_deref(), Some("k1"));
        for (v, says) in [
            (
                json!([{ "role": "tool", "tool_call_id": "k9", "content": "x" }]),
                "answers no earlier",
            ),
            (
                json!([{ "role": "tool", "content": "x" }]),
                "needs the `tool_call_id`",
            ),
            (
                json!([{ "role": "assistant", "tool_calls": [{ "id": "k", "name": "lookup" }] }]),
                "has no `tool` turn",
            ),
            (
                json!([{ "role": "assistant", "tool_calls": [{ "id": "k", "name": "nope" }] }]),
                "not a tool",
            ),
            (
                json!([{ "role": "assistant", "content": "" }]),
                "needs `content` or `tool_calls`",
            ),
            (
                json!([{ "role": "user", "content": "x", "is_error": true }]),
                "belong to `tool` turns",
            ),
        ] {
            let err = prior_turns(&case(json!({ "messages": v })), Some(&t), "c")
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{err}");
        }
    }
}
