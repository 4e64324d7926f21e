//! The test harness: a fresh workspace per test, an isolated environment,
//! the real binary, and assertions on exit code, stdout, stderr and files.
//!
//! Every test gets its own temp folder `T` with the workspace in `T/ws`
//! (created by the real `promptctl init`), so a command that escaped the
//! workspace (a `../x` name, say) would write into `T`, where [`Workspace::tree`]
//! sees it. Git is fenced in with `GIT_CEILING_DIRECTORIES=T`.
//!
//! Every command starts from an empty environment ([`isolate`]): nothing the
//! test process has (`PROMPTCTL_*`, `GITHUB_STEP_SUMMARY`, `CI`, colour
//! variables, API keys, proxies, `GIT_DIR` from a hook) reaches it unless a
//! test sets it.

#![allow(dead_code)] // each test module uses a different part of the harness

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

pub const BIN: &str = env!("CARGO_BIN_EXE_promptctl");

/// What every command sees as "now": `SOURCE_DATE_EPOCH`, and the same instant
/// as `created_at` writes it.
pub const EPOCH: &str = "1763719200";
pub const EPOCH_RFC3339: &str = "2025-11-21T10:00:00Z";

/// The example prompt that `init` writes, relative to the workspace root.
pub const NAME: &str = "support_bot";
pub const PROMPT: &str = "prompts/support_bot/prompt.yaml";
pub const SYSTEM: &str = "prompts/support_bot/system.md";
pub const CHANGELOG: &str = "prompts/support_bot/CHANGELOG.md";

/// The line of the example system text that uses `{{user_name}}`, and the same
/// line without it.
pub const GREETING: &str =
    "Greet the user as {{user_name}} in your first sentence, then get to the point.";
pub const GREETING_NO_NAME: &str = "Greet the user, then get to the point.";

/// A hung command fails its test instead of hanging the suite.
const WATCHDOG: Duration = Duration::from_secs(120);

/// The folder of one released version, relative to the workspace root.
pub fn version_dir(version: &str) -> String {
    format!("prompts/{NAME}/versions/{version}")
}

/// `sha256:<hex>` of bytes, as promptctl writes file hashes.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The 1-based number of the first line of `text` that contains `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("no line contains {needle:?}"))
}

/// A nine-level "billion laughs" YAML document: 9^9 strings once expanded.
/// Each line is prefixed with `indent`, so it can sit under a key.
pub fn alias_bomb(indent: &str) -> String {
    let mut doc = format!(
        "{indent}a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
    );
    let names: Vec<char> = ('a'..='i').collect();
    for pair in names.windows(2) {
        let (prev, this) = (pair[0], pair[1]);
        let refs = vec![format!("*{prev}"); 9].join(",");
        doc.push_str(&format!("{indent}{this}: &{this} [{refs}]\n"));
    }
    doc
}

/// A temp folder holding one workspace at `ws/`.
pub struct Workspace {
    tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Workspace {
    /// A workspace created by `promptctl init`.
    pub fn init() -> Workspace {
        let ws = Workspace::empty();
        ws.cmd(["init", "ws"]).current_dir(ws.tmp()).run().success();
        assert!(
            ws.path("promptctl.yaml").is_file(),
            "init wrote no promptctl.yaml"
        );
        ws
    }

    /// A temp folder whose `ws/` folder exists but is empty: not a workspace.
    pub fn empty() -> Workspace {
        let tmp = tempfile::Builder::new()
            .prefix("promptctl-test-")
            .tempdir()
            .expect("create a temp dir");
        // Canonical, so that paths in output compare equal to ours.
        let base = tmp
            .path()
            .canonicalize()
            .expect("canonicalize the temp dir");
        let root = base.join("ws");
        std::fs::create_dir(&root).expect("create ws/");
        Workspace { tmp, root }
    }

    /// The workspace root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The temp folder around the workspace.
    pub fn tmp(&self) -> PathBuf {
        self.root.parent().expect("ws/ has a parent").to_path_buf()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn read_bytes(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
        let path = self.path(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        }
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {rel}: {e}"));
    }

    pub fn append(&self, rel: &str, text: &str) {
        let mut contents = self.read(rel);
        contents.push_str(text);
        self.write(rel, contents);
    }

    /// Replaces the one occurrence of `from` in a file; a test that edits text
    /// that is not there (or is there twice) is a broken test, so it panics.
    pub fn replace(&self, rel: &str, from: &str, to: &str) {
        let text = self.read(rel);
        let count = text.matches(from).count();
        assert_eq!(
            count, 1,
            "{rel} contains {from:?} {count} times, expected once"
        );
        self.write(rel, text.replacen(from, to, 1));
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.path(rel)).unwrap_or_else(|e| panic!("remove {rel}: {e}"));
    }

    /// Changes the last ASCII letter or digit of a file to a different one:
    /// a one-byte edit that leaves the file's syntax intact.
    pub fn change_one_byte(&self, rel: &str) {
        let mut bytes = self.read_bytes(rel);
        let i = bytes
            .iter()
            .rposition(u8::is_ascii_alphanumeric)
            .unwrap_or_else(|| panic!("{rel} has no letter or digit"));
        bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
        self.write(rel, bytes);
    }

    /// Removes `{{user_name}}` from the system text and the variable from
    /// `prompt.yaml`: a breaking change (a removed variable).
    pub fn drop_user_name(&self) {
        self.replace(SYSTEM, GREETING, GREETING_NO_NAME);
        let prompt = self.read(PROMPT);
        let kept: Vec<&str> = prompt
            .lines()
            .filter(|l| !l.trim_start().starts_with("user_name:"))
            .collect();
        assert_eq!(
            kept.len() + 1,
            prompt.lines().count(),
            "prompt.yaml declares user_name once"
        );
        self.write(PROMPT, kept.join("\n") + "\n");
    }

    /// A text-only edit of the draft (a patch), different for each `n`.
    pub fn edit_text(&self, n: u32) {
        self.append(SYSTEM, &format!("\nHouse rule {n}: keep it short.\n"));
    }

    /// `promptctl ARGS` run in the workspace root.
    pub fn cmd<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Cmd::new(BIN, &self.tmp());
        cmd.args(args).current_dir(&self.root);
        cmd
    }

    /// Runs `promptctl ARGS` in the workspace root.
    pub fn run(&self, args: &[&str]) -> Run {
        self.cmd(args).run()
    }

    /// Releases and asserts success.
    pub fn release(&self, args: &[&str]) -> Run {
        let mut all = vec!["release", NAME];
        all.extend_from_slice(args);
        let run = self.run(&all);
        run.success();
        run
    }

    /// `hash NAME[@ver] --json`, parsed.
    pub fn hash(&self, prompt: &str) -> Value {
        self.run(&["hash", prompt, "--json"]).success().json()
    }

    /// A version's `manifest.yaml`, parsed.
    pub fn manifest(&self, version: &str) -> serde_yaml::Value {
        let rel = format!("{}/manifest.yaml", version_dir(version));
        serde_yaml::from_str(&self.read(&rel)).unwrap_or_else(|e| panic!("parse {rel}: {e}"))
    }

    /// Runs git in the workspace root, isolated from the user's config, and
    /// asserts success.
    pub fn git(&self, args: &[&str]) -> Run {
        let mut cmd = Cmd::new("git", &self.tmp());
        cmd.args(args).current_dir(&self.root);
        let run = cmd.run();
        run.success();
        run
    }

    /// Every file, folder and symlink under the temp folder (the workspace and
    /// anything beside it), skipping local state (`.promptctl/`).
    pub fn tree(&self) -> Tree {
        Tree::of(&self.tmp())
    }
}

/// The only variables a command inherits from the test process: where
/// programs and temporary files are, what Windows cannot start a process
/// without, and where `cargo llvm-cov` wants the binary's coverage.
const INHERITED: &[&str] = &[
    "PATH",
    "TMPDIR",
    "TMP",
    "TEMP",
    "SYSTEMROOT",
    "LLVM_PROFILE_FILE",
];

/// Gives `cmd` a clean environment: cleared, then [`INHERITED`] from the
/// test process and what every test wants: `HOME` and git's ceiling at the
/// temp folder `fence`, git without system or global config, no colour,
/// time pinned with `SOURCE_DATE_EPOCH`, 100 columns. A test that needs
/// more (`PROMPTCTL_USER`, an API key, `GITHUB_STEP_SUMMARY`) sets it on
/// the command; variables promptctl reads are in `src/workspace/env.rs`,
/// and API keys are named by `api_key_env` in `promptctl.yaml`.
pub fn isolate(cmd: &mut std::process::Command, fence: &Path) {
    cmd.env_clear();
    for var in INHERITED {
        if let Some(value) = std::env::var_os(var) {
            cmd.env(var, value);
        }
    }
    cmd.env("HOME", fence)
        .env("NO_COLOR", "1")
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env("COLUMNS", "100")
        .env("GIT_CEILING_DIRECTORIES", fence)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
}

/// A `promptctl` (or `git`) command with an isolated environment.
pub struct Cmd {
    inner: assert_cmd::Command,
    shown: String,
}

impl Cmd {
    fn new(program: &str, fence: &Path) -> Cmd {
        let mut std = std::process::Command::new(program);
        isolate(&mut std, fence);
        let mut inner = assert_cmd::Command::from_std(std);
        inner.timeout(WATCHDOG);
        let name = Path::new(program)
            .file_name()
            .map_or(program.into(), |n| n.to_string_lossy().into_owned());
        Cmd { inner, shown: name }
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.shown.push(' ');
        self.shown.push_str(&arg.as_ref().to_string_lossy());
        self.inner.arg(arg);
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self.arg(a);
        }
        self
    }

    pub fn env(&mut self, key: &str, value: impl AsRef<OsStr>) -> &mut Self {
        self.inner.env(key, value);
        self
    }

    pub fn env_remove(&mut self, key: &str) -> &mut Self {
        self.inner.env_remove(key);
        self
    }

    /// Sets `NO_PROXY` for loopback, so a command that talks to a local
    /// server (`tests/fake`) reaches it directly even if a test sets a proxy
    /// (no proxy variable is inherited: see [`isolate`]).
    pub fn without_proxies(&mut self) -> &mut Self {
        self.inner
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost");
        self
    }

    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.inner.current_dir(dir);
        self
    }

    pub fn run(&mut self) -> Run {
        let out = self
            .inner
            .output()
            .unwrap_or_else(|e| panic!("could not run `{}`: {e}", self.shown));
        Run {
            command: self.shown.clone(),
            code: out.status.code(),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        }
    }
}

/// A finished command: its exit code and both streams.
pub struct Run {
    pub command: String,
    /// `None` when the process was killed (by the watchdog, say).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self
            .code
            .map_or("killed by a signal (timed out?)".to_string(), |c| {
                c.to_string()
            });
        write!(
            f,
            "command: {}\nexit code: {code}\n--- stdout ---\n{}\n--- stderr ---\n{}\n---",
            self.command, self.stdout, self.stderr
        )
    }
}

impl Run {
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, Some(expected), "unexpected exit code\n{self}");
        self
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        self.code(0)
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn stdout_lacks(&self, needle: &str) -> &Self {
        assert!(
            !self.stdout.contains(needle),
            "stdout contains {needle:?}\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn stderr_lacks(&self, needle: &str) -> &Self {
        assert!(
            !self.stderr.contains(needle),
            "stderr contains {needle:?}\n{self}"
        );
        self
    }

    /// Neither stream contains `needle`.
    #[track_caller]
    pub fn output_lacks(&self, needle: &str) -> &Self {
        self.stdout_lacks(needle).stderr_lacks(needle)
    }

    /// stdout has nothing but whitespace.
    #[track_caller]
    pub fn stdout_empty(&self) -> &Self {
        assert!(self.stdout.trim().is_empty(), "stdout is not empty\n{self}");
        self
    }

    /// stdout parsed as JSON (and nothing else).
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{self}"))
    }
}

/// Every regular file under `dir`, recursively, hidden folders (such as
/// `.promptctl/`) included; sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("read {}: {e}", d.display()));
        for entry in entries {
            let entry = entry.expect("read a directory entry");
            let ty = entry.file_type().expect("file type");
            if ty.is_dir() {
                todo.push(entry.path());
            } else if ty.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// One entry of a [`Tree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir,
    /// sha256 of the bytes.
    File(String),
    Symlink(PathBuf),
}

/// A snapshot of a folder: relative path → entry. Two snapshots are equal
/// when nothing was written, removed or changed in between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree(BTreeMap<String, Entry>);

impl Tree {
    pub fn of(dir: &Path) -> Tree {
        let mut entries = BTreeMap::new();
        walk(dir, "", &mut entries);
        Tree(entries)
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Asserts that `after` equals this snapshot, listing what differs.
    #[track_caller]
    pub fn assert_unchanged(&self, after: &Tree, context: &dyn fmt::Display) {
        let mut diffs = Vec::new();
        for (path, entry) in &self.0 {
            match after.0.get(path) {
                None => diffs.push(format!("removed  {path}")),
                Some(e) if e != entry => diffs.push(format!("changed  {path}")),
                Some(_) => {}
            }
        }
        for path in after.0.keys().filter(|p| !self.0.contains_key(*p)) {
            diffs.push(format!("added    {path}"));
        }
        assert!(
            diffs.is_empty(),
            "the files changed:\n  {}\n{context}",
            diffs.join("\n  ")
        );
    }
}

fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Entry>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("read a directory entry"))
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == ".promptctl" {
            continue;
        }
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let ty = entry.file_type().expect("file type");
        if ty.is_symlink() {
            let target = std::fs::read_link(entry.path()).expect("read a symlink");
            out.insert(rel, Entry::Symlink(target));
        } else if ty.is_dir() {
            out.insert(rel.clone(), Entry::Dir);
            walk(&entry.path(), &rel, out);
        } else {
            let bytes = std::fs::read(entry.path()).expect("read a file");
            out.insert(rel, Entry::File(sha256(&bytes)));
        }
    }
}

impl Workspace {
    /// `promptctl ARGS` in the workspace root as a plain
    /// [`std::process::Command`], with the same isolated environment as
    /// [`Workspace::cmd`] but no watchdog and no captured output: for tests
    /// that spawn many commands at once, or kill one in the middle of a write.
    pub fn std_cmd<I, S>(&self, args: I) -> std::process::Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = std::process::Command::new(BIN);
        isolate(&mut cmd, &self.tmp());
        cmd.args(args)
            .current_dir(&self.root)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd
    }
}
