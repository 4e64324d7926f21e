//! The replay provider: answers from a suite's cassette, keyed by request hash.
//!
//! A cassette (`evals/cassettes/<suite>.jsonl`) holds one recorded answer a
//! line, keyed by [`ChatRequest::request_hash`], which covers the model, every
//! parameter and the rendered messages but not the provider's address; so a
//! recording made against OpenAI replays under `replay`, and any change to the
//! prompt, a parameter or a variable misses, loudly, instead of replaying a
//! stale answer. Lines are sorted (case, kind, key) so diffs stay readable.
//!
//! A recording run never rewrites a cassette from scratch: [`merge`] replaces
//! the recordings of the cases the run completed and keeps every other line
//! exactly as it was, under a lock, so a failed run, a failing judge or two
//! runs at once lose nothing.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::chat::{CallError, ChatRequest, ChatResponse, Provider};
use crate::error::Error;

/// One recorded answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Recording {
    /// The case it was recorded for (for humans; lookups use `key`).
    pub case: String,
    /// `prompt` or `judge`.
    pub kind: String,
    pub key: String,
    pub model: String,
    pub response: ChatResponse,
}

pub(crate) struct Replay {
    label: String,
    recordings: HashMap<String, ChatResponse>,
}

impl Replay {
    /// Loads a cassette; a missing file is an empty cassette (every call misses).
    pub(crate) fn open(path: &Path, root: &Path) -> Result<Replay, Error> {
        let label = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        let recordings = read(path, &label)?
            .into_iter()
            .map(|(_, r)| (r.key, r.response))
            .collect();
        Ok(Replay { label, recordings })
    }
}

impl Provider for Replay {
    fn complete<'a>(
        &'a self,
        req: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, CallError>> {
        let key = req.request_hash();
        let result = match self.recordings.get(&key) {
            Some(r) => Ok(r.clone()),
            None => Err(CallError::Fatal(format!(
                "no recording in `{}` for this request (key {}): the prompt, model, parameters or variables changed since it was recorded",
                self.label,
                crate::version::manifest::short(&key)
            ))),
        };
        Box::pin(std::future::ready(result))
    }

    fn identity(&self) -> Value {
        json!({ "type": "replay" })
    }

    fn is_remote(&self) -> bool {
        false
    }
}

/// Reads a cassette: every recording with its line as it is in the file
/// (without the newline). A missing file is an empty cassette; a line that
/// is not a recording (a merge-conflict marker, say) is invalid input
/// naming `label:line`.
pub(crate) fn read(path: &Path, label: &str) -> Result<Vec<(String, Recording)>, Error> {
    let raw = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(crate::error::io_invalid(path, &e)),
    };
    let text = crate::workspace::text::strip_bom(&raw);
    let mut out = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("`{label}:{}`", i + 1);
        if ["<<<<<<<", "=======", ">>>>>>>", "|||||||"]
            .iter()
            .any(|m| line.starts_with(m))
        {
            return Err(Error::invalid(format!(
                "{at}: a merge-conflict marker: the cassette is in the middle of a git merge"
            ))
            .with_hint(format!(
                "resolve the conflict in `{label}` (keep whole lines, one recording each), or delete it and record every case again"
            )));
        }
        let r: Recording = serde_json::from_str(line)
            .map_err(|e| Error::invalid(format!("{at}: not a recording: {e}")))?;
        out.push((line.to_string(), r));
    }
    Ok(out)
}

/// Merges the recordings of the cases a run completed into the cassette,
/// under the lock at `lock`: the old recordings of those cases are replaced
/// by theirs; every other line is kept byte for byte. The cassette is read
/// again under the lock, so that a recording run that finished meanwhile
/// keeps its recordings too. Lines are sorted (case, kind, key); no
/// recordings, no write.
pub(crate) fn merge(
    path: &Path,
    label: &str,
    lock: &Path,
    mut recordings: Vec<Recording>,
) -> Result<(), Error> {
    if recordings.is_empty() {
        return Ok(());
    }
    let _lock = crate::workspace::fsio::lock(lock)?;
    let sort_key = |r: &Recording| (r.case.clone(), r.kind.clone(), r.key.clone());
    recordings.sort_by_key(sort_key);
    recordings.dedup_by(|a, b| a.key == b.key && a.case == b.case);
    let replaced: HashSet<&str> = recordings.iter().map(|r| r.case.as_str()).collect();
    let mut lines: Vec<((String, String, String), String)> = read(path, label)?
        .into_iter()
        .filter(|(_, r)| !replaced.contains(r.case.as_str()))
        .map(|(line, r)| (sort_key(&r), line))
        .collect();
    lines.extend(recordings.iter().map(|r| {
        let line = serde_json::to_string(r).expect("a recording serialises");
        (sort_key(r), line)
    }));
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    let mut text = String::new();
    for (_, line) in &lines {
        text.push_str(line);
        text.push('\n');
    }
    crate::workspace::fsio::write_atomic(
        path,
        text.as_bytes(),
        crate::workspace::fsio::Access::Shared,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recording(case: &str, kind: &str, key: &str, content: &str) -> Recording {
        Recording {
            case: case.into(),
            kind: kind.into(),
            key: key.into(),
            model: "m".into(),
            response: ChatResponse {
                content: content.into(),
                tokens_in: None,
                tokens_out: None,
                latency_ms: None,
                ..ChatResponse::default()
            },
        }
    }

    #[test]
    fn merge_replaces_the_cases_given_and_keeps_other_lines_verbatim() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let lock = dir.path().join("t.lock");
        // Not as promptctl would write them: spaced, and a CRLF line end.
        let a = r#"{ "case": "a", "kind": "prompt", "key": "k1", "model": "m", "response": { "content": "old a" } }"#;
        let a = format!("{a}\r");
        let b =
            r#"{"case":"b","kind":"prompt","key":"k2","model":"m","response":{"content":"old b"}}"#;
        let b_judge =
            r#"{"case":"b","kind":"judge","key":"k3","model":"m","response":{"content":"old"}}"#;
        std::fs::write(&path, format!("{b}\n{a}\n\n{b_judge}\n")).unwrap();
        merge(
            &path,
            "t.jsonl",
            &lock,
            vec![recording("b", "prompt", "k4", "new b")],
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0], a);
        assert!(
            lines[1].contains("new b") && lines[1].contains("\"k4\""),
            "{text}"
        );
        assert_eq!(lines[2], "");
    }

    #[test]
    fn merge_of_nothing_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        std::fs::write(&path, "not even json\n").unwrap();
        merge(&path, "t.jsonl", &dir.path().join("t.lock"), Vec::new()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not even json\n");
    }

    #[test]
    fn a_conflict_marker_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let ok =
            r#"{"case":"a","kind":"prompt","key":"k1","model":"m","response":{"content":"x"}}"#;
        std::fs::write(&path, format!("{ok}\n\n<<<<<<< HEAD\n{ok}\n")).unwrap();
        let err = read(&path, "c/t.jsonl").unwrap_err();
        assert_eq!(err.class(), crate::error::Class::Invalid);
        assert!(
            err.message()
                .starts_with("`c/t.jsonl:3`: a merge-conflict marker"),
            "{}",
            err.message()
        );
        let err = merge(
            &path,
            "c/t.jsonl",
            &dir.path().join("t.lock"),
            vec![recording("a", "prompt", "k9", "y")],
        )
        .unwrap_err();
        assert!(err.message().contains("c/t.jsonl:3"));
        assert!(std::fs::read_to_string(&path).unwrap().contains("<<<<<<<"));
    }
}
