//! Model parameters as the APIs take them (issue 11, items 5 and 6): only
//! what is set is sent, for the prompt and for the judge; `extra` passes
//! through verbatim and cannot replace what promptctl sends; structured
//! outputs on both wire protocols. Every test reads the request bodies the
//! fake server recorded.

use serde_json::{Value, json};

use crate::fake::{ChatCall, FakeConfig, FakeServer, Recorded};
use crate::util::{NAME, PROMPT, Run, Workspace};

const OPENAI_KEY_ENV: &str = "FAKE_OPENAI_KEY";
const ANTHROPIC_KEY_ENV: &str = "FAKE_ANTHROPIC_KEY";
const SUITE: &str = "evals/t.yaml";

/// How the judge's fixed instructions begin (`src/eval/judge.rs`).
const JUDGE_PREFIX: &str = "You are an impartial evaluation judge";
const TONE_09: &str = r#"{"scores": {"tone": {"score": 0.9, "reason": "ok"}}}"#;

/// The init prompt's `model:` line, which the tests replace.
const MODEL_LINE: &str =
    "model: { provider: openai, name: gpt-4o-mini, temperature: 0, max_tokens: 400, seed: 42 }";

/// The init prompt's digest before these parameters existed (the committed
/// evidence pack `evidence/support_bot/1.0.0` names it too).
const INIT_DIGEST: &str = "sha256:ff06367c4e4baa5eb0d24a3e8b15e43c05dfea46908b14c778b902af064f5aad";

/// An answer that fits [`SCHEMA`].
const ANSWER: &str = r#"{"answer": "Open the board menu and choose Export."}"#;
const SCHEMA: &str = r#"{ type: object, properties: { answer: { type: string } }, required: [answer], additionalProperties: false }"#;

/// Answers judge calls with a verdict and every other call with [`ANSWER`].
fn answering() -> FakeServer {
    FakeServer::start(FakeConfig::responding(|call: &ChatCall| {
        if call.system.starts_with(JUDGE_PREFIX) {
            TONE_09.into()
        } else {
            ANSWER.into()
        }
    }))
}

/// A workspace with provider `fake` (OpenAI) and `claude` (Anthropic) at `server`.
fn workspace(server: &FakeServer) -> Workspace {
    let ws = Workspace::init();
    ws.write(
        "promptctl.yaml",
        format!(
            "providers:\n  fake:   {{ type: openai, base_url: \"{}\", api_key_env: {OPENAI_KEY_ENV}, retries: 0 }}\n  claude: {{ type: anthropic, base_url: \"{}\", api_key_env: {ANTHROPIC_KEY_ENV}, retries: 0 }}\n",
            server.openai_base_url(),
            server.anthropic_base_url()
        ),
    );
    ws
}

/// Suite `t`: one case on `provider`, whose answer must be JSON; `rest`
/// holds a rubric.
fn write_suite(ws: &Workspace, provider: &str, rest: &str) {
    ws.write(
        SUITE,
        format!(
            "prompt: support_bot\nprovider: {provider}\ncases:\n  - {{ id: c1, vars: {{ question: \"How do I export?\" }}, assert: [{{ type: is_json }}] }}\n{rest}"
        ),
    );
}

/// A rubric whose judge is `judge` (a flow mapping).
fn rubric(judge: &str) -> String {
    format!("rubric:\n  judge: {judge}\n  criteria:\n    tone: \"Concise, professional\"\n")
}

/// Replaces the init prompt's `model:` line with `model`.
fn set_model(ws: &Workspace, model: &str) {
    ws.replace(PROMPT, MODEL_LINE, model);
}

fn eval(ws: &Workspace) -> Run {
    let mut cmd = ws.cmd(["eval", "t", "--no-cache"]);
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

/// The run file a run saved.
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

fn is_judge(r: &Recorded) -> bool {
    let system = match r.body.get("system") {
        Some(s) => s.as_str().unwrap_or_default().to_string(),
        None => r.body["messages"][0]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    };
    system.starts_with(JUDGE_PREFIX)
}

/// The one prompt request and the one judge request (if any) of a
/// one-case run.
#[track_caller]
fn split(server: &FakeServer) -> (Recorded, Option<Recorded>) {
    let requests = server.requests();
    let (judge, prompt): (Vec<Recorded>, Vec<Recorded>) = requests.into_iter().partition(is_judge);
    assert_eq!(prompt.len(), 1, "one prompt request: {prompt:?}");
    assert!(judge.len() <= 1, "at most one judge request: {judge:?}");
    (prompt.into_iter().next().unwrap(), judge.into_iter().next())
}

/// The body's keys, sorted.
fn keys(body: &Value) -> Vec<String> {
    let mut k: Vec<String> = body
        .as_object()
        .expect("a JSON object body")
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

/// The parameters nothing in these tests' defaults should send.
const SAMPLING: [&str; 6] = [
    "seed",
    "temperature",
    "max_tokens",
    "max_completion_tokens",
    "top_p",
    "reasoning_effort",
];

// The judge.

#[test]
fn a_judge_with_no_parameters_sends_none() {
    let server = answering();
    let ws = workspace(&server);
    write_suite(&ws, "fake", &rubric("{ provider: fake, model: gpt-4o }"));
    let run = eval(&ws);
    run.code(0);
    let (_, judge) = split(&server);
    let judge = judge.expect("a judge request");
    assert_eq!(judge.body["model"], "gpt-4o");
    for k in SAMPLING {
        assert!(
            judge.body.get(k).is_none(),
            "the judge was sent `{k}`: {}",
            judge.body
        );
    }
    assert_eq!(keys(&judge.body), ["messages", "model"], "{}", judge.body);
    let file = run_file(&ws, &run);
    assert_eq!(file["judge"]["params"], json!({}), "{}", file["judge"]);
    assert!(
        file["judge"].get("temperature").is_none(),
        "{}",
        file["judge"]
    );
}

#[test]
fn a_claude_judge_gets_the_required_max_tokens_and_nothing_else() {
    let server = answering();
    let ws = workspace(&server);
    write_suite(
        &ws,
        "fake",
        &rubric("{ provider: claude, model: claude-sonnet-4-5 }"),
    );
    eval(&ws).code(0);
    let (_, judge) = split(&server);
    let judge = judge.expect("a judge request");
    assert_eq!(judge.path, "/v1/messages");
    assert_eq!(judge.body["max_tokens"], 1024, "{}", judge.body);
    assert_eq!(
        keys(&judge.body),
        ["max_tokens", "messages", "model", "system"],
        "{}",
        judge.body
    );
}

#[test]
fn judge_parameters_that_are_set_are_sent() {
    let server = answering();
    let ws = workspace(&server);
    write_suite(
        &ws,
        "fake",
        &rubric(
            "{ provider: fake, model: o3-mini, temperature: 0.2, max_completion_tokens: 300, seed: 7, reasoning_effort: low, extra: { service_tier: flex } }",
        ),
    );
    let run = eval(&ws);
    run.code(0);
    let (_, judge) = split(&server);
    let b = judge.expect("a judge request").body;
    assert_eq!(b["temperature"].as_f64(), Some(0.2), "{b}");
    assert_eq!(b["max_completion_tokens"], 300, "{b}");
    assert_eq!(b["seed"], 7, "{b}");
    assert_eq!(b["reasoning_effort"], "low", "{b}");
    assert_eq!(b["service_tier"], "flex", "{b}");
    assert!(b.get("max_tokens").is_none(), "{b}");
    // The run records every parameter the judge was sent.
    let file = run_file(&ws, &run);
    let params = &file["judge"]["params"];
    assert_eq!(params["max_completion_tokens"], 300, "{params}");
    assert_eq!(params["reasoning_effort"], "low", "{params}");
    assert_eq!(
        params["extra"],
        json!({ "service_tier": "flex" }),
        "{params}"
    );
    run.stdout_has("o3-mini via fake, temperature 0.2, max_completion_tokens 300");
}

#[test]
fn a_judge_extra_key_promptctl_sets_is_refused_before_any_request() {
    let server = answering();
    let ws = workspace(&server);
    write_suite(
        &ws,
        "fake",
        &rubric("{ provider: fake, model: gpt-4o, extra: { seed: 1 } }"),
    );
    let before = ws.tree();
    let run = eval(&ws);
    run.code(2)
        .stderr_has("evals/t.yaml:6:")
        .stderr_has("rubric.judge.extra: cannot set `seed`");
    assert_eq!(server.request_count(), 0, "{run}");
    before.assert_unchanged(&ws.tree(), &run);
}

// The prompt's parameters.

#[test]
fn a_reasoning_model_gets_max_completion_tokens_and_effort_and_no_temperature() {
    let server = answering();
    let ws = workspace(&server);
    set_model(
        &ws,
        "model: { provider: openai, name: o3-mini, max_completion_tokens: 2000, reasoning_effort: high }",
    );
    write_suite(&ws, "fake", "");
    eval(&ws).code(0);
    let (prompt, _) = split(&server);
    let b = &prompt.body;
    assert_eq!(b["max_completion_tokens"], 2000, "{b}");
    assert_eq!(b["reasoning_effort"], "high", "{b}");
    assert_eq!(
        keys(b),
        [
            "max_completion_tokens",
            "messages",
            "model",
            "reasoning_effort"
        ],
        "{b}"
    );
}

#[test]
fn anthropic_takes_max_completion_tokens_as_max_tokens_and_effort_in_output_config() {
    let server = answering();
    let ws = workspace(&server);
    set_model(
        &ws,
        "model: { provider: claude, name: claude-opus-4-6, max_completion_tokens: 2000, reasoning_effort: high }",
    );
    write_suite(&ws, "claude", "");
    eval(&ws).code(0);
    let (prompt, _) = split(&server);
    let b = &prompt.body;
    assert_eq!(b["max_tokens"], 2000, "{b}");
    assert_eq!(b["output_config"], json!({ "effort": "high" }), "{b}");
    assert_eq!(
        keys(b),
        ["max_tokens", "messages", "model", "output_config", "system"],
        "{b}"
    );
}

#[test]
fn an_effort_level_anthropic_does_not_take_is_refused_before_any_request() {
    let server = answering();
    let ws = workspace(&server);
    set_model(
        &ws,
        "model: { provider: claude, name: claude-opus-4-6, reasoning_effort: minimal }",
    );
    write_suite(&ws, "claude", "");
    let run = eval(&ws);
    run.code(2)
        .stderr_has("prompts/support_bot/prompt.yaml:5")
        .stderr_has("model.reasoning_effort: `minimal`")
        .stderr_has("low, medium, high, xhigh, max");
    assert_eq!(server.request_count(), 0, "{run}");
}

#[test]
fn extra_is_passed_verbatim_to_both_apis() {
    let extra = json!({
        "service_tier": "flex",
        "metadata": { "user_id": "u-1", "tags": ["a", 2, null, true] },
        "logit_bias": { "50256": -100 },
    });
    for (provider, path) in [("fake", "/v1/chat/completions"), ("claude", "/v1/messages")] {
        let server = answering();
        let ws = workspace(&server);
        set_model(
            &ws,
            &format!("model: {{ provider: {provider}, name: m, extra: {extra} }}"),
        );
        write_suite(&ws, provider, "");
        eval(&ws).code(0);
        let (prompt, _) = split(&server);
        assert_eq!(prompt.path, path);
        for (k, v) in extra.as_object().unwrap() {
            assert_eq!(&prompt.body[k], v, "{provider}: `{k}` in {}", prompt.body);
        }
    }
}

#[test]
fn an_extra_key_promptctl_sets_is_exit_2_naming_file_and_field() {
    for key in ["tools", "messages", "max_tokens", "output_config"] {
        let server = answering();
        let ws = workspace(&server);
        set_model(
            &ws,
            &format!(
                "model:\n  provider: openai\n  name: m\n  extra:\n    service_tier: flex\n    {key}: 1"
            ),
        );
        write_suite(&ws, "fake", "");
        let before = ws.tree();
        let run = eval(&ws);
        run.code(2)
            .stderr_has("prompts/support_bot/prompt.yaml:10:5")
            .stderr_has(&format!("model.extra: cannot set `{key}`"));
        assert_eq!(server.request_count(), 0, "{key}: {run}");
        before.assert_unchanged(&ws.tree(), &run);
        // Every command that reads the prompt refuses it alike.
        ws.run(&["hash", NAME])
            .code(2)
            .stderr_has(&format!("cannot set `{key}`"));
    }
}

// Structured outputs.

/// The init prompt with [`SCHEMA`] as its output schema, enforced or not.
fn with_schema(ws: &Workspace, provider: &str, enforce: bool) {
    let format = if enforce {
        ", response_format: json_schema"
    } else {
        ""
    };
    set_model(
        ws,
        &format!(
            "model: {{ provider: {provider}, name: m, temperature: 0{format} }}\noutput_schema: {SCHEMA}"
        ),
    );
}

fn schema() -> Value {
    json!({
        "type": "object",
        "properties": { "answer": { "type": "string" } },
        "required": ["answer"],
        "additionalProperties": false,
    })
}

#[test]
fn structured_outputs_on_the_openai_wire() {
    let server = answering();
    let ws = workspace(&server);
    with_schema(&ws, "fake", true);
    write_suite(&ws, "fake", "");
    eval(&ws).code(0);
    let (prompt, _) = split(&server);
    assert_eq!(
        prompt.body["response_format"],
        json!({
            "type": "json_schema",
            "json_schema": { "name": "support_bot", "schema": schema(), "strict": true },
        }),
        "{}",
        prompt.body
    );
    assert!(prompt.body.get("output_config").is_none());
}

#[test]
fn structured_outputs_on_the_anthropic_wire() {
    let server = answering();
    let ws = workspace(&server);
    with_schema(&ws, "claude", true);
    write_suite(&ws, "claude", "");
    eval(&ws).code(0);
    let (prompt, _) = split(&server);
    assert_eq!(prompt.path, "/v1/messages");
    assert_eq!(
        prompt.body["output_config"],
        json!({ "format": { "type": "json_schema", "schema": schema() } }),
        "{}",
        prompt.body
    );
    assert!(prompt.body.get("response_format").is_none());
    // Generally available: the API version header, and no beta header.
    assert_eq!(prompt.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(prompt.header("anthropic-beta"), None);
}

#[test]
fn enforcement_without_an_output_schema_is_exit_2() {
    let server = answering();
    let ws = workspace(&server);
    set_model(
        &ws,
        "model: { provider: openai, name: m, response_format: json_schema }",
    );
    write_suite(&ws, "fake", "");
    let before = ws.tree();
    let run = eval(&ws);
    run.code(2)
        .stderr_has("prompts/support_bot/prompt.yaml:5")
        .stderr_has("model.response_format")
        .stderr_has("output_schema");
    assert_eq!(server.request_count(), 0, "{run}");
    before.assert_unchanged(&ws.tree(), &run);
}

#[test]
fn enforcement_is_in_the_digest_only_when_set() {
    let server = answering();
    let digest = |enforce: bool| {
        let ws = workspace(&server);
        with_schema(&ws, "fake", enforce);
        ws.hash(NAME)["digest"].clone()
    };
    assert_ne!(
        digest(false),
        digest(true),
        "enforcement is part of the digest"
    );
}

#[test]
fn unset_parameters_leave_bodies_and_digests_as_they_were() {
    // The init prompt: its digest is the one released before.
    let server = answering();
    let ws = workspace(&server);
    assert_eq!(ws.hash(NAME)["digest"], INIT_DIGEST);
    ws.write(
        SUITE,
        "prompt: support_bot\nprovider: fake\ncases:\n  - { id: c1, vars: { question: q } }\n",
    );
    eval(&ws).code(0);
    let (prompt, _) = split(&server);
    assert_eq!(
        keys(&prompt.body),
        ["max_tokens", "messages", "model", "seed", "temperature"],
        "{}",
        prompt.body
    );

    // An output schema that is not enforced is checked by promptctl only.
    for (provider, want) in [
        ("fake", vec!["messages", "model", "temperature"]),
        (
            "claude",
            vec!["max_tokens", "messages", "model", "system", "temperature"],
        ),
    ] {
        let server = answering();
        let ws = workspace(&server);
        with_schema(&ws, provider, false);
        write_suite(&ws, provider, "");
        eval(&ws).code(0);
        let (prompt, _) = split(&server);
        assert_eq!(keys(&prompt.body), want, "{provider}: {}", prompt.body);
    }
}

#[test]
fn a_run_file_from_before_judge_parameters_still_counts_for_promote() {
    // The bundled suite sets the three parameters every judge used to be
    // sent, so a run saved before they were recorded names the same judge.
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    ws.cmd(["eval", "support", "--prompt", "support_bot@1.0.0"])
        .run()
        .success();
    let runs: Vec<_> = std::fs::read_dir(ws.path(".promptctl/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let mut run: Value = serde_json::from_slice(&std::fs::read(&runs[0]).unwrap()).unwrap();
    assert_eq!(
        run["judge"]["params"],
        json!({ "temperature": 0.0, "max_tokens": 800, "seed": 0 })
    );
    // As promptctl wrote it before: the temperature alone.
    run["judge"] = json!({
        "provider": "openai",
        "model": "gpt-4o",
        "temperature": 0.0,
        "prompt_sha256": run["judge"]["prompt_sha256"],
    });
    std::fs::write(&runs[0], serde_json::to_vec_pretty(&run).unwrap()).unwrap();
    ws.cmd(["promote", "support_bot@1.0.0", "--env", "staging"])
        .env("PROMPTCTL_USER", "tester")
        .run()
        .success();

    // A suite that no longer sets them names another judge.
    ws.replace(
        "evals/support.yaml",
        "temperature: 0, max_tokens: 800, seed: 0 ",
        "",
    );
    ws.cmd(["promote", "support_bot@1.0.0", "--env", "production"])
        .env("PROMPTCTL_USER", "tester")
        .run()
        .code(1)
        .stderr_has("its judge differs");
}
