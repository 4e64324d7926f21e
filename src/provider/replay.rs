//! The replay provider: answers from a suite's cassette, keyed by request hash.
//!
//! A cassette (`evals/cassettes/<suite>.jsonl`) holds one recorded answer a
//! line, keyed by [`ChatRequest::request_hash`], which covers the model, every
//! parameter and the rendered messages but not the provider's address; so a
//! recording made against OpenAI replays under `replay`, and any change to the
//! prompt, a parameter or a variable misses, loudly, instead of replaying a
//! stale answer. Lines are sorted (case, kind, key) so diffs stay readable.

use std::collections::HashMap;
use std::path::Path;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::chat::{CallError, ChatRequest, ChatResponse, Provider};
use crate::error::Error;

/// One recorded answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    /// The case it was recorded for (for humans; lookups use `key`).
    pub case: String,
    /// `prompt` or `judge`.
    pub kind: String,
    pub key: String,
    pub model: String,
    pub response: ChatResponse,
}

pub struct Replay {
    label: String,
    recordings: HashMap<String, ChatResponse>,
}

impl Replay {
    /// Loads a cassette; a missing file is an empty cassette (every call misses).
    pub fn open(path: &Path, root: &Path) -> Result<Replay, Error> {
        let label = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        let mut recordings = HashMap::new();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let text = crate::workspace::text::strip_bom(&text);
                for (i, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let r: Recording = serde_json::from_str(line).map_err(|e| {
                        Error::invalid(format!("`{label}:{}`: not a recording: {e}", i + 1))
                    })?;
                    recordings.insert(r.key, r.response);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(crate::error::io_invalid(path, &e)),
        }
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

/// Reads every recording of a cassette (for merging a partial re-record).
pub fn read(path: &Path) -> Result<Vec<Recording>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::error::io_invalid(path, &e))?;
    crate::workspace::text::strip_bom(&text)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| Error::invalid(format!("`{}:{}`: {e}", path.display(), i + 1)))
        })
        .collect()
}

/// Writes a cassette: sorted, one recording a line, atomically.
pub fn write(path: &Path, mut recordings: Vec<Recording>) -> Result<(), Error> {
    recordings.sort_by(|a, b| (&a.case, &a.kind, &a.key).cmp(&(&b.case, &b.kind, &b.key)));
    recordings.dedup_by(|a, b| a.key == b.key);
    let mut text = String::new();
    for r in &recordings {
        text.push_str(&serde_json::to_string(r).expect("a recording serialises"));
        text.push('\n');
    }
    crate::workspace::fsio::write_atomic(path, text.as_bytes())
}
