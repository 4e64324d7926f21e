//! The promote gate (issue 10 §1): only the newest run of each gating suite
//! for the exact digest decides, and it counts only if it is complete, on
//! the suite's own provider, and passes when the gates are re-applied from
//! its cases. Also `promote --explain`, `merge` of an incomplete shard set,
//! bounds on thresholds and prices, and the gate's decision in evidence
//! packs.
//!
//! Every refusal is checked for exit 1, its reason on stderr and nothing
//! written; every refusal has a positive control that promotes.
//!
//! "Newest" is decided by `finished_at`, then the run id. Runs here are
//! told apart by `finished_at` (each command gets its own
//! `SOURCE_DATE_EPOCH`, see [`pc_at`]), never by the order of two runs that
//! finished in the same second (see the ignored `bug_*` tests at the end).

use serde_json::Value;

use crate::util::{EPOCH, NAME, Run, SYSTEM, Workspace, line_of};

const RELEASES: &str = "prompts/support_bot/releases.yaml";
const HISTORY: &str = "prompts/support_bot/history.jsonl";
const USER: &str = "tester";
const SUITE: &str = "evals/support.yaml";
const CONFIG: &str = "promptctl.yaml";
/// A case of the bundled suite whose recorded answer passes.
const ONE_CASE: &str = "billing-double-charge";

// ---------------------------------------------------------------------------
// Helpers (the first ones are copied from tests/deploy.rs, whose are private)
// ---------------------------------------------------------------------------

/// `promptctl ARGS` as `tester`, at the harness's pinned time.
fn pc(ws: &Workspace, args: &[&str]) -> Run {
    ws.cmd(args).env("PROMPTCTL_USER", USER).run()
}

/// `promptctl ARGS` as `tester`, `minutes` after the pinned time: a run
/// made so has a later `finished_at` than one made before it.
fn pc_at(ws: &Workspace, minutes: u64, args: &[&str]) -> Run {
    let epoch: u64 = EPOCH.parse().unwrap();
    ws.cmd(args)
        .env("PROMPTCTL_USER", USER)
        .env("SOURCE_DATE_EPOCH", (epoch + minutes * 60).to_string())
        .run()
}

/// `finished_at` of a run made with [`pc_at`] `minutes` (< 60) later.
fn finished_at(minutes: u64) -> String {
    assert!(minutes < 60);
    format!("2025-11-21T10:{minutes:02}:00Z")
}

fn promote(ws: &Workspace, args: &[&str]) -> Run {
    let mut all = vec!["promote"];
    all.extend_from_slice(args);
    pc(ws, &all)
}

fn at(version: &str) -> String {
    format!("{NAME}@{version}")
}

/// `eval support --prompt support_bot@VERSION EXTRA…`, `minutes` later.
fn eval_at(ws: &Workspace, minutes: u64, version: &str, extra: &[&str]) -> Run {
    let v = at(version);
    let mut all = vec!["eval", "support", "--prompt", v.as_str()];
    all.extend_from_slice(extra);
    pc_at(ws, minutes, &all)
}

/// Releases the init draft as 1.0.0 and evaluates it in full offline: a
/// passing run for 1.0.0's digest, whose id is returned.
fn first_release(ws: &Workspace) -> String {
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    let run = eval_at(ws, 0, "1.0.0", &[]);
    run.success();
    saved_id(&run)
}

/// Edits the draft and releases it as `version` (its offline eval cannot
/// pass: the recordings no longer match).
fn release_edit(ws: &Workspace, version: &str) {
    ws.append(
        SYSTEM,
        &format!("\nHouse rule for {version}: keep it short.\n"),
    );
    ws.release(&["--version", version, "-m", &format!("release {version}")]);
}

/// The id of the run an `eval` or `merge` saved, from its status line.
#[track_caller]
fn saved_id(run: &Run) -> String {
    let tail = run
        .stderr
        .split("saved ")
        .nth(1)
        .unwrap_or_else(|| panic!("no `saved … run` line\n{run}"));
    let start = tail.find('`').expect("a quoted run id") + 1;
    let end = start + tail[start..].find('`').expect("a closing quote");
    tail[start..end].to_string()
}

fn run_path(id: &str) -> String {
    format!(".promptctl/runs/{id}.json")
}

fn run_file(ws: &Workspace, id: &str) -> Value {
    serde_json::from_str(&ws.read(&run_path(id))).expect("a run file is JSON")
}

fn write_run(ws: &Workspace, run: &Value) -> String {
    let id = run["run_id"].as_str().expect("run_id").to_string();
    ws.write(&run_path(&id), serde_json::to_string_pretty(run).unwrap());
    id
}

/// Every run file in `.promptctl/runs/`, parsed.
fn runs(ws: &Workspace) -> Vec<Value> {
    let dir = ws.path(".promptctl/runs");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let text = std::fs::read_to_string(&p).unwrap();
            out.push(serde_json::from_str(&text).expect("a run file is JSON"));
        }
    }
    out
}

/// A copy of a run with a new id, finishing `minutes` after the pinned time.
fn copy_of(run: &Value, tag: &str, minutes: u64) -> Value {
    let mut copy = run.clone();
    copy["run_id"] = Value::from(format!("{}-{tag}", run["run_id"].as_str().unwrap()));
    copy["finished_at"] = Value::from(finished_at(minutes));
    copy
}

/// Makes `n` more of the run's passing cases fail, as an assertion that
/// said no would: the cases, the summary and the verdict all say so.
fn fail_cases(run: &mut Value, n: usize) -> Vec<String> {
    let mut failed = Vec::new();
    let cases = run["cases"].as_array_mut().expect("cases");
    for c in cases.iter_mut().filter(|c| c["passed"] == true).take(n) {
        c["passed"] = Value::from(false);
        let last = c["assertions"]
            .as_array_mut()
            .and_then(|a| a.last_mut())
            .expect("a case has assertions");
        last["passed"] = Value::from(false);
        last["reason"] = Value::from("edited to fail");
        failed.push(c["id"].as_str().unwrap().to_string());
    }
    assert_eq!(failed.len(), n, "the run has {n} passing cases to fail");
    let total = run["summary"]["cases"].as_u64().unwrap();
    let passed = run["summary"]["passed"].as_u64().unwrap() - n as u64;
    run["summary"]["passed"] = Value::from(passed);
    run["summary"]["failed"] = Value::from(total - passed);
    run["summary"]["pass_rate"] = Value::from(passed as f64 / total as f64);
    failed
}

fn releases(ws: &Workspace) -> Value {
    let text = ws.read(RELEASES);
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("releases.yaml is not YAML: {e}\n{text}"))
}

/// The committed history, one JSON object an entry.
fn history(ws: &Workspace) -> Vec<Value> {
    if !ws.path(RELEASES).exists() {
        return Vec::new();
    }
    let r = releases(ws);
    let Some(bytes) = r["history"]["bytes"].as_u64() else {
        return Vec::new();
    };
    let all = ws.read_bytes(HISTORY);
    std::str::from_utf8(&all[..bytes as usize])
        .expect("UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Both deploy files, byte for byte (`None` when missing).
fn deploy_files(ws: &Workspace) -> [Option<Vec<u8>>; 2] {
    [RELEASES, HISTORY].map(|f| std::fs::read(ws.path(f)).ok())
}

/// `promote VERSION --env ENV EXTRA…` is refused: exit 1, nothing on
/// stdout (unless `--explain`), stderr names the version, the environment
/// and each of `reasons`, and no file changed. Returns the run.
#[track_caller]
fn refused(ws: &Workspace, version: &str, env: &str, extra: &[&str], reasons: &[&str]) -> Run {
    let before = ws.tree();
    let files = deploy_files(ws);
    let entries = history(ws).len();
    let v = at(version);
    let mut args = vec![v.as_str(), "--env", env];
    args.extend_from_slice(extra);
    let run = promote(ws, &args);
    run.code(1)
        .stderr_has(&format!("`{v}` may not enter `{env}`"))
        .stderr_lacks("gate: suite");
    if !extra.contains(&"--explain") {
        run.stdout_empty();
    }
    for r in reasons {
        run.stderr_has(r);
    }
    before.assert_unchanged(&ws.tree(), &run);
    assert_eq!(deploy_files(ws), files, "a refused promote wrote\n{run}");
    assert_eq!(history(ws).len(), entries);
    run
}

/// `promote VERSION --env ENV` lets the version in on exactly `relied`
/// (`suite:run_id`, as the history records it): exit 0, one line per
/// suite on stderr, one new history entry naming them, the version live.
#[track_caller]
fn promotes(ws: &Workspace, version: &str, env: &str, relied: &[(&str, &str)]) -> Run {
    let entries = history(ws).len();
    let run = promote(ws, &[&at(version), "--env", env]);
    run.success().stdout_has(&format!("{NAME} {env}: "));
    for (suite, id) in relied {
        run.stderr_has(&format!("gate: suite `{suite}` passes on run `{id}`"));
    }
    assert_eq!(
        run.stderr.matches("gate: suite").count(),
        relied.len(),
        "one gate line per gating suite\n{run}"
    );
    let h = history(ws);
    assert_eq!(h.len(), entries + 1, "{run}");
    let e = h.last().unwrap();
    assert_eq!(e["action"], "promote");
    assert_eq!(e["env"], env);
    assert_eq!(e["version"], version);
    let want: Vec<String> = relied.iter().map(|(s, id)| format!("{s}:{id}")).collect();
    assert_eq!(e["run"], want.join(","), "the runs it relied on\n{run}");
    assert!(e.get("skip_gate").is_none(), "{e}");
    assert_eq!(releases(ws)["environments"][env]["active"], version);
    run
}

/// One row of the `--explain` table: suite, run, from, counts, why. A cell
/// wrapped over several lines is joined with single spaces.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    suite: String,
    run: String,
    from: String,
    counts: String,
    why: String,
}

fn explain_rows(stdout: &str) -> Vec<Row> {
    let mut rows: Vec<[String; 5]> = Vec::new();
    for line in stdout.lines().filter(|l| l.starts_with('│')) {
        let cells: Vec<&str> = line.split('│').map(str::trim).collect();
        let cells = &cells[1..cells.len() - 1];
        assert_eq!(cells.len(), 5, "five columns: {line}");
        if cells[0] == "suite" && cells[1] == "run" {
            continue;
        }
        if !cells[1].is_empty() {
            rows.push(std::array::from_fn(|i| cells[i].to_string()));
        } else {
            let last = rows.last_mut().expect("a continuation line follows a row");
            for (i, c) in cells.iter().enumerate().filter(|(_, c)| !c.is_empty()) {
                last[i].push(' ');
                last[i].push_str(c);
            }
        }
    }
    rows.into_iter()
        .map(|[suite, run, from, counts, why]| Row {
            suite,
            run,
            from,
            counts,
            why,
        })
        .collect()
}

#[track_caller]
fn row<'a>(rows: &'a [Row], run: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.run == run)
        .unwrap_or_else(|| panic!("no --explain row for run {run}: {rows:#?}"))
}

/// The bundled config with a second provider, `replay_ci`, that replays
/// the same cassettes: a `--provider` override whose run passes.
fn add_replay_ci(ws: &Workspace) {
    ws.replace(
        CONFIG,
        "  replay:\n    type: replay\n",
        "  replay_ci:\n    type: replay\n  replay:\n    type: replay\n",
    );
}

/// A throwaway suite for support_bot on the bundled cases and cassette,
/// with `gates` as given (`""`: no `gates:` key at all).
fn lazy_suite(ws: &Workspace, gates: &str) {
    ws.write(
        "evals/lazy.yaml",
        format!("prompt: support_bot\nprovider: replay\ncases: support.cases.jsonl\n{gates}"),
    );
    let cassette = ws.read("evals/cassettes/support.jsonl");
    ws.write("evals/cassettes/lazy.jsonl", cassette);
}

// ---------------------------------------------------------------------------
// 1. A filtered run
// ---------------------------------------------------------------------------

#[test]
fn a_filtered_run_does_not_count_with_or_without_a_full_pass_before_it() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);

    // Only a filtered run, and it passes its gates on its one case.
    let one = eval_at(&ws, 0, "1.0.0", &["--filter-id", ONE_CASE]);
    one.success();
    let one_id = saved_id(&one);
    assert_eq!(run_file(&ws, &one_id)["summary"]["cases"], 1);
    assert_eq!(run_file(&ws, &one_id)["verdict"]["exit_code"], 0);
    refused(
        &ws,
        "1.0.0",
        "staging",
        &[],
        &[
            &format!("suite `support`: its newest run `{one_id}` does not count"),
            "it ran a selection of the cases",
        ],
    );

    // The full run after it counts.
    let full = eval_at(&ws, 1, "1.0.0", &[]);
    full.success();
    let full_id = saved_id(&full);
    promotes(&ws, "1.0.0", "staging", &[("support", &full_id)]);

    // A filtered run after a full pass is the newest: it decides, and it
    // does not count, whichever filter made it.
    let filters: [&[&str]; 3] = [
        &["--filter-id", ONE_CASE],
        &["--filter-segment", "billing"],
        &["--tag", "refund"],
    ];
    for (i, filter) in filters.iter().enumerate() {
        let minutes = 2 + i as u64;
        let run = eval_at(&ws, minutes, "1.0.0", filter);
        let id = saved_id(&run);
        let settings = &run_file(&ws, &id)["settings"];
        assert!(
            ["filter_id", "filter_segment", "tags"]
                .iter()
                .any(|k| settings[k].as_array().is_some_and(|a| !a.is_empty())),
            "the run file records its selection: {settings}"
        );
        refused(
            &ws,
            "1.0.0",
            "production",
            &[],
            &[
                &format!("its newest run `{id}` does not count"),
                "it ran a selection of the cases (`--filter-*` or `--tag`)",
            ],
        );
    }

    // Positive control: a full run after them lets 1.0.0 into production.
    let again = eval_at(&ws, 10, "1.0.0", &[]);
    again.success();
    promotes(
        &ws,
        "1.0.0",
        "production",
        &[("support", &saved_id(&again))],
    );
}

// ---------------------------------------------------------------------------
// 2. A provider override
// ---------------------------------------------------------------------------

#[test]
fn a_run_on_another_provider_than_the_suites_own_does_not_count() {
    let ws = Workspace::init();
    add_replay_ci(&ws);
    let first = first_release(&ws);

    // A real `--provider` override, and its run passes every gate.
    let over = eval_at(&ws, 1, "1.0.0", &["--provider", "replay_ci"]);
    over.success().stdout_has("PASS");
    let over_id = saved_id(&over);
    assert_eq!(run_file(&ws, &over_id)["provider"]["name"], "replay_ci");
    // With the suite's own run out of the way, nothing counts…
    let own_file = ws.read(&run_path(&first));
    ws.remove(&run_path(&first));
    let no_own = "no run of this digest on the suite's own target (`replay:gpt-4o-mini`)";
    refused(&ws, "1.0.0", "staging", &[], &[no_own]);
    // …also when it is named with `--run`.
    refused(
        &ws,
        "1.0.0",
        "staging",
        &["--run", &run_path(&over_id)],
        &["it ran on provider `replay_ci`, not the suite's own `replay`"],
    );
    // …and the same through PROMPTCTL_PROVIDER.
    let by_env = ws
        .cmd(["eval", "support", "--prompt", "support_bot@1.0.0"])
        .env("PROMPTCTL_PROVIDER", "replay_ci")
        .env(
            "SOURCE_DATE_EPOCH",
            (EPOCH.parse::<u64>().unwrap() + 120).to_string(),
        )
        .run();
    by_env.success();
    let by_env_id = saved_id(&by_env);
    assert_eq!(run_file(&ws, &by_env_id)["provider"]["name"], "replay_ci");
    refused(&ws, "1.0.0", "staging", &[], &[no_own]);

    // A copy of the real passing run whose header says `openai`.
    let mut openai = serde_json::from_str::<Value>(&own_file).unwrap();
    openai = copy_of(&openai, "openai", 3);
    openai["provider"]["name"] = Value::from("openai");
    openai["provider"]["type"] = Value::from("openai");
    write_run(&ws, &openai);
    refused(&ws, "1.0.0", "staging", &[], &[no_own]);

    // The suite's own run back: three newer runs of other providers neither
    // count nor supersede it, and `--explain` says why for each.
    ws.write(&run_path(&first), own_file);
    let explain = promote(&ws, &[&at("1.0.0"), "--env", "staging", "--explain"]);
    explain.success();
    assert_eq!(
        explain.stdout.matches("it ran on `").count(),
        3,
        "{explain}"
    );
    explain.stderr_has(&format!("gate: suite `support` passes on run `{first}`"));
    // A new run on `replay` counts as the newest.
    let own = eval_at(&ws, 4, "1.0.0", &[]);
    own.success();
    promotes(&ws, "1.0.0", "production", &[("support", &saved_id(&own))]);
}

// ---------------------------------------------------------------------------
// 3. A suite without gates
// ---------------------------------------------------------------------------

#[test]
fn a_suite_without_gates_gets_the_strict_default_and_gates_unless_the_environment_names_its_suites()
{
    let ws = Workspace::init();
    let support = first_release(&ws);

    for (i, gates) in ["", "gates: {}\n"].iter().enumerate() {
        lazy_suite(&ws, gates);
        // 11 of the 12 recorded answers pass: not every case, so the
        // default `pass_rate: 1.0` fails, and the report says it is the default.
        let minutes = 1 + i as u64;
        let lazy = pc_at(
            &ws,
            minutes,
            &["eval", "lazy", "--prompt", "support_bot@1.0.0"],
        );
        lazy.code(1)
            .stdout_has("the default: the suite sets no gates")
            .stderr_has("gates failed: pass_rate");
        let lazy_id = saved_id(&lazy);
        let file = run_file(&ws, &lazy_id);
        assert_eq!(file["summary"]["passed"], 11, "{gates:?}");
        let g = file["gates"].as_array().unwrap();
        let pass_rate = g.iter().find(|g| g["gate"] == "pass_rate").unwrap();
        assert_eq!(pass_rate["threshold"], 1.0, "{gates:?}: {pass_rate}");
        assert_eq!(pass_rate["passed"], false);
        assert!(
            pass_rate["note"]
                .as_str()
                .unwrap()
                .contains("the default: the suite sets no gates"),
            "{pass_rate}"
        );
        let errors = g.iter().find(|g| g["gate"] == "max_error_rate").unwrap();
        assert_eq!(errors["threshold"], 0.0);
        assert_eq!(g.len(), 2, "only the two defaults: {g:?}");

        // lazy gates support_bot: its newest run refuses the promote, while
        // support's passes.
        let run = refused(
            &ws,
            "1.0.0",
            "staging",
            &["--explain"],
            &[
                &format!("suite `lazy`: its newest run `{lazy_id}` does not count"),
                "the suite's gates, re-applied, say `fail`: gates failed: pass_rate",
            ],
        );
        run.stderr_lacks("suite `support`:");
        let rows = explain_rows(&run.stdout);
        assert_eq!(row(&rows, &support).counts, "yes", "{rows:#?}");
        assert_eq!(row(&rows, &lazy_id).counts, "no");
        assert_eq!(row(&rows, &lazy_id).suite, "lazy");
    }

    // Naming staging's suites leaves lazy out of staging's gate…
    ws.replace(CONFIG, "  staging: {}", "  staging: { suites: [support] }");
    let run = promote(&ws, &[&at("1.0.0"), "--env", "staging", "--explain"]);
    run.success()
        .stdout_has("suites from `environments.staging.suites` in `promptctl.yaml`")
        .output_lacks("lazy");
    assert_eq!(
        history(&ws).last().unwrap()["run"],
        format!("support:{support}")
    );
    assert_eq!(releases(&ws)["environments"]["staging"]["active"], "1.0.0");

    // …and staging only: production names none, so every suite of
    // support_bot gates it, lazy included.
    refused(
        &ws,
        "1.0.0",
        "production",
        &[],
        &["suite `lazy`: its newest run", "say `fail`"],
    );

    // A named suite that does not exist is a config error, not a pass.
    ws.replace(
        CONFIG,
        "  staging: { suites: [support] }",
        "  staging: { suites: [support, nope] }",
    );
    let before = ws.tree();
    let bad = promote(&ws, &[&at("1.0.0"), "--env", "staging"]);
    bad.code(2)
        .stderr_has("environments.staging.suites names `nope`");
    before.assert_unchanged(&ws.tree(), &bad);
}

// ---------------------------------------------------------------------------
// 4. An older pass and a newer failure
// ---------------------------------------------------------------------------

#[test]
fn a_newer_failed_run_of_the_digest_outvotes_an_older_pass() {
    let ws = Workspace::init();
    let pass = first_release(&ws);

    // A copy of the passing run with two more cases failing: 9 of 12 is
    // below the suite's pass_rate 0.90.
    let mut failing = copy_of(&run_file(&ws, &pass), "failing", 5);
    fail_cases(&mut failing, 2);
    failing["verdict"] = serde_json::json!({
        "status": "fail", "exit_code": 1, "reason": "gates failed: pass_rate"
    });
    let fail = write_run(&ws, &failing);
    // It fails when the gates are re-applied to its cases, too.
    ws.run(&["gate", &run_path(&fail)])
        .code(1)
        .stdout_has("pass_rate");

    let run = refused(
        &ws,
        "1.0.0",
        "staging",
        &["--explain"],
        &[
            &format!("its newest run `{fail}` does not count"),
            "the suite's gates, re-applied, say `fail`: gates failed: pass_rate",
        ],
    );
    let rows = explain_rows(&run.stdout);
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_eq!(rows[0].run, fail, "newest first: {rows:#?}");
    assert_eq!(rows[0].counts, "no");
    assert_eq!(
        row(&rows, &pass).why,
        format!("superseded by the newer run `{fail}`")
    );
    assert_eq!(row(&rows, &pass).counts, "no");

    // Positive control: a new full run after the failure counts.
    let newer = eval_at(&ws, 10, "1.0.0", &[]);
    newer.success();
    let newer_id = saved_id(&newer);
    promotes(&ws, "1.0.0", "staging", &[("support", &newer_id)]);
}

// ---------------------------------------------------------------------------
// 5. A forged verdict
// ---------------------------------------------------------------------------

#[test]
fn a_forged_verdict_on_an_errored_run_is_not_believed() {
    let ws = Workspace::init();
    first_release(&ws);
    release_edit(&ws, "1.1.0");
    let errored = eval_at(&ws, 1, "1.1.0", &[]);
    errored.code(3);
    let id = saved_id(&errored);

    let mut forged = run_file(&ws, &id);
    assert_eq!(forged["verdict"]["status"], "error");
    forged["verdict"] = serde_json::json!({
        "status": "pass", "exit_code": 0, "reason": "all 7 gates passed"
    });
    write_run(&ws, &forged);
    // `gate` re-applies the gates to the cases, and so does promote.
    ws.run(&["gate", &run_path(&id)]).code(3);
    refused(
        &ws,
        "1.1.0",
        "staging",
        &[],
        &[
            &format!("its newest run `{id}` does not count"),
            "the suite's gates, re-applied, say `error`",
            "12 of 12 cases could not be evaluated",
        ],
    );
    refused(
        &ws,
        "1.1.0",
        "staging",
        &["--run", &run_path(&id)],
        &["re-applied, say `error`"],
    );

    // Positive control: 1.0.0's honest passing run still promotes 1.0.0.
    let pass = runs(&ws)
        .into_iter()
        .find(|r| r["prompt"]["version"] == "1.0.0")
        .unwrap();
    promotes(
        &ws,
        "1.0.0",
        "staging",
        &[("support", pass["run_id"].as_str().unwrap())],
    );
}

#[test]
fn a_failing_run_with_a_forged_summary_and_verdict_is_not_believed() {
    let ws = Workspace::init();
    let pass = first_release(&ws);

    // Three cases fail (9 of 12), but the summary, gates and verdict are
    // the passing run's: only the cases tell.
    let mut forged = copy_of(&run_file(&ws, &pass), "forged", 5);
    let failed = fail_cases(&mut forged, 3);
    let honest = run_file(&ws, &pass);
    forged["summary"] = honest["summary"].clone();
    forged["gates"] = honest["gates"].clone();
    assert_eq!(forged["verdict"]["exit_code"], 0);
    let id = write_run(&ws, &forged);
    ws.run(&["gate", &run_path(&id)])
        .code(1)
        .stdout_has(&failed[0]);
    refused(
        &ws,
        "1.0.0",
        "staging",
        &[],
        &[
            &format!("its newest run `{id}` does not count"),
            "the suite's gates, re-applied, say `fail`: gates failed: pass_rate",
        ],
    );

    // Positive control: without the forgery, the honest run decides again.
    ws.remove(&run_path(&id));
    promotes(&ws, "1.0.0", "staging", &[("support", &pass)]);
}

// ---------------------------------------------------------------------------
// --explain
// ---------------------------------------------------------------------------

#[test]
fn explain_lists_every_candidate_newest_first_with_counts_and_why() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);

    // No run at all: one row that says so.
    let run = refused(
        &ws,
        "1.0.0",
        "staging",
        &["--explain"],
        &["no run of this digest"],
    );
    run.stdout_has("promote gate for `staging`")
        .stdout_has("suites from every suite in `evals/` whose prompt is `support_bot`");
    let rows = explain_rows(&run.stdout);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(
        (
            rows[0].suite.as_str(),
            rows[0].run.as_str(),
            rows[0].counts.as_str()
        ),
        ("support", "-", "no")
    );
    assert!(
        rows[0].why.starts_with("no run of this digest"),
        "{rows:#?}"
    );

    let a = saved_id(eval_at(&ws, 0, "1.0.0", &[]).success());
    let b = saved_id(eval_at(&ws, 1, "1.0.0", &["--filter-id", ONE_CASE]).success());
    let c = saved_id(eval_at(&ws, 2, "1.0.0", &[]).success());

    // The newest counts; both older ones are superseded by it.
    let run = promote(&ws, &[&at("1.0.0"), "--env", "staging", "--explain"]);
    run.success()
        .stderr_has(&format!("gate: suite `support` passes on run `{c}`"));
    let rows = explain_rows(&run.stdout);
    let ids: Vec<&str> = rows.iter().map(|r| r.run.as_str()).collect();
    assert_eq!(ids, [c.as_str(), b.as_str(), a.as_str()], "newest first");
    assert_eq!(row(&rows, &c).counts, "yes");
    assert_eq!(row(&rows, &c).why, "newest complete run; passes");
    assert_eq!(row(&rows, &c).from, run_path(&c));
    for old in [&a, &b] {
        assert_eq!(row(&rows, old).counts, "no");
        assert_eq!(
            row(&rows, old).why,
            format!("superseded by the newer run `{c}`")
        );
    }
    assert!(rows.iter().all(|r| r.suite == "support"));

    // A newer filtered run: it is listed first with its reason, and every
    // older one, the passing one included, is superseded by it.
    let d = saved_id(eval_at(&ws, 3, "1.0.0", &["--tag", "refund"]).success());
    let run = refused(
        &ws,
        "1.0.0",
        "production",
        &["--explain"],
        &["it ran a selection of the cases"],
    );
    run.stdout_has("promote gate for `production`");
    let rows = explain_rows(&run.stdout);
    let ids: Vec<&str> = rows.iter().map(|r| r.run.as_str()).collect();
    assert_eq!(ids, [d.as_str(), c.as_str(), b.as_str(), a.as_str()]);
    assert_eq!(row(&rows, &d).counts, "no");
    assert_eq!(
        row(&rows, &d).why,
        "it ran a selection of the cases (`--filter-*` or `--tag`)"
    );
    for old in [&a, &b, &c] {
        assert_eq!(row(&rows, old).counts, "no");
        assert_eq!(
            row(&rows, old).why,
            format!("superseded by the newer run `{d}`")
        );
    }

    // Several reasons at once are all listed.
    let mut bad = copy_of(&run_file(&ws, &c), "bad", 4);
    bad["settings"]["interrupted"] = Value::Bool(true);
    fail_cases(&mut bad, 3);
    let e = write_run(&ws, &bad);
    let run = refused(&ws, "1.0.0", "production", &["--explain"], &[]);
    let rows = explain_rows(&run.stdout);
    let why = &row(&rows, &e).why;
    assert!(
        why.contains("it was interrupted") && why.contains("re-applied, say `fail`"),
        "{why}"
    );

    // A newer run of another target is listed, and is no candidate: the
    // newest run of the suite's own target still decides.
    let mut other = copy_of(&run_file(&ws, &c), "other", 5);
    other["provider"]["name"] = Value::from("openai");
    let f = write_run(&ws, &other);
    let run = refused(&ws, "1.0.0", "production", &["--explain"], &[]);
    let rows = explain_rows(&run.stdout);
    assert_eq!(rows[0].run, f, "{rows:#?}");
    assert!(
        rows[0].why.starts_with("it ran on `openai:gpt-4o-mini`"),
        "{rows:#?}"
    );
    assert!(!row(&rows, &e).why.contains("superseded"), "{rows:#?}");
}

// ---------------------------------------------------------------------------
// merge and shards
// ---------------------------------------------------------------------------

#[test]
fn merge_needs_every_shard_and_a_merged_run_counts_where_a_lone_shard_does_not() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    let shards: Vec<String> = (1..=3)
        .map(|k| {
            let run = eval_at(&ws, k, "1.0.0", &["--shard", &format!("{k}/3")]);
            let id = saved_id(&run);
            assert_eq!(run_file(&ws, &id)["settings"]["shard"], format!("{k}/3"));
            run_path(&id)
        })
        .collect();
    let cases: usize = shards
        .iter()
        .map(|p| {
            let r: Value = serde_json::from_str(&ws.read(p)).unwrap();
            r["cases"].as_array().unwrap().len()
        })
        .sum();
    assert_eq!(cases, 12, "three shards hold every case once");

    // The newest run is a lone shard: it does not count.
    refused(
        &ws,
        "1.0.0",
        "staging",
        &[],
        &["it is shard 3/3 alone: merge every shard with `promptctl merge`"],
    );

    // Two of three shards: exit 2, naming the missing one, nothing saved.
    for (given, missing) in [([0, 1], "3/3"), ([0, 2], "2/3"), ([1, 2], "1/3")] {
        let before = runs(&ws).len();
        let tree = ws.tree();
        let run = pc(&ws, &["merge", &shards[given[0]], &shards[given[1]]]);
        run.code(2)
            .stderr_has(&format!("shard {missing} of 3 is missing"))
            .stderr_has("a merge needs every shard");
        assert_eq!(runs(&ws).len(), before, "an incomplete merge saved a run");
        tree.assert_unchanged(&ws.tree(), &run);
    }
    pc(
        &ws,
        &["merge", &shards[0], &shards[0], &shards[1], &shards[2]],
    )
    .code(2)
    .stderr_has("shard 1/3 is given twice");

    // A merged run's `finished_at` is its newest shard's; its id breaks the
    // tie, so it must be made in a later second than the shards (see
    // `bug_a_merge_right_after_the_last_shard_may_lose_to_a_lone_shard`).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let merged = pc(&ws, &["merge", &shards[0], &shards[1], &shards[2]]);
    merged.success().stdout_has("PASS");
    let id = saved_id(&merged);
    let file = run_file(&ws, &id);
    assert!(
        file["settings"].get("shard").is_none(),
        "{}",
        file["settings"]
    );
    assert_eq!(file["cases"].as_array().unwrap().len(), 12);
    assert_eq!(file["summary"]["cases"], 12);
    promotes(&ws, "1.0.0", "staging", &[("support", &id)]);
}

// ---------------------------------------------------------------------------
// Bounds on thresholds and prices
// ---------------------------------------------------------------------------

/// `eval` refuses the suite with exit 2 on stderr, and `lint` in its report
/// on stdout, at `file:line` naming `key` and the value; nothing is written.
#[track_caller]
fn out_of_bounds(ws: &Workspace, file: &str, line: usize, key: &str, value: &str) {
    let tree = ws.tree();
    let saved = runs(ws).len();
    let at = format!("`{file}:{line}:");
    // `key: must be a number at least 0 and at most 1, not 1.5`
    let what = format!("{key}: must be a number");
    let shown = format!("not {}", value.trim_start_matches('.'));
    let eval = pc(ws, &["eval", "support", "--prompt", "support_bot@1.0.0"]);
    eval.code(2)
        .stderr_has(&at)
        .stderr_has(&what)
        .stderr_has(&shown);
    tree.assert_unchanged(&ws.tree(), &eval);
    let lint = pc(ws, &["lint"]);
    lint.code(2)
        .stdout_has(&format!("invalid[invalid-suite]: {at}"))
        .stdout_has(&what);
    tree.assert_unchanged(&ws.tree(), &lint);
    assert_eq!(runs(ws).len(), saved, "a refused eval saved a run");
}

#[test]
fn thresholds_out_of_bounds_exit_2_naming_the_suite_line_and_key() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    let original = ws.read(SUITE);

    for (from, to, key, value) in [
        ("pass_rate: 0.90", "pass_rate: 1.5", "pass_rate", "1.5"),
        (
            "latency_p95_ms: 4000",
            "latency_p95_ms: -1",
            "latency_p95_ms",
            "-1",
        ),
        (
            "max_error_rate: 0.0",
            "max_error_rate: -0.1",
            "max_error_rate",
            "-0.1",
        ),
        (
            "max_cost_usd: 2.00",
            "max_cost_usd: .inf",
            "max_cost_usd",
            "inf",
        ),
        ("tone: 0.70", "tone: 7", "criteria.tone", "7"),
    ] {
        ws.write(SUITE, &original);
        ws.replace(SUITE, from, to);
        let line = line_of(&ws.read(SUITE), to);
        out_of_bounds(&ws, SUITE, line, key, value);
    }

    // The bounds themselves are allowed: the run happens and the gates
    // decide (11 of 12 is below pass_rate 1, so exit 1).
    ws.write(SUITE, &original);
    ws.replace(SUITE, "pass_rate: 0.90", "pass_rate: 1");
    ws.replace(SUITE, "latency_p95_ms: 4000", "latency_p95_ms: 0");
    let run = eval_at(&ws, 1, "1.0.0", &[]);
    run.code(1)
        .stderr_has("gates failed: pass_rate, latency_p95_ms");
    ws.write(SUITE, &original);
    ws.replace(SUITE, "pass_rate: 0.90", "pass_rate: 0");
    eval_at(&ws, 2, "1.0.0", &[]).success();
}

#[test]
fn a_negative_price_exits_2_naming_promptctl_yaml_the_line_and_the_key() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    let original = ws.read(CONFIG);
    for (from, to, key, value) in [
        (
            "gpt-4o-mini:       { input: 0.15,",
            "gpt-4o-mini:       { input: -0.15,",
            "input",
            "-0.15",
        ),
        (
            "{ input: 2.50, output: 10.00 }",
            "{ input: 2.50, output: -10 }",
            "output",
            "-10",
        ),
    ] {
        ws.write(CONFIG, &original);
        ws.replace(CONFIG, from, to);
        let line = line_of(&ws.read(CONFIG), to);
        let tree = ws.tree();
        for args in [
            &["eval", "support", "--prompt", "support_bot@1.0.0"][..],
            &["lint"][..],
            &["promote", "support_bot@1.0.0", "--env", "staging"][..],
        ] {
            let run = pc(&ws, args);
            run.code(2)
                .stderr_has(&format!("promptctl.yaml:{line}:"))
                .stderr_has("prices.")
                .stderr_has(&format!("{key}: must be a number"))
                .stderr_has(&format!("not {value}"));
            tree.assert_unchanged(&ws.tree(), &run);
        }
        assert!(runs(&ws).is_empty());
    }
    // A price of 0 is a price.
    ws.write(CONFIG, &original);
    ws.replace(
        CONFIG,
        "gpt-4o-mini:       { input: 0.15, output: 0.60 }",
        "gpt-4o-mini:       { input: 0, output: 0 }",
    );
    eval_at(&ws, 0, "1.0.0", &[]).success();
}

// ---------------------------------------------------------------------------
// Evidence packs
// ---------------------------------------------------------------------------

const PACK: &str = "evidence/support_bot/1.0.0";

fn pack_json(ws: &Workspace) -> Value {
    serde_json::from_str(&ws.read(&format!("{PACK}/evidence.json"))).expect("evidence.json is JSON")
}

#[test]
fn an_evidence_pack_shows_the_run_the_gate_relies_on_per_environment() {
    let ws = Workspace::init();
    let pass = first_release(&ws);
    pc(&ws, &["evidence", "support_bot@1.0.0"]).success();

    let pack = pack_json(&ws);
    let gate = pack["gate"].as_array().expect("the pack has a `gate` list");
    let envs: Vec<&str> = gate.iter().map(|d| d["env"].as_str().unwrap()).collect();
    assert_eq!(envs, ["staging", "production"], "in promotion order");
    for d in gate {
        assert_eq!(d["digest"], pack["prompt"]["digest"]);
        let suites = d["suites"].as_array().unwrap();
        assert_eq!(suites.len(), 1, "{d}");
        assert_eq!(suites[0]["suite"], "support");
        assert_eq!(suites[0]["run"], pass.as_str(), "{d}");
        assert!(suites[0].get("refused").is_none(), "{d}");
        // The candidates are `promote --explain`'s: a pack that listed every
        // local run file would depend on what `.promptctl/runs/` holds.
        assert!(suites[0].get("candidates").is_none(), "{d}");
    }
    let md = ws.read(&format!("{PACK}/evidence.md"));
    assert!(md.contains("\n## Promote gate\n"), "{md}");
    for env in ["staging", "production"] {
        let want = format!("| `{env}` | `support` | `{pass}` |");
        assert!(md.contains(&want), "no row {want:?} in\n{md}");
    }
    // The pack and promote agree.
    promotes(&ws, "1.0.0", "staging", &[("support", &pass)]);

    // A newer filtered run: the pack says no run is relied on, and why.
    let filtered = saved_id(eval_at(&ws, 1, "1.0.0", &["--filter-id", ONE_CASE]).success());
    pc(&ws, &["evidence", "support_bot@1.0.0"]).success();
    let pack = pack_json(&ws);
    for d in pack["gate"].as_array().unwrap() {
        let s = &d["suites"][0];
        assert!(s.get("run").is_none(), "{d}");
        let why = s["refused"].as_str().expect("a refusal");
        assert!(
            why.contains(&filtered) && why.contains("it ran a selection of the cases"),
            "{why}"
        );
        assert!(s.get("candidates").is_none(), "{d}");
    }
    let md = ws.read(&format!("{PACK}/evidence.md"));
    let row = md
        .lines()
        .find(|l| l.starts_with("| `production` | `support` |"))
        .unwrap_or_else(|| panic!("no production row in\n{md}"));
    assert!(
        row.contains("| – |") && row.contains("it ran a selection of the cases"),
        "{row}"
    );
    // And promote refuses production for the same reason.
    refused(
        &ws,
        "1.0.0",
        "production",
        &[],
        &["it ran a selection of the cases"],
    );
}

// ---------------------------------------------------------------------------
// Bugs found while writing these tests. Each is ignored so that the suite
// stays green; run them with `cargo nextest run --run-ignored only
// promote_gate::bug_`.
// ---------------------------------------------------------------------------

/// Two runs that finish in the same second are ordered by the random nonce
/// of their ids, so a filtered run made right after a full pass is the
/// "newest" only about half of the time: the other half, promote relies on
/// the older full pass.
#[test]

fn bug_a_filtered_run_right_after_a_full_pass_always_decides() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    let mut let_through = 0;
    for _ in 0..8 {
        let _ = std::fs::remove_dir_all(ws.path(".promptctl/runs"));
        pc(&ws, &["eval", "support", "--prompt", "support_bot@1.0.0"]).success();
        pc(
            &ws,
            &[
                "eval",
                "support",
                "--prompt",
                "support_bot@1.0.0",
                "--filter-id",
                ONE_CASE,
            ],
        )
        .success();
        if promote(&ws, &[&at("1.0.0"), "--env", "staging"]).code == Some(0) {
            let_through += 1;
            std::fs::remove_file(ws.path(RELEASES)).unwrap();
            std::fs::remove_file(ws.path(HISTORY)).unwrap();
        }
    }
    assert_eq!(
        let_through, 0,
        "a newer filtered run was outvoted by an older pass"
    );
}

/// `merge` gives the merged run its newest shard's `finished_at`, so it
/// ties with that shard and the random nonce decides: a promote right after
/// a merge is refused ("it is shard K/3 alone") about 3 times in 4.
#[test]

fn bug_a_merge_right_after_the_last_shard_may_lose_to_a_lone_shard() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    for round in 0..4 {
        let _ = std::fs::remove_dir_all(ws.path(".promptctl/runs"));
        let shards: Vec<String> = (1..=3)
            .map(|k| {
                let run = pc(
                    &ws,
                    &[
                        "eval",
                        "support",
                        "--prompt",
                        "support_bot@1.0.0",
                        "--shard",
                        &format!("{k}/3"),
                    ],
                );
                run_path(&saved_id(&run))
            })
            .collect();
        let merged = pc(&ws, &["merge", &shards[0], &shards[1], &shards[2]]);
        merged.success();
        let id = saved_id(&merged);
        let run = promote(&ws, &[&at("1.0.0"), "--env", "staging", "--explain"]);
        assert_eq!(
            run.code,
            Some(0),
            "round {round}: the merged run `{id}` lost\n{run}"
        );
        std::fs::remove_file(ws.path(RELEASES)).unwrap();
        std::fs::remove_file(ws.path(HISTORY)).unwrap();
    }
}

/// A suite of support_bot that does not load (here: `pass_rate: 1.5`) is
/// left out of the gating suites, so promote passes on the other suites
/// alone; with no other suite, it says "no suite in `evals/` evaluates
/// `support_bot`", which is not so.
#[test]

fn bug_an_invalid_suite_of_the_prompt_does_not_drop_out_of_the_gate() {
    let ws = Workspace::init();
    first_release(&ws);
    ws.write(
        "evals/safety.yaml",
        "prompt: support_bot\nprovider: replay\ncases: support.cases.jsonl\ngates:\n  pass_rate: 1.5\n",
    );
    let run = promote(&ws, &[&at("1.0.0"), "--env", "staging"]);
    assert_ne!(
        run.code,
        Some(0),
        "promoted without the safety suite\n{run}"
    );
    run.stderr_has("evals/safety.yaml");
}

/// A pack is "intact" when its files match its own SHA256SUMS, which
/// anyone can recompute; promote then re-applies the gates to the summary
/// the pack recorded. So an errored run, packed, with the pack's summary
/// and verdict edited and SHA256SUMS recomputed, promotes.
#[test]
fn bug_a_forged_summary_in_an_evidence_pack_is_not_believed() {
    use sha2::{Digest, Sha256};
    let ws = Workspace::init();
    let pass = first_release(&ws);
    release_edit(&ws, "1.1.0");
    let errored = saved_id(eval_at(&ws, 1, "1.1.0", &[]).code(3));
    pc(&ws, &["evidence", "support_bot@1.1.0"]).success();
    ws.remove(&run_path(&errored));

    let dir = "evidence/support_bot/1.1.0";
    let mut pack: Value = serde_json::from_str(&ws.read(&format!("{dir}/evidence.json"))).unwrap();
    let honest = run_file(&ws, &pass);
    let r = &mut pack["runs"][0];
    assert_eq!(r["run_id"], errored.as_str());
    r["summary"] = honest["summary"].clone();
    r["verdict"] = honest["verdict"].clone();
    ws.write(
        &format!("{dir}/evidence.json"),
        serde_json::to_vec_pretty(&pack).unwrap(),
    );
    let sums: String = ws
        .read(&format!("{dir}/SHA256SUMS"))
        .lines()
        .map(|l| {
            let file = l.split_once("  ").unwrap().1;
            let hex = hex::encode(Sha256::digest(ws.read_bytes(&format!("{dir}/{file}"))));
            format!("{hex}  {file}\n")
        })
        .collect();
    ws.write(&format!("{dir}/SHA256SUMS"), sums);
    ws.run(&["verify"]).success();

    refused(&ws, "1.1.0", "staging", &[], &[]);
}

/// A price out of bounds in a block-style mapping, or a segment gate, is
/// reported at the line of the mapping's first key, not of the key named.
#[test]

fn bug_a_bad_value_in_a_nested_block_mapping_is_reported_at_its_own_line() {
    let mut wrong = Vec::new();

    let ws = Workspace::init();
    ws.replace(
        CONFIG,
        "gpt-4o-mini:       { input: 0.15, output: 0.60 }",
        "gpt-4o-mini:\n    input: 0.15\n    output: -1",
    );
    let line = line_of(&ws.read(CONFIG), "output: -1");
    let run = ws.run(&["lint"]);
    run.code(2)
        .stderr_has("prices.gpt-4o-mini.output: must be")
        .stderr_has("not -1");
    if !run.stderr.contains(&format!("promptctl.yaml:{line}:")) {
        wrong.push(format!("want promptctl.yaml:{line}:\n{run}"));
    }

    let ws = Workspace::init();
    ws.append(
        SUITE,
        "  segments:\n    billing:\n      criteria:\n        tone: 0.5\n      pass_rate: 1.5\n",
    );
    let line = line_of(&ws.read(SUITE), "pass_rate: 1.5");
    let run = ws.run(&["eval", "support"]);
    run.code(2)
        .stderr_has("gates.segments.billing.pass_rate: must be")
        .stderr_has("not 1.5");
    if !run.stderr.contains(&format!("{SUITE}:{line}:")) {
        wrong.push(format!("want {SUITE}:{line}:\n{run}"));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
