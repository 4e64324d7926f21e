//! One `promptctl eval`: from a suite and options to saved runs, one per
//! target.
//!
//! Two passes over the cases. The first reads them all without calling
//! anything: a case that does not parse, renders wrongly, repeats an id or
//! has a bad assertion is invalid input (exit 2) before a single request is
//! sent, and a gate naming an unknown criterion or segment is caught too.
//! The second pass streams the selected cases into the runner.
//!
//! Several targets (`--provider a --provider b`, `--model …`) share the
//! first pass and run the second side by side, in one runtime: each target
//! its own runner with its own `-j` budget, its own spool and run file, but
//! one [`Limiter`] per provider name, so two targets on one provider (and
//! the judge, when it is that provider) share its `max_in_flight`, `rps`,
//! pauses and circuit breaker. One deadline and one signal listener stop
//! them all.
//!
//! With `--record`, the cassette is read in the first pass too (a line that
//! does not parse is exit 2 before any request), and at the end only the
//! recordings of the cases that completed are merged into it.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use super::assertions::Compiled;
use super::cache::Cache;
use super::compare::{self, CaseOutcome};
use super::conversation;
use super::gates::{self, Known};
use super::judge::Judge;
use super::results::{
    self, CaseResult, PromptInfo, ProviderInfo, Run, RunHeader, Settings, SuiteInfo,
};
use super::runner::{self, JudgePlan, Limiter, Plan, Target};
use super::stop::{self, Signal};
use super::suite::{AssertionType, Case, CasesSpec, DEFAULT_MAX_TURNS, Ids, Suite};
use super::summary::{self, Stat};
use super::trajectory::Declared;
use crate::error::Error;
use crate::privacy::redact::Redactor;
use crate::version::artifact::Artifact;
use crate::version::artifact::tools::Tools;
use crate::workspace::Workspace;
use crate::workspace::name::{Name, PromptRef};

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    pub prompt: Option<PromptRef>,
    /// What to evaluate on; empty: the suite's provider and the prompt's
    /// model. Several: a comparison, one run per target.
    pub targets: Vec<TargetSpec>,
    pub judge_provider: Option<String>,
    pub concurrency: usize,
    pub rps: Option<f64>,
    pub no_cache: bool,
    pub record: bool,
    pub repeat: u32,
    pub filter_id: Vec<String>,
    pub filter_segment: Vec<String>,
    pub tags: Vec<String>,
    /// 1-based shard and shard count.
    pub shard: Option<(u32, u32)>,
    pub baseline: Option<String>,
    pub max_time: Option<Duration>,
}

/// One target as asked for: a provider (`NAME`, or `NAME:MODEL`, split
/// here unless the whole is a configured provider's name) and a model in
/// place of the prompt's `model.name`. `None`: the suite's provider, the
/// prompt's model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TargetSpec {
    pub provider: Option<String>,
    pub model: Option<String>,
}

/// A finished run: its target (`provider:model`), its header (with
/// summary, gates, verdict), where it was saved, the first failures, for
/// the report, each case's outcome, for a comparison, and the signal that
/// cut it short, if one did.
pub(crate) struct Outcome {
    pub label: String,
    pub header: RunHeader,
    pub path: PathBuf,
    pub failures: Vec<CaseResult>,
    pub cases: BTreeMap<String, CaseOutcome>,
    pub signal: Option<Signal>,
}

/// How many failing cases a report shows.
pub(crate) const TOP_FAILURES: usize = 10;

/// Runs a suite: resolve the prompt, build the targets, validate every case,
/// execute the selected ones on every target at once, and save one run per
/// target with its verdict, in the order the targets were given.
pub(crate) fn run(
    ws: &Workspace,
    suite_arg: &str,
    opts: &Options,
    on_total: &mut dyn FnMut(u64),
    on_done: &mut dyn FnMut(&CaseResult),
) -> Result<Vec<Outcome>, Error> {
    let suite = Suite::load(ws, suite_arg)?;
    let prompt = resolve_prompt(ws, &suite, opts)?;
    let cassette = ws
        .evals_dir()
        .join("cassettes")
        .join(format!("{}.jsonl", suite.name));
    let cassette_label = cassette
        .strip_prefix(&ws.root)
        .unwrap_or(&cassette)
        .display()
        .to_string();
    let wanted = resolve_targets(ws, &suite, &prompt.artifact, opts)?;
    let mut limiters: BTreeMap<String, Arc<Limiter>> = BTreeMap::new();
    let targets = wanted
        .iter()
        .map(|w| {
            build_targets(
                ws,
                &suite,
                opts,
                &prompt.artifact,
                w,
                &cassette,
                &mut limiters,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let selection = Selection(opts);
    let declared = match &prompt.artifact.tools {
        Some(raw) => {
            // Named by the file, as other errors in a prompt's files are.
            let file = prompt
                .artifact
                .spec
                .tools
                .as_ref()
                .map_or("tools.json", |t| t.file.as_str());
            let at = format!("`{}/{file}`", prompt.artifact.label);
            let tools =
                Tools::parse(raw.clone()).map_err(|e| Error::invalid(format!("{at}: {e}")))?;
            Some(Arc::new(Declared::new(tools, &at)?))
        }
        None => None,
    };
    let checked = validate(
        &suite,
        &prompt.artifact,
        declared.as_ref().map(|d| &d.tools),
        targets[0].judge.is_some(),
        &selection,
    )?;
    let baseline = match &opts.baseline {
        Some(b) => Some(load_baseline(ws, &suite, &prompt.name_ref.name, b)?),
        None => None,
    };
    if opts.record {
        // What the run will merge into: refused now, not after the calls.
        crate::provider::replay::read(&cassette, &cassette_label)?;
    }

    let repeat = opts.repeat.max(1);
    on_total(checked.selected * repeat as u64 * targets.len() as u64);
    let criteria: Vec<String> = checked.known.criteria.iter().cloned().collect();
    let secrets = crate::provider::key::configured(&ws.config);
    let redactor = Redactor::new(&ws.config.redaction)?.with_secrets(secrets.clone());
    let mut checks = Some((checked.defaults, checked.schema_check));
    let mut lanes = Vec::new();
    for (w, t) in wanted.iter().zip(targets) {
        // The first target takes what validation compiled; the others
        // compile the same assertions again (they hold compiled regexes
        // and schemas, which are not shared).
        let (defaults, schema_check) = match checks.take() {
            Some(c) => c,
            None => compile_defaults(
                &suite,
                &prompt.artifact,
                declared.as_ref().map(|d| &d.tools),
            )?,
        };
        let mut artifact = prompt.artifact.clone();
        artifact.spec.model.name = w.model.clone();
        let plan = Arc::new(Plan {
            artifact,
            target: t.main,
            judge: t.judge,
            defaults,
            schema_check,
            redactor: redactor.clone(),
            secrets: secrets.clone(),
            prices: ws.config.prices.clone(),
            cache: (!opts.no_cache).then(|| Cache::new(ws.state_dir().join("cache"))),
            send_redacted: ws.config.redaction.send_to_provider
                == crate::workspace::config::SendToProvider::Redacted,
            record: opts.record,
            allow_truncated: suite.spec.defaults.allow_truncated,
            declared: declared.clone(),
        });
        lanes.push(Lane {
            label: w.label(),
            provider_name: w.provider.clone(),
            plan,
            run_id: results::new_run_id(),
            spool: None,
            failures: BTreeMap::new(),
        });
    }

    let runs_dir = ws.state_dir().join("runs");
    // Signals are caught before the spools exist, so that a Ctrl-C from
    // here on saves partial runs and leaves no spool behind.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::incomplete(format!("cannot start the async runtime: {e}")))?;
    let signals = {
        let _entered = runtime.enter();
        stop::listen()?.shared()
    };
    for lane in &mut lanes {
        lane.spool = Some(results::Spool::create(&runs_dir, &lane.run_id)?);
    }
    let started_at = crate::version::manifest::now_rfc3339()?;
    let started = Instant::now();
    let concurrency = if opts.concurrency == 0 {
        runner::DEFAULT_CONCURRENCY
    } else {
        opts.concurrency
    };
    let deadline = opts.max_time.map(|d| {
        (
            Instant::now() + d,
            format!(
                "the run's time budget (`--max-time {}s`) ran out",
                d.as_secs_f64()
            ),
        )
    });
    // The targets' runners are polled by one task, one at a time, so they
    // share the caller's callback through a `RefCell` that is never
    // borrowed across an await.
    let on_done = RefCell::new(on_done);
    let runners = lanes
        .iter_mut()
        .map(|lane| {
            let until = stop::first(deadline.clone(), signals.clone());
            let on_done = &on_done;
            let mut jobs = jobs(
                &suite,
                &selection,
                repeat,
                declared.as_ref().map(|d| &d.tools),
            )?;
            let Lane {
                plan,
                spool,
                failures,
                ..
            } = lane;
            let spool = spool.as_mut().expect("every lane has its spool");
            Ok(async move {
                // The first failures in case order (not the order cases
                // finish in), so a report lists the same cases at any `-j`.
                let mut record = |order: usize, r: &CaseResult| {
                    if !r.passed {
                        failures.insert((order, r.sample), r.clone());
                        if failures.len() > TOP_FAILURES {
                            failures.pop_last();
                        }
                    }
                    (*on_done.borrow_mut())(r);
                };
                let finished = runner::run(
                    plan.clone(),
                    &mut jobs,
                    concurrency,
                    until,
                    spool,
                    &mut record,
                )
                .await;
                // Each target's own duration, not the slowest one's.
                finished.map(|f| (f, started.elapsed()))
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let finished = runtime
        .block_on(futures_util::future::join_all(runners))
        .into_iter()
        .collect::<Result<Vec<_>, Error>>()?;

    let mut outcomes = Vec::new();
    for (lane, (finished, took)) in lanes.into_iter().zip(finished) {
        let summary = summary::summarise(&finished.stats, &criteria);
        let comparison = baseline.as_ref().map(|(run, base_stats)| {
            summary::compare(
                &run.header.run_id,
                run.header.prompt.version.clone(),
                base_stats,
                &finished.stats,
            )
        });
        let gate_results = gates::apply(&suite.spec.gates, &summary, comparison.as_ref());
        let verdict = match finished.signal {
            Some(signal) => gates::interrupted(Some(signal.name())),
            None => gates::verdict(&summary, &gate_results, finished.aborted.as_deref()),
        };
        if opts.record {
            // The cases that completed, even in a run cut short: each
            // recording is a whole answer. (`--record` takes one target.)
            crate::provider::replay::merge(
                &cassette,
                &cassette_label,
                &ws.state_dir()
                    .join("locks")
                    .join(format!("{}.cassette.lock", suite.name)),
                finished.recordings,
            )?;
        }
        let plan = &lane.plan;
        let header = RunHeader {
            schema: results::SCHEMA.into(),
            run_id: lane.run_id.clone(),
            suite: suite_info(&suite),
            prompt: PromptInfo {
                name: prompt.name_ref.name.to_string(),
                version: prompt.version.clone(),
                digest: prompt.digest.clone(),
            },
            provider: ProviderInfo {
                name: lane.provider_name,
                kind: serde_json::to_value(plan.target.endpoint.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                model: plan.artifact.spec.model.name.clone(),
            },
            judge: plan.judge.as_ref().map(|j| j.judge.identity()),
            started_at: started_at.clone(),
            finished_at: crate::version::manifest::now_rfc3339()?,
            duration_ms: took.as_secs_f64() * 1000.0,
            settings: Settings {
                interrupted: finished.signal.is_some(),
                ..settings(opts, repeat, concurrency)
            },
            summary,
            gates: gate_results,
            baseline: comparison,
            verdict,
        };
        let path = runs_dir.join(format!("{}.json", lane.run_id));
        lane.spool
            .expect("every lane has its spool")
            .finish(&header, &path)?;
        outcomes.push(Outcome {
            label: lane.label,
            header,
            path,
            failures: lane.failures.into_values().collect(),
            cases: compare::by_case(&finished.stats),
            signal: finished.signal,
        });
    }
    Ok(outcomes)
}

/// One target's run in progress.
struct Lane {
    label: String,
    provider_name: String,
    plan: Arc<Plan>,
    run_id: String,
    spool: Option<results::Spool>,
    failures: BTreeMap<(usize, u32), CaseResult>,
}

/// The prompt a run evaluates: the suite's (or `--prompt`), draft or a
/// verified released version.
struct Resolved {
    name_ref: PromptRef,
    artifact: Artifact,
    version: Option<String>,
    digest: String,
}

fn resolve_prompt(ws: &Workspace, suite: &Suite, opts: &Options) -> Result<Resolved, Error> {
    let name_ref = match &opts.prompt {
        Some(p) => p.clone(),
        None => PromptRef::parse(&suite.spec.prompt)
            .map_err(|e| Error::invalid(format!("`{}`: prompt: {}", suite.label, e.message())))?,
    };
    ws.require_prompt(&name_ref.name)?;
    let (artifact, version) = match &name_ref.version {
        None => (
            Artifact::load(
                &ws.prompt_dir(&name_ref.name),
                &ws.prompt_label(&name_ref.name),
                &name_ref.name,
            )?,
            None,
        ),
        Some(v) => (
            crate::version::store::open(ws, &name_ref.name, v)?.artifact,
            Some(v.to_string()),
        ),
    };
    let digest = artifact.hashes().digest;
    Ok(Resolved {
        name_ref,
        artifact,
        version,
        digest,
    })
}

/// A target resolved: the provider's name and the model it is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    provider: String,
    model: String,
}

impl Wanted {
    /// How reports name the target: `provider:model`.
    fn label(&self) -> String {
        format!("{}:{}", self.provider, self.model)
    }
}

/// The targets of a run, in the order given: each `--provider` (or the
/// suite's, or the prompt's `model.provider`) with its model (its own
/// `:MODEL`, the `--model` paired with it, or the prompt's). Several
/// targets refuse what only one run can do: `--record` (one cassette, one
/// model recorded at a time) and `--baseline` (compare the targets with each
/// other, or each with a baseline in its own run). A target given twice is
/// refused too: it would only compare a model with itself.
fn resolve_targets(
    ws: &Workspace,
    suite: &Suite,
    artifact: &Artifact,
    opts: &Options,
) -> Result<Vec<Wanted>, Error> {
    let default = TargetSpec::default();
    let specs = if opts.targets.is_empty() {
        std::slice::from_ref(&default)
    } else {
        opts.targets.as_slice()
    };
    let mut out: Vec<Wanted> = Vec::new();
    for spec in specs {
        let (provider, inline) = match &spec.provider {
            Some(p) if ws.config.providers.contains_key(p) => (p.clone(), None),
            Some(p) => match p.split_once(':') {
                Some((name, model)) => (name.to_string(), Some(model.to_string())),
                None => (p.clone(), None),
            },
            None => (
                suite
                    .spec
                    .provider
                    .clone()
                    .unwrap_or_else(|| artifact.spec.model.provider.clone()),
                None,
            ),
        };
        let model = match (inline, &spec.model) {
            (Some(_), Some(m)) => {
                return Err(Error::invalid(format!(
                    "`--provider {}` names its model, and `--model {m}` names another",
                    spec.provider.as_deref().unwrap_or_default()
                ))
                .with_hint("give each target one model: `--provider NAME:MODEL`, or `--provider NAME --model MODEL`"));
            }
            (Some(m), None) => m,
            (None, Some(m)) => m.clone(),
            (None, None) => artifact.spec.model.name.clone(),
        };
        if model.trim().is_empty() {
            return Err(Error::invalid(format!(
                "an empty model name for provider `{provider}`"
            )));
        }
        let wanted = Wanted { provider, model };
        if out.contains(&wanted) {
            return Err(
                Error::invalid(format!("target `{}` is given twice", wanted.label())).with_hint(
                    "each `--provider`/`--model` target must differ in provider or model",
                ),
            );
        }
        out.push(wanted);
    }
    if out.len() > 1 {
        let several = |flag: &str, why: &str| {
            Error::invalid(format!(
                "`{flag}` takes one target; {} were given ({})",
                out.len(),
                out.iter()
                    .map(|w| format!("`{}`", w.label()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .with_hint(why.to_string())
        };
        if opts.record {
            return Err(several(
                "--record",
                "record one target at a time: `promptctl eval SUITE --provider NAME --record`",
            ));
        }
        if opts.baseline.is_some() {
            return Err(several(
                "--baseline",
                "a comparison compares the targets with each other; compare one target with a baseline in its own run",
            ));
        }
    }
    Ok(out)
}

/// The providers one target calls: the prompt's and the judge's, with one
/// limiter per provider name across every target, shared when they are
/// the same provider.
struct Targets {
    main: Target,
    judge: Option<JudgePlan>,
}

#[allow(clippy::too_many_arguments)]
fn build_targets(
    ws: &Workspace,
    suite: &Suite,
    opts: &Options,
    artifact: &Artifact,
    wanted: &Wanted,
    cassette: &std::path::Path,
    limiters: &mut BTreeMap<String, Arc<Limiter>>,
) -> Result<Targets, Error> {
    let provider_name = &wanted.provider;
    let mut target = |name: &str| -> Result<Target, Error> {
        let mut endpoint = crate::provider::build(&ws.config, name, Some(cassette), &ws.root)?;
        if let Some(rps) = opts.rps {
            endpoint.limits.rps = Some(rps);
        }
        let limiter = limiters
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(Limiter::new(name, &endpoint.limits)))
            .clone();
        Ok(Target { endpoint, limiter })
    };
    let main = target(provider_name)?;
    crate::provider::params::check(main.endpoint.kind, &artifact.spec.model).map_err(|why| {
        let line =
            crate::workspace::yaml::line_at(&artifact.source, &["model", "reasoning_effort"])
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
        Error::invalid(format!(
            "`{}/{}{line}`: model.{why}",
            artifact.label,
            crate::version::artifact::PROMPT_FILE
        ))
        .with_hint(format!(
            "provider `{provider_name}` speaks the Anthropic Messages API; pick one of its levels"
        ))
    })?;
    if opts.record && !main.endpoint.provider.is_remote() {
        return Err(Error::invalid(format!(
            "`--record` needs a live provider; `{provider_name}` is not one"
        ))
        .with_hint("pass `--provider openai` (or another live provider) with `--record`"));
    }
    let judge = match &suite.spec.rubric {
        Some(r) => {
            // An offline run is offline throughout: under `replay` the judge's
            // recorded verdicts come from the same cassette.
            let judge_target = match (&opts.judge_provider, main.endpoint.kind) {
                (Some(name), _) => target(name)?,
                (None, crate::workspace::config::ProviderType::Replay) => main.clone(),
                (None, _) => target(&r.judge.provider)?,
            };
            if opts.record && !judge_target.endpoint.provider.is_remote() {
                return Err(Error::invalid(format!(
                    "`--record` needs a live judge; `{}` is not one",
                    judge_target.endpoint.name
                ))
                .with_hint("pass `--judge-provider NAME` with a live provider"));
            }
            // The judge's identity names the provider that really judged, so
            // a `--judge-provider` override never passes for the suite's judge.
            let judged_by = opts.judge_provider.as_deref().unwrap_or(&r.judge.provider);
            let model = r.judge.model_spec(judged_by);
            crate::provider::params::check(judge_target.endpoint.kind, &model).map_err(|why| {
                Error::invalid(format!("`{}`: rubric.judge.{why}", suite.label)).with_hint(
                    format!(
                        "the judge's provider `{}` speaks the Anthropic Messages API; pick one of its levels",
                        judge_target.endpoint.name
                    ),
                )
            })?;
            Some(JudgePlan {
                judge: Judge::new(model),
                target: judge_target,
                criteria: r.criteria.clone(),
            })
        }
        None => None,
    };
    Ok(Targets { main, judge })
}

/// Which cases a run takes: `--filter-id`, `--filter-segment`, `--tag` and
/// `--shard K/N` (by position in the cases file).
struct Selection<'a>(&'a Options);

impl Selection<'_> {
    fn selects(&self, i: usize, c: &Case) -> bool {
        let o = self.0;
        (o.filter_id.is_empty() || o.filter_id.iter().any(|f| f == &c.id))
            && (o.filter_segment.is_empty()
                || c.segment
                    .as_ref()
                    .is_some_and(|s| o.filter_segment.contains(s)))
            && (o.tags.is_empty() || c.tags.iter().any(|t| o.tags.contains(t)))
            && o.shard
                .is_none_or(|(k, n)| i as u64 % n as u64 == (k - 1) as u64)
    }
}

/// What validation found: the compiled default assertions and output
/// schema check, the names gates may refer to, and how many cases are
/// selected.
struct Checked {
    defaults: Vec<Compiled>,
    schema_check: Option<Compiled>,
    known: Known,
    selected: u64,
}

/// Pass 1: reads every case without calling anything, so that bad input is
/// exit 2 before a single request is sent.
fn validate(
    suite: &Suite,
    artifact: &Artifact,
    tools: Option<&Tools>,
    has_judge: bool,
    selection: &Selection,
) -> Result<Checked, Error> {
    let at = |what: &str| format!("`{}`: {what}", suite.label);
    let (defaults, schema_check) = compile_defaults(suite, artifact, tools)?;
    let needs_judge =
        |asserts: &[Compiled]| asserts.iter().any(|a| a.kind == AssertionType::Rubric);
    if needs_judge(&defaults) && !has_judge {
        return Err(Error::invalid(at(
            "a `rubric` assertion needs a judge: add `rubric: { judge: … }` to the suite",
        )));
    }
    let mut ids = Ids::default();
    let mut segments = BTreeSet::new();
    let mut metrics = BTreeSet::new();
    let mut selected = 0u64;
    let mut cases = suite.cases()?;
    let mut i = 0;
    while let Some(case) = cases.next() {
        let case = case?;
        ids.check(suite, i, cases.line(), &case)?;
        let here = at(&format!("case `{}`", case.id));
        let asserts = compile_case(&case, &here, tools)?;
        conversation::prior_turns(&case, tools, &here)?;
        conversation::Script::of(&case, tools, &here)?;
        if needs_judge(&asserts) && !has_judge {
            return Err(Error::invalid(format!(
                "{here}: a `rubric` assertion needs a judge: add `rubric: {{ judge: … }}` to the suite"
            )));
        }
        artifact
            .render(&case.vars)
            .map_err(|e| Error::invalid(format!("{here}: {}", e.message())))?;
        if let Some(s) = &case.segment {
            segments.insert(s.clone());
        }
        metrics.extend(case.asserts.iter().filter_map(|a| a.metric.clone()));
        if selection.selects(i, &case) {
            selected += 1;
        }
        i += 1;
    }
    let known = Known {
        criteria: suite
            .spec
            .rubric
            .as_ref()
            .map(|r| r.criteria.keys().cloned().collect())
            .unwrap_or_default(),
        segments,
        metrics,
    };
    gates::check_names(&suite.spec.gates, &known, &at(""))?;
    if tools.is_none() && gates::needs_tools(&suite.spec.gates) {
        return Err(Error::invalid(at(
            "gates: `tool_call_validity` needs a prompt with tools, and this prompt declares none",
        )));
    }
    Ok(Checked {
        defaults,
        schema_check,
        known,
        selected,
    })
}

/// The suite's default assertions and the prompt's output schema, compiled.
fn compile_defaults(
    suite: &Suite,
    artifact: &Artifact,
    tools: Option<&Tools>,
) -> Result<(Vec<Compiled>, Option<Compiled>), Error> {
    let defaults = suite
        .spec
        .defaults
        .asserts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            Compiled::with_tools(
                a,
                &format!("`{}`: defaults.assert[{i}]", suite.label),
                tools,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let schema_check = match &artifact.output_schema {
        Some(s) => Some(Compiled::output_schema(
            s,
            &format!("`{}`: output_schema", artifact.label),
        )?),
        None => None,
    };
    Ok((defaults, schema_check))
}

/// Pass 2's input: the selected cases (and their samples) as jobs for the
/// runner, read from the cases file as the runner asks for them.
fn jobs<'a>(
    suite: &'a Suite,
    selection: &'a Selection<'a>,
    repeat: u32,
    tools: Option<&'a Tools>,
) -> Result<impl Iterator<Item = runner::Job> + 'a, Error> {
    Ok(suite
        .cases()?
        .enumerate()
        .filter_map(|(i, c)| c.ok().map(|c| (i, c)))
        .filter(move |(i, c)| selection.selects(*i, c))
        .flat_map(move |(i, case)| (0..repeat).map(move |sample| (i, sample, case.clone())))
        .map(move |(i, sample, case)| {
            // Checked by `validate`: none of these fails here.
            runner::Job {
                order: i,
                sample,
                asserts: compile_case(&case, "", tools).unwrap_or_default(),
                turns: conversation::prior_turns(&case, tools, "").unwrap_or_default(),
                script: conversation::Script::of(&case, tools, "").ok().flatten(),
                max_turns: case
                    .max_turns
                    .or(suite.spec.defaults.max_turns)
                    .unwrap_or(DEFAULT_MAX_TURNS),
                case,
            }
        }))
}

/// The suite as a run file names it, with the sha256 of its file and dataset.
fn suite_info(suite: &Suite) -> SuiteInfo {
    SuiteInfo {
        name: suite.name.clone(),
        path: suite.label.clone(),
        sha256: crate::version::canonical::sha256(&std::fs::read(&suite.path).unwrap_or_default()),
        dataset_sha256: dataset_sha256(suite),
    }
}

/// The options a run file records.
fn settings(opts: &Options, repeat: u32, concurrency: usize) -> Settings {
    Settings {
        repeat,
        concurrency,
        cache: !opts.no_cache,
        record: opts.record,
        filter_id: opts.filter_id.clone(),
        filter_segment: opts.filter_segment.clone(),
        tags: opts.tags.clone(),
        shard: opts.shard.map(|(k, n)| format!("{k}/{n}")),
        max_time_s: opts.max_time.map(|d| d.as_secs_f64()),
        interrupted: false,
    }
}

fn compile_case(case: &Case, at: &str, tools: Option<&Tools>) -> Result<Vec<Compiled>, Error> {
    case.asserts
        .iter()
        .enumerate()
        .map(|(i, a)| Compiled::with_tools(a, &format!("{at} assert[{i}]"), tools))
        .collect()
}

/// sha256 of the cases file's bytes, or of the inline cases (what a run records).
pub(crate) fn dataset_sha256(suite: &Suite) -> String {
    match &suite.spec.cases {
        CasesSpec::File(f) => {
            let path = suite
                .path
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join(f);
            crate::version::canonical::sha256(&std::fs::read(path).unwrap_or_default())
        }
        CasesSpec::Inline(cases) => crate::version::canonical::hash_of(cases),
    }
}

/// A baseline: a run file, or the latest saved run of this suite for a version.
fn load_baseline(
    ws: &Workspace,
    suite: &Suite,
    name: &Name,
    arg: &str,
) -> Result<(Run, Vec<Stat>), Error> {
    let run = if arg.ends_with(".json") || std::path::Path::new(arg).is_file() {
        Run::load(std::path::Path::new(arg))?
    } else {
        let version = crate::workspace::name::parse_version(arg)?;
        let released = crate::version::store::open(ws, name, &version)?;
        latest_run(ws, &suite.name, &released.manifest.digest)?.ok_or_else(|| {
            Error::invalid(format!(
                "no saved run of suite `{}` for `{name}@{version}` to compare with",
                suite.name
            ))
            .with_hint(format!(
                "run `promptctl eval {} --prompt {name}@{version}` first",
                suite.name
            ))
        })?
    };
    let stats = run.cases.iter().map(Stat::from).collect();
    Ok((run, stats))
}

/// The most recent saved run of `suite` for a prompt digest.
pub(crate) fn latest_run(ws: &Workspace, suite: &str, digest: &str) -> Result<Option<Run>, Error> {
    let dir = ws.state_dir().join("runs");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(None);
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    // Run ids start with the UTC time, so the name order is the time order.
    paths.sort();
    for p in paths.iter().rev() {
        if let Ok(run) = Run::load(p)
            && run.header.suite.name == suite
            && run.header.prompt.digest == digest
        {
            return Ok(Some(run));
        }
    }
    Ok(None)
}

/// Re-applies the suite's current gates to a saved run (for `gate` and
/// `merge`): recomputes the summary from the cases, then gates and verdict.
/// Returns warnings worth showing (the suite or judge changed since the run).
pub(crate) fn regate(
    ws: &Workspace,
    run: &mut Run,
    baseline: Option<&str>,
) -> Result<Vec<String>, Error> {
    let suite_path = ws.root.join(&run.header.suite.path);
    let suite = Suite::load(ws, &suite_path.to_string_lossy())?;
    let mut warnings = Vec::new();
    let now = crate::version::canonical::sha256(&std::fs::read(&suite.path).unwrap_or_default());
    if now != run.header.suite.sha256 {
        warnings.push(format!(
            "`{}` changed since this run; its current gates are applied",
            suite.label
        ));
    }
    let suite_judge = suite
        .spec
        .rubric
        .as_ref()
        .map(|r| Judge::new(r.judge.model_spec(&r.judge.provider)).identity());
    if suite_judge != run.header.judge {
        warnings.push("this run was scored by a different judge than the suite's: it does not count for `promote`".into());
    }
    let criteria: BTreeSet<String> = suite
        .spec
        .rubric
        .as_ref()
        .map(|r| r.criteria.keys().cloned().collect())
        .unwrap_or_default();
    let known = Known {
        criteria: criteria.clone(),
        segments: run.cases.iter().filter_map(|c| c.segment.clone()).collect(),
        metrics: BTreeSet::new(),
    };
    gates::check_names(&suite.spec.gates, &known, &format!("`{}`", suite.label))?;
    let stats: Vec<Stat> = run.cases.iter().map(Stat::from).collect();
    let criteria: Vec<String> = criteria.into_iter().collect();
    let summary = summary::summarise(&stats, &criteria);
    let name = Name::parse(&run.header.prompt.name)?;
    let comparison = match baseline {
        Some(b) => {
            let (base, base_stats) = load_baseline(ws, &suite, &name, b)?;
            Some(summary::compare(
                &base.header.run_id,
                base.header.prompt.version.clone(),
                &base_stats,
                &stats,
            ))
        }
        None => None,
    };
    let gate_results = gates::apply(&suite.spec.gates, &summary, comparison.as_ref());
    // A run that was cut short stays cut short; an interrupted one stays
    // interrupted.
    if run.header.settings.interrupted {
        run.header.verdict = gates::interrupted(None);
        run.header.summary = summary;
        run.header.gates = gate_results;
        run.header.baseline = comparison;
        return Ok(warnings);
    }
    let aborted = (run.header.verdict.status == "error"
        && run.cases.iter().any(|c| {
            c.error
                .as_deref()
                .is_some_and(|e| e.starts_with("not run") || e.starts_with("not finished"))
        }))
    .then(|| run.header.verdict.reason.clone());
    run.header.verdict = gates::verdict(&summary, &gate_results, aborted.as_deref());
    run.header.summary = summary;
    run.header.gates = gate_results;
    run.header.baseline = comparison;
    Ok(warnings)
}
