//! `promptctl eval` against the fake OpenAI/Anthropic server (`tests/fake`):
//! the wire protocols, retries and their limits, fail-closed verdicts, the
//! judge, redaction, the cache, cassettes, gates, shards and concurrency.
//!
//! Every test runs the real binary as a child process against a fake server
//! in this process, and checks the exit code, that every case is in the run
//! file (none silently dropped) and that no errored case is a pass.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fake::{ChatCall, FakeConfig, FakeServer, Fault, Recorded};
use crate::util::{Cmd, PROMPT, Run, Workspace, files_under, sha256};

/// Planted keys: they must never appear in any output or file.
const OPENAI_KEY: &str = "sk-test-PLANTEDKEY0123456789abcdefXYZ";
const OPENAI_KEY_ENV: &str = "FAKE_OPENAI_KEY";
const ANTHROPIC_KEY: &str = "sk-ant-test-PLANTEDANTHROPIC0123456789xyz";
const ANTHROPIC_KEY_ENV: &str = "FAKE_ANTHROPIC_KEY";

/// The suite every test writes, and its cassette.
const SUITE: &str = "evals/t.yaml";
const CASSETTE: &str = "evals/cassettes/t.jsonl";
const GATES: &str = "gates: { pass_rate: 1.0 }\n";

/// How the judge's fixed instructions begin (`src/eval/judge.rs`).
const JUDGE_PREFIX: &str = "You are an impartial evaluation judge";

/// Environment variables that would change what `eval` does.
const PROMPTCTL_VARS: [&str; 5] = [
    "PROMPTCTL_PROVIDER",
    "PROMPTCTL_CONCURRENCY",
    "PROMPTCTL_NO_CACHE",
    "PROMPTCTL_MAX_TIME",
    "GITHUB_STEP_SUMMARY",
];

/// The limits written into `promptctl.yaml` for both live providers.
#[derive(Debug, Clone, Copy)]
struct Limits {
    timeout_s: f64,
    retries: u32,
    max_in_flight: u32,
    /// High, so that tests of retries see every retry: the circuit breaker
    /// has its own tests (`hostile.rs`).
    circuit_breaker: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            timeout_s: 2.0,
            retries: 2,
            max_in_flight: 8,
            circuit_breaker: 100,
        }
    }
}

fn config(openai: &str, anthropic: &str, l: Limits) -> String {
    let (t, r, m, b) = (l.timeout_s, l.retries, l.max_in_flight, l.circuit_breaker);
    format!(
        r#"providers:
  fake:   {{ type: openai, base_url: "{openai}", api_key_env: {OPENAI_KEY_ENV}, timeout_s: {t}, retries: {r}, max_in_flight: {m}, circuit_breaker: {b} }}
  claude: {{ type: anthropic, base_url: "{anthropic}", api_key_env: {ANTHROPIC_KEY_ENV}, timeout_s: {t}, retries: {r}, max_in_flight: {m}, circuit_breaker: {b} }}
  echo:   {{ type: echo }}
  replay: {{ type: replay }}
prices: {{ gpt-4o-mini: {{ input: 0.15, output: 0.60 }}, gpt-4o: {{ input: 2.5, output: 10 }} }}
redaction: {{ builtins: [email, phone, credit_card, ssn, iban, ip_address, api_key], patterns: {{ order_id: "ORD-[0-9]{{8}}" }} }}
"#
    )
}

/// A workspace whose live providers point at `server`.
fn workspace(server: &FakeServer, limits: Limits) -> Workspace {
    workspace_at(
        &server.openai_base_url(),
        &server.anthropic_base_url(),
        limits,
    )
}

fn workspace_at(openai: &str, anthropic: &str, limits: Limits) -> Workspace {
    let ws = Workspace::init();
    ws.write("promptctl.yaml", config(openai, anthropic, limits));
    ws
}

/// The question of case `c{i}`; `[q1]` is not a prefix of `[q10]`.
fn question(i: usize) -> String {
    format!("[q{i}] How do I export my board as CSV?")
}

fn ids(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("c{i}")).collect()
}

/// `n` inline cases `c1..cn` that pass on the fake's default echo.
fn cases(n: usize) -> String {
    (1..=n)
        .map(|i| {
            format!(
                "  - {{ id: c{i}, vars: {{ question: \"{}\" }}, assert: [{{ type: contains, value: \"echo\" }}] }}\n",
                question(i)
            )
        })
        .collect()
}

/// A suite for `support_bot` on the `fake` provider; `rest` holds the rubric,
/// gates and so on.
fn suite(cases: &str, rest: &str) -> String {
    format!("prompt: support_bot\nprovider: fake\ncases:\n{cases}{rest}")
}

/// The standard suite: `n` passing cases, every case must pass.
fn write_suite(ws: &Workspace, n: usize) {
    ws.write(SUITE, suite(&cases(n), GATES));
}

/// `promptctl eval ARGS` with the planted keys, no proxies and none of
/// promptctl's own variables.
fn eval(ws: &Workspace, args: &[&str]) -> Cmd {
    let mut all = vec!["eval"];
    all.extend_from_slice(args);
    let mut cmd = ws.cmd(all);
    cmd.without_proxies()
        .env(OPENAI_KEY_ENV, OPENAI_KEY)
        .env(ANTHROPIC_KEY_ENV, ANTHROPIC_KEY);
    for var in PROMPTCTL_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// The path in a `saved [merged ]run `ID` to `PATH`` line on stderr.
#[track_caller]
fn saved_path(run: &Run) -> String {
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("saved ") && l.contains("run `"))
        .unwrap_or_else(|| panic!("no `saved run` line on stderr\n{run}"));
    line.rsplit('`')
        .nth(1)
        .unwrap_or_else(|| panic!("cannot read the path in {line:?}"))
        .to_string()
}

/// The run file a finished command saved, parsed.
#[track_caller]
fn run_file(ws: &Workspace, run: &Run) -> Value {
    let rel = saved_path(run);
    serde_json::from_str(&ws.read(&rel)).unwrap_or_else(|e| panic!("{rel} is not JSON: {e}"))
}

/// What every run must satisfy: exactly the expected cases, each once; no
/// errored case passed; the summary counts them all; the verdict's exit code
/// is the process's.
#[track_caller]
fn check_run(run: &Run, file: &Value, expected: &[String]) {
    let cases = file["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("the run file has no `cases`\n{run}"));
    let mut got: Vec<&str> = cases
        .iter()
        .map(|c| c["id"].as_str().expect("a case id"))
        .collect();
    got.sort_unstable();
    let mut want: Vec<&str> = expected.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(got, want, "cases in the run file\n{run}");
    for c in cases {
        if !c["error"].is_null() {
            assert_eq!(c["passed"], false, "an errored case passed: {c}\n{run}");
        }
    }
    assert_eq!(
        file["summary"]["cases"].as_u64(),
        Some(expected.len() as u64),
        "summary.cases\n{run}"
    );
    assert_eq!(
        file["verdict"]["exit_code"].as_i64(),
        run.code.map(i64::from),
        "the verdict's exit code is not the process's\n{run}"
    );
}

/// Runs `eval ARGS`, asserts the exit code and the run invariants, and
/// returns the run and its file.
#[track_caller]
fn eval_checked(ws: &Workspace, args: &[&str], code: i32, expected: &[String]) -> (Run, Value) {
    let run = eval(ws, args).run();
    run.code(code);
    let file = run_file(ws, &run);
    check_run(&run, &file, expected);
    (run, file)
}

/// The case with this id in a run file.
#[track_caller]
fn case<'a>(file: &'a Value, id: &str) -> &'a Value {
    file["cases"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no case `{id}` in the run file"))
}

/// The error of a case, which must have one.
#[track_caller]
fn error_of<'a>(file: &'a Value, id: &str) -> &'a str {
    case(file, id)["error"]
        .as_str()
        .unwrap_or_else(|| panic!("case `{id}` has no error: {}", case(file, id)))
}

/// The last user message of a recorded request, in either API's shape.
fn user_text(r: &Recorded) -> String {
    r.body["messages"]
        .as_array()
        .and_then(|ms| ms.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// How many requests the fake received for case `c{i}`'s prompt.
fn requests_for(server: &FakeServer, i: usize) -> usize {
    let q = question(i);
    server
        .requests()
        .iter()
        .filter(|r| user_text(r) == q)
        .count()
}

/// Files under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            let bytes = std::fs::read(p).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
        .map(|p| p.display().to_string())
        .collect()
}

/// A responder that answers judge calls with `judge(call)` and prompts with
/// the default echo.
fn with_judge(judge: impl Fn(&ChatCall) -> String + Send + Sync + 'static) -> FakeConfig {
    FakeConfig::responding(move |call: &ChatCall| {
        if call.system.starts_with(JUDGE_PREFIX) {
            judge(call)
        } else {
            format!("echo: {}", call.last_user())
        }
    })
}

const TONE_09: &str = r#"{"scores": {"tone": {"score": 0.9, "reason": "ok"}}}"#;

const RUBRIC: &str = "rubric:\n  judge: { provider: fake, model: gpt-4o }\n  criteria:\n    tone: \"Concise, professional, no marketing language\"\n";

// 1. The happy path on both wire protocols.

#[test]
fn happy_path_openai() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 3);
    let (run, file) = eval_checked(&ws, &["t", "--no-cache"], 0, &ids(3));
    assert_eq!(file["verdict"]["status"], "pass", "{run}");
    assert_eq!(file["provider"]["name"], "fake");
    assert_eq!(file["provider"]["type"], "openai");
    assert_eq!(file["provider"]["model"], "gpt-4o-mini");

    let requests = server.requests();
    assert_eq!(requests.len(), 3, "one request per case");
    let bearer = format!("Bearer {OPENAI_KEY}");
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/v1/chat/completions");
        assert_eq!(r.header("authorization"), Some(bearer.as_str()));
        assert_eq!(r.header("x-api-key"), None, "an OpenAI call sent x-api-key");
        assert_eq!(r.body["model"], "gpt-4o-mini");
        assert_eq!(r.body["temperature"].as_f64(), Some(0.0));
        assert_eq!(r.body["max_tokens"].as_u64(), Some(400));
        assert_eq!(r.body["seed"].as_i64(), Some(42));
        assert_eq!(r.body["messages"][0]["role"], "system");
    }
    for i in 1..=3 {
        let c = case(&file, &format!("c{i}"));
        assert_eq!(c["passed"], true, "{c}");
        assert_eq!(c["output"], format!("echo: {}", question(i)).as_str());
        assert_eq!(c["attempts"], 1, "{c}");
        assert_eq!(c["cached"], false, "{c}");
        assert!(c["tokens_in"].as_u64().is_some_and(|t| t > 0), "{c}");
        assert!(c["cost_usd"].is_number(), "a priced model has a cost: {c}");
    }
    run.output_lacks(OPENAI_KEY).output_lacks("PLANTEDKEY");
}

#[test]
fn happy_path_anthropic() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 3);
    let (run, file) = eval_checked(
        &ws,
        &["t", "--no-cache", "--provider", "claude"],
        0,
        &ids(3),
    );
    assert_eq!(file["verdict"]["status"], "pass", "{run}");
    assert_eq!(file["provider"]["name"], "claude");
    assert_eq!(file["provider"]["type"], "anthropic");

    let requests = server.requests();
    assert_eq!(requests.len(), 3, "one request per case");
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/v1/messages");
        assert_eq!(r.header("x-api-key"), Some(ANTHROPIC_KEY));
        assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
        assert_eq!(
            r.header("authorization"),
            None,
            "an Anthropic call sent a bearer token"
        );
        assert_eq!(r.body["max_tokens"].as_u64(), Some(400));
        assert!(
            r.body["system"].as_str().is_some_and(|s| !s.is_empty()),
            "the system text goes in `system`: {}",
            r.body
        );
        let roles: Vec<&str> = r.body["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["role"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(roles, ["user"], "no system message in `messages`");
    }
    for i in 1..=3 {
        let c = case(&file, &format!("c{i}"));
        assert_eq!(c["passed"], true, "{c}");
        assert_eq!(c["output"], format!("echo: {}", question(i)).as_str());
    }
    run.output_lacks(ANTHROPIC_KEY)
        .output_lacks("PLANTEDANTHROPIC");
}

// 2. Retries that end in success.

#[test]
fn a_500_is_retried() {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([Fault::Status(500)]);
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 3);
    let (run, file) = eval_checked(&ws, &["t", "--no-cache", "-j", "1"], 0, &ids(3));
    assert_eq!(file["verdict"]["status"], "pass", "{run}");
    assert_eq!(server.request_count(), 4, "three cases and one retry");
    assert_eq!(
        requests_for(&server, 1),
        2,
        "c1 got the 500 and was retried"
    );
    assert!(
        case(&file, "c1")["attempts"].as_u64() >= Some(2),
        "{}",
        case(&file, "c1")
    );
    assert_eq!(case(&file, "c2")["attempts"], 1);
}

#[test]
fn a_429_waits_for_retry_after_seconds() {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([Fault::RateLimited {
        retry_after: "1".into(),
    }]);
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 2);
    let (run, file) = eval_checked(&ws, &["t", "--no-cache", "-j", "1"], 0, &ids(2));
    assert_eq!(file["verdict"]["status"], "pass", "{run}");
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "two cases and one retry");
    assert_eq!(user_text(&requests[0]), user_text(&requests[1]));
    let gap = requests[1].at.duration_since(requests[0].at);
    assert!(
        gap >= Duration::from_millis(900),
        "the retry came {gap:?} after a 429 with `Retry-After: 1`"
    );
    assert_eq!(case(&file, "c1")["attempts"], 2);
}

#[test]
fn a_429_waits_for_retry_after_as_an_http_date() {
    let server = FakeServer::start(FakeConfig::default());
    // Whole seconds only: the wait is between two and three seconds.
    let when = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3);
    let date = when.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string();
    server.push_faults([Fault::RateLimited { retry_after: date }]);
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 2);
    let (run, file) = eval_checked(&ws, &["t", "--no-cache", "-j", "1"], 0, &ids(2));
    assert_eq!(file["verdict"]["status"], "pass", "{run}");
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "two cases and one retry");
    assert_eq!(user_text(&requests[0]), user_text(&requests[1]));
    let gap = requests[1].at.duration_since(requests[0].at);
    assert!(
        gap >= Duration::from_millis(1500) && gap < Duration::from_secs(10),
        "the retry came {gap:?} after a 429 whose Retry-After date was 2-3 s ahead"
    );
    assert_eq!(case(&file, "c1")["attempts"], 2);
}

// 3-6. Retries that run out: the case is an error, the run exits 3.

#[test]
fn persistent_500_is_an_error_and_the_other_cases_still_run() {
    let server = FakeServer::start(FakeConfig::default());
    // retries: 2, so three attempts; all three fail for the first case.
    server.push_faults([Fault::Status(500), Fault::Status(500), Fault::Status(500)]);
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 3);
    let (run, file) = eval_checked(&ws, &["t", "--no-cache", "-j", "1"], 3, &ids(3));
    assert_eq!(file["verdict"]["status"], "error", "{run}");
    assert_eq!(requests_for(&server, 1), 3, "one try and two retries");
    let err = error_of(&file, "c1");
    assert!(err.contains("500"), "{err}");
    assert!(err.contains("3 attempts"), "{err}");
    for id in ["c2", "c3"] {
        let c = case(&file, id);
        assert_eq!(c["passed"], true, "{c}");
        assert!(c["error"].is_null(), "{c}");
    }
    assert_eq!(file["summary"]["errors"], 1);
    let gate = file["gates"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["gate"] == "max_error_rate"))
        .expect("the max_error_rate gate is always applied");
    assert_eq!(gate["passed"], false, "{gate}");
}

#[test]

fn an_errored_case_records_its_attempts() {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([Fault::Status(500), Fault::Status(500), Fault::Status(500)]);
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 1);
    let (_, file) = eval_checked(&ws, &["t", "--no-cache"], 3, &ids(1));
    assert_eq!(server.request_count(), 3);
    assert_eq!(case(&file, "c1")["attempts"], 3, "{}", case(&file, "c1"));
}

#[test]
fn a_dropped_connection_is_retried() {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([Fault::Drop]);
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 2);
    let (run, file) = eval_checked(&ws, &["t", "--no-cache", "-j", "1"], 0, &ids(2));
    assert_eq!(file["verdict"]["status"], "pass", "{run}");
    assert_eq!(requests_for(&server, 1), 2);
    assert_eq!(case(&file, "c1")["attempts"], 2);
    assert_eq!(case(&file, "c1")["passed"], true);
}

#[test]
fn persistent_drops_are_an_error() {
    let server = FakeServer::start(FakeConfig {
        always: Some(Fault::Drop),
        ..FakeConfig::default()
    });
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 2);
    let (run, file) = eval_checked(&ws, &["t", "--no-cache"], 3, &ids(2));
    assert_eq!(file["verdict"]["status"], "error", "{run}");
    for i in 1..=2 {
        assert_eq!(requests_for(&server, i), 3, "c{i}: one try and two retries");
        let err = error_of(&file, &format!("c{i}"));
        assert!(err.contains("`fake`"), "{err}");
    }
}

#[test]
fn a_hung_server_times_out_within_budget() {
    let server = FakeServer::start(FakeConfig {
        always: Some(Fault::Hang),
        ..FakeConfig::default()
    });
    let limits = Limits {
        timeout_s: 1.0,
        ..Limits::default()
    };
    let ws = workspace(&server, limits);
    write_suite(&ws, 2);
    let start = Instant::now();
    let (run, file) = eval_checked(&ws, &["t", "--no-cache", "-j", "2"], 3, &ids(2));
    let took = start.elapsed();
    assert!(took < Duration::from_secs(30), "took {took:?}\n{run}");
    assert_eq!(file["verdict"]["status"], "error");
    for i in 1..=2 {
        assert_eq!(requests_for(&server, i), 3, "c{i}: one try and two retries");
        let err = error_of(&file, &format!("c{i}"));
        assert!(err.contains("timed out"), "{err}");
    }
}

#[test]
fn max_time_stops_a_hung_run() {
    let server = FakeServer::start(FakeConfig {
        always: Some(Fault::Hang),
        ..FakeConfig::default()
    });
    let limits = Limits {
        timeout_s: 60.0,
        ..Limits::default()
    };
    let ws = workspace(&server, limits);
    write_suite(&ws, 3);
    let start = Instant::now();
    let (run, file) = eval_checked(
        &ws,
        &["t", "--no-cache", "-j", "1", "--max-time", "2"],
        3,
        &ids(3),
    );
    let took = start.elapsed();
    assert!(took < Duration::from_secs(20), "took {took:?}\n{run}");
    assert!(error_of(&file, "c1").starts_with("not finished"), "{file}");
    assert!(error_of(&file, "c2").starts_with("not run"), "{file}");
    assert!(error_of(&file, "c3").starts_with("not run"), "{file}");
}

#[test]
fn a_malformed_body_is_retried() {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([Fault::Malformed]);
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 2);
    let (run, file) = eval_checked(&ws, &["t", "--no-cache", "-j", "1"], 0, &ids(2));
    assert_eq!(file["verdict"]["status"], "pass", "{run}");
    assert_eq!(requests_for(&server, 1), 2);
    assert_eq!(case(&file, "c1")["attempts"], 2);
}

#[test]
fn persistent_malformed_bodies_are_an_error() {
    let server = FakeServer::start(FakeConfig {
        always: Some(Fault::Malformed),
        ..FakeConfig::default()
    });
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 2);
    let (run, file) = eval_checked(&ws, &["t", "--no-cache"], 3, &ids(2));
    assert_eq!(file["verdict"]["status"], "error", "{run}");
    for i in 1..=2 {
        assert_eq!(requests_for(&server, i), 3, "c{i}: one try and two retries");
        let err = error_of(&file, &format!("c{i}"));
        assert!(err.contains("not JSON"), "{err}");
    }
}

// 7-8. A refused or missing key stops the run, and the key never leaks.

#[test]
fn unauthorized_stops_the_run_at_once() {
    let server = FakeServer::start(FakeConfig {
        always: Some(Fault::Unauthorized),
        ..FakeConfig::default()
    });
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 3);
    let start = Instant::now();
    let (run, file) = eval_checked(&ws, &["t", "--no-cache", "-j", "1"], 3, &ids(3));
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "took {took:?}\n{run}");
    assert_eq!(server.request_count(), 1, "a 401 is not retried\n{run}");
    assert_eq!(file["verdict"]["status"], "error");
    run.stderr_has("`fake`").stderr_has(OPENAI_KEY_ENV);
    for id in ["c2", "c3"] {
        let err = error_of(&file, id);
        assert!(err.starts_with("not run"), "{id}: {err}");
    }
    assert!(error_of(&file, "c1").contains("401"), "{file}");

    run.output_lacks(OPENAI_KEY).output_lacks("PLANTEDKEY");
    let leaks = files_containing(&ws.tmp(), "PLANTEDKEY");
    assert!(leaks.is_empty(), "the key is in {leaks:?}");
}

#[test]
fn unauthorized_is_never_retried_under_concurrency() {
    let server = FakeServer::start(FakeConfig {
        always: Some(Fault::Unauthorized),
        ..FakeConfig::default()
    });
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 20);
    let (run, file) = eval_checked(&ws, &["t", "--no-cache", "-j", "4"], 3, &ids(20));
    // Up to -j calls may already be in flight when the first 401 comes
    // back; none is retried and nothing new starts.
    let n = server.request_count();
    assert!((1..=4).contains(&n), "{n} requests\n{run}");
    for i in 1..=20 {
        assert!(requests_for(&server, i) <= 1, "c{i} was retried");
    }
    let not_run = file["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("not run"))
        })
        .count();
    assert!(not_run >= 16, "{not_run} cases marked `not run`\n{run}");
    run.stderr_has(OPENAI_KEY_ENV);
    let leaks = files_containing(&ws.tmp(), "PLANTEDKEY");
    assert!(leaks.is_empty(), "the key is in {leaks:?}");
}

#[test]
fn unauthorized_anthropic_names_its_provider_and_variable() {
    let server = FakeServer::start(FakeConfig {
        always: Some(Fault::Unauthorized),
        ..FakeConfig::default()
    });
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 2);
    let (run, _) = eval_checked(
        &ws,
        &["t", "--no-cache", "-j", "1", "--provider", "claude"],
        3,
        &ids(2),
    );
    assert_eq!(server.request_count(), 1, "a 401 is not retried\n{run}");
    run.stderr_has("`claude`").stderr_has(ANTHROPIC_KEY_ENV);
    run.output_lacks("PLANTEDANTHROPIC");
    let leaks = files_containing(&ws.tmp(), "PLANTEDANTHROPIC");
    assert!(leaks.is_empty(), "the key is in {leaks:?}");
}

#[test]
fn a_missing_key_variable_sends_nothing() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 2);
    let run = eval(&ws, &["t", "--no-cache"])
        .env_remove(OPENAI_KEY_ENV)
        .run();
    run.code(3).stderr_has(OPENAI_KEY_ENV).stderr_has("`fake`");
    assert_eq!(
        server.request_count(),
        0,
        "a request was sent without a key"
    );
}

// 9. The judge.

#[test]
fn the_judge_scores_every_case() {
    let server = FakeServer::start(with_judge(|_| TONE_09.into()));
    let ws = workspace(&server, Limits::default());
    ws.write(
        SUITE,
        suite(
            &cases(3),
            &format!("{RUBRIC}gates: {{ pass_rate: 1.0, criteria: {{ tone: 0.5 }} }}\n"),
        ),
    );
    let (run, file) = eval_checked(&ws, &["t", "--no-cache"], 0, &ids(3));
    assert_eq!(file["verdict"]["status"], "pass", "{run}");
    for id in ids(3) {
        let c = case(&file, &id);
        assert_eq!(c["scores"]["tone"]["score"].as_f64(), Some(0.9), "{c}");
        assert_eq!(c["scores"]["tone"]["reason"], "ok", "{c}");
    }
    let mean = file["summary"]["criteria"]["tone"]["mean"].as_f64();
    assert!(mean.is_some_and(|m| (m - 0.9).abs() < 1e-9), "{mean:?}");

    let requests = server.requests();
    assert_eq!(requests.len(), 6, "a prompt call and a judge call per case");
    let judge_calls: Vec<&Recorded> = requests
        .iter()
        .filter(|r| r.body["model"] == "gpt-4o")
        .collect();
    assert_eq!(judge_calls.len(), 3);
    let system = judge_calls[0].body["messages"][0]["content"]
        .as_str()
        .expect("the judge's system message");
    assert!(system.starts_with(JUDGE_PREFIX), "{system}");
    let judge = &file["judge"];
    assert_eq!(judge["provider"], "fake", "{judge}");
    assert_eq!(judge["model"], "gpt-4o", "{judge}");
    assert_eq!(
        judge["prompt_sha256"],
        sha256(system.as_bytes()).as_str(),
        "the recorded hash is not that of the instructions sent"
    );
}

#[test]
fn a_judge_reply_that_is_not_the_json_asked_for_is_an_error() {
    let server = FakeServer::start(with_judge(|call| {
        let input = call.last_user();
        if input.contains("[q2]") {
            "The answer looks fine to me, I would give it a 9/10.".into()
        } else if input.contains("[q3]") {
            r#"{"scores": {"tone": {"score": 1.5, "reason": "great"}}}"#.into()
        } else {
            TONE_09.into()
        }
    }));
    let ws = workspace(&server, Limits::default());
    ws.write(
        SUITE,
        suite(
            &cases(3),
            &format!("{RUBRIC}gates: {{ pass_rate: 0.0, criteria: {{ tone: 0.5 }} }}\n"),
        ),
    );
    let (run, file) = eval_checked(&ws, &["t", "--no-cache"], 3, &ids(3));
    assert_eq!(file["verdict"]["status"], "error", "{run}");
    assert_eq!(case(&file, "c1")["passed"], true);
    let prose = error_of(&file, "c2");
    assert!(
        prose.contains("judge") && prose.contains("not JSON"),
        "{prose}"
    );
    let range = error_of(&file, "c3");
    assert!(range.contains("outside 0..1"), "{range}");
    assert_eq!(file["summary"]["errors"], 2);
}

// 10. Nobody listening.

#[test]
fn a_server_that_is_down_is_an_error_within_budget() {
    let (openai, anthropic) = {
        let server = FakeServer::start(FakeConfig::default());
        (server.openai_base_url(), server.anthropic_base_url())
    };
    let limits = Limits {
        timeout_s: 2.0,
        retries: 1,
        ..Limits::default()
    };
    let ws = workspace_at(&openai, &anthropic, limits);
    write_suite(&ws, 3);
    let start = Instant::now();
    let (run, file) = eval_checked(&ws, &["t", "--no-cache"], 3, &ids(3));
    let took = start.elapsed();
    assert!(took < Duration::from_secs(20), "took {took:?}\n{run}");
    assert_eq!(file["verdict"]["status"], "error");
    for id in ids(3) {
        let err = error_of(&file, &id);
        assert!(err.contains("could not connect"), "{err}");
    }
}

// 11. Nothing to evaluate is inconclusive, never a pass.

#[test]
fn an_empty_cases_file_is_inconclusive() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = workspace(&server, Limits::default());
    ws.write(
        SUITE,
        "prompt: support_bot\nprovider: fake\ncases: t.cases.jsonl\ngates: { pass_rate: 1.0 }\n",
    );
    ws.write("evals/t.cases.jsonl", "");
    let (run, file) = eval_checked(&ws, &["t", "--no-cache"], 5, &[]);
    run.stderr_has("no cases");
    assert_eq!(file["verdict"]["status"], "inconclusive");
    assert_eq!(server.request_count(), 0);
}

#[test]
fn a_filter_that_matches_nothing_is_inconclusive() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 3);
    let (run, file) = eval_checked(&ws, &["t", "--no-cache", "--filter-id", "nope"], 5, &[]);
    run.stderr_has("no cases");
    assert_eq!(file["verdict"]["status"], "inconclusive");
    assert_eq!(server.request_count(), 0);
}

// 12. Redaction of everything written.

const PLANTED_KEY: &str = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123";
const PLANTED_EMAIL: &str = "ana@example.com";
const PLANTED_CARD: &str = "4111 1111 1111 1111";
const PLANTED_ORDER: &str = "ORD-12345678";
const PLANTED_NAME: &str = "Priya Raman";

fn pii_suite() -> String {
    let question = format!(
        "My key {PLANTED_KEY} stopped working. Mail me at {PLANTED_EMAIL}; card {PLANTED_CARD}; order {PLANTED_ORDER}."
    );
    let cases = format!(
        "  - {{ id: pii, vars: {{ question: \"{question}\", user_name: \"{PLANTED_NAME}\" }}, assert: [{{ type: contains, value: \"echo\" }}] }}\n{}",
        cases(1)
    );
    suite(&cases, GATES)
}

#[test]
fn nothing_written_holds_the_planted_personal_data() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = workspace(&server, Limits::default());
    ws.write(SUITE, pii_suite());
    let expected = vec!["pii".to_string(), "c1".to_string()];
    let planted = [
        PLANTED_KEY,
        PLANTED_EMAIL,
        PLANTED_CARD,
        PLANTED_ORDER,
        PLANTED_NAME,
    ];

    let runs = [
        eval_checked(
            &ws,
            &["t", "--no-cache", "--format", "markdown", "-o", "report.md"],
            0,
            &expected,
        ),
        eval_checked(
            &ws,
            &["t", "--no-cache", "--record", "--provider", "fake"],
            0,
            &expected,
        ),
        eval_checked(
            &ws,
            &["t", "--no-cache", "--format", "junit", "-o", "r.xml"],
            0,
            &expected,
        ),
    ];
    // The model really saw (and echoed) the raw values: this test is not vacuous.
    let seen = server.requests();
    assert!(seen.iter().any(|r| user_text(r).contains(PLANTED_EMAIL)));
    let pii = case(&runs[0].1, "pii");
    assert!(
        pii["output"]
            .as_str()
            .is_some_and(|o| o.starts_with("echo:"))
    );

    let mut written = vec![
        CASSETTE.to_string(),
        "report.md".to_string(),
        "r.xml".to_string(),
    ];
    for (run, _) in &runs {
        for text in planted {
            run.output_lacks(text);
        }
        written.push(saved_path(run));
    }
    for rel in &written {
        let text = ws.read(rel);
        for needle in planted {
            assert!(!text.contains(needle), "{rel} contains {needle:?}:\n{text}");
        }
    }
    // Nothing else under the run folder (a leftover spool, say) either.
    for needle in planted {
        let leaks = files_containing(&ws.path(".promptctl/runs"), needle);
        assert!(leaks.is_empty(), "{needle:?} is in {leaks:?}");
    }
    let run_text = ws.read(&saved_path(&runs[0].0));
    for marker in [
        "[REDACTED:email]",
        "[REDACTED:credit_card]",
        "[REDACTED:order_id]",
        "[REDACTED:pii]",
        "[REDACTED:api_key]",
    ] {
        assert!(run_text.contains(marker), "the run file lacks {marker}");
    }
    assert_eq!(pii["vars"]["user_name"], "[REDACTED:pii]");
}

#[test]

fn a_pii_variable_echoed_by_the_model_is_redacted() {
    // The example prompt says "Greet the user as {{user_name}}"; a model that
    // does so repeats the pii value in its answer.
    let server = FakeServer::start(FakeConfig::responding(|call: &ChatCall| {
        let name = if call.system.contains(PLANTED_NAME) {
            PLANTED_NAME
        } else {
            "there"
        };
        format!("Hi {name}! echo: {}", call.last_user())
    }));
    let ws = workspace(&server, Limits::default());
    ws.write(SUITE, pii_suite());
    let expected = vec!["pii".to_string(), "c1".to_string()];
    let (run, _) = eval_checked(
        &ws,
        &["t", "--no-cache", "--record", "--provider", "fake"],
        0,
        &expected,
    );
    run.output_lacks(PLANTED_NAME);
    for rel in [saved_path(&run), CASSETTE.to_string()] {
        let text = ws.read(&rel);
        assert!(
            !text.contains(PLANTED_NAME),
            "{rel} contains the pii value:\n{text}"
        );
    }
}

// 13. The response cache.

#[test]
fn a_second_run_is_served_from_the_cache() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 3);
    let (_, first) = eval_checked(&ws, &["t"], 0, &ids(3));
    assert_eq!(server.request_count(), 3);
    for id in ids(3) {
        assert_eq!(case(&first, &id)["cached"], false);
    }

    let (run, second) = eval_checked(&ws, &["t"], 0, &ids(3));
    assert_eq!(server.request_count(), 3, "the cached run called the model");
    assert_eq!(second["summary"]["cached"], 3, "{run}");
    for id in ids(3) {
        let (a, b) = (case(&first, &id), case(&second, &id));
        assert_eq!(b["cached"], true, "{b}");
        assert_eq!(a["output"], b["output"]);
        assert_eq!(
            a["latency_ms"], b["latency_ms"],
            "the cache keeps the latency"
        );
    }

    ws.replace(PROMPT, "temperature: 0,", "temperature: 0.3,");
    let (_, third) = eval_checked(&ws, &["t"], 0, &ids(3));
    assert_eq!(
        server.request_count(),
        6,
        "a new temperature is a cache miss"
    );
    assert!(
        server.requests()[3..]
            .iter()
            .all(|r| r.body["temperature"].as_f64() == Some(0.3))
    );
    assert_eq!(third["summary"]["cached"], 0);
}

// 14. Record, then replay offline.

#[test]
fn a_recording_replays_offline_and_misses_loudly() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 12);
    let (_, recorded) = eval_checked(
        &ws,
        &["t", "--no-cache", "--provider", "fake", "--record"],
        0,
        &ids(12),
    );
    let cassette = ws.read(CASSETTE);
    let keys: Vec<(String, String, String)> = cassette
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a cassette line is JSON");
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            (s("case"), s("kind"), s("key"))
        })
        .collect();
    assert_eq!(keys.len(), 12, "one recording per case:\n{cassette}");
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "the cassette is not sorted:\n{cassette}");
    assert!(keys.iter().all(|(_, kind, _)| kind == "prompt"));
    drop(server);

    let (run, replayed) = eval_checked(
        &ws,
        &["t", "--no-cache", "--provider", "replay"],
        0,
        &ids(12),
    );
    assert_eq!(replayed["verdict"]["status"], "pass", "{run}");
    for id in ids(12) {
        assert_eq!(
            case(&recorded, &id)["output"],
            case(&replayed, &id)["output"]
        );
    }

    ws.edit_text(1);
    let (run, stale) = eval_checked(
        &ws,
        &["t", "--no-cache", "--provider", "replay"],
        3,
        &ids(12),
    );
    assert_eq!(stale["verdict"]["status"], "error", "{run}");
    for id in ids(12) {
        let err = error_of(&stale, &id);
        assert!(err.contains(CASSETTE), "{err}");
    }
}

#[test]
fn a_judged_recording_replays_offline() {
    // One answer holds an email, so the recorded answer is redacted: the
    // judge's recording must still be found by the replayed run.
    let server = FakeServer::start(with_judge(|_| TONE_09.into()));
    let ws = workspace(&server, Limits::default());
    let email = "  - { id: mail, vars: { question: \"Write to ana@example.com please\" }, assert: [{ type: contains, value: \"echo\" }] }\n";
    ws.write(
        SUITE,
        suite(
            &format!("{}{email}", cases(2)),
            &format!("{RUBRIC}gates: {{ pass_rate: 1.0, criteria: {{ tone: 0.5 }} }}\n"),
        ),
    );
    let expected = vec!["c1".to_string(), "c2".to_string(), "mail".to_string()];
    let (_, recorded) = eval_checked(&ws, &["t", "--no-cache", "--record"], 0, &expected);
    let cassette = ws.read(CASSETTE);
    assert_eq!(
        cassette.lines().count(),
        6,
        "a prompt and a judge recording per case:\n{cassette}"
    );
    drop(server);

    let (run, replayed) = eval_checked(
        &ws,
        &["t", "--no-cache", "--provider", "replay"],
        0,
        &expected,
    );
    assert_eq!(replayed["verdict"]["status"], "pass", "{run}");
    for id in &expected {
        assert_eq!(
            case(&replayed, id)["scores"]["tone"]["score"].as_f64(),
            Some(0.9)
        );
        assert_eq!(case(&recorded, id)["output"], case(&replayed, id)["output"]);
    }
    assert_eq!(
        recorded["judge"], replayed["judge"],
        "the same judge identity"
    );
}

// 15. Config errors are caught before any call.

#[test]
fn a_gate_on_an_unknown_criterion_is_exit_2_before_any_call() {
    let server = FakeServer::start(with_judge(|_| TONE_09.into()));
    let ws = workspace(&server, Limits::default());
    ws.write(
        SUITE,
        suite(
            &cases(2),
            &format!("{RUBRIC}gates: {{ pass_rate: 1.0, criteria: {{ tonee: 0.5 }} }}\n"),
        ),
    );
    let run = eval(&ws, &["t", "--no-cache"]).run();
    run.code(2).stderr_has("tonee").stderr_has("`tone`");
    assert_eq!(server.request_count(), 0);
}

#[test]
fn a_case_that_breaks_the_variable_schema_is_exit_2_before_any_call() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = workspace(&server, Limits::default());
    let bad = "  - { id: bad, vars: { user_name: \"Sam\" }, assert: [{ type: contains, value: \"echo\" }] }\n";
    ws.write(SUITE, suite(&format!("{}{bad}", cases(2)), GATES));
    let run = eval(&ws, &["t", "--no-cache"]).run();
    run.code(2).stderr_has("question").stderr_has("bad");
    assert_eq!(server.request_count(), 0);
}

// 16. `gate` re-applies the suite's gates to a saved run.

#[test]
fn gate_reapplies_the_suites_current_gates() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 3);
    let (run, _) = eval_checked(&ws, &["t", "--no-cache"], 0, &ids(3));
    let path = saved_path(&run);
    let before = server.request_count();
    ws.run(&["gate", &path]).success();

    // A gate no run can meet: a p95 latency of at most 0 ms.
    ws.replace(SUITE, "pass_rate: 1.0", "pass_rate: 1.0, latency_p95_ms: 0");
    let gated = ws.run(&["gate", &path]);
    gated.code(1).stdout_has("latency_p95_ms");
    assert_eq!(server.request_count(), before, "`gate` called the model");
}

#[test]
fn gate_keeps_an_errored_run_an_error() {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([Fault::Status(500), Fault::Status(500), Fault::Status(500)]);
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 2);
    let (run, _) = eval_checked(&ws, &["t", "--no-cache", "-j", "1"], 3, &ids(2));
    ws.run(&["gate", &saved_path(&run)]).code(3);
}

#[test]
fn gate_keeps_an_aborted_run_an_error() {
    let server = FakeServer::start(FakeConfig {
        always: Some(Fault::Unauthorized),
        ..FakeConfig::default()
    });
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 2);
    let (run, _) = eval_checked(&ws, &["t", "--no-cache", "-j", "1"], 3, &ids(2));
    // Even a gate that allows every error cannot turn it into a pass.
    ws.replace(
        SUITE,
        "pass_rate: 1.0",
        "pass_rate: 0.0, max_error_rate: 1.0",
    );
    ws.run(&["gate", &saved_path(&run)]).code(3);
}

// 17. Shards and merge.

#[test]
fn shards_merge_into_one_run() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 5);
    let odd: Vec<String> = ["c1", "c3", "c5"].map(String::from).to_vec();
    let even: Vec<String> = ["c2", "c4"].map(String::from).to_vec();
    let (a, _) = eval_checked(&ws, &["t", "--no-cache", "--shard", "1/2"], 0, &odd);
    let (b, _) = eval_checked(&ws, &["t", "--no-cache", "--shard", "2/2"], 0, &even);
    assert_eq!(server.request_count(), 5, "each case ran in one shard");

    let merged = ws.run(&["merge", &saved_path(&a), &saved_path(&b)]);
    merged.success();
    let file = run_file(&ws, &merged);
    check_run(&merged, &file, &ids(5));
    assert_eq!(file["verdict"]["status"], "pass", "{merged}");
    assert_eq!(file["summary"]["passed"], 5);
}

// 18. GitHub Actions' step summary.

#[test]
fn the_markdown_summary_is_appended_to_github_step_summary() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = workspace(&server, Limits::default());
    write_suite(&ws, 2);
    let summary = ws.tmp().join("step-summary.md");
    std::fs::write(&summary, "previous step\n").expect("write the summary file");
    let run = eval(&ws, &["t", "--no-cache"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .run();
    run.success();
    check_run(&run, &run_file(&ws, &run), &ids(2));
    let text = std::fs::read_to_string(&summary).expect("read the summary file");
    assert!(text.starts_with("previous step\n"), "not appended:\n{text}");
    assert!(text.contains("promptctl eval `t`: PASS"), "{text}");
    assert!(text.contains("| `pass_rate` |"), "{text}");
}

/// The harness used to clear only a few `PROMPTCTL_*` variables, so an eval
/// in any test run inside GitHub Actions appended to the runner's real
/// `$GITHUB_STEP_SUMMARY`. This runs the test below in a child of the test
/// binary whose environment is a CI runner's and worse: every variable here
/// would change what a command does if it got through.
#[test]
fn commands_in_tests_do_not_see_the_test_process_environment() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let summary = dir.path().join("step-summary.md");
    std::fs::write(&summary, "previous step\n").expect("write the summary file");
    let out = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            INNER,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_ACTIONS", "true")
        .env("CI", "true")
        .env("PROMPTCTL_DIR", dir.path().join("no-such-workspace"))
        .env("PROMPTCTL_PROVIDER", "no_such_provider")
        .env("PROMPTCTL_COLOR", "always")
        .env("CLICOLOR_FORCE", "1")
        .env("PROMPTCTL_TEST_CRASH_AT", "mid-append")
        .env("OPENAI_API_KEY", OPENAI_KEY)
        .env("GIT_DIR", dir.path().join("no-such-repository"))
        .output()
        .expect("run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{INNER} failed or did not run\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&summary).expect("read the summary file"),
        "previous step\n",
        "an eval in a test wrote to the test process's GITHUB_STEP_SUMMARY"
    );
}

const INNER: &str = "eval::inner_an_eval_through_the_harness_ignores_the_test_process_environment";

/// Run by the test above, in its environment; on its own it checks nothing.
#[test]
#[ignore = "run by `commands_in_tests_do_not_see_the_test_process_environment`"]
fn inner_an_eval_through_the_harness_ignores_the_test_process_environment() {
    let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") else {
        return;
    };
    let before = std::fs::read(&summary).ok();
    let ws = Workspace::init();
    let run = ws.run(&["eval", "support"]);
    run.success()
        .stdout_has("PASS (exit 0)")
        .output_lacks("\x1b[")
        .output_lacks(OPENAI_KEY);
    assert_eq!(
        std::fs::read(&summary).ok(),
        before,
        "the eval wrote to GITHUB_STEP_SUMMARY\n{run}"
    );
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    ws.run(&["verify"]).success();
}

// 19. Concurrency and the provider's in-flight limit.

fn concurrent_run(max_in_flight: u32) -> (FakeServer, Duration) {
    let server = FakeServer::start(FakeConfig {
        latency: Duration::from_millis(200),
        ..FakeConfig::default()
    });
    let limits = Limits {
        max_in_flight,
        ..Limits::default()
    };
    let ws = workspace(&server, limits);
    write_suite(&ws, 40);
    let start = Instant::now();
    eval_checked(&ws, &["t", "--no-cache", "-j", "20"], 0, &ids(40));
    let took = start.elapsed();
    assert_eq!(server.request_count(), 40);
    (server, took)
}

#[test]
fn cases_run_concurrently_up_to_max_in_flight() {
    let (server, took) = concurrent_run(20);
    let peak = server.peak_concurrency();
    assert!((2..=20).contains(&peak), "peak concurrency {peak}");
    assert!(
        took < Duration::from_secs(4),
        "40 cases of 200 ms at -j 20 took {took:?}"
    );
}

#[test]
fn max_in_flight_caps_concurrency() {
    let (server, _) = concurrent_run(4);
    let peak = server.peak_concurrency();
    assert!((2..=4).contains(&peak), "peak concurrency {peak}");
}

// `--baseline`: case-by-case comparison, with McNemar's exact test.

/// Runs `n` cases on a fresh fake server whose answers fail the cases in
/// `failing`, and returns the run file's path.
fn run_with_failures(
    ws: &Workspace,
    n: usize,
    failing: &'static [usize],
    extra: &[&str],
) -> (Run, Value) {
    let server = FakeServer::start(FakeConfig::responding(move |call: &ChatCall| {
        let fails = failing
            .iter()
            .any(|i| call.last_user().contains(&format!("[q{i}]")));
        if fails {
            "nope".to_string()
        } else {
            format!("echo: {}", call.last_user())
        }
    }));
    ws.write(
        "promptctl.yaml",
        config(
            &server.openai_base_url(),
            &server.anthropic_base_url(),
            Limits::default(),
        ),
    );
    let mut args = vec!["t", "--no-cache"];
    args.extend_from_slice(extra);
    let run = eval(ws, &args).run();
    let file = run_file(ws, &run);
    check_run(&run, &file, &ids(n));
    (run, file)
}

#[test]
fn a_significant_regression_against_the_baseline_fails() {
    let ws = Workspace::init();
    ws.write(SUITE, suite(&cases(8), "gates: { max_regression: 0.0 }\n"));
    let (base, _) = run_with_failures(&ws, 8, &[], &[]);
    let base_path = saved_path(&base);
    // 7 of 8 regress: McNemar's exact p = 2 / 2^7 = 0.0156 < 0.05.
    let (run, file) =
        run_with_failures(&ws, 8, &[1, 2, 3, 4, 5, 6, 7], &["--baseline", &base_path]);
    run.code(1);
    let b = &file["baseline"];
    assert_eq!(
        (
            b["paired"].as_u64(),
            b["regressed"].as_u64(),
            b["improved"].as_u64()
        ),
        (Some(8), Some(7), Some(0)),
        "{b}"
    );
    assert!(
        (b["p_value"].as_f64().unwrap() - 0.015625).abs() < 1e-12,
        "{b}"
    );
    let gate = file["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "max_regression")
        .unwrap();
    assert_eq!(gate["passed"], false, "{gate}");
    assert!(
        (gate["actual"].as_f64().unwrap() - 0.875).abs() < 1e-12,
        "{gate}"
    );
}

#[test]
fn a_drop_that_is_noise_is_not_called_a_regression() {
    let ws = Workspace::init();
    ws.write(SUITE, suite(&cases(4), "gates: { max_regression: 0.0 }\n"));
    let (base, _) = run_with_failures(&ws, 4, &[], &[]);
    let base_path = saved_path(&base);
    // 2 of 4 regress: p = 0.5, so the drop of 0.5 is within noise.
    let (run, file) = run_with_failures(&ws, 4, &[1, 2], &["--baseline", &base_path]);
    run.code(0);
    let gate = file["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "max_regression")
        .unwrap();
    assert_eq!(gate["passed"], true, "{gate}");
    assert!(
        gate["note"].as_str().unwrap().contains("not significant"),
        "{gate}"
    );
}

#[test]
fn max_regression_without_a_baseline_fails_closed() {
    let ws = Workspace::init();
    ws.write(SUITE, suite(&cases(2), "gates: { max_regression: 0.02 }\n"));
    let (run, file) = run_with_failures(&ws, 2, &[], &[]);
    run.code(1);
    let gate = file["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "max_regression")
        .unwrap();
    assert_eq!(gate["passed"], false, "{gate}");
    assert!(
        gate["note"].as_str().unwrap().contains("no baseline"),
        "{gate}"
    );
}

// `promptctl redact`

#[test]
fn redact_uses_the_workspace_rules() {
    let ws = Workspace::init();
    ws.write(
        "leak.log",
        format!("user ana@example.com paid with 4111 1111 1111 1111 for ORD-12345678 using {OPENAI_KEY}\nnot a card: 4111 1111 1111 1112\n"),
    );
    let run = ws.run(&["redact", "leak.log"]);
    run.code(0)
        .stdout_has("[REDACTED:email]")
        .stdout_has("[REDACTED:credit_card]")
        .stdout_has("[REDACTED:order_id]")
        .stdout_has("[REDACTED:api_key]")
        .stdout_has("4111 1111 1111 1112")
        .stdout_lacks("ana@example.com")
        .stdout_lacks("ORD-12345678")
        .stdout_lacks(OPENAI_KEY);
}

// Same inputs, same bytes, at any `-j`.

/// Judge scores for the bundled suite's 12 cases, in file order, whose plain
/// float sums depend on the order of their terms. Tone's mean is 0.70, its
/// gate's threshold: summed first to last it is 0.7000000000000002 (a pass),
/// last to first 0.6999999999999998 (a fail). Each segment's four differ too.
const TONE: [f64; 12] = [
    0.5, 0.7, 0.5, 0.8, 0.35, 0.1, 0.85, 0.75, 0.95, 0.9, 1.0, 1.0,
];
const CORRECTNESS: [f64; 12] = [
    0.7, 0.75, 1.0, 0.7, 1.0, 1.0, 0.8, 0.9, 0.55, 0.9, 1.0, 0.65,
];

/// How much longer each case's judge takes than the next case's, in a slow run.
const STEP: Duration = Duration::from_millis(25);

/// The text between `"summary":` and `,"gates":` in a run file's header
/// line: the summary block exactly as written.
#[track_caller]
fn summary_bytes(ws: &Workspace, run: &Run) -> String {
    let text = ws.read(&saved_path(run));
    let head = text.split(",\"cases\":[").next().unwrap_or_default();
    head.split_once("\"summary\":")
        .and_then(|(_, rest)| rest.split_once(",\"gates\":"))
        .map(|(summary, _)| summary.to_string())
        .unwrap_or_else(|| panic!("no summary block in the run file\n{run}"))
}

#[test]
fn the_same_results_give_the_same_summary_and_evidence_at_any_concurrency() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    // The bundled example: its prompt answers replay from the committed
    // cassette (so latencies are the recorded ones); only the judge is live.
    let ws = Workspace::init();
    let cases: Vec<Value> = ws
        .read("evals/support.cases.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a case is JSON"))
        .collect();
    let ids: Vec<String> = cases
        .iter()
        .map(|c| c["id"].as_str().unwrap().into())
        .collect();
    let questions: Vec<String> = cases
        .iter()
        .map(|c| c["vars"]["question"].as_str().unwrap().into())
        .collect();
    assert_eq!(questions.len(), TONE.len(), "the bundled suite's cases");
    let case_of = Arc::new(move |call: &ChatCall| {
        questions
            .iter()
            .position(|q| call.last_user().contains(q.as_str()))
            .expect("a judge call about a case of the suite")
    });
    // In a slow run the first case's verdict takes longest: cases finish in
    // about the reverse of their order.
    let slow = Arc::new(AtomicBool::new(false));
    let asked: Arc<Mutex<Vec<(usize, Instant)>>> = Arc::default();
    let server = FakeServer::start(FakeConfig {
        responder: Arc::new({
            let (case_of, asked) = (case_of.clone(), asked.clone());
            move |call: &ChatCall| {
                let i = case_of(call);
                asked.lock().unwrap().push((i, Instant::now()));
                format!(
                    r#"{{"scores": {{"correctness": {{"score": {}, "reason": "r"}}, "safety": {{"score": 1.0, "reason": "r"}}, "tone": {{"score": {}, "reason": "r"}}}}}}"#,
                    CORRECTNESS[i], TONE[i]
                )
            }
        }),
        pace: Some(Arc::new({
            let (case_of, slow) = (case_of.clone(), slow.clone());
            move |call: &ChatCall| {
                if slow.load(Ordering::SeqCst) {
                    STEP * (TONE.len() - case_of(call)) as u32
                } else {
                    Duration::ZERO
                }
            }
        })),
        ..FakeConfig::default()
    });
    ws.replace(
        "promptctl.yaml",
        "providers:\n",
        &format!(
            "providers:\n  fake: {{ type: openai, base_url: \"{}\", max_in_flight: 64 }}\n",
            server.openai_base_url()
        ),
    );
    ws.release(&["--version", "1.0.0", "-m", "first"]);

    let mut runs = Vec::new();
    for j in ["1", "64"] {
        slow.store(j == "64", Ordering::SeqCst);
        for _ in 0..5 {
            asked.lock().unwrap().clear();
            let run = eval(
                &ws,
                &[
                    "support",
                    "--prompt",
                    "support_bot@1.0.0",
                    "--judge-provider",
                    "fake",
                    "--no-cache",
                    "-j",
                    j,
                ],
            )
            .run();
            let file = run_file(&ws, &run);
            check_run(&run, &file, &ids);
            if j == "64" {
                // The answers were due out of case order: some case's verdict
                // came before that of a case asked earlier.
                let due: Vec<(usize, Instant)> = asked
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|(i, at)| (*i, *at + STEP * (TONE.len() - i) as u32))
                    .collect();
                assert_eq!(due.len(), TONE.len(), "one judge call per case\n{run}");
                assert!(
                    due.iter()
                        .any(|(i, a)| due.iter().any(|(k, b)| i < k && a > b)),
                    "the cases did not finish out of order: {due:?}"
                );
            }
            runs.push((j, run, file));
        }
    }

    let (_, first, first_file) = &runs[0];
    let summary = summary_bytes(&ws, first);
    let tone: Value = first_file["summary"]["criteria"]["tone"]["mean"].clone();
    for (j, run, file) in &runs {
        assert_eq!(
            summary_bytes(&ws, run),
            summary,
            "-j {j} summarised the same results differently (tone mean {} vs {tone})",
            file["summary"]["criteria"]["tone"]["mean"]
        );
        assert_eq!(file["verdict"], first_file["verdict"], "-j {j}\n{run}");
        assert_eq!(run.code, first.code, "-j {j}\n{run}");
    }

    // A pack of each run, with the fields that name the run and how it was
    // scheduled pinned (times are pinned by SOURCE_DATE_EPOCH): byte for byte
    // the same pack.
    let mut packs: Vec<Vec<(String, Vec<u8>)>> = Vec::new();
    for (k, (_, _, file)) in runs.iter().enumerate() {
        let mut pinned = file.clone();
        pinned["run_id"] = "20251121T100000Z-000000".into();
        pinned["duration_ms"] = 1.0.into();
        pinned["settings"]["concurrency"] = 8.into();
        let path = ws.tmp().join(format!("run-{k}.json"));
        std::fs::write(&path, serde_json::to_vec(&pinned).unwrap()).unwrap();
        let out = ws.tmp().join(format!("pack-{k}"));
        ws.run(&[
            "evidence",
            "support_bot@1.0.0",
            "--run",
            &path.to_string_lossy(),
            "-o",
            &out.to_string_lossy(),
        ])
        .success();
        let files = files_under(&out)
            .into_iter()
            .map(|p| {
                let name = p.strip_prefix(&out).unwrap().display().to_string();
                (name, std::fs::read(&p).unwrap())
            })
            .collect::<Vec<_>>();
        assert_eq!(files.len(), 4, "a pack is four files");
        packs.push(files);
    }
    for (k, pack) in packs.iter().enumerate() {
        for ((name, bytes), (_, want)) in pack.iter().zip(&packs[0]) {
            assert!(
                bytes == want,
                "{name} of the pack of run {k} ({}) differs from run 0's",
                runs[k].0
            );
        }
    }
}

// JUnit reports that the Jenkins xUnit plugin's and Ant's schemas accept.

/// Validates `xml` against `tests/fixtures/<xsd>` with `xmllint --schema`.
/// Without xmllint: a failure in CI (`CI=true`), a notice and `false` elsewhere.
#[track_caller]
pub(crate) fn validates_against(xml: &Path, xsd: &str) -> bool {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(xsd);
    let out = match std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(xml)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "xmllint is not installed, and CI=true: install libxml2-utils (.ci/run does)"
            );
            eprintln!("note: xmllint is not installed; the JUnit schema check is skipped");
            return false;
        }
        Err(e) => panic!("cannot run xmllint: {e}"),
    };
    assert!(
        out.status.success(),
        "the report does not validate against {xsd}:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(xml).unwrap_or_default()
    );
    true
}

#[test]
fn a_junit_report_validates_against_the_xunit_and_ant_schemas() {
    let server = FakeServer::start(FakeConfig::default());
    // In case order (-j 1): a pass, a failure whose reason holds markup, a
    // quote and a control character, and a 400 (not retried: an error).
    server.push_faults([
        Fault::Reply("echo: fine".into()),
        Fault::Reply("echo: <b>not it</b>".into()),
        Fault::Status(400),
    ]);
    let ws = workspace(&server, Limits::default());
    let cases = format!(
        "  - {{ id: pass, segment: billing, vars: {{ question: \"{}\" }}, assert: [{{ type: contains, value: echo }}] }}\n\
         \x20 - {{ id: fail, vars: {{ question: \"{}\" }}, assert: [{{ type: contains, value: \"<i>&\\\"quoted\\\"\\a\" }}] }}\n\
         \x20 - {{ id: error, segment: billing, vars: {{ question: \"{}\" }} }}\n",
        question(1),
        question(2),
        question(3)
    );
    ws.write(
        SUITE,
        suite(&cases, "gates: { pass_rate: 1.0, latency_p95_ms: 60000 }\n"),
    );
    let ids: Vec<String> = ["pass", "fail", "error"].map(String::from).to_vec();
    let (_, file) = eval_checked(
        &ws,
        &[
            "t",
            "--no-cache",
            "-j",
            "1",
            "--format",
            "junit",
            "-o",
            "r.xml",
        ],
        3,
        &ids,
    );
    assert!(error_of(&file, "error").contains("400"), "{file}");
    let xml = ws.read("r.xml");

    // What each test case is.
    assert!(xml.contains("<testsuites>\n"), "{xml}");
    assert!(
        xml.contains(r#"<testcase name="pass" classname="billing" time=""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testcase name="fail" classname="t" time=""#),
        "a case without a segment is in the suite's class\n{xml}"
    );
    assert!(
        xml.contains(r#"<failure type="contains" message=""#),
        "{xml}"
    );
    assert!(
        xml.contains("&lt;i&gt;&amp;&quot;quoted&quot;\u{fffd}"),
        "{xml}"
    );
    assert!(xml.contains(r#"<error type="error" message=""#), "{xml}");
    assert!(
        xml.contains(r#"<testcase name="gate latency_p95_ms" classname="gates" time="0.000"/>"#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testcase name="gate pass_rate" classname="gates" time="0.000">"#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<failure type="gate" message="pass_rate &gt;= 1 (actual 0.333)"#),
        "{xml}"
    );
    // One failed case and two failed gates; the run's own start time (UTC, pinned by SOURCE_DATE_EPOCH).
    let gates = file["gates"].as_array().unwrap().len();
    assert!(
        xml.contains(&format!(
            r#"tests="{}" failures="3" errors="1" skipped="0""#,
            3 + gates
        )),
        "{xml}"
    );
    assert!(
        xml.contains(r#"timestamp="2025-11-21T10:00:00" hostname="localhost""#),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 3 + gates, "{xml}");

    let path = ws.path("r.xml");
    if validates_against(&path, "junit-10.xsd") {
        validates_against(&path, "junit-ant.xsd");
    }
}
