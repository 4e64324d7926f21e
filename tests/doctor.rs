//! `promptctl doctor` against the fake server (`tests/fake`): up, down,
//! hanging, refusing the key, failing; a missing key; broken and changed
//! files; a tampered version. The key never appears in any output.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fake::{FakeConfig, FakeServer, Fault};
use crate::util::{NAME, Run, Workspace, version_dir};

/// The variable the test workspaces name with `api_key_env`, so a key in the
/// developer's own environment never reaches a test (nor a real API).
const KEY_VAR: &str = "PROMPTCTL_DOCTOR_TEST_KEY";
const KEY: &str = "sk-doctortest-0123456789abcdefghijKLMN";
/// The part of the key that any leak would show.
const KEY_CORE: &str = "0123456789abcdefghij";

/// An `init` workspace whose suite runs on `openai` at `base_url` (its
/// judge too), with the key in [`KEY_VAR`].
fn live_workspace(base_url: &str) -> Workspace {
    let ws = Workspace::init();
    ws.write(
        "promptctl.yaml",
        format!(
            "providers:\n  \
               openai: {{ type: openai, base_url: \"{base_url}\", api_key_env: {KEY_VAR} }}\n  \
               replay: {{ type: replay }}\n"
        ),
    );
    ws.replace("evals/support.yaml", "provider: replay", "provider: openai");
    // One live suite: the agent's replays, and is not what these tests check.
    std::fs::remove_file(ws.path("evals/agent.yaml")).unwrap();
    ws
}

/// `promptctl doctor ARGS`, with the test key set (or not), no proxies, and
/// no real provider keys; with how long it took.
fn doctor(ws: &Workspace, args: &[&str], key: Option<&str>) -> (Run, Duration) {
    let mut cmd = ws.cmd(["doctor"]);
    cmd.args(args)
        .without_proxies()
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY");
    match key {
        Some(k) => cmd.env(KEY_VAR, k),
        None => cmd.env_remove(KEY_VAR),
    };
    let started = Instant::now();
    let run = cmd.run();
    let took = started.elapsed();
    run.output_lacks(KEY_CORE);
    (run, took)
}

/// The rows of `doctor --json`, by check name.
fn rows(run: &Run) -> Vec<Value> {
    run.json()["checks"].as_array().expect("checks").clone()
}

#[track_caller]
fn row(run: &Run, check: &str) -> Value {
    rows(run)
        .into_iter()
        .find(|r| r["check"] == check)
        .unwrap_or_else(|| panic!("no row `{check}`\n{run}"))
}

/// A port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[test]
fn server_up_every_check_passes_quietly() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = live_workspace(&server.openai_base_url());
    let (run, _) = doctor(&ws, &[], Some(KEY));
    run.success()
        .stdout_has("│ key openai ")
        .stdout_has("│ provider openai ")
        .stdout_has("│ suite support ")
        .stdout_has("│ dataset support ")
        .stdout_has("│ cassette support ")
        .stdout_lacks("fail")
        .stdout_lacks("warn");
    // Quiet: one summary line on stderr.
    assert_eq!(run.stderr.trim().lines().count(), 1, "{run}");
    run.stderr_has("all 6 checks passed");
    let (run, _) = doctor(&ws, &["--json"], Some(KEY));
    run.success();
    assert_eq!(
        row(&run, "key openai")["detail"],
        format!("`{KEY_VAR}` is set")
    );
    let detail = row(&run, "provider openai")["detail"].clone();
    let detail = detail.as_str().unwrap();
    let url = format!("{}/models", server.openai_base_url());
    assert!(
        detail.starts_with(&format!("reachable: `GET {url}` answered 200 in ")),
        "{detail}"
    );
    assert!(
        row(&run, "dataset support")["detail"]
            .as_str()
            .unwrap()
            .starts_with("`evals/support.cases.jsonl`: 12 cases"),
        "{run}"
    );
    // One request a run, authenticated, to the model list; never a chat call.
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    for r in &requests {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/v1/models"));
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
    }
}

#[test]
fn json_has_the_rows_and_a_summary() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = live_workspace(&server.openai_base_url());
    let (run, _) = doctor(&ws, &["--json"], Some(KEY));
    run.success();
    let out = run.json();
    let checks = out["checks"].as_array().unwrap();
    let names: Vec<&str> = checks
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "config",
            "key openai",
            "provider openai",
            "suite support",
            "dataset support",
            "cassette support",
        ]
    );
    for c in checks {
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["check", "detail", "status"], "{c}");
        assert_eq!(c["status"], "ok", "{c}");
    }
    assert_eq!(
        out["summary"],
        serde_json::json!({ "ok": checks.len(), "warn": 0, "fail": 0, "exit_code": 0 })
    );

    // A failure: still JSON on stdout, with its hint and the exit code.
    let (run, _) = doctor(&ws, &["--json"], None);
    run.code(3)
        .stderr_has("(exit 3): doctor: 1 check failed: `key openai`");
    let key = row(&run, "key openai");
    assert_eq!(key["status"], "fail");
    assert!(key["hint"].as_str().unwrap().contains(KEY_VAR), "{key}");
    let summary = &run.json()["summary"];
    assert_eq!(summary["fail"], 1);
    assert_eq!(summary["exit_code"], 3);
}

#[test]
fn server_down_fails_naming_the_provider_within_the_timeout() {
    let ws = live_workspace(&format!("http://127.0.0.1:{}/v1", closed_port()));
    let (run, took) = doctor(&ws, &["--timeout", "2", "--json"], Some(KEY));
    run.code(3)
        .stderr_has("doctor: 1 check failed: `provider openai`");
    let r = row(&run, "provider openai");
    assert_eq!(r["status"], "fail", "{r}");
    let detail = r["detail"].as_str().unwrap();
    assert!(detail.starts_with("unreachable: "), "{detail}");
    assert!(detail.contains("could not connect"), "{detail}");
    assert!(r["hint"].as_str().unwrap().contains("base_url"), "{r}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    // The rest is still checked.
    assert_eq!(row(&run, "key openai")["status"], "ok");
    assert_eq!(row(&run, "dataset support")["status"], "ok");
}

#[test]
fn a_hanging_server_is_abandoned_at_the_timeout() {
    let server = FakeServer::start(FakeConfig {
        always: Some(Fault::Hang),
        ..FakeConfig::default()
    });
    let ws = live_workspace(&server.openai_base_url());
    let (run, took) = doctor(&ws, &["--timeout", "0.5"], Some(KEY));
    run.code(3)
        .stdout_has("unreachable: no answer within 0.5 s");
    assert!(took >= Duration::from_millis(500), "took {took:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(server.request_count(), 1);
}

#[test]
fn a_missing_key_fails_naming_the_variable_and_sends_nothing() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = live_workspace(&server.openai_base_url());
    for key in [None, Some(""), Some("   ")] {
        let (run, _) = doctor(&ws, &["--json"], key);
        run.code(3);
        let r = row(&run, "key openai");
        assert_eq!(r["status"], "fail", "{r}");
        assert!(
            r["detail"]
                .as_str()
                .unwrap()
                .starts_with(&format!("`{KEY_VAR}` is not set")),
            "{r}"
        );
        assert!(
            r["hint"]
                .as_str()
                .unwrap()
                .contains(&format!("export {KEY_VAR}=")),
            "{r}"
        );
        // Not tried: no row and no request.
        assert!(!rows(&run).iter().any(|r| r["check"] == "provider openai"));
    }
    assert_eq!(server.request_count(), 0);
}

#[test]
fn a_rejected_key_fails_and_is_scrubbed_from_the_servers_message() {
    let server = FakeServer::start(FakeConfig::default());
    let echo = Fault::Error {
        status: 401,
        message: format!("Incorrect API key provided: {KEY}."),
    };
    server.push_faults([echo.clone(), echo]);
    let ws = live_workspace(&server.openai_base_url());
    let (run, _) = doctor(&ws, &[], Some(KEY));
    run.code(3)
        .stderr_has("`provider openai`")
        .output_lacks(KEY)
        .output_lacks("sk-doctortest");
    let (run, _) = doctor(&ws, &["--json"], Some(KEY));
    run.code(3).output_lacks("sk-doctortest");
    let r = row(&run, "provider openai");
    assert_eq!(r["status"], "fail", "{r}");
    let detail = r["detail"].as_str().unwrap();
    assert!(detail.starts_with("key rejected (401): "), "{detail}");
    assert!(
        detail.contains("Incorrect API key provided: (redacted)"),
        "{detail}"
    );
    assert!(r["hint"].as_str().unwrap().contains(KEY_VAR), "{r}");
    assert_eq!(server.request_count(), 2);
}

#[test]
fn a_server_error_fails() {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([Fault::Status(503)]);
    let ws = live_workspace(&server.openai_base_url());
    let (run, _) = doctor(&ws, &["--json"], Some(KEY));
    run.code(3);
    let r = row(&run, "provider openai");
    assert_eq!(r["status"], "fail");
    assert!(
        r["detail"]
            .as_str()
            .unwrap()
            .starts_with("server error (503)"),
        "{r}"
    );
}

#[test]
fn anthropic_is_checked_with_its_own_headers_at_the_same_time() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = live_workspace(&server.openai_base_url());
    // The suite runs on Claude and is judged by OpenAI: both are needed.
    ws.append(
        "promptctl.yaml",
        &format!(
            "  claude: {{ type: anthropic, base_url: \"{}\", api_key_env: {KEY_VAR} }}\n",
            server.anthropic_base_url()
        ),
    );
    ws.replace(
        "evals/support.yaml",
        "provider: openai\n",
        "provider: claude\n",
    );
    let (run, _) = doctor(&ws, &["--json"], Some(KEY));
    run.success();
    assert_eq!(row(&run, "provider claude")["status"], "ok");
    assert_eq!(row(&run, "provider openai")["status"], "ok");
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let anthropic = requests
        .iter()
        .find(|r| r.header("x-api-key").is_some())
        .expect("a request with x-api-key");
    assert_eq!(anthropic.path, "/v1/models");
    assert_eq!(anthropic.header("x-api-key"), Some(KEY));
    assert!(anthropic.header("anthropic-version").is_some());
    assert_eq!(anthropic.header("authorization"), None);
}

#[test]
fn a_provider_no_suite_runs_on_only_warns() {
    // init's suite replays; only the prompt names `openai`.
    let ws = Workspace::init();
    let (run, _) = doctor(&ws, &[], None);
    run.success().stderr_has("no check failed; 1 of");
    let (run, _) = doctor(&ws, &["--json"], None);
    run.success();
    assert_eq!(run.json()["summary"]["warn"], 1);
    let r = row(&run, "key openai");
    assert_eq!(r["status"], "warn", "{r}");
    assert!(
        r["detail"]
            .as_str()
            .unwrap()
            .contains("no suite runs on it"),
        "{r}"
    );
    assert_eq!(row(&run, "provider replay")["status"], "ok");
    assert_eq!(row(&run, "cassette support")["status"], "ok");
}

#[test]
fn invalid_config_exits_2_with_its_line() {
    let ws = Workspace::init();
    ws.append("promptctl.yaml", "providerz: {}\n");
    let (run, _) = doctor(&ws, &[], None);
    let line = ws.read("promptctl.yaml").lines().count();
    run.code(2)
        .stderr_has(&format!("promptctl.yaml:{line}:"))
        .stderr_has("unknown field `providerz`")
        .stdout_empty();
}

/// Integrity is exit 4, the code `verify` gives; it wins over a missing key (3).
#[test]
fn a_tampered_version_fails_its_row_with_exit_4() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = live_workspace(&server.openai_base_url());
    ws.release(&["--bump", "minor", "-m", "First release"]);
    let (run, _) = doctor(&ws, &[], Some(KEY));
    run.success().stdout_has("1 version verifies (0.1.0)");

    ws.change_one_byte(&format!("{}/system.md", version_dir("0.1.0")));
    let (run, _) = doctor(&ws, &["--json"], Some(KEY));
    run.code(4)
        .stderr_has("doctor: 1 check failed: `versions support_bot`");
    let r = row(&run, &format!("versions {NAME}"));
    assert_eq!(r["status"], "fail");
    let detail = r["detail"].as_str().unwrap();
    assert!(detail.contains("0.1.0"), "{detail}");
    assert!(
        detail.contains("prompts/support_bot/versions/0.1.0/system.md"),
        "{detail}"
    );
    assert!(r["hint"].as_str().unwrap().contains("git checkout"), "{r}");
    assert_eq!(run.json()["summary"]["exit_code"], 4);

    let (run, _) = doctor(&ws, &[], None);
    run.code(4)
        .stderr_has("2 checks failed: `key openai`, `versions support_bot`");
}

#[test]
fn datasets_and_cassettes_against_the_last_run() {
    let ws = Workspace::init();
    let (run, _) = doctor(&ws, &["--json"], None);
    assert!(
        row(&run, "dataset support")["detail"]
            .as_str()
            .unwrap()
            .ends_with("not run yet"),
        "{run}"
    );
    ws.run(&["eval", "support"]).success();
    let (run, _) = doctor(&ws, &["--json"], None);
    run.success();
    for check in ["suite support", "dataset support"] {
        let r = row(&run, check);
        assert_eq!(r["status"], "ok", "{r}");
        assert!(
            r["detail"]
                .as_str()
                .unwrap()
                .contains("as in the last run `"),
            "{r}"
        );
    }

    // A new case: the dataset changed since the run, and the cassette has
    // no recording for it, so a replay would fail (exit 3).
    ws.append(
        "evals/support.cases.jsonl",
        "{\"id\": \"brand-new\", \"vars\": {\"question\": \"Hello?\"}}\n",
    );
    let (run, _) = doctor(&ws, &["--json"], None);
    run.code(3);
    let r = row(&run, "dataset support");
    assert_eq!(r["status"], "warn", "{r}");
    assert!(
        r["detail"]
            .as_str()
            .unwrap()
            .contains("13 cases; changed since the last run"),
        "{r}"
    );
    assert!(
        r["hint"]
            .as_str()
            .unwrap()
            .contains("promptctl eval support")
    );
    let r = row(&run, "cassette support");
    assert_eq!(r["status"], "fail", "{r}");
    assert!(
        r["detail"]
            .as_str()
            .unwrap()
            .contains("no recording for 1 case: `brand-new`"),
        "{r}"
    );
    assert!(r["hint"].as_str().unwrap().contains("--record"), "{r}");

    // A missing cassette, under replay: exit 3.
    ws.remove("evals/cassettes/support.jsonl");
    let (run, _) = doctor(&ws, &["--json"], None);
    run.code(3);
    let r = row(&run, "cassette support");
    assert!(r["detail"].as_str().unwrap().contains("is missing"), "{r}");

    // A broken dataset line is invalid input (exit 2), named by line.
    ws.append("evals/support.cases.jsonl", "{not json\n");
    ws.write("evals/cassettes/support.jsonl", "");
    let (run, _) = doctor(&ws, &["--json"], None);
    let r = row(&run, "dataset support");
    assert_eq!(r["status"], "fail", "{r}");
    assert!(
        r["detail"]
            .as_str()
            .unwrap()
            .contains("evals/support.cases.jsonl:14:"),
        "{r}"
    );
    // Without the case ids there is nothing to hold the cassette to.
    assert_eq!(row(&run, "cassette support")["status"], "ok", "{run}");
    run.code(2);
}

#[test]
fn a_suite_that_does_not_parse_or_names_no_prompt_fails_with_exit_2() {
    let ws = Workspace::init();
    ws.write("evals/other.yaml", "prompt: nobody\ncases: []\n");
    let (run, _) = doctor(&ws, &["--json"], None);
    run.code(2);
    let r = row(&run, "suite other");
    assert_eq!(r["status"], "fail");
    assert!(
        r["detail"]
            .as_str()
            .unwrap()
            .contains("prompt `nobody` does not load"),
        "{r}"
    );
    ws.write(
        "evals/other.yaml",
        "prompt: support_bot\ncases: []\nthreshold: 1\n",
    );
    let (run, _) = doctor(&ws, &["--json"], None);
    run.code(2);
    assert!(
        row(&run, "suite other")["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field `threshold`"),
        "{run}"
    );
}

#[test]
fn a_yaml_dataset_beside_its_suite_is_not_taken_for_a_suite() {
    let ws = Workspace::init();
    ws.write(
        "evals/extra.cases.yaml",
        "- { id: a, vars: { question: hi } }\n- { id: b, vars: { question: ho } }\n",
    );
    ws.write(
        "evals/extra.yaml",
        "prompt: support_bot\nprovider: echo\ncases: extra.cases.yaml\n",
    );
    let (run, _) = doctor(&ws, &["--json"], None);
    run.success();
    assert!(
        !rows(&run).iter().any(|r| r["check"] == "suite extra.cases"),
        "{run}"
    );
    assert_eq!(row(&run, "suite extra")["status"], "ok");
    assert!(
        row(&run, "dataset extra")["detail"]
            .as_str()
            .unwrap()
            .starts_with("`evals/extra.cases.yaml`: 2 cases"),
        "{run}"
    );
}
