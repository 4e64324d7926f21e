//! Gathering a pack: the verified version, its runs, its deploy history.
//!
//! Every free-text field goes through the workspace's redactor as it is
//! gathered (prompt text, changelogs, failure reasons, deploy reasons), so
//! nothing unredacted reaches a rendering. Hashes, ids, versions and times
//! are structure, not text, and are left exactly as recorded.

use std::collections::BTreeMap;
use std::path::Path;

use semver::Version;

use super::pack::{
    Bin, CaseNote, ChangelogEntry, Delta, EnvironmentState, Latency, MessageText, Pack,
    ParentComparison, PromptSection, RedactionSection, RunSection, Runbook, Step, StepStatus,
    Verification,
};
use crate::error::Error;
use crate::eval::results::{CaseResult, Run};
use crate::eval::summary::{self, Stat};
use crate::privacy::redact::Redactor;
use crate::rollout::deploy::{Action, Event};
use crate::version::store::{self, Released};
use crate::workspace::Workspace;
use crate::workspace::name::Name;

/// How many failing cases and regressions a pack lists per run.
const MAX_FAILURES: usize = 20;
const MAX_REGRESSIONS: usize = 10;
const LATENCY_BINS: usize = 12;

/// What to build a pack of.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub name: Name,
    pub version: Version,
    /// Run ids (or run file paths); empty: the newest run of each suite
    /// for this version's digest.
    pub runs: Vec<String>,
}

/// The pack, and what was noticed while gathering it.
pub(crate) struct Collected {
    pub pack: Pack,
    pub warnings: Vec<String>,
}

/// Gathers a pack. The version must verify (exit 4 otherwise): there is no
/// evidence pack for a version that was edited after release.
pub(crate) fn collect(ws: &Workspace, req: &Request) -> Result<Collected, Error> {
    let released = store::open(ws, &req.name, &req.version)?;
    let redactor = Redactor::new(&ws.config.redaction)?
        .with_secrets(crate::provider::key::configured(&ws.config));
    let mut warnings = Vec::new();
    let digest = released.manifest.digest.clone();

    let all = load_runs(ws, &mut warnings);
    let chosen = choose_runs(ws, &all, &req.runs, &digest)?;
    let parent_digest = released
        .manifest
        .parent
        .as_ref()
        .and_then(|p| store::read_manifest(ws, &req.name, p).ok())
        .map(|m| (m.version.to_string(), m.digest));
    let runs: Vec<RunSection> = chosen
        .iter()
        .map(|run| {
            let parent = parent_digest.as_ref().and_then(|(pv, pd)| {
                newest(all.iter().filter(|r| {
                    r.header.prompt.digest == *pd && r.header.suite.path == run.header.suite.path
                }))
                .map(|base| compare(pv, base, run, &redactor))
            });
            let mut section = run_section(run, parent, &redactor);
            section.rubric = rubric(ws, run, &redactor);
            section
        })
        .collect();
    if runs.is_empty() {
        warnings.push(format!(
            "no eval run for {}@{} (digest {}): the pack shows every eval gate as pending",
            req.name,
            req.version,
            crate::version::manifest::short(&digest)
        ));
    }

    let releases = crate::rollout::deploy::load(ws, &req.name)?;
    let deploys: Vec<Event> = releases
        .history
        .iter()
        .filter(|e| e.version == req.version || e.from.as_ref() == Some(&req.version))
        .cloned()
        .map(|mut e| {
            e.reason = e.reason.map(|r| redactor.redact(&r).into_owned());
            e
        })
        .collect();
    let order = promotion_order(ws);
    let timeline = timeline(&runs, &deploys, &req.version, &order);
    let environments = order
        .iter()
        .map(|env| {
            let state = releases.environments.get(env);
            EnvironmentState {
                env: env.clone(),
                requires: ws.config.environments[env].requires.clone(),
                active: state.and_then(|s| s.active.as_ref()).map(|v| v.to_string()),
                canary: state
                    .and_then(|s| s.canary.as_ref())
                    .map(|c| format!("{} at {}%", c.version, c.percent)),
            }
        })
        .collect();

    // The same decision `promote` takes, environment by environment: the
    // run each suite relies on, or why none counts. The candidates behind it
    // (every local run file) are `promote --explain`'s, not the pack's: they
    // would make the pack depend on what happens to be in `.promptctl/runs/`.
    let gate = order
        .iter()
        .map(|env| {
            let mut d = crate::rollout::deploy::gate::decide(
                ws,
                &req.name,
                &digest,
                &released.artifact.spec.model,
                env,
                None,
            )?;
            for s in &mut d.suites {
                s.candidates.clear();
            }
            Ok(d)
        })
        .collect::<Result<Vec<_>, Error>>()?;

    let pack = Pack {
        schema: super::pack::SCHEMA.into(),
        generated_at: crate::version::manifest::now_rfc3339()?,
        generator: format!("promptctl {}", env!("CARGO_PKG_VERSION")),
        prompt: prompt_section(ws, &req.name, &released, &redactor)?,
        runs,
        gate,
        deploys,
        timeline,
        redaction: redaction_section(ws, &released),
        runbook: runbook(ws, &req.name, &released, &order, environments),
    };
    Ok(Collected { pack, warnings })
}

fn prompt_section(
    ws: &Workspace,
    name: &Name,
    released: &Released,
    r: &Redactor,
) -> Result<PromptSection, Error> {
    let m = &released.manifest;
    let spec = &released.artifact.spec;
    let text = |s: &str| r.redact(s).into_owned();
    let mut changelog = Vec::new();
    for v in store::list(ws, name)?.into_iter().rev() {
        if v > m.version {
            continue;
        }
        let entry = if v == m.version {
            m.clone()
        } else {
            match store::read_manifest(ws, name, &v) {
                Ok(e) => e,
                Err(_) => continue,
            }
        };
        changelog.push(ChangelogEntry {
            version: v.to_string(),
            created_at: entry.created_at,
            changelog: text(&entry.changelog),
        });
    }
    let checked = format!(
        "{} file hash{}, prompt hash, config hash, digest and seal recomputed: all match",
        m.files.len(),
        if m.files.len() == 1 { "" } else { "es" }
    );
    Ok(PromptSection {
        name: name.to_string(),
        version: m.version.to_string(),
        digest: m.digest.clone(),
        parent: m.parent.as_ref().map(|p| p.to_string()),
        created_at: m.created_at.clone(),
        git_commit: m.git_commit.clone(),
        description: spec.description.as_deref().map(text),
        owners: spec.owners.clone(),
        model: serde_json::to_value(&m.model).expect("a model spec serialises"),
        prompt_hash: m.prompt_hash.clone(),
        config_hash: m.config_hash.clone(),
        seal: m.seal.clone(),
        files: m.files.clone(),
        verification: Verification { ok: true, checked },
        changelog,
        messages: released
            .artifact
            .messages
            .iter()
            .map(|msg| MessageText {
                role: msg.role.as_str().to_string(),
                source: msg
                    .file
                    .clone()
                    .unwrap_or_else(|| "inline template".to_string()),
                text: text(&msg.text),
            })
            .collect(),
        variables: {
            let mut v = serde_json::to_value(&spec.variables).expect("variables serialise");
            r.redact_value(&mut v);
            v
        },
        output_schema: released.artifact.output_schema.clone(),
        limitations: spec.limitations.iter().map(|l| text(l)).collect(),
        tools: spec.tools.as_ref().map(|t| t.file.as_str().to_string()),
    })
}

/// Every readable run file, oldest first; unreadable ones are named and skipped.
fn load_runs(ws: &Workspace, warnings: &mut Vec<String>) -> Vec<Run> {
    let dir = ws.state_dir().join("runs");
    let paths = crate::eval::results::run_files(&dir);
    let mut runs = Vec::new();
    for p in paths {
        match Run::load(&p) {
            Ok(run) => runs.push(run),
            Err(e) => warnings.push(format!("skipped a run file: {}", e.message())),
        }
    }
    runs
}

/// The newest of some runs: by finish time, then id.
fn newest<'a>(runs: impl Iterator<Item = &'a Run>) -> Option<&'a Run> {
    runs.max_by(|a, b| {
        (&a.header.finished_at, &a.header.run_id).cmp(&(&b.header.finished_at, &b.header.run_id))
    })
}

/// The runs named (each must have evaluated this digest), or the newest run
/// of each suite for it.
fn choose_runs(
    ws: &Workspace,
    all: &[Run],
    named: &[String],
    digest: &str,
) -> Result<Vec<Run>, Error> {
    if named.is_empty() {
        let mut by_suite: BTreeMap<&str, &Run> = BTreeMap::new();
        for run in all.iter().filter(|r| r.header.prompt.digest == digest) {
            let slot = by_suite
                .entry(run.header.suite.path.as_str())
                .or_insert(run);
            if newest([*slot, run].into_iter()).is_some_and(|n| std::ptr::eq(n, run)) {
                *slot = run;
            }
        }
        return Ok(by_suite.into_values().cloned().collect());
    }
    let mut out: Vec<Run> = Vec::new();
    for id in named {
        let run = match all.iter().find(|r| r.header.run_id == *id) {
            Some(run) => run.clone(),
            None => {
                let path = Path::new(id);
                let path = if path.is_absolute() {
                    path.to_path_buf()
                } else {
                    ws.root.join(path)
                };
                if !path.is_file() {
                    return Err(Error::invalid(format!("no run `{id}`"))
                        .with_hint("give a run id from `.promptctl/runs/` or a run file's path"));
                }
                Run::load(&path)?
            }
        };
        if run.header.prompt.digest != digest {
            return Err(Error::invalid(format!(
                "run `{id}` evaluated digest {}, not this version's {}",
                crate::version::manifest::short(&run.header.prompt.digest),
                crate::version::manifest::short(digest)
            )));
        }
        if !out.iter().any(|r| r.header.run_id == run.header.run_id) {
            out.push(run);
        }
    }
    Ok(out)
}

fn run_section(run: &Run, parent: Option<ParentComparison>, r: &Redactor) -> RunSection {
    let failures = run
        .cases
        .iter()
        .filter(|c| !c.passed || c.error.is_some())
        .take(MAX_FAILURES)
        .map(|c| note(c, r))
        .collect();
    RunSection {
        header: run.header.clone(),
        latency: latency(&run.cases),
        failures,
        parent,
        rubric: None,
    }
}

/// The rubric of the run's suite, read from the suite file as it is now.
fn rubric(ws: &Workspace, run: &Run, r: &Redactor) -> Option<super::pack::RubricText> {
    let path = ws.root.join(&run.header.suite.path);
    let bytes = std::fs::read(&path).ok()?;
    let suite = crate::eval::suite::Suite::load(ws, &path.to_string_lossy()).ok()?;
    let rubric = suite.spec.rubric?;
    Some(super::pack::RubricText {
        criteria: rubric
            .criteria
            .into_iter()
            .map(|(k, v)| (k, r.redact(&v).into_owned()))
            .collect(),
        same_suite_file: crate::version::canonical::sha256(&bytes) == run.header.suite.sha256,
    })
}

fn note(c: &CaseResult, r: &Redactor) -> CaseNote {
    CaseNote {
        id: crate::eval::report::case_label(c),
        segment: c.segment.clone(),
        why: r
            .redact(&crate::eval::report::failure_reason(c))
            .into_owned(),
    }
}

fn latency(cases: &[CaseResult]) -> Option<Latency> {
    let mut v: Vec<f64> = cases
        .iter()
        .filter(|c| c.error.is_none())
        .filter_map(|c| c.latency_ms)
        .filter(|l| l.is_finite())
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let (min, max) = (v[0], v[v.len() - 1]);
    let width = (max - min) / LATENCY_BINS as f64;
    let mut bins: Vec<Bin> = (0..LATENCY_BINS)
        .map(|i| Bin {
            lo_ms: min + width * i as f64,
            hi_ms: min + width * (i + 1) as f64,
            count: 0,
        })
        .collect();
    for &l in &v {
        let i = if width > 0.0 {
            (((l - min) / width) as usize).min(LATENCY_BINS - 1)
        } else {
            0
        };
        bins[i].count += 1;
    }
    if width == 0.0 {
        bins.truncate(1);
    }
    Some(Latency {
        n: v.len(),
        min_ms: min,
        p50_ms: crate::stats::percentile(&mut v.clone(), 50.0)?,
        p95_ms: crate::stats::percentile(&mut v, 95.0)?,
        max_ms: max,
        bins,
    })
}

fn compare(parent_version: &str, base: &Run, run: &Run, r: &Redactor) -> ParentComparison {
    let stats = |cases: &[CaseResult]| cases.iter().map(Stat::from).collect::<Vec<_>>();
    let c = summary::compare(
        &base.header.run_id,
        Some(parent_version.to_string()),
        &stats(&base.cases),
        &stats(&run.cases),
    );
    let regressions = c
        .regressed_cases
        .iter()
        .take(MAX_REGRESSIONS)
        .filter_map(|id| run.cases.iter().find(|k| &k.id == id && !k.passed))
        .map(|k| note(k, r))
        .collect();
    let (b, s) = (&base.header.summary, &run.header.summary);
    let per_case = |total: u64, n: usize| (n > 0).then(|| total as f64 / n as f64);
    let mut deltas = vec![Delta {
        metric: "pass rate".into(),
        parent: b.pass_rate,
        this: s.pass_rate,
        higher_is_better: true,
    }];
    let criteria: std::collections::BTreeSet<&String> =
        b.criteria.keys().chain(s.criteria.keys()).collect();
    for k in criteria {
        deltas.push(Delta {
            metric: format!("judge: {k}"),
            parent: b.criteria.get(k).and_then(|c| c.mean),
            this: s.criteria.get(k).and_then(|c| c.mean),
            higher_is_better: true,
        });
    }
    deltas.extend([
        Delta {
            metric: "latency p50 (ms)".into(),
            parent: b.latency_p50_ms,
            this: s.latency_p50_ms,
            higher_is_better: false,
        },
        Delta {
            metric: "latency p95 (ms)".into(),
            parent: b.latency_p95_ms,
            this: s.latency_p95_ms,
            higher_is_better: false,
        },
        Delta {
            metric: "tokens in per case".into(),
            parent: per_case(b.tokens_in, b.cases),
            this: per_case(s.tokens_in, s.cases),
            higher_is_better: false,
        },
        Delta {
            metric: "tokens out per case".into(),
            parent: per_case(b.tokens_out, b.cases),
            this: per_case(s.tokens_out, s.cases),
            higher_is_better: false,
        },
        Delta {
            metric: "cost (USD)".into(),
            parent: b.cost_usd,
            this: s.cost_usd,
            higher_is_better: false,
        },
    ]);
    ParentComparison {
        parent_version: parent_version.to_string(),
        parent_run: base.header.run_id.clone(),
        paired: c.paired,
        improved: c.improved,
        regressed: c.regressed,
        p_value: c.p_value,
        regressions,
        deltas,
    }
}

/// Environments in promotion order: an environment comes after the one it
/// requires; otherwise alphabetical.
fn promotion_order(ws: &Workspace) -> Vec<String> {
    let envs = &ws.config.environments;
    let depth = |start: &String| {
        let (mut env, mut d) = (start, 0);
        while let Some(req) = envs.get(env).and_then(|e| e.requires.as_ref()) {
            d += 1;
            env = req;
            if d > envs.len() {
                break;
            }
        }
        d
    };
    let mut order: Vec<String> = envs.keys().cloned().collect();
    order.sort_by_key(|e| (depth(e), e.clone()));
    order
}

fn timeline(
    runs: &[RunSection],
    deploys: &[Event],
    version: &Version,
    order: &[String],
) -> Vec<Step> {
    let mut steps = Vec::new();
    let first_start = runs.iter().map(|r| r.header.started_at.clone()).min();
    let last_finish = runs.iter().map(|r| r.header.finished_at.clone()).max();

    steps.push(if runs.is_empty() {
        Step {
            step: "Dataset ready".into(),
            status: StepStatus::Pending,
            at: None,
            detail: "no eval run for this digest yet".into(),
        }
    } else {
        let empty: Vec<&str> = runs
            .iter()
            .filter(|r| r.header.summary.cases == 0)
            .map(|r| r.header.suite.name.as_str())
            .collect();
        let detail = runs
            .iter()
            .map(|r| {
                format!(
                    "{}: {} case{} (dataset {})",
                    r.header.suite.name,
                    r.header.summary.cases,
                    super::pack::plural(r.header.summary.cases),
                    crate::version::manifest::short(&r.header.suite.dataset_sha256)
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        Step {
            step: "Dataset ready".into(),
            status: if empty.is_empty() {
                StepStatus::Passed
            } else {
                StepStatus::Failed
            },
            at: first_start.clone(),
            detail,
        }
    });

    let judged: Vec<&RunSection> = runs.iter().filter(|r| r.header.judge.is_some()).collect();
    steps.push(if runs.is_empty() {
        Step {
            step: "Rubric scored".into(),
            status: StepStatus::Pending,
            at: None,
            detail: "no eval run for this digest yet".into(),
        }
    } else if judged.is_empty() {
        Step {
            step: "Rubric scored".into(),
            status: StepStatus::Skipped,
            at: None,
            detail: "no suite has a rubric".into(),
        }
    } else {
        let unscored: Vec<String> = judged
            .iter()
            .flat_map(|r| {
                r.header
                    .summary
                    .criteria
                    .iter()
                    .filter(|(_, c)| c.mean.is_none())
                    .map(|(k, _)| format!("{}: {k}", r.header.suite.name))
            })
            .collect();
        let judges: Vec<String> = judged
            .iter()
            .filter_map(|r| r.header.judge.as_ref())
            .map(|j| format!("{} via {}", j.model, j.provider))
            .collect();
        Step {
            step: "Rubric scored".into(),
            status: if unscored.is_empty() {
                StepStatus::Passed
            } else {
                StepStatus::Failed
            },
            at: last_finish.clone(),
            detail: if unscored.is_empty() {
                format!("every criterion scored by {}", judges.join(", "))
            } else {
                format!("not scored: {}", unscored.join(", "))
            },
        }
    });

    steps.push(if runs.is_empty() {
        Step {
            step: "Gates passed".into(),
            status: StepStatus::Pending,
            at: None,
            detail: "no eval run for this digest yet".into(),
        }
    } else {
        let failed: Vec<String> = runs
            .iter()
            .filter(|r| r.header.verdict.exit_code != 0)
            .map(|r| format!("{}: {}", r.header.suite.name, r.header.verdict.reason))
            .collect();
        let gates: usize = runs.iter().map(|r| r.header.gates.len()).sum();
        Step {
            step: "Gates passed".into(),
            status: if failed.is_empty() {
                StepStatus::Passed
            } else {
                StepStatus::Failed
            },
            at: last_finish,
            detail: if failed.is_empty() {
                format!("all {gates} gate{} passed", super::pack::plural(gates))
            } else {
                failed.join("; ")
            },
        }
    });

    let live = |env: &str| {
        deploys.iter().find(|e| {
            e.env == env
                && &e.version == version
                && matches!(e.action, Action::Promote | Action::Rollback)
        })
    };
    let canary = deploys
        .iter()
        .find(|e| &e.version == version && e.action == Action::Canary);
    // Environments in promotion order; the canary comes before the last one,
    // where canaries run (staging → canary → production).
    let env_step = |env: &String| -> Step {
        let step = format!("Live in {env}");
        match live(env) {
            Some(e) => {
                let replaced = deploys.iter().rev().find(|x| {
                    x.env == *env
                        && x.from.as_ref() == Some(version)
                        && x.version != *version
                        && x.action != Action::Canary
                });
                let detail = match replaced {
                    Some(x) if x.at >= e.at => format!(
                        "{} by {}; later replaced by {} ({}, {})",
                        if e.skip_gate {
                            "promoted with the gate skipped"
                        } else {
                            "promoted"
                        },
                        e.by,
                        x.version,
                        action_name(x.action),
                        x.at
                    ),
                    _ => format!(
                        "{} by {}",
                        if e.skip_gate {
                            "promoted with the gate skipped"
                        } else {
                            "promoted"
                        },
                        e.by
                    ),
                };
                Step {
                    step,
                    status: StepStatus::Passed,
                    at: Some(e.at.clone()),
                    detail,
                }
            }
            None => Step {
                step,
                status: StepStatus::Pending,
                at: None,
                detail: "not promoted".into(),
            },
        }
    };
    let (last, before) = match order.split_last() {
        Some((last, before)) => (Some(last), before),
        None => (None, &[][..]),
    };
    for env in before {
        steps.push(env_step(env));
    }
    steps.push(match canary {
        Some(e) => Step {
            step: "Canary".into(),
            status: StepStatus::Passed,
            at: Some(e.at.clone()),
            detail: format!(
                "{} at {}% (by {})",
                e.env,
                e.percent.map_or("?".into(), |p| p.to_string()),
                e.by
            ),
        },
        None if order.last().is_some_and(|env| live(env).is_some()) => Step {
            step: "Canary".into(),
            status: StepStatus::Skipped,
            at: None,
            detail: "promoted without a canary".into(),
        },
        None => Step {
            step: "Canary".into(),
            status: StepStatus::Pending,
            at: None,
            detail: "not started".into(),
        },
    });
    if let Some(env) = last {
        steps.push(env_step(env));
    }
    steps
}

fn redaction_section(ws: &Workspace, released: &Released) -> RedactionSection {
    let cfg = &ws.config.redaction;
    let name = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let mut builtins: Vec<String> = cfg
        .builtins
        .iter()
        .map(|b| name(serde_json::to_value(b).expect("a builtin serialises")))
        .collect();
    builtins.sort();
    builtins.dedup();
    RedactionSection {
        builtins,
        patterns: cfg.patterns.clone(),
        send_to_provider: name(
            serde_json::to_value(cfg.send_to_provider).expect("a setting serialises"),
        ),
        pii_variables: released
            .artifact
            .spec
            .variables
            .iter()
            .filter(|(_, v)| v.pii)
            .map(|(k, _)| k.clone())
            .collect(),
        retention: "run results stay in `.promptctl/runs/` (git-ignored, local) until deleted; \
                    promptctl deletes nothing on its own. Cassettes and evidence packs are \
                    committed and kept with the repository's history. Everything written \
                    there was redacted first."
            .into(),
    }
}

fn runbook(
    ws: &Workspace,
    name: &Name,
    released: &Released,
    order: &[String],
    environments: Vec<EnvironmentState>,
) -> Runbook {
    let v = &released.manifest.version;
    let mut escalation: Vec<(String, String)> = released
        .artifact
        .spec
        .owners
        .iter()
        .map(|(k, c)| (k.clone(), c.clone()))
        .collect();
    escalation.sort_by_key(|(role, _)| {
        let r = role.to_lowercase();
        !(r.contains("oncall") || r.contains("on-call") || r.contains("on_call"))
    });
    let mut promote = Vec::new();
    for (i, env) in order.iter().enumerate() {
        if i + 1 == order.len() && order.len() > 1 {
            promote.push(format!(
                "promptctl promote {name}@{v} --env {env} --canary 5"
            ));
            if ws.config.canary.is_some() {
                promote.push(format!(
                    "promptctl canary {name} --env {env} --logs production.jsonl"
                ));
            }
        }
        promote.push(format!("promptctl promote {name}@{v} --env {env}"));
    }
    let mut rollback = Vec::new();
    for env in order.iter().rev() {
        rollback.push(format!(
            "promptctl rollback {name} --env {env} --reason \"…\""
        ));
    }
    if let Some(p) = &released.manifest.parent
        && let Some(env) = order.last()
    {
        rollback.push(format!(
            "promptctl rollback {name} --env {env} --to {p} --reason \"…\""
        ));
    }
    Runbook {
        escalation,
        environments,
        promote,
        rollback,
        verify: vec![
            format!("promptctl verify {name}"),
            format!(
                "cd {}/{name}/{v} && sha256sum -c {}",
                super::pack::DIR,
                super::pack::SUMS_FILE
            ),
        ],
    }
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::Promote => "promote",
        Action::Canary => "canary",
        Action::Rollback => "rollback",
    }
}
