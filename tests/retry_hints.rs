//! The wait a server asks for, in each header real servers send it in, and
//! a 429 that slows every call to its provider, not only the one that got it.
//!
//! Waits are measured by the fake server's request timestamps, not by the
//! test's own clock.

use std::time::Duration;

use crate::fake::{FakeConfig, FakeServer, Fault, Recorded};
use crate::util::Workspace;

const OPENAI_KEY_ENV: &str = "FAKE_OPENAI_KEY";
const ANTHROPIC_KEY_ENV: &str = "FAKE_ANTHROPIC_KEY";
const KEY: &str = "sk-test-RETRYHINTS0123456789abcdefXYZ";

/// A workspace with provider `fake` (OpenAI) and `claude` (Anthropic) at
/// `server`, and suite `t` of `n` cases on `provider`.
fn workspace(server: &FakeServer, provider: &str, n: usize) -> Workspace {
    let ws = Workspace::init();
    ws.write(
        "promptctl.yaml",
        format!(
            "providers:\n  fake: {{ type: openai, base_url: \"{}\", api_key_env: {OPENAI_KEY_ENV}, max_in_flight: 8 }}\n  claude: {{ type: anthropic, base_url: \"{}\", api_key_env: {ANTHROPIC_KEY_ENV}, max_in_flight: 8 }}\n",
            server.openai_base_url(),
            server.anthropic_base_url()
        ),
    );
    let cases: String = (1..=n)
        .map(|i| format!("  - {{ id: c{i}, vars: {{ question: \"q{i}\" }}, assert: [{{ type: contains, value: \"echo\" }}] }}\n"))
        .collect();
    ws.write(
        "evals/t.yaml",
        format!("prompt: support_bot\nprovider: {provider}\ncases:\n{cases}gates: {{ pass_rate: 1.0 }}\n"),
    );
    ws
}

/// Runs `eval t -j JOBS` and expects every case to pass.
fn eval_passes(ws: &Workspace, jobs: &str) {
    let run = ws
        .cmd(["eval", "t", "--no-cache", "-j", jobs])
        .without_proxies()
        .env(OPENAI_KEY_ENV, KEY)
        .env(ANTHROPIC_KEY_ENV, KEY)
        .run();
    run.code(0);
}

fn gap(requests: &[Recorded], from: usize, to: usize) -> Duration {
    requests[to].at.duration_since(requests[from].at)
}

fn headers(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(n, v)| (*n, v.to_string())).collect()
}

/// One 429 with `hint`, then the answer: the retry comes no sooner than
/// `at_least` after the 429 (the backoff alone would retry within 250 ms).
#[track_caller]
fn honoured(provider: &str, hint: Vec<(&'static str, String)>, at_least: Duration) -> Duration {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([Fault::RateLimitedWith {
        headers: hint.clone(),
    }]);
    let ws = workspace(&server, provider, 1);
    eval_passes(&ws, "1");
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{hint:?}: one 429, one retry");
    let waited = gap(&requests, 0, 1);
    assert!(
        waited >= at_least,
        "{hint:?}: retried after {waited:?}, sooner than {at_least:?}"
    );
    assert!(waited < Duration::from_secs(10), "{hint:?}: {waited:?}");
    eprintln!("{hint:?}: retried after {waited:?}");
    waited
}

#[test]
fn litellm_retry_after_is_honoured() {
    honoured(
        "fake",
        headers(&[("llm_provider-retry-after", "1")]),
        Duration::from_millis(900),
    );
}

#[test]
fn openai_reset_durations_are_honoured_the_larger_of_the_two() {
    honoured(
        "fake",
        headers(&[("x-ratelimit-reset-requests", "1s")]),
        Duration::from_millis(900),
    );
    honoured(
        "fake",
        headers(&[
            ("x-ratelimit-reset-requests", "20ms"),
            ("x-ratelimit-reset-tokens", "1.2s"),
        ]),
        Duration::from_millis(1100),
    );
}

#[test]
fn anthropic_reset_timestamps_are_honoured() {
    for name in [
        "anthropic-ratelimit-requests-reset",
        "anthropic-ratelimit-tokens-reset",
        "anthropic-ratelimit-input-tokens-reset",
        "anthropic-ratelimit-output-tokens-reset",
    ] {
        // A time, not a duration: the wait is until then, however long the
        // binary took to start.
        let when = jiff::Timestamp::now() + jiff::SignedDuration::from_millis(2000);
        honoured(
            "claude",
            vec![(name, when.to_string())],
            Duration::from_millis(1000),
        );
    }
}

#[test]
fn retry_after_ms_wins_over_the_others_and_a_past_hint_is_ignored() {
    // `retry-after-ms` first, though the reset header asks for longer.
    let waited = honoured(
        "fake",
        headers(&[
            ("retry-after-ms", "1000"),
            ("x-ratelimit-reset-tokens", "5s"),
        ]),
        Duration::from_millis(900),
    );
    assert!(waited < Duration::from_secs(4), "{waited:?}");
    // A past `Retry-After` date and a garbled LiteLLM value are skipped:
    // the reset header is the hint.
    honoured(
        "fake",
        headers(&[
            ("retry-after", "Thu, 01 Jan 2015 00:00:00 GMT"),
            ("llm_provider-retry-after", "soon"),
            ("x-ratelimit-reset-requests", "1s"),
        ]),
        Duration::from_millis(900),
    );
}

#[test]
fn a_hint_beyond_max_retry_wait_still_fails_the_case_at_once() {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([Fault::RateLimitedWith {
        headers: headers(&[("x-ratelimit-reset-tokens", "6m0s")]),
    }]);
    let ws = workspace(&server, "fake", 2);
    let run = ws
        .cmd(["eval", "t", "--no-cache", "-j", "1"])
        .without_proxies()
        .env(OPENAI_KEY_ENV, KEY)
        .run();
    run.code(3).stderr_lacks("panicked");
    assert_eq!(server.request_count(), 2, "the 6 min wait is never retried");
}

#[test]
fn a_429_pauses_every_call_to_the_provider() {
    // Answers take 400 ms, the 429 (1 s hint) none: the cases that follow
    // the first wave must wait out the pause too.
    let server = FakeServer::start(FakeConfig {
        latency: Duration::from_millis(400),
        ..FakeConfig::default()
    });
    server.push_faults([Fault::RateLimitedWith {
        headers: headers(&[("llm_provider-retry-after", "1")]),
    }]);
    let ws = workspace(&server, "fake", 8);
    eval_passes(&ws, "4");
    let requests = server.requests();
    assert_eq!(requests.len(), 9, "8 answers and one 429");
    // The first wave (`-j 4`) may have been sent before the 429 came back;
    // every request after it waited out the 1 s: the 429's own retry and
    // the next cases' calls, which without the pause would go out as soon
    // as the first wave's 400 ms answers came.
    let (wave, later): (Vec<Duration>, Vec<Duration>) = (1..requests.len())
        .map(|k| gap(&requests, 0, k))
        .partition(|d| *d < Duration::from_millis(200));
    assert!(wave.len() <= 3, "{wave:?}");
    assert!(later.len() >= 5, "{later:?}");
    let soonest = *later.iter().min().expect("later requests");
    assert!(
        soonest >= Duration::from_millis(900),
        "a request went out {soonest:?} after the 429 asked for 1 s: {later:?}"
    );
    eprintln!("provider-wide pause: first wave {wave:?}; later requests {later:?} after the 429");
}

/// `rps` below one request a second is honoured as a spacing, not rounded
/// to zero or to one: at `rps: 0.8` calls leave 1.25 s apart even with
/// eight allowed in flight. The suite's config is replaced by one with
/// `rps` set, so the other tests' shared `workspace` stays as it is.
#[test]
fn rps_below_one_spaces_every_call() {
    let server = FakeServer::start(FakeConfig::default());
    let ws = workspace(&server, "fake", 3);
    ws.write(
        "promptctl.yaml",
        format!(
            "providers:\n  fake: {{ type: openai, base_url: \"{}\", api_key_env: {OPENAI_KEY_ENV}, max_in_flight: 8, rps: 0.8 }}\n",
            server.openai_base_url()
        ),
    );
    eval_passes(&ws, "8");
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    let spacing = Duration::from_millis(1250);
    // Timestamps are taken as requests arrive, so allow a little jitter
    // below the spacing; a limiter that ignored a fractional rps would
    // send all three within milliseconds.
    let jitter = Duration::from_millis(30);
    for i in 1..requests.len() {
        let waited = gap(&requests, i - 1, i);
        assert!(
            waited + jitter >= spacing,
            "call {i} came {waited:?} after the one before, sooner than {spacing:?}"
        );
        assert!(
            waited < spacing * 3,
            "call {i} came {waited:?} after the one before: far slower than rps 0.8"
        );
    }
}
