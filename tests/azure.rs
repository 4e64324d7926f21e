//! `type: azure_openai` against the fake server's Azure paths: the URL
//! (deployment, `api-version`), the `api-key` header and the body, exactly;
//! the v1 API; a tool loop; the content filter failing closed (a prompt
//! refused with a 400, an answer stopped or annotated as filtered); the key
//! in no output and no file; `doctor`; and the config refusing what it
//! cannot call.

use serde_json::{Value, json};

use crate::fake::{ChatCall, FakeConfig, FakeServer, Fault, Recorded, Reply};
use crate::tools::{case, order_tools, run_file, suite, workspace};
use crate::util::{Run, Workspace, files_under};

const KEY_ENV: &str = "FAKE_AZURE_OPENAI_KEY";
/// An Azure key: 32 hex digits, a shape no detector knows, so only its
/// value can find it.
const KEY: &str = "9c41d07be2a84f3b96e5c0d1a7f2b83e";

const HELLO: &str = "cases:\n  - id: hello\n    vars: { question: \"hi\" }\n    \
    assert:\n      - { type: contains, value: \"echo: hi\" }\n";

/// The tools harness's workspace with provider `azure` (its `extra` fields
/// added) at the fake server's Azure paths, and suite `t` on it with `cases`.
fn azure_workspace(server: &FakeServer, extra: &str, tools: bool, cases: &str) -> Workspace {
    let ws = workspace(server, tools.then(order_tools).as_ref());
    ws.replace(
        "promptctl.yaml",
        "providers:\n",
        &format!(
            "providers:\n  azure: {{ type: azure_openai, base_url: \"http://{}\", \
             api_key_env: {KEY_ENV}, retries: 2{extra} }}\n",
            server.addr
        ),
    );
    suite(&ws, "azure", cases);
    ws
}

/// `promptctl ARGS` with the Azure key set and no proxies.
fn run(ws: &Workspace, args: &[&str]) -> Run {
    let mut cmd = ws.cmd(args);
    cmd.without_proxies().env(KEY_ENV, KEY);
    cmd.run()
}

fn eval(ws: &Workspace) -> Run {
    run(ws, &["eval", "t", "--no-cache"])
}

fn chats(server: &FakeServer) -> Vec<Recorded> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect()
}

/// Whether `text` holds any 12 characters of the key, in any case.
fn leaks(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    KEY.as_bytes()
        .windows(12)
        .any(|w| text.contains(std::str::from_utf8(w).expect("ASCII")))
}

/// An Azure chat completion with this content, finish reason and filter
/// results on its choice.
fn azure_answer(content: &str, finish: &str, filter: Value) -> Fault {
    Fault::Json(json!({
        "id": "chatcmpl-x", "object": "chat.completion", "model": "gpt-4o-mini",
        "prompt_filter_results": [{ "prompt_index": 0, "content_filter_results": {
            "hate": { "filtered": false, "severity": "safe" } } }],
        "choices": [{ "index": 0, "finish_reason": finish,
            "message": { "role": "assistant", "content": content },
            "content_filter_results": filter }],
        "usage": { "prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8 },
    }))
}

#[test]
fn a_call_goes_to_the_deployment_with_api_version_and_api_key() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = azure_workspace(
        &server,
        ", deployments: { gpt-4o-mini: prod-mini }",
        false,
        HELLO,
    );
    let out = eval(&ws);
    out.code(0);
    let requests = chats(&server);
    assert_eq!(requests.len(), 1, "{out}");
    let r = &requests[0];
    assert_eq!(r.path, "/openai/deployments/prod-mini/chat/completions");
    assert_eq!(r.query, "api-version=2024-10-21");
    assert_eq!(r.header("api-key"), Some(KEY));
    assert_eq!(r.header("authorization"), None);
    // OpenAI's body, without `model`: the URL names the deployment.
    assert_eq!(
        r.body,
        json!({ "messages": [
            { "role": "system", "content": crate::tools::SYSTEM_TEXT },
            { "role": "user", "content": "hi" },
        ] })
    );
    let file = run_file(&ws, &out);
    assert_eq!(case(&file, "hello")["output"], "echo: hi");

    // `deployment` names one for every model; a dated `api_version` is sent as it is.
    ws.replace(
        "promptctl.yaml",
        "deployments: { gpt-4o-mini: prod-mini }",
        "deployment: shared, api_version: 2025-04-01-preview",
    );
    eval(&ws).code(0);
    let r = chats(&server).pop().unwrap();
    assert_eq!(r.path, "/openai/deployments/shared/chat/completions");
    assert_eq!(r.query, "api-version=2025-04-01-preview");
}

#[test]
fn the_v1_api_takes_the_deployment_as_model() {
    let server = FakeServer::start(FakeConfig::default());
    // No mapping: the deployment is the prompt's `model.name`.
    let ws = azure_workspace(&server, ", api_version: v1", false, HELLO);
    eval(&ws).code(0);
    let r = chats(&server).pop().unwrap();
    assert_eq!(r.path, "/openai/v1/chat/completions");
    assert_eq!(r.query, "");
    assert_eq!(r.header("api-key"), Some(KEY));
    assert_eq!(r.body["model"], "gpt-4o-mini");
    assert_eq!(
        r.body["messages"][1],
        json!({ "role": "user", "content": "hi" })
    );
}

#[test]
fn a_tool_loop_runs_on_azure() {
    let server = FakeServer::start(FakeConfig::agent(|call: &ChatCall| {
        match call.results.as_slice() {
            [] => Reply::calls(0, &[("lookup_order", r#"{"order_id":"A1"}"#)]),
            [looked] => Reply::text(format!("Order A1: {}.", looked.content)),
            more => panic!("{} results", more.len()),
        }
    }));
    let cases = "cases:\n  - id: loop\n    vars: { question: \"Where is A1?\" }\n    \
        tools: { lookup_order: { status: shipped } }\n    assert:\n      \
        - { type: contains, value: \"Order A1: {\\\"status\\\":\\\"shipped\\\"}.\" }\n      \
        - { type: tool_called, value: { name: lookup_order, times: 1 } }\n      \
        - { type: valid_tool_calls }\n";
    let ws = azure_workspace(&server, "", true, cases);
    let out = eval(&ws);
    out.code(0);
    let c = case(&run_file(&ws, &out), "loop").clone();
    assert_eq!(c["turns"], 2, "{c}");
    assert_eq!(c["tool_calls"], 1, "{c}");
    let requests = chats(&server);
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert_eq!(r.path, "/openai/deployments/gpt-4o-mini/chat/completions");
        assert_eq!(r.body["tools"].as_array().map(Vec::len), Some(3));
    }
    let messages = requests[1].body["messages"].as_array().unwrap().clone();
    assert_eq!(
        messages[2],
        json!({ "role": "assistant", "content": null, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": { "name": "lookup_order", "arguments": "{\"order_id\":\"A1\"}" } }] })
    );
    assert_eq!(
        messages[3],
        json!({ "role": "tool", "tool_call_id": "call_1", "content": "{\"status\":\"shipped\"}" })
    );
}

#[test]
fn a_prompt_the_content_filter_refuses_is_a_case_error_not_retried() {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([Fault::ContentFilter]);
    let ws = azure_workspace(&server, "", false, HELLO);
    let out = eval(&ws);
    out.code(3);
    assert_eq!(server.request_count(), 1, "retried\n{out}");
    let c = case(&run_file(&ws, &out), "hello").clone();
    assert_eq!(c["passed"], false, "{c}");
    let error = c["error"].as_str().unwrap();
    assert!(
        error.contains("the prompt was blocked by Azure's content filter (violence)"),
        "{error}"
    );
}

#[test]
fn an_answer_the_content_filter_stopped_or_flagged_fails() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = azure_workspace(&server, "", false, HELLO);
    let clean = json!({ "violence": { "filtered": false, "severity": "safe" } });
    let flagged = json!({ "violence": { "filtered": true, "severity": "medium" } });
    for fault in [
        azure_answer("", "content_filter", clean.clone()),
        azure_answer("echo: hi", "stop", flagged),
    ] {
        server.push_faults([fault]);
        let out = eval(&ws);
        out.code(1)
            .stdout_has("stopped by the provider's content filter");
        let c = case(&run_file(&ws, &out), "hello").clone();
        assert_eq!(c["passed"], false, "{c}");
        assert_eq!(c["stop_reason"], "content_filter", "{c}");
    }
    // Annotations with nothing filtered are an ordinary answer.
    server.push_faults([azure_answer("echo: hi", "stop", clean)]);
    eval(&ws).code(0);
}

#[test]
fn the_key_is_in_no_output_and_no_file() {
    let server = FakeServer::start(FakeConfig::responding(|_: &ChatCall| {
        format!("Your key is {KEY}, or {}.", KEY[..16].to_uppercase())
    }));
    let ws = azure_workspace(&server, "", false, HELLO);
    let out = eval(&ws);
    assert!(!leaks(&out.stdout) && !leaks(&out.stderr), "{out}");
    // A server that echoes the key in its refusal.
    server.push_faults([Fault::Error {
        status: 401,
        message: format!("Access denied: key {KEY} is not valid for this resource."),
    }]);
    let out = eval(&ws);
    out.code(3).stderr_has(KEY_ENV);
    assert!(!leaks(&out.stdout) && !leaks(&out.stderr), "{out}");
    let out = run(&ws, &["doctor", "--json"]);
    assert!(!leaks(&out.stdout) && !leaks(&out.stderr), "{out}");
    let leaking: Vec<_> = files_under(ws.root())
        .into_iter()
        .filter(|p| {
            leaks(&String::from_utf8_lossy(
                &std::fs::read(p).unwrap_or_default(),
            ))
        })
        .collect();
    assert!(leaking.is_empty(), "{leaking:?}");
}

/// The `init` workspace with its suite (and judge) on `openai`, here Azure
/// at `server` (its prompts name `openai` too: a team that reaches OpenAI's
/// models through Azure keeps the name), with `key_env` when given.
fn doctor_workspace(server: &FakeServer, key_env: Option<&str>) -> Workspace {
    let ws = Workspace::init();
    let key = key_env.map_or(String::new(), |v| format!(", api_key_env: {v}"));
    ws.write(
        "promptctl.yaml",
        format!(
            "providers:\n  openai: {{ type: azure_openai, base_url: \"http://{}\"{key} }}\n  \
             replay: {{ type: replay }}\n",
            server.addr
        ),
    );
    ws.replace("evals/support.yaml", "provider: replay", "provider: openai");
    std::fs::remove_file(ws.path("evals/agent.yaml")).unwrap();
    ws
}

#[track_caller]
fn row(run: &Run, check: &str) -> Value {
    run.json()["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|r| r["check"] == check)
        .cloned()
        .unwrap_or_else(|| panic!("no row `{check}`\n{run}"))
}

#[test]
fn doctor_lists_the_models_with_the_key() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = doctor_workspace(&server, Some(KEY_ENV));
    let out = run(&ws, &["doctor", "--json"]);
    out.success();
    assert_eq!(row(&out, "key openai")["status"], "ok");
    let r = row(&out, "provider openai");
    let want = format!(
        "reachable: `GET http://{}/openai/models?api-version=2024-10-21` answered 200 in ",
        server.addr
    );
    assert!(r["detail"].as_str().unwrap().starts_with(&want), "{r}");
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("GET", "/openai/models")
    );
    assert_eq!(r.query, "api-version=2024-10-21");
    assert_eq!(r.header("api-key"), Some(KEY));

    ws.replace(
        "promptctl.yaml",
        &format!("api_key_env: {KEY_ENV}"),
        &format!("api_key_env: {KEY_ENV}, api_version: v1"),
    );
    run(&ws, &["doctor"]).success();
    let r = server.requests().pop().unwrap();
    assert_eq!(
        (r.path.as_str(), r.query.as_str()),
        ("/openai/v1/models", "")
    );
}

#[test]
fn doctor_fails_when_azure_refuses_the_request() {
    let server = FakeServer::start(FakeConfig::default());
    // No key configured: the server's 401.
    let ws = doctor_workspace(&server, None);
    let out = run(&ws, &["doctor", "--json"]);
    out.code(3);
    let r = row(&out, "provider openai");
    assert_eq!(r["status"], "fail", "{r}");
    let detail = r["detail"].as_str().unwrap();
    assert!(detail.starts_with("key rejected (401): "), "{detail}");
    assert!(detail.contains("Access denied"), "{detail}");
    assert!(r["hint"].as_str().unwrap().contains("api_key_env"), "{r}");
    assert_eq!(server.request_count(), 1);
}

#[test]
fn config_errors_exit_2_naming_file_line_and_field() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = azure_workspace(&server, "", false, HELLO);
    let config = ws.read("promptctl.yaml");
    for (from, to, want) in [
        (
            format!("base_url: \"http://{}\", ", server.addr),
            String::new(),
            "promptctl.yaml:2`: providers.azure.base_url: missing",
        ),
        (
            "type: openai,".to_string(),
            "type: openai, deployment: gpt-4o-mini,".to_string(),
            "providers.fake.deployment: only a provider of `type: azure_openai`",
        ),
        (
            "retries: 2".to_string(),
            "retries: 2, deployment_name: x".to_string(),
            "promptctl.yaml:2",
        ),
        (
            "retries: 2".to_string(),
            "retries: 2, deployment: \"a/b\"".to_string(),
            "providers.azure.deployment: `a/b` is not a deployment name",
        ),
    ] {
        ws.write("promptctl.yaml", config.replacen(&from, &to, 1));
        for args in [&["eval", "t", "--no-cache"][..], &["doctor"][..]] {
            run(&ws, args).code(2).stderr_has(want);
        }
    }
    assert_eq!(server.request_count(), 0);
}

#[test]
fn a_429_is_retried_after_the_wait_azure_asks_for() {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([
        Fault::RateLimitedMs {
            retry_after_ms: "20".into(),
        },
        Fault::RateLimited {
            retry_after: "0".into(),
        },
    ]);
    let ws = azure_workspace(&server, "", false, HELLO);
    eval(&ws).code(0);
    let requests = chats(&server);
    assert_eq!(requests.len(), 3);
    assert!(requests[2].at.duration_since(requests[0].at).as_millis() >= 20);
    for r in &requests {
        assert_eq!(r.path, "/openai/deployments/gpt-4o-mini/chat/completions");
    }
}
