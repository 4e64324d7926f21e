//! `manifest.yaml`: what a released version is, and the hashes that prove it.
//!
//! `files` hash each frozen file's bytes; `prompt_hash` and `config_hash` hash
//! canonical forms of the content; `digest` (name + those two) is the
//! version's identity, equal for equal content whatever the bytes or time.
//! `seal` extends SPEC §3: it hashes the canonical manifest body (every field
//! but itself), so an edit to `changelog` or `created_at` is caught too.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use semver::Version;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::version::artifact::spec::ModelSpec;
use crate::workspace::name::Name;

/// The whole of `manifest.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "manifest.yaml",
    description = "What a released version is, and the hashes that prove it. Written by `promptctl release`, never edited: `verify` checks it byte for byte."
)]
pub(crate) struct Manifest {
    /// The prompt's name.
    pub name: Name,
    /// This version.
    pub version: Version,
    /// The version released before this one, if any.
    #[serde(default)]
    pub parent: Option<Version>,
    /// When it was released, in UTC (`SOURCE_DATE_EPOCH` when set).
    #[schemars(extend("format" = "date-time"))]
    pub created_at: String,
    /// The git `HEAD` when it was released, if in a git repository.
    #[serde(default)]
    pub git_commit: Option<String>,
    /// Why it was released (`release -m`).
    pub changelog: String,
    /// The model and parameters, as in `prompt.yaml`.
    pub model: ModelSpec,
    /// Every frozen file, sorted by path: `sha256:<hex>` of its bytes.
    #[schemars(extend("additionalProperties" = { "type": "string", "pattern": HASH_PATTERN }))]
    pub files: BTreeMap<String, String>,
    /// sha256 of the messages' canonical, parsed templates.
    #[schemars(regex(pattern = HASH_PATTERN))]
    pub prompt_hash: String,
    /// sha256 of the canonical model, parameters, variables, schemas, tools,
    /// retrieval and limitations.
    #[schemars(regex(pattern = HASH_PATTERN))]
    pub config_hash: String,
    /// sha256 of name, `prompt_hash` and `config_hash`: the version's identity.
    #[schemars(regex(pattern = HASH_PATTERN))]
    pub digest: String,
    /// sha256 of the canonical manifest body without `seal`.
    #[schemars(regex(pattern = HASH_PATTERN))]
    pub seal: String,
}

/// A `sha256:<hex>` hash, as manifests record them.
pub(crate) const HASH_PATTERN: &str = "^sha256:[0-9a-f]{64}$";

impl Manifest {
    /// sha256 of the canonical JSON of every field except `seal`.
    pub(crate) fn compute_seal(&self) -> String {
        let mut body = serde_json::to_value(self).expect("a manifest serialises");
        if let Value::Object(map) = &mut body {
            map.remove("seal");
        }
        crate::version::canonical::hash_of(&body)
    }

    /// The short form of the digest, for tables: the first 12 hex digits.
    pub(crate) fn short_digest(&self) -> &str {
        short(&self.digest)
    }
}

/// `sha256:9a1f…` → `9a1f0c3b2d4e` (12 hex digits).
pub(crate) fn short(hash: &str) -> &str {
    let hex = hash.strip_prefix("sha256:").unwrap_or(hash);
    &hex[..hex.len().min(12)]
}

/// The time to record: `SOURCE_DATE_EPOCH` when set, else now, in UTC seconds.
pub(crate) fn now_rfc3339() -> Result<String, crate::error::Error> {
    let ts = match std::env::var(crate::workspace::env::SOURCE_DATE_EPOCH) {
        Ok(s) => {
            let secs: i64 = s.trim().parse().map_err(|_| {
                crate::error::Error::invalid(format!(
                    "`SOURCE_DATE_EPOCH` must be whole seconds since 1970, not `{s}`"
                ))
            })?;
            jiff::Timestamp::from_second(secs).map_err(|e| {
                crate::error::Error::invalid(format!("`SOURCE_DATE_EPOCH` is out of range: {e}"))
            })?
        }
        Err(_) => jiff::Timestamp::now(),
    };
    Ok(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}
