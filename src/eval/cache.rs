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
mod tests {
    use super::*;
    use crate::provider::ChatMessage;
    use crate::version::artifact::spec::ModelSpec;
    use proptest::prelude::*;

    fn request(
        temperature: Option<f64>,
        max_tokens: Option<u32>,
        seed: Option<i64>,
        text: &str,
        model: &str,
    ) -> ChatRequest {
        ChatRequest {
            model: ModelSpec {
                provider: "p".into(),
                name: model.into(),
                temperature,
                max_tokens,
                seed,
                ..ModelSpec::default()
            },
            messages: vec![ChatMessage::new("user", text)],
            tools: None,
            output_schema: None,
            schema_name: None,
        }
    }

    proptest! {
        /// Any change to any parameter, the text, the model or the endpoint changes the key.
        #[test]
        fn every_parameter_is_in_the_key(
            t in prop::option::of(0.0f64..2.0), mt in prop::option::of(1u32..4000),
            seed in prop::option::of(any::<i64>()), text in ".{0,20}", which in 0usize..6,
        ) {
            let id = json!({"type": "openai", "base_url": "http://a"});
            let base = request(t, mt, seed, &text, "m");
            let k = Cache::key(&id, &base, 0);
            let changed = match which {
                0 => Cache::key(&id, &request(Some(t.unwrap_or(0.0) + 0.5), mt, seed, &text, "m"), 0),
                1 => Cache::key(&id, &request(t, Some(mt.unwrap_or(0) + 1), seed, &text, "m"), 0),
                2 => Cache::key(&id, &request(t, mt, Some(seed.unwrap_or(0).wrapping_add(1)), &text, "m"), 0),
                3 => Cache::key(&id, &request(t, mt, seed, &format!("{text}!"), "m"), 0),
                4 => Cache::key(&id, &request(t, mt, seed, &text, "m2"), 0),
                _ => Cache::key(&json!({"type": "openai", "base_url": "http://b"}), &base, 0),
            };
            prop_assert_ne!(k.clone(), changed);
            prop_assert_eq!(k, Cache::key(&id, &request(t, mt, seed, &text, "m"), 0));
        }
    }

    proptest! {
        /// The parameters issue 11 added change the key when set, and leave
        /// it as it was when not: old cassettes and caches still match.
        #[test]
        fn new_parameters_are_in_the_key_only_when_set(
            mct in 1u32..4000, effort in 0usize..7, key in "[a-z_]{1,12}", value in any::<i64>(),
            which in 0usize..5,
        ) {
            use crate::version::artifact::spec::{RESERVED, ReasoningEffort, ResponseFormat};
            prop_assume!(!RESERVED.contains(&key.as_str()));
            let id = json!({"type": "openai", "base_url": "http://a"});
            let mut base = request(Some(0.0), Some(400), Some(42), "q", "m");
            base.output_schema = Some(json!({ "type": "object" }));
            let k = Cache::key(&id, &base, 0);
            // What the request hashed as before these parameters existed.
            let old = json!({
                "model": { "provider": "p", "name": "m", "temperature": 0.0, "max_tokens": 400, "seed": 42 },
                "messages": [{ "role": "user", "content": "q" }],
                "output_schema": { "type": "object" },
            });
            prop_assert_eq!(base.request_hash(), crate::version::canonical::hash_of(&old));
            let mut changed = base.clone();
            let efforts = [
                ReasoningEffort::None, ReasoningEffort::Minimal, ReasoningEffort::Low,
                ReasoningEffort::Medium, ReasoningEffort::High, ReasoningEffort::Xhigh,
                ReasoningEffort::Max,
            ];
            match which {
                0 => changed.model.max_completion_tokens = Some(mct),
                1 => changed.model.reasoning_effort = Some(efforts[effort]),
                2 => changed.model.response_format = Some(ResponseFormat::JsonSchema),
                3 => { changed.model.extra.insert(key.clone(), json!(value)); }
                _ => changed.schema_name = Some(key.clone()),
            }
            prop_assert_ne!(k, Cache::key(&id, &changed, 0));
        }
    }

    #[test]
    fn round_trips_and_is_private() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(tmp.path().join("cache"));
        let r = ChatResponse {
            content: "hi".into(),
            tokens_in: Some(1),
            tokens_out: Some(2),
            latency_ms: Some(12.0),
            ..ChatResponse::default()
        };
        cache.put("sha256:abcd", &r);
        assert_eq!(cache.get("sha256:abcd"), Some(r));
        assert_eq!(cache.get("sha256:ffff"), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(tmp.path().join("cache/ab/abcd.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
