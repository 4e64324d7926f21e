//! The promote gate's decision as data: per gating suite, the run relied
//! on or why none counts, and every candidate run. `promote` prints it and
//! evidence packs embed it; [`super::gate`] makes it.

use serde::{Deserialize, Serialize};

/// The gate's decision for one version and environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Decision {
    pub env: String,
    pub digest: String,
    /// Where the gating suites come from: `environments.<env>.suites`, or
    /// every suite of the prompt.
    pub suites_from: String,
    pub suites: Vec<SuiteDecision>,
}

/// One gating suite: the run relied on, if any, and every candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SuiteDecision {
    pub suite: String,
    /// The run that lets the version through for this suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Why the suite does not let the version through, when it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Every run of this suite and digest, newest first (left out of
    /// evidence packs, which keep only the decision).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
}

/// A run considered for a suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Candidate {
    pub run_id: String,
    /// The run file, or the evidence pack that holds the run.
    pub from: String,
    pub finished_at: String,
    pub counts: bool,
    /// Why it does not count (empty when it counts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<String>,
}

impl Decision {
    /// Every gating suite has a run that counts (and there is at least one).
    pub(crate) fn passed(&self) -> bool {
        !self.suites.is_empty() && self.suites.iter().all(|s| s.run.is_some())
    }

    /// The runs relied on, as the history records them: `suite:run_id`, in
    /// suite order.
    pub(crate) fn runs(&self) -> String {
        self.suites
            .iter()
            .filter_map(|s| s.run.as_ref().map(|r| format!("{}:{r}", s.suite)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// One line for each suite that refused, for the error message.
    pub(crate) fn refusals(&self) -> Vec<String> {
        if self.suites.is_empty() {
            return vec![self.suites_from.clone()];
        }
        self.suites
            .iter()
            .filter_map(|s| {
                s.refused
                    .as_ref()
                    .map(|r| format!("suite `{}`: {r}", s.suite))
            })
            .collect()
    }
}
