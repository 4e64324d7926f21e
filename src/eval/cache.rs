//! The local response cache: content-addressed, owner-only, raw.
//!
//! The key is the sha256 of the provider's identity (type and base URL) and
//! the whole request (model, every parameter, rendered messages, tools,
//! output schema), so no two different calls can share an answer (the trap of
//! keys built from the prompt text alone). Answers are kept unredacted so a
//! cached run and a live run agree; the folder and files are mode 0700/0600.
//! The one thing taken out first, by the runner, is the workspace's keys.

use std::path::PathBuf;

use serde_json::json;

use crate::provider::{ChatRequest, ChatResponse};

#[derive(Debug, Clone)]
pub(crate) struct Cache {
    dir: PathBuf,
}

impl Cache {
    pub(crate) fn new(dir: PathBuf) -> Cache {
        Cache { dir }
    }

    /// The cache key of a request sent to the endpoint with `identity`.
    pub(crate) fn key(identity: &serde_json::Value, request: &ChatRequest, sample: u32) -> String {
        crate::version::canonical::hash_of(&json!({
            "endpoint": identity,
            "request": request,
            "sample": sample,
        }))
    }

    fn path(&self, key: &str) -> PathBuf {
        let hex = key.strip_prefix("sha256:").unwrap_or(key);
        self.dir.join(&hex[..2]).join(format!("{hex}.json"))
    }

    pub(crate) fn get(&self, key: &str) -> Option<ChatResponse> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Stores an answer; a failure to cache never fails the run.
    pub(crate) fn put(&self, key: &str, response: &ChatResponse) {
        let path = self.path(key);
        let Some(dir) = path.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        restrict(&self.dir, 0o700);
        restrict(dir, 0o700);
        if let Ok(bytes) = serde_json::to_vec(response) {
            let tmp = dir.join(format!(".tmp-{}", fastrand::u64(..)));
            if std::fs::write(&tmp, bytes).is_ok() {
                restrict(&tmp, 0o600);
                let _ = std::fs::rename(&tmp, &path);
            }
        }
    }
}

#[cfg(unix)]
fn restrict(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

#[cfg(not(unix))]
fn restrict(_: &std::path::Path, _: u32) {}

#[cfg(test)]
mod tests;
