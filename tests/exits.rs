//! Verdicts are exit statuses, and what becomes of the output never makes a
//! "no" a "yes" (SPEC §4, `src/cli/exit.rs`, `src/cli/output.rs`).
//!
//! Every command that answers a question (eval, gate, merge, verify, lint,
//! canary, ab, doctor) is run with its stdout going nowhere useful:
//!
//! - into a pipe whose read end is closed before the child starts, so its
//!   first write fails with `EPIPE`, deterministically;
//! - into a pipe that a reader reads one byte of and then closes, like
//!   `| head -c1`. The pipe is shrunk to the smallest capacity the kernel
//!   allows and each test checks that the command's output is larger than
//!   that, so the child is still writing when the reader goes away;
//! - into `/dev/full`, or an `-o FILE` under a folder that does not exist
//!   (the tests run as root, so permissions cannot make a path unwritable).
//!
//! A closed pipe keeps the verdict (1, 4 or 5, and 0 for a pass) and prints
//! no error; any other output failure makes a pass 3 and leaves a "no" as it
//! was. `canary --apply` rolls back before it prints anything.
//!
//! The children are plain [`std::process::Command`]s (from
//! [`Workspace::std_cmd`], the same environment as [`Workspace::cmd`]), since
//! `assert_cmd` always captures stdout; a watchdog kills a hung child.

#![cfg(target_os = "linux")]

use std::fs::OpenOptions;
use std::io::{PipeWriter, Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::util::{Cmd, NAME, Run, SYSTEM, Workspace, version_dir};

/// A hung child is killed after this long, and its test fails.
const WATCHDOG: Duration = Duration::from_secs(120);

/// Variables of the developer's or the CI's environment that would change
/// what these commands do: promptctl's own, the step summary GitHub Actions
/// sets, and real provider keys (with which `doctor` would go online).
const CLEARED: [&str; 8] = [
    "PROMPTCTL_PROVIDER",
    "PROMPTCTL_CONCURRENCY",
    "PROMPTCTL_NO_CACHE",
    "PROMPTCTL_MAX_TIME",
    "PROMPTCTL_QUIET",
    "GITHUB_STEP_SUMMARY",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
];
const USER: &str = "tester";

/// A folder that does not exist, so nothing can be written under it.
const MISSING_DIR: &str = "/nonexistent-dir";

// ---------------------------------------------------------------------------
// Running a command with its stdout somewhere
// ---------------------------------------------------------------------------

/// The few calls of the C library that std does not wrap.
mod sys {
    use std::ffi::c_int;

    /// `F_SETPIPE_SZ` (Linux, every architecture).
    pub const F_SETPIPE_SZ: c_int = 1031;
    pub const SIGKILL: c_int = 9;

    unsafe extern "C" {
        pub fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
        pub fn kill(pid: c_int, sig: c_int) -> c_int;
    }
}

/// Shrinks a pipe to the smallest capacity the kernel allows (one page) and
/// returns that capacity in bytes.
fn shrink(pipe: &PipeWriter) -> usize {
    let smallest: std::ffi::c_int = 1;
    // SAFETY: fcntl on a file descriptor we own, with an int argument, as
    // F_SETPIPE_SZ takes.
    let capacity = unsafe { sys::fcntl(pipe.as_raw_fd(), sys::F_SETPIPE_SZ, smallest) };
    assert!(
        capacity > 0,
        "F_SETPIPE_SZ failed: {}",
        std::io::Error::last_os_error()
    );
    capacity as usize
}

/// Where a child's stdout goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stdout {
    /// A pipe whose read end was closed before the child started.
    ClosedPipe,
    /// A pipe of one page that a reader reads one byte of, then closes.
    OneByte,
    /// The same, for output smaller than a page: the pipe is full (of
    /// filler) before the child starts, so the child's first write waits
    /// for the reader, which reads one byte of filler and closes.
    FullPipeOneByte,
    /// `/dev/full`: every write fails with `ENOSPC`.
    DevFull,
}

/// A finished child whose stdout went to a [`Stdout`].
struct Piped {
    shown: String,
    to: Stdout,
    /// `None` when it was killed (by the watchdog, say).
    code: Option<i32>,
    stderr: String,
    /// The capacity of the pipe, for the one-byte readers.
    capacity: Option<usize>,
    /// What the one-byte reader read (`None`: end of file or an error).
    byte: Option<u8>,
}

impl std::fmt::Display for Piped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "command: {}\nstdout: {:?}\nexit code: {:?}\n--- stderr ---\n{}\n---",
            self.shown, self.to, self.code, self.stderr
        )
    }
}

impl Piped {
    /// Exits with `code`, and says nothing about the lost output: no
    /// `error:` at all, and no broken pipe in any words.
    #[track_caller]
    fn keeps(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "the verdict changed\n{self}");
        for word in ["error:", "Broken pipe", "broken pipe", "os error 32"] {
            assert!(!self.stderr.contains(word), "stderr has {word:?}\n{self}");
        }
        self
    }

    #[track_caller]
    fn code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit code\n{self}");
        self
    }

    #[track_caller]
    fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{self}"
        );
        self
    }

    /// The reader closed the pipe before the end of `full`, the same
    /// command's whole output: it did not fit in the pipe.
    #[track_caller]
    fn closed_before_the_end_of(&self, full: &Run) -> &Self {
        let capacity = self.capacity.expect("a one-byte reader");
        assert!(
            full.stdout.len() > capacity,
            "the output ({} bytes) fits in the pipe ({capacity} bytes), so the reader \
             would close only after the end\n{full}",
            full.stdout.len()
        );
        assert_eq!(
            self.byte,
            full.stdout.bytes().next(),
            "the reader did not read the output's first byte\n{self}"
        );
        self
    }
}

/// `promptctl ARGS` in the workspace as a [`Command`], with stdin closed,
/// stdout nowhere and stderr captured.
fn child(ws: &Workspace, args: &[&str]) -> Command {
    let mut cmd = ws.std_cmd(args);
    for var in CLEARED {
        cmd.env_remove(var);
    }
    cmd.env("PROMPTCTL_USER", USER).stderr(Stdio::piped());
    cmd
}

/// Runs `cmd` with its stdout going `to`.
fn run_to(mut cmd: Command, to: Stdout) -> Piped {
    let shown = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let mut reader = None;
    let mut capacity = None;
    match to {
        Stdout::ClosedPipe => {
            let (r, w) = std::io::pipe().expect("create a pipe");
            drop(r);
            cmd.stdout(w);
        }
        Stdout::OneByte | Stdout::FullPipeOneByte => {
            let (r, mut w) = std::io::pipe().expect("create a pipe");
            let cap = shrink(&w);
            if to == Stdout::FullPipeOneByte {
                // Exactly the capacity: fills every page, never blocks.
                w.write_all(&vec![b'#'; cap]).expect("fill the pipe");
            }
            capacity = Some(cap);
            reader = Some(r);
            cmd.stdout(w);
        }
        Stdout::DevFull => {
            let full = OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .expect("open /dev/full");
            cmd.stdout(full);
        }
    }
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("could not run `{shown}`: {e}"));
    // Close the parent's copy of the write end: while it is open, a reader
    // would never see the end of the file.
    drop(cmd);

    let (done, watched) = mpsc::channel::<()>();
    let pid = child.id() as std::ffi::c_int;
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = watched.recv_timeout(WATCHDOG) {
            // SAFETY: kill(2) on the pid of our own child, not yet reaped.
            unsafe { sys::kill(pid, sys::SIGKILL) };
        }
    });

    let mut byte = None;
    if let Some(mut r) = reader {
        let mut buf = [0u8; 1];
        if r.read_exact(&mut buf).is_ok() {
            byte = Some(buf[0]);
        }
        drop(r);
    }
    let out = child.wait_with_output().expect("wait for the child");
    drop(done);
    watchdog.join().expect("the watchdog");
    Piped {
        shown,
        to,
        code: out.status.code(),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        capacity,
        byte,
    }
}

/// `promptctl ARGS`, stdout going `to`.
fn pipe_to(ws: &Workspace, args: &[&str], to: Stdout) -> Piped {
    run_to(child(ws, args), to)
}

/// `promptctl ARGS` with both streams captured (through `tests/util`), in
/// the same environment as [`child`].
fn cmd(ws: &Workspace, args: &[&str]) -> Cmd {
    let mut cmd = ws.cmd(args);
    for var in CLEARED {
        cmd.env_remove(var);
    }
    cmd.env("PROMPTCTL_USER", USER);
    cmd
}

fn pc(ws: &Workspace, args: &[&str]) -> Run {
    cmd(ws, args).run()
}

// ---------------------------------------------------------------------------
// Suites on the offline `echo` provider
// ---------------------------------------------------------------------------

/// Writes `evals/{name}.yaml`: `n` cases on the `echo` provider (which
/// answers with the rendered prompt, question included), every one passing
/// unless `failing`, in which case the last one asks for a word no answer
/// has; every case must pass.
fn echo_suite(ws: &Workspace, name: &str, n: usize, failing: bool) {
    let mut text = "prompt: support_bot\nprovider: echo\ncases:\n".to_string();
    for i in 1..=n {
        let want = if failing && i == n {
            "a word no answer has"
        } else {
            "export my board"
        };
        text.push_str(&format!(
            "  - {{ id: c{i}, vars: {{ question: \"[q{i}] How do I export my board as CSV?\" }}, \
             assert: [{{ type: contains, value: \"{want}\" }}] }}\n"
        ));
    }
    text.push_str("gates: { pass_rate: 1.0 }\n");
    ws.write(&format!("evals/{name}.yaml"), text);
}

/// A workspace with the suites `pass` and `fail` (three cases each).
fn suites() -> Workspace {
    let ws = Workspace::init();
    echo_suite(&ws, "pass", 3, false);
    echo_suite(&ws, "fail", 3, true);
    ws
}

/// The path in a `saved [merged ]run `ID` to `PATH`` line on stderr.
#[track_caller]
fn saved_path(stderr: &str) -> String {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("saved ") && l.contains("run `"))
        .unwrap_or_else(|| panic!("no `saved run` line on stderr:\n{stderr}"));
    line.rsplit('`')
        .nth(1)
        .unwrap_or_else(|| panic!("cannot read the path in {line:?}"))
        .to_string()
}

/// How many runs are saved in `.promptctl/runs/`.
fn saved_runs(ws: &Workspace) -> usize {
    match std::fs::read_dir(ws.path(".promptctl/runs")) {
        Ok(entries) => entries
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
            })
            .count(),
        Err(_) => 0,
    }
}

/// The saved run at `rel`, parsed.
fn run_file(ws: &Workspace, rel: &str) -> Value {
    serde_json::from_str(&ws.read(rel)).unwrap_or_else(|e| panic!("{rel} is not JSON: {e}"))
}

#[track_caller]
fn assert_missing_dir() {
    assert!(
        !Path::new(MISSING_DIR).exists(),
        "{MISSING_DIR} exists on this machine; these tests need it not to"
    );
}

// ---------------------------------------------------------------------------
// eval
// ---------------------------------------------------------------------------

#[test]
fn eval_keeps_its_verdict_when_the_reader_goes_away() {
    let ws = suites();
    let fail = ["eval", "fail", "--format", "json"];
    let full = pc(&ws, &fail);
    full.code(1).stderr_has("FAIL (exit 1):");
    assert_eq!(full.json()["verdict"]["exit_code"], 1, "{full}");

    let runs = saved_runs(&ws);
    let closed = pipe_to(&ws, &fail, Stdout::ClosedPipe);
    closed.keeps(1).stderr_has("FAIL (exit 1): gates failed");
    // The run was evaluated and saved all the same.
    assert_eq!(saved_runs(&ws), runs + 1, "{closed}");
    let path = saved_path(&closed.stderr);
    assert_eq!(run_file(&ws, &path)["verdict"]["exit_code"], 1);

    pipe_to(&ws, &fail, Stdout::OneByte)
        .keeps(1)
        .closed_before_the_end_of(&full)
        .stderr_has("FAIL (exit 1):");

    // A pass into a closed pipe is still a pass: the reader had enough.
    let pass = ["eval", "pass", "--format", "json"];
    let full = pc(&ws, &pass);
    full.success();
    pipe_to(&ws, &pass, Stdout::ClosedPipe).keeps(0);
    pipe_to(&ws, &pass, Stdout::OneByte)
        .keeps(0)
        .closed_before_the_end_of(&full);
    pipe_to(&ws, &["eval", "pass"], Stdout::ClosedPipe).keeps(0);

    // Nothing to evaluate stays inconclusive.
    let none = ["eval", "pass", "--filter-id", "nope"];
    pc(&ws, &none).code(5);
    pipe_to(&ws, &none, Stdout::ClosedPipe)
        .keeps(5)
        .stderr_has("INCONCLUSIVE (exit 5):");
}

#[test]
fn eval_with_an_output_file_that_cannot_be_written() {
    assert_missing_dir();
    let ws = suites();
    for format in ["table", "junit"] {
        let file = format!("{MISSING_DIR}/x");
        // A pass whose report could not be written is not a pass.
        let runs = saved_runs(&ws);
        pc(&ws, &["eval", "pass", "--format", format, "-o", &file])
            .code(3)
            .stderr_has(&format!("`{file}`"))
            .stderr_has("does not exist")
            .stderr_lacks("PASS")
            .stdout_empty();
        assert_eq!(saved_runs(&ws), runs + 1, "the run itself was saved");
        // A "no" stays a "no", and the path is still named.
        pc(&ws, &["eval", "fail", "--format", format, "-o", &file])
            .code(1)
            .stderr_has(&format!("`{file}`"))
            .stderr_has("FAIL (exit 1): gates failed")
            .stdout_empty();
        assert!(!Path::new(MISSING_DIR).exists(), "-o created {MISSING_DIR}");
    }
    // The same file in a folder that exists is written, and the pass stands.
    let file = ws.tmp().join("report.xml");
    let file = file.to_str().expect("a UTF-8 path");
    pc(&ws, &["eval", "pass", "--format", "junit", "-o", file])
        .success()
        .stdout_empty();
    let xml = std::fs::read_to_string(file).expect("the report was written");
    assert!(xml.contains("<testsuite"), "{xml}");
}

#[test]
fn eval_with_stdout_on_a_full_disk() {
    let ws = suites();
    let runs = saved_runs(&ws);
    pipe_to(&ws, &["eval", "pass"], Stdout::DevFull)
        .code(3)
        .stderr_has("could not write the output to stdout")
        .stderr_has("No space left");
    pipe_to(&ws, &["eval", "pass", "--json"], Stdout::DevFull)
        .code(3)
        .stderr_has("No space left");
    pipe_to(&ws, &["eval", "fail"], Stdout::DevFull)
        .code(1)
        .stderr_has("FAIL (exit 1): gates failed");
    assert_eq!(saved_runs(&ws), runs + 3, "every run was saved");
}

#[test]
fn an_unwritable_step_summary_is_a_warning_and_keeps_the_verdict() {
    assert_missing_dir();
    let ws = suites();
    let summary = format!("{MISSING_DIR}/summary.md");
    let warning = format!("(`{summary}`)");
    cmd(&ws, &["eval", "pass"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .run()
        .success()
        .stderr_has("warning: could not append the summary to `$GITHUB_STEP_SUMMARY`")
        .stderr_has(&warning)
        .stderr_lacks("error:")
        .stdout_has("PASS (exit 0)");
    cmd(&ws, &["eval", "fail"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .run()
        .code(1)
        .stderr_has(&warning)
        .stderr_has("FAIL (exit 1): gates failed");
    assert!(!Path::new(MISSING_DIR).exists());

    // A summary that can be written gets the report and no warning.
    let ok = ws.tmp().join("summary.md");
    cmd(&ws, &["eval", "pass"])
        .env("GITHUB_STEP_SUMMARY", &ok)
        .run()
        .success()
        .stderr_lacks("warning:");
    let text = std::fs::read_to_string(&ok).expect("the summary was written");
    assert!(text.contains("promptctl eval `pass`: PASS"), "{text}");
}

#[test]
fn quiet_hides_the_status_lines_but_not_the_data_nor_the_verdict() {
    let ws = suites();
    // Without --quiet, the run's path is said on stderr.
    pc(&ws, &["eval", "pass"])
        .success()
        .stderr_has("saved run `");

    pc(&ws, &["eval", "pass", "--quiet"])
        .success()
        .stderr_lacks("saved run")
        .stdout_has("pass_rate")
        .stdout_has("PASS (exit 0)");
    let run = pc(&ws, &["eval", "fail", "--quiet"]);
    run.code(1)
        .stderr_lacks("saved run")
        .stderr_has("FAIL (exit 1): gates failed: pass_rate")
        .stdout_has("pass_rate")
        .stdout_has("c3");
    let json = pc(&ws, &["eval", "fail", "--quiet", "--json"]);
    json.code(1)
        .stderr_lacks("saved run")
        .stderr_has("FAIL (exit 1):");
    assert_eq!(json.json()["verdict"]["exit_code"], 1);

    // `-q` is the same flag, and so is PROMPTCTL_QUIET.
    pc(&ws, &["eval", "fail", "-q"])
        .code(1)
        .stderr_lacks("saved run")
        .stderr_has("FAIL (exit 1):");
    cmd(&ws, &["eval", "fail"])
        .env("PROMPTCTL_QUIET", "true")
        .run()
        .code(1)
        .stderr_lacks("saved run")
        .stderr_has("FAIL (exit 1):");
    // And merge's status line too.
    let a = pc(&ws, &["eval", "fail", "--shard", "1/2"]);
    let b = pc(&ws, &["eval", "fail", "--shard", "2/2"]);
    let (a, b) = (saved_path(&a.stderr), saved_path(&b.stderr));
    pc(&ws, &["merge", &a, &b])
        .code(1)
        .stderr_has("saved merged run");
    pc(&ws, &["merge", &a, &b, "--quiet"])
        .code(1)
        .stderr_lacks("saved merged run")
        .stderr_has("FAIL (exit 1):")
        .stdout_has("pass_rate");
}

// ---------------------------------------------------------------------------
// gate and merge
// ---------------------------------------------------------------------------

#[test]
fn gate_keeps_its_verdict_when_the_reader_goes_away() {
    let ws = suites();
    let failed = saved_path(&pc(&ws, &["eval", "fail"]).code(1).stderr);
    let passed = saved_path(&pc(&ws, &["eval", "pass"]).success().stderr);

    let fail = ["gate", failed.as_str(), "--format", "json"];
    let full = pc(&ws, &fail);
    full.code(1).stderr_has("FAIL (exit 1):");
    pipe_to(&ws, &fail, Stdout::ClosedPipe)
        .keeps(1)
        .stderr_has("FAIL (exit 1): gates failed");
    pipe_to(&ws, &fail, Stdout::OneByte)
        .keeps(1)
        .closed_before_the_end_of(&full)
        .stderr_has("FAIL (exit 1):");
    pipe_to(&ws, &fail, Stdout::DevFull).code(1);

    let pass = ["gate", passed.as_str(), "--format", "json"];
    let full = pc(&ws, &pass);
    full.success();
    pipe_to(&ws, &pass, Stdout::ClosedPipe).keeps(0);
    pipe_to(&ws, &pass, Stdout::OneByte)
        .keeps(0)
        .closed_before_the_end_of(&full);
    pipe_to(&ws, &pass, Stdout::DevFull)
        .code(3)
        .stderr_has("No space left");
}

#[test]
fn merge_keeps_its_verdict_when_the_reader_goes_away() {
    let ws = Workspace::init();
    echo_suite(&ws, "pass", 4, false);
    echo_suite(&ws, "fail", 4, true);
    let shards = |suite: &str| -> [String; 2] {
        ["1/2", "2/2"].map(|shard| {
            let run = pc(&ws, &["eval", suite, "--shard", shard]);
            assert!(matches!(run.code, Some(0 | 1)), "{run}");
            saved_path(&run.stderr)
        })
    };

    let [a, b] = shards("fail");
    let fail = ["merge", &a, &b, "--format", "json"];
    let full = pc(&ws, &fail);
    full.code(1).stderr_has("FAIL (exit 1):");
    assert_eq!(full.json()["summary"]["cases"], 4, "{full}");
    let runs = saved_runs(&ws);
    let closed = pipe_to(&ws, &fail, Stdout::ClosedPipe);
    closed.keeps(1).stderr_has("FAIL (exit 1): gates failed");
    assert_eq!(saved_runs(&ws), runs + 1, "the merged run was saved");
    let merged = run_file(&ws, &saved_path(&closed.stderr));
    assert_eq!(merged["verdict"]["exit_code"], 1);
    pipe_to(&ws, &fail, Stdout::OneByte)
        .keeps(1)
        .closed_before_the_end_of(&full);

    let [a, b] = shards("pass");
    let pass = ["merge", &a, &b, "--format", "json"];
    let full = pc(&ws, &pass);
    full.success();
    pipe_to(&ws, &pass, Stdout::ClosedPipe).keeps(0);
    pipe_to(&ws, &pass, Stdout::OneByte)
        .keeps(0)
        .closed_before_the_end_of(&full);
    pipe_to(&ws, &pass, Stdout::DevFull)
        .code(3)
        .stderr_has("No space left");
}

// ---------------------------------------------------------------------------
// verify, lint, doctor
// ---------------------------------------------------------------------------

/// Puts `n` stray files into released version 0.1.0: each is a problem
/// that `verify` and `doctor` list, so their output is long.
fn tamper(ws: &Workspace, n: usize) {
    for i in 0..n {
        ws.write(
            &format!("{}/stray-{i:03}.txt", version_dir("0.1.0")),
            "looks harmless\n",
        );
    }
}

#[test]
fn verify_keeps_its_verdict_when_the_reader_goes_away() {
    let ws = Workspace::init();
    ws.release(&["--bump", "minor", "-m", "First release"]);
    pc(&ws, &["verify"])
        .success()
        .stdout_has("support_bot@0.1.0");
    pipe_to(&ws, &["verify"], Stdout::ClosedPipe).keeps(0);
    pipe_to(&ws, &["verify"], Stdout::FullPipeOneByte).keeps(0);
    pipe_to(&ws, &["verify"], Stdout::DevFull)
        .code(3)
        .stderr_has("No space left");

    tamper(&ws, 100);
    let full = pc(&ws, &["verify"]);
    full.code(4)
        .stdout_has("FAIL  support_bot@0.1.0")
        .stdout_has("stray-099.txt")
        .stderr_has("INTEGRITY (exit 4):");
    for to in [Stdout::ClosedPipe, Stdout::OneByte, Stdout::DevFull] {
        let run = pipe_to(&ws, &["verify"], to);
        run.code(4)
            .stderr_has("INTEGRITY (exit 4):")
            .stderr_has("support_bot@0.1.0");
        if to != Stdout::DevFull {
            run.keeps(4);
        }
        if to == Stdout::OneByte {
            run.closed_before_the_end_of(&full);
        }
    }
    pipe_to(&ws, &["verify", "--json"], Stdout::ClosedPipe).keeps(4);
}

#[test]
fn lint_keeps_its_verdict_when_the_reader_goes_away() {
    let ws = Workspace::init();
    pc(&ws, &["lint"]).success();
    pipe_to(&ws, &["lint"], Stdout::ClosedPipe).keeps(0);
    pipe_to(&ws, &["lint"], Stdout::FullPipeOneByte).keeps(0);

    // One `error` finding a line: a credential in the system text.
    let key = format!("sk-proj-{}", "a1B2c3D4e5".repeat(3));
    let lines: String = (0..60)
        .map(|i| format!("Internal {i}: use {key} for the status API.\n"))
        .collect();
    ws.append(SYSTEM, &format!("\n{lines}"));
    let full = pc(&ws, &["lint"]);
    full.code(1)
        .stdout_has("error[secret]")
        .stderr_has("FAIL (exit 1): lint found");
    pipe_to(&ws, &["lint"], Stdout::ClosedPipe)
        .keeps(1)
        .stderr_has("FAIL (exit 1): lint found");
    pipe_to(&ws, &["lint"], Stdout::OneByte)
        .keeps(1)
        .closed_before_the_end_of(&full)
        .stderr_has("FAIL (exit 1):");
    pipe_to(&ws, &["lint", "--json"], Stdout::ClosedPipe).keeps(1);
    pipe_to(&ws, &["lint"], Stdout::DevFull).code(1);
}

#[test]
fn doctor_keeps_its_verdict_when_the_reader_goes_away() {
    let ws = Workspace::init();
    ws.release(&["--bump", "minor", "-m", "First release"]);
    pc(&ws, &["doctor"])
        .success()
        .stdout_has("1 version verifies (0.1.0)");
    pipe_to(&ws, &["doctor"], Stdout::ClosedPipe).keeps(0);
    pipe_to(&ws, &["doctor"], Stdout::FullPipeOneByte).keeps(0);
    pipe_to(&ws, &["doctor"], Stdout::DevFull)
        .code(3)
        .stderr_has("No space left");

    tamper(&ws, 100);
    let full = pc(&ws, &["doctor"]);
    full.code(4)
        .stdout_has("stray-099.txt")
        .stderr_has("INTEGRITY (exit 4): doctor: 1 check failed: `versions support_bot`");
    pipe_to(&ws, &["doctor"], Stdout::ClosedPipe)
        .keeps(4)
        .stderr_has("INTEGRITY (exit 4):");
    pipe_to(&ws, &["doctor"], Stdout::OneByte)
        .keeps(4)
        .closed_before_the_end_of(&full)
        .stderr_has("INTEGRITY (exit 4):");
    pipe_to(&ws, &["doctor", "--json"], Stdout::ClosedPipe).keeps(4);
    pipe_to(&ws, &["doctor"], Stdout::DevFull).code(4);
}

// ---------------------------------------------------------------------------
// ab
// ---------------------------------------------------------------------------

/// `n` requests of `version` (5 in every hundred refused, latency
/// 100 + (i mod 50) + `slower` ms) in `segments` segments.
fn ab_arm(version: &str, n: usize, slower: f64, segments: usize) -> String {
    (0..n)
        .map(|i| {
            let line = serde_json::json!({
                "ts": "2026-11-21T10:00:00Z",
                "prompt": NAME,
                "version": version,
                "env": "production",
                "key": format!("user-{i}"),
                "segment": format!("seg-{:03}", i % segments),
                "latency_ms": 100.0 + (i % 50) as f64 + slower,
                "outcome": if i % 100 < 5 { "refusal" } else { "ok" },
            });
            format!("{line}\n")
        })
        .collect()
}

#[test]
fn ab_keeps_its_verdict_when_the_reader_goes_away() {
    let ws = Workspace::init();
    let analyze = [
        "ab",
        "analyze",
        "--logs",
        "prod.jsonl",
        "--metric",
        "success_rate",
        "--guardrail",
        "latency_ms",
        "--segment-by",
        "segment",
    ];

    // B is 20 ms slower: a guardrail got worse.
    ws.write(
        "prod.jsonl",
        ab_arm("1.2.0", 1000, 0.0, 100) + &ab_arm("1.3.0", 1000, 20.0, 100),
    );
    let full = pc(&ws, &analyze);
    full.code(1)
        .stdout_has("seg-099")
        .stderr_has("FAIL (exit 1): A/B analysis guardrail breached");
    pipe_to(&ws, &analyze, Stdout::ClosedPipe)
        .keeps(1)
        .stderr_has("guardrail `latency_ms` got significantly worse");
    pipe_to(&ws, &analyze, Stdout::OneByte)
        .keeps(1)
        .closed_before_the_end_of(&full)
        .stderr_has("FAIL (exit 1):");
    let mut json = analyze.to_vec();
    json.push("--json");
    pipe_to(&ws, &json, Stdout::ClosedPipe).keeps(1);
    pipe_to(&ws, &analyze, Stdout::DevFull).code(1);

    // 700/300 at a 50/50 split: a sample-ratio mismatch, inconclusive.
    ws.write(
        "prod.jsonl",
        ab_arm("1.2.0", 700, 0.0, 100) + &ab_arm("1.3.0", 300, 0.0, 100),
    );
    let full = pc(&ws, &analyze);
    full.code(5).stderr_has("INCONCLUSIVE (exit 5):");
    pipe_to(&ws, &analyze, Stdout::ClosedPipe)
        .keeps(5)
        .stderr_has("sample-ratio mismatch");
    pipe_to(&ws, &analyze, Stdout::OneByte)
        .keeps(5)
        .closed_before_the_end_of(&full);

    // The same arms: done, a pass.
    ws.write(
        "prod.jsonl",
        ab_arm("1.2.0", 1000, 0.0, 100) + &ab_arm("1.3.0", 1000, 0.0, 100),
    );
    let full = pc(&ws, &analyze);
    full.success();
    pipe_to(&ws, &analyze, Stdout::ClosedPipe).keeps(0);
    pipe_to(&ws, &analyze, Stdout::OneByte)
        .keeps(0)
        .closed_before_the_end_of(&full);
    pipe_to(&ws, &analyze, Stdout::DevFull)
        .code(3)
        .stderr_has("No space left");
}

// ---------------------------------------------------------------------------
// canary
// ---------------------------------------------------------------------------

const RELEASES: &str = "prompts/support_bot/releases.yaml";
const HISTORY: &str = "prompts/support_bot/history.jsonl";

/// `promote ARGS --skip-gate --reason setup`, asserting success.
fn skip_gate(ws: &Workspace, args: &[&str]) {
    let mut all = vec!["promote"];
    all.extend_from_slice(args);
    all.extend(["--skip-gate", "--reason", "setup"]);
    pc(ws, &all).success();
}

/// 1.1.0 as a canary at 50% in production.
fn start_canary(ws: &Workspace) {
    skip_gate(
        ws,
        &["support_bot@1.1.0", "--env", "production", "--canary", "50"],
    );
    let prod = production(ws);
    assert_eq!(prod["active"], "1.0.0", "{prod}");
    assert_eq!(prod["canary"]["version"], "1.1.0", "{prod}");
}

/// 1.0.0 live in production, 1.1.0 its canary at 50%.
fn canary_workspace() -> Workspace {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    ws.append(SYSTEM, "\nHouse rule: keep it short.\n");
    ws.release(&["--version", "1.1.0", "-m", "second"]);
    skip_gate(&ws, &["support_bot@1.0.0", "--env", "staging"]);
    skip_gate(&ws, &["support_bot@1.0.0", "--env", "production"]);
    skip_gate(&ws, &["support_bot@1.1.0", "--env", "staging"]);
    start_canary(&ws);
    ws
}

/// `releases.yaml`'s production environment.
fn production(ws: &Workspace) -> Value {
    let releases: Value = serde_yaml::from_str(&ws.read(RELEASES)).expect("releases.yaml is YAML");
    releases["environments"]["production"].clone()
}

/// The production row of `status --json`.
fn status_production(ws: &Workspace) -> Value {
    let rows = pc(ws, &["status", "--json"]).success().json();
    rows.as_array()
        .expect("an array")
        .iter()
        .find(|r| r["env"] == "production" && r["prompt"] == "support_bot")
        .unwrap_or_else(|| panic!("no production row: {rows}"))
        .clone()
}

/// `prod.jsonl`: `n` requests of each arm, the canary's latencies × `slow`.
fn canary_logs(ws: &Workspace, n: usize, slow: f64) {
    let mut text = String::new();
    for i in 0..n {
        for (version, factor) in [("1.0.0", 1.0), ("1.1.0", slow)] {
            let line = serde_json::json!({
                "ts": "2026-11-21T10:00:00Z",
                "prompt": NAME,
                "version": version,
                "env": "production",
                "key": format!("{version}-user-{i}"),
                "latency_ms": (100 + i) as f64 * factor,
                "outcome": "ok",
            });
            text.push_str(&format!("{line}\n"));
        }
    }
    ws.write("prod.jsonl", text);
}

/// `canary --apply`.
const CANARY_APPLY: [&str; 7] = [
    "canary",
    NAME,
    "--env",
    "production",
    "--logs",
    "prod.jsonl",
    "--apply",
];
/// `canary` without `--apply`.
const CANARY_LOOK: [&str; 6] = [
    "canary",
    NAME,
    "--env",
    "production",
    "--logs",
    "prod.jsonl",
];

#[test]
fn canary_keeps_its_verdict_when_the_reader_goes_away() {
    let ws = canary_workspace();
    let before = ws.read_bytes(RELEASES);

    // 30% slower at P95: roll back.
    canary_logs(&ws, 400, 1.3);
    pc(&ws, &CANARY_LOOK)
        .code(1)
        .stdout_has("verdict: rollback")
        .stderr_has("canary verdict: rollback");
    for to in [Stdout::ClosedPipe, Stdout::FullPipeOneByte] {
        pipe_to(&ws, &CANARY_LOOK, to)
            .keeps(1)
            .stderr_has("FAIL (exit 1): canary verdict: rollback");
    }
    let mut json = CANARY_LOOK.to_vec();
    json.push("--json");
    pipe_to(&ws, &json, Stdout::ClosedPipe).keeps(1);
    pipe_to(&ws, &CANARY_LOOK, Stdout::DevFull).code(1);

    // Ten requests an arm: hold, inconclusive.
    canary_logs(&ws, 10, 1.3);
    pc(&ws, &CANARY_LOOK)
        .code(5)
        .stderr_has("canary verdict: hold");
    for to in [Stdout::ClosedPipe, Stdout::FullPipeOneByte] {
        pipe_to(&ws, &CANARY_LOOK, to)
            .keeps(5)
            .stderr_has("INCONCLUSIVE (exit 5): canary verdict: hold");
    }

    // The same arms: promote, a pass.
    canary_logs(&ws, 400, 1.0);
    pc(&ws, &CANARY_LOOK)
        .success()
        .stdout_has("verdict: promote");
    for to in [Stdout::ClosedPipe, Stdout::FullPipeOneByte] {
        pipe_to(&ws, &CANARY_LOOK, to).keeps(0);
    }
    pipe_to(&ws, &CANARY_LOOK, Stdout::DevFull)
        .code(3)
        .stderr_has("No space left");

    assert_eq!(
        ws.read_bytes(RELEASES),
        before,
        "without --apply nothing changes"
    );
}

#[test]
fn canary_apply_rolls_back_before_it_prints() {
    let ws = canary_workspace();
    canary_logs(&ws, 400, 1.3);
    assert_eq!(status_production(&ws)["canary"], "1.1.0");
    for to in [Stdout::ClosedPipe, Stdout::FullPipeOneByte, Stdout::DevFull] {
        let entries = ws.read(HISTORY).lines().count();
        pipe_to(&ws, &CANARY_APPLY, to)
            .code(1)
            .stderr_has("FAIL (exit 1): canary verdict: rollback");

        // The canary ended; stable stayed live.
        let prod = production(&ws);
        assert_eq!(prod["active"], "1.0.0", "{to:?}: {prod}");
        assert!(prod.get("canary").is_none(), "{to:?}: {prod}");
        let row = status_production(&ws);
        assert_eq!(row["live"], "1.0.0", "{to:?}: {row}");
        assert!(row["canary"].is_null(), "{to:?}: {row}");
        assert_eq!(row["last_change"]["action"], "rollback", "{to:?}: {row}");
        let history = ws.read(HISTORY);
        assert_eq!(history.lines().count(), entries + 1, "{to:?}\n{history}");
        let last: Value =
            serde_json::from_str(history.lines().last().expect("an entry")).expect("a JSON line");
        assert_eq!(last["action"], "rollback", "{last}");
        assert_eq!(last["from"], "1.1.0", "{last}");
        assert!(
            last["reason"]
                .as_str()
                .is_some_and(|r| r.contains("canary analysis")),
            "{last}"
        );

        // Nothing left to judge, until the next canary.
        pc(&ws, &CANARY_LOOK)
            .code(2)
            .stderr_has("no canary is running");
        start_canary(&ws);
    }
}
