//! The evidence pack as data (`evidence.json`, `promptctl.evidence/v1`): every section the Markdown and HTML pages render, and the pack's file names.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::eval::results::RunHeader;
use crate::rollout::deploy::Event;
use crate::workspace::Workspace;
use crate::workspace::name::Name;

pub(crate) const SCHEMA: &str = "promptctl.evidence/v1";
pub(crate) const JSON_FILE: &str = "evidence.json";
pub(crate) const MARKDOWN_FILE: &str = "evidence.md";
pub(crate) const HTML_FILE: &str = "evidence.html";
pub(crate) const SUMS_FILE: &str = "SHA256SUMS";
/// The folder of packs, relative to the workspace root.
pub(crate) const DIR: &str = "evidence";

/// Where a version's pack lives by default.
pub(crate) fn default_dir(ws: &Workspace, name: &Name, version: &semver::Version) -> PathBuf {
    ws.root
        .join(DIR)
        .join(name.as_str())
        .join(version.to_string())
}

/// Everything in a pack: `evidence.json`, and the source of the Markdown
/// and HTML renderings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Pack {
    pub schema: String,
    pub generated_at: String,
    /// `promptctl <version>`.
    pub generator: String,
    pub prompt: PromptSection,
    /// The eval runs of this exact digest, one per suite (newest), or the ones named.
    pub runs: Vec<RunSection>,
    /// The promote gate's decision for each environment, in promotion
    /// order: per gating suite, the run it relies on or why none counts.
    #[serde(default)]
    pub gate: Vec<crate::rollout::deploy::decision::Decision>,
    /// Every deploy-history entry that concerns this version, oldest first.
    pub deploys: Vec<Event>,
    /// Dataset ready → rubric scored → gates passed → each environment in
    /// promotion order, the canary before the last (staging → canary → production).
    pub timeline: Vec<Step>,
    pub redaction: RedactionSection,
    pub runbook: Runbook,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PromptSection {
    pub name: String,
    pub version: String,
    pub digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Role → contact, as `prompt.yaml` declares them (not redacted: they
    /// are the team's published contacts, the point of the runbook).
    pub owners: BTreeMap<String, String>,
    pub model: Value,
    pub prompt_hash: String,
    pub config_hash: String,
    pub seal: String,
    /// Frozen file → `sha256:<hex>`, as the manifest records them.
    pub files: BTreeMap<String, String>,
    /// The result of re-verifying the version while the pack was built.
    pub verification: Verification,
    /// This version's entry and every earlier one, newest first.
    pub changelog: Vec<ChangelogEntry>,
    pub messages: Vec<MessageText>,
    pub variables: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// What the prompt must refuse or hand over: `limitations` in `prompt.yaml`.
    pub limitations: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Verification {
    pub ok: bool,
    /// What was recomputed, e.g. "3 file hashes, prompt hash, config hash, digest, seal".
    pub checked: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChangelogEntry {
    pub version: String,
    pub created_at: String,
    pub changelog: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MessageText {
    pub role: String,
    /// The file the text comes from, or `inline template`.
    pub source: String,
    pub text: String,
}

/// One eval run, as the pack shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunSection {
    /// The run file's header: suite and dataset digests, provider and model,
    /// judge identity, summary, gates and verdict.
    #[serde(flatten)]
    pub header: RunHeader,
    /// Latency of every evaluated case (errors are not timed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    /// Cases that failed or errored (first 20), with why.
    pub failures: Vec<CaseNote>,
    /// Against the newest run of the same suite for the parent version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentComparison>,
    /// What the judge scored: the suite's rubric, as the suite file reads now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rubric: Option<RubricText>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RubricText {
    /// Criterion → what the judge scores.
    pub criteria: BTreeMap<String, String>,
    /// Whether the suite file is byte for byte the one the run used (its
    /// sha256 matches); when not, the text may differ from what was scored.
    pub same_suite_file: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Latency {
    pub n: usize,
    pub min_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
    /// Equal-width bins from `min_ms` to `max_ms`.
    pub bins: Vec<Bin>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Bin {
    pub lo_ms: f64,
    pub hi_ms: f64,
    pub count: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CaseNote {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    pub why: String,
}

/// This run against the parent version's run of the same suite.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ParentComparison {
    pub parent_version: String,
    pub parent_run: String,
    /// Cases present in both runs.
    pub paired: usize,
    pub improved: usize,
    pub regressed: usize,
    /// McNemar's exact test on the discordant pairs.
    pub p_value: f64,
    /// Cases that passed for the parent and fail now (first 10), with why.
    pub regressions: Vec<CaseNote>,
    /// Metric → (parent, this): pass rate, criteria, latency, tokens, cost.
    pub deltas: Vec<Delta>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Delta {
    pub metric: String,
    pub parent: Option<f64>,
    pub this: Option<f64>,
    /// Whether a higher value is better (pass rate, scores) or worse
    /// (latency, tokens, cost).
    pub higher_is_better: bool,
}

/// One step of the gate timeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Step {
    pub step: String,
    pub status: StepStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StepStatus {
    Passed,
    Failed,
    Pending,
    /// Does not apply (e.g. a suite without a rubric).
    Skipped,
}

impl StepStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            StepStatus::Passed => "passed",
            StepStatus::Failed => "failed",
            StepStatus::Pending => "pending",
            StepStatus::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RedactionSection {
    /// Built-in detectors, e.g. `email`, `credit_card`.
    pub builtins: Vec<String>,
    /// Named patterns: name → regular expression.
    pub patterns: BTreeMap<String, String>,
    /// Whether case inputs reach the model raw or redacted.
    pub send_to_provider: String,
    /// Variables marked `pii: true`, whose values are redacted wherever they appear.
    pub pii_variables: Vec<String>,
    /// Where run results are kept and for how long.
    pub retention: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Runbook {
    /// Role → contact, on-call first.
    pub escalation: Vec<(String, String)>,
    /// Environments in promotion order, with where this version is now.
    pub environments: Vec<EnvironmentState>,
    pub promote: Vec<String>,
    pub rollback: Vec<String>,
    pub verify: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EnvironmentState {
    pub env: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<String>,
}

impl Pack {
    /// The pack's overall verdict, as one line: what a reviewer reads first.
    pub(crate) fn headline(&self) -> (StepStatus, String) {
        if self.runs.is_empty() {
            return (
                StepStatus::Pending,
                "no eval run for this digest: nothing has been evaluated".into(),
            );
        }
        let failed: Vec<&RunSection> = self
            .runs
            .iter()
            .filter(|r| r.header.verdict.exit_code != 0)
            .collect();
        if failed.is_empty() {
            let gates: usize = self.runs.iter().map(|r| r.header.gates.len()).sum();
            (
                StepStatus::Passed,
                format!(
                    "all {gates} gate{} of {} suite{} passed",
                    plural(gates),
                    self.runs.len(),
                    plural(self.runs.len())
                ),
            )
        } else {
            let names: Vec<String> = failed
                .iter()
                .map(|r| format!("{}: {}", r.header.suite.name, r.header.verdict.reason))
                .collect();
            (StepStatus::Failed, names.join("; "))
        }
    }
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
