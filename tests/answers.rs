//! Fail closed on what a reply can say besides its text: no text at all
//! (`content: null`, `""`, missing), a refusal field, a stop by the token
//! limit or by the content filter. None of them passes as an answer.

use serde_json::{Value, json};

use crate::fake::{FakeConfig, FakeServer, Fault};
use crate::util::{Run, Workspace};

const OPENAI_KEY_ENV: &str = "FAKE_OPENAI_KEY";
const ANTHROPIC_KEY_ENV: &str = "FAKE_ANTHROPIC_KEY";
const SUITE: &str = "evals/t.yaml";
const CASSETTE: &str = "evals/cassettes/t.jsonl";

fn workspace(server: &FakeServer) -> Workspace {
    let ws = Workspace::init();
    ws.write(
        "promptctl.yaml",
        format!(
            "providers:\n  fake:   {{ type: openai, base_url: \"{}\", api_key_env: {OPENAI_KEY_ENV}, retries: 0 }}\n  claude: {{ type: anthropic, base_url: \"{}\", api_key_env: {ANTHROPIC_KEY_ENV}, retries: 0 }}\n  replay: {{ type: replay }}\n",
            server.openai_base_url(),
            server.anthropic_base_url()
        ),
    );
    ws
}

/// One case whose assertion an empty or cut-off answer would pass.
fn write_suite(ws: &Workspace, assert: &str, rest: &str) {
    ws.write(
        SUITE,
        format!(
            "prompt: support_bot\nprovider: fake\ncases:\n  - {{ id: c1, vars: {{ question: \"How do I export?\" }}, assert: [{assert}] }}\n{rest}"
        ),
    );
}

const NOT_FORBIDDEN: &str = "{ type: not_contains, value: forbidden }";

fn eval(ws: &Workspace, args: &[&str]) -> Run {
    let mut all = vec!["eval", "t", "--no-cache"];
    all.extend_from_slice(args);
    let mut cmd = ws.cmd(all);
    cmd.without_proxies()
        .env(OPENAI_KEY_ENV, "sk-test-key-0123456789abcdefghij")
        .env(ANTHROPIC_KEY_ENV, "sk-ant-test-key-0123456789abcdef");
    for var in [
        "PROMPTCTL_PROVIDER",
        "PROMPTCTL_NO_CACHE",
        "GITHUB_STEP_SUMMARY",
    ] {
        cmd.env_remove(var);
    }
    cmd.run()
}

#[track_caller]
fn run_file(ws: &Workspace, run: &Run) -> Value {
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("saved ") && l.contains("run `"))
        .unwrap_or_else(|| panic!("no `saved run` line\n{run}"));
    let rel = line.rsplit('`').nth(1).expect("a path").to_string();
    serde_json::from_str(&ws.read(&rel)).expect("a JSON run file")
}

/// An OpenAI chat completion with this `message` and `finish_reason`.
fn openai(message: Value, finish_reason: &str) -> Fault {
    Fault::Json(json!({
        "id": "chatcmpl-x", "object": "chat.completion", "model": "gpt-4o-mini",
        "choices": [{ "index": 0, "message": message, "finish_reason": finish_reason }],
        "usage": { "prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8 },
    }))
}

/// An Anthropic message with these content blocks and `stop_reason`.
fn anthropic(content: Value, stop_reason: &str) -> Fault {
    Fault::Json(json!({
        "id": "msg_x", "type": "message", "role": "assistant", "model": "m",
        "content": content, "stop_reason": stop_reason, "stop_sequence": null,
        "usage": { "input_tokens": 5, "output_tokens": 3 },
    }))
}

/// Runs the suite against one scripted reply; returns the run and case c1.
fn one(fault: Fault, provider: &str, assert: &str, rest: &str) -> (Run, Value, Value) {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([fault]);
    let ws = workspace(&server);
    write_suite(&ws, assert, rest);
    let run = eval(&ws, &["--provider", provider]);
    let file = run_file(&ws, &run);
    let case = file["cases"][0].clone();
    assert_eq!(server.request_count(), 1, "{run}");
    (run, file, case)
}

#[test]
fn an_answer_with_no_text_is_an_error_not_a_pass() {
    for message in [
        json!({ "role": "assistant", "content": null }),
        json!({ "role": "assistant", "content": "" }),
        json!({ "role": "assistant" }),
        json!({ "role": "assistant", "content": "  \n", "refusal": null }),
    ] {
        let (run, file, case) = one(openai(message.clone(), "stop"), "fake", NOT_FORBIDDEN, "");
        run.code(3);
        assert_eq!(case["passed"], false, "{message}: {case}");
        assert_eq!(
            case["error"], "the model returned an empty answer",
            "{message}: {case}"
        );
        assert_eq!(file["summary"]["errors"], 1, "{message}");
    }
    let (run, _, case) = one(
        anthropic(json!([]), "end_turn"),
        "claude",
        NOT_FORBIDDEN,
        "",
    );
    run.code(3);
    assert_eq!(
        case["error"], "the model returned an empty answer",
        "{case}"
    );
}

#[test]
fn a_reply_cut_off_by_the_token_limit_fails_its_case() {
    let message = json!({ "role": "assistant", "content": "To export, open" });
    let (run, file, case) = one(openai(message, "length"), "fake", NOT_FORBIDDEN, "");
    run.code(1).stdout_has("truncated at max_tokens");
    assert_eq!(case["passed"], false, "{case}");
    assert_eq!(case["stopped"], "truncated at max_tokens", "{case}");
    assert_eq!(case["stop_reason"], "length", "{case}");
    assert_eq!(file["summary"]["truncated"], 1);

    let blocks = json!([{ "type": "text", "text": "To export, open" }]);
    let (run, file, case) = one(anthropic(blocks, "max_tokens"), "claude", NOT_FORBIDDEN, "");
    run.code(1);
    assert_eq!(case["stopped"], "truncated at max_tokens", "{case}");
    assert_eq!(file["summary"]["truncated"], 1);
}

#[test]
fn allow_truncated_lets_a_length_stop_pass() {
    let message = json!({ "role": "assistant", "content": "To export, open" });
    let (run, file, case) = one(
        openai(message, "length"),
        "fake",
        NOT_FORBIDDEN,
        "defaults: { allow_truncated: true }\n",
    );
    run.code(0);
    assert_eq!(case["passed"], true, "{case}");
    assert_eq!(file["summary"]["truncated"], 1, "still counted");
}

#[test]
fn a_content_filter_stop_fails_its_case() {
    let message = json!({ "role": "assistant", "content": "" });
    let (run, _, case) = one(openai(message, "content_filter"), "fake", NOT_FORBIDDEN, "");
    run.code(1)
        .stdout_has("stopped by the provider's content filter");
    assert_eq!(case["passed"], false, "{case}");
    assert_eq!(case["stop_reason"], "content_filter", "{case}");
}

#[test]
fn a_refusal_field_is_a_refusal() {
    let message = json!({ "role": "assistant", "content": null, "refusal": "Declined by policy." });
    let (run, file, case) = one(
        openai(message.clone(), "stop"),
        "fake",
        "{ type: refusal }",
        "",
    );
    run.code(0);
    assert_eq!(case["passed"], true, "{case}");
    assert_eq!(case["refused"], true, "{case}");
    assert_eq!(case["output"], "Declined by policy.", "{case}");
    assert_eq!(file["summary"]["refused"], 1);

    let (run, _, case) = one(openai(message, "stop"), "fake", "{ type: not_refusal }", "");
    run.code(1);
    assert_eq!(case["assertions"][0]["reason"], "refused", "{case}");

    // Anthropic says so in `stop_reason`, often with no text at all.
    let (run, file, case) = one(
        anthropic(json!([]), "refusal"),
        "claude",
        "{ type: not_refusal }",
        "",
    );
    run.code(1);
    assert_eq!(case["refused"], true, "{case}");
    assert_eq!(file["summary"]["refused"], 1);
}

#[test]
fn a_text_only_cassette_still_replays() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = workspace(&server);
    write_suite(&ws, "{ type: contains, value: echo }", "");
    eval(&ws, &["--provider", "fake", "--record"]).code(0);
    let recorded = ws.read(CASSETTE);
    assert!(recorded.contains(r#""stop_reason":"stop""#), "{recorded}");
    // As recorded before answers had a stop reason.
    ws.write(CASSETTE, recorded.replace(r#""stop_reason":"stop","#, ""));
    assert!(!ws.read(CASSETTE).contains("stop_reason"));
    let run = eval(&ws, &["--provider", "replay"]);
    run.code(0);
    let file = run_file(&ws, &run);
    assert_eq!(file["cases"][0]["passed"], true);
    assert!(
        file["summary"].get("truncated").is_none(),
        "zero counts are left out"
    );
    assert_eq!(server.request_count(), 1, "the replay made no call");
}
