//! Environments (SPEC §7–§8): `promote` and its gate, canaries, `rollback`,
//! `resolve`, `status`, `log`, `export` and `canary`, and the durability of
//! `releases.yaml` and `history.jsonl` under 50 concurrent writers, under
//! `kill -9` and with a write stopped between its steps.
//!
//! Every test parses `releases.yaml` as YAML and the part of `history.jsonl`
//! it commits as JSON lines, and checks the environments and the history,
//! not only the exit code.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::util::{NAME, Run, SYSTEM, Workspace, version_dir};

const RELEASES: &str = "prompts/support_bot/releases.yaml";
const HISTORY: &str = "prompts/support_bot/history.jsonl";
const USER: &str = "tester";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// `promptctl ARGS` as `tester`.
fn pc(ws: &Workspace, args: &[&str]) -> Run {
    ws.cmd(args).env("PROMPTCTL_USER", USER).run()
}

/// `promptctl promote ARGS` as `tester`.
fn promote(ws: &Workspace, args: &[&str]) -> Run {
    let mut all = vec!["promote"];
    all.extend_from_slice(args);
    pc(ws, &all)
}

/// `promptctl rollback support_bot ARGS` as `tester`.
fn rollback(ws: &Workspace, args: &[&str]) -> Run {
    let mut all = vec!["rollback", NAME];
    all.extend_from_slice(args);
    pc(ws, &all)
}

fn at(version: &str) -> String {
    format!("{NAME}@{version}")
}

/// A full promote with the gate skipped (for tests that are not about the gate).
fn skip(ws: &Workspace, version: &str, env: &str) -> Run {
    let run = promote(
        ws,
        &[
            &at(version),
            "--env",
            env,
            "--skip-gate",
            "--reason",
            "setup",
        ],
    );
    run.success();
    run
}

/// A canary promote with the gate skipped.
fn skip_canary(ws: &Workspace, version: &str, percent: &str) -> Run {
    let run = promote(
        ws,
        &[
            &at(version),
            "--env",
            "production",
            "--canary",
            percent,
            "--skip-gate",
            "--reason",
            "setup",
        ],
    );
    run.success();
    run
}

/// Releases the init draft as 1.0.0 and evaluates it offline: a passing run
/// for 1.0.0's digest, whose id is returned.
fn first_release(ws: &Workspace) -> String {
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    pc(ws, &["eval", "support", "--prompt", "support_bot@1.0.0"]).success();
    passing_run_of(ws, "1.0.0")["run_id"]
        .as_str()
        .expect("run_id")
        .to_string()
}

/// Edits the draft and releases it as `version` (its offline eval would not pass).
fn release_edit(ws: &Workspace, version: &str) {
    ws.append(
        SYSTEM,
        &format!("\nHouse rule for {version}: keep it short.\n"),
    );
    ws.release(&["--version", version, "-m", &format!("release {version}")]);
}

fn digest_of(ws: &Workspace, version: &str) -> String {
    ws.hash(&at(version))["digest"]
        .as_str()
        .expect("a digest")
        .to_string()
}

/// Every run file in `.promptctl/runs/`, parsed.
fn runs(ws: &Workspace) -> Vec<Value> {
    let dir = ws.path(".promptctl/runs");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).expect("read .promptctl/runs") {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let text = std::fs::read_to_string(&p).unwrap();
            out.push(serde_json::from_str(&text).expect("a run file is JSON"));
        }
    }
    out
}

/// The passing run of `version` that `eval` wrote.
fn passing_run_of(ws: &Workspace, version: &str) -> Value {
    runs(ws)
        .into_iter()
        .find(|r| r["prompt"]["version"] == version && r["verdict"]["exit_code"] == 0)
        .unwrap_or_else(|| panic!("no passing run of {version}"))
}

/// Writes a passing run for `version`: 1.0.0's real run with the prompt
/// digest and version replaced (the gate checks digest, verdict and judge).
/// Returns its run id.
fn fake_passing_run(ws: &Workspace, version: &str) -> String {
    let mut run = passing_run_of(ws, "1.0.0");
    let id = format!("{}-as-{version}", run["run_id"].as_str().unwrap());
    run["run_id"] = Value::from(id.clone());
    run["prompt"]["version"] = Value::from(version);
    run["prompt"]["digest"] = Value::from(digest_of(ws, version));
    ws.write(
        &format!(".promptctl/runs/{id}.json"),
        serde_json::to_string_pretty(&run).unwrap(),
    );
    id
}

/// `releases.yaml`, parsed as YAML into JSON values.
fn releases(ws: &Workspace) -> Value {
    let text = ws.read(RELEASES);
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("releases.yaml is not YAML: {e}\n{text}"))
}

/// The committed history: the first `bytes` bytes of `history.jsonl`, as
/// `releases.yaml` records them, one JSON object a line.
fn history(ws: &Workspace) -> Vec<Value> {
    let r = releases(ws);
    let Some(bytes) = r["history"]["bytes"].as_u64() else {
        return Vec::new();
    };
    let all = ws.read_bytes(HISTORY);
    let committed = std::str::from_utf8(&all[..bytes as usize]).expect("UTF-8");
    committed
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn last(ws: &Workspace) -> Value {
    history(ws).pop().expect("a history entry")
}

fn env_state(ws: &Workspace, env: &str) -> Value {
    releases(ws)["environments"][env].clone()
}

/// Checks both files: `releases.yaml` is YAML referencing `history.jsonl`;
/// that file holds at least the committed bytes; they are exactly the
/// committed number of lines, each a complete JSON object. Returns the
/// committed entry count.
#[track_caller]
fn check_files(ws: &Workspace) -> usize {
    let text = ws.read(RELEASES);
    let parsed: Value = serde_yaml::from_str(&text)
        .unwrap_or_else(|e| panic!("releases.yaml is not YAML: {e}\n{text}"));
    let h = &parsed["history"];
    assert_eq!(h["file"], "history.jsonl", "{text}");
    let entries = h["entries"].as_u64().expect("history.entries");
    let bytes = h["bytes"].as_u64().expect("history.bytes") as usize;
    let all = ws.read_bytes(HISTORY);
    assert!(
        all.len() >= bytes,
        "history.jsonl has {} bytes, {bytes} committed\n{text}",
        all.len()
    );
    let committed = std::str::from_utf8(&all[..bytes]).expect("UTF-8");
    assert!(
        committed.is_empty() || committed.ends_with('\n'),
        "the committed part ends mid-line\n{committed}"
    );
    let mut n = 0;
    for line in committed.lines() {
        let entry: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("incomplete JSON line {line:?}: {e}\n{committed}"));
        assert!(entry.is_object(), "{line}");
        n += 1;
    }
    assert_eq!(
        n, entries,
        "the committed lines and `entries` disagree\n{text}"
    );
    n as usize
}

/// Both files, byte for byte (`None` when missing): what a refusal or a
/// no-op must leave exactly as it was.
fn deploy_files(ws: &Workspace) -> [Option<Vec<u8>>; 2] {
    [RELEASES, HISTORY].map(|f| std::fs::read(ws.path(f)).ok())
}

fn no_deploy_files(ws: &Workspace) -> bool {
    deploy_files(ws) == [None, None]
}

/// The canary/stable bucket of a key, per the documented rule.
fn bucket(env: &str, key: &str) -> u32 {
    let mut h = Sha256::new();
    h.update(NAME.as_bytes());
    h.update([0u8]);
    h.update(env.as_bytes());
    h.update([0u8]);
    h.update(key.as_bytes());
    let d = h.finalize();
    (u64::from_be_bytes(d[..8].try_into().unwrap()) % 10_000) as u32
}

/// 1.0.0 (with a real passing run) and 1.1.0 released; 1.0.0 live in
/// staging and production through the gate; 1.1.0 live in staging.
fn two_versions_live(ws: &Workspace) {
    first_release(ws);
    release_edit(ws, "1.1.0");
    promote(ws, &[&at("1.0.0"), "--env", "staging"]).success();
    promote(ws, &[&at("1.0.0"), "--env", "production"]).success();
    skip(ws, "1.1.0", "staging");
}

/// [`two_versions_live`] plus a canary of 1.1.0 in production at `percent`.
fn canary_running(ws: &Workspace, percent: &str) {
    two_versions_live(ws);
    skip_canary(ws, "1.1.0", percent);
    let state = env_state(ws, "production");
    assert_eq!(state["active"], "1.0.0");
    assert_eq!(state["canary"]["version"], "1.1.0");
}

/// A tiny xorshift generator: the tests need no `rand`, and a seed can be
/// printed so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn from_clock() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        Rng(nanos | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

// ---------------------------------------------------------------------------
// 1–4. promote and its gate
// ---------------------------------------------------------------------------

#[test]
fn promote_needs_a_passing_run_for_the_exact_digest() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    let digest = digest_of(&ws, "1.0.0");

    let before = ws.tree();
    let run = promote(&ws, &[&at("1.0.0"), "--env", "staging"]);
    run.code(1)
        .stdout_empty()
        .stderr_has("no run of this digest")
        .stderr_has("support_bot@1.0.0")
        .stderr_has(&digest["sha256:".len()..][..12])
        .stderr_has("--skip-gate");
    before.assert_unchanged(&ws.tree(), &run);
    assert!(
        no_deploy_files(&ws),
        "a refused promote wrote releases.yaml"
    );

    pc(&ws, &["eval", "support", "--prompt", "support_bot@1.0.0"]).success();
    let run_id = passing_run_of(&ws, "1.0.0")["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    promote(&ws, &[&at("1.0.0"), "--env", "staging"])
        .success()
        .stdout_has("support_bot staging: (none) → 1.0.0");

    let h = history(&ws);
    assert_eq!(h.len(), 1, "{h:?}");
    let e = &h[0];
    assert_eq!(e["env"], "staging");
    assert_eq!(e["action"], "promote");
    assert_eq!(e["version"], "1.0.0");
    assert_eq!(e["by"], USER);
    assert_eq!(e["digest"], digest.as_str());
    assert_eq!(
        e["run"],
        format!("support:{run_id}"),
        "the run that let it through"
    );
    assert_eq!(e["at"], crate::util::EPOCH_RFC3339);
    assert!(e.get("skip_gate").is_none(), "{e}");
    assert!(e.get("from").is_none(), "nothing was live before: {e}");
    assert_eq!(env_state(&ws, "staging")["active"], "1.0.0");
    check_files(&ws);

    // Promoting what is already live changes nothing.
    let bytes = deploy_files(&ws);
    promote(&ws, &[&at("1.0.0"), "--env", "staging"])
        .success()
        .stdout_has("nothing to do");
    assert_eq!(deploy_files(&ws), bytes);
}

#[test]
fn a_failing_run_a_run_of_another_digest_or_another_judge_does_not_count() {
    let ws = Workspace::init();
    first_release(&ws);
    release_edit(&ws, "1.1.0");

    // 1.1.0's offline eval cannot pass (the recordings no longer match): its
    // run is on file, but its verdict is not a pass.
    pc(&ws, &["eval", "support", "--prompt", "support_bot@1.1.0"]).code(3);
    promote(&ws, &[&at("1.1.0"), "--env", "staging"])
        .code(1)
        .stderr_has("`support_bot@1.1.0` may not enter `staging`")
        .stderr_has("re-applied, say `error`");

    // 1.0.0's passing run, given explicitly, does not let 1.1.0 through.
    let id = passing_run_of(&ws, "1.0.0")["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let file = format!(".promptctl/runs/{id}.json");
    promote(&ws, &[&at("1.1.0"), "--env", "staging", "--run", &file])
        .code(1)
        .stderr_has("may not enter `staging`")
        .stderr_has("it evaluated digest");
    // …but it does let 1.0.0 through.
    promote(&ws, &[&at("1.0.0"), "--env", "staging", "--run", &file]).success();
    assert_eq!(last(&ws)["run"], format!("support:{id}"));

    // A run scored by another judge than the suite names now proves nothing:
    // another model, or the same model sent other parameters.
    for (from, to) in [
        ("model: gpt-4o,", "model: gpt-4o-mini,"),
        (
            "model: gpt-4o-mini, temperature: 0,",
            "model: gpt-4o, temperature: 0.5,",
        ),
    ] {
        ws.replace("evals/support.yaml", from, to);
        promote(&ws, &[&at("1.0.0"), "--env", "production"])
            .code(1)
            .stderr_has("may not enter `production`")
            .stderr_has("its judge differs");
    }
    assert_eq!(history(&ws).len(), 1);
    assert!(env_state(&ws, "production").is_null());
}

#[test]
fn production_requires_staging_first() {
    let ws = Workspace::init();
    first_release(&ws);

    let before = ws.tree();
    let run = promote(&ws, &[&at("1.0.0"), "--env", "production"]);
    run.code(1)
        .stdout_empty()
        .stderr_has("`staging`")
        .stderr_has("not been live in `staging` first");
    before.assert_unchanged(&ws.tree(), &run);
    assert!(no_deploy_files(&ws));

    promote(&ws, &[&at("1.0.0"), "--env", "staging"]).success();
    promote(&ws, &[&at("1.0.0"), "--env", "production"])
        .success()
        .stdout_has("support_bot production: (none) → 1.0.0");
    let h = history(&ws);
    assert_eq!(h.len(), 2);
    assert_eq!(
        (h[1]["env"].as_str(), h[1]["version"].as_str()),
        (Some("production"), Some("1.0.0"))
    );

    // --skip-gate skips the eval gate, not the promotion path.
    release_edit(&ws, "1.1.0");
    let bytes = deploy_files(&ws);
    promote(
        &ws,
        &[
            &at("1.1.0"),
            "--env",
            "production",
            "--skip-gate",
            "--reason",
            "hurry",
        ],
    )
    .code(1)
    .stderr_has("`staging`");
    assert_eq!(deploy_files(&ws), bytes);
}

#[test]
fn promote_refuses_an_unreleased_or_tampered_version() {
    let ws = Workspace::init();
    first_release(&ws);

    let before = ws.tree();
    let run = promote(&ws, &[&at("9.9.9"), "--env", "staging"]);
    run.code(2).stdout_empty().stderr_has("9.9.9");
    before.assert_unchanged(&ws.tree(), &run);
    assert!(no_deploy_files(&ws));

    // A bare name is not a version.
    promote(&ws, &[NAME, "--env", "staging"])
        .code(2)
        .stderr_has("@X.Y.Z");
    // An unknown environment is bad usage, with a suggestion.
    promote(&ws, &[&at("1.0.0"), "--env", "prod"])
        .code(2)
        .stderr_has("unknown environment `prod`")
        .stderr_has("production");

    promote(&ws, &[&at("1.0.0"), "--env", "staging"]).success();
    let file = format!("{}/system.md", version_dir("1.0.0"));
    ws.append(&file, "x");
    let before = ws.tree();
    for args in [
        vec![at("1.0.0"), "--env".into(), "production".into()],
        vec![
            at("1.0.0"),
            "--env".into(),
            "production".into(),
            "--skip-gate".into(),
            "--reason".into(),
            "r".into(),
        ],
    ] {
        let mut all = vec!["promote".to_string()];
        all.extend(args);
        let run = ws.cmd(&all).env("PROMPTCTL_USER", USER).run();
        run.code(4).stdout_empty().stderr_has("system.md");
        before.assert_unchanged(&ws.tree(), &run);
    }
    assert_eq!(history(&ws).len(), 1);
}

#[test]
fn skip_gate_needs_a_reason_and_is_recorded() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);

    let before = ws.tree();
    for extra in [&[][..], &["--reason", "   "][..]] {
        let mut args = vec![at("1.0.0"), "--env".into(), "staging".into()];
        args.push("--skip-gate".into());
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = promote(&ws, &args);
        run.code(2).stdout_empty().stderr_has("--reason");
        before.assert_unchanged(&ws.tree(), &run);
    }
    assert!(no_deploy_files(&ws));

    promote(
        &ws,
        &[
            &at("1.0.0"),
            "--env",
            "staging",
            "--skip-gate",
            "--reason",
            "hotfix INC-42",
        ],
    )
    .success()
    .stdout_has("support_bot staging: (none) → 1.0.0");
    let e = last(&ws);
    assert_eq!(e["skip_gate"], true);
    assert_eq!(e["reason"], "hotfix INC-42");
    assert_eq!(e["by"], USER);
    assert!(e.get("run").is_none(), "no run let it through: {e}");
    pc(&ws, &["log", NAME])
        .success()
        .stdout_has("[gate skipped]: hotfix INC-42");
}

// ---------------------------------------------------------------------------
// 5. canaries
// ---------------------------------------------------------------------------

#[test]
fn a_canary_starts_moves_and_ends_with_a_full_promote() {
    let ws = Workspace::init();
    first_release(&ws);
    release_edit(&ws, "1.1.0");
    let run_11 = fake_passing_run(&ws, "1.1.0");
    promote(&ws, &[&at("1.0.0"), "--env", "staging"]).success();
    promote(&ws, &[&at("1.0.0"), "--env", "production"]).success();
    promote(&ws, &[&at("1.1.0"), "--env", "staging"]).success();
    assert_eq!(
        last(&ws)["run"],
        format!("support:{run_11}"),
        "the gate took the run"
    );
    let canary = |pct: &str, reason: Option<&str>| {
        let mut args = vec![at("1.1.0"), "--env".into(), "production".into()];
        args.extend(["--canary".to_string(), pct.to_string()]);
        if let Some(r) = reason {
            args.extend(["--reason".to_string(), r.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        promote(&ws, &args)
    };

    canary("5", None)
        .success()
        .stdout_has("support_bot production: 1.0.0 → 1.0.0 + canary 1.1.0 at 5%");
    let state = env_state(&ws, "production");
    assert_eq!(state["active"], "1.0.0");
    assert_eq!(state["canary"]["version"], "1.1.0");
    assert_eq!(state["canary"]["percent"].as_f64(), Some(5.0));
    let e = last(&ws);
    assert_eq!(e["action"], "canary");
    assert_eq!(e["version"], "1.1.0");
    assert_eq!(e["from"], "1.0.0");
    assert_eq!(e["percent"].as_f64(), Some(5.0));
    assert_eq!(e["run"], format!("support:{run_11}"));
    assert_eq!(e["digest"], digest_of(&ws, "1.1.0").as_str());

    canary("25", None)
        .success()
        .stdout_has("1.0.0 + canary 1.1.0 at 5% → 1.0.0 + canary 1.1.0 at 25%");
    assert_eq!(
        env_state(&ws, "production")["canary"]["percent"].as_f64(),
        Some(25.0)
    );
    let n = history(&ws).len();

    // Lowering needs a reason; refused, nothing is written.
    let bytes = deploy_files(&ws);
    canary("10", None)
        .code(2)
        .stderr_has("at 25%")
        .stderr_has("needs `--reason`");
    assert_eq!(deploy_files(&ws), bytes);
    // Out-of-range percents, and percents finer than a basis point.
    for bad in ["0", "100", "-5", "150", "NaN"] {
        canary(bad, Some("r")).code(2);
        assert_eq!(deploy_files(&ws), bytes, "--canary {bad}");
    }
    for bad in ["0.125", "0.005", "12.345"] {
        canary(bad, Some("r"))
            .code(2)
            .stderr_has(&format!("`{bad}` has more than two decimals"))
            .stderr_has("basis points");
        assert_eq!(deploy_files(&ws), bytes, "--canary {bad}");
    }
    canary("150", Some("r"))
        .code(2)
        .stderr_has("more than 0 and less than 100 percent");
    // The same percent again: nothing to do, no entry.
    canary("25", None).success().stdout_has("nothing to do");
    assert_eq!(deploy_files(&ws), bytes);

    canary("10", Some("too many refusals")).success();
    let e = last(&ws);
    assert_eq!(e["percent"].as_f64(), Some(10.0));
    assert_eq!(e["reason"], "too many refusals");
    assert_eq!(history(&ws).len(), n + 1);

    // A full promote ends the canary.
    promote(&ws, &[&at("1.1.0"), "--env", "production"])
        .success()
        .stdout_has("support_bot production: 1.0.0 + canary 1.1.0 at 10% → 1.1.0");
    let state = env_state(&ws, "production");
    assert_eq!(state["active"], "1.1.0");
    assert!(state.get("canary").is_none(), "{state}");
    let e = last(&ws);
    assert_eq!(
        (
            e["action"].as_str(),
            e["version"].as_str(),
            e["from"].as_str()
        ),
        (Some("promote"), Some("1.1.0"), Some("1.0.0"))
    );
    assert_eq!(history(&ws).len(), n + 2);
    check_files(&ws);
}

#[test]
fn a_canary_needs_a_different_live_version() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    skip(&ws, "1.0.0", "staging");
    // Nothing live in production to split traffic with.
    let before = deploy_files(&ws);
    promote(
        &ws,
        &[
            &at("1.0.0"),
            "--env",
            "production",
            "--canary",
            "5",
            "--skip-gate",
            "--reason",
            "r",
        ],
    )
    .code(2)
    .stderr_has("no live version");
    skip(&ws, "1.0.0", "production");
    let before2 = deploy_files(&ws);
    assert_ne!(before, before2);
    // A canary of the live version itself.
    promote(
        &ws,
        &[
            &at("1.0.0"),
            "--env",
            "production",
            "--canary",
            "5",
            "--skip-gate",
            "--reason",
            "r",
        ],
    )
    .code(2)
    .stderr_has("already live");
    assert_eq!(deploy_files(&ws), before2);
}

// ---------------------------------------------------------------------------
// 6. rollback
// ---------------------------------------------------------------------------

#[test]
fn rollback_returns_to_the_previous_version_and_records_who_and_why() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    release_edit(&ws, "1.1.0");
    skip(&ws, "1.0.0", "staging");
    skip(&ws, "1.1.0", "staging");

    rollback(&ws, &["--env", "staging", "--reason", "refusals doubled"])
        .success()
        .stdout_has("support_bot staging: 1.1.0 → 1.0.0");
    assert_eq!(env_state(&ws, "staging")["active"], "1.0.0");
    let h = history(&ws);
    assert_eq!(h.len(), 3);
    let (p, r) = (&h[1], &h[2]);
    assert_eq!(
        (
            p["action"].as_str(),
            p["version"].as_str(),
            p["from"].as_str()
        ),
        (Some("promote"), Some("1.1.0"), Some("1.0.0"))
    );
    assert_eq!(r["action"], "rollback");
    assert_eq!(r["env"], "staging");
    assert_eq!(r["version"], "1.0.0");
    assert_eq!(r["from"], "1.1.0");
    assert_eq!(r["by"], USER);
    assert_eq!(r["reason"], "refusals doubled");
    assert_eq!(r["digest"], digest_of(&ws, "1.0.0").as_str());
    assert!(
        r.get("run").is_none() && r.get("skip_gate").is_none(),
        "{r}"
    );
    check_files(&ws);
}

#[test]
fn a_second_rollback_walks_further_back() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    release_edit(&ws, "1.1.0");
    release_edit(&ws, "1.2.0");
    for v in ["1.0.0", "1.1.0", "1.2.0"] {
        skip(&ws, v, "staging");
    }
    rollback(&ws, &["--env", "staging", "--reason", "one"])
        .success()
        .stdout_has("staging: 1.2.0 → 1.1.0");
    assert_eq!(env_state(&ws, "staging")["active"], "1.1.0");
    rollback(&ws, &["--env", "staging", "--reason", "two"])
        .success()
        .stdout_has("staging: 1.1.0 → 1.0.0");
    assert_eq!(env_state(&ws, "staging")["active"], "1.0.0");
    let h = history(&ws);
    assert_eq!(h.len(), 5);
    assert_eq!(h[3]["from"], "1.2.0");
    assert_eq!(h[4]["from"], "1.1.0");
    assert_eq!(h[4]["reason"], "two");

    // Nothing earlier than 1.0.0: refused, file byte-identical.
    let bytes = deploy_files(&ws);
    rollback(&ws, &["--env", "staging", "--reason", "three"])
        .code(2)
        .stdout_empty()
        .stderr_has("no earlier version than 1.0.0")
        .stderr_has("--to");
    assert_eq!(deploy_files(&ws), bytes);
}

#[test]
fn rollback_with_nothing_earlier_or_nothing_live_is_refused() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    skip(&ws, "1.0.0", "staging");
    let before = ws.tree();
    let run = rollback(&ws, &["--env", "staging", "--reason", "r"]);
    run.code(2)
        .stdout_empty()
        .stderr_has("no earlier version than 1.0.0 to roll back to");
    before.assert_unchanged(&ws.tree(), &run);

    let run = rollback(&ws, &["--env", "production", "--reason", "r"]);
    run.code(2)
        .stderr_has("nothing live in `production`")
        .stderr_has("nothing to roll back");
    before.assert_unchanged(&ws.tree(), &run);

    // With no releases.yaml at all, still a clean refusal and no file.
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    rollback(&ws, &["--env", "staging", "--reason", "r"])
        .code(2)
        .stderr_has("nothing live");
    assert!(no_deploy_files(&ws));
}

#[test]
fn rollback_of_a_running_canary_ends_it_and_keeps_stable() {
    let ws = Workspace::init();
    canary_running(&ws, "5");
    let n = history(&ws).len();
    rollback(&ws, &["--env", "production", "--reason", "latency"])
        .success()
        .stdout_has("support_bot production: 1.0.0 + canary 1.1.0 at 5% → 1.0.0");
    let state = env_state(&ws, "production");
    assert_eq!(state["active"], "1.0.0");
    assert!(state.get("canary").is_none(), "{state}");
    let e = last(&ws);
    assert_eq!(e["action"], "rollback");
    assert_eq!(e["version"], "1.0.0");
    assert_eq!(e["from"], "1.1.0", "the canary is what was rolled back");
    assert_eq!(e["reason"], "latency");
    assert_eq!(history(&ws).len(), n + 1);
    // Staging is untouched.
    assert_eq!(env_state(&ws, "staging")["active"], "1.1.0");
    // With the canary gone, a further rollback has nothing earlier.
    rollback(&ws, &["--env", "production", "--reason", "again"]).code(2);
}

#[test]
fn rollback_to_refuses_a_version_never_promoted() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    release_edit(&ws, "1.1.0");
    release_edit(&ws, "1.2.0");
    release_edit(&ws, "1.3.0");
    for v in ["1.0.0", "1.1.0", "1.2.0"] {
        skip(&ws, v, "staging");
    }
    let bytes = deploy_files(&ws);
    for (to, needle) in [
        ("1.3.0", "roll back only to a version that was"),
        ("9.9.9", "9.9.9"),
        ("not-a-version", "not-a-version"),
    ] {
        rollback(&ws, &["--env", "staging", "--to", to, "--reason", "r"])
            .code(2)
            .stdout_empty()
            .stderr_has(needle);
        assert_eq!(deploy_files(&ws), bytes, "--to {to}");
    }
    // The live version itself.
    rollback(&ws, &["--env", "staging", "--to", "1.2.0", "--reason", "r"])
        .code(2)
        .stderr_has("already live");
    assert_eq!(deploy_files(&ws), bytes);

    // --to skips over 1.1.0.
    rollback(
        &ws,
        &["--env", "staging", "--to", "1.0.0", "--reason", "INC-1"],
    )
    .success()
    .stdout_has("staging: 1.2.0 → 1.0.0");
    let e = last(&ws);
    assert_eq!(
        (e["version"].as_str(), e["from"].as_str()),
        (Some("1.0.0"), Some("1.2.0"))
    );
}

#[test]
fn rollback_to_refuses_a_version_never_live_in_that_environment() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    release_edit(&ws, "1.1.0");
    skip(&ws, "1.0.0", "staging");
    skip(&ws, "1.0.0", "production");
    // 1.1.0 only ever reached staging, with the gate skipped.
    skip(&ws, "1.1.0", "staging");
    let bytes = deploy_files(&ws);
    let run = rollback(
        &ws,
        &["--env", "production", "--to", "1.1.0", "--reason", "r"],
    );
    assert_eq!(
        env_state(&ws, "production")["active"],
        "1.0.0",
        "a rollback moved production to a version it never had\n{run}"
    );
    run.code(2).stderr_has("never live in `production`");
    assert_eq!(deploy_files(&ws), bytes);

    // A version that was only ever a canary here was never live here either.
    skip_canary(&ws, "1.1.0", "5");
    let bytes = deploy_files(&ws);
    rollback(
        &ws,
        &["--env", "production", "--to", "1.1.0", "--reason", "r"],
    )
    .code(2)
    .stderr_has("never live in `production`");
    assert_eq!(deploy_files(&ws), bytes);
}

#[test]
fn rollback_needs_a_reason() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    release_edit(&ws, "1.1.0");
    skip(&ws, "1.0.0", "staging");
    skip(&ws, "1.1.0", "staging");
    let bytes = deploy_files(&ws);
    rollback(&ws, &["--env", "staging"])
        .code(2)
        .stdout_empty()
        .stderr_has("--reason");
    rollback(&ws, &["--env", "staging", "--reason", "  "])
        .code(2)
        .stderr_has("`--reason` is empty");
    rollback(&ws, &["--env", "prod", "--reason", "r"])
        .code(2)
        .stderr_has("unknown environment `prod`");
    assert_eq!(deploy_files(&ws), bytes);
}

#[test]
fn rollback_needs_no_network_and_no_keys() {
    let ws = Workspace::init();
    canary_running(&ws, "5");
    skip(&ws, "1.1.0", "production");
    let mut cmd = ws.cmd([
        "rollback",
        NAME,
        "--env",
        "production",
        "--reason",
        "offline",
    ]);
    cmd.env("PROMPTCTL_USER", USER);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.ends_with("_API_KEY") {
            cmd.env_remove(&key);
        }
    }
    for key in ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"] {
        cmd.env_remove(key);
    }
    for var in [
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "ALL_PROXY",
        "https_proxy",
        "http_proxy",
        "all_proxy",
    ] {
        cmd.env(var, "http://127.0.0.1:9");
    }
    cmd.env_remove("NO_PROXY").env_remove("no_proxy");
    let started = Instant::now();
    let run = cmd.run();
    let took = started.elapsed();
    run.success().stdout_has("production: 1.1.0 → 1.0.0");
    assert_eq!(env_state(&ws, "production")["active"], "1.0.0");
    assert!(
        took < Duration::from_secs(5),
        "rollback took {took:?} (it should need no network)"
    );
}

#[test]
fn rollback_verifies_its_target_unless_told_not_to() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    release_edit(&ws, "1.1.0");
    skip(&ws, "1.0.0", "staging");
    skip(&ws, "1.1.0", "staging");
    ws.append(&format!("{}/system.md", version_dir("1.0.0")), "x");
    let bytes = deploy_files(&ws);
    rollback(&ws, &["--env", "staging", "--reason", "r"])
        .code(4)
        .stderr_has("system.md");
    assert_eq!(deploy_files(&ws), bytes);
    rollback(&ws, &["--env", "staging", "--reason", "r", "--no-verify"])
        .success()
        .stdout_has("staging: 1.1.0 → 1.0.0");
    assert_eq!(last(&ws)["action"], "rollback");
}

#[test]
fn a_hand_edited_block_style_file_loads_and_migrates_to_history_jsonl() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    release_edit(&ws, "1.1.0");
    let d = digest_of(&ws, "1.0.0");
    ws.write(
        RELEASES,
        format!(
            "# edited by hand\nenvironments:\n  staging:\n    active: 1.0.0\nhistory:\n  - at: \"2025-01-01T00:00:00Z\"\n    env: staging\n    action: promote\n    version: 1.0.0\n    by: ana\n    reason: \"by hand\"\n    digest: \"{d}\"\n"
        ),
    );
    let run = pc(&ws, &["log", NAME, "--json"]);
    run.success().stdout_has("by hand");
    assert!(!ws.path(HISTORY).exists(), "a read migrated\n{run}");
    skip(&ws, "1.1.0", "staging");
    let text = ws.read(RELEASES);
    assert_eq!(check_files(&ws), 2, "{text}");
    assert!(
        !text.contains("by hand"),
        "the history stayed inline\n{text}"
    );
    assert_eq!(
        env_state(&ws, "staging")["previous"],
        serde_json::json!(["1.0.0"])
    );
    let h = history(&ws);
    assert_eq!(h[0]["by"], "ana");
    assert_eq!(h[0]["reason"], "by hand");
    assert_eq!(h[1]["version"], "1.1.0");
    rollback(&ws, &["--env", "staging", "--reason", "back"])
        .success()
        .stdout_has("staging: 1.1.0 → 1.0.0");
    assert_eq!(check_files(&ws), 3);
}

/// `canary` and `promote --canary` refused a percent outside (0, 100), but
/// `status`, `resolve` and `verify` took one from a hand-edited file (at 150
/// every key went to the canary). Every command now refuses it, and one
/// finer than a basis point, naming the file and line, and writes nothing.
#[test]
fn a_hand_edited_canary_percent_outside_0_100_or_finer_than_a_basis_point_is_refused_everywhere() {
    let ws = Workspace::init();
    canary_running(&ws, "5");
    let good = ws.read(RELEASES);
    assert_eq!(good.matches("percent: 5.0\n").count(), 1, "{good}");
    let line = crate::util::line_of(&good, "percent: 5.0");
    ws.write("logs.jsonl", "");
    // What the file says, and how the error shows the number read.
    for (bad, shown, why) in [
        ("150", "150", "more than 0 and less than 100 percent"),
        ("0", "0", "more than 0 and less than 100 percent"),
        ("-1", "-1", "more than 0 and less than 100 percent"),
        ("100.0", "100", "more than 0 and less than 100 percent"),
        ("0.125", "0.125", "more than two decimals"),
        ("0.005", "0.005", "more than two decimals"),
    ] {
        ws.write(
            RELEASES,
            good.replace("percent: 5.0\n", &format!("percent: {bad}\n")),
        );
        let before = ws.tree();
        for args in [
            &["status"][..],
            &["status", NAME, "--json"],
            &["resolve", NAME, "--env", "production", "--key", "user-1"],
            &["resolve", NAME, "--env", "production", "--json"],
            &["verify"],
            &["verify", NAME, "--json"],
            &["log", NAME],
            &["export", "--env", "production"],
            &[
                "canary",
                NAME,
                "--env",
                "production",
                "--logs",
                "logs.jsonl",
            ],
            &["rollback", NAME, "--env", "production", "--reason", "r"],
            &[
                "promote",
                &at("1.1.0"),
                "--env",
                "production",
                "--canary",
                "10",
                "--skip-gate",
                "--reason",
                "r",
            ],
        ] {
            let run = pc(&ws, args);
            run.code(2)
                .stderr_has(&format!("`prompts/support_bot/releases.yaml:{line}:"))
                .stderr_has(&format!("`{shown}`"))
                .stderr_has(why)
                .stderr_has("hint: correct that line by hand");
            before.assert_unchanged(&ws.tree(), &run);
        }
    }
    // The same in a file from before history.jsonl, read without the YAML
    // parser for its history but with it for the environments.
    let d = digest_of(&ws, "1.0.0");
    let old = format!(
        "environments:\n  production:\n    active: 1.0.0\n    canary: {{ version: 1.1.0, percent: 150 }}\nhistory:\n- {}\n",
        old_line(1, "production", "1.0.0", None, &d)
    );
    ws.write(RELEASES, &old);
    let before = ws.tree();
    for args in [&["status"][..], &["verify"]] {
        let run = pc(&ws, args);
        run.code(2)
            .stderr_has("`prompts/support_bot/releases.yaml:4:")
            .stderr_has("less than 100 percent");
        before.assert_unchanged(&ws.tree(), &run);
    }

    // Mended by hand, every command reads it again.
    ws.write(RELEASES, good.replace("percent: 5.0\n", "percent: 12.5\n"));
    pc(&ws, &["verify"]).success();
    let j = pc(&ws, &["status", NAME, "--json"]).success().json();
    let prod = j
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["env"] == "production");
    assert_eq!(prod.unwrap()["percent"].as_f64(), Some(12.5), "{j}");
}

// ---------------------------------------------------------------------------
// 7–8. Durability: concurrent writers and kill -9
// ---------------------------------------------------------------------------

#[test]
fn fifty_concurrent_changes_each_append_exactly_one_entry() {
    let ws = Workspace::init();
    canary_running(&ws, "75");
    let old = history(&ws).len();

    // Each child moves the canary to its own percent (never 75), so each one
    // changes the state and appends one entry whatever the interleaving.
    let mut children = Vec::new();
    for i in 1..=50 {
        let pct = i.to_string();
        let reason = format!("r{i}");
        let mut cmd = ws.std_cmd([
            "promote",
            "support_bot@1.1.0",
            "--env",
            "production",
            "--canary",
            &pct,
            "--skip-gate",
            "--reason",
            &reason,
        ]);
        cmd.env("PROMPTCTL_USER", USER)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        children.push((i, cmd.spawn().expect("spawn promptctl")));
    }
    for (i, child) in children {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "child {i}: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let text = ws.read(RELEASES);
    assert_eq!(check_files(&ws), old + 50, "{text}");
    assert_eq!(
        ws.read_bytes(HISTORY).len() as u64,
        releases(&ws)["history"]["bytes"].as_u64().unwrap(),
        "a tail was left behind"
    );
    let h = history(&ws);
    let new = &h[old..];
    let percents: BTreeSet<u64> = new
        .iter()
        .map(|e| e["percent"].as_f64().unwrap() as u64)
        .collect();
    assert_eq!(percents, (1..=50).collect(), "one entry per child");
    let reasons: BTreeSet<String> = new
        .iter()
        .map(|e| e["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reasons.len(), 50);
    for e in new {
        assert_eq!(e["action"], "canary");
        assert_eq!(e["by"], USER);
        assert_eq!(
            e["reason"].as_str().unwrap(),
            format!("r{}", e["percent"].as_f64().unwrap() as u64)
        );
    }
    // The state is the last writer's.
    let state = env_state(&ws, "production");
    assert_eq!(state["canary"]["percent"], new[49]["percent"]);
    assert_eq!(state["active"], "1.0.0");
    pc(&ws, &["status", "--json"]).success();
}

/// The committed bytes of `history.jsonl`.
fn committed_history(ws: &Workspace) -> Vec<u8> {
    let bytes = releases(ws)["history"]["bytes"].as_u64().unwrap_or(0) as usize;
    std::fs::read(ws.path(HISTORY)).unwrap_or_default()[..bytes].to_vec()
}

#[test]
fn kill_9_during_a_write_leaves_the_old_state_or_the_new_one() {
    let ws = Workspace::init();
    canary_running(&ws, "75");
    let mut rng = Rng::from_clock();
    let seed = rng.0;
    // How often a kill landed after the append and before the commit.
    let mut tails = 0;
    for i in 1..=30u32 {
        let before = history(&ws);
        let committed = committed_history(&ws);
        let old_pct = env_state(&ws, "production")["canary"]["percent"].as_f64();
        // A percent no earlier iteration used: every completed write changes the state.
        let pct = format!("{}.5", i);
        let mut child = ws
            .std_cmd([
                "promote",
                "support_bot@1.1.0",
                "--env",
                "production",
                "--canary",
                &pct,
                "--skip-gate",
                "--reason",
                "r",
            ])
            .env("PROMPTCTL_USER", USER)
            .spawn()
            .expect("spawn promptctl");
        let delay = rng.below(16);
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill(); // SIGKILL on unix; fine if it already exited
        let status = child.wait().expect("wait");

        let ctx = format!("iteration {i}, delay {delay} ms, seed {seed}, status {status:?}");
        let text = ws.read(RELEASES);
        let n = check_files(&ws);
        let file = ws.read_bytes(HISTORY);
        assert!(
            file.starts_with(&committed),
            "committed history bytes changed: {ctx}"
        );
        if file.len() > committed_history(&ws).len() {
            tails += 1;
        }
        // Readers see the committed entries only, whatever tail was left.
        let log = pc(&ws, &["log", NAME, "--json"]).success().json();
        let deploys = log
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["what"] != "release")
            .count();
        assert_eq!(deploys, n, "{ctx}");
        let state = env_state(&ws, "production");
        let now_pct = state["canary"]["percent"].as_f64();
        if n == before.len() {
            assert_eq!(
                now_pct, old_pct,
                "no entry but the state moved: {ctx}\n{text}"
            );
            assert!(!status.success(), "exit 0 but no entry: {ctx}\n{text}");
        } else {
            assert_eq!(n, before.len() + 1, "{ctx}\n{text}");
            let want: f64 = pct.parse().unwrap();
            assert_eq!(now_pct, Some(want), "entry without state: {ctx}\n{text}");
            assert_eq!(last(&ws)["percent"].as_f64(), Some(want), "{ctx}");
            assert_eq!(
                &history(&ws)[..before.len()],
                &before[..],
                "earlier entries changed: {ctx}"
            );
        }
        assert_eq!(state["active"], "1.0.0", "{ctx}");
    }
    eprintln!("kill -9 left an uncommitted tail {tails} times in 30 (seed {seed})");

    // Leftover temp files and tails of killed writers break nothing.
    let n = history(&ws).len();
    skip_canary(&ws, "1.1.0", "99");
    assert_eq!(history(&ws).len(), n + 1);
    rollback(&ws, &["--env", "production", "--reason", "after the storm"])
        .success()
        .stdout_has("→ 1.0.0");
    for args in [
        &["status"][..],
        &["log", NAME][..],
        &["verify"][..],
        &["list"][..],
        &["resolve", NAME, "--env", "production", "--key", "k"][..],
    ] {
        pc(&ws, args).success();
    }
    assert_eq!(check_files(&ws), n + 2);
    assert_eq!(
        ws.read_bytes(HISTORY).len(),
        committed_history(&ws).len(),
        "the next writes cut the tail off"
    );
}

/// `promote 1.1.0 --canary PCT` in production, told to stop at `point`.
fn canary_stopped_at(ws: &Workspace, pct: &str, point: &str) -> Run {
    ws.cmd([
        "promote",
        "support_bot@1.1.0",
        "--env",
        "production",
        "--canary",
        pct,
        "--skip-gate",
        "--reason",
        "stopped",
    ])
    .env("PROMPTCTL_USER", USER)
    .env("PROMPTCTL_TEST_CRASH_AT", point)
    .run()
}

#[test]
fn a_write_stopped_during_or_after_its_append_commits_nothing_and_the_next_recovers() {
    for point in ["mid-append", "before-commit"] {
        let ws = Workspace::init();
        canary_running(&ws, "5");
        let n = check_files(&ws);
        let [releases_before, _] = deploy_files(&ws);
        let committed = committed_history(&ws);

        // 137: the process stopped at the point, as if killed there.
        let run = canary_stopped_at(&ws, "10", point);
        run.code(137);
        assert_eq!(
            deploy_files(&ws)[0],
            releases_before,
            "{point}: releases.yaml changed"
        );
        let file = ws.read_bytes(HISTORY);
        assert!(file.starts_with(&committed), "{point}");
        let tail = &file[committed.len()..];
        match point {
            "mid-append" => assert!(
                !tail.is_empty() && !tail.contains(&b'\n'),
                "{point}: not a torn line: {tail:?}"
            ),
            _ => {
                let line: Value = serde_json::from_slice(tail).expect("a whole line");
                assert_eq!(line["percent"].as_f64(), Some(10.0), "{point}");
            }
        }

        // Readers see the old state and the old history.
        assert_eq!(check_files(&ws), n, "{point}");
        let status = pc(&ws, &["status", "--json"]).success().json();
        let prod = status
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["env"] == "production" && r["prompt"] == "support_bot")
            .unwrap()
            .clone();
        assert_eq!(prod["percent"].as_f64(), Some(5.0), "{point}");
        assert_eq!(
            prod["last_change"]["percent"].as_f64(),
            Some(5.0),
            "{point}"
        );
        pc(&ws, &["log", NAME]).success().stdout_lacks("stopped");
        pc(&ws, &["verify"]).success();

        // The next write cuts the tail off and appends after the committed bytes.
        skip_canary(&ws, "1.1.0", "20");
        assert_eq!(check_files(&ws), n + 1, "{point}");
        let file = ws.read_bytes(HISTORY);
        assert!(file.starts_with(&committed), "{point}");
        let added: Value = serde_json::from_slice(&file[committed.len()..]).expect("one line");
        assert_eq!(added["percent"].as_f64(), Some(20.0), "{point}");
        assert_eq!(
            file.len(),
            committed_history(&ws).len(),
            "{point}: a tail is left"
        );
    }
}

// ---------------------------------------------------------------------------
// history.jsonl: what readers take, what they refuse, what writers read
// ---------------------------------------------------------------------------

#[test]
fn an_uncommitted_tail_is_ignored_by_readers_and_cut_off_by_the_next_write() {
    let ws = Workspace::init();
    two_versions_live(&ws);
    let n = check_files(&ws);
    let committed = ws.read_bytes(HISTORY);
    // A whole line and a torn one, as writers killed before their commit leave them.
    let mut ghost = last(&ws);
    ghost["version"] = Value::from("1.0.0");
    ghost["reason"] = Value::from("uncommitted");
    ws.append(HISTORY, &format!("{ghost}\n{{\"at\":\"2025-"));

    for args in [&["log", NAME, "--json"][..], &["status", "--json"][..]] {
        pc(&ws, args)
            .success()
            .stdout_lacks("uncommitted")
            .stdout_has("1.1.0");
    }
    let log = pc(&ws, &["log", NAME, "--json"]).success().json();
    assert_eq!(log.as_array().unwrap().len(), n + 2, "{log}"); // + 2 releases
    pc(&ws, &["verify"]).success();

    // A refusal leaves both files as they are, tail included.
    let files = deploy_files(&ws);
    rollback(&ws, &["--env", "staging", "--to", "9.9.9", "--reason", "r"]).code(2);
    assert_eq!(deploy_files(&ws), files);

    rollback(&ws, &["--env", "staging", "--reason", "r"])
        .success()
        .stdout_has("staging: 1.1.0 → 1.0.0");
    let file = ws.read_bytes(HISTORY);
    assert!(file.starts_with(&committed));
    let added: Value = serde_json::from_slice(&file[committed.len()..]).expect("one whole line");
    assert_eq!(added["action"], "rollback");
    assert_eq!(added["reason"], "r");
    assert_eq!(check_files(&ws), n + 1);
    assert_eq!(file.len(), committed_history(&ws).len(), "the tail is gone");
}

#[test]
fn a_history_file_shorter_than_committed_is_an_integrity_error() {
    let ws = Workspace::init();
    two_versions_live(&ws);
    let full = ws.read_bytes(HISTORY);
    let short = &full[..full.len() - 10];
    ws.write(HISTORY, short);
    for args in [
        &["log", NAME][..],
        &["status"][..],
        &["status", NAME, "--json"][..],
        &["resolve", NAME, "--env", "production"][..],
        &["verify"][..],
    ] {
        pc(&ws, args)
            .code(4)
            .stderr_has(&format!("`{HISTORY}` has {} bytes", short.len()))
            .stderr_has("committed history was lost")
            .stderr_has("git checkout");
    }
    // Writers refuse and write nothing, not even a plain rollback.
    let before = ws.tree();
    let run = rollback(&ws, &["--env", "staging", "--reason", "r"]);
    run.code(4).stderr_has(HISTORY);
    before.assert_unchanged(&ws.tree(), &run);
    let run = promote(
        &ws,
        &[
            &at("1.0.0"),
            "--env",
            "staging",
            "--skip-gate",
            "--reason",
            "r",
        ],
    );
    run.code(4).stderr_has(HISTORY);
    before.assert_unchanged(&ws.tree(), &run);

    std::fs::remove_file(ws.path(HISTORY)).unwrap();
    pc(&ws, &["log", NAME])
        .code(4)
        .stderr_has(&format!("`{HISTORY}` is missing"));
    let before = ws.tree();
    let run = rollback(&ws, &["--env", "staging", "--reason", "r"]);
    run.code(4);
    before.assert_unchanged(&ws.tree(), &run);

    // As long as committed, but two committed lines made one: changed, not lost.
    let joined = String::from_utf8(full.clone())
        .unwrap()
        .replacen('\n', " ", 1);
    ws.write(HISTORY, &joined);
    pc(&ws, &["log", NAME])
        .code(4)
        .stderr_has(HISTORY)
        .stderr_has("hold 2 whole lines")
        .stderr_has("commits 3 entries");

    ws.write(HISTORY, &full);
    pc(&ws, &["log", NAME]).success();
    rollback(&ws, &["--env", "staging", "--reason", "r"]).success();
}

#[test]
fn a_plain_rollback_never_reads_the_history() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    release_edit(&ws, "1.1.0");
    release_edit(&ws, "1.2.0");
    for v in ["1.0.0", "1.1.0", "1.2.0"] {
        skip(&ws, v, "staging");
    }
    // Spoil every committed line, keeping its length and line break: any
    // command that parses the history now fails.
    let spoiled: String = ws
        .read(HISTORY)
        .lines()
        .map(|l| format!("{}\n", "x".repeat(l.len())))
        .collect();
    ws.write(HISTORY, &spoiled);
    pc(&ws, &["log", NAME])
        .code(2)
        .stderr_has(&format!("{HISTORY}:1:"));

    rollback(&ws, &["--env", "staging", "--reason", "one"])
        .success()
        .stdout_has("staging: 1.2.0 → 1.1.0");
    // Back to 1.2.0, no longer in `previous`: only the history can say it
    // was live, so this one reads it, and refuses.
    let files = deploy_files(&ws);
    rollback(&ws, &["--env", "staging", "--to", "1.2.0", "--reason", "r"])
        .code(2)
        .stderr_has(&format!("{HISTORY}:1:"));
    assert_eq!(deploy_files(&ws), files);
    // 1.0.0 is in `previous`: no read needed.
    assert_eq!(
        env_state(&ws, "staging")["previous"],
        serde_json::json!(["1.0.0"])
    );
    rollback(
        &ws,
        &["--env", "staging", "--to", "1.0.0", "--reason", "two"],
    )
    .success()
    .stdout_has("staging: 1.1.0 → 1.0.0");
    // Production requires staging: 1.0.0 is live there, no read needed.
    skip(&ws, "1.0.0", "production");

    let file = ws.read(HISTORY);
    assert!(file.starts_with(&spoiled));
    let added: Vec<Value> = file[spoiled.len()..]
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let what: Vec<(&str, &str)> = added
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["version"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        what,
        [
            ("rollback", "1.1.0"),
            ("rollback", "1.0.0"),
            ("promote", "1.0.0")
        ]
    );
    assert_eq!(
        releases(&ws)["history"]["entries"].as_u64(),
        Some(6),
        "{file}"
    );
}

/// One history line as promptctl wrote it before `history.jsonl`.
fn old_line(i: u32, env: &str, version: &str, from: Option<&str>, digest: &str) -> String {
    let from = from.map_or(String::new(), |f| format!(r#""from":"{f}","#));
    format!(
        r#"{{"at":"2025-01-0{i}T00:00:00Z","env":"{env}","action":"promote","version":"{version}",{from}"by":"ana","reason":"line {i}","digest":"{digest}","skip_gate":true}}"#
    )
}

#[test]
fn a_file_with_the_history_inline_loads_and_migrates_on_the_next_change() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    release_edit(&ws, "1.1.0");
    release_edit(&ws, "1.2.0");
    let d = |v| digest_of(&ws, v);
    let lines = [
        old_line(1, "staging", "1.0.0", None, &d("1.0.0")),
        old_line(2, "staging", "1.1.0", Some("1.0.0"), &d("1.1.0")),
        old_line(3, "production", "1.0.0", None, &d("1.0.0")),
        old_line(4, "staging", "1.2.0", Some("1.1.0"), &d("1.2.0")),
    ];
    let mut old = "environments:\n  production:\n    active: 1.0.0\n  staging:\n    active: 1.2.0\nhistory:\n".to_string();
    for l in &lines {
        old.push_str(&format!("- {l}\n"));
    }
    ws.write(RELEASES, &old);

    // Reads and refusals write nothing.
    let log = pc(&ws, &["log", NAME, "--json"]).success().json();
    let reasons: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["what"] != "release")
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 4, "{log}");
    assert!(reasons[0].ends_with("line 4"), "{reasons:?}");
    pc(&ws, &["status", "--json"]).success();
    let before = ws.tree();
    let run = rollback(&ws, &["--env", "staging", "--to", "9.9.9", "--reason", "r"]);
    run.code(2);
    before.assert_unchanged(&ws.tree(), &run);
    assert!(!ws.path(HISTORY).exists());

    // The stack comes from the inline history: 1.2.0 → 1.1.0.
    rollback(&ws, &["--env", "staging", "--reason", "migrated"])
        .success()
        .stdout_has("staging: 1.2.0 → 1.1.0");
    assert_eq!(check_files(&ws), 5);
    let file = ws.read(HISTORY);
    let got: Vec<&str> = file.lines().collect();
    assert_eq!(
        got[..4],
        lines.iter().map(String::as_str).collect::<Vec<_>>()[..],
        "byte for byte, in order"
    );
    assert_eq!(history(&ws)[4]["reason"], "migrated");
    let text = ws.read(RELEASES);
    assert!(!text.contains("line 1"), "{text}");
    assert_eq!(
        env_state(&ws, "staging")["previous"],
        serde_json::json!(["1.0.0"])
    );
    assert_eq!(
        env_state(&ws, "production")["previous"],
        serde_json::json!([])
    );

    rollback(&ws, &["--env", "staging", "--reason", "again"])
        .success()
        .stdout_has("staging: 1.1.0 → 1.0.0");
    assert_eq!(check_files(&ws), 6);
    assert!(
        ws.read(HISTORY).starts_with(&file),
        "appended, not rewritten"
    );
}

#[test]
fn a_migration_stopped_before_its_commit_leaves_the_inline_history_in_charge() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    release_edit(&ws, "1.1.0");
    let d = |v| digest_of(&ws, v);
    let lines = [
        old_line(1, "staging", "1.0.0", None, &d("1.0.0")),
        old_line(2, "production", "1.0.0", None, &d("1.0.0")),
        old_line(3, "staging", "1.1.0", Some("1.0.0"), &d("1.1.0")),
    ];
    let mut old = "environments:\n  production:\n    active: 1.0.0\n  staging:\n    active: 1.1.0\nhistory:\n".to_string();
    for l in &lines {
        old.push_str(&format!("- {l}\n"));
    }
    ws.write(RELEASES, &old);
    skip_canary(&ws, "1.1.0", "5"); // migrates
    ws.write(RELEASES, &old);
    std::fs::remove_file(ws.path(HISTORY)).unwrap();

    canary_stopped_at(&ws, "10", "before-commit").code(137);
    assert_eq!(ws.read(RELEASES), old, "releases.yaml changed");
    assert_eq!(
        ws.read(HISTORY).lines().count(),
        4,
        "history.jsonl was written whole"
    );
    // The old file does not reference history.jsonl, so it still wins.
    let log = pc(&ws, &["log", NAME, "--json"]).success().json();
    assert_eq!(log.as_array().unwrap().len(), 3 + 2, "{log}");
    pc(&ws, &["log", NAME]).success().stdout_lacks("stopped");

    skip_canary(&ws, "1.1.0", "20");
    assert_eq!(check_files(&ws), 4);
    let h = history(&ws);
    assert_eq!(h[2]["reason"], "line 3");
    assert_eq!(h[3]["percent"].as_f64(), Some(20.0));
    assert_eq!(
        env_state(&ws, "production")["canary"]["percent"].as_f64(),
        Some(20.0)
    );
}

// ---------------------------------------------------------------------------
// 9. resolve
// ---------------------------------------------------------------------------

#[test]
fn resolve_is_sticky_and_reports_version_digest_and_arm() {
    let ws = Workspace::init();
    canary_running(&ws, "25");
    let args = [
        "resolve",
        NAME,
        "--env",
        "production",
        "--key",
        "user-1",
        "--json",
    ];
    let first = pc(&ws, &args).success().json();
    for key in ["name", "env", "key", "version", "digest", "arm"] {
        assert!(first.get(key).is_some(), "{key} missing: {first}");
    }
    assert_eq!(first["name"], NAME);
    assert_eq!(first["env"], "production");
    assert_eq!(first["key"], "user-1");
    // The documented test vector: user-1 is in bucket 8391, above 2500.
    assert_eq!(bucket("production", "user-1"), 8391);
    assert_eq!(first["arm"], "stable");
    assert_eq!(first["version"], "1.0.0");
    assert_eq!(first["digest"], digest_of(&ws, "1.0.0").as_str());
    for _ in 0..3 {
        assert_eq!(pc(&ws, &args).success().json(), first, "not sticky");
    }

    // A key in the canary gets 1.1.0 and its digest.
    let key = (0..)
        .map(|i| format!("user-{i}"))
        .find(|k| bucket("production", k) < 2500)
        .unwrap();
    let c = pc(
        &ws,
        &[
            "resolve",
            NAME,
            "--env",
            "production",
            "--key",
            &key,
            "--json",
        ],
    )
    .success()
    .json();
    assert_eq!(c["arm"], "canary");
    assert_eq!(c["version"], "1.1.0");
    assert_eq!(c["digest"], digest_of(&ws, "1.1.0").as_str());

    // Text output; no key means the stable version.
    pc(
        &ws,
        &["resolve", NAME, "--env", "production", "--key", &key],
    )
    .success()
    .stdout_has("support_bot@1.1.0 (canary, digest");
    let s = pc(&ws, &["resolve", NAME, "--env", "production", "--json"])
        .success()
        .json();
    assert_eq!(
        (s["arm"].as_str(), s["version"].as_str()),
        (Some("stable"), Some("1.0.0"))
    );
}

/// `round(percent × 100)` rounded 0.125 to 13 in Rust and to 12 in Python,
/// and `0.29 * 100.0` is 28.999999999999996: the share is whole basis points,
/// and a key is in the canary when its bucket is below them. The keys are
/// test vectors in docs/environments.md.
#[test]
fn a_canary_is_whole_basis_points_and_a_bucket_equal_to_them_is_stable() {
    let ws = Workspace::init();
    canary_running(&ws, "0.29");
    assert_eq!(
        env_state(&ws, "production")["canary"]["percent"].as_f64(),
        Some(0.29)
    );
    let arm = |key: &str| {
        let j = pc(
            &ws,
            &[
                "resolve",
                NAME,
                "--env",
                "production",
                "--key",
                key,
                "--json",
            ],
        )
        .success()
        .json();
        (
            j["bucket"].as_u64().unwrap(),
            j["arm"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(arm("user-6661"), (28, "canary".into()));
    assert_eq!(arm("user-67"), (29, "stable".into()));
    let export = pc(&ws, &["export", "--env", "production"]).success().json();
    assert_eq!(export["prompts"][NAME]["canary"]["basis_points"], 29);

    for (pct, key, bucket, want) in [
        ("12.5", "user-6931", 1249, "canary"),
        ("12.5", "user-5732", 1250, "stable"),
        ("0.05", "user-11899", 4, "canary"),
        ("0.05", "user-2950", 5, "stable"),
        ("0.13", "user-6963", 12, "canary"),
        ("0.13", "user-4039", 13, "stable"),
    ] {
        skip_canary(&ws, "1.1.0", pct);
        assert_eq!(arm(key), (bucket, want.into()), "{key} at {pct}%");
    }
}

/// Resolves `keys` in parallel; returns (key, arm, version) per key.
fn resolve_all(ws: &Workspace, keys: &[String]) -> Vec<(String, String, String)> {
    let chunks: Vec<&[String]> = keys.chunks(keys.len().div_ceil(8)).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|k| {
                            let j = pc(
                                ws,
                                &["resolve", NAME, "--env", "production", "--key", k, "--json"],
                            )
                            .success()
                            .json();
                            (
                                k.clone(),
                                j["arm"].as_str().unwrap().to_string(),
                                j["version"].as_str().unwrap().to_string(),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a resolve thread"))
            .collect()
    })
}

#[test]
fn the_canary_share_matches_the_percent() {
    let ws = Workspace::init();
    canary_running(&ws, "25");
    let keys: Vec<String> = (0..2000).map(|i| format!("user-{i}")).collect();
    let got = resolve_all(&ws, &keys);
    assert_eq!(got.len(), 2000);
    let mut canary = 0;
    for (k, arm, version) in &got {
        let want_canary = bucket("production", k) < 2500;
        assert_eq!(arm == "canary", want_canary, "{k}: the documented rule");
        let want = if want_canary { "1.1.0" } else { "1.0.0" };
        assert_eq!(version, want, "{k}");
        canary += usize::from(want_canary);
    }
    let share = canary as f64 / 2000.0 * 100.0;
    assert!((22.0..=28.0).contains(&share), "canary share {share}%");
}

#[test]
fn with_no_canary_every_key_is_stable() {
    let ws = Workspace::init();
    canary_running(&ws, "50");
    rollback(&ws, &["--env", "production", "--reason", "end it"]).success();
    let keys: Vec<String> = (0..200).map(|i| format!("user-{i}")).collect();
    for (k, arm, version) in resolve_all(&ws, &keys) {
        assert_eq!((arm.as_str(), version.as_str()), ("stable", "1.0.0"), "{k}");
    }
}

#[test]
fn resolve_render_includes_the_messages() {
    let ws = Workspace::init();
    two_versions_live(&ws);
    let j = pc(
        &ws,
        &[
            "resolve",
            NAME,
            "--env",
            "production",
            "--key",
            "user-1",
            "--render",
            "--var",
            "question=hi",
            "--json",
        ],
    )
    .success()
    .json();
    let msgs = j["messages"].as_array().expect("messages");
    assert_eq!(msgs.len(), 2, "{j}");
    assert_eq!(msgs[0]["role"], "system");
    assert!(
        msgs[0]["content"]
            .as_str()
            .unwrap()
            .contains("support assistant for Acme Projects"),
        "{j}"
    );
    assert_eq!(msgs[1]["role"], "user");
    assert_eq!(msgs[1]["content"], "hi");
    pc(
        &ws,
        &[
            "resolve",
            NAME,
            "--env",
            "production",
            "--key",
            "user-1",
            "--render",
            "--var",
            "question=hi",
        ],
    )
    .success()
    .stdout_has("support_bot@1.0.0 (stable")
    .stdout_has("--- user ---\nhi");

    // --var without --render is bad usage; a missing required variable too.
    pc(
        &ws,
        &[
            "resolve",
            NAME,
            "--env",
            "production",
            "--var",
            "question=hi",
        ],
    )
    .code(2);
    pc(&ws, &["resolve", NAME, "--env", "production", "--render"])
        .code(2)
        .stderr_has("question");
}

#[test]
fn resolve_with_nothing_live_is_refused() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    pc(&ws, &["resolve", NAME, "--env", "production", "--key", "k"])
        .code(2)
        .stderr_has("nothing live in `production`");
}

// ---------------------------------------------------------------------------
// 10. status and log
// ---------------------------------------------------------------------------

#[test]
fn status_lists_every_environment_with_its_live_version() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    let run = pc(&ws, &["status"]);
    run.success().stdout_has("production").stdout_has("staging");

    release_edit(&ws, "1.1.0");
    skip(&ws, "1.0.0", "staging");
    skip(&ws, "1.0.0", "production");
    skip(&ws, "1.1.0", "staging");
    skip_canary(&ws, "1.1.0", "5");

    let run = pc(&ws, &["status"]);
    run.success();
    let line = |env: &str| {
        run.stdout
            .lines()
            .find(|l| l.contains(&format!(" {env} ")) && l.contains("support_bot"))
            .unwrap_or_else(|| panic!("no {env} row\n{run}"))
            .to_string()
    };
    let prod = line("production");
    assert!(prod.contains("1.0.0"), "{prod}");
    assert!(prod.contains("1.1.0 at 5%"), "{prod}");
    assert!(prod.contains("canary 1.1.0 by tester"), "{prod}");
    let staging = line("staging");
    assert!(staging.contains("1.1.0"), "{staging}");
    assert!(staging.contains("promote 1.1.0 by tester"), "{staging}");

    let rows = pc(&ws, &["status", "--json"]).success().json();
    let rows = rows.as_array().expect("an array");
    let row = |env: &str| {
        rows.iter()
            .find(|r| r["env"] == env && r["prompt"] == NAME)
            .unwrap_or_else(|| panic!("no {env}"))
    };
    assert_eq!(row("production")["live"], "1.0.0");
    assert_eq!(row("production")["canary"], "1.1.0");
    assert_eq!(row("production")["percent"].as_f64(), Some(5.0));
    assert_eq!(row("production")["last_change"]["action"], "canary");
    assert_eq!(row("staging")["live"], "1.1.0");
    assert!(row("staging")["canary"].is_null());
    assert_eq!(row("staging")["prompt"], NAME);
    pc(&ws, &["status", NAME, "--json"]).success();
    pc(&ws, &["status", "no_such_prompt"]).code(2);
}

#[test]
fn log_lists_releases_and_deploys_newest_first_with_who() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    release_edit(&ws, "1.1.0");
    // Later and later instants, so "newest first" is not an accident of order.
    let at_epoch = |secs: u64, args: &[&str]| {
        let epoch = (crate::util::EPOCH.parse::<u64>().unwrap() + secs).to_string();
        let run = ws
            .cmd(args)
            .env("PROMPTCTL_USER", USER)
            .env("SOURCE_DATE_EPOCH", epoch)
            .run();
        run.success();
    };
    at_epoch(
        60,
        &[
            "promote",
            "support_bot@1.0.0",
            "--env",
            "staging",
            "--skip-gate",
            "--reason",
            "a",
        ],
    );
    at_epoch(
        120,
        &[
            "promote",
            "support_bot@1.1.0",
            "--env",
            "staging",
            "--skip-gate",
            "--reason",
            "b",
        ],
    );
    at_epoch(
        180,
        &[
            "rollback",
            NAME,
            "--env",
            "staging",
            "--reason",
            "answers too long",
        ],
    );

    let run = pc(&ws, &["log", NAME]);
    run.success();
    let out = &run.stdout;
    let pos = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("no {needle:?}\n{run}"))
    };
    let rb = pos("2025-11-21T10:03:00Z │ rollback");
    let p2 = pos("2025-11-21T10:02:00Z │ promote");
    let p1 = pos("2025-11-21T10:01:00Z │ promote");
    let r = pos("│ release");
    assert!(rb < p2 && p2 < p1 && p1 < r, "not newest first\n{run}");
    let rb_line = out.lines().find(|l| l.contains("rollback")).unwrap();
    assert!(rb_line.contains("tester"), "{rb_line}");
    assert!(
        rb_line.contains("from 1.1.0: answers too long"),
        "{rb_line}"
    );
    run.stdout_has("release 1.1.0").stdout_has("first");

    let j = pc(&ws, &["log", NAME, "--json"]).success().json();
    let whats: Vec<&str> = j
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap())
        .collect();
    assert_eq!(
        whats,
        ["rollback", "promote", "promote", "release", "release"]
    );
    assert_eq!(j[0]["by"], USER);
    assert_eq!(j[0]["env"], "staging");
    assert!(j[3]["by"].is_null());
}

// ---------------------------------------------------------------------------
// 11. export
// ---------------------------------------------------------------------------

#[test]
fn export_bundles_stable_and_canary_with_the_bucketing_rule() {
    let ws = Workspace::init();
    two_versions_live(&ws);
    pc(&ws, &["export", "--env", "production", "-o", "bundle.json"])
        .success()
        .stdout_empty()
        .stderr_has("bundle.json");
    let b: Value = serde_json::from_str(&ws.read("bundle.json")).expect("bundle is JSON");
    assert_eq!(b["env"], "production");
    let p = &b["prompts"][NAME];
    assert_eq!(p["stable"]["version"], "1.0.0");
    assert_eq!(p["stable"]["digest"], digest_of(&ws, "1.0.0").as_str());
    let msgs = p["stable"]["messages"].as_array().expect("messages");
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["role"], "system");
    assert_eq!(msgs[1]["template"], "{{question}}");
    assert!(p["canary"].is_null(), "{p}");
    let rule = b["bucketing"]["bucket"]
        .as_str()
        .expect("the bucketing rule");
    assert!(
        rule.contains("sha256(name || 0x00 || env || 0x00 || key)") && rule.contains("10000"),
        "{rule}"
    );
    assert_eq!(
        b["bucketing"]["canary_if"],
        "bucket < basis_points (percent * 100, a whole number)"
    );

    skip_canary(&ws, "1.1.0", "25");
    let out = pc(&ws, &["export", "--env", "production"]).success().json();
    let c = &out["prompts"][NAME]["canary"];
    assert_eq!(c["version"], "1.1.0");
    assert_eq!(c["digest"], digest_of(&ws, "1.1.0").as_str());
    assert_eq!(c["percent"].as_f64(), Some(25.0));
    assert_eq!(c["basis_points"], 2500);
    assert!(c["messages"].is_array());
    assert_eq!(out["prompts"][NAME]["stable"]["version"], "1.0.0");

    // Staging has 1.1.0 live; an env with nothing live exports no prompts.
    let st = pc(&ws, &["export", "--env", "staging"]).success().json();
    assert_eq!(st["prompts"][NAME]["stable"]["version"], "1.1.0");

    // Every exported version is verified.
    ws.append(&format!("{}/system.md", version_dir("1.1.0")), "x");
    let before = ws.read_bytes("bundle.json");
    pc(&ws, &["export", "--env", "production", "-o", "bundle.json"]).code(4);
    assert_eq!(
        ws.read_bytes("bundle.json"),
        before,
        "a failed export wrote"
    );
}

#[test]
fn export_of_an_environment_with_nothing_live_has_no_prompts() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    let b = pc(&ws, &["export", "--env", "production"]).success().json();
    assert_eq!(b["prompts"], serde_json::json!({}));
    pc(&ws, &["export", "--env", "prod"]).code(2);
}

// ---------------------------------------------------------------------------
// 12. canary analysis on production logs
// ---------------------------------------------------------------------------

/// `n` log lines of `version` in production, latencies 100, 101, … × `slow`.
fn arm(version: &str, n: usize, slow: f64) -> Vec<String> {
    (0..n)
        .map(|i| {
            serde_json::json!({
                "ts": "2026-11-21T10:00:00Z",
                "prompt": NAME,
                "version": version,
                "env": "production",
                "key": format!("{version}-user-{i}"),
                "latency_ms": (100 + i) as f64 * slow,
                "outcome": "ok",
            })
            .to_string()
        })
        .collect()
}

/// Writes `prod.jsonl` with the stable (1.0.0) and canary (1.1.0) arms interleaved.
fn write_logs(ws: &Workspace, stable: usize, canary: usize, canary_slow: f64) -> &'static str {
    let (s, c) = (arm("1.0.0", stable, 1.0), arm("1.1.0", canary, canary_slow));
    let mut lines = Vec::new();
    for i in 0..s.len().max(c.len()) {
        lines.extend(s.get(i).cloned());
        lines.extend(c.get(i).cloned());
    }
    ws.write("prod.jsonl", lines.join("\n") + "\n");
    "prod.jsonl"
}

fn canary_cmd(ws: &Workspace, extra: &[&str]) -> Run {
    let mut args = vec![
        "canary",
        NAME,
        "--env",
        "production",
        "--logs",
        "prod.jsonl",
    ];
    args.extend_from_slice(extra);
    pc(ws, &args)
}

#[test]
fn a_canary_30_percent_slower_at_p95_is_a_rollback() {
    let ws = Workspace::init();
    canary_running(&ws, "50");
    write_logs(&ws, 400, 400, 1.3);
    let bytes = deploy_files(&ws);
    let run = canary_cmd(&ws, &[]);
    run.code(1)
        .stdout_has("canary `1.1.0` (50%) vs stable `1.0.0`")
        .stdout_has("requests: stable 400, canary 400")
        .stdout_has("verdict: rollback")
        .stderr_has("canary verdict: rollback")
        .stderr_has("latency_p95_ms");
    let p95 = run
        .stdout
        .lines()
        .find(|l| l.contains("latency_p95_ms"))
        .unwrap_or_else(|| panic!("no latency_p95_ms row\n{run}"));
    assert!(p95.contains("fail") && p95.contains("+30.0%"), "{p95}");
    assert_eq!(deploy_files(&ws), bytes, "without --apply nothing changes");

    let j = canary_cmd(&ws, &["--json"]).code(1).json();
    assert_eq!(j["verdict"], "rollback");
    assert_eq!(j["stable"]["requests"], 400);
    assert_eq!(j["canary"]["requests"], 400);
    let k = j["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "latency_p95_ms")
        .expect("a latency_p95_ms kpi");
    assert_eq!(k["check"], "fail");
    assert_eq!(j["srm"]["mismatch"], false);
}

#[test]
fn an_equal_canary_is_a_promote() {
    let ws = Workspace::init();
    canary_running(&ws, "50");
    write_logs(&ws, 400, 400, 1.0);
    let bytes = deploy_files(&ws);
    canary_cmd(&ws, &[])
        .success()
        .stdout_has("verdict: promote")
        .stdout_has("sample ratio: ok");
    let j = canary_cmd(&ws, &["--json"]).success().json();
    assert_eq!(j["verdict"], "promote");
    assert_eq!(j["reasons"], serde_json::json!([]));
    // --apply acts only on a rollback verdict.
    canary_cmd(&ws, &["--apply"]).success();
    assert_eq!(deploy_files(&ws), bytes);
}

#[test]
fn twenty_requests_are_a_hold() {
    let ws = Workspace::init();
    canary_running(&ws, "50");
    write_logs(&ws, 10, 10, 1.3);
    let bytes = deploy_files(&ws);
    canary_cmd(&ws, &[])
        .code(5)
        .stdout_has("verdict: hold")
        .stdout_has("too few requests")
        .stderr_has("canary verdict: hold");
    canary_cmd(&ws, &["--apply"]).code(5);
    assert_eq!(deploy_files(&ws), bytes, "a hold is not applied");
}

#[test]
fn a_70_30_split_at_a_50_percent_canary_is_a_sample_ratio_mismatch() {
    let ws = Workspace::init();
    canary_running(&ws, "50");
    write_logs(&ws, 700, 300, 1.0);
    canary_cmd(&ws, &[])
        .code(5)
        .stdout_has("sample ratio: MISMATCH")
        .stdout_has("sample-ratio mismatch")
        .stdout_has("700/300")
        .stderr_has("sample-ratio mismatch");
    let j = canary_cmd(&ws, &["--json"]).code(5).json();
    assert_eq!(j["verdict"], "hold");
    assert_eq!(j["srm"]["mismatch"], true);
}

#[test]
fn canary_apply_rolls_a_failing_canary_back() {
    let ws = Workspace::init();
    canary_running(&ws, "50");
    write_logs(&ws, 400, 400, 1.3);
    let n = history(&ws).len();
    canary_cmd(&ws, &["--apply"])
        .code(1)
        .stdout_has("verdict: rollback")
        .stdout_has("production: 1.0.0 + canary 1.1.0 at 50% → 1.0.0");
    let state = env_state(&ws, "production");
    assert_eq!(state["active"], "1.0.0");
    assert!(state.get("canary").is_none(), "{state}");
    let h = history(&ws);
    assert_eq!(h.len(), n + 1);
    let e = &h[n];
    assert_eq!(e["action"], "rollback");
    assert_eq!(e["version"], "1.0.0");
    assert_eq!(e["from"], "1.1.0");
    assert_eq!(e["by"], USER);
    let reason = e["reason"].as_str().unwrap();
    assert!(
        reason.contains("canary analysis") && reason.contains("latency_p95_ms"),
        "{reason}"
    );
    check_files(&ws);

    // No canary left to judge.
    canary_cmd(&ws, &[])
        .code(2)
        .stderr_has("no canary is running");
}

#[test]
fn canary_reports_a_bad_log_line_by_file_and_line() {
    let ws = Workspace::init();
    canary_running(&ws, "50");
    write_logs(&ws, 5, 5, 1.0);
    ws.append("prod.jsonl", "{\"ts\": \"x\"}\n");
    canary_cmd(&ws, &[])
        .code(2)
        .stderr_has("prod.jsonl:11")
        .stderr_has("missing field");
}

// ---------------------------------------------------------------------------
// The history line form stays YAML whatever a reason contains
// ---------------------------------------------------------------------------

/// Promotes 1.0.0 to staging with `reason`, then checks that the reason
/// reads back unchanged both as YAML and through promptctl itself.
fn reason_round_trips(reason: &str) {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    release_edit(&ws, "1.1.0");
    promote(
        &ws,
        &[
            &at("1.0.0"),
            "--env",
            "staging",
            "--skip-gate",
            "--reason",
            reason,
        ],
    )
    .success();
    // promptctl reads it back (and a further change carries the line over).
    skip(&ws, "1.1.0", "staging");
    let log = pc(&ws, &["log", NAME, "--json"]).success().json();
    let detail = log[1]["detail"].as_str().unwrap();
    assert!(detail.ends_with(reason), "{detail:?}");
    assert_eq!(check_files(&ws), 2);
    let text = ws.read(HISTORY);
    assert_eq!(
        history(&ws)[0]["reason"].as_str(),
        Some(reason),
        "a JSON reader sees another reason\n{text}"
    );
    // Readers that also break lines at CR, NEL, LS or PS see two entries.
    let pieces = text
        .split(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'])
        .filter(|l| !l.is_empty())
        .count();
    assert_eq!(pieces, 2, "{text}");
}

#[test]
fn a_reason_with_quotes_newlines_and_yaml_syntax_round_trips() {
    reason_round_trips(
        "tab\there \"quoted\" back\\slash # not a comment: key: value\n- {not: a list}\r\n🚀 done",
    );
}

#[test]
fn a_reason_with_unicode_line_separators_round_trips() {
    reason_round_trips("before\u{2028}after\u{2029}and\u{85}end");
}
