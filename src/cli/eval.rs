//! `promptctl eval`: run a suite, gate on it, report it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::context::Context;
use super::exit::{ExitStatus, answer, answer_as, print_error};
use super::output::{GREEN, Printer, RED};
use crate::error::Error;
use crate::eval::case::CaseResult;
use crate::eval::gates::Verdict;
use crate::eval::report;
use crate::eval::results::{Run, RunHeader};
use crate::eval::session::{self, Options};
use crate::eval::stop::Signal;
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
/// Example:
///   promptctl eval support                      # the bundled suite, offline via its cassette
///   promptctl eval support --provider openai --no-cache --format junit -o eval.xml
///   promptctl eval support --prompt support_bot@1.0.0 --baseline 0.9.0
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// A suite name under `evals/`, or a path to a suite file
    suite: String,
    /// Evaluate this version instead of the suite's prompt (`name@X.Y.Z`)
    #[arg(long, value_parser = super::args::prompt_ref)]
    prompt: Option<PromptRef>,
    /// Use this provider from promptctl.yaml instead of the suite's
    #[arg(long, env = crate::workspace::env::PROMPTCTL_PROVIDER)]
    provider: Option<String>,
    /// Use this provider for the judge (default: the suite's; under `replay`, the cassette)
    #[arg(long)]
    judge_provider: Option<String>,
    /// Cases evaluated at once
    #[arg(short = 'j', long, default_value_t = crate::eval::runner::DEFAULT_CONCURRENCY, env = crate::workspace::env::PROMPTCTL_CONCURRENCY)]
    concurrency: usize,
    /// Requests per second to the provider (overrides its `rps`)
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
    /// Stop after this many seconds; unfinished cases are errors (exit 3)
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
pub enum Format {
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

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitStatus> {
    if let Some(t) = args.max_time.filter(|t| !(t.is_finite() && *t > 0.0)) {
        return Err(Error::invalid(format!(
            "`--max-time {t}` must be a positive number of seconds"
        ))
        .into());
    }
    if let Some(r) = args.rps.filter(|r| !(r.is_finite() && *r > 0.0)) {
        return Err(Error::invalid(format!("`--rps {r}` must be a positive number")).into());
    }
    let ws = ctx.workspace()?;
    let opts = Options {
        prompt: args.prompt,
        provider: args.provider,
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
    let mut on_total = |n: u64| bar.set_length(n);
    let mut failed = 0u64;
    let mut on_done = |r: &crate::eval::results::CaseResult| {
        if !r.passed {
            failed += 1;
            bar.set_message(format!("{failed} failing"));
        }
        bar.inc(1);
    };
    let outcome = session::run(&ws, &args.suite, &opts, &mut on_total, &mut on_done)?;
    bar.finish_and_clear();
    let h = &outcome.header;
    // The verdict is decided; from here on, output can only make a pass
    // worse, never a "no" better.
    let p = ctx.printer;
    let format = if p.json { Format::Json } else { args.format };
    let written = deliver(
        p,
        format,
        args.output.as_deref(),
        h,
        &outcome.failures,
        &|| Ok(crate::eval::results::Run::load(&outcome.path)?),
    );
    step_summary(p, &report::markdown(h, &outcome.failures));
    p.status(&format!(
        "saved run `{}` to `{}`",
        h.run_id,
        outcome
            .path
            .strip_prefix(&ws.root)
            .unwrap_or(&outcome.path)
            .display()
    ));
    if let Some(signal) = outcome.signal {
        let status = match signal {
            Signal::Interrupt => ExitStatus::Interrupted,
            Signal::Terminate => ExitStatus::Terminated,
        };
        return Ok(answer_as(
            p,
            status,
            &Error::incomplete(h.verdict.reason.clone()),
        ));
    }
    Ok(verdict(p, &h.verdict).with_outputs_written(written))
}

/// Writes the report in `format` to `output` (atomically) or to stdout.
/// `false` when the report could not be made or written: the error is
/// printed, naming the file, and the caller decides what it does to the
/// exit status.
pub fn deliver(
    p: &Printer,
    format: Format,
    output: Option<&Path>,
    h: &RunHeader,
    failures: &[CaseResult],
    load: &dyn Fn() -> anyhow::Result<Run>,
) -> bool {
    let result = render(p, format, h, failures, load).and_then(|text| match output {
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
pub fn render(
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
pub fn verdict(p: &Printer, v: &Verdict) -> ExitStatus {
    let status = ExitStatus::from_code(v.exit_code);
    if let Some(class) = status.class() {
        answer(p, &Error::new(class, v.reason.clone()));
    }
    status
}
