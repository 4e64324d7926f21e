//! `type: gemini` end to end against the fake server's `generateContent`:
//! the request's exact shape (`systemInstruction`, `contents`,
//! `generationConfig`, `functionDeclarations`), a tool loop whose results go
//! back as `functionResponse` parts under their call's name (with the
//! `thoughtSignature` the API sent), `MAX_TOKENS` and `SAFETY` failing
//! closed, a blocked prompt as a case error, usage, structured output, the
//! errors (429 retried after `RetryInfo`, 400 fatal, 401/403 and a bad key
//! stopping the run), the key nowhere, and `doctor`.

use serde_json::{Value, json};

use crate::fake::{ChatCall, FakeConfig, FakeServer, Fault, Recorded, Reply};
use crate::tools::{SUITE, SYSTEM_TEXT, TOOLS, case, order_tools, run_file};
use crate::util::{Run, Workspace, files_under};

pub(crate) const KEY_ENV: &str = "FAKE_GEMINI_KEY";
/// Shaped like a Google key (`AIza…`), as the fake wants it.
pub(crate) const KEY: &str = "AIzaSyFAKEgemini0123456789abcdefghijklm";

const PROMPT_DIR: &str = "prompts/agent";

/// A workspace with provider `gemini` at `server` (and `replay`), and the
/// prompt `agent`: system text, then the user's `{{question}}`, with
/// `model` as its model line's extra fields and `tools` as its manifest.
fn workspace(server: &FakeServer, model: &str, tools: Option<&Value>) -> Workspace {
    let ws = Workspace::init();
    ws.write(
        "promptctl.yaml",
        format!(
            "providers:\n  \
             gemini: {{ type: gemini, base_url: \"{}\", api_key_env: {KEY_ENV}, retries: 1 }}\n  \
             replay: {{ type: replay }}\n\
             prices:\n  gemini-2.5-flash: {{ input: 0.30, output: 2.50 }}\n",
            server.gemini_base_url()
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
             model: {{ provider: gemini, name: gemini-2.5-flash{model} }}\n\
             messages:\n  \
             - {{ role: system, template: \"{SYSTEM_TEXT}\" }}\n  \
             - {{ role: user, template: \"{{{{question}}}}\" }}\n\
             variables:\n  question: {{ type: string, required: true }}\n\
             {tools_line}"
        ),
    );
    if let Some(tools) = tools {
        ws.write(TOOLS, serde_json::to_string_pretty(tools).unwrap() + "\n");
    }
    ws
}

fn suite(ws: &Workspace, cases: &str) {
    ws.write(
        SUITE,
        format!("prompt: agent\nprovider: gemini\ncases:\n{cases}"),
    );
}

const ONE_CASE: &str = "  - { id: c1, vars: { question: \"Where is order A1?\" }, assert: [{ type: contains, value: A1 }] }\n";

/// `eval t --no-cache`, with the key set (to `key`).
fn eval_with(ws: &Workspace, key: &str) -> Run {
    let mut cmd = ws.cmd(["eval", "t", "--no-cache"]);
    cmd.without_proxies().env(KEY_ENV, key);
    cmd.run()
}

fn eval(ws: &Workspace) -> Run {
    eval_with(ws, KEY)
}

fn chats(server: &FakeServer) -> Vec<Recorded> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect()
}

/// A `generateContent` answer of one candidate.
fn answer(parts: Value, finish: &str) -> Fault {
    Fault::Json(json!({
        "candidates": [{ "content": { "role": "model", "parts": parts }, "finishReason": finish, "index": 0 }],
        "usageMetadata": { "promptTokenCount": 12, "candidatesTokenCount": 5, "totalTokenCount": 17 },
        "modelVersion": "gemini-2.5-flash",
    }))
}

#[test]
fn the_request_has_the_native_shape() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = workspace(
        &server,
        ", temperature: 0.2, max_tokens: 300, top_p: 0.9, seed: 42, stop: [END], \
         extra: { safetySettings: [{ category: HARM_CATEGORY_HARASSMENT, threshold: BLOCK_NONE }] }",
        Some(&order_tools()),
    );
    suite(&ws, ONE_CASE);
    eval(&ws).code(0);
    let requests = chats(&server);
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(r.header("x-goog-api-key"), Some(KEY));
    assert_eq!(r.header("authorization"), None);
    let tools = order_tools();
    let declaration = |i: usize| {
        let f = &tools[i]["function"];
        json!({ "name": f["name"], "description": f["description"], "parametersJsonSchema": f["parameters"] })
    };
    assert_eq!(
        r.body,
        json!({
            "systemInstruction": { "parts": [{ "text": SYSTEM_TEXT }] },
            "contents": [{ "role": "user", "parts": [{ "text": "Where is order A1?" }] }],
            "tools": [{ "functionDeclarations": [declaration(0), declaration(1), declaration(2)] }],
            "generationConfig": {
                "temperature": 0.2, "maxOutputTokens": 300, "topP": 0.9, "seed": 42,
                "stopSequences": ["END"],
            },
            "safetySettings": [{ "category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE" }],
        })
    );
}

#[test]
fn structured_output_asks_for_json_with_the_schema() {
    let server = FakeServer::start(FakeConfig::responding(|_: &ChatCall| {
        r#"{"order":"A1"}"#.to_string()
    }));
    let ws = workspace(&server, ", response_format: json_schema", None);
    let schema = json!({ "type": "object", "properties": { "order": { "type": "string" } },
                         "required": ["order"], "additionalProperties": false });
    ws.write(
        &format!("{PROMPT_DIR}/output.schema.json"),
        schema.to_string(),
    );
    ws.append(
        &format!("{PROMPT_DIR}/prompt.yaml"),
        "output_schema: output.schema.json\n",
    );
    suite(&ws, ONE_CASE);
    eval(&ws).code(0);
    let body = &chats(&server)[0].body;
    assert_eq!(
        body["generationConfig"],
        json!({ "responseMimeType": "application/json", "responseJsonSchema": schema })
    );
}

/// Three turns: text and a lookup, then a refund, then the final answer
/// built from both results.
fn lookup_then_refund(call: &ChatCall) -> Reply {
    match call.results.as_slice() {
        [] => Reply {
            content: Some("Let me look that up.".into()),
            ..Reply::calls(0, &[("lookup_order", r#"{"order_id":"A1"}"#)])
        },
        [_] => Reply::calls(1, &[("request_refund", r#"{"order_id":"A1","amount":5}"#)]),
        [looked, refunded] => Reply::text(format!(
            "Order A1: {}. Refund: {}.",
            looked.content, refunded.content
        )),
        more => panic!("{} results: the loop went on", more.len()),
    }
}

#[test]
fn a_tool_loop_sends_results_back_as_function_responses() {
    let server = FakeServer::start(FakeConfig::agent(lookup_then_refund));
    let ws = workspace(&server, "", Some(&order_tools()));
    suite(
        &ws,
        "  - id: loop\n    \
         vars: { question: \"Where is order A1? Refund 5.\" }\n    \
         tools: { lookup_order: { status: shipped }, request_refund: { error: \"over the limit\" } }\n    \
         assert:\n      \
         - { type: contains, value: \"Refund: over the limit.\" }\n      \
         - { type: tool_sequence, value: { names: [lookup_order, request_refund], mode: exact } }\n",
    );
    let run = eval(&ws);
    run.code(0);
    let file = run_file(&ws, &run);
    let c = case(&file, "loop");
    assert_eq!(c["passed"], true, "{c}");
    assert_eq!(c["turns"], 3, "{c}");
    assert_eq!(c["tool_calls"], 2, "{c}");
    // Calls without an id get the runner's deterministic ones.
    assert_eq!(
        c["transcript"][0]["tool_calls"][0]["id"], "promptctl_call_1_1",
        "{c}"
    );

    let bodies: Vec<Value> = chats(&server).into_iter().map(|r| r.body).collect();
    assert_eq!(bodies.len(), 3);
    let question = json!({ "role": "user", "parts": [{ "text": "Where is order A1? Refund 5." }] });
    // The model turn goes back as it came: text, then the call with its
    // signature and without an id the API never gave.
    let turn1 = json!({ "role": "model", "parts": [
        { "text": "Let me look that up." },
        { "functionCall": { "name": "lookup_order", "args": { "order_id": "A1" } },
          "thoughtSignature": "fake-signature-1" },
    ] });
    let result1 = json!({ "role": "user", "parts": [
        { "functionResponse": { "name": "lookup_order", "response": { "output": { "status": "shipped" } } } },
    ] });
    assert_eq!(bodies[0]["contents"], json!([question]));
    assert_eq!(bodies[1]["contents"], json!([question, turn1, result1]));
    assert_eq!(
        bodies[2]["contents"],
        json!([
            question,
            turn1,
            result1,
            { "role": "model", "parts": [
                { "functionCall": { "name": "request_refund", "args": { "order_id": "A1", "amount": 5 } },
                  "thoughtSignature": "fake-signature-2" },
            ] },
            { "role": "user", "parts": [
                { "functionResponse": { "name": "request_refund", "response": { "error": "over the limit" } } },
            ] },
        ])
    );
    for body in &bodies {
        assert_eq!(body["systemInstruction"]["parts"][0]["text"], SYSTEM_TEXT);
        assert_eq!(
            body["tools"][0]["functionDeclarations"]
                .as_array()
                .map(Vec::len),
            Some(3)
        );
    }
}

#[test]
fn max_tokens_and_safety_fail_closed() {
    for (finish, parts, says, stop_reason) in [
        (
            "MAX_TOKENS",
            json!([{ "text": "Order A1 is" }]),
            "truncated at max_tokens",
            "length",
        ),
        (
            "SAFETY",
            json!([{ "text": "Order A1" }]),
            "stopped by the provider's content filter",
            "content_filter",
        ),
        (
            "PROHIBITED_CONTENT",
            json!([]),
            "stopped by the provider's content filter",
            "content_filter",
        ),
    ] {
        let server = FakeServer::start(FakeConfig::default());
        server.push_faults([answer(parts, finish)]);
        let ws = workspace(&server, "", None);
        suite(&ws, ONE_CASE);
        let run = eval(&ws);
        run.code(1).stdout_has(says);
        let file = run_file(&ws, &run);
        let c = case(&file, "c1");
        assert_eq!(c["passed"], false, "{finish}: {c}");
        assert_eq!(c["stop_reason"], stop_reason, "{finish}: {c}");
    }
}

#[test]
fn a_blocked_prompt_is_a_case_error_not_a_pass() {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([Fault::Json(json!({
        "promptFeedback": { "blockReason": "SAFETY" },
        "usageMetadata": { "promptTokenCount": 9, "totalTokenCount": 9 },
    }))]);
    let ws = workspace(&server, "", None);
    // An assertion an empty answer would pass.
    suite(
        &ws,
        "  - { id: c1, vars: { question: \"q\" }, assert: [{ type: not_contains, value: A1 }] }\n",
    );
    let run = eval(&ws);
    run.code(3).stdout_has("blocked the prompt");
    let file = run_file(&ws, &run);
    let c = case(&file, "c1");
    assert_eq!(c["passed"], false, "{c}");
    assert!(
        c["error"]
            .as_str()
            .unwrap()
            .contains("blockReason `SAFETY`"),
        "{c}"
    );
    assert_eq!(server.request_count(), 1, "not retried");
}

#[test]
fn usage_is_mapped_and_costed() {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([Fault::Json(json!({
        "candidates": [{ "content": { "role": "model", "parts": [{ "text": "Order A1 shipped." }] },
                         "finishReason": "STOP" }],
        "usageMetadata": { "promptTokenCount": 1000, "candidatesTokenCount": 200,
                           "thoughtsTokenCount": 800, "cachedContentTokenCount": 400,
                           "totalTokenCount": 2000 },
    }))]);
    let ws = workspace(&server, "", None);
    suite(&ws, ONE_CASE);
    let run = eval(&ws);
    run.code(0);
    let file = run_file(&ws, &run);
    let c = case(&file, "c1");
    assert_eq!(c["tokens_in"], 1000, "{c}");
    // Thinking is billed as output.
    assert_eq!(c["tokens_out"], 1000, "{c}");
    let cost = c["cost_usd"].as_f64().expect("a cost");
    let want = (1000.0 * 0.30 + 1000.0 * 2.50) / 1e6;
    assert!((cost - want).abs() < 1e-9, "{cost} vs {want}");
}

#[test]
fn a_rate_limit_is_retried_after_the_retry_info_delay() {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([Fault::Body {
        status: 429,
        body: json!({ "error": {
            "code": 429, "message": "You exceeded your current quota.", "status": "RESOURCE_EXHAUSTED",
            "details": [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.3s" }],
        } }),
    }]);
    let ws = workspace(&server, "", None);
    suite(&ws, ONE_CASE);
    eval(&ws).code(0);
    let requests = chats(&server);
    assert_eq!(requests.len(), 2);
    let waited = requests[1].at.duration_since(requests[0].at);
    assert!(
        waited >= std::time::Duration::from_millis(300),
        "{waited:?}"
    );
}

#[test]
fn a_bad_request_fails_the_case_and_refused_keys_stop_the_run() {
    // 400: this case cannot succeed; the other still runs.
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([Fault::Status(400)]);
    let ws = workspace(&server, "", None);
    let two = format!(
        "{ONE_CASE}  - {{ id: c2, vars: {{ question: \"And A1?\" }}, assert: [{{ type: contains, value: A1 }}] }}\n"
    );
    suite(&ws, &two);
    let mut cmd = ws.cmd(["eval", "t", "--no-cache", "-j", "1"]);
    cmd.without_proxies().env(KEY_ENV, KEY);
    let run = cmd.run();
    run.code(3)
        .stdout_has("Request contains an invalid argument");
    assert_eq!(server.request_count(), 2, "a 400 is not retried");

    // 403 (no permission) and a key Google calls not valid (a 400 with
    // `API_KEY_INVALID`) stop the whole run, naming the variable.
    for (key, fault) in [
        (KEY, Some(Fault::Status(403))),
        ("wrong-key-0123456789", None),
    ] {
        let server = FakeServer::start(FakeConfig::default());
        server.push_faults(fault);
        let ws = workspace(&server, "", None);
        suite(&ws, &two);
        let mut cmd = ws.cmd(["eval", "t", "--no-cache", "-j", "1"]);
        cmd.without_proxies().env(KEY_ENV, key);
        let run = cmd.run();
        run.code(3);
        assert!(
            run.stderr.contains(&format!("`{KEY_ENV}`")),
            "the error names the variable\n{run}"
        );
        assert_eq!(server.request_count(), 1, "{key}: the run stopped\n{run}");
        run.output_lacks(key);
    }
}

/// Whether `text` holds any 12 characters of [`KEY`], in any case.
fn leaks(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    KEY.to_ascii_lowercase()
        .as_bytes()
        .windows(12)
        .any(|w| text.contains(std::str::from_utf8(w).unwrap()))
}

#[test]
fn the_key_is_in_no_output_and_no_file() {
    // The model repeats the key; the server echoes it in an error.
    let server = FakeServer::start(FakeConfig::responding(|_: &ChatCall| {
        format!("A1: your key is {KEY}, loudly {}", KEY.to_uppercase())
    }));
    server.push_faults([Fault::Body {
        status: 400,
        body: json!({ "error": { "code": 400, "status": "INVALID_ARGUMENT",
                                 "message": format!("Bad value near {KEY}") } }),
    }]);
    let ws = workspace(&server, "", None);
    let two = format!(
        "{ONE_CASE}  - {{ id: c2, vars: {{ question: \"And A1?\" }}, assert: [{{ type: contains, value: A1 }}] }}\n"
    );
    suite(&ws, &two);
    let mut cmd = ws.cmd(["eval", "t", "--no-cache", "-j", "1", "--record"]);
    cmd.without_proxies().env(KEY_ENV, KEY);
    let run = cmd.run();
    run.code(3);
    assert!(!leaks(&run.stdout) && !leaks(&run.stderr), "{run}");
    for path in files_under(&ws.tmp()) {
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        assert!(!leaks(&text), "{} holds the key", path.display());
    }
    // Sent only as the header, never in a URL.
    for r in server.requests() {
        assert!(!leaks(&r.path), "{}", r.path);
        assert_eq!(r.header("x-goog-api-key"), Some(KEY));
    }
}

/// `doctor --json` with the key set (or not).
fn doctor(ws: &Workspace, key: Option<&str>) -> Run {
    let mut cmd = ws.cmd(["doctor", "--json"]);
    cmd.without_proxies();
    if let Some(k) = key {
        cmd.env(KEY_ENV, k);
    }
    cmd.run()
}

fn provider_row(run: &Run) -> Value {
    run.json()["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|r| r["check"] == "provider gemini")
        .cloned()
        .unwrap_or_else(|| panic!("no provider row\n{run}"))
}

#[test]
fn doctor_lists_the_models_with_the_key_header() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = workspace(&server, "", None);
    suite(&ws, ONE_CASE);
    // The example suites run offline; only `t` needs the network.
    let run = doctor(&ws, Some(KEY));
    let r = provider_row(&run);
    assert_eq!(r["status"], "ok", "{r}");
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/v1beta/models");
    assert_eq!(requests[0].header("x-goog-api-key"), Some(KEY));
}

#[test]
fn doctor_fails_a_refused_or_invalid_key() {
    for (key, fault, status) in [
        (KEY, Some(Fault::Status(401)), "401"),
        (KEY, Some(Fault::Status(403)), "403"),
        ("not-a-google-key-0123456789", None, "400"),
    ] {
        let server = FakeServer::start(FakeConfig::default());
        server.push_faults(fault);
        let ws = workspace(&server, "", None);
        suite(&ws, ONE_CASE);
        let run = doctor(&ws, Some(key));
        run.code(3).output_lacks(key);
        let r = provider_row(&run);
        assert_eq!(r["status"], "fail", "{r}");
        let detail = r["detail"].as_str().unwrap();
        assert!(
            detail.starts_with(&format!("key rejected ({status})")),
            "{detail}"
        );
        assert!(r["hint"].as_str().unwrap().contains(KEY_ENV), "{r}");
    }
    // No key configured at all: the fake answers 403 as Google does.
    let server = FakeServer::start(FakeConfig::default());
    let ws = workspace(&server, "", None);
    ws.replace("promptctl.yaml", &format!(", api_key_env: {KEY_ENV}"), "");
    suite(&ws, ONE_CASE);
    let run = doctor(&ws, None);
    run.code(3);
    let detail = provider_row(&run)["detail"].as_str().unwrap().to_string();
    assert!(detail.starts_with("key rejected (403)"), "{detail}");
}

#[test]
fn a_recorded_tool_loop_replays_offline_with_its_signatures() {
    let server = FakeServer::start(FakeConfig::agent(lookup_then_refund));
    let ws = workspace(&server, "", Some(&order_tools()));
    suite(
        &ws,
        "  - id: loop\n    \
         vars: { question: \"Where is order A1? Refund 5.\" }\n    \
         tools: { lookup_order: { status: shipped }, request_refund: \"R-9 issued\" }\n    \
         assert: [{ type: contains, value: \"Refund: R-9 issued.\" }]\n",
    );
    let mut cmd = ws.cmd(["eval", "t", "--no-cache", "--record"]);
    cmd.without_proxies().env(KEY_ENV, KEY);
    cmd.run().code(0);
    assert_eq!(server.request_count(), 3);
    let cassette = ws.read(crate::tools::CASSETTE);
    assert_eq!(cassette.lines().count(), 3, "{cassette}");
    assert!(cassette.contains("fake-signature-1"), "{cassette}");

    // Offline: the later turns are keyed by requests that carry the
    // recorded signatures back, so every one is found.
    let mut cmd = ws.cmd(["eval", "t", "--no-cache", "--provider", "replay"]);
    cmd.without_proxies();
    let run = cmd.run();
    run.code(0);
    assert_eq!(server.request_count(), 3, "the replay sent nothing");
    let file = run_file(&ws, &run);
    assert_eq!(case(&file, "loop")["turns"], 3);
}
