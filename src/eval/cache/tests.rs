use super::*;
use crate::provider::ChatMessage;
use crate::version::artifact::spec::ModelSpec;
use proptest::prelude::*;

fn request(
    temperature: Option<f64>,
    max_tokens: Option<u32>,
    seed: Option<i64>,
    text: &str,
    model: &str,
) -> ChatRequest {
    ChatRequest {
        model: ModelSpec {
            provider: "p".into(),
            name: model.into(),
            temperature,
            max_tokens,
            seed,
            ..ModelSpec::default()
        },
        messages: vec![ChatMessage::new("user", text)],
        tools: None,
        output_schema: None,
        schema_name: None,
    }
}

proptest! {
    /// Any change to any parameter, the text, the model or the endpoint changes the key.
    #[test]
    fn every_parameter_is_in_the_key(
        t in prop::option::of(0.0f64..2.0), mt in prop::option::of(1u32..4000),
        seed in prop::option::of(any::<i64>()), text in ".{0,20}", which in 0usize..6,
    ) {
        let id = json!({"type": "openai", "base_url": "http://a"});
        let base = request(t, mt, seed, &text, "m");
        let k = Cache::key(&id, &base, 0);
        let changed = match which {
            0 => Cache::key(&id, &request(Some(t.unwrap_or(0.0) + 0.5), mt, seed, &text, "m"), 0),
            1 => Cache::key(&id, &request(t, Some(mt.unwrap_or(0) + 1), seed, &text, "m"), 0),
            2 => Cache::key(&id, &request(t, mt, Some(seed.unwrap_or(0).wrapping_add(1)), &text, "m"), 0),
            3 => Cache::key(&id, &request(t, mt, seed, &format!("{text}!"), "m"), 0),
            4 => Cache::key(&id, &request(t, mt, seed, &text, "m2"), 0),
            _ => Cache::key(&json!({"type": "openai", "base_url": "http://b"}), &base, 0),
        };
        prop_assert_ne!(k.clone(), changed);
        prop_assert_eq!(k, Cache::key(&id, &request(t, mt, seed, &text, "m"), 0));
    }
}

proptest! {
    /// The parameters issue 11 added change the key when set, and leave
    /// it as it was when not: old cassettes and caches still match.
    #[test]
    fn new_parameters_are_in_the_key_only_when_set(
        mct in 1u32..4000, effort in 0usize..7, key in "[a-z_]{1,12}", value in any::<i64>(),
        which in 0usize..5,
    ) {
        use crate::version::artifact::spec::{RESERVED, ReasoningEffort, ResponseFormat};
        prop_assume!(!RESERVED.contains(&key.as_str()));
        let id = json!({"type": "openai", "base_url": "http://a"});
        let mut base = request(Some(0.0), Some(400), Some(42), "q", "m");
        base.output_schema = Some(json!({ "type": "object" }));
        let k = Cache::key(&id, &base, 0);
        // What the request hashed as before these parameters existed.
        let old = json!({
            "model": { "provider": "p", "name": "m", "temperature": 0.0, "max_tokens": 400, "seed": 42 },
            "messages": [{ "role": "user", "content": "q" }],
            "output_schema": { "type": "object" },
        });
        prop_assert_eq!(base.request_hash(), crate::version::canonical::hash_of(&old));
        let mut changed = base.clone();
        let efforts = [
            ReasoningEffort::None, ReasoningEffort::Minimal, ReasoningEffort::Low,
            ReasoningEffort::Medium, ReasoningEffort::High, ReasoningEffort::Xhigh,
            ReasoningEffort::Max,
        ];
        match which {
            0 => changed.model.max_completion_tokens = Some(mct),
            1 => changed.model.reasoning_effort = Some(efforts[effort]),
            2 => changed.model.response_format = Some(ResponseFormat::JsonSchema),
            3 => { changed.model.extra.insert(key.clone(), json!(value)); }
            _ => changed.schema_name = Some(key.clone()),
        }
        prop_assert_ne!(k, Cache::key(&id, &changed, 0));
    }
}

#[test]
fn round_trips_and_is_private() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = Cache::new(tmp.path().join("cache"));
    let r = ChatResponse {
        content: "hi".into(),
        tokens_in: Some(1),
        tokens_out: Some(2),
        latency_ms: Some(12.0),
        ..ChatResponse::default()
    };
    cache.put("sha256:abcd", &r);
    assert_eq!(cache.get("sha256:abcd"), Some(r));
    assert_eq!(cache.get("sha256:ffff"), None);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tmp.path().join("cache/ab/abcd.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// A text-only request (model and messages, nothing of issue 11) hashes
/// exactly as it did before tools, turns and the new parameters existed:
/// the canonical text is pinned byte for byte, and so are both digests
/// (checked against `sha256` of that text outside promptctl). Every cache
/// entry and cassette recorded before still matches.
#[test]
fn a_text_only_request_hashes_as_before() {
    let req = ChatRequest {
        model: ModelSpec {
            provider: "openai".into(),
            name: "gpt-4o-mini".into(),
            temperature: Some(0.0),
            ..ModelSpec::default()
        },
        messages: vec![
            ChatMessage::new("system", "You are a terse assistant."),
            ChatMessage::new("user", "What is 2 + 2?"),
        ],
        tools: None,
        output_schema: None,
        schema_name: None,
    };
    assert_eq!(
        crate::version::canonical::of(&req),
        r#"{"messages":[{"content":"You are a terse assistant.","role":"system"},{"content":"What is 2 + 2?","role":"user"}],"model":{"name":"gpt-4o-mini","provider":"openai","temperature":0}}"#
    );
    assert_eq!(
        req.request_hash(),
        "sha256:0544bd04739db4cf863b95dbd01c6263a5e2ddf77390b5dd76be09547fce2c51"
    );
    let id = json!({ "type": "openai", "base_url": "https://api.openai.com/v1" });
    assert_eq!(
        Cache::key(&id, &req, 0),
        "sha256:38e511d0d6b6474d3fa8c0a567ec9fc1e47829ddf54cc8731931d0b7b8a7cafb"
    );
}

/// Property tests of the keys over whole tool-calling requests: tools, a
/// conversation with tool calls and results, response format, the schema
/// and the new model parameters.
mod keys {
    use super::*;
    use crate::provider::chat::ToolCall;
    use crate::version::artifact::spec::{ReasoningEffort, ResponseFormat};
    use crate::version::artifact::tools::Tools;
    use prop::sample::Index;
    use serde_json::{Map, Value};

    const EFFORTS: [ReasoningEffort; 7] = [
        ReasoningEffort::None,
        ReasoningEffort::Minimal,
        ReasoningEffort::Low,
        ReasoningEffort::Medium,
        ReasoningEffort::High,
        ReasoningEffort::Xhigh,
        ReasoningEffort::Max,
    ];

    /// One tool of the manifest.
    #[derive(Debug, Clone)]
    struct Tool {
        name: String,
        description: Option<String>,
        /// Property name → JSON type.
        params: Vec<(String, &'static str)>,
    }

    impl Tool {
        fn parameters(&self) -> Value {
            let props: Map<String, Value> = self
                .params
                .iter()
                .map(|(k, t)| (k.clone(), json!({ "type": t })))
                .collect();
            json!({ "type": "object", "properties": props })
        }
    }

    /// What a request is built from; the mutations below edit this.
    #[derive(Debug, Clone)]
    struct Spec {
        /// Empty: the request carries no tools.
        tools: Vec<Tool>,
        /// The manifest in OpenAI's function-tool form, else the plain list.
        openai_form: bool,
        messages: Vec<ChatMessage>,
        model: ModelSpec,
        output_schema: Option<Value>,
        schema_name: Option<String>,
    }

    /// Every object of `v` rebuilt with its keys inserted in reverse order.
    fn reversed(v: &Value) -> Value {
        match v {
            Value::Array(items) => Value::Array(items.iter().map(reversed).collect()),
            Value::Object(map) => {
                let mut m = Map::new();
                for (k, v) in map.iter().rev() {
                    m.insert(k.clone(), reversed(v));
                }
                Value::Object(m)
            }
            other => other.clone(),
        }
    }

    /// The request; with `flip`, every JSON object in it (the manifest,
    /// call arguments, `extra` values, the schema) built in reverse key
    /// order, and `extra` filled in reverse.
    fn build(spec: &Spec, flip: bool) -> ChatRequest {
        let order = |v: Value| if flip { reversed(&v) } else { v };
        let tools = (!spec.tools.is_empty()).then(|| {
            let list: Vec<Value> = spec
                .tools
                .iter()
                .map(|t| {
                    let mut f = Map::new();
                    f.insert("name".into(), t.name.clone().into());
                    if let Some(d) = &t.description {
                        f.insert("description".into(), d.clone().into());
                    }
                    f.insert("parameters".into(), t.parameters());
                    if spec.openai_form {
                        json!({ "type": "function", "function": f })
                    } else {
                        Value::Object(f)
                    }
                })
                .collect();
            Tools::parse(order(Value::Array(list))).expect("a valid manifest")
        });
        let mut model = spec.model.clone();
        if flip {
            let entries: Vec<(String, Value)> = model.extra.into_iter().rev().collect();
            model.extra = entries.into_iter().map(|(k, v)| (k, order(v))).collect();
        }
        let messages = spec
            .messages
            .iter()
            .map(|m| {
                let mut m = m.clone();
                for c in &mut m.tool_calls {
                    c.arguments = order(c.arguments.clone());
                }
                m
            })
            .collect();
        ChatRequest {
            model,
            messages,
            tools,
            output_schema: spec.output_schema.clone().map(order),
            schema_name: spec.schema_name.clone(),
        }
    }

    fn keys(spec: &Spec) -> (String, String) {
        let req = build(spec, false);
        let id = json!({ "type": "openai", "base_url": "http://127.0.0.1:1/v1" });
        (Cache::key(&id, &req, 0), req.request_hash())
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            "\\PC{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(2, 12, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Call arguments: keys `a`..`m` (so a mutation can add `zz`).
    fn arb_args() -> impl Strategy<Value = Value> {
        prop::collection::btree_map("[a-m]{1,4}", arb_value(), 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    fn arb_tools() -> impl Strategy<Value = Vec<Tool>> {
        let ty = prop::sample::select(vec!["string", "integer", "boolean", "number"]);
        let tool = (
            "[a-z]{1,6}",
            prop::option::of("\\PC{0,16}"),
            prop::collection::btree_map("[a-m]{1,6}", ty, 0..4),
        );
        prop::collection::vec(tool, 1..4).prop_map(|tools| {
            tools
                .into_iter()
                .enumerate()
                .map(|(i, (suffix, description, params))| Tool {
                    // Unique, and still unique with anything appended.
                    name: format!("t{i}_{suffix}"),
                    description,
                    params: params.into_iter().collect(),
                })
                .collect()
        })
    }

    /// system, user, then rounds of an assistant turn with tool calls and
    /// a `tool` turn answering each call, then more user/assistant turns.
    fn arb_messages(n_tools: usize) -> impl Strategy<Value = Vec<ChatMessage>> {
        let call = (any::<Index>(), arb_args(), "\\PC{0,12}", any::<bool>());
        let round = ("\\PC{0,8}", prop::collection::vec(call, 1..3));
        let turn = (
            prop::sample::select(vec!["user", "assistant"]),
            "\\PC{0,12}",
        );
        (
            "\\PC{0,16}",
            "\\PC{0,16}",
            prop::collection::vec(round, 1..3),
            prop::collection::vec(turn, 0..3),
        )
            .prop_map(move |(system, user, rounds, tail)| {
                let mut out = vec![
                    ChatMessage::new("system", system),
                    ChatMessage::new("user", user),
                ];
                let mut n = 0;
                for (text, calls) in rounds {
                    let mut assistant = ChatMessage::new("assistant", text);
                    let mut results = Vec::new();
                    for (tool, arguments, result, is_error) in calls {
                        n += 1;
                        let id = format!("call_{n}");
                        assistant.tool_calls.push(ToolCall {
                            id: id.clone(),
                            name: format!("t{}", tool.index(n_tools)),
                            arguments,
                            raw_arguments: None,
                            signature: None,
                        });
                        let mut m = ChatMessage::new("tool", result);
                        m.tool_call_id = Some(id);
                        m.is_error = is_error;
                        results.push(m);
                    }
                    out.push(assistant);
                    out.extend(results);
                }
                out.extend(
                    tail.into_iter()
                        .map(|(role, text)| ChatMessage::new(role, text)),
                );
                out
            })
    }

    fn arb_model() -> impl Strategy<Value = ModelSpec> {
        (
            ("[a-z]{1,6}", "[a-z0-9-]{1,12}"),
            prop::option::of(0.0f64..2.0),
            prop::option::of(1u32..8000),
            prop::option::of(1u32..100_000),
            prop::option::of(0usize..EFFORTS.len()),
            any::<bool>(),
            // `x_` keeps every key clear of the reserved fields.
            prop::collection::btree_map("x_[a-z]{1,8}", arb_value(), 0..3),
        )
            .prop_map(
                |((provider, name), temperature, max_tokens, mct, effort, enforce, extra)| {
                    ModelSpec {
                        provider,
                        name,
                        temperature,
                        max_tokens,
                        max_completion_tokens: mct,
                        reasoning_effort: effort.map(|e| EFFORTS[e]),
                        response_format: enforce.then_some(ResponseFormat::JsonSchema),
                        extra,
                        ..ModelSpec::default()
                    }
                },
            )
    }

    fn arb_spec() -> impl Strategy<Value = Spec> {
        (arb_tools(), any::<bool>()).prop_flat_map(|(tools, openai_form)| {
            let n = tools.len();
            (
                Just(tools),
                Just(openai_form),
                arb_messages(n),
                arb_model(),
                prop::option::of(
                    prop::collection::btree_map(
                        "[a-z]{1,6}",
                        Just(json!({ "type": "string" })),
                        0..3,
                    )
                    .prop_map(|p| json!({ "type": "object", "properties": p })),
                ),
                prop::option::of("[a-z_]{1,10}"),
            )
                .prop_map(
                    |(tools, openai_form, messages, model, output_schema, schema_name)| Spec {
                        // The calls name `t{i}`: give them the tools' names.
                        messages: messages
                            .into_iter()
                            .map(|mut m| {
                                for c in &mut m.tool_calls {
                                    let i: usize = c.name[1..].parse().expect("t{i}");
                                    c.name = tools[i].name.clone();
                                }
                                m
                            })
                            .collect(),
                        tools,
                        openai_form,
                        model,
                        output_schema,
                        schema_name,
                    },
                )
        })
    }

    /// A way to change a request: what it changes, and the edit.
    type Mutation = (&'static str, fn(&mut Spec, &Index));

    /// The positions of the messages that satisfy `p`.
    fn positions(spec: &Spec, p: impl Fn(&ChatMessage) -> bool) -> Vec<usize> {
        (0..spec.messages.len())
            .filter(|&i| p(&spec.messages[i]))
            .collect()
    }

    /// A tool result (every generated conversation has one).
    fn result<'s>(spec: &'s mut Spec, at: &Index) -> &'s mut ChatMessage {
        let all = positions(spec, |m| m.role == "tool");
        &mut spec.messages[all[at.index(all.len())]]
    }

    /// One of the assistant's tool calls (every conversation has one).
    fn call<'s>(spec: &'s mut Spec, at: &Index) -> &'s mut ToolCall {
        let all: Vec<(usize, usize)> = spec
            .messages
            .iter()
            .enumerate()
            .flat_map(|(i, m)| (0..m.tool_calls.len()).map(move |j| (i, j)))
            .collect();
        let (i, j) = all[at.index(all.len())];
        &mut spec.messages[i].tool_calls[j]
    }

    fn tool<'s>(spec: &'s mut Spec, at: &Index) -> &'s mut Tool {
        let n = spec.tools.len();
        &mut spec.tools[at.index(n)]
    }

    const MUTATIONS: &[Mutation] = &[
        ("a tool's name", |s, at| tool(s, at).name.push('z')),
        ("a tool's description", |s, at| {
            let t = tool(s, at);
            t.description = Some(t.description.take().map_or(String::new(), |d| d + "!"));
        }),
        ("a tool's description removed or added", |s, at| {
            let t = tool(s, at);
            t.description = match t.description {
                Some(_) => None,
                None => Some("looks things up".into()),
            };
        }),
        ("a tool's parameters: a new property", |s, at| {
            tool(s, at).params.push(("zz".into(), "string"))
        }),
        ("a tool's parameters: a property's type", |s, at| {
            let t = tool(s, at);
            match t.params.first_mut() {
                Some((_, ty)) => *ty = if *ty == "object" { "array" } else { "object" },
                None => t.params.push(("id".into(), "string")),
            }
        }),
        ("a tool added", |s, _| {
            s.tools.push(Tool {
                name: "zz_new".into(),
                description: None,
                params: Vec::new(),
            })
        }),
        ("the tools dropped", |s, _| s.tools.clear()),
        ("the manifest's form", |s, _| s.openai_form = !s.openai_form),
        ("a tool result's content", |s, at| {
            result(s, at).content.push('!')
        }),
        ("a tool result's is_error", |s, at| {
            let r = result(s, at);
            r.is_error = !r.is_error;
        }),
        ("a tool result's tool_call_id", |s, at| {
            if let Some(id) = &mut result(s, at).tool_call_id {
                id.push('x');
            }
        }),
        ("a turn's role", |s, at| {
            let n = s.messages.len();
            let m = &mut s.messages[at.index(n)];
            m.role = match m.role.as_str() {
                "system" => "user",
                "user" => "assistant",
                "assistant" => "tool",
                _ => "system",
            }
            .into();
        }),
        ("a turn's content", |s, at| {
            let n = s.messages.len();
            s.messages[at.index(n)].content.push('!');
        }),
        ("a turn added", |s, _| {
            s.messages.push(ChatMessage::new("user", "and then?"))
        }),
        ("a turn removed", |s, at| {
            let n = s.messages.len();
            s.messages.remove(at.index(n));
        }),
        ("a tool call's id", |s, at| call(s, at).id.push('x')),
        ("a tool call's name", |s, at| call(s, at).name.push('z')),
        ("a tool call's arguments: a new key", |s, at| {
            if let Value::Object(o) = &mut call(s, at).arguments {
                o.insert("zz".into(), json!(true));
            }
        }),
        ("a tool call's arguments: a value", |s, at| {
            let c = call(s, at);
            let Value::Object(o) = &mut c.arguments else {
                unreachable!()
            };
            match o.values_mut().next() {
                Some(v) => *v = json!([v.take()]),
                None => {
                    o.insert("a".into(), Value::Null);
                }
            }
        }),
        ("a tool call's arguments: raw, not JSON", |s, at| {
            let c = call(s, at);
            c.raw_arguments = Some(format!("{}}}", c.arguments));
            c.arguments = Value::Null;
        }),
        ("a tool call added", |s, at| {
            let name = tool(s, at).name.clone();
            let i = positions(s, |m| !m.tool_calls.is_empty())[0];
            s.messages[i].tool_calls.push(ToolCall {
                id: "call_new".into(),
                name,
                arguments: json!({}),
                raw_arguments: None,
                signature: None,
            });
        }),
        ("response_format", |s, _| {
            s.model.response_format = match s.model.response_format {
                Some(_) => None,
                None => Some(ResponseFormat::JsonSchema),
            };
        }),
        ("the output schema", |s, _| {
            s.output_schema = Some(match s.output_schema.take() {
                Some(mut schema) => {
                    schema["required"] = json!(["zz"]);
                    schema
                }
                None => json!({ "type": "object" }),
            });
        }),
        ("the output schema removed", |s, _| {
            s.output_schema = match s.output_schema {
                Some(_) => None,
                None => Some(json!({ "type": "object" })),
            };
        }),
        ("the schema's name", |s, _| {
            s.schema_name = match s.schema_name.take() {
                Some(n) => Some(n + "x"),
                None => Some("output".into()),
            };
        }),
        ("max_completion_tokens", |s, _| {
            s.model.max_completion_tokens =
                Some(s.model.max_completion_tokens.map_or(1, |n| n + 1));
        }),
        ("max_completion_tokens unset or set", |s, _| {
            s.model.max_completion_tokens = match s.model.max_completion_tokens {
                Some(_) => None,
                None => Some(400),
            };
        }),
        ("reasoning_effort", |s, _| {
            let next = match s.model.reasoning_effort {
                Some(e) => {
                    let i = EFFORTS.iter().position(|x| *x == e).expect("listed");
                    EFFORTS[(i + 1) % EFFORTS.len()]
                }
                None => ReasoningEffort::Low,
            };
            s.model.reasoning_effort = Some(next);
        }),
        ("reasoning_effort unset", |s, _| {
            s.model.reasoning_effort = match s.model.reasoning_effort {
                Some(_) => None,
                None => Some(ReasoningEffort::Medium),
            };
        }),
        ("an extra entry added", |s, _| {
            s.model.extra.insert("zz_tier".into(), json!("flex"));
        }),
        ("an extra entry's value", |s, at| {
            let n = s.model.extra.len();
            match s.model.extra.values_mut().nth(at.index(n.max(1))) {
                Some(v) => *v = json!({ "was": v.take() }),
                None => {
                    s.model.extra.insert("x_a".into(), Value::Null);
                }
            }
        }),
        ("an extra entry's key", |s, at| {
            let n = s.model.extra.len();
            match s.model.extra.keys().nth(at.index(n.max(1))).cloned() {
                Some(k) => {
                    let v = s.model.extra.remove(&k).expect("present");
                    s.model.extra.insert(format!("{k}z"), v);
                }
                None => {
                    s.model.extra.insert("x_a".into(), Value::Null);
                }
            }
        }),
        ("an extra entry removed", |s, at| {
            let n = s.model.extra.len();
            match s.model.extra.keys().nth(at.index(n.max(1))).cloned() {
                Some(k) => {
                    s.model.extra.remove(&k);
                }
                None => {
                    s.model.extra.insert("x_a".into(), Value::Null);
                }
            }
        }),
    ];

    proptest! {
        /// Each change to a tool-calling request changes both its cache key
        /// and its cassette key; the same request always gets the same keys.
        #[test]
        fn every_change_changes_both_keys(spec in arb_spec(), at in any::<Index>()) {
            let base = keys(&spec);
            prop_assert_eq!(&base, &keys(&spec.clone()), "not deterministic");
            for (what, mutate) in MUTATIONS {
                let mut changed = spec.clone();
                mutate(&mut changed, &at);
                let after = keys(&changed);
                prop_assert_ne!(&base.0, &after.0, "{}: the cache key stayed", what);
                prop_assert_ne!(&base.1, &after.1, "{}: the cassette key stayed", what);
                prop_assert_eq!(&after, &keys(&changed), "{}: not deterministic", what);
            }
        }

        /// The order of keys in a JSON object is not part of either key:
        /// the manifest's, a call's arguments', `extra`'s (and its values'),
        /// the schema's. (Canonical JSON sorts them; this build's serde_json
        /// maps are sorted already, a build with `preserve_order` would not
        /// be.)
        #[test]
        fn key_order_is_not_part_of_the_keys(spec in arb_spec()) {
            let id = json!({ "type": "openai", "base_url": "http://127.0.0.1:1/v1" });
            let (a, b) = (build(&spec, false), build(&spec, true));
            prop_assert_eq!(a.request_hash(), b.request_hash());
            prop_assert_eq!(Cache::key(&id, &a, 0), Cache::key(&id, &b, 0));
        }
    }
}
