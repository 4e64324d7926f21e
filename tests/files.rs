//! No committed file is emptied or lost, and each is written for sharing.
//!
//! A recording run adds or replaces the recordings of the cases it completed
//! and leaves every other line of the cassette as it was, byte for byte: a
//! failing provider or judge changes nothing, a cassette that does not parse
//! (a merge conflict) is refused before any request, and two recording runs
//! at once both keep theirs. Ctrl-C and SIGTERM leave no spool and save the
//! partial run marked interrupted, which never counts for `promote`. Files
//! meant to be committed or shared follow the umask; run files and the cache
//! stay owner-only.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fake::{ChatCall, FakeConfig, FakeServer, Fault};
use crate::util::{BIN, Run, Workspace, files_under, isolate};

const KEY: &str = "sk-test-FILESKEY0123456789abcdefXYZ";
const KEY_ENV: &str = "FAKE_OPENAI_KEY";
const SUITE: &str = "evals/t.yaml";
const CASSETTE: &str = "evals/cassettes/t.jsonl";
const RUNS: &str = ".promptctl/runs";
const JUDGE_PREFIX: &str = "You are an impartial evaluation judge";
const RUBRIC: &str = "rubric:\n  judge: { provider: judge, model: gpt-4o }\n  criteria:\n    tone: \"Concise and professional\"\n";
const TONE: &str = r#"{"scores": {"tone": {"score": 0.9, "reason": "ok"}}}"#;
/// A child that does not end is killed after this long, and its test fails.
const WATCHDOG: Duration = Duration::from_secs(120);

/// `promptctl.yaml` with the prompt's provider `fake` and the judge's
/// provider `judge` at these addresses, without retries, and `staging`
/// gated by suite `t` alone.
fn config(fake: &str, judge: &str, timeout_s: u32) -> String {
    format!(
        r#"providers:
  fake:   {{ type: openai, base_url: "{fake}", api_key_env: {KEY_ENV}, timeout_s: {timeout_s}, retries: 0 }}
  judge:  {{ type: openai, base_url: "{judge}", api_key_env: {KEY_ENV}, timeout_s: {timeout_s}, retries: 0 }}
  openai: {{ type: openai, base_url: "{fake}", api_key_env: {KEY_ENV} }}
  replay: {{ type: replay }}
environments:
  staging: {{ suites: [t] }}
"#
    )
}

fn workspace(fake: &FakeServer, judge: &FakeServer) -> Workspace {
    let ws = Workspace::init();
    point_at(&ws, fake, judge);
    ws
}

fn point_at(ws: &Workspace, fake: &FakeServer, judge: &FakeServer) {
    ws.write(
        "promptctl.yaml",
        config(&fake.openai_base_url(), &judge.openai_base_url(), 10),
    );
}

/// Suite `t` for `support_bot` on `fake`: cases `c1..cn` that pass on the
/// fake's echo, then `rest` (a rubric, gates).
fn write_suite(ws: &Workspace, n: usize, rest: &str) {
    let cases: String = (1..=n)
        .map(|i| {
            format!(
                "  - {{ id: c{i}, vars: {{ question: \"[q{i}] How do I export?\" }}, assert: [{{ type: contains, value: \"echo\" }}] }}\n"
            )
        })
        .collect();
    ws.write(
        SUITE,
        format!("prompt: support_bot\nprovider: fake\ncases:\n{cases}{rest}"),
    );
}

/// `promptctl eval ARGS` with the key and no proxies.
fn eval(ws: &Workspace, args: &[&str]) -> Run {
    let mut all = vec!["eval"];
    all.extend_from_slice(args);
    ws.cmd(all)
        .without_proxies()
        .env(KEY_ENV, KEY)
        .env_remove("PROMPTCTL_PROVIDER")
        .run()
}

/// A server whose every answer is `prefix: <question>`, and whose judge
/// answers `TONE`.
fn answering(prefix: &'static str) -> FakeConfig {
    FakeConfig::responding(move |call: &ChatCall| {
        if call.system.starts_with(JUDGE_PREFIX) {
            TONE.to_string()
        } else {
            format!("{prefix}: {}", call.last_user())
        }
    })
}

fn failing() -> FakeServer {
    FakeServer::start(FakeConfig {
        always: Some(Fault::Status(500)),
        ..FakeConfig::default()
    })
}

/// The cassette's lines for case `id`.
fn lines_of(text: &str, id: &str) -> Vec<String> {
    text.lines()
        .filter(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v["case"] == id))
        .map(str::to_string)
        .collect()
}

/// Rewrites one recording line with spaces after its separators: still a
/// valid recording, but not the bytes promptctl would write for it.
fn reformat(line: &str) -> String {
    let v: Value = serde_json::from_str(line).expect("a recording");
    let spaced = serde_json::to_string_pretty(&v)
        .expect("serialise")
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    assert_ne!(spaced, line);
    spaced
}

// ---------------------------------------------------------------------------
// A recording run changes only the recordings of the cases it completed
// ---------------------------------------------------------------------------

#[test]
fn a_record_against_a_failing_provider_leaves_the_cassette_byte_identical() {
    let good = FakeServer::start(answering("echo"));
    let ws = workspace(&good, &good);
    write_suite(&ws, 3, "");
    eval(&ws, &["t", "--no-cache", "--record"]).success();
    let before = ws.read(CASSETTE);
    assert_eq!(before.lines().count(), 3);

    let bad = failing();
    point_at(&ws, &bad, &bad);
    eval(&ws, &["t", "--no-cache", "--record"]).code(3);
    assert_eq!(bad.request_count(), 3, "every case was tried");
    assert_eq!(
        ws.read(CASSETTE),
        before,
        "a run that completed nothing changed the cassette"
    );
}

#[test]
fn a_record_with_a_failing_judge_leaves_the_cassette_byte_identical() {
    let good = FakeServer::start(answering("echo"));
    let ws = workspace(&good, &good);
    write_suite(&ws, 3, RUBRIC);
    eval(&ws, &["t", "--no-cache", "--record"]).success();
    let before = ws.read(CASSETTE);
    assert_eq!(
        before.lines().count(),
        6,
        "a prompt and a judge recording each"
    );

    // The prompt's answers now differ, and the judge fails.
    let changed = FakeServer::start(answering("echo again"));
    let bad = failing();
    point_at(&ws, &changed, &bad);
    eval(&ws, &["t", "--no-cache", "--record"]).code(3);
    assert_eq!(changed.request_count(), 3);
    assert_eq!(bad.request_count(), 3, "the judge was asked for every case");
    assert_eq!(
        ws.read(CASSETTE),
        before,
        "a case whose judge failed is not completed: none of its recordings change"
    );
}

#[test]
fn a_record_replaces_the_completed_cases_and_keeps_the_rest_byte_for_byte() {
    let first = FakeServer::start(answering("echo"));
    let ws = workspace(&first, &first);
    write_suite(&ws, 3, "");
    eval(&ws, &["t", "--no-cache", "--record"]).success();
    // Kept lines are kept as they are, not re-written as promptctl writes them.
    let old = ws.read(CASSETTE);
    let c1 = lines_of(&old, "c1").pop().expect("a recording of c1");
    let spaced = reformat(&c1);
    ws.write(CASSETTE, old.replace(&c1, &spaced));

    // The first request (c1's, at -j 1) fails; c2 and c3 get new answers.
    let second = FakeServer::start(answering("echo v2"));
    second.push_faults([Fault::Status(500)]);
    point_at(&ws, &second, &second);
    eval(&ws, &["t", "--no-cache", "--record", "-j", "1"]).code(3);

    let now = ws.read(CASSETTE);
    assert_eq!(
        lines_of(&now, "c1"),
        vec![spaced],
        "c1 failed: its line is kept\n{now}"
    );
    for id in ["c2", "c3"] {
        let lines = lines_of(&now, id);
        assert_eq!(lines.len(), 1, "{now}");
        assert!(lines[0].contains("echo v2"), "{id} was re-recorded\n{now}");
    }
}

#[test]
fn a_filtered_record_over_a_merge_conflict_is_refused_before_any_request() {
    let server = FakeServer::start(answering("echo"));
    let ws = workspace(&server, &server);
    write_suite(&ws, 3, "");
    eval(&ws, &["t", "--no-cache", "--record"]).success();
    let lines: Vec<String> = ws.read(CASSETTE).lines().map(str::to_string).collect();
    let conflicted = format!(
        "{}\n<<<<<<< HEAD\n{}\n=======\n{}\n>>>>>>> other\n{}\n",
        lines[0],
        lines[1],
        lines[1].replace("echo", "ECHO"),
        lines[2]
    );
    ws.write(CASSETTE, &conflicted);
    let sent = server.request_count();

    let run = eval(&ws, &["t", "--no-cache", "--record", "--filter-id", "c3"]);
    run.code(2)
        .stderr_has(&format!("{CASSETTE}:2"))
        .stderr_has("merge-conflict");
    assert_eq!(server.request_count(), sent, "a request was sent\n{run}");
    assert_eq!(ws.read(CASSETTE), conflicted, "the cassette changed\n{run}");
    assert!(
        files_under(&ws.path(RUNS))
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".cases.tmp"))
    );
}

#[test]
fn two_recording_runs_at_once_keep_both_sets_of_recordings() {
    let first = FakeServer::start(answering("echo"));
    let ws = workspace(&first, &first);
    write_suite(&ws, 4, "");
    eval(&ws, &["t", "--no-cache", "--record"]).success();
    // Many other recordings, so that reading and writing the cassette takes
    // a while: two runs that do it unguarded at the same time lose one's.
    let text = ws.read(CASSETTE);
    let model: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let mut seeded = text.clone();
    for i in 0..3000 {
        let mut r = model.clone();
        r["case"] = format!("filler-{i:04}").into();
        r["key"] = format!("sha256:{:064x}", i).into();
        seeded.push_str(&serde_json::to_string(&r).unwrap());
        seeded.push('\n');
    }
    ws.write(CASSETTE, &seeded);

    // Every answer is given at one instant, a while after the first request
    // arrived, so both runs finish, and save, together.
    let release: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let second = FakeServer::start(FakeConfig {
        pace: Some(Arc::new(move |_: &ChatCall| {
            let at = *release.get_or_init(|| Instant::now() + Duration::from_secs(2));
            at.saturating_duration_since(Instant::now())
        })),
        ..answering("echo v2")
    });
    point_at(&ws, &second, &second);
    let spawn = |ids: [&str; 2]| {
        let mut cmd = ws.std_cmd([
            "eval",
            "t",
            "--no-cache",
            "--record",
            "--filter-id",
            ids[0],
            "--filter-id",
            ids[1],
        ]);
        cmd.env(KEY_ENV, KEY)
            .env("NO_PROXY", "127.0.0.1")
            .stderr(Stdio::piped());
        cmd.spawn().expect("spawn promptctl")
    };
    let a = spawn(["c1", "c2"]);
    let b = spawn(["c3", "c4"]);
    for child in [a, b] {
        let (code, stderr) = wait(child);
        assert_eq!(code, Some(0), "{stderr}");
    }
    assert_eq!(second.request_count(), 4);

    let now = ws.read(CASSETTE);
    for id in ["c1", "c2", "c3", "c4"] {
        let lines = lines_of(&now, id);
        assert_eq!(lines.len(), 1, "{id}");
        assert!(
            lines[0].contains("echo v2"),
            "{id}'s new recording was lost"
        );
    }
    let fillers = now.lines().filter(|l| l.contains("\"filler-")).count();
    assert_eq!(fillers, 3000);
}

// ---------------------------------------------------------------------------
// Ctrl-C and SIGTERM
// ---------------------------------------------------------------------------

/// Waits for a child (killing it after [`WATCHDOG`]); its code and stderr.
fn wait(mut child: std::process::Child) -> (Option<i32>, String) {
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for promptctl") {
            break status;
        }
        if started.elapsed() > WATCHDOG {
            let _ = child.kill();
            panic!("promptctl did not finish in {WATCHDOG:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut stderr);
    }
    (status.code(), stderr)
}

#[cfg(unix)]
/// Starts an eval of 6 slow cases, sends `signal` once the first request
/// has arrived, and checks what is left: no spool, a run marked
/// interrupted (that `gate` says is incomplete and `promote` refuses), and
/// the exit code.
fn interrupt(signal: &str, code: i32) {
    // Every answer takes longer than the test, so the run is cut short.
    let server = FakeServer::start(FakeConfig {
        latency: Duration::from_secs(50),
        ..FakeConfig::default()
    });
    let ws = Workspace::init();
    ws.write(
        "promptctl.yaml",
        config(&server.openai_base_url(), &server.openai_base_url(), 60),
    );
    ws.release(&["--bump", "minor", "-m", "first"]);
    // Gates that an unfinished run meets: only the interrupted mark refuses it.
    write_suite(&ws, 6, "gates: { pass_rate: 0.0, max_error_rate: 1.0 }\n");
    let mut cmd = ws.std_cmd([
        "eval",
        "t",
        "--prompt",
        "support_bot@0.1.0",
        "--no-cache",
        "-j",
        "2",
    ]);
    cmd.env(KEY_ENV, KEY)
        .env("NO_PROXY", "127.0.0.1")
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn promptctl");
    let started = Instant::now();
    while server.request_count() < 2 {
        assert!(started.elapsed() < WATCHDOG, "no request arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success());
    let (got, stderr) = wait(child);
    assert_eq!(got, Some(code), "{stderr}");
    assert!(stderr.contains("INTERRUPTED"), "{stderr}");

    let files = files_under(&ws.path(RUNS));
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "a temp file was left: {names:?}"
    );
    assert_eq!(names.len(), 1, "one run file: {names:?}");
    let run: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert_eq!(run["settings"]["interrupted"], true, "{run}");
    assert_eq!(run["verdict"]["status"], "interrupted", "{run}");
    assert_eq!(run["verdict"]["exit_code"], 3, "{run}");
    let cases = run["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 6, "every case is in the run file");
    assert!(
        cases
            .iter()
            .all(|c| c["error"].is_string() && c["passed"] == false)
    );

    let rel = format!("{RUNS}/{}", names[0]);
    ws.run(&["gate", &rel]).code(3).stderr_has("interrupted");
    let promote = ws.run(&["promote", "support_bot@0.1.0", "--env", "staging"]);
    promote.code(1).stderr_has("interrupted");
}

#[cfg(unix)]
#[test]
fn sigint_leaves_no_spool_and_saves_a_run_marked_interrupted() {
    interrupt("-INT", 130);
}

#[cfg(unix)]
#[test]
fn sigterm_leaves_no_spool_and_saves_a_run_marked_interrupted() {
    interrupt("-TERM", 143);
}

// ---------------------------------------------------------------------------
// File modes
// ---------------------------------------------------------------------------

/// `promptctl ARGS` under `umask` (through `sh`), in `dir`.
#[cfg(unix)]
fn under_umask(dir: &Path, fence: &Path, umask: &str, args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = Command::new("sh");
    isolate(&mut cmd, fence);
    cmd.arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(args)
        .current_dir(dir)
        .env(KEY_ENV, KEY)
        .env("NO_PROXY", "127.0.0.1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    wait(cmd.spawn().expect("spawn sh"))
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn committed_files_follow_the_umask_and_local_state_stays_private() {
    let server = FakeServer::start(answering("echo"));
    let ws = Workspace::empty();
    let (tmp, root) = (ws.tmp(), ws.root().to_path_buf());
    let sh = |args: &[&str]| {
        let (code, stderr) = under_umask(&root, &tmp, "022", args);
        assert_eq!(code, Some(0), "promptctl {args:?}\n{stderr}");
    };
    let (code, stderr) = under_umask(&tmp, &tmp, "022", &["init", "ws"]);
    assert_eq!(code, Some(0), "{stderr}");
    // The provider `fake` for suite `t` (an existing file keeps its mode
    // when the test rewrites it).
    ws.replace(
        "promptctl.yaml",
        "providers:\n",
        &format!(
            "providers:\n  fake: {{ type: openai, base_url: \"{}\", api_key_env: {KEY_ENV} }}\n",
            server.openai_base_url()
        ),
    );
    sh(&["new", "faq"]);
    sh(&["release", "support_bot", "--bump", "minor", "-m", "first"]);
    sh(&["eval", "support", "--prompt", "support_bot@0.1.0"]);
    sh(&["promote", "support_bot@0.1.0", "--env", "staging"]);
    sh(&["evidence", "support_bot@0.1.0"]);
    sh(&["export", "--env", "staging", "-o", "bundle.json"]);
    sh(&["schema", "--write", "schemas"]);
    write_suite(&ws, 2, "");
    sh(&["eval", "t", "--record"]);

    let mut checked = Vec::new();
    for file in files_under(&root) {
        let rel = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let want = if rel.starts_with(".promptctl/runs/") || rel.starts_with(".promptctl/cache/") {
            0o600
        } else if rel.starts_with(".promptctl/locks/") || rel == SUITE {
            continue; // empty lock files; a file the test wrote
        } else {
            0o644
        };
        assert_eq!(format!("{:o}", mode(&file)), format!("{want:o}"), "{rel}");
        checked.push(rel);
    }
    for rel in [
        "promptctl.yaml",
        "prompts/faq/prompt.yaml",
        "prompts/support_bot/CHANGELOG.md",
        "prompts/support_bot/releases.yaml",
        "prompts/support_bot/history.jsonl",
        "prompts/support_bot/versions/0.1.0/manifest.yaml",
        "evidence/support_bot/0.1.0/evidence.json",
        "bundle.json",
        "schemas/prompt.schema.json",
        CASSETTE,
    ] {
        assert!(checked.iter().any(|c| c == rel), "{rel} was not written");
    }
    assert!(checked.iter().any(|c| c.starts_with(".promptctl/runs/")));
    assert!(checked.iter().any(|c| c.starts_with(".promptctl/cache/")));
    for dir in [
        "prompts/support_bot/versions/0.1.0",
        "evidence/support_bot/0.1.0",
    ] {
        assert_eq!(format!("{:o}", mode(&root.join(dir))), "755", "{dir}");
    }

    // The umask decides, not a fixed 0644 (`schema --write` skips a file
    // that is unchanged, so one is removed first).
    ws.remove("schemas/prompt.schema.json");
    let (code, stderr) = under_umask(&root, &tmp, "027", &["schema", "--write", "schemas"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        format!("{:o}", mode(&root.join("schemas/prompt.schema.json"))),
        "640"
    );
}
