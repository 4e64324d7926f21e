//! Several targets side by side: `eval --provider a --provider b`, `--model
//! x --model y`, `--provider NAME:MODEL`. One run file per target, one
//! comparison (table, Markdown, JSON, JUnit, step summary), the worst
//! target's exit code unless `--compare-only`, the targets run at once
//! (shown by a barrier in the fake server, not by timing), one provider's
//! limits shared by every target on it, and no run on another model
//! unlocking `promote`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fake::{ChatCall, FakeConfig, FakeServer, Fault, Hold};
use crate::util::{Run, Workspace, files_under};

const KEY_ENV: &str = "FAKE_OPENAI_KEY";
const KEY: &str = "sk-test-COMPARE0123456789abcdefXYZ";
const SUITE: &str = "evals/t.yaml";
const RUNS: &str = ".promptctl/runs";
/// The prompt's own model (`init`'s `support_bot`).
const OWN_MODEL: &str = "gpt-4o-mini";
const CASES: [&str; 4] = ["alpha", "bravo", "charlie", "delta"];
/// The cases `model-b` gets wrong.
const B_FAILS: [&str; 2] = ["bravo", "delta"];

/// Answers `echo: …`, except `model-b` on [`B_FAILS`], which says `nope`.
fn by_model(call: &ChatCall) -> String {
    let q = call.last_user();
    if call.model == "model-b" && B_FAILS.iter().any(|c| q.contains(&format!("[{c}]"))) {
        "nope".into()
    } else {
        format!("echo: {q}")
    }
}

/// Providers `fake` at `a` and `other` at `b` (OpenAI, no retries; and
/// `openai`, the prompt's own, at `a`), prices
/// for both models, staging gated by suite `t` alone; suite `t` of
/// [`CASES`] on `fake`, each passing when the answer says `echo`.
fn workspace(a: &FakeServer, b: &FakeServer, limits: &str) -> Workspace {
    let ws = Workspace::init();
    ws.write(
        "promptctl.yaml",
        format!(
            r#"providers:
  fake:  {{ type: openai, base_url: "{}", api_key_env: {KEY_ENV}, retries: 0, timeout_s: 30{limits} }}
  other: {{ type: openai, base_url: "{}", api_key_env: {KEY_ENV}, retries: 0, timeout_s: 30{limits} }}
  openai: {{ type: openai, base_url: "{}", api_key_env: {KEY_ENV} }}
  replay: {{ type: replay }}
prices: {{ model-a: {{ input: 1, output: 1 }}, model-b: {{ input: 100, output: 100 }}, gpt-4o-mini: {{ input: 0.15, output: 0.6 }} }}
environments:
  staging: {{ suites: [t] }}
"#,
            a.openai_base_url(),
            b.openai_base_url(),
            a.openai_base_url()
        ),
    );
    let cases: String = CASES
        .iter()
        .map(|c| {
            format!(
                "  - {{ id: {c}, vars: {{ question: \"[{c}] How do I export?\" }}, assert: [{{ type: contains, value: \"echo\" }}] }}\n"
            )
        })
        .collect();
    ws.write(
        SUITE,
        format!(
            "prompt: support_bot\nprovider: fake\ncases:\n{cases}gates: {{ pass_rate: 1.0 }}\n"
        ),
    );
    ws
}

/// `promptctl eval t ARGS` with the key, no proxies, and none of the
/// variables that would change what it does.
fn eval(ws: &Workspace, args: &[&str]) -> Run {
    eval_with(ws, args, &[])
}

fn eval_with(ws: &Workspace, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all = vec!["eval", "t"];
    all.extend_from_slice(args);
    let mut cmd = ws.cmd(all);
    cmd.without_proxies().env(KEY_ENV, KEY);
    for var in [
        "PROMPTCTL_PROVIDER",
        "PROMPTCTL_NO_CACHE",
        "PROMPTCTL_CONCURRENCY",
        "GITHUB_STEP_SUMMARY",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.run()
}

/// Every saved run, by `provider:model`.
fn runs(ws: &Workspace) -> BTreeMap<String, Value> {
    if !ws.path(RUNS).exists() {
        return BTreeMap::new();
    }
    files_under(&ws.path(RUNS))
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            assert!(!name.starts_with('.'), "a spool was left: {name}");
            let run: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            let label = format!(
                "{}:{}",
                run["provider"]["name"].as_str().unwrap(),
                run["provider"]["model"].as_str().unwrap()
            );
            (label, run)
        })
        .collect()
}

/// The models of the chat requests a server received, counted.
fn models(server: &FakeServer) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in server.requests() {
        let m = r.body["model"].as_str().unwrap_or_default().to_string();
        *out.entry(m).or_default() += 1;
    }
    out
}

/// The rows of a table on stdout whose first cell is `first`.
fn rows<'a>(run: &'a Run, first: &str) -> Vec<&'a str> {
    run.stdout
        .lines()
        .filter(|l| {
            l.trim_start_matches('│')
                .split('│')
                .next()
                .is_some_and(|c| c.trim() == first)
        })
        .collect()
}

fn servers() -> (FakeServer, FakeServer) {
    (
        FakeServer::start(FakeConfig::responding(by_model)),
        FakeServer::start(FakeConfig::responding(by_model)),
    )
}

#[test]
fn two_models_are_compared_case_by_case_with_a_run_file_each() {
    let (a, b) = servers();
    let ws = workspace(&a, &b, "");
    let run = eval(
        &ws,
        &["--no-cache", "--model", "model-a", "--model", "model-b"],
    );
    run.code(1)
        .stderr_has("FAIL (exit 1): `fake:model-b`: gates failed: pass_rate")
        .stderr_lacks("`fake:model-a`: ");
    // One column a target, and the cases they disagree on.
    let head = run
        .stdout
        .lines()
        .find(|l| l.contains("fake:model-a"))
        .expect("a header naming the targets");
    assert!(head.contains("fake:model-b"), "{run}");
    run.stdout_has("2 of 4 cases pass on some targets and not on others");
    for case in B_FAILS {
        let row = rows(&run, case);
        assert_eq!(row.len(), 1, "{case}: {run}");
        let cells: Vec<&str> = row[0].split('│').map(str::trim).collect();
        assert_eq!(cells[1..4], [case, "pass", "FAIL"], "{run}");
    }
    for case in ["alpha", "charlie"] {
        assert!(rows(&run, case).is_empty(), "{case} agrees: {run}");
    }
    run.stdout_has("fake:model-a vs fake:model-b: of 4 cases, 2 pass only on fake:model-a, 0 only on fake:model-b (McNemar p = 0.500)");
    let pass_rates = rows(&run, "pass rate");
    assert!(
        pass_rates[0].contains("100.0%") && pass_rates[0].contains("50.0%"),
        "{run}"
    );

    // One ordinary run per target, each with its own identity.
    let saved = runs(&ws);
    assert_eq!(
        saved.keys().collect::<Vec<_>>(),
        ["fake:model-a", "fake:model-b"]
    );
    for (label, r) in &saved {
        assert_eq!(r["cases"].as_array().unwrap().len(), 4, "{label}");
        assert_eq!(r["provider"]["type"], "openai");
        let id = r["run_id"].as_str().unwrap();
        run.stderr_has(&format!(
            "saved run `{id}` of `{label}` to `{RUNS}/{id}.json`"
        ));
    }
    assert_eq!(saved["fake:model-a"]["verdict"]["status"], "pass");
    assert_eq!(saved["fake:model-b"]["verdict"]["status"], "fail");
    let failed: Vec<&str> = saved["fake:model-b"]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(failed, B_FAILS);
    // Each model's requests carried that model; `other` was not asked.
    assert_eq!(
        models(&a),
        BTreeMap::from([("model-a".into(), 4), ("model-b".into(), 4)])
    );
    assert_eq!(b.request_count(), 0);
}

#[test]
fn two_providers_each_get_their_own_requests_and_name_models_inline() {
    let a = FakeServer::start(FakeConfig::default());
    let b = FakeServer::start(FakeConfig::responding(|call| {
        if call.last_user().contains("[charlie]") {
            "wrong".into()
        } else {
            format!("echo: {}", call.last_user())
        }
    }));
    let ws = workspace(&a, &b, "");
    let run = eval(
        &ws,
        &["--no-cache", "--provider", "fake", "--provider", "other"],
    );
    run.code(1)
        .stderr_has("`other:gpt-4o-mini`: gates failed: pass_rate")
        .stdout_has("1 of 4 cases pass on some targets and not on others");
    assert_eq!(rows(&run, "charlie").len(), 1, "{run}");
    assert_eq!(a.request_count(), 4);
    assert_eq!(b.request_count(), 4);
    let saved = runs(&ws);
    assert_eq!(
        saved.keys().collect::<Vec<_>>(),
        ["fake:gpt-4o-mini", "other:gpt-4o-mini"]
    );

    // `NAME:MODEL` names each target's model.
    let run = eval(
        &ws,
        &[
            "--no-cache",
            "--provider",
            "fake:model-x",
            "--provider",
            "other:model-y",
        ],
    );
    run.code(1).stderr_has("`other:model-y`: gates failed");
    assert_eq!(models(&a)["model-x"], 4);
    assert_eq!(models(&b)["model-y"], 4);
    // Several `--provider`s pair with as many `--model`s, in order.
    let run = eval(
        &ws,
        &[
            "--no-cache",
            "--provider",
            "other",
            "--model",
            "model-q",
            "--provider",
            "fake",
            "--model",
            "model-p",
        ],
    );
    run.code(1).stderr_has("`other:model-q`: gates failed");
    assert_eq!(models(&a)["model-p"], 4);
    assert_eq!(models(&b)["model-q"], 4);
    assert!(!models(&a).contains_key("model-q"));
}

#[test]
fn the_exit_code_is_the_worst_targets() {
    let (a, b) = servers();
    let ws = workspace(&a, &b, "");
    // Both pass.
    eval(
        &ws,
        &["--no-cache", "--model", "model-a", "--model", OWN_MODEL],
    )
    .code(0)
    .stdout_has("PASS (exit 0): every target passed its gates (2 targets)")
    .stdout_has("the targets agree on every case (4)")
    .stderr_lacks("FAIL");
    // One fails its gates, one cannot be evaluated at all: 3, not 1, and
    // `--compare-only` does not hide it.
    let down = FakeServer::start(FakeConfig {
        always: Some(Fault::Status(500)),
        ..FakeConfig::default()
    });
    let ws = workspace(&a, &down, "");
    for extra in [&[][..], &["--compare-only"][..]] {
        let mut args = vec![
            "--no-cache",
            "--provider",
            "fake:model-b",
            "--provider",
            "other",
        ];
        args.extend_from_slice(extra);
        let run = eval(&ws, &args);
        run.code(3)
            .stderr_has("INCOMPLETE (exit 3): ")
            .stderr_has("`other:gpt-4o-mini`: 4 of 4 cases could not be evaluated")
            .stderr_has("`fake:model-b`: gates failed: pass_rate");
    }
}

#[test]
fn compare_only_exits_0_once_every_target_ran_to_its_end() {
    let (a, b) = servers();
    let ws = workspace(&a, &b, "");
    let run = eval(
        &ws,
        &[
            "--no-cache",
            "--model",
            "model-a",
            "--model",
            "model-b",
            "--compare-only",
        ],
    );
    run.code(0)
        .stderr_lacks("FAIL (exit")
        .stdout_has("PASS (exit 0): every target ran to its end; with `--compare-only` the gates do not decide the exit code (`fake:model-b`: gates failed: pass_rate)");
    // The comparison is the same; the runs keep their own verdicts.
    assert_eq!(rows(&run, "bravo").len(), 1, "{run}");
    assert_eq!(runs(&ws)["fake:model-b"]["verdict"]["status"], "fail");
    assert_eq!(runs(&ws)["fake:model-b"]["verdict"]["exit_code"], 1);
}

#[test]
fn json_and_markdown_carry_the_comparison() {
    let (a, b) = servers();
    let ws = workspace(&a, &b, "");
    let run = eval(
        &ws,
        &[
            "--no-cache",
            "--model",
            "model-a",
            "--model",
            "model-b",
            "--format",
            "json",
        ],
    );
    run.code(1);
    let c = run.json();
    assert_eq!(c["schema"], "promptctl.comparison/v1");
    assert_eq!(c["suite"], "t");
    assert_eq!(c["cases"], 4);
    assert_eq!(c["compare_only"], false);
    assert_eq!(c["verdict"]["exit_code"], 1);
    let targets = c["targets"].as_array().unwrap();
    let labels: Vec<&str> = targets
        .iter()
        .map(|t| t["target"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["fake:model-a", "fake:model-b"]);
    assert_eq!(targets[0]["summary"]["pass_rate"], 1.0);
    assert_eq!(targets[1]["summary"]["pass_rate"], 0.5);
    let ci = targets[1]["summary"]["pass_rate_ci95"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() < 0.5 && ci[1].as_f64().unwrap() > 0.5);
    assert!(targets[0]["summary"]["latency_p95_ms"].is_number());
    assert!(targets[1]["summary"]["tokens_in"].as_u64().unwrap() > 0);
    assert_eq!(targets[1]["verdict"]["status"], "fail");
    for t in targets {
        let file = ws.read(t["run_file"].as_str().unwrap());
        assert!(file.contains(t["run_id"].as_str().unwrap()));
    }
    let ids: Vec<&str> = c["disagreements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, B_FAILS);
    assert_eq!(
        c["disagreements"][0]["passed"],
        serde_json::json!(["fake:model-a"])
    );
    assert_eq!(
        c["disagreements"][0]["failed"],
        serde_json::json!(["fake:model-b"])
    );
    assert_eq!(c["pairs"][0]["only_a"], 2);
    assert_eq!(c["pairs"][0]["only_b"], 0);
    assert_eq!(c["pairs"][0]["p_value"], 0.5);

    // Markdown, to a file.
    let run = eval(
        &ws,
        &[
            "--no-cache",
            "--model",
            "model-a",
            "--model",
            "model-b",
            "--format",
            "markdown",
            "-o",
            "cmp.md",
        ],
    );
    run.code(1).stdout_empty();
    let md = ws.read("cmp.md");
    assert!(
        md.starts_with("### ❌ promptctl eval `t`: 2 targets side by side: FAIL\n"),
        "{md}"
    );
    assert!(md.contains("| | `fake:model-a` | `fake:model-b` |"), "{md}");
    assert!(
        md.contains("| verdict | pass | **fail: pass_rate** |"),
        "{md}"
    );
    assert!(md.contains("| `bravo` | pass | **fail** |"), "{md}");
    assert!(md.contains("| `delta` | pass | **fail** |"), "{md}");
    assert!(!md.contains("`alpha`"), "{md}");
    assert!(
        md.contains("2 pass only on `fake:model-a`, 0 only on `fake:model-b`"),
        "{md}"
    );
}

#[test]
fn the_step_summary_gets_the_comparison() {
    let (a, b) = servers();
    let ws = workspace(&a, &b, "");
    let summary = ws.tmp().join("step-summary.md");
    let path = summary.to_str().unwrap();
    eval_with(
        &ws,
        &["--no-cache", "--model", "model-a", "--model", "model-b"],
        &[("GITHUB_STEP_SUMMARY", path)],
    )
    .code(1);
    let md = std::fs::read_to_string(&summary).expect("the step summary was written");
    assert!(md.contains("2 targets side by side: FAIL"), "{md}");
    assert!(md.contains("| `bravo` | pass | **fail** |"), "{md}");
    assert_eq!(
        md.matches("### ").count(),
        1,
        "one summary, not one per run: {md}"
    );
}

#[test]
fn junit_has_one_testsuite_per_target() {
    let (a, b) = servers();
    let ws = workspace(&a, &b, "");
    let run = eval(
        &ws,
        &[
            "--no-cache",
            "--model",
            "model-a",
            "--model",
            "model-b",
            "--format",
            "junit",
            "-o",
            "cmp.xml",
        ],
    );
    run.code(1);
    let xml = ws.read("cmp.xml");
    assert_eq!(xml.matches("<testsuites>").count(), 1, "{xml}");
    assert_eq!(xml.matches("<testsuite ").count(), 2, "{xml}");
    assert!(
        xml.contains(r#"name="t (support_bot) on fake:model-a" package="t" id="0""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"name="t (support_bot) on fake:model-b" package="t" id="1""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<property name="model" value="model-b"/>"#),
        "{xml}"
    );
    // model-b: two failing cases and its failed pass_rate gate.
    let second = &xml[xml.find("on fake:model-b").unwrap()..];
    assert!(second.contains(r#"failures="3" errors="0""#), "{xml}");
    if crate::eval::validates_against(&ws.path("cmp.xml"), "junit-10.xsd") {
        crate::eval::validates_against(&ws.path("cmp.xml"), "junit-ant.xsd");
    }
}

#[test]
fn the_targets_run_at_the_same_time() {
    // Every answer is held until two are held together. Each target has
    // one case and `-j 1`, so only the two targets running at once can
    // open the barrier; run one after the other, the first answer would
    // wait out `at_most` and be counted.
    let server = FakeServer::start(FakeConfig {
        hold: Some(Hold {
            requests: 2,
            at_most: Duration::from_secs(20),
        }),
        ..FakeConfig::responding(by_model)
    });
    let ws = workspace(&server, &server, "");
    let run = eval(
        &ws,
        &[
            "--no-cache",
            "--filter-id",
            "alpha",
            "-j",
            "1",
            "--provider",
            "fake:model-a",
            "--provider",
            "other:model-b",
        ],
    );
    run.code(0);
    assert_eq!(server.held_out(), 0, "a request waited alone: {run}");
    assert_eq!(server.peak_concurrency(), 2);
    assert_eq!(
        models(&server),
        BTreeMap::from([("model-a".into(), 1), ("model-b".into(), 1)])
    );
}

#[test]
fn two_targets_on_one_provider_share_its_limits() {
    // `max_in_flight: 1` on each provider, and answers held until two are
    // held together (or 1 s has passed).
    let hold = || FakeConfig {
        hold: Some(Hold {
            requests: 2,
            at_most: Duration::from_secs(1),
        }),
        ..FakeConfig::responding(by_model)
    };
    // Two models on one provider: one slot between them, so never two
    // requests at once; each waits out the hold alone.
    let server = FakeServer::start(hold());
    let ws = workspace(&server, &server, ", max_in_flight: 1");
    let args = ["--no-cache", "--filter-id", "alpha", "-j", "4"];
    let mut same = args.to_vec();
    same.extend(["--model", "model-a", "--model", "model-c"]);
    eval(&ws, &same).code(0);
    assert_eq!(server.request_count(), 2);
    assert_eq!(
        server.peak_concurrency(),
        1,
        "the provider's one slot was shared"
    );
    assert_eq!(server.held_out(), 2);

    // The control: two providers (at the same server) have a slot each.
    let server = FakeServer::start(hold());
    let ws = workspace(&server, &server, ", max_in_flight: 1");
    let mut two = args.to_vec();
    two.extend(["--provider", "fake:model-a", "--provider", "other:model-c"]);
    eval(&ws, &two).code(0);
    assert_eq!(server.peak_concurrency(), 2);
    assert_eq!(server.held_out(), 0);
}

#[test]
fn the_cache_keeps_each_models_answers_and_prices_apart() {
    let (a, b) = servers();
    let ws = workspace(&a, &b, "");
    let args = [
        "--model", "model-a", "--model", "model-b", "--format", "json",
    ];
    let first = eval(&ws, &args);
    first.code(1);
    assert_eq!(a.request_count(), 8);
    let second = eval(&ws, &args);
    second.code(1);
    assert_eq!(a.request_count(), 8, "every answer came from the cache");
    for run in [&first, &second] {
        let c = run.json();
        let ids: Vec<&str> = c["disagreements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, B_FAILS, "each model kept its own answers");
    }
    let c = second.json();
    for t in c["targets"].as_array().unwrap() {
        assert_eq!(t["summary"]["cached"], 4, "{t}");
    }
    // Each target priced at its own model's price (100 times model-a's).
    let cost = |i: usize| c["targets"][i]["summary"]["cost_usd"].as_f64().unwrap();
    let tokens = |i: usize| {
        let s = &c["targets"][i]["summary"];
        (s["tokens_in"].as_u64().unwrap() + s["tokens_out"].as_u64().unwrap()) as f64
    };
    assert!((cost(0) - tokens(0) / 1e6).abs() < 1e-12, "{c}");
    assert!((cost(1) - tokens(1) * 100.0 / 1e6).abs() < 1e-12, "{c}");
}

#[test]
fn flags_that_need_one_target_are_usage_errors_before_any_request() {
    let (a, b) = servers();
    let ws = workspace(&a, &b, "");
    let cases: [(&[&str], &str); 7] = [
        (
            &["--model", "model-a", "--model", "model-b", "--record"],
            "`--record` takes one target; 2 were given (`fake:model-a`, `fake:model-b`)",
        ),
        (
            &[
                "--provider",
                "fake",
                "--provider",
                "other",
                "--baseline",
                "x.json",
            ],
            "`--baseline` takes one target",
        ),
        (
            &["--provider", "fake", "--compare-only"],
            "`--compare-only` needs several targets",
        ),
        (
            &[
                "--provider",
                "fake",
                "--provider",
                "other",
                "--model",
                "m1",
                "--model",
                "m2",
                "--model",
                "m3",
            ],
            "2 `--provider`s and 3 `--model`s",
        ),
        (
            &["--provider", "fake:model-a", "--model", "model-b"],
            "`--provider fake:model-a` names its model, and `--model model-b` names another",
        ),
        (
            &["--model", "model-a", "--model", "model-a"],
            "target `fake:model-a` is given twice",
        ),
        (
            &["--provider", "fake", "--provider", "fake:gpt-4o-mini"],
            "target `fake:gpt-4o-mini` is given twice",
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["--no-cache"];
        all.extend_from_slice(args);
        eval(&ws, &all).code(2).stderr_has(message);
    }
    assert_eq!(a.request_count() + b.request_count(), 0);
    assert!(runs(&ws).is_empty());
}

#[test]
fn a_run_on_another_model_never_unlocks_promote() {
    let (a, b) = servers();
    let ws = workspace(&a, &b, "");
    ws.release(&["--bump", "minor", "-m", "first"]);
    let v = "support_bot@0.1.0";
    let promote = |extra: &[&str]| {
        let mut args = vec!["promote", v, "--env", "staging"];
        args.extend_from_slice(extra);
        ws.cmd(args).env("PROMPTCTL_USER", "ana").run()
    };
    // One target, another model, every gate passed: not the version's run.
    let over = eval(&ws, &["--no-cache", "--prompt", v, "--model", "model-a"]);
    over.code(0);
    promote(&[])
        .code(1)
        .stderr_has("no run of this digest on the suite's own target (`fake:gpt-4o-mini`)");
    promote(&["--explain"])
        .code(1)
        .stdout_has("it ran on `fake:model-a`");

    // A comparison: each run is judged on its own, and the other target's
    // run, however new, neither counts nor supersedes the version's own.
    std::fs::remove_dir_all(ws.path(RUNS)).unwrap();
    eval(
        &ws,
        &[
            "--no-cache",
            "--prompt",
            v,
            "--provider",
            "fake",
            "--provider",
            "fake:model-a",
        ],
    )
    .code(0);
    let saved = runs(&ws);
    let file = |label: &str| format!("{RUNS}/{}.json", saved[label]["run_id"].as_str().unwrap());
    promote(&["--run", &file("fake:model-a")])
        .code(1)
        .stderr_has("it ran on model `model-a`");
    promote(&[]).code(0);
}

#[test]
fn one_model_override_is_one_ordinary_run() {
    let (a, b) = servers();
    let ws = workspace(&a, &b, "");
    let run = eval(&ws, &["--no-cache", "--model", "model-b"]);
    run.code(1)
        .stdout_has("fake (openai), model model-b")
        .stdout_lacks("side by side")
        .stderr_has("FAIL (exit 1): gates failed: pass_rate")
        .stderr_lacks(" of `fake:model-b`");
    assert_eq!(models(&a), BTreeMap::from([("model-b".into(), 4)]));
    assert_eq!(runs(&ws).len(), 1);
}

#[cfg(unix)]
#[test]
fn a_signal_stops_every_target_and_marks_every_run_interrupted() {
    let server = FakeServer::start(FakeConfig {
        latency: Duration::from_secs(50),
        ..FakeConfig::responding(by_model)
    });
    let ws = workspace(&server, &server, "");
    let mut cmd = ws.std_cmd([
        "eval",
        "t",
        "--no-cache",
        "-j",
        "1",
        "--provider",
        "fake:model-a",
        "--provider",
        "other:model-b",
    ]);
    cmd.env(KEY_ENV, KEY)
        .env("NO_PROXY", "127.0.0.1")
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn promptctl");
    let started = Instant::now();
    // Both targets have a request in flight.
    while models(&server).len() < 2 {
        assert!(started.elapsed() < Duration::from_secs(60), "no requests");
        std::thread::sleep(Duration::from_millis(10));
    }
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("promptctl did not stop");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("INTERRUPTED (exit 130)"), "{stderr}");
    let saved = runs(&ws);
    assert_eq!(saved.len(), 2, "{stderr}");
    for (label, run) in &saved {
        assert_eq!(run["settings"]["interrupted"], true, "{label}");
        assert_eq!(run["verdict"]["status"], "interrupted", "{label}");
        assert_eq!(run["cases"].as_array().unwrap().len(), 4, "{label}");
    }
}
