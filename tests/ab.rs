//! `ab plan` and `ab analyze`: sample sizes, and A/B analysis of production
//! logs with its exit codes (0 done, 1 guardrail worse, 2 bad input, 5
//! inconclusive).

use crate::util::Workspace;

/// One arm of synthetic logs: `n` requests of `version`, `refused` of every
/// hundred refused, latency 100 + (i mod 50) + `slower` ms, segments cycling
/// through eu, us and apac.
struct Arm<'a> {
    version: &'a str,
    n: usize,
    refused: usize,
    slower: f64,
}

fn logs(arms: &[Arm]) -> String {
    let mut out = String::new();
    for arm in arms {
        for i in 0..arm.n {
            let outcome = if i % 100 < arm.refused {
                "refusal"
            } else {
                "ok"
            };
            let segment = ["eu", "us", "apac"][i % 3];
            let line = serde_json::json!({
                "ts": "2026-11-21T10:00:00Z",
                "prompt": "support_bot",
                "version": arm.version,
                "env": "production",
                "key": format!("user-{i}"),
                "segment": segment,
                "latency_ms": 100.0 + (i % 50) as f64 + arm.slower,
                "outcome": outcome,
                "tokens_in": 400 + i % 7,
                "request_id": format!("r{i}"),
            });
            out.push_str(&line.to_string());
            out.push('\n');
        }
    }
    out
}

fn arm(version: &str, n: usize, refused: usize, slower: f64) -> Arm<'_> {
    Arm {
        version,
        n,
        refused,
        slower,
    }
}

/// A workspace with `prod.jsonl` holding `arms`.
fn with_logs(arms: &[Arm]) -> Workspace {
    let ws = Workspace::init();
    ws.write("prod.jsonl", logs(arms));
    ws
}

#[test]
fn plan_gives_the_sample_size_per_arm() {
    let ws = Workspace::empty();
    ws.run(&["ab", "plan", "--baseline-rate", "0.10", "--mde", "0.02"])
        .success()
        .stdout_has("per arm        3,841\n")
        .stdout_has("total          7,682\n");
    let json = ws
        .run(&[
            "ab",
            "plan",
            "--baseline-rate",
            "0.10",
            "--mde",
            "0.02",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(json["per_arm"], 3841);
    assert_eq!(json["total"], 7682);
    assert_eq!(json["alpha"], 0.05);
    assert_eq!(json["power"], 0.8);
    // A drop is planned like a rise of the same size from the lower rate.
    ws.run(&[
        "ab",
        "plan",
        "--baseline-rate",
        "0.5",
        "--mde",
        "-0.1",
        "--power",
        "0.9",
    ])
    .success()
    .stdout_has("per arm        519\n");
}

#[test]
fn plan_rejects_a_rate_outside_0_to_1() {
    let ws = Workspace::empty();
    ws.run(&["ab", "plan", "--baseline-rate", "10", "--mde", "0.02"])
        .code(2)
        .stderr_has("baseline rate `10` is not between 0 and 1")
        .stdout_empty();
    ws.run(&["ab", "plan", "--baseline-rate", "0.99", "--mde", "0.02"])
        .code(2)
        .stderr_has("not between 0 and 1");
    ws.run(&[
        "ab",
        "plan",
        "--baseline-rate",
        "0.1",
        "--mde",
        "0.02",
        "--alpha",
        "1",
    ])
    .code(2)
    .stderr_has("alpha");
    ws.run(&["ab", "plan", "--mde", "0.02"])
        .code(2)
        .stderr_has("--baseline-rate");
}

#[test]
fn analyze_a_rate_reports_both_arms_the_difference_and_the_split() {
    let ws = with_logs(&[arm("1.2.0", 1000, 8, 0.0), arm("1.3.0", 1000, 12, 0.0)]);
    ws.run(&[
        "ab",
        "analyze",
        "--logs",
        "prod.jsonl",
        "--metric",
        "refusal_rate",
    ])
    .success()
    .stdout_has("support_bot: A `1.2.0` vs B `1.3.0` on refusal_rate (two-proportion z-test)")
    .stdout_has("8.00%")
    .stdout_has("12.00%")
    .stdout_has("difference (B - A): +4.00 pts, 95% CI [+1.38, +6.62] pts, p = 0.0029 (significant at 0.05)")
    .stdout_has("sample ratio: ok (expected 50/50, observed 50.0/50.0, p = 1.0000)");
}

#[test]
fn analyze_json_is_only_json() {
    let ws = with_logs(&[arm("1.2.0", 1000, 8, 0.0), arm("1.3.0", 1000, 12, 0.0)]);
    let json = ws
        .run(&[
            "ab",
            "analyze",
            "--logs",
            "prod.jsonl",
            "--metric",
            "refusal_rate",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(json["arms"][0]["version"], "1.2.0");
    assert_eq!(json["primary"]["metric"], "refusal_rate");
    assert_eq!(json["primary"]["kind"], "rate");
    assert_eq!(json["primary"]["a"]["n"], 1000);
    assert_eq!(json["conclusion"], "complete");
    // z = 0.04 / sqrt(0.1 * 0.9 * 2 / 1000), p = erfc(|z| / sqrt(2)) (Python's math.erfc).
    let p = json["primary"]["test"]["p_value"].as_f64().unwrap();
    assert!((p - 0.00286911279207662).abs() < 1e-9, "{p}");
    assert_eq!(json["srm"]["mismatch"], false);
}

#[test]
fn analyze_a_mean_uses_welchs_test() {
    let ws = with_logs(&[arm("1.2.0", 600, 0, 0.0), arm("1.3.0", 600, 0, 2.5)]);
    ws.run(&[
        "ab",
        "analyze",
        "--logs",
        "prod.jsonl",
        "--metric",
        "latency_ms",
    ])
    .success()
    .stdout_has("on latency_ms (Welch's t-test)")
    .stdout_has("difference (B - A): +2.5 ms");
}

#[test]
fn a_sample_ratio_mismatch_is_inconclusive() {
    let ws = with_logs(&[arm("1.2.0", 700, 5, 0.0), arm("1.3.0", 300, 5, 0.0)]);
    let args = [
        "ab",
        "analyze",
        "--logs",
        "prod.jsonl",
        "--metric",
        "success_rate",
    ];
    ws.run(&args)
        .code(5)
        .stdout_has("sample ratio: MISMATCH")
        .stderr_has("sample-ratio mismatch: expected 50/50, observed 700/300");
    // The same counts are fine when 70/30 is the configured split.
    let mut split = args.to_vec();
    split.extend(["--split", "70/30"]);
    ws.run(&split).success().stdout_has("sample ratio: ok");
}

#[test]
fn an_arm_without_data_is_inconclusive() {
    let ws = with_logs(&[arm("1.2.0", 300, 5, 0.0), arm("1.3.0", 300, 5, 0.0)]);
    ws.run(&[
        "ab",
        "analyze",
        "--logs",
        "prod.jsonl",
        "--metric",
        "success_rate",
        "--arms",
        "1.2.0,2.0.0",
    ])
    .code(5)
    .stderr_has("arm B (`2.0.0`) has no data for `success_rate`");
    // A metric the logs do not carry has no data either.
    ws.run(&[
        "ab",
        "analyze",
        "--logs",
        "prod.jsonl",
        "--metric",
        "cost_usd",
    ])
    .code(5);
    // One version in the logs is nothing to compare.
    let one = with_logs(&[arm("1.2.0", 300, 5, 0.0)]);
    one.run(&[
        "ab",
        "analyze",
        "--logs",
        "prod.jsonl",
        "--metric",
        "success_rate",
    ])
    .code(5)
    .stderr_has("one version, `1.2.0`");
}

#[test]
fn a_guardrail_that_gets_worse_fails() {
    let ws = with_logs(&[arm("1.2.0", 1000, 5, 0.0), arm("1.3.0", 1000, 5, 20.0)]);
    ws.run(&[
        "ab",
        "analyze",
        "--logs",
        "prod.jsonl",
        "--metric",
        "success_rate",
        "--guardrail",
        "latency_ms",
        "--guardrail",
        "tokens_in",
    ])
    .code(1)
    .stdout_has("guardrails (must not get significantly worse at p < 0.05):")
    .stdout_has("WORSE")
    .stderr_has("guardrail `latency_ms` got significantly worse: +20.0 ms");
}

#[test]
fn segments_get_a_bonferroni_threshold() {
    let ws = with_logs(&[arm("1.2.0", 900, 5, 0.0), arm("1.3.0", 900, 5, 0.0)]);
    ws.run(&[
        "ab",
        "analyze",
        "--logs",
        "prod.jsonl",
        "--metric",
        "success_rate",
        "--segment-by",
        "segment",
    ])
    .success()
    .stdout_has("with 3 segments, a segment's difference is significant at p < 0.05/3 = 0.0167 (Bonferroni)")
    .stdout_has("apac")
    .stdout_has("eu");
    ws.run(&[
        "ab",
        "analyze",
        "--logs",
        "prod.jsonl",
        "--metric",
        "success_rate",
        "--segment-by",
        "country",
    ])
    .code(2)
    .stderr_has("no line in the logs has the field `country`");
}

#[test]
fn bad_input_exits_2_and_names_the_place() {
    let ws = with_logs(&[arm("1.2.0", 3, 0, 0.0), arm("1.3.0", 3, 0, 0.0)]);
    let mut text = ws.read("prod.jsonl");
    text.push_str("\n{\"ts\":\"t\",\"prompt\":\"support_bot\",\"version\":\"1.3.0\",\"env\":\"production\",\"key\":\"k\",\"latency_ms\":\"slow\",\"outcome\":\"ok\"}\n");
    ws.write("bad.jsonl", text);
    let base = ["ab", "analyze", "--metric", "success_rate", "--logs"];
    let run = |file: &str| {
        let mut args = base.to_vec();
        args.push(file);
        ws.run(&args)
    };
    // Line 8: six good lines, a blank one, then the bad one.
    run("bad.jsonl")
        .code(2)
        .stderr_has("`bad.jsonl:8:")
        .stderr_has("field `latency_ms`")
        .stdout_empty();
    run("missing.jsonl")
        .code(2)
        .stderr_has("`missing.jsonl` does not exist");
    ws.run(&[
        "ab",
        "analyze",
        "--logs",
        "prod.jsonl",
        "--metric",
        "latency",
    ])
    .code(2)
    .stderr_has("unknown metric `latency`");
    ws.run(&[
        "ab",
        "analyze",
        "--logs",
        "prod.jsonl",
        "--metric",
        "success_rate",
        "--split",
        "10/80",
    ])
    .code(2)
    .stderr_has("sum to 100");
}
