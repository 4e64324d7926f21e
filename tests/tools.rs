//! Tool calls end to end, against the fake server in both wire formats:
//! every reply shape a tool-calling model sends is read without loss, the
//! prompt's `tools.json` reaches each API in its own shape, each tool
//! assertion passes and fails, and the `tool_call_validity` gate. The tool
//! loop, multi-turn cases and their recordings are in `agent_loop.rs`, which
//! shares this harness.

use serde_json::{Value, json};

use crate::fake::{ChatCall, FakeConfig, FakeServer, Fault, Recorded, Reply};
use crate::util::{Run, Workspace, files_under};

pub(crate) const OPENAI_KEY_ENV: &str = "FAKE_OPENAI_KEY";
pub(crate) const ANTHROPIC_KEY_ENV: &str = "FAKE_ANTHROPIC_KEY";
pub(crate) const OPENAI_KEY: &str = "sk-test-TOOLS0123456789abcdefghijkl";
pub(crate) const ANTHROPIC_KEY: &str = "sk-ant-test-TOOLS0123456789abcdefg";

/// The provider of each wire format in [`workspace`]: `fake` speaks OpenAI
/// chat completions, `claude` the Anthropic Messages API.
pub(crate) const BOTH: [&str; 2] = ["fake", "claude"];

pub(crate) const SUITE: &str = "evals/t.yaml";
pub(crate) const CASSETTE: &str = "evals/cassettes/t.jsonl";
pub(crate) const PROMPT_DIR: &str = "prompts/agent";
pub(crate) const TOOLS: &str = "prompts/agent/tools.json";

/// The system text of the `agent` prompt.
pub(crate) const SYSTEM_TEXT: &str = "You are the order-status agent of Acme.";

/// An order-status agent's tools, in OpenAI's function-tool form: every
/// argument named, `order_id` required everywhere.
pub(crate) fn order_tools() -> Value {
    json!([
        { "type": "function", "function": {
            "name": "lookup_order",
            "description": "Find an order by its id",
            "parameters": {
                "type": "object",
                "properties": { "order_id": { "type": "string" } },
                "required": ["order_id"],
            },
        } },
        { "type": "function", "function": {
            "name": "request_refund",
            "description": "Refund part of an order",
            "parameters": {
                "type": "object",
                "properties": {
                    "order_id": { "type": "string" },
                    "amount": { "type": "number" },
                },
                "required": ["order_id", "amount"],
            },
        } },
        { "type": "function", "function": {
            "name": "escalate",
            "description": "Hand the conversation to a human",
            "parameters": {
                "type": "object",
                "properties": { "reason": { "type": "string" } },
                "required": ["reason"],
            },
        } },
    ])
}

/// A workspace with providers `fake` (OpenAI), `claude` (Anthropic) and
/// `replay` at `server`, and the prompt `agent` (system text, then the
/// user's `{{question}}`), with `tools` as its `tools.json` when given.
/// Order ids (`ORD-` and 8 digits) and e-mail addresses are redacted.
pub(crate) fn workspace(server: &FakeServer, tools: Option<&Value>) -> Workspace {
    let ws = Workspace::init();
    ws.write(
        "promptctl.yaml",
        format!(
            "providers:\n  \
             fake:   {{ type: openai, base_url: \"{}\", api_key_env: {OPENAI_KEY_ENV}, retries: 0 }}\n  \
             claude: {{ type: anthropic, base_url: \"{}\", api_key_env: {ANTHROPIC_KEY_ENV}, retries: 0 }}\n  \
             replay: {{ type: replay }}\n\
             redaction:\n  builtins: [email, api_key]\n  patterns: {{ order_id: \"ORD-[0-9]{{8}}\" }}\n",
            server.openai_base_url(),
            server.anthropic_base_url()
        ),
    );
    let tools_line = if tools.is_some() {
        "tools: { file: tools.json }\n"
    } else {
        ""
    };
    ws.write(
        &format!("{PROMPT_DIR}/prompt.yaml"),
        format!(
            "name: agent\n\
             model: {{ provider: fake, name: gpt-4o-mini }}\n\
             messages:\n  \
             - {{ role: system, template: \"{SYSTEM_TEXT}\" }}\n  \
             - {{ role: user, template: \"{{{{question}}}}\" }}\n\
             variables:\n  question: {{ type: string, required: true }}\n\
             {tools_line}"
        ),
    );
    if let Some(tools) = tools {
        ws.write(
            TOOLS,
            serde_json::to_string_pretty(tools).expect("JSON") + "\n",
        );
    }
    ws
}

/// Writes suite `t` on the `agent` prompt: `body` holds its `cases:` (and
/// whatever else it sets).
pub(crate) fn suite(ws: &Workspace, provider: &str, body: &str) {
    ws.write(
        SUITE,
        format!("prompt: agent\nprovider: {provider}\n{body}"),
    );
}

/// `eval t --no-cache ARGS`, with both keys set.
pub(crate) fn eval(ws: &Workspace, args: &[&str]) -> Run {
    let mut all = vec!["--no-cache"];
    all.extend_from_slice(args);
    eval_cached(ws, &all)
}

/// `eval t ARGS`, with both keys set and the cache on unless ARGS say otherwise.
pub(crate) fn eval_cached(ws: &Workspace, args: &[&str]) -> Run {
    let mut all = vec!["eval", "t"];
    all.extend_from_slice(args);
    let mut cmd = ws.cmd(all);
    cmd.without_proxies()
        .env(OPENAI_KEY_ENV, OPENAI_KEY)
        .env(ANTHROPIC_KEY_ENV, ANTHROPIC_KEY);
    cmd.run()
}

/// The run file the `saved run` line of `run` names, parsed.
#[track_caller]
pub(crate) fn run_file(ws: &Workspace, run: &Run) -> Value {
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("saved ") && l.contains("run `"))
        .unwrap_or_else(|| panic!("no `saved run` line\n{run}"));
    let rel = line.rsplit('`').nth(1).expect("a path").to_string();
    serde_json::from_str(&ws.read(&rel)).expect("a JSON run file")
}

/// The case `id` of a run file.
#[track_caller]
pub(crate) fn case<'a>(file: &'a Value, id: &str) -> &'a Value {
    file["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no case {id} in {file}"))
}

/// The reason of the one assertion of type `kind` in a case.
#[track_caller]
pub(crate) fn reason<'a>(case: &'a Value, kind: &str) -> &'a str {
    case["assertions"]
        .as_array()
        .expect("assertions")
        .iter()
        .find(|a| a["type"] == kind)
        .and_then(|a| a["reason"].as_str())
        .unwrap_or_else(|| panic!("no {kind} assertion in {case}"))
}

/// The bodies of the chat requests the server received, in order.
pub(crate) fn chat_bodies(server: &FakeServer) -> Vec<Value> {
    server
        .requests()
        .into_iter()
        .filter(|r: &Recorded| r.method == "POST")
        .map(|r| r.body)
        .collect()
}

/// No run was saved: nothing under `.promptctl/runs`.
#[track_caller]
pub(crate) fn no_run_saved(ws: &Workspace, run: &Run) {
    let dir = ws.path(".promptctl/runs");
    if dir.exists() {
        let saved = files_under(&dir);
        assert!(saved.is_empty(), "saved {saved:?}\n{run}");
    }
}

/// An OpenAI chat completion with this `message` and `finish_reason`.
pub(crate) fn openai_body(message: Value, finish_reason: &str) -> Fault {
    Fault::Json(json!({
        "id": "chatcmpl-x", "object": "chat.completion", "model": "gpt-4o-mini",
        "choices": [{ "index": 0, "message": message, "finish_reason": finish_reason }],
        "usage": { "prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8 },
    }))
}

/// An Anthropic message with these content blocks and `stop_reason`.
pub(crate) fn anthropic_body(content: Value, stop_reason: &str) -> Fault {
    Fault::Json(json!({
        "id": "msg_x", "type": "message", "role": "assistant", "model": "m",
        "content": content, "stop_reason": stop_reason, "stop_sequence": null,
        "usage": { "input_tokens": 5, "output_tokens": 3 },
    }))
}

/// One call of `lookup_order` for order A1, beside `content`.
fn lookup_a1(content: Option<&str>) -> Reply {
    Reply {
        content: content.map(str::to_string),
        ..Reply::calls(0, &[("lookup_order", r#"{"order_id":"A1"}"#)])
    }
}

#[test]
fn tool_calls_are_kept_beside_empty_null_or_real_text() {
    // The question picks the `content` sent beside the call: LiteLLM's "",
    // OpenAI's null, or text (for Anthropic: a text block or none).
    let server = FakeServer::start(FakeConfig::agent(|call: &ChatCall| {
        match call.last_user() {
            "content is empty" => lookup_a1(Some("")),
            "content is null" => lookup_a1(None),
            "content is text" => lookup_a1(Some("Let me check that order.")),
            other => panic!("unexpected question {other:?}"),
        }
    }));
    let ws = workspace(&server, Some(&order_tools()));
    let asserts = "[{ type: tool_called, value: lookup_order }, \
                   { type: tool_args, value: { name: lookup_order, args: { order_id: A1 } } }, \
                   { type: valid_tool_calls }]";
    for provider in BOTH {
        suite(
            &ws,
            provider,
            &format!(
                "cases:\n  \
                 - {{ id: empty, vars: {{ question: \"content is empty\" }}, assert: {asserts} }}\n  \
                 - {{ id: nulled, vars: {{ question: \"content is null\" }}, assert: {asserts} }}\n  \
                 - {{ id: text, vars: {{ question: \"content is text\" }}, assert: [{{ type: contains, value: \"check that order\" }}] }}\n"
            ),
        );
        let run = eval(&ws, &[]);
        run.code(0);
        let file = run_file(&ws, &run);
        for (id, text) in [
            ("empty", ""),
            ("nulled", ""),
            ("text", "Let me check that order."),
        ] {
            let c = case(&file, id);
            assert_eq!(c["passed"], true, "{provider} {id}: {c}");
            assert_eq!(c["output"], text, "{provider} {id}: {c}");
            assert_eq!(c["tool_calls"], 1, "{provider} {id}: {c}");
            assert!(
                c.get("invalid_tool_calls").is_none(),
                "{provider} {id}: {c}"
            );
            assert_eq!(c["stop_reason"], "tool_calls", "{provider} {id}: {c}");
            assert_eq!(
                c["transcript"],
                json!([{
                    "role": "assistant",
                    "content": text,
                    "tool_calls": [{ "id": "call_1", "name": "lookup_order", "arguments": { "order_id": "A1" } }],
                }]),
                "{provider} {id}"
            );
        }
        assert_eq!(
            file["summary"]["tool_calls"],
            json!({ "total": 3, "valid": 3, "validity": 1.0 }),
            "{provider}"
        );
    }
    assert_eq!(server.request_count(), 6, "one call a case, no loop");
}

#[test]
fn a_litellm_reply_and_arguments_sent_as_an_object_are_read_whole() {
    // As a LiteLLM proxy sends it (`content: ""`, `function_call: null`,
    // an `index` on each call); and a server that sends the arguments as
    // an object rather than a string.
    let litellm = openai_body(
        json!({
            "content": "", "role": "assistant", "function_call": null,
            "tool_calls": [
                { "index": 0, "function": { "arguments": "{\"order_id\": \"A1\"}", "name": "lookup_order" },
                  "id": "call_Lx1", "type": "function" },
                { "index": 1, "function": { "arguments": "{\"reason\": \"asked for a human\"}", "name": "escalate" },
                  "id": "call_Lx2", "type": "function" },
            ],
        }),
        "tool_calls",
    );
    let object = openai_body(
        json!({ "role": "assistant", "content": null, "tool_calls": [
            { "id": "c9", "type": "function", "function": { "name": "lookup_order", "arguments": { "order_id": "A1" } } }] }),
        "tool_calls",
    );
    for (body, calls) in [
        (
            litellm,
            json!([
                { "id": "call_Lx1", "name": "lookup_order", "arguments": { "order_id": "A1" } },
                { "id": "call_Lx2", "name": "escalate", "arguments": { "reason": "asked for a human" } },
            ]),
        ),
        (
            object,
            json!([{ "id": "c9", "name": "lookup_order", "arguments": { "order_id": "A1" } }]),
        ),
    ] {
        let server = FakeServer::start(FakeConfig::default());
        server.push_faults([body]);
        let ws = workspace(&server, Some(&order_tools()));
        suite(
            &ws,
            "fake",
            "cases:\n  - { id: c1, vars: { question: \"Where is A1?\" }, assert: [\
             { type: tool_args, value: { name: lookup_order, call: 1, args: { order_id: A1 } } }, \
             { type: valid_tool_calls }] }\n",
        );
        let run = eval(&ws, &[]);
        run.code(0);
        let file = run_file(&ws, &run);
        let c = case(&file, "c1");
        assert_eq!(c["output"], "", "{c}");
        assert_eq!(c["transcript"][0]["tool_calls"], calls, "{c}");
        assert_eq!(c["tool_calls"], calls.as_array().map_or(0, Vec::len), "{c}");
    }
}

#[test]
fn arguments_that_are_not_json_are_kept_raw_and_are_invalid() {
    // OpenAI sends arguments as a string, which need not be JSON (Anthropic's
    // `input` is always an object).
    const CUT: &str = r#"{"order_id": "A1"#;
    let server = FakeServer::start(FakeConfig::agent(|_: &ChatCall| {
        Reply::calls(0, &[("lookup_order", CUT)])
    }));
    let ws = workspace(&server, Some(&order_tools()));
    suite(
        &ws,
        "fake",
        "cases:\n  - { id: c1, vars: { question: \"Where is A1?\" }, assert: [\
         { type: tool_called, value: lookup_order }, \
         { type: tool_args, value: { name: lookup_order, args: { order_id: A1 } } }, \
         { type: valid_tool_calls }] }\n",
    );
    let run = eval(&ws, &[]);
    run.code(1);
    let file = run_file(&ws, &run);
    let c = case(&file, "c1");
    assert_eq!(c["passed"], false, "{c}");
    assert_eq!(
        c["transcript"][0]["tool_calls"][0],
        json!({ "id": "call_1", "name": "lookup_order", "arguments": null, "raw_arguments": CUT }),
        "{c}"
    );
    assert_eq!(c["tool_calls"], 1, "{c}");
    assert_eq!(c["invalid_tool_calls"], 1, "{c}");
    assert!(
        c["assertions"][0]["passed"] == true,
        "the call was made: {c}"
    );
    assert!(
        reason(c, "tool_args").contains("the arguments are not valid JSON"),
        "{c}"
    );
    assert!(
        reason(c, "valid_tool_calls").contains("`lookup_order`: the arguments are not valid JSON"),
        "{c}"
    );
    assert_eq!(
        file["summary"]["tool_calls"],
        json!({ "total": 1, "valid": 0, "validity": 0.0 })
    );
}

#[test]
fn a_tool_call_cut_off_by_the_token_limit_fails_and_is_not_run() {
    let server = FakeServer::start(FakeConfig::agent(|call: &ChatCall| {
        let finish = match call.api {
            crate::fake::Api::OpenAi => "length",
            crate::fake::Api::Anthropic => "max_tokens",
            crate::fake::Api::Gemini => "MAX_TOKENS",
        };
        Reply {
            finish: Some(finish.into()),
            ..lookup_a1(None)
        }
    }));
    let ws = workspace(&server, Some(&order_tools()));
    for (n, provider) in BOTH.into_iter().enumerate() {
        // A tool script, so a call that was not cut off would be answered
        // and the model called again; and an assertion the call would pass.
        suite(
            &ws,
            provider,
            "cases:\n  - { id: c1, vars: { question: \"Where is A1?\" }, \
             tools: { lookup_order: { status: shipped } }, \
             assert: [{ type: tool_called, value: lookup_order }] }\n",
        );
        let run = eval(&ws, &[]);
        run.code(1).stdout_has("truncated at max_tokens");
        let file = run_file(&ws, &run);
        let c = case(&file, "c1");
        assert_eq!(c["passed"], false, "{provider}: {c}");
        assert_eq!(c["stopped"], "truncated at max_tokens", "{provider}: {c}");
        assert_eq!(c["stop_reason"], "length", "{provider}: {c}");
        assert_eq!(file["summary"]["truncated"], 1, "{provider}");
        assert_eq!(
            server.request_count(),
            n + 1,
            "{provider}: the cut-off call is not answered"
        );
    }
}

#[test]
fn a_refusal_beside_no_content_is_a_refusal_on_a_prompt_with_tools() {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([
        openai_body(
            json!({ "role": "assistant", "content": null, "refusal": "I cannot look up other people's orders." }),
            "stop",
        ),
        anthropic_body(json!([]), "refusal"),
    ]);
    let ws = workspace(&server, Some(&order_tools()));
    for provider in BOTH {
        suite(
            &ws,
            provider,
            "cases:\n  - { id: c1, vars: { question: \"Show me order B2 of someone else\" }, \
             assert: [{ type: refusal }, { type: tool_not_called, value: lookup_order }] }\n",
        );
        let run = eval(&ws, &[]);
        run.code(0);
        let file = run_file(&ws, &run);
        let c = case(&file, "c1");
        assert_eq!(c["passed"], true, "{provider}: {c}");
        assert_eq!(c["refused"], true, "{provider}: {c}");
        assert_eq!(file["summary"]["refused"], 1, "{provider}");
    }
    let file = {
        suite(
            &ws,
            "fake",
            "cases:\n  - { id: c1, vars: { question: \"again\" }, assert: [{ type: not_refusal }] }\n",
        );
        server.push_faults([openai_body(
            json!({ "role": "assistant", "content": null, "refusal": "I cannot look up other people's orders." }),
            "stop",
        )]);
        let run = eval(&ws, &[]);
        run.code(1);
        run_file(&ws, &run)
    };
    let c = case(&file, "c1");
    assert_eq!(
        c["output"], "I cannot look up other people's orders.",
        "{c}"
    );
    assert_eq!(reason(c, "not_refusal"), "refused", "{c}");
}

#[test]
fn each_tools_json_form_reaches_each_api_in_its_own_shape() {
    let params = json!({
        "type": "object",
        "properties": { "order_id": { "type": "string" } },
        "required": ["order_id"],
    });
    let openai_shape = json!([{ "type": "function", "function": {
        "name": "lookup_order", "description": "Find an order", "parameters": params } }]);
    let anthropic_shape =
        json!([{ "name": "lookup_order", "description": "Find an order", "input_schema": params }]);
    let plain =
        json!([{ "name": "lookup_order", "description": "Find an order", "parameters": params }]);
    for (form, manifest) in [
        ("openai", openai_shape.clone()),
        ("plain", plain),
        ("anthropic", anthropic_shape.clone()),
    ] {
        // The fake server answers 400 to a tool in the other API's shape, as
        // the real APIs do; so every run passing is itself the check.
        let server = FakeServer::start(FakeConfig::agent(|_: &ChatCall| lookup_a1(None)));
        let ws = workspace(&server, Some(&manifest));
        for provider in BOTH {
            suite(
                &ws,
                provider,
                "cases:\n  - { id: c1, vars: { question: \"Where is A1?\" }, \
                 assert: [{ type: tool_called, value: lookup_order }, { type: valid_tool_calls }] }\n",
            );
            eval(&ws, &[]).code(0);
        }
        let bodies = chat_bodies(&server);
        assert_eq!(bodies.len(), 2, "{form}");
        assert_eq!(
            bodies[0]["tools"], openai_shape,
            "{form} tools.json to OpenAI"
        );
        assert_eq!(
            bodies[1]["tools"], anthropic_shape,
            "{form} tools.json to Anthropic"
        );
    }
}

#[test]
fn a_bad_tools_json_is_exit_2_naming_the_file_and_the_tool() {
    for (manifest, says) in [
        (
            json!([{ "description": "no name" }]),
            "tools[0]: `name` (a string) is required",
        ),
        (
            json!([{ "name": "lookup_order" }, { "type": "function", "function": { "name": "lookup_order" } }]),
            "tools[1]: the tool `lookup_order` is defined twice",
        ),
        (
            json!([{ "name": "lookup order" }]),
            "tools[0]: name `lookup order`",
        ),
        (
            json!([{ "name": "lookup_order", "parameters": { "type": 7 } }]),
            "tools[0]: `lookup_order`: `parameters` is not a valid JSON Schema",
        ),
    ] {
        let server = FakeServer::start(FakeConfig::default());
        let ws = workspace(&server, Some(&manifest));
        suite(
            &ws,
            "fake",
            "cases:\n  - { id: c1, vars: { question: \"Where is A1?\" }, assert: [{ type: contains, value: A1 }] }\n",
        );
        let run = eval(&ws, &[]);
        run.code(2).stderr_has(TOOLS).stderr_has(says);
        no_run_saved(&ws, &run);
        assert_eq!(server.request_count(), 0, "{manifest}: nothing is sent");
    }
}

/// The three calls every case of [`each_tool_assertion_passes_and_fails`]
/// sees: two lookups, then a refund.
fn three_calls(_: &ChatCall) -> Reply {
    Reply::calls(
        0,
        &[
            ("lookup_order", r#"{"order_id":"A1"}"#),
            ("lookup_order", r#"{"order_id":"B2"}"#),
            ("request_refund", r#"{"order_id":"A1","amount":5}"#),
        ],
    )
}

#[test]
fn each_tool_assertion_passes_and_fails() {
    // (case, assertion, passes, what its reason says)
    let table: &[(&str, &str, bool, &str)] = &[
        (
            "called",
            "{ type: tool_called, value: lookup_order }",
            true,
            "`lookup_order` called 2 times (want at least 1)",
        ),
        (
            "called-not",
            "{ type: tool_called, value: escalate }",
            false,
            "`escalate` called 0 times (want at least 1)",
        ),
        (
            "times",
            "{ type: tool_called, value: { name: lookup_order, times: 2 } }",
            true,
            "`lookup_order` called 2 times (want 2)",
        ),
        (
            "times-not",
            "{ type: tool_called, value: { name: lookup_order, times: 1 } }",
            false,
            "`lookup_order` called 2 times (want 1)",
        ),
        (
            "min-max-not",
            "{ type: tool_called, value: { name: request_refund, min: 2, max: 3 } }",
            false,
            "`request_refund` called 1 time (want 2 to 3)",
        ),
        (
            "not-called",
            "{ type: tool_not_called, value: escalate }",
            true,
            "`escalate` called 0 times",
        ),
        (
            "not-called-not",
            "{ type: tool_not_called, value: request_refund }",
            false,
            "`request_refund` called 1 time",
        ),
        (
            "args",
            // 5.0 is 5: numbers compare by value.
            "{ type: tool_args, value: { name: request_refund, args: { amount: 5.0 } } }",
            true,
            "`request_refund` call 1 matches",
        ),
        (
            "args-not",
            "{ type: tool_args, value: { name: request_refund, args: { amount: 50 } } }",
            false,
            "do not contain",
        ),
        (
            "schema",
            "{ type: tool_args, value: { name: lookup_order, schema: { properties: { order_id: { pattern: \"^[A-Z][0-9]$\" } } } } }",
            true,
            "`lookup_order` call 1 matches",
        ),
        (
            "schema-not",
            "{ type: tool_args, value: { name: request_refund, schema: { properties: { amount: { maximum: 1 } } } } }",
            false,
            "`request_refund` call 1: /amount",
        ),
        (
            "call",
            "{ type: tool_args, value: { name: lookup_order, call: 2, args: { order_id: B2 } } }",
            true,
            "`lookup_order` call 2 matches",
        ),
        (
            // Call 1 is A1; any call would match B2 (see `any-call`).
            "call-not",
            "{ type: tool_args, value: { name: lookup_order, call: 1, args: { order_id: B2 } } }",
            false,
            "`lookup_order` call 1: arguments",
        ),
        (
            "any-call",
            "{ type: tool_args, value: { name: lookup_order, args: { order_id: B2 } } }",
            true,
            "`lookup_order` call 2 matches",
        ),
        (
            "no-such-call",
            "{ type: tool_args, value: { name: lookup_order, call: 3, args: {} } }",
            false,
            "`lookup_order` was called 2 times, so there is no call 3",
        ),
        (
            "args-uncalled",
            "{ type: tool_args, value: { name: escalate, args: {} } }",
            false,
            "`escalate` was not called",
        ),
        (
            "sequence",
            "{ type: tool_sequence, value: [lookup_order, request_refund] }",
            true,
            "called [lookup_order, lookup_order, request_refund]; want [lookup_order, request_refund] in order",
        ),
        (
            "sequence-not",
            "{ type: tool_sequence, value: [request_refund, lookup_order] }",
            false,
            "in order",
        ),
        (
            "exact",
            "{ type: tool_sequence, value: { names: [lookup_order, lookup_order, request_refund], mode: exact } }",
            true,
            "exactly",
        ),
        (
            // A subsequence, but not the whole of it.
            "exact-not",
            "{ type: tool_sequence, value: { names: [lookup_order, request_refund], mode: exact } }",
            false,
            "want [lookup_order, request_refund] exactly",
        ),
        ("valid", "{ type: valid_tool_calls }", true, "3 calls valid"),
    ];
    let server = FakeServer::start(FakeConfig::agent(three_calls));
    let ws = workspace(&server, Some(&order_tools()));
    let cases: String = table
        .iter()
        .map(|(id, assert, _, _)| {
            format!("  - {{ id: {id}, vars: {{ question: \"case {id}\" }}, assert: [{assert}] }}\n")
        })
        .collect();
    suite(
        &ws,
        "fake",
        &format!("cases:\n{cases}gates: {{ pass_rate: 0.4 }}\n"),
    );
    let run = eval(&ws, &[]);
    run.code(0);
    let file = run_file(&ws, &run);
    for (id, _, passes, says) in table {
        let c = case(&file, id);
        assert_eq!(c["passed"], *passes, "{id}: {c}");
        let why = c["assertions"][0]["reason"].as_str().unwrap_or_default();
        assert!(why.contains(says), "{id}: {why:?} lacks {says:?}");
    }
    assert_eq!(
        file["summary"]["passed"],
        table.iter().filter(|t| t.2).count()
    );
}

/// A call that goes wrong (or does not), by the question that asks for
/// it: (question, the call made, the providers it can be sent by, what the
/// reason says; `None` is a valid call).
type BadCall = (
    &'static str,
    (&'static str, &'static str),
    &'static [&'static str],
    Option<&'static str>,
);

const BAD_CALLS: &[BadCall] = &[
    ("ok", ("lookup_order", r#"{"order_id":"A1"}"#), &BOTH, None),
    (
        "unknown tool",
        ("cancel_order", r#"{"order_id":"A1"}"#),
        &BOTH,
        Some("`cancel_order` is not a tool the prompt declares"),
    ),
    (
        "missing argument",
        ("request_refund", r#"{"order_id":"A1"}"#),
        &BOTH,
        Some("`request_refund`: \"amount\" is a required property"),
    ),
    (
        "extra argument",
        ("lookup_order", r#"{"order_id":"A1","note":"rush"}"#),
        &BOTH,
        Some("`lookup_order`: unknown argument `note`"),
    ),
    (
        "wrong type",
        ("request_refund", r#"{"order_id":"A1","amount":"five"}"#),
        &BOTH,
        Some("`request_refund`: /amount"),
    ),
    (
        // Only OpenAI sends arguments as a string that may not parse.
        "invalid json",
        ("lookup_order", r#"{"order_id":"A1""#),
        &["fake"],
        Some("`lookup_order`: the arguments are not valid JSON"),
    ),
];

#[test]
fn valid_tool_calls_catches_each_way_a_call_goes_wrong() {
    let server = FakeServer::start(FakeConfig::agent(|call: &ChatCall| {
        let row = BAD_CALLS
            .iter()
            .find(|r| r.0 == call.last_user())
            .unwrap_or_else(|| panic!("unexpected question {:?}", call.last_user()));
        Reply::calls(0, &[row.1])
    }));
    let ws = workspace(&server, Some(&order_tools()));
    for provider in BOTH {
        let rows: Vec<&BadCall> = BAD_CALLS
            .iter()
            .filter(|r| r.2.contains(&provider))
            .collect();
        let cases: String = rows
            .iter()
            .enumerate()
            .map(|(i, (q, ..))| {
                format!(
                    "  - {{ id: c{i}, vars: {{ question: \"{q}\" }}, assert: [{{ type: valid_tool_calls }}] }}\n"
                )
            })
            .collect();
        suite(&ws, provider, &format!("cases:\n{cases}"));
        let run = eval(&ws, &[]);
        run.code(1);
        let file = run_file(&ws, &run);
        for (i, (q, _, _, says)) in rows.iter().enumerate() {
            let c = case(&file, &format!("c{i}"));
            let why = reason(c, "valid_tool_calls");
            match says {
                None => {
                    assert_eq!(c["passed"], true, "{provider} {q}: {c}");
                    assert_eq!(why, "1 call valid");
                }
                Some(says) => {
                    assert_eq!(c["passed"], false, "{provider} {q}: {c}");
                    assert!(
                        why.starts_with("1 of 1 calls invalid: ") && why.contains(says),
                        "{provider} {q}: {why:?} lacks {says:?}"
                    );
                    assert_eq!(c["invalid_tool_calls"], 1, "{provider} {q}: {c}");
                }
            }
        }
        let n = rows.len() as u64;
        assert_eq!(
            file["summary"]["tool_calls"],
            json!({ "total": n, "valid": 1, "validity": 1.0 / n as f64 }),
            "{provider}"
        );
    }
}

#[test]
fn a_tool_check_on_a_prompt_without_tools_or_naming_an_undeclared_tool_is_exit_2() {
    // (prompt has tools, suite body, what stderr says)
    let table: &[(bool, &str, &[&str])] = &[
        (
            false,
            "cases:\n  - { id: c1, vars: { question: q }, assert: [{ type: valid_tool_calls }] }\n",
            &[
                "case `c1` assert[0]",
                "a `valid_tool_calls` assertion needs a prompt with tools, and this prompt declares none",
            ],
        ),
        (
            false,
            "cases:\n  - { id: c1, vars: { question: q }, assert: [{ type: tool_not_called, value: lookup_order }] }\n",
            &["a `tool_not_called` assertion needs a prompt with tools"],
        ),
        (
            false,
            "defaults: { assert: [{ type: tool_called, value: lookup_order }] }\n\
             cases:\n  - { id: c1, vars: { question: q } }\n",
            &["defaults.assert[0]", "needs a prompt with tools"],
        ),
        (
            false,
            "cases:\n  - { id: c1, vars: { question: q }, assert: [{ type: contains, value: q }] }\n\
             gates: { tool_call_validity: 0.95 }\n",
            &["gates: `tool_call_validity` needs a prompt with tools"],
        ),
        (
            false,
            "cases:\n  - { id: c1, vars: { question: q }, tools: { lookup_order: ok }, assert: [{ type: contains, value: q }] }\n",
            &["`tools:` scripts tool results, and the prompt declares no tools"],
        ),
        (
            true,
            "cases:\n  - { id: c1, vars: { question: q }, assert: [{ type: tool_called, value: lookup_ordr }] }\n",
            &[
                "`tool_called` names `lookup_ordr`, which is not a tool the prompt declares",
                "did you mean `lookup_order`?",
            ],
        ),
        (
            true,
            "cases:\n  - { id: c1, vars: { question: q }, assert: [{ type: tool_sequence, value: [lookup_order, refund] }] }\n",
            &["names `refund`, which is not a tool the prompt declares"],
        ),
        (
            true,
            "cases:\n  - { id: c1, vars: { question: q }, tools: { cancel_order: ok }, assert: [{ type: contains, value: q }] }\n",
            &["tools.cancel_order: `cancel_order` is not a tool the prompt declares"],
        ),
    ];
    for (with_tools, body, says) in table {
        let server = FakeServer::start(FakeConfig::default());
        let tools = order_tools();
        let ws = workspace(&server, with_tools.then_some(&tools));
        suite(&ws, "fake", body);
        let run = eval(&ws, &[]);
        run.code(2).stdout_empty();
        for s in *says {
            run.stderr_has(s);
        }
        no_run_saved(&ws, &run);
        assert_eq!(server.request_count(), 0, "{body}: nothing is sent");
    }
}

#[test]
fn the_tool_call_validity_gate_passes_fails_and_fails_with_no_calls() {
    // The question is the call: `good` is valid, `bad` has an extra
    // argument, `none` makes no call at all.
    let server = FakeServer::start(FakeConfig::agent(|call: &ChatCall| {
        match call.last_user().split(' ').next() {
            Some("good") => lookup_a1(None),
            Some("bad") => Reply::calls(0, &[("lookup_order", r#"{"order_id":"A1","x":1}"#)]),
            Some("none") => Reply::text("Your order is on its way."),
            other => panic!("unexpected question {other:?}"),
        }
    }));
    let ws = workspace(&server, Some(&order_tools()));
    let suite_of = |kinds: &[&str]| {
        let cases: String = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| {
                format!(
                    "  - {{ id: c{i}, segment: {}, vars: {{ question: \"{k} {i}\" }} }}\n",
                    if *k == "bad" { "refunds" } else { "lookups" }
                )
            })
            .collect();
        suite(
            &ws,
            "fake",
            &format!("cases:\n{cases}gates: {{ tool_call_validity: 0.95 }}\n"),
        );
    };
    let gate = |file: &Value| {
        file["gates"]
            .as_array()
            .expect("gates")
            .iter()
            .find(|g| g["gate"] == "tool_call_validity")
            .cloned()
            .unwrap_or_else(|| panic!("no tool_call_validity gate in {file}"))
    };

    // 19 of 20 calls valid: 0.95, at the threshold.
    let mut kinds = vec!["good"; 19];
    kinds.push("bad");
    suite_of(&kinds);
    let run = eval(&ws, &[]);
    run.code(0);
    let file = run_file(&ws, &run);
    assert_eq!(
        file["summary"]["tool_calls"],
        json!({ "total": 20, "valid": 19, "validity": 0.95 })
    );
    assert_eq!(gate(&file)["passed"], true, "{}", gate(&file));

    // 9 of 10: under it.
    let mut kinds = vec!["good"; 9];
    kinds.push("bad");
    suite_of(&kinds);
    let run = eval(&ws, &[]);
    run.code(1).stdout_has("tool_call_validity");
    let file = run_file(&ws, &run);
    assert_eq!(file["summary"]["tool_calls"]["validity"], 0.9);
    assert_eq!(gate(&file)["passed"], false, "{}", gate(&file));
    assert_eq!(
        file["summary"]["segments"]["refunds"]["tool_calls"],
        json!({ "total": 1, "valid": 0, "validity": 0.0 })
    );

    // No call at all is no evidence: the gate fails, it does not pass.
    suite_of(&["none", "none"]);
    let run = eval(&ws, &[]);
    run.code(1).stdout_has("no tool calls were made");
    let file = run_file(&ws, &run);
    assert!(file["summary"].get("tool_calls").is_none(), "{file}");
    let g = gate(&file);
    assert_eq!(g["passed"], false, "{g}");
}

#[test]
fn a_segment_tool_call_validity_gate_reads_its_segment_only() {
    let server = FakeServer::start(FakeConfig::agent(|call: &ChatCall| {
        if call.last_user().starts_with("bad") {
            Reply::calls(0, &[("escalate", "{}")])
        } else {
            lookup_a1(None)
        }
    }));
    let ws = workspace(&server, Some(&order_tools()));
    suite(
        &ws,
        "fake",
        "cases:\n  \
         - { id: a, segment: lookups, vars: { question: \"good a\" } }\n  \
         - { id: b, segment: lookups, vars: { question: \"good b\" } }\n  \
         - { id: c, segment: escalations, vars: { question: \"bad c\" } }\n\
         gates:\n  segments:\n    lookups: { tool_call_validity: 1.0 }\n    escalations: { tool_call_validity: 1.0 }\n",
    );
    let run = eval(&ws, &[]);
    run.code(1);
    let file = run_file(&ws, &run);
    let verdicts: Vec<(String, bool)> = file["gates"]
        .as_array()
        .expect("gates")
        .iter()
        .map(|g| {
            (
                g["gate"].as_str().unwrap_or_default().to_string(),
                g["passed"] == true,
            )
        })
        .collect();
    assert!(
        verdicts.contains(&("segments.lookups.tool_call_validity".into(), true)),
        "{verdicts:?}"
    );
    assert!(
        verdicts.contains(&("segments.escalations.tool_call_validity".into(), false)),
        "{verdicts:?}"
    );
}
