//! The eval runner: cases in, case results out, as fast as the provider allows.
//!
//! Jobs are pulled from an iterator only when a slot is free (`-j`), so
//! memory does not grow with the dataset; results go to the spool as they
//! finish. Every call, the judge's included, passes the provider's
//! `max_in_flight` semaphore and `rps` limiter (GCRA, burst 1) and is retried
//! on 429/5xx/transport errors with full-jitter exponential backoff that
//! honours the server's wait hint (`Retry-After` and kin) up to the
//! provider's `max_retry_wait_s` (a longer hint fails the case at once). A
//! hint pauses the whole provider: no call to it starts before the hinted
//! time, whichever case got the 429. A refused key stops the run; so do a
//! deadline, a signal ([`super::stop`]) and a provider the circuit breaker
//! ([`super::breaker`]) declared down. Every case not finished then is
//! recorded as an error, never dropped. Only a case that completed (with no
//! error) hands back its recordings for `--record`. Every answer is scrubbed
//! of the workspace's keys as it arrives, before the cache, the judge, a
//! cassette or a result can see it.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::assertions::{Compiled, Observed, Outcome};
use super::breaker::Breaker;
use super::cache::Cache;
use super::conversation::Script;
use super::judge::{self, Judge};
use super::results::{CaseResult, Spool};
use super::stop::{Signal, Stop};
use super::suite::{AssertionType, Case};
use super::summary::Stat;
use super::trajectory::Declared;
use crate::error::Error;
use crate::privacy::redact::Redactor;
use crate::privacy::secrets::Secrets;
use crate::provider::chat::{Limits, StopReason, ToolCall};
use crate::provider::replay::Recording;
use crate::provider::{CallError, ChatMessage, ChatRequest, ChatResponse, Endpoint};
use crate::version::artifact::Artifact;
use crate::workspace::config::Price;

/// Cases in flight at once when `-j` is not given.
pub(crate) const DEFAULT_CONCURRENCY: usize = 8;

/// A provider's shared limits: in-flight slots, a request rate, and the
/// circuit breaker that declares it down.
pub(crate) struct Limiter {
    slots: Semaphore,
    rate: Option<governor::DefaultDirectRateLimiter>,
    breaker: Breaker,
    /// No call starts before this: set when a server asks for a wait, so a
    /// 429 slows every call to the provider, not only the one that got it.
    pause_until: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Limiter {
    /// Holds every call to the provider until `wait` from now (or longer,
    /// if an earlier hint asked for more).
    fn pause_for(&self, wait: Duration) {
        let until = tokio::time::Instant::now() + wait;
        let mut pause = self.pause_until.lock().unwrap_or_else(|p| p.into_inner());
        if pause.is_none_or(|p| p < until) {
            *pause = Some(until);
        }
    }

    /// Waits out the provider's pause, if one is in force (a longer one may
    /// be set while waiting).
    async fn paused(&self) {
        loop {
            let until = *self.pause_until.lock().unwrap_or_else(|p| p.into_inner());
            match until {
                Some(until) if until > tokio::time::Instant::now() => {
                    tokio::time::sleep_until(until).await;
                }
                _ => return,
            }
        }
    }

    /// The limiter of provider `name`. Its `rps` (from `promptctl.yaml` or
    /// `--rps`) has been checked against its bounds.
    pub(crate) fn new(name: &str, limits: &Limits) -> Limiter {
        let rate = limits
            .rps
            .filter(|r| r.is_finite() && *r >= 1e-6)
            .and_then(|r| {
                governor::Quota::with_period(Duration::from_secs_f64(1.0 / r))
                    .map(|q| governor::RateLimiter::direct(q.allow_burst(NonZeroU32::MIN)))
            });
        Limiter {
            slots: Semaphore::new(limits.max_in_flight.clamp(1, Semaphore::MAX_PERMITS)),
            rate,
            breaker: Breaker::new(name, limits.circuit_breaker),
            pause_until: std::sync::Mutex::new(None),
        }
    }
}

/// A provider to call and the limiter it shares with every other use of it.
#[derive(Clone)]
pub(crate) struct Target {
    pub endpoint: Endpoint,
    pub limiter: Arc<Limiter>,
}

pub(crate) struct JudgePlan {
    pub judge: Judge,
    pub target: Target,
    pub criteria: BTreeMap<String, String>,
}

/// Everything a case needs, shared by all cases of a run.
pub(crate) struct Plan {
    pub artifact: Artifact,
    pub target: Target,
    pub judge: Option<JudgePlan>,
    pub defaults: Vec<Compiled>,
    pub schema_check: Option<Compiled>,
    /// Holds `secrets` too, so everything written is scrubbed of them.
    pub redactor: Redactor,
    /// The workspace's keys, taken out of every answer as it arrives.
    pub secrets: Secrets,
    pub prices: BTreeMap<String, Price>,
    pub cache: Option<Cache>,
    pub send_redacted: bool,
    pub record: bool,
    /// The suite's `defaults.allow_truncated`.
    pub allow_truncated: bool,
    /// The prompt's tools, read and compiled, if it declares any.
    pub declared: Option<Arc<Declared>>,
}

/// One case (one sample of it) to evaluate.
pub(crate) struct Job {
    pub order: usize,
    pub sample: u32,
    pub case: Case,
    pub asserts: Vec<Compiled>,
    /// The case's prior turns, placed after the prompt's messages.
    pub turns: Vec<ChatMessage>,
    /// Its tool script: with one, the case runs a tool loop.
    pub script: Option<Script>,
    /// The most model calls the case may make.
    pub max_turns: u32,
}

pub(crate) struct Finished {
    pub stats: Vec<Stat>,
    /// The recordings of the cases that completed.
    pub recordings: Vec<Recording>,
    /// Why the run stopped early, if it did.
    pub aborted: Option<String>,
    /// The signal that stopped it, if one did.
    pub signal: Option<Signal>,
}

/// Runs every job until they are done or `stop` resolves; never fails for a
/// case's sake (that is a case error).
pub(crate) async fn run(
    plan: Arc<Plan>,
    jobs: &mut dyn Iterator<Item = Job>,
    concurrency: usize,
    stop: impl Future<Output = Stop>,
    spool: &mut Spool,
    on_done: &mut dyn FnMut(usize, &CaseResult),
) -> Result<Finished, Error> {
    let mut stop = std::pin::pin!(stop);
    let mut set = JoinSet::new();
    let mut in_flight: HashMap<tokio::task::Id, (usize, CaseResult)> = HashMap::new();
    let mut stats = Vec::new();
    let mut recordings = Vec::new();
    let mut aborted: Option<String> = None;
    let mut signal: Option<Signal> = None;
    let mut finish =
        |order: usize, result: CaseResult, stats: &mut Vec<Stat>| -> Result<(), Error> {
            on_done(order, &result);
            stats.push(Stat::from(&result));
            spool.push(order, &result)
        };
    loop {
        while aborted.is_none() && set.len() < concurrency.max(1) {
            let Some(job) = jobs.next() else { break };
            let skeleton = skeleton(&plan, &job);
            let order = job.order;
            let handle = set.spawn(evaluate(plan.clone(), job));
            in_flight.insert(handle.id(), (order, skeleton));
        }
        if set.is_empty() {
            break;
        }
        let next = if aborted.is_none() {
            tokio::select! {
                next = set.join_next_with_id() => next,
                why = &mut stop => {
                    aborted = Some(why.reason);
                    signal = why.signal;
                    set.abort_all();
                    continue;
                }
            }
        } else {
            set.join_next_with_id().await
        };
        match next {
            None => break,
            Some(Ok((id, outcome))) => {
                let (order, skeleton) = in_flight.remove(&id).expect("every task is tracked");
                match outcome {
                    Ok((result, recs)) => {
                        // A case that did not complete (its judge failed,
                        // say) leaves its old recordings as they are.
                        if result.error.is_none() {
                            recordings.extend(recs);
                        }
                        finish(order, result, &mut stats)?;
                    }
                    Err(reason) => {
                        finish(order, failed(skeleton, &reason), &mut stats)?;
                        if aborted.is_none() {
                            aborted = Some(reason);
                            set.abort_all();
                        }
                    }
                }
            }
            Some(Err(join)) => {
                let (order, skeleton) =
                    in_flight.remove(&join.id()).expect("every task is tracked");
                let why = match (&aborted, join.is_panic()) {
                    (_, true) => "the evaluation panicked (a bug in promptctl)".to_string(),
                    (Some(a), false) => format!("not finished: {a}"),
                    (None, false) => "cancelled".to_string(),
                };
                finish(order, failed(skeleton, &why), &mut stats)?;
            }
        }
    }
    if let Some(why) = &aborted {
        for job in jobs {
            let skeleton = skeleton(&plan, &job);
            finish(
                job.order,
                failed(skeleton, &format!("not run: {why}")),
                &mut stats,
            )?;
        }
    }
    Ok(Finished {
        stats,
        recordings,
        aborted,
        signal,
    })
}

/// A result with the case's identity and redacted inputs, before any work.
fn skeleton(plan: &Plan, job: &Job) -> CaseResult {
    CaseResult {
        id: job.case.id.clone(),
        sample: job.sample,
        segment: job.case.segment.clone(),
        tags: job.case.tags.clone(),
        vars: redact_vars(plan, &job.case.vars),
        output: None,
        latency_ms: None,
        tokens_in: None,
        tokens_out: None,
        cost_usd: None,
        judge_cost_usd: None,
        stop_reason: None,
        refused: false,
        stopped: None,
        turns: 0,
        tool_calls: 0,
        invalid_tool_calls: 0,
        transcript: Vec::new(),
        cached: false,
        attempts: 0,
        assertions: Vec::new(),
        scores: BTreeMap::new(),
        passed: false,
        score: 0.0,
        error: None,
    }
}

fn failed(mut r: CaseResult, why: &str) -> CaseResult {
    r.passed = false;
    r.score = 0.0;
    r.error = Some(why.to_string());
    r
}

/// Variables as they may be written: `pii` ones wholesale, the rest through the redactor.
fn redact_vars(plan: &Plan, vars: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    vars.iter()
        .map(|(k, v)| {
            let pii = plan.artifact.spec.variables.get(k).is_some_and(|s| s.pii);
            let mut v = if pii {
                Value::String("[REDACTED:pii]".into())
            } else {
                v.clone()
            };
            plan.redactor.redact_value(&mut v);
            (k.clone(), v)
        })
        .collect()
}

type TaskOutput = Result<(CaseResult, Vec<Recording>), String>;

/// Evaluates one job. `Err` only for what must stop the run (a refused key,
/// a provider that is down).
async fn evaluate(plan: Arc<Plan>, job: Job) -> TaskOutput {
    let mut r = skeleton(&plan, &job);
    let mut recordings = Vec::new();
    let red = &plan.redactor;
    let clean = Cleaner::new(&plan, &job.case.vars);

    let rendered = match plan.artifact.render(&job.case.vars) {
        Ok(m) => m,
        Err(e) => {
            return Ok((
                failed(r, &format!("cannot render: {}", clean.text(e.message()))),
                recordings,
            ));
        }
    };
    let mut messages: Vec<ChatMessage> = rendered
        .into_iter()
        .map(|m| {
            ChatMessage::new(
                m.role,
                if plan.send_redacted {
                    red.redact(&m.content).into_owned()
                } else {
                    m.content
                },
            )
        })
        .collect();
    let prompt_len = messages.len();
    messages.extend(job.turns.iter().map(|t| {
        let mut t = t.clone();
        if plan.send_redacted {
            t.content = red.redact(&t.content).into_owned();
        }
        t
    }));
    let mut request = ChatRequest {
        model: plan.artifact.spec.model.clone(),
        messages,
        tools: plan.declared.as_ref().map(|d| d.tools.clone()),
        output_schema: plan.artifact.output_schema.clone(),
        schema_name: plan.artifact.schema_name(),
    };
    let mut playback = job.script.as_ref().map(|s| s.start());
    let mut trajectory: Vec<ToolCall> = Vec::new();
    r.turns = 0;
    r.latency_ms = Some(0.0);
    // The model is called until it answers without calling a tool; only a
    // case with a tool script loops. Each turn is its own request (so its
    // own cache entry and cassette line).
    let answer = loop {
        r.turns += 1;
        let called = match call(&plan.target, &request, &plan, job.sample).await {
            Ok(c) => c,
            Err((CallError::Auth(m) | CallError::Down(m), _)) => return Err(clean.text(&m)),
            Err((e, attempts)) => {
                r.attempts += attempts;
                let hint = if plan.target.endpoint.kind
                    == crate::workspace::config::ProviderType::Replay
                {
                    " (record it with `--provider <live provider> --record`)"
                } else {
                    ""
                };
                let turn = if r.turns > 1 {
                    format!("turn {}: ", r.turns)
                } else {
                    String::new()
                };
                r.transcript = transcript(&clean, &request.messages[prompt_len..]);
                count_calls(&mut r, &trajectory, &plan);
                return Ok((
                    failed(r, &format!("{turn}{}{hint}", clean.text(&e.to_string()))),
                    recordings,
                ));
            }
        };
        let mut answer = called.response;
        // A call without an id (the legacy `function_call`, some local
        // servers) gets one, so its result can name it: the same on every
        // run, so a replay sends what was recorded.
        for (i, c) in answer.tool_calls.iter_mut().enumerate() {
            if c.id.is_empty() {
                c.id = format!(
                    "{}{}_{}",
                    crate::provider::chat::GENERATED_CALL_ID,
                    r.turns,
                    i + 1
                );
            }
        }
        r.attempts += called.attempts;
        r.cached = called.cached && (r.turns == 1 || r.cached);
        r.latency_ms = Some(r.latency_ms.unwrap_or(0.0) + called.latency_ms);
        r.tokens_in = add(r.tokens_in, answer.tokens_in, r.turns);
        r.tokens_out = add(r.tokens_out, answer.tokens_out, r.turns);
        r.cost_usd = add_f(
            r.cost_usd,
            cost(&plan.prices, &request.model.name, &answer),
            r.turns,
        );
        if plan.record {
            let kind = if r.turns == 1 {
                "prompt".to_string()
            } else {
                format!("prompt turn {}", r.turns)
            };
            // A replay sends the recorded (cleaned) answers of the turns
            // before back, so a turn is keyed by the request it will make.
            let keyed = as_replayed(&clean, &request, prompt_len + job.turns.len());
            recordings.push(recording(&clean, &job.case.id, &kind, &keyed, &answer));
        }
        trajectory.extend(answer.tool_calls.iter().cloned());
        let stop = match answer.stop_reason {
            Some(StopReason::ContentFilter) => {
                Some("stopped by the provider's content filter".to_string())
            }
            Some(StopReason::Length) if !plan.allow_truncated => {
                Some("truncated at max_tokens".to_string())
            }
            _ => None,
        };
        let Some(playback) = playback.as_mut().filter(|_| {
            !answer.tool_calls.is_empty() && stop.is_none() && answer.refusal.is_none()
        }) else {
            r.stopped = stop;
            break answer;
        };
        if r.turns >= job.max_turns {
            request.messages.push(assistant_turn(&answer));
            r.transcript = transcript(&clean, &request.messages[prompt_len..]);
            count_calls(&mut r, &trajectory, &plan);
            return Ok((
                failed(
                    r,
                    &format!(
                        "ran out of turns: the model was still calling tools after {} model call{} (`max_turns`)",
                        job.max_turns,
                        if job.max_turns == 1 { "" } else { "s" }
                    ),
                ),
                recordings,
            ));
        }
        let mut results = Vec::with_capacity(answer.tool_calls.len());
        for c in &answer.tool_calls {
            match playback.answer(&c.name) {
                Ok(result) => {
                    let mut m = ChatMessage::new(
                        "tool",
                        match &result {
                            Ok(text) | Err(text) => text.clone(),
                        },
                    );
                    m.tool_call_id = Some(c.id.clone());
                    m.is_error = result.is_err();
                    results.push(m);
                }
                Err(why) => {
                    let turn = r.turns;
                    request.messages.push(assistant_turn(&answer));
                    request.messages.extend(results);
                    r.transcript = transcript(&clean, &request.messages[prompt_len..]);
                    count_calls(&mut r, &trajectory, &plan);
                    return Ok((
                        failed(r, &format!("turn {turn}: {}", clean.text(&why))),
                        recordings,
                    ));
                }
            }
        }
        request.messages.push(assistant_turn(&answer));
        request.messages.extend(results);
    };
    r.stop_reason = answer.stop_reason.clone();
    r.refused = answer.refusal.is_some() || answer.stop_reason == Some(StopReason::Refusal);
    // A refusal with no text is judged by the refusal's own words.
    let output = match &answer.refusal {
        Some(refusal) if answer.content.trim().is_empty() => refusal.clone(),
        _ => answer.content.clone(),
    };
    count_calls(&mut r, &trajectory, &plan);
    if prompt_len < request.messages.len() || !trajectory.is_empty() {
        let mut all = request.messages[prompt_len..].to_vec();
        all.push(assistant_turn(&answer));
        r.transcript = transcript(&clean, &all);
    }

    // Fail closed: no text, no refusal, no tool calls is no answer at all.
    if r.stopped.is_none() && answer.is_empty() && !r.refused {
        r.output = Some(String::new());
        return Ok((failed(r, "the model returned an empty answer"), recordings));
    }

    let observed = Observed {
        output: &output,
        refused: r.refused,
        latency_ms: r.latency_ms,
        cost_usd: r.cost_usd,
        calls: &trajectory,
        declared: plan.declared.as_deref(),
    };
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut questions: Vec<(usize, &Compiled)> = Vec::new();
    let all = plan
        .defaults
        .iter()
        .chain(job.asserts.iter())
        .chain(plan.schema_check.iter());
    for a in all {
        match a.check(&observed) {
            Some(o) => outcomes.push(o),
            None => questions.push((outcomes.len() + questions.len(), a)),
        }
    }

    if let Some(jp) = &plan.judge {
        let mut criteria = jp.criteria.clone();
        for (i, (_, q)) in questions.iter().enumerate() {
            criteria.insert(
                format!("q{}", i + 1),
                q.question().unwrap_or_default().to_string(),
            );
        }
        if !criteria.is_empty() {
            let input = request
                .messages
                .iter()
                .rev()
                .find(|m| m.role == "user")
                .map_or("", |m| m.content.as_str());
            let expected = job.case.expected.as_ref().map(|e| match e {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            let jreq = jp
                .judge
                .request(input, expected.as_deref(), &output, &criteria);
            let verdict = match call(&jp.target, &jreq, &plan, job.sample).await {
                Ok(c) => c,
                Err((CallError::Auth(m) | CallError::Down(m), _)) => {
                    return Err(clean.text(&m));
                }
                Err((e, _)) => {
                    r.output = Some(clean.text(&output));
                    r.assertions = outcomes;
                    return Ok((
                        failed(r, &format!("judge: {}", clean.text(&e.to_string()))),
                        recordings,
                    ));
                }
            };
            r.judge_cost_usd = cost(&plan.prices, &jreq.model.name, &verdict.response);
            if plan.record {
                // A replay sees the recorded (redacted) answer, so the judge's
                // recording is keyed by the request a replay will make.
                let redacted = clean.text(&output);
                let replayed = jp
                    .judge
                    .request(input, expected.as_deref(), &redacted, &criteria);
                recordings.push(recording(
                    &clean,
                    &job.case.id,
                    "judge",
                    &replayed,
                    &verdict.response,
                ));
            }
            match judge::parse(&verdict.response.content, &criteria) {
                Ok(mut scores) => {
                    for (i, (_, q)) in questions.iter().enumerate() {
                        if let Some(s) = scores.remove(&format!("q{}", i + 1)) {
                            outcomes.push(Outcome {
                                kind: AssertionType::Rubric,
                                passed: s.score >= 0.5,
                                weight: q.weight,
                                metric: q.metric.clone(),
                                reason: format!("{:.2}: {}", s.score, clean.text(&s.reason)),
                            });
                        }
                    }
                    for s in scores.values_mut() {
                        s.reason = clean.text(&s.reason);
                    }
                    r.scores = scores;
                }
                Err(why) => {
                    r.output = Some(clean.text(&output));
                    r.assertions = outcomes;
                    return Ok((failed(r, &format!("judge: {why}")), recordings));
                }
            }
        }
    }

    for o in &mut outcomes {
        o.reason = clean.text(&o.reason);
    }
    let total: f64 = outcomes.iter().map(|o| o.weight).sum();
    let won: f64 = outcomes.iter().filter(|o| o.passed).map(|o| o.weight).sum();
    r.passed = outcomes.iter().all(|o| o.passed) && r.stopped.is_none();
    r.score = if total > 0.0 {
        won / total
    } else if r.passed {
        1.0
    } else {
        0.0
    };
    r.output = Some(clean.text(&output));
    r.assertions = outcomes;
    Ok((r, recordings))
}

/// The model's answer as a turn of the conversation.
/// The calls the model made in the case, and how many of them were not
/// schema-conformant: on every way out of a case, an error's too (a call
/// made is a call made).
fn count_calls(r: &mut CaseResult, trajectory: &[ToolCall], plan: &Plan) {
    r.tool_calls = trajectory.len() as u32;
    r.invalid_tool_calls = match &plan.declared {
        Some(d) => trajectory.iter().filter(|c| d.invalid(c).is_some()).count() as u32,
        None => r.tool_calls,
    };
}

fn assistant_turn(answer: &ChatResponse) -> ChatMessage {
    let mut m = ChatMessage::new("assistant", answer.content.clone());
    m.tool_calls = answer.tool_calls.clone();
    m
}

/// The conversation as a result records it: every text cleaned, the
/// arguments of every call too.
fn transcript(clean: &Cleaner, turns: &[ChatMessage]) -> Vec<ChatMessage> {
    turns
        .iter()
        .map(|m| {
            let mut m = m.clone();
            clean_message(clean, &mut m);
            m
        })
        .collect()
}

fn clean_message(clean: &Cleaner, m: &mut ChatMessage) {
    m.content = clean.text(&m.content);
    for c in &mut m.tool_calls {
        clean_value(clean, &mut c.arguments);
        c.raw_arguments = c.raw_arguments.as_ref().map(|a| clean.text(a));
    }
}

/// `request` as a replay of the case makes it: the model's own turns from
/// `from` on are the recorded answers, cleaned as [`recording`] cleans them
/// (tool results come from the suite, the same in both).
fn as_replayed<'r>(
    clean: &Cleaner,
    request: &'r ChatRequest,
    from: usize,
) -> std::borrow::Cow<'r, ChatRequest> {
    let model_turn = |m: &ChatMessage| m.role == "assistant";
    if !request.messages.iter().skip(from).any(model_turn) {
        return std::borrow::Cow::Borrowed(request);
    }
    let mut keyed = request.clone();
    for m in keyed
        .messages
        .iter_mut()
        .skip(from)
        .filter(|m| model_turn(m))
    {
        clean_message(clean, m);
    }
    std::borrow::Cow::Owned(keyed)
}

fn clean_value(clean: &Cleaner, v: &mut Value) {
    match v {
        Value::String(s) => *s = clean.text(s),
        Value::Array(a) => a.iter_mut().for_each(|x| clean_value(clean, x)),
        Value::Object(o) => o.values_mut().for_each(|x| clean_value(clean, x)),
        _ => {}
    }
}

/// A running total over turns: unknown if any turn's is unknown.
fn add(total: Option<u64>, this: Option<u64>, turn: u32) -> Option<u64> {
    if turn == 1 {
        this
    } else {
        Some(total? + this?)
    }
}

fn add_f(total: Option<f64>, this: Option<f64>, turn: u32) -> Option<f64> {
    if turn == 1 {
        this
    } else {
        Some(total? + this?)
    }
}

fn recording(
    clean: &Cleaner,
    case: &str,
    kind: &str,
    request: &ChatRequest,
    response: &ChatResponse,
) -> Recording {
    let mut response = response.clone();
    response.content = clean.text(&response.content);
    response.refusal = response.refusal.map(|r| clean.text(&r));
    for c in &mut response.tool_calls {
        clean_value(clean, &mut c.arguments);
        c.raw_arguments = c.raw_arguments.as_ref().map(|a| clean.text(a));
    }
    Recording {
        case: case.to_string(),
        kind: kind.to_string(),
        key: request.request_hash(),
        model: request.model.name.clone(),
        response,
    }
}

/// Cleans text before it is written: the redactor's detectors, then the
/// case's own values of variables marked `pii: true`, which no pattern can
/// know (a name the model repeats back, say).
struct Cleaner<'a> {
    redactor: &'a Redactor,
    pii: Vec<String>,
}

impl<'a> Cleaner<'a> {
    fn new(plan: &'a Plan, vars: &BTreeMap<String, Value>) -> Cleaner<'a> {
        let mut pii: Vec<String> = vars
            .iter()
            .filter(|(k, _)| plan.artifact.spec.variables.get(*k).is_some_and(|s| s.pii))
            .filter_map(|(_, v)| {
                v.as_str()
                    .map(str::trim)
                    .filter(|s| s.chars().count() >= 2)
                    .map(str::to_string)
            })
            .collect();
        // Longest first, so a value containing another is replaced whole.
        pii.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Cleaner {
            redactor: &plan.redactor,
            pii,
        }
    }

    fn text(&self, s: &str) -> String {
        let mut out = self.redactor.redact(s).into_owned();
        for value in &self.pii {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), "[REDACTED:pii]");
            }
        }
        out
    }
}

/// USD for one answer, if its tokens and its model's price are known.
fn cost(prices: &BTreeMap<String, Price>, model: &str, r: &ChatResponse) -> Option<f64> {
    let p = prices.get(model)?;
    Some((r.tokens_in? as f64 * p.input + r.tokens_out? as f64 * p.output) / 1e6)
}

struct Called {
    response: ChatResponse,
    latency_ms: f64,
    cached: bool,
    attempts: u32,
}

/// One call with cache, limits and retries. The answer is scrubbed of the
/// plan's secrets before it is cached or returned; a hit too, in case it was
/// cached before the key was configured.
async fn call(
    target: &Target,
    req: &ChatRequest,
    plan: &Plan,
    sample: u32,
) -> Result<Called, (CallError, u32)> {
    let provider = &target.endpoint.provider;
    let cache = plan.cache.as_ref().filter(|_| provider.is_remote());
    let key = cache.map(|_| Cache::key(&provider.identity(), req, sample));
    if let (Some(cache), Some(key)) = (cache, &key)
        && let Some(hit) = cache.get(key)
    {
        return Ok(Called {
            latency_ms: hit.latency_ms.unwrap_or(0.0),
            response: scrubbed(&plan.secrets, hit),
            cached: true,
            attempts: 0,
        });
    }
    let limits = &target.endpoint.limits;
    let attempts = AtomicU32::new(0);
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(30))
        .with_factor(2.0)
        .with_max_times(limits.retries as usize);
    let breaker = &target.limiter.breaker;
    let down = |why: &str| CallError::Down(why.to_string());
    let once = || async {
        if let Some(why) = breaker.down() {
            return Err(down(why));
        }
        target.limiter.paused().await;
        let _slot = target
            .limiter
            .slots
            .acquire()
            .await
            .expect("the semaphore is never closed");
        if let Some(rate) = &target.limiter.rate {
            rate.until_ready().await;
        }
        // A pause may have begun while this call waited for its slot.
        target.limiter.paused().await;
        // It may have gone down while this call waited for its turn.
        if let Some(why) = breaker.down() {
            return Err(down(why));
        }
        attempts.fetch_add(1, Ordering::Relaxed);
        let start = Instant::now();
        match provider.complete(req).await {
            Ok(response) => {
                breaker.answered();
                Ok((response, start.elapsed()))
            }
            Err(CallError::NoAnswer(message)) => match breaker.no_answer(&message) {
                Some(why) => Err(down(why)),
                None => Err(CallError::NoAnswer(message)),
            },
            Err(e) => {
                breaker.answered();
                match e.retry_after() {
                    Some(wait) if wait > limits.max_retry_wait => {
                        Err(CallError::Fatal(too_long_a_wait(&e, wait, limits)))
                    }
                    Some(wait) => {
                        target.limiter.pause_for(wait);
                        Err(e)
                    }
                    None => Err(e),
                }
            }
        }
    };
    let (response, elapsed) = once
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(CallError::is_retryable)
        .adjust(|e, delay| delay.map(|d| e.retry_after().unwrap_or_else(|| full_jitter(d))))
        .await
        .map_err(|e| {
            let n = attempts.load(Ordering::Relaxed);
            let gave_up = |message: String| {
                format!(
                    "{message} (gave up after {n} attempt{})",
                    if n == 1 { "" } else { "s" }
                )
            };
            let e = match e {
                CallError::Retryable { message, .. } => CallError::Retryable {
                    message: gave_up(message),
                    retry_after: None,
                },
                CallError::NoAnswer(message) => CallError::NoAnswer(gave_up(message)),
                other => other,
            };
            (e, n)
        })?;
    let latency_ms = response
        .latency_ms
        .unwrap_or(elapsed.as_secs_f64() * 1000.0);
    let mut response = scrubbed(&plan.secrets, response);
    response.latency_ms = Some(latency_ms);
    if let (Some(cache), Some(key)) = (cache, &key) {
        cache.put(key, &response);
    }
    Ok(Called {
        response,
        latency_ms,
        cached: false,
        attempts: attempts.load(Ordering::Relaxed),
    })
}

/// The answer with every run of a key's characters replaced: in its text,
/// its refusal and the arguments of its tool calls (which a later turn
/// sends back, and the cache keeps).
fn scrubbed(secrets: &Secrets, mut response: ChatResponse) -> ChatResponse {
    if let std::borrow::Cow::Owned(clean) = secrets.scrub(&response.content) {
        response.content = clean;
    }
    if let Some(refusal) = &response.refusal
        && let std::borrow::Cow::Owned(clean) = secrets.scrub(refusal)
    {
        response.refusal = Some(clean);
    }
    for c in &mut response.tool_calls {
        scrub_value(secrets, &mut c.arguments);
        if let Some(raw) = &c.raw_arguments
            && let std::borrow::Cow::Owned(clean) = secrets.scrub(raw)
        {
            c.raw_arguments = Some(clean);
        }
    }
    response
}

fn scrub_value(secrets: &Secrets, v: &mut Value) {
    match v {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(clean) = secrets.scrub(s) {
                *s = clean;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| scrub_value(secrets, x)),
        Value::Object(o) => o.values_mut().for_each(|x| scrub_value(secrets, x)),
        _ => {}
    }
}

/// Why a case fails without waiting: the server asked for a longer pause
/// than `max_retry_wait_s` allows (a `Retry-After: 86400` would otherwise
/// hold the run for a day).
fn too_long_a_wait(e: &CallError, wait: Duration, limits: &Limits) -> String {
    format!(
        "{e}; it asked to wait {:.0} s before a retry, longer than \
         `max_retry_wait_s` allows ({} s): not waiting",
        wait.as_secs_f64().ceil(),
        limits.max_retry_wait.as_secs_f64()
    )
}

/// "Full jitter": uniform in [0, d] (AWS architecture blog, 2015).
fn full_jitter(d: Duration) -> Duration {
    d.mul_f64(fastrand::f64())
}
