//! The promote gate: which eval runs let a version into an environment.
//!
//! The rule, strict on purpose. An environment is gated by suites: those it
//! names (`environments.production.suites: [support, safety]`), else every
//! suite whose `prompt` is this prompt. No gating suite is a refusal, never
//! a pass. For each suite, the newest run of the version's exact digest
//! decides (an older pass does not outvote a newer failure), and it counts
//! only if it is:
//!
//! - complete: no `--filter-id`, `--filter-segment` or `--tag`, no lone
//!   shard (a merged run of every shard is complete), not interrupted;
//! - run on the suite's own provider and judge (no `--provider` or
//!   `--judge-provider` override);
//! - of the suite file and dataset as they are now (their sha256);
//! - a pass when the gate re-applies the suite's current gates itself: to a
//!   summary recomputed from the run's cases, for a run file, or to the
//!   recorded summary, for a run inside an intact evidence pack. The run
//!   file's own `verdict` is never believed.
//!
//! Runs are looked for in `.promptctl/runs/` and in intact evidence packs
//! (whose files match their SHA256SUMS), or given with `--run FILE`, which
//! then decides its suite. The [`Decision`] keeps every candidate with why it
//! did or did not count, for `promote --explain` and the evidence pack.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::eval::gates;
use crate::eval::judge::Judge;
use crate::eval::results::{Run, RunHeader};
use crate::eval::suite::Suite;
use crate::eval::summary::{self, Stat};
use crate::workspace::Workspace;
use crate::workspace::name::{Name, PromptRef};

/// The gate's decision for one version and environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub env: String,
    pub digest: String,
    /// Where the gating suites come from: `environments.<env>.suites`, or
    /// every suite of the prompt.
    pub suites_from: String,
    pub suites: Vec<SuiteDecision>,
}

/// One gating suite: the run relied on, if any, and every candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteDecision {
    pub suite: String,
    /// The run that lets the version through for this suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Why the suite does not let the version through, when it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Every run of this suite and digest, newest first.
    pub candidates: Vec<Candidate>,
}

/// A run considered for a suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
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
    pub fn passed(&self) -> bool {
        !self.suites.is_empty() && self.suites.iter().all(|s| s.run.is_some())
    }

    /// The runs relied on, as the history records them: `suite:run_id`, in
    /// suite order.
    pub fn runs(&self) -> String {
        self.suites
            .iter()
            .filter_map(|s| s.run.as_ref().map(|r| format!("{}:{r}", s.suite)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// One line for each suite that refused, for the error message.
    pub fn refusals(&self) -> Vec<String> {
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

/// A run as found, before it is judged.
struct Found {
    header: RunHeader,
    from: String,
    /// The run file, when the run is local (its cases can be re-read).
    file: Option<std::path::PathBuf>,
}

/// Decides whether `name`'s version of `digest` may enter `env`.
pub fn decide(
    ws: &Workspace,
    name: &Name,
    digest: &str,
    env: &str,
    explicit: Option<&Path>,
) -> Result<Decision, Error> {
    let (suites, suites_from) = gating_suites(ws, name, env)?;
    let mut found = Vec::new();
    if let Some(path) = explicit {
        let run = Run::load(path)?;
        found.push(Found {
            header: run.header,
            from: path.display().to_string(),
            file: Some(path.to_path_buf()),
        });
    } else {
        found.extend(local(ws, digest));
        found.extend(packed(ws, digest));
    }
    // The same run may be both a file and in a pack: the file wins.
    let mut seen = std::collections::HashSet::new();
    found.retain(|f| seen.insert(f.header.run_id.clone()));
    if explicit.is_none() {
        found.retain(|f| f.header.prompt.digest == digest);
    }
    // Newest first; the run id (a timestamp and a nonce) breaks ties.
    found.sort_by(|a, b| {
        (&b.header.finished_at, &b.header.run_id).cmp(&(&a.header.finished_at, &a.header.run_id))
    });

    let mut decisions = Vec::new();
    for suite in &suites {
        let mut candidates = Vec::new();
        let mut run = None;
        let mut refused = None;
        for (i, f) in found
            .iter()
            .filter(|f| f.header.suite.name == suite.name)
            .enumerate()
        {
            let why = if i == 0 {
                disqualify(ws, suite, f, digest)
            } else {
                vec![format!(
                    "superseded by the newer run `{}`",
                    candidates
                        .first()
                        .map_or("", |c: &Candidate| c.run_id.as_str())
                )]
            };
            if i == 0 {
                if why.is_empty() {
                    run = Some(f.header.run_id.clone());
                } else {
                    refused = Some(format!(
                        "its newest run `{}` does not count: {}",
                        f.header.run_id,
                        why.join("; ")
                    ));
                }
            }
            candidates.push(Candidate {
                run_id: f.header.run_id.clone(),
                from: f.from.clone(),
                finished_at: f.header.finished_at.clone(),
                counts: why.is_empty(),
                why,
            });
        }
        if candidates.is_empty() {
            refused = Some(format!(
                "no run of this digest ({})",
                crate::version::manifest::short(digest)
            ));
        }
        decisions.push(SuiteDecision {
            suite: suite.name.clone(),
            run,
            refused,
            candidates,
        });
    }
    Ok(Decision {
        env: env.to_string(),
        digest: digest.to_string(),
        suites_from,
        suites: decisions,
    })
}

/// The suites that gate `env` for `name`, and where that list comes from.
fn gating_suites(ws: &Workspace, name: &Name, env: &str) -> Result<(Vec<Suite>, String), Error> {
    let named = ws
        .config
        .environments
        .get(env)
        .and_then(|e| e.suites.clone());
    if let Some(names) = named {
        let mut out = Vec::new();
        for s in &names {
            let suite = Suite::load(ws, s).map_err(|e| {
                Error::invalid(format!(
                    "`promptctl.yaml`: environments.{env}.suites names `{s}`: {}",
                    e.message()
                ))
            })?;
            out.push(suite);
        }
        return Ok((
            out,
            format!("`environments.{env}.suites` in `promptctl.yaml`"),
        ));
    }
    let mut out = Vec::new();
    for (_, loaded) in Suite::all_by_path(ws) {
        // A suite that does not load gates nothing; `lint` and `doctor` say why.
        let Ok(suite) = loaded else { continue };
        if PromptRef::parse(&suite.spec.prompt).is_ok_and(|r| &r.name == name) {
            out.push(suite);
        }
    }
    let from = if out.is_empty() {
        format!(
            "no suite in `evals/` evaluates `{name}`, and `environments.{env}.suites` names none: nothing to gate on"
        )
    } else {
        format!("every suite in `evals/` whose prompt is `{name}`")
    };
    Ok((out, from))
}

/// Why the deciding run of `suite` does not count; empty when it counts.
fn disqualify(ws: &Workspace, suite: &Suite, f: &Found, digest: &str) -> Vec<String> {
    let h = &f.header;
    let mut why = Vec::new();
    if h.prompt.digest != digest {
        why.push(format!(
            "it evaluated digest {}, not {}",
            crate::version::manifest::short(&h.prompt.digest),
            crate::version::manifest::short(digest)
        ));
    }
    let s = &h.settings;
    if !s.filter_id.is_empty() || !s.filter_segment.is_empty() || !s.tags.is_empty() {
        why.push("it ran a selection of the cases (`--filter-*` or `--tag`)".to_string());
    }
    if let Some(shard) = &s.shard {
        why.push(format!(
            "it is shard {shard} alone: merge every shard with `promptctl merge`"
        ));
    }
    if s.interrupted || h.verdict.status == "interrupted" {
        why.push("it was interrupted (SIGINT or SIGTERM) before its end".to_string());
    }
    let own_provider = suite
        .spec
        .provider
        .clone()
        .or_else(|| prompt_provider(ws, suite));
    if own_provider.as_deref() != Some(h.provider.name.as_str()) {
        why.push(format!(
            "it ran on provider `{}`, not the suite's own `{}`",
            h.provider.name,
            own_provider.as_deref().unwrap_or("?")
        ));
    }
    let want_judge = suite
        .spec
        .rubric
        .as_ref()
        .map(|r| Judge::new(&r.judge.provider, &r.judge.model, r.judge.temperature).identity());
    if want_judge != h.judge {
        why.push(format!(
            "its judge differs from the one `{}` names now",
            suite.label
        ));
    }
    let suite_sha = std::fs::read(&suite.path)
        .map(|b| crate::version::canonical::sha256(&b))
        .ok();
    if suite_sha.as_deref() != Some(h.suite.sha256.as_str()) {
        why.push(format!("`{}` changed since the run", suite.label));
    }
    if crate::eval::session::dataset_sha256(suite) != h.suite.dataset_sha256 {
        why.push("its dataset changed since the run".to_string());
    }
    match regated(suite, f) {
        Ok(verdict) if verdict.exit_code == 0 => {}
        Ok(verdict) => why.push(format!(
            "the suite's gates, re-applied, say `{}`: {}",
            verdict.status, verdict.reason
        )),
        Err(e) => why.push(format!(
            "its gates could not be re-applied: {}",
            e.message()
        )),
    }
    why
}

/// The prompt's own provider, the suite's default.
fn prompt_provider(ws: &Workspace, suite: &Suite) -> Option<String> {
    let r = PromptRef::parse(&suite.spec.prompt).ok()?;
    let artifact = crate::version::artifact::Artifact::load(
        &ws.prompt_dir(&r.name),
        &ws.prompt_label(&r.name),
        &r.name,
    )
    .ok()?;
    Some(artifact.spec.model.provider.clone())
}

/// The verdict of the suite's current gates on the run: on a summary
/// recomputed from its cases when the run file is at hand, else on the
/// summary its evidence pack recorded.
fn regated(suite: &Suite, f: &Found) -> Result<gates::Verdict, Error> {
    let criteria: Vec<String> = suite
        .spec
        .rubric
        .as_ref()
        .map(|r| r.criteria.keys().cloned().collect())
        .unwrap_or_default();
    let summary = match &f.file {
        Some(path) => {
            let run = Run::load(path)?;
            let stats: Vec<Stat> = run.cases.iter().map(Stat::from).collect();
            summary::summarise(&stats, &criteria)
        }
        None => f.header.summary.clone(),
    };
    let results = gates::apply(&suite.spec.gates, &summary, f.header.baseline.as_ref());
    Ok(gates::verdict(&summary, &results, None))
}

/// The run headers in `.promptctl/runs/` for `digest`, newest file first.
fn local(ws: &Workspace, digest: &str) -> Vec<Found> {
    let dir = ws.state_dir().join("runs");
    crate::eval::results::run_files(&dir)
        .into_iter()
        .rev()
        .filter_map(|p| {
            let header = Run::load_header(&p).ok()?;
            (header.prompt.digest == digest).then(|| Found {
                from: p.strip_prefix(&ws.root).unwrap_or(&p).display().to_string(),
                file: Some(p),
                header,
            })
        })
        .collect()
}

/// The run headers in intact evidence packs that name `digest`. A pack
/// whose files do not match its SHA256SUMS is not evidence of anything and
/// is skipped.
fn packed(ws: &Workspace, digest: &str) -> Vec<Found> {
    let (packs, _) = crate::evidence::check::find(ws, &[]);
    let mut out = Vec::new();
    for dir in packs {
        let report = crate::evidence::check::check(ws, &dir);
        if !report.problems.is_empty() || report.digest.as_deref() != Some(digest) {
            continue;
        }
        let Ok(bytes) = std::fs::read(dir.join(crate::evidence::JSON_FILE)) else {
            continue;
        };
        let Ok(pack) = serde_json::from_slice::<crate::evidence::Pack>(&bytes) else {
            continue;
        };
        for run in pack.runs {
            out.push(Found {
                header: run.header,
                from: format!("the evidence pack `{}`", report.label),
                file: None,
            });
        }
    }
    out
}
