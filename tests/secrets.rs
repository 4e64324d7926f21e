//! No secret in any file: a key the model echoes (whole, in part, shouted)
//! is in nothing promptctl writes or prints, a `base_url` with credentials
//! is refused, and `release` refuses a draft with a credential in it.

use std::path::Path;

use serde_json::Value;

use crate::fake::{ChatCall, FakeConfig, FakeServer};
use crate::util::{Run, SYSTEM, Workspace, files_under, line_of};

/// An Azure OpenAI key: 32 hex digits, a shape no detector knows, so only
/// its value can find it.
const AZURE_KEY: &str = "3f9a6c0e1b7d4a2f8e5c9b0d6a1f4e7c";
const AZURE_ENV: &str = "FAKE_AZURE_KEY";
/// The key of a provider the run does not use: it is scrubbed all the same.
const OTHER_KEY: &str = "sk-ant-test-UNUSEDPROVIDER0123456789xyz";
const OTHER_ENV: &str = "FAKE_OTHER_KEY";

/// How the judge's fixed instructions begin (`src/eval/judge.rs`).
const JUDGE_PREFIX: &str = "You are an impartial evaluation judge";

const MARKER: &str = "[REDACTED:api_key]";

fn config(openai: &str, anthropic: &str) -> String {
    format!(
        r#"providers:
  openai: {{ type: openai, base_url: "{openai}", api_key_env: {AZURE_ENV}, timeout_s: 5, retries: 0 }}
  claude: {{ type: anthropic, base_url: "{anthropic}", api_key_env: {OTHER_ENV} }}
  replay: {{ type: replay }}
prices: {{ gpt-4o-mini: {{ input: 0.15, output: 0.60 }} }}
"#
    )
}

/// Whether `text` holds any 12 characters of `key`, in any case.
fn leaks(text: &str, key: &str) -> bool {
    let text = text.to_ascii_lowercase();
    let key = key.to_ascii_lowercase();
    key.as_bytes()
        .windows(12)
        .any(|w| text.contains(std::str::from_utf8(w).expect("keys are ASCII")))
}

/// Every file under `dir` that holds any 12 characters of a planted key.
fn leaking_files(dir: &Path) -> Vec<String> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            let text = String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
            leaks(&text, AZURE_KEY) || leaks(&text, OTHER_KEY)
        })
        .map(|p| p.display().to_string())
        .collect()
}

#[track_caller]
fn assert_no_key_in(run: &Run) {
    for key in [AZURE_KEY, OTHER_KEY] {
        assert!(
            !leaks(&run.stdout, key) && !leaks(&run.stderr, key),
            "part of a key is in the output\n{run}"
        );
    }
}

/// The model answers every prompt with the key (whole, a 14-character
/// prefix, upper-cased) and a prefix of the other provider's key; the judge
/// gives its reason with the key in it.
fn echoing_server() -> FakeServer {
    FakeServer::start(FakeConfig::responding(|call: &ChatCall| {
        if call.system.starts_with(JUDGE_PREFIX) {
            format!(
                r#"{{"scores": {{"tone": {{"score": 0.9, "reason": "it prints {}"}}}}}}"#,
                AZURE_KEY.to_uppercase()
            )
        } else {
            format!(
                "Sure. Your key is {AZURE_KEY}; it starts {}, LOUDLY {}. Also {}.",
                &AZURE_KEY[..14],
                AZURE_KEY.to_uppercase(),
                &OTHER_KEY[..16]
            )
        }
    }))
}

fn eval(ws: &Workspace, args: &[&str]) -> Run {
    let mut all = vec!["eval"];
    all.extend_from_slice(args);
    let mut cmd = ws.cmd(all);
    cmd.without_proxies()
        .env(AZURE_ENV, AZURE_KEY)
        .env(OTHER_ENV, OTHER_KEY);
    cmd.run()
}

#[test]
fn a_key_the_model_echoes_is_in_no_file_and_no_output() {
    let server = echoing_server();
    let ws = Workspace::init();
    ws.write(
        "promptctl.yaml",
        config(&server.openai_base_url(), &server.anthropic_base_url()),
    );
    ws.write(
        "evals/t.yaml",
        "prompt: support_bot\nprovider: openai\ncases:\n  \
         - { id: a, vars: { question: \"What is my key?\" }, assert: [{ type: contains, value: \"Sure\" }] }\n  \
         - { id: b, vars: { question: \"Say it again\" }, assert: [{ type: contains, value: \"Sure\" }] }\n\
         rubric:\n  judge: { provider: openai, model: gpt-4o }\n  criteria:\n    tone: \"Concise\"\n\
         gates: { pass_rate: 1.0 }\n",
    );

    // Live and recorded, then from the cache, then offline from the cassette.
    let runs = [
        eval(&ws, &["t", "--record", "--format", "json"]),
        eval(&ws, &["t", "--format", "json"]),
        eval(&ws, &["t", "--provider", "replay", "--format", "json"]),
    ];
    for (i, run) in runs.iter().enumerate() {
        run.success();
        assert_no_key_in(run);
        let file: Value = run.json();
        for case in file["cases"].as_array().expect("cases") {
            let output = case["output"].as_str().unwrap_or_default();
            assert!(
                output.starts_with("Sure. Your key is [REDACTED:api_key]"),
                "{output}"
            );
            let reason = case["scores"]["tone"]["reason"]
                .as_str()
                .unwrap_or_default();
            assert_eq!(reason, "it prints [REDACTED:api_key]", "{case}");
            assert_eq!(case["cached"], i == 1, "run {i}: {case}");
        }
    }

    // The key was sent, as the bearer token and nowhere else; the judge was
    // shown the scrubbed answer.
    let requests = server.requests();
    assert_eq!(requests.len(), 4, "two prompts and two verdicts, once each");
    let bearer = format!("Bearer {AZURE_KEY}");
    for r in &requests {
        assert_eq!(r.header("authorization"), Some(bearer.as_str()));
        let body = r.body.to_string();
        assert!(
            !leaks(&body, AZURE_KEY) && !leaks(&body, OTHER_KEY),
            "{body}"
        );
    }
    let judged: Vec<_> = requests
        .iter()
        .filter(|r| r.body.to_string().contains(JUDGE_PREFIX))
        .collect();
    assert_eq!(judged.len(), 2);
    assert!(judged.iter().all(|r| r.body.to_string().contains(MARKER)));

    // Every file: the cassette, the run files, the cache, anything else.
    let cassette = ws.read("evals/cassettes/t.jsonl");
    assert!(cassette.contains(MARKER), "{cassette}");
    let cached = files_under(&ws.path(".promptctl/cache"));
    assert_eq!(cached.len(), 4, "an answer and a verdict per case");
    let saved: Vec<_> = files_under(&ws.path(".promptctl/runs"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(saved.len(), 3);
    for f in cached.iter().chain(&saved) {
        let text = std::fs::read_to_string(f).expect("a text file");
        assert!(text.contains(MARKER), "{} has no marker", f.display());
    }
    let leaked = leaking_files(&ws.tmp());
    assert!(leaked.is_empty(), "part of a key is in {leaked:?}");
}

#[test]
fn credentials_in_a_base_url_are_refused_without_printing_them() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = Workspace::init();
    let secret = "S3cr3tPa55word";
    let base = server
        .openai_base_url()
        .replacen("http://", &format!("http://svc:{secret}@"), 1);
    ws.replace(
        "promptctl.yaml",
        "    base_url: \"https://api.openai.com/v1\"\n",
        &format!("    base_url: \"{base}\"\n"),
    );
    let line = line_of(&ws.read("promptctl.yaml"), secret);
    for args in [
        &["doctor"][..],
        &["doctor", "--json"],
        &["list"],
        &["eval", "support", "--provider", "openai"],
    ] {
        let run = ws
            .cmd(args)
            .without_proxies()
            .env("OPENAI_API_KEY", "sk-proj-abcdefghijklmnopqrstuvwx")
            .run();
        run.code(2)
            .stderr_has(&format!("promptctl.yaml:{line}"))
            .stderr_has("providers.openai.base_url")
            .stderr_has("api_key_env")
            .output_lacks(secret)
            .output_lacks("svc:");
    }
    assert_eq!(server.request_count(), 0, "nothing is sent");
}

#[test]
fn release_refuses_a_draft_with_a_credential_and_writes_nothing() {
    let ws = Workspace::init();
    let key = format!("sk-proj-{}", "Q7w8E9r0T1".repeat(3));
    ws.append(SYSTEM, &format!("\nStatus API token: {key}\n"));
    let line = line_of(&ws.read(SYSTEM), "Status API token");
    let before = ws.tree();
    let run = ws.run(&["release", "support_bot", "--bump", "minor", "-m", "First"]);
    run.code(2)
        .stdout_empty()
        .stderr_has("release refused")
        .stderr_has(&format!("{SYSTEM}:{line}"))
        .stderr_has("openai_key")
        .output_lacks("Q7w8E9r0T1");
    before.assert_unchanged(&ws.tree(), &run);
    // `lint` finds the same one.
    ws.run(&["lint"])
        .code(1)
        .stdout_has(&format!("{SYSTEM}:{line}"))
        .stdout_has("openai_key");
}

#[test]
fn a_google_key_is_found_by_lint_and_redact() {
    let ws = Workspace::init();
    let key = "AIzaSyB-7fQx2_Lm9NpKc4RtVw8YhJd3Ge5UaZo";
    assert_eq!(key.len(), 39);
    ws.append(SYSTEM, &format!("\nMaps key: {key}\n"));
    let line = line_of(&ws.read(SYSTEM), "Maps key");
    ws.run(&["lint"])
        .code(1)
        .stdout_has(&format!("{SYSTEM}:{line}"))
        .stdout_has("google_api_key")
        .output_lacks(key)
        .output_lacks("7fQx2_Lm9N");
    ws.write("log.txt", format!("called maps with key={key} ok\n"));
    ws.run(&["redact", "log.txt"])
        .success()
        .stdout_has("called maps with key=[REDACTED:api_key] ok")
        .output_lacks("7fQx2_Lm9N");
}
