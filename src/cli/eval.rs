//! `promptctl eval`: run a suite, gate on it, report it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::context::Context;
use super::exit::{ExitStatus, answer, answer_as, print_error};
use super::output::{GREEN, Printer, RED};
use crate::error::Error;
use crate::eval::case::CaseResult;
use crate::eval::compare::{self, Side};
use crate::eval::gates::Verdict;
use crate::eval::report;
use crate::eval::results::{Run, RunHeader};
use crate::eval::session::{self, Options, Outcome, TargetSpec};
use crate::eval::stop::Signal;
use crate::workspace::Workspace;
use crate::workspace::bounded::Bound;
use crate::workspace::name::PromptRef;

/// Evaluate a prompt against a suite and gate on the result
///
/// Renders every case, calls the model (with concurrency, rate limits,
/// retries and a response cache), checks assertions, asks the judge, applies
/// the suite's gates and saves the run to `.promptctl/runs/<run-id>.json`.
/// Fails closed: a case that could not be evaluated is an error, never a
/// pass; an empty selection is inconclusive (exit 5). Ctrl-C or SIGTERM
/// stops the run, saves what it did marked interrupted (it never counts for
/// `promote`) and exits 130 or 143.
///
/// Several targets (`--provider` or `--model` given more than once) run
/// side by side, each saved as its own run, and print one comparison: each
/// target's numbers and the cases they disagree on. The exit code is the
/// worst target's (an error or interruption over a failed gate over a
/// pass), or 0 under `--compare-only` once every target ran to its end.
///
/// Example:
///   promptctl eval support                      # the bundled suite, offline via its cassette
///   promptctl eval support --provider openai --no-cache --format junit -o eval.xml
///   promptctl eval support --prompt support_bot@1.0.0 --baseline 0.9.0
///   promptctl eval support --provider openai --provider claude          # two providers side by side
///   promptctl eval support --provider openai --model gpt-4o-mini --model gpt-4.1
///   promptctl eval support --provider openai:gpt-4.1 --provider claude:claude-sonnet-4-5
///   promptctl eval support --model gpt-4o-mini --model gpt-4.1 --compare-only
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// A suite name under `evals/`, or a path to a suite file
    suite: String,
    /// Evaluate this version instead of the suite's prompt (`name@X.Y.Z`)
    #[arg(long, value_parser = super::args::prompt_ref)]
    prompt: Option<PromptRef>,
    /// Use this provider from promptctl.yaml instead of the suite's; `NAME:MODEL` also
    /// replaces the prompt's model. Repeat it to compare targets side by side
    #[arg(long, value_name = "NAME[:MODEL]", env = crate::workspace::env::PROMPTCTL_PROVIDER)]
    provider: Vec<String>,
    /// Use this model instead of the prompt's `model.name`. Repeat it to compare models: with
    /// one `--provider` (or none), each model is a target on that provider; with several
    /// `--provider`s, give one `--model` for each, paired in order
    #[arg(long, value_name = "MODEL")]
    model: Vec<String>,
    /// With several targets: exit 0 once every target ran to its end, whatever its gates
    /// say; an error, an interrupted or an empty run still sets the exit code
    #[arg(long)]
    compare_only: bool,
    /// Use this provider for the judge (default: the suite's; under `replay`, the cassette)
    #[arg(long)]
    judge_provider: Option<String>,
    /// Cases evaluated at once (1 to 10000)
    #[arg(
        short = 'j',
        long,
        default_value_t = crate::eval::runner::DEFAULT_CONCURRENCY,
        env = crate::workspace::env::PROMPTCTL_CONCURRENCY,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000)
    )]
    concurrency: usize,
    /// Requests per second to the provider (overrides its `rps`; 0.001 to 10000)
    #[arg(long)]
    rps: Option<f64>,
    /// Do not read or write the response cache
    #[arg(long, env = crate::workspace::env::PROMPTCTL_NO_CACHE, value_parser = clap::builder::FalseyValueParser::new())]
    no_cache: bool,
    /// Write the live responses (redacted) to `evals/cassettes/<suite>.jsonl`
    #[arg(long)]
    record: bool,
    /// Run each case N times and report flaky ones
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    repeat: u32,
    /// Only the case with this id (repeatable)
    #[arg(long, value_name = "ID")]
    filter_id: Vec<String>,
    /// Only cases in this segment (repeatable)
    #[arg(long, value_name = "SEGMENT")]
    filter_segment: Vec<String>,
    /// Only cases with this tag (repeatable)
    #[arg(long)]
    tag: Vec<String>,
    /// Only shard I of N (1-based), e.g. `2/4`; join shards with `promptctl merge`
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<(u32, u32)>,
    /// Compare with a version's latest saved run, or a run file
    #[arg(long, value_name = "VERSION|RUN.json")]
    baseline: Option<String>,
    /// Stop after this many seconds (at most 604800, 7 days); unfinished cases are errors (exit 3)
    #[arg(long, value_name = "SECONDS", env = crate::workspace::env::PROMPTCTL_MAX_TIME)]
    max_time: Option<f64>,
    /// Report format on stdout (or in `-o FILE`)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the report to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Format {
    Table,
    Json,
    Junit,
    Markdown,
}

fn parse_shard(s: &str) -> Result<(u32, u32), String> {
    let (i, n) = s.split_once('/').ok_or("a shard is `I/N`, e.g. `1/4`")?;
    let (i, n): (u32, u32) = (
        i.parse().map_err(|_| "I is a number")?,
        n.parse().map_err(|_| "N is a number")?,
    );
    if n == 0 || i == 0 || i > n {
        return Err(format!("shard {i}/{n}: I must be between 1 and N"));
    }
    Ok((i, n))
}

/// The longest `--max-time`: a week, far beyond any CI job, and far from
/// where a `Duration` overflows.
const MAX_TIME: Bound = Bound {
    min: 0.0,
    min_excluded: true,
    max: 604_800.0,
    unit: "seconds",
};

/// How often a run without a progress bar says how far it got, unless
/// `PROMPTCTL_HEARTBEAT` says otherwise.
const HEARTBEAT: Duration = Duration::from_secs(10);

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let flag = |name: &str, bound: &Bound, v: Option<f64>| match v.map(|v| bound.check(v)) {
        Some(Err(why)) => Err(Error::invalid(format!("`{name}`: {why}"))),
        _ => Ok(()),
    };
    flag("--max-time", &MAX_TIME, args.max_time)?;
    flag("--rps", &crate::workspace::config::bounds::RPS, args.rps)?;
    let heartbeat = heartbeat_interval()?;
    let targets = targets(&args.provider, &args.model)?;
    if args.compare_only && targets.len() < 2 {
        return Err(Error::invalid(
            "`--compare-only` needs several targets to compare; it would only ignore the gates of one run",
        )
        .with_hint("give `--provider` or `--model` more than once, or drop `--compare-only`")
        .into());
    }
    let ws = ctx.workspace()?;
    let report_to = ReportTo {
        format: args.format,
        output: args.output.clone(),
        compare_only: args.compare_only,
    };
    let opts = Options {
        prompt: args.prompt,
        targets,
        judge_provider: args.judge_provider,
        concurrency: args.concurrency,
        rps: args.rps,
        no_cache: args.no_cache,
        record: args.record,
        repeat: args.repeat,
        filter_id: args.filter_id,
        filter_segment: args.filter_segment,
        tags: args.tag,
        shard: args.shard,
        baseline: args.baseline,
        max_time: args.max_time.map(Duration::from_secs_f64),
    };
    let bar = ctx
        .printer
        .progress("{spinner} {pos}/{len} cases [{bar:30}] {per_sec} eta {eta} {msg}");
    let progress = Progress::default();
    let mut on_total = |n: u64| {
        bar.set_length(n);
        progress.lock().total = Some(n);
    };
    let mut on_done = |r: &crate::eval::results::CaseResult| {
        let failed = {
            let mut p = progress.lock();
            p.done += 1;
            p.failed += u64::from(!r.passed);
            p.failed
        };
        if !r.passed {
            bar.set_message(format!("{failed} failing"));
        }
        bar.inc(1);
    };
    // Without a progress bar (stderr is not a terminal: a CI log), a line
    // every so often shows the run is alive, and how far it got.
    let beat = heartbeat.filter(|_| bar.is_hidden() && !ctx.printer.quiet);
    let outcomes = std::thread::scope(|scope| {
        let (stop, stopped) = mpsc::channel::<()>();
        if let Some(every) = beat {
            let (p, progress, suite) = (ctx.printer, &progress, args.suite.as_str());
            scope.spawn(move || heartbeat_lines(p, suite, progress, every, &stopped));
        }
        let outcomes = session::run(&ws, &args.suite, &opts, &mut on_total, &mut on_done);
        drop(stop);
        outcomes
    })?;
    bar.finish_and_clear();
    match outcomes.as_slice() {
        [outcome] => Ok(one(ctx.printer, &report_to, &ws, outcome)),
        several => Ok(side_by_side(ctx.printer, &report_to, &ws, several)),
    }
}

/// Where and how the report goes.
struct ReportTo {
    format: Format,
    output: Option<PathBuf>,
    compare_only: bool,
}

/// The targets `--provider` and `--model` ask for: each `--provider`
/// (`NAME` or `NAME:MODEL`); each `--model` on the one `--provider` (or
/// on the suite's); or, with several of both, paired in order. Nothing
/// given is one target: the suite's provider and the prompt's model.
fn targets(providers: &[String], models: &[String]) -> Result<Vec<TargetSpec>, Error> {
    let spec = |provider: Option<&String>, model: Option<&String>| TargetSpec {
        provider: provider.cloned(),
        model: model.cloned(),
    };
    Ok(match (providers.len(), models.len()) {
        (_, 0) => providers.iter().map(|p| spec(Some(p), None)).collect(),
        (0 | 1, _) => models
            .iter()
            .map(|m| spec(providers.first(), Some(m)))
            .collect(),
        (p, m) if p == m => providers
            .iter()
            .zip(models)
            .map(|(p, m)| spec(Some(p), Some(m)))
            .collect(),
        (p, m) => {
            return Err(Error::invalid(format!(
                "{p} `--provider`s and {m} `--model`s: with several providers, give one `--model` for each (they pair in order)"
            ))
            .with_hint("or name each target's model with `--provider NAME:MODEL`"));
        }
    })
}

/// The report, summary and verdict of a run on one target: what `eval`
/// has always printed.
fn one(p: &Printer, to: &ReportTo, ws: &Workspace, outcome: &Outcome) -> ExitStatus {
    let h = &outcome.header;
    // The verdict is decided; from here on, output can only make a pass
    // worse, never a "no" better.
    let format = if p.json { Format::Json } else { to.format };
    let written = deliver(
        p,
        format,
        to.output.as_deref(),
        h,
        &outcome.failures,
        &|| Ok(crate::eval::results::Run::load(&outcome.path)?),
    );
    step_summary(p, &report::markdown(h, &outcome.failures));
    p.status(&format!(
        "saved run `{}` to `{}`",
        h.run_id,
        relative(ws, &outcome.path)
    ));
    if let Some(signal) = outcome.signal {
        return interrupted(p, signal, &h.verdict.reason);
    }
    verdict(p, &h.verdict).with_outputs_written(written)
}

/// The comparison of runs on several targets: one report, one summary,
/// one verdict (the worst target's, or `--compare-only`'s).
fn side_by_side(p: &Printer, to: &ReportTo, ws: &Workspace, outcomes: &[Outcome]) -> ExitStatus {
    let files: Vec<String> = outcomes.iter().map(|o| relative(ws, &o.path)).collect();
    let sides: Vec<Side> = outcomes
        .iter()
        .zip(&files)
        .map(|(o, file)| Side {
            label: &o.label,
            header: &o.header,
            run_file: file,
            cases: &o.cases,
        })
        .collect();
    let comparison = compare::build(&sides, to.compare_only);
    let format = if p.json { Format::Json } else { to.format };
    let text = match format {
        Format::Json => serde_json::to_string_pretty(&comparison)
            .map(|mut s| {
                s.push('\n');
                s
            })
            .map_err(anyhow::Error::from),
        Format::Markdown => Ok(report::compare_markdown(&comparison)),
        Format::Junit => outcomes
            .iter()
            .map(|o| {
                Ok((
                    o.label.as_str(),
                    o.header.clone(),
                    Run::load(&o.path)?.cases,
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()
            .map(|runs| report::junit_targets(&runs)),
        Format::Table => {
            let paint = |ok: bool, s: &str| p.paint(if ok { GREEN } else { RED }, s);
            Ok(super::report::compare::comparison(&comparison, &paint))
        }
    };
    let written = write_report(p, to.output.as_deref(), text);
    step_summary(p, &report::compare_markdown(&comparison));
    for (o, file) in outcomes.iter().zip(&files) {
        p.status(&format!(
            "saved run `{}` of `{}` to `{file}`",
            o.header.run_id, o.label
        ));
    }
    if let Some((o, signal)) = outcomes.iter().find_map(|o| o.signal.map(|s| (o, s))) {
        return interrupted(p, signal, &o.header.verdict.reason);
    }
    verdict(p, &comparison.verdict).with_outputs_written(written)
}

/// A path as messages show it: relative to the workspace root.
fn relative(ws: &Workspace, path: &Path) -> String {
    path.strip_prefix(&ws.root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// `INTERRUPTED (exit 130): …`: a run stopped by a signal.
fn interrupted(p: &Printer, signal: Signal, reason: &str) -> ExitStatus {
    let status = match signal {
        Signal::Interrupt => ExitStatus::Interrupted,
        Signal::Terminate => ExitStatus::Terminated,
    };
    answer_as(p, status, &Error::incomplete(reason.to_string()))
}

/// How far a run got, for the heartbeat: what `on_total` and `on_done` saw.
#[derive(Default)]
struct Progress(Mutex<Counts>);

#[derive(Default, Clone, Copy)]
struct Counts {
    /// `None` while the cases are still being checked.
    total: Option<u64>,
    done: u64,
    failed: u64,
}

impl Progress {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The heartbeat's interval: `PROMPTCTL_HEARTBEAT` seconds (`0`: none),
/// else [`HEARTBEAT`].
fn heartbeat_interval() -> Result<Option<Duration>, Error> {
    let var = crate::workspace::env::PROMPTCTL_HEARTBEAT;
    let Some(value) = std::env::var_os(var).filter(|v| !v.is_empty()) else {
        return Ok(Some(HEARTBEAT));
    };
    match value.to_str().and_then(|v| v.trim().parse::<u64>().ok()) {
        Some(0) => Ok(None),
        Some(secs @ 1..=3600) => Ok(Some(Duration::from_secs(secs))),
        _ => Err(Error::invalid(format!(
            "`{var}={}` must be a whole number of seconds from 1 to 3600, or 0 for no heartbeat",
            value.to_string_lossy()
        ))),
    }
}

/// Says every `every` how far the run got, on stderr, until `stop` is
/// dropped: `eval `t`: 37/200 cases done, 3 failing, 1m10s elapsed`.
fn heartbeat_lines(
    p: &Printer,
    suite: &str,
    progress: &Progress,
    every: Duration,
    stop: &mpsc::Receiver<()>,
) {
    let started = Instant::now();
    let mut before: Option<u64> = None;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
        let now = *progress.lock();
        let elapsed = clock(started.elapsed());
        let line = match now.total {
            None => format!("eval `{suite}`: checking the cases, {elapsed} elapsed"),
            Some(total) => {
                let stalled = if before == Some(now.done) {
                    format!("; none finished in the last {}", clock(every))
                } else {
                    String::new()
                };
                before = Some(now.done);
                format!(
                    "eval `{suite}`: {}/{total} cases done, {} failing, {elapsed} elapsed{stalled}",
                    now.done, now.failed
                )
            }
        };
        p.status(&line);
    }
}

/// `9s`, `1m10s`, `2h05m`.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// Writes the report in `format` to `output` (atomically) or to stdout.
/// `false` when the report could not be made or written: the error is
/// printed, naming the file, and the caller decides what it does to the
/// exit status.
pub(super) fn deliver(
    p: &Printer,
    format: Format,
    output: Option<&Path>,
    h: &RunHeader,
    failures: &[CaseResult],
    load: &dyn Fn() -> anyhow::Result<Run>,
) -> bool {
    write_report(p, output, render(p, format, h, failures, load))
}

/// Writes a report (atomically) to `output` or to stdout; `false`, with
/// the error printed, when it could not be made or written.
fn write_report(p: &Printer, output: Option<&Path>, text: anyhow::Result<String>) -> bool {
    let result = text.and_then(|text| match output {
        Some(path) => crate::workspace::fsio::write_output(path, text.as_bytes()).map_err(|e| {
            anyhow::Error::new(e).context(format!(
                "could not write the report to `{}`",
                path.display()
            ))
        }),
        None => {
            p.out(&text);
            Ok(())
        }
    });
    match result {
        Ok(()) => true,
        Err(e) => {
            print_error(p, &e);
            false
        }
    }
}

/// Appends the Markdown report to `$GITHUB_STEP_SUMMARY` when it is set. A
/// summary that cannot be written is a warning naming the file: it is a
/// courtesy to the reader of the CI page, not the verdict.
fn step_summary(p: &Printer, markdown: &str) {
    let Some(path) =
        std::env::var_os(crate::workspace::env::GITHUB_STEP_SUMMARY).filter(|v| !v.is_empty())
    else {
        return;
    };
    let path = PathBuf::from(path);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, markdown.as_bytes()));
    if let Err(e) = written {
        p.warn(&format!(
            "could not append the summary to `${}` (`{}`): {e}",
            crate::workspace::env::GITHUB_STEP_SUMMARY,
            path.display()
        ));
    }
}

/// A run's report in `format`. `load` reads the whole run, for the formats
/// that need every case (JSON, JUnit).
pub(super) fn render(
    p: &crate::cli::output::Printer,
    format: Format,
    h: &crate::eval::results::RunHeader,
    failures: &[crate::eval::results::CaseResult],
    load: &dyn Fn() -> anyhow::Result<crate::eval::results::Run>,
) -> anyhow::Result<String> {
    Ok(match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&load()?)?;
            s.push('\n');
            s
        }
        Format::Markdown => report::markdown(h, failures),
        Format::Junit => report::junit(h, &load()?.cases),
        Format::Table => {
            let paint = |ok: bool, s: &str| p.paint(if ok { GREEN } else { RED }, s);
            super::report::eval::run(h, failures, &paint)
        }
    })
}

/// A run's verdict as the process's status; a "no" is also said on stderr,
/// where it reaches the terminal whatever became of stdout.
pub(super) fn verdict(p: &Printer, v: &Verdict) -> ExitStatus {
    let status = ExitStatus::from_code(v.exit_code);
    if let Some(class) = status.class() {
        answer(p, &Error::new(class, v.reason.clone()));
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(provider: Option<&str>, model: Option<&str>) -> TargetSpec {
        TargetSpec {
            provider: provider.map(str::to_string),
            model: model.map(str::to_string),
        }
    }

    #[test]
    fn providers_and_models_pair_into_targets() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases: [(&[&str], &[&str], Vec<TargetSpec>); 6] = [
            (&[], &[], vec![]),
            (&["a"], &[], vec![spec(Some("a"), None)]),
            (
                &["a", "b:m"],
                &[],
                vec![spec(Some("a"), None), spec(Some("b:m"), None)],
            ),
            (
                &[],
                &["x", "y"],
                vec![spec(None, Some("x")), spec(None, Some("y"))],
            ),
            (
                &["a"],
                &["x", "y"],
                vec![spec(Some("a"), Some("x")), spec(Some("a"), Some("y"))],
            ),
            (
                &["a", "b"],
                &["x", "y"],
                vec![spec(Some("a"), Some("x")), spec(Some("b"), Some("y"))],
            ),
        ];
        for (providers, models, want) in cases {
            assert_eq!(
                targets(&v(providers), &v(models)).unwrap(),
                want,
                "{providers:?} {models:?}"
            );
        }
        let err = targets(&v(&["a", "b"]), &v(&["x"])).unwrap_err();
        assert!(
            err.message().contains("2 `--provider`s and 1 `--model`s"),
            "{err:?}"
        );
    }
}
