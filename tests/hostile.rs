//! A silent server, a hostile server, absurd numbers and absurd nesting.
//!
//! Each of these once hung a run for minutes, held a day's wait, swallowed
//! 60 MB, panicked (exit 101) or took minutes to refuse a file. Every test
//! here bounds the time it allows with a generous margin: an upper bound on
//! a hang, not a benchmark.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fake::{FakeConfig, FakeServer, Fault};
use crate::util::{Cmd, Run, Workspace};

const KEY_ENV: &str = "FAKE_OPENAI_KEY";
const KEY: &str = "sk-test-HOSTILE0123456789abcdefXYZ";
const SUITE: &str = "evals/t.yaml";

/// A workspace whose provider `fake` is the server at `base_url`, with
/// `extra` added to its settings (`, timeout_s: 3`).
fn workspace(base_url: &str, extra: &str) -> Workspace {
    let ws = Workspace::init();
    ws.write(
        "promptctl.yaml",
        format!(
            "providers:\n  fake: {{ type: openai, base_url: \"{base_url}\", api_key_env: {KEY_ENV}{extra} }}\n  echo: {{ type: echo }}\n"
        ),
    );
    ws
}

/// A suite of `n` cases `c1..cn` that pass on the fake's echo.
fn write_suite(ws: &Workspace, n: usize) {
    let cases: String = (1..=n)
        .map(|i| format!("  - {{ id: c{i}, vars: {{ question: \"q{i}\" }}, assert: [{{ type: contains, value: \"echo\" }}] }}\n"))
        .collect();
    ws.write(
        SUITE,
        format!(
            "prompt: support_bot\nprovider: fake\ncases:\n{cases}gates: {{ pass_rate: 1.0 }}\n"
        ),
    );
}

/// `promptctl eval t ARGS` with the key, no proxies and no cache.
fn eval(ws: &Workspace, args: &[&str]) -> Cmd {
    let mut all = vec!["eval", "t", "--no-cache"];
    all.extend_from_slice(args);
    let mut cmd = ws.cmd(all);
    cmd.without_proxies().env(KEY_ENV, KEY);
    cmd
}

/// The run file a finished `eval` saved, parsed.
#[track_caller]
fn run_file(ws: &Workspace, run: &Run) -> Value {
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("saved run `"))
        .unwrap_or_else(|| panic!("no `saved run` line\n{run}"));
    let rel = line.rsplit('`').nth(1).expect("a path in backticks");
    serde_json::from_str(&ws.read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The error of case `id`, or "" when it has none.
#[track_caller]
fn error_of(file: &Value, id: &str) -> String {
    let case = file["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no case {id} in the run file"));
    case["error"].as_str().unwrap_or_default().to_string()
}

#[track_caller]
fn within(started: Instant, limit: Duration, run: &Run) -> Duration {
    let took = started.elapsed();
    assert!(took <= limit, "took {took:?}, more than {limit:?}\n{run}");
    took
}

// 1. A server that accepts connections and never answers.

#[test]
fn a_silent_server_trips_the_circuit_breaker_and_the_run_says_it_is_alive() {
    let server = FakeServer::start(FakeConfig {
        always: Some(Fault::Hang),
        ..FakeConfig::default()
    });
    let ws = workspace(&server.openai_base_url(), ", timeout_s: 3");
    write_suite(&ws, 200);
    let started = Instant::now();
    // stderr is a pipe here, so there is no progress bar: the heartbeat
    // speaks instead, every second for the test.
    let run = eval(&ws, &[]).env("PROMPTCTL_HEARTBEAT", "1").run();
    let took = within(started, Duration::from_secs(30), &run);
    run.code(3)
        .stderr_has("provider `fake` is down")
        .stderr_has("circuit breaker")
        .stderr_has("eval `t`: 0/200 cases done, 0 failing, 1s elapsed");
    let file = run_file(&ws, &run);
    assert_eq!(file["cases"].as_array().map(Vec::len), Some(200), "{run}");
    assert_eq!(file["verdict"]["status"], "error");
    for i in 1..=200 {
        let err = error_of(&file, &format!("c{i}"));
        assert!(
            err.contains("circuit breaker") && err.contains("timed out"),
            "c{i}: {err}"
        );
    }
    // The first wave (`-j 8`) timed out once each; nothing was retried into
    // a dead server, and the 192 other cases were never sent.
    assert!(
        server.request_count() <= 16,
        "{} requests",
        server.request_count()
    );
    eprintln!("a silent server: exit 3 after {took:?}");
}

#[test]
fn a_server_that_is_down_trips_the_circuit_breaker_at_once() {
    let base_url = {
        let server = FakeServer::start(FakeConfig::default());
        server.openai_base_url()
    };
    let ws = workspace(&base_url, ", timeout_s: 3, circuit_breaker: 3");
    write_suite(&ws, 200);
    let started = Instant::now();
    let run = eval(&ws, &["-j", "1"]).run();
    within(started, Duration::from_secs(30), &run);
    run.code(3).stderr_has("3 calls in a row got no answer");
    let file = run_file(&ws, &run);
    assert!(
        error_of(&file, "c1").contains("could not connect"),
        "{file}"
    );
    assert!(error_of(&file, "c200").starts_with("not run: provider `fake` is down"));
}

#[test]
fn answers_between_timeouts_keep_the_circuit_closed() {
    let server = FakeServer::start(FakeConfig::default());
    // Two timeouts, then an answer, for each case: four timeouts in all,
    // but never three in a row.
    server.push_faults([
        Fault::Hang,
        Fault::Hang,
        Fault::Reply("echo: at last".into()),
        Fault::Hang,
        Fault::Hang,
    ]);
    let ws = workspace(
        &server.openai_base_url(),
        ", timeout_s: 1, retries: 2, circuit_breaker: 3",
    );
    write_suite(&ws, 2);
    let run = eval(&ws, &["-j", "1"]).run();
    run.code(0);
    let file = run_file(&ws, &run);
    for case in file["cases"].as_array().expect("cases") {
        assert_eq!(case["attempts"], 3, "{run}");
    }
}

// 2. A `Retry-After` of a day.

#[test]
fn a_retry_after_of_a_day_is_a_case_error_at_once() {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([
        Fault::RateLimited {
            retry_after: "86400".into(),
        },
        Fault::RateLimitedMs {
            retry_after_ms: "86400000".into(),
        },
    ]);
    let ws = workspace(&server.openai_base_url(), "");
    write_suite(&ws, 3);
    let started = Instant::now();
    let run = eval(&ws, &["-j", "1"]).run();
    within(started, Duration::from_secs(20), &run);
    run.code(3);
    let file = run_file(&ws, &run);
    for id in ["c1", "c2"] {
        let err = error_of(&file, id);
        assert!(
            err.contains("429")
                && err.contains("wait 86400 s")
                && err.contains("`max_retry_wait_s` allows (60 s)"),
            "{id}: {err}"
        );
    }
    assert_eq!(error_of(&file, "c3"), "", "{run}");
    assert_eq!(server.request_count(), 3, "a day's wait is never retried");

    // A wait within `max_retry_wait_s` is still obeyed.
    server.push_faults([Fault::RateLimited {
        retry_after: "1".into(),
    }]);
    ws.write(
        "promptctl.yaml",
        format!(
            "providers:\n  fake: {{ type: openai, base_url: \"{}\", api_key_env: {KEY_ENV}, max_retry_wait_s: 2 }}\n",
            server.openai_base_url()
        ),
    );
    let started = Instant::now();
    eval(&ws, &["-j", "1"]).run().code(0);
    assert!(started.elapsed() >= Duration::from_secs(1));
}

// 3. An answer too large to hold.

#[test]
fn an_oversized_answer_is_a_case_error_and_is_never_saved() {
    let server = FakeServer::start(FakeConfig::default());
    let huge = 9 * 1024 * 1024;
    server.push_faults([
        Fault::Huge {
            bytes: huge,
            chunked: false,
        },
        Fault::Huge {
            bytes: huge,
            chunked: true,
        },
    ]);
    let ws = workspace(&server.openai_base_url(), "");
    write_suite(&ws, 3);
    let started = Instant::now();
    let run = eval(&ws, &["-j", "1"]).run();
    within(started, Duration::from_secs(20), &run);
    run.code(3);
    let file = run_file(&ws, &run);
    // Refused by its `Content-Length`, before a byte of it was read…
    let with_length = error_of(&file, "c1");
    assert!(
        with_length.contains(
            "sent an answer larger than `max_response_bytes` (8388608 bytes; this one: 943"
        ) && with_length.ends_with("it was not read"),
        "{with_length}"
    );
    // …or, without one, once 8 MiB had come.
    let chunked = error_of(&file, "c2");
    assert!(
        chunked.contains(
            "sent an answer larger than `max_response_bytes` (8388608 bytes; reading stopped there)"
        ),
        "{chunked}"
    );
    assert_eq!(error_of(&file, "c3"), "", "{run}");
    assert_eq!(
        server.request_count(),
        3,
        "an oversized answer is not retried"
    );
    let saved: u64 = crate::util::files_under(&ws.path(".promptctl"))
        .iter()
        .map(|f| f.metadata().map_or(0, |m| m.len()))
        .sum();
    assert!(saved < 1024 * 1024, "{saved} bytes saved under .promptctl/");

    // The cap is the provider's to set.
    ws.write(
        "promptctl.yaml",
        format!(
            "providers:\n  fake: {{ type: openai, base_url: \"{}\", api_key_env: {KEY_ENV}, max_response_bytes: 1024 }}\n",
            server.openai_base_url()
        ),
    );
    server.push_faults([Fault::Reply("y".repeat(2000))]);
    let run = eval(&ws, &["-j", "1"]).run();
    run.code(3);
    let err = error_of(&run_file(&ws, &run), "c1");
    assert!(
        err.contains("`max_response_bytes` (1024 bytes; this one: "),
        "{err}"
    );
}

// 4. Absurd numbers.

#[test]
fn absurd_flags_are_usage_errors_not_panics() {
    let ws = workspace("http://127.0.0.1:9/v1", "");
    write_suite(&ws, 1);
    for (args, says) in [
        (
            &["--max-time", "1e300"][..],
            "`--max-time`: must be a number of seconds above 0 and at most 604800, not 1e300",
        ),
        (&["--max-time", "0"], "`--max-time`: must be"),
        (&["--max-time", "inf"], "`--max-time`: must be"),
        (
            &["--rps", "1e-300"],
            "`--rps`: must be a number of requests per second at least 0.001 and at most 10000, not 1e-300",
        ),
        (&["--rps", "1e300"], "`--rps`: must be"),
        (&["-j", "0"], "0 is not in 1..=10000"),
        (&["-j", "100000"], "is not in 1..=10000"),
    ] {
        let run = eval(&ws, args).run();
        run.code(2).stderr_has(says).stderr_lacks("panicked");
    }
    for (var, value, says) in [
        ("PROMPTCTL_CONCURRENCY", "0", "0 is not in 1..=10000"),
        ("PROMPTCTL_MAX_TIME", "1e300", "`--max-time`: must be"),
        (
            "PROMPTCTL_HEARTBEAT",
            "often",
            "`PROMPTCTL_HEARTBEAT=often` must be",
        ),
    ] {
        let run = eval(&ws, &[]).env(var, value).run();
        run.code(2).stderr_has(says).stderr_lacks("panicked");
    }
}

#[test]
fn absurd_provider_numbers_are_refused_with_file_line_and_key() {
    for (setting, says) in [
        (
            "timeout_s: 1e300",
            "providers.fake.timeout_s: must be a number of seconds above 0 and at most 3600, not 1e300",
        ),
        ("timeout_s: 0", "providers.fake.timeout_s: must be"),
        (
            "rps: 1e-300",
            "providers.fake.rps: must be a number of requests per second at least 0.001 and at most 10000, not 1e-300",
        ),
        (
            "max_in_flight: 0",
            "providers.fake.max_in_flight: must be a whole number of requests at least 1 and at most 10000, not 0",
        ),
        ("retries: 4000000000", "providers.fake.retries: must be"),
        (
            "circuit_breaker: 0",
            "providers.fake.circuit_breaker: must be",
        ),
        (
            "max_retry_wait_s: 86400",
            "providers.fake.max_retry_wait_s: must be",
        ),
        (
            "max_response_bytes: 0",
            "providers.fake.max_response_bytes: must be",
        ),
    ] {
        let ws = Workspace::init();
        ws.write(
            "promptctl.yaml",
            format!("# hostile\nproviders:\n  echo: {{ type: echo }}\n  fake:\n    type: openai\n    {setting}\n"),
        );
        write_suite(&ws, 1);
        let column = 5 + setting.find(':').unwrap() + 2;
        for run in [eval(&ws, &[]).run(), ws.run(&["doctor"])] {
            run.code(2)
                .stderr_has(&format!("promptctl.yaml:6:{column}`: {says}"))
                .stderr_lacks("panicked");
        }
    }
}

#[test]
fn environments_that_require_each_other_are_refused() {
    for (environments, cycle) in [
        (
            "  production: { requires: staging }\n  staging: { requires: production }\n",
            "(`production` requires `staging` requires `production`)",
        ),
        (
            "  a: { requires: b }\n  b: { requires: c }\n  c: { requires: a }\n",
            "(`a` requires `b` requires `c` requires `a`)",
        ),
    ] {
        let ws = Workspace::init();
        ws.write(
            "promptctl.yaml",
            format!("providers:\n  echo: {{ type: echo }}\nenvironments:\n{environments}"),
        );
        for run in [ws.run(&["doctor"]), ws.run(&["status"])] {
            run.code(2)
                .stderr_has("promptctl.yaml:4`: environments.")
                .stderr_has(cycle);
        }
    }
}

// 5. Absurd nesting.

#[test]
fn yaml_nested_200k_deep_is_refused_at_once() {
    let n = 200_000;
    let flow = format!("{}{}", "[".repeat(n), "]".repeat(n));
    let ws = Workspace::init();
    ws.write(
        "evals/deep.yaml",
        format!(
            "prompt: support_bot\nprovider: echo\ncases:\n  - id: a\n    vars: {{ x: {flow} }}\n"
        ),
    );
    ws.write(
        "evals/dash.yaml",
        format!("prompt: support_bot\n{}x\n", "- ".repeat(n)),
    );
    for (suite, at) in [
        ("deep", "evals/deep.yaml:5:"),
        ("dash", "evals/dash.yaml:2:"),
    ] {
        let started = Instant::now();
        let run = ws.run(&["eval", suite]);
        within(started, Duration::from_secs(1), &run);
        run.code(2)
            .stderr_has(at)
            .stderr_has("nesting deeper than 128 levels");
    }
    let text = ws.read("promptctl.yaml");
    ws.write("promptctl.yaml", format!("{text}\nextra: {flow}\n"));
    let lines = text.lines().count() + 2;
    let started = Instant::now();
    let run = ws.run(&["doctor"]);
    within(started, Duration::from_secs(1), &run);
    run.code(2)
        .stderr_has(&format!("promptctl.yaml:{lines}:"))
        .stderr_has("nesting deeper than 128 levels");
}
