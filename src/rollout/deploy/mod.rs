//! Environments: which version is live where, the canary split, and the
//! append-only history of every change.
//!
//! Two files per prompt. `prompts/<name>/releases.yaml` is small: each
//! environment's `active` version, its `canary`, and `previous`, the
//! versions `rollback` walks back to; and a reference to the history,
//! `history: { file: history.jsonl, entries: N, bytes: B }`.
//! `prompts/<name>/history.jsonl` holds the history, one JSON event a line,
//! oldest first, and is only ever appended to.
//!
//! `releases.yaml` is the commit point: the history is exactly the first `B`
//! bytes (`N` lines) of `history.jsonl`. Anything after them is a tail left
//! by an interrupted write, which readers ignore and the next writer cuts
//! off. A file shorter than `B`, or a prefix of another number of lines,
//! means committed audit history was lost or changed: exit 4.
//!
//! SPEC §7 has the history inline in `releases.yaml`. That made every change
//! read, rewrite and fsync the whole history (15 ms for a rollback at 10,000
//! entries, growing with every entry). Now a change appends a line and
//! rewrites a file of a few hundred bytes, and a plain rollback never opens
//! the history: it decides from `previous`. `git diff` of `releases.yaml`
//! shows the state change alone.
//!
//! # Updates ([`update`])
//!
//! Under the prompt's lock (`.promptctl/locks/<name>.releases.lock`):
//!
//! 1. read `releases.yaml`, and check (a stat, not a read) that
//!    `history.jsonl` is at least `B` bytes long;
//! 2. the change decides from the environments and `previous`; only when it
//!    needs to (`rollback --to` a version no longer in `previous`, a
//!    promotion path) does it read the committed history. If it refuses, or
//!    there is nothing to do, nothing is written;
//! 3. cut `history.jsonl` back to `B` bytes, append the new lines at `B`,
//!    fsync it (and the folder if the file was just created);
//! 4. write `releases.yaml` with the new state and the new `N` and `B`:
//!    temp file, fsync, rename, fsync the folder.
//!
//! Crash analysis. A crash before step 3 changes nothing. A crash in step 3,
//! or after it but before the rename in step 4, leaves the old
//! `releases.yaml`, which still commits the old `B`: the new lines, whole or
//! torn, are an uncommitted tail, so readers see the old state with the old
//! history, and the next writer cuts the tail off before it appends. After
//! the rename, the new state and its entries are committed together; the
//! appended bytes were fsynced before the rename, so a committed `B` never
//! points past what reached the disk. Writers take turns (the lock); readers
//! take no lock and need none, as committed bytes are never rewritten.
//!
//! # Files from before `history.jsonl`
//!
//! They hold the history inline: one JSON line per entry (`- {…}`, what
//! promptctl wrote), or block YAML written by hand. Both still load. The next
//! change migrates: it writes `history.jsonl` in full (temp file and rename,
//! not an append), then `releases.yaml`. A crash between the two leaves the
//! old `releases.yaml`, which does not reference the new file and so still
//! wins; the next change migrates again, replacing it.

pub mod actions;
pub mod bucket;
pub mod gate;
mod history;
mod ledger;

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use semver::Version;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::workspace::Workspace;
use crate::workspace::name::Name;

pub use ledger::{Ledger, update};

pub const RELEASES_FILE: &str = "releases.yaml";
/// The history file promptctl writes, beside `releases.yaml`.
pub const HISTORY_FILE: &str = "history.jsonl";

/// The whole of `releases.yaml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Releases {
    /// Each environment's live state, by its name in `promptctl.yaml`.
    #[serde(default)]
    pub environments: BTreeMap<String, EnvState>,
    /// Where the history of changes is. promptctl writes a reference to
    /// `history.jsonl`; an inline list is the older layout, still read and
    /// migrated on the next change. Absent: no history yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<History>,
}

/// One environment's live state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvState {
    /// The version serving every routing key outside the canary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<Version>,
    /// A version serving a share of routing keys beside `active`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
    /// The versions `rollback` walks back to, newest first: those live here
    /// before `active`, a promotion pushing and a rollback popping back to
    /// its target (a canary changes nothing). Derived from the history and
    /// kept by every change; when absent, promptctl derives it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Vec<Version>>,
}

/// A running canary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Canary {
    /// The version under test.
    pub version: Version,
    /// Share of routing keys served by the canary, 0 < percent < 100.
    pub percent: f64,
}

/// Where the history is: `releases.yaml`'s `history` key.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum History {
    /// In a file beside `releases.yaml` (what promptctl writes).
    File(HistoryFile),
    /// Inline, oldest first: the layout before `history.jsonl`, still read.
    Inline(Vec<Event>),
}

/// The committed part of the history file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryFile {
    /// The file's name, in the folder of `releases.yaml`: `history.jsonl`.
    /// One JSON event a line (an [`Event`]), oldest first.
    pub file: String,
    /// How many entries are committed: the lines in the first `bytes` bytes.
    pub entries: u64,
    /// How many bytes of the file are committed. Anything after them was
    /// left by an interrupted write and is ignored; fewer is lost history.
    pub bytes: u64,
}

impl HistoryFile {
    /// No history yet.
    fn empty() -> HistoryFile {
        HistoryFile {
            file: HISTORY_FILE.to_string(),
            entries: 0,
            bytes: 0,
        }
    }
}

/// What kind of change an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A version made fully live (ending any canary).
    Promote,
    /// A canary started or moved.
    Canary,
    /// Back to an earlier version, or a canary ended.
    Rollback,
}

/// One change, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// When, RFC 3339 in UTC.
    pub at: String,
    /// The environment changed.
    pub env: String,
    pub action: Action,
    /// The version made live (promote, rollback) or put in the canary.
    pub version: Version,
    /// What was live before: the stable version for a canary, the canary's
    /// version for a rollback that ended one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Version>,
    /// The canary's share of routing keys (canary only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// Who: `PROMPTCTL_USER`, else git's `user.name`, else `$USER`.
    pub by: String,
    /// Why (required for a rollback and a skipped gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The digest of the version made live or put in the canary.
    pub digest: String,
    /// The eval run that let this version through (promote and canary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The gate was skipped with `--skip-gate` (the reason says why).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_gate: bool,
}

/// A file reference is a mapping, an inline history a list: decided by the
/// YAML's shape, so that an error inside either names its line and column
/// (an untagged derive would only say that no variant matched).
impl<'de> Deserialize<'de> for History {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<History, D::Error> {
        use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};

        struct Shape;
        impl<'de> serde::de::Visitor<'de> for Shape {
            type Value = History;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`{ file, entries, bytes }` or a list of entries")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<History, A::Error> {
                HistoryFile::deserialize(MapAccessDeserializer::new(map)).map(History::File)
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<History, A::Error> {
                Vec::deserialize(SeqAccessDeserializer::new(seq)).map(History::Inline)
            }
        }
        d.deserialize_any(Shape)
    }
}

pub fn path(ws: &Workspace, name: &Name) -> PathBuf {
    ws.prompt_dir(name).join(RELEASES_FILE)
}

/// What a reader sees: the environments and the committed history.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub environments: BTreeMap<String, EnvState>,
    /// Oldest first.
    pub history: Vec<Event>,
}

impl Snapshot {
    /// The last change in `env`.
    pub fn last_change(&self, env: &str) -> Option<&Event> {
        self.history.iter().rev().find(|e| e.env == env)
    }
}

/// Reads `releases.yaml` and its committed history; a missing file is an
/// empty one. Lost history is exit 4.
pub fn load(ws: &Workspace, name: &Name) -> Result<Snapshot, Error> {
    let read = read(ws, name)?;
    let history = match read.past {
        Past::File(h) => history::read(&ws.prompt_dir(name), &ws.prompt_label(name), &h)?,
        Past::Inline(events) => events,
    };
    Ok(Snapshot {
        environments: read.environments,
        history,
    })
}

/// Checks that the committed history is all there (for `verify`): exit 4
/// if `history.jsonl` is shorter than `releases.yaml` says, or its committed
/// part has another number of lines.
pub fn check_history(ws: &Workspace, name: &Name) -> Result<(), Error> {
    match read(ws, name)?.past {
        Past::File(h) => {
            history::committed(&ws.prompt_dir(name), &ws.prompt_label(name), &h).map(drop)
        }
        Past::Inline(_) => Ok(()),
    }
}

/// `releases.yaml` as read: the environments, and where the history is.
struct Read {
    environments: BTreeMap<String, EnvState>,
    past: Past,
}

enum Past {
    /// In `history.jsonl`, read only when needed.
    File(HistoryFile),
    /// Inline (a file from before `history.jsonl`), read with the rest.
    Inline(Vec<Event>),
}

fn read(ws: &Workspace, name: &Name) -> Result<Read, Error> {
    let path = path(ws, name);
    let label = format!("{}/{RELEASES_FILE}", ws.prompt_label(name));
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(crate::error::io_invalid(&path, &e)),
    };
    if let Some(read) = inline_lines(&text, &label)? {
        return Ok(read);
    }
    let releases: Releases = crate::workspace::yaml::from_str(std::path::Path::new(&label), &text)?;
    let past = match releases.history {
        None => Past::File(HistoryFile::empty()),
        Some(History::File(h)) => {
            history::check_name(&h.file, &label)?;
            Past::File(h)
        }
        Some(History::Inline(events)) => Past::Inline(events),
    };
    Ok(Read {
        environments: releases.environments,
        past,
    })
}

/// The inline history as promptctl used to write it (`- {json}` lines
/// after `history:`), read without the YAML parser, which took 200 ms over
/// 10,000 entries. `None` for any other shape.
fn inline_lines(text: &str, label: &str) -> Result<Option<Read>, Error> {
    let (header, Some(lines)) = split(text) else {
        return Ok(None);
    };
    if !lines
        .lines()
        .all(|l| l.trim().is_empty() || l.starts_with("- {"))
    {
        return Ok(None);
    }
    let head: Releases = crate::workspace::yaml::from_str(std::path::Path::new(label), header)?;
    let first = header.lines().count() + 2;
    let mut events = Vec::new();
    for (i, line) in lines
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let event = serde_json::from_str(&line[2..]).map_err(|e| {
            Error::invalid(format!(
                "`{label}:{}:{}`: history entry: {e}",
                first + i,
                e.column() + 2
            ))
        })?;
        events.push(event);
    }
    Ok(Some(Read {
        environments: head.environments,
        past: Past::Inline(events),
    }))
}

/// The text before the top-level `history:` key, and the lines after it.
fn split(text: &str) -> (&str, Option<&str>) {
    if let Some(rest) = text.strip_prefix("history:\n") {
        return ("", Some(rest));
    }
    match text.find("\nhistory:\n") {
        Some(i) => (&text[..i + 1], Some(&text[i + "\nhistory:\n".len()..])),
        None => (text, None),
    }
}

/// One change applied to an environment's stack of live versions: a
/// promotion pushes, a rollback pops back to its target, a canary changes
/// nothing. So a second rollback walks further back instead of returning to
/// what the first one left.
fn step(stack: &mut Vec<Version>, action: Action, version: &Version) {
    match action {
        Action::Promote => {
            if stack.last() != Some(version) {
                stack.push(version.clone());
            }
        }
        Action::Rollback => {
            while stack.last().is_some_and(|v| v != version) {
                stack.pop();
            }
            if stack.is_empty() {
                stack.push(version.clone());
            }
        }
        Action::Canary => {}
    }
}

/// The stack of versions `env` has had live, from its history; its top is
/// the live version.
fn stack(history: &[Event], env: &str) -> Vec<Version> {
    let mut stack = Vec::new();
    for e in history.iter().filter(|e| e.env == env) {
        step(&mut stack, e.action, &e.version);
    }
    stack
}

/// `previous` for a stack: everything under its top, newest first.
fn previous_of(stack: &[Version]) -> Vec<Version> {
    stack.iter().rev().skip(1).cloned().collect()
}

/// Whether `version` was ever fully live in `env`.
fn was_live(history: &[Event], env: &str, version: &Version) -> bool {
    history.iter().any(|e| {
        e.env == env
            && &e.version == version
            && matches!(e.action, Action::Promote | Action::Rollback)
    })
}

/// Who is making a change: `PROMPTCTL_USER`, else git's `user.name`, else `$USER`.
pub fn who(ws: &Workspace) -> String {
    if let Some(u) = std::env::var(crate::workspace::env::PROMPTCTL_USER)
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        return u.trim().to_string();
    }
    let git = std::process::Command::new("git")
        .arg("-C")
        .arg(&ws.root)
        .args(["config", "user.name"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    git.or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Checks that `env` is defined in `promptctl.yaml`.
pub fn check_env(ws: &Workspace, env: &str) -> Result<(), Error> {
    if ws.config.environments.contains_key(env) {
        return Ok(());
    }
    let mut err = Error::invalid(format!("unknown environment `{env}`"));
    let names = ws.config.environments.keys().map(String::as_str);
    err = match crate::workspace::yaml::closest(env, names) {
        Some(best) => err.with_hint(format!("did you mean `{best}`?")),
        None if ws.config.environments.is_empty() => {
            err.with_hint("define environments under `environments:` in `promptctl.yaml`")
        }
        None => err.with_hint(format!(
            "environments are: {}",
            ws.config
                .environments
                .keys()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    };
    Err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(action: Action, v: &str) -> Event {
        Event {
            at: String::new(),
            env: "p".into(),
            action,
            version: v.parse().unwrap(),
            from: None,
            percent: None,
            by: "t".into(),
            reason: None,
            digest: String::new(),
            run: None,
            skip_gate: false,
        }
    }

    fn versions(vs: &[&str]) -> Vec<Version> {
        vs.iter().map(|v| v.parse().unwrap()).collect()
    }

    #[test]
    fn rollbacks_walk_back() {
        use Action::*;
        let mut h = vec![
            ev(Promote, "1.0.0"),
            ev(Promote, "1.1.0"),
            ev(Promote, "1.2.0"),
            ev(Rollback, "1.1.0"),
        ];
        assert_eq!(stack(&h, "p"), versions(&["1.0.0", "1.1.0"]));
        assert_eq!(previous_of(&stack(&h, "p")), versions(&["1.0.0"]));
        h.push(ev(Rollback, "1.0.0"));
        assert_eq!(stack(&h, "p").len(), 1);
        assert!(previous_of(&stack(&h, "p")).is_empty());
        assert!(was_live(&h, "p", &"1.2.0".parse().unwrap()));
        assert!(stack(&h, "other").is_empty());
    }

    #[test]
    fn a_file_reference_and_an_inline_list_both_parse_and_errors_keep_their_line() {
        let r: Releases =
            serde_yaml::from_str("history:\n  file: history.jsonl\n  entries: 2\n  bytes: 10\n")
                .unwrap();
        assert_eq!(
            r.history,
            Some(History::File(HistoryFile {
                file: "history.jsonl".into(),
                entries: 2,
                bytes: 10
            }))
        );
        let r: Releases = serde_yaml::from_str(
            "history:\n- {at: x, env: p, action: promote, version: 1.0.0, by: a, digest: d}\n",
        )
        .unwrap();
        assert_eq!(
            r.history,
            Some(History::Inline(vec![Event {
                at: "x".into(),
                by: "a".into(),
                digest: "d".into(),
                ..ev(Action::Promote, "1.0.0")
            }]))
        );
        let e = crate::workspace::yaml::from_str::<Releases>(
            std::path::Path::new("r.yaml"),
            "environments: {}\nhistory:\n  file: h.jsonl\n  entries: 1\n  byte: 3\n",
        )
        .unwrap_err();
        assert!(e.message().starts_with("`r.yaml:5:"), "{}", e.message());
        assert!(
            e.message().contains("unknown field `byte`"),
            "{}",
            e.message()
        );
        let e = crate::workspace::yaml::from_str::<Releases>(
            std::path::Path::new("r.yaml"),
            "history:\n  - at: x\n    env: p\n    action: promote\n    version: one\n",
        )
        .unwrap_err();
        assert!(e.message().starts_with("`r.yaml:5:"), "{}", e.message());
    }

    #[test]
    fn the_json_schema_accepts_both_layouts() {
        let schema = serde_json::to_value(schemars::schema_for!(Releases)).unwrap();
        let v = jsonschema::validator_for(&schema).unwrap();
        let ok = |yaml: &str| {
            let doc: serde_json::Value = serde_yaml::from_str(yaml).unwrap();
            v.is_valid(&doc)
        };
        assert!(ok(
            "environments:\n  production:\n    active: 1.2.0\n    canary: { version: 1.3.0, percent: 5 }\n    previous: [1.1.0, 1.0.0]\nhistory: { file: history.jsonl, entries: 3, bytes: 600 }\n"
        ));
        assert!(ok(
            "history:\n- {at: x, env: p, action: rollback, version: 1.0.0, by: a, digest: d}\n"
        ));
        assert!(!ok("history: { file: history.jsonl, entries: 3 }\n"));
        assert!(!ok("environments: { p: { active: 1.0.0, previus: [] } }\n"));
    }
}
