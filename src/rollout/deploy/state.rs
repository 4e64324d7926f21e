//! The state of `releases.yaml` and the events of its history, as types,
//! and how a history of events moves an environment's stack of live versions.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use semver::Version;
use serde::{Deserialize, Serialize};

pub(crate) const RELEASES_FILE: &str = "releases.yaml";
/// The history file promptctl writes, beside `releases.yaml`.
pub(crate) const HISTORY_FILE: &str = "history.jsonl";

/// The whole of `releases.yaml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Releases {
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
pub(crate) struct EnvState {
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
pub(crate) struct Canary {
    /// The version under test.
    pub version: Version,
    /// Share of routing keys served by the canary: more than 0 and less
    /// than 100 percent, in whole basis points (at most two decimals).
    pub percent: super::bucket::Percent,
}

/// Where the history is: `releases.yaml`'s `history` key.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum History {
    /// In a file beside `releases.yaml` (what promptctl writes).
    File(HistoryFile),
    /// Inline, oldest first: the layout before `history.jsonl`, still read.
    Inline(Vec<Event>),
}

/// The committed part of the history file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryFile {
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
    pub(super) fn empty() -> HistoryFile {
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
pub(crate) enum Action {
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
pub(crate) struct Event {
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

/// One change applied to an environment's stack of live versions: a
/// promotion pushes, a rollback pops back to its target, a canary changes
/// nothing. So a second rollback walks further back instead of returning to
/// what the first one left.
pub(super) fn step(stack: &mut Vec<Version>, action: Action, version: &Version) {
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
pub(super) fn stack(history: &[Event], env: &str) -> Vec<Version> {
    let mut stack = Vec::new();
    for e in history.iter().filter(|e| e.env == env) {
        step(&mut stack, e.action, &e.version);
    }
    stack
}

/// `previous` for a stack: everything under its top, newest first.
pub(super) fn previous_of(stack: &[Version]) -> Vec<Version> {
    stack.iter().rev().skip(1).cloned().collect()
}

/// Whether `version` was ever fully live in `env`.
pub(super) fn was_live(history: &[Event], env: &str, version: &Version) -> bool {
    history.iter().any(|e| {
        e.env == env
            && &e.version == version
            && matches!(e.action, Action::Promote | Action::Rollback)
    })
}
