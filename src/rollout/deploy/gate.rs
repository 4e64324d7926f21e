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
//! - run on the suite's own provider, the version's own model and the
//!   suite's judge (no `--provider`, `--model` or `--judge-provider`
//!   override). A run on another provider or model (a side-by-side
//!   comparison, say) is listed but is not a candidate at all: it neither
//!   counts nor supersedes the newest run of the suite's own target;
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

pub(crate) use super::decision::{Candidate, Decision, SuiteDecision};
use crate::error::Error;
use crate::eval::gates;
use crate::eval::judge::Judge;
use crate::eval::results::{Run, RunHeader};
use crate::eval::suite::Suite;
use crate::eval::summary::{self, Stat};
use crate::version::artifact::spec::ModelSpec;
use crate::workspace::Workspace;
use crate::workspace::name::{Name, PromptRef};

/// A run as found, before it is judged.
struct Found {
    header: RunHeader,
    from: String,
    /// The run file, when the run is local (its cases can be re-read).
    file: Option<std::path::PathBuf>,
    /// When the run file was written, to order runs that finished in the
    /// same second (a merge and its last shard, two quick runs): `finished_at`
    /// has whole seconds, and the run id's tail is random.
    written: Option<std::time::SystemTime>,
}

/// Decides whether `name`'s version of `digest` may enter `env`.
/// `model` is that version's own `model`: a suite that names no provider
/// runs on its `provider`, and every counted run on its `name`.
pub(crate) fn decide(
    ws: &Workspace,
    name: &Name,
    digest: &str,
    model: &ModelSpec,
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
            written: modified(path),
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
    // Newest first: by finish time, then by when the file was written; a
    // run in a pack (no file time) is older than a local run of the same
    // second. The run id only breaks what is left.
    found.sort_by(|a, b| {
        (&b.header.finished_at, b.written, &b.header.run_id).cmp(&(
            &a.header.finished_at,
            a.written,
            &a.header.run_id,
        ))
    });

    let mut decisions = Vec::new();
    for suite in &suites {
        let mut candidates = Vec::new();
        let mut run = None;
        let mut refused = None;
        // A run on another target (a side-by-side comparison, `--provider`,
        // `--model`) says nothing about this version as it ships: it is
        // listed, and neither counts nor supersedes a run of the suite's own.
        let own_provider = suite.spec.provider.as_deref().unwrap_or(&model.provider);
        let own = |f: &Found| {
            f.header.provider.name == own_provider && f.header.provider.model == model.name
        };
        let mut deciding: Option<String> = None;
        for f in found.iter().filter(|f| f.header.suite.name == suite.name) {
            let why = if !own(f) && explicit.is_none() {
                vec![format!(
                    "it ran on `{}:{}`, not the suite's own target `{own_provider}:{}`: \
                     a run of another target neither counts nor supersedes",
                    f.header.provider.name, f.header.provider.model, model.name
                )]
            } else if let Some(newer) = &deciding {
                vec![format!("superseded by the newer run `{newer}`")]
            } else {
                let why = disqualify(suite, f, digest, model);
                if why.is_empty() {
                    run = Some(f.header.run_id.clone());
                } else {
                    refused = Some(format!(
                        "its newest run `{}` does not count: {}",
                        f.header.run_id,
                        why.join("; ")
                    ));
                }
                deciding = Some(f.header.run_id.clone());
                why
            };
            candidates.push(Candidate {
                run_id: f.header.run_id.clone(),
                from: f.from.clone(),
                finished_at: f.header.finished_at.clone(),
                counts: why.is_empty(),
                why,
            });
        }
        if deciding.is_none() && !candidates.is_empty() {
            refused = Some(format!(
                "no run of this digest on the suite's own target (`{own_provider}:{}`)",
                model.name
            ));
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
        // A suite that does not load might gate this prompt: fail closed,
        // naming it, rather than gate on the others alone.
        let suite = loaded.map_err(|e| {
            Error::invalid(format!(
                "a suite in `evals/` does not load, so what gates `{env}` is unknown: {}",
                e.message()
            ))
            .with_hint(format!(
                "fix it (`promptctl lint`), or name the gating suites: `environments.{env}.suites: [...]` in `promptctl.yaml`"
            ))
        })?;
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
fn disqualify(suite: &Suite, f: &Found, digest: &str, model: &ModelSpec) -> Vec<String> {
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
    let own_provider = suite.spec.provider.as_deref().unwrap_or(&model.provider);
    if own_provider != h.provider.name {
        why.push(format!(
            "it ran on provider `{}`, not the suite's own `{own_provider}`",
            h.provider.name
        ));
    }
    if h.provider.model != model.name {
        why.push(format!(
            "it ran on model `{}`, not the version's own `{}` (`--model`)",
            h.provider.model, model.name
        ));
    }
    let want_judge = suite
        .spec
        .rubric
        .as_ref()
        .map(|r| Judge::new(r.judge.model_spec(&r.judge.provider)).identity());
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

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
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
                written: modified(&p),
                file: Some(p),
                header,
            })
        })
        .collect()
}

/// The run headers in intact, committed evidence packs that name `digest`.
/// A pack whose files do not match its SHA256SUMS is not evidence of
/// anything. Nor is one that is not committed, or changed since: its sums
/// are its own, so anyone can edit a summary and recompute them; a commit
/// is what a reviewer sees, and git history is the record.
fn packed(ws: &Workspace, digest: &str) -> Vec<Found> {
    let (packs, _) = crate::evidence::check::find(ws, &[]);
    let mut out = Vec::new();
    for dir in packs {
        let report = crate::evidence::check::check(ws, &dir);
        if !report.problems.is_empty() || report.digest.as_deref() != Some(digest) {
            continue;
        }
        if !crate::workspace::git::committed_unchanged(&ws.root, &dir) {
            continue;
        }
        let Ok(bytes) = std::fs::read(dir.join(crate::evidence::pack::JSON_FILE)) else {
            continue;
        };
        let Ok(pack) = serde_json::from_slice::<crate::evidence::pack::Pack>(&bytes) else {
            continue;
        };
        for run in pack.runs {
            out.push(Found {
                header: run.header,
                from: format!("the evidence pack `{}`", report.label),
                file: None,
                written: None,
            });
        }
    }
    out
}
