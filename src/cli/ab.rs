//! `promptctl ab`: plan an A/B test's sample size, and analyse one on
//! production logs.

use std::path::PathBuf;

use super::context::Context;
use super::exit::{ExitStatus, answer};
use crate::error::Error;
use crate::rollout::ab::{self, Options};
use crate::rollout::prodlog::Metric;

/// Plan and analyse A/B tests of prompt versions
///
/// `plan` gives the sample size per arm to detect a change of a rate.
/// `analyze` compares two versions on production logs (JSONL, one request
/// a line): each arm's rate or mean, the difference B - A with its 95%
/// confidence interval and p-value (two-proportion z-test for rates, Welch's
/// t-test for means), a sample-ratio-mismatch check, guardrail metrics and
/// the same by segment. Exits 5 when an arm has no data or the split is off,
/// and 1 when a guardrail got significantly worse.
///
/// Example:
///   promptctl ab plan --baseline-rate 0.10 --mde 0.02
///   promptctl ab analyze --logs prod.jsonl --metric success_rate --guardrail latency_ms
///   promptctl ab analyze --logs prod.jsonl --metric latency_ms --arms 1.2.0,1.3.0
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Plan(PlanArgs),
    Analyze(AnalyzeArgs),
}

/// The sample size per arm to detect a change of a rate
///
/// Two-sided test of two proportions at level alpha with the given power,
/// for a change from the baseline rate P to P + D (Fleiss, without the
/// continuity correction).
///
/// Example:
///   promptctl ab plan --baseline-rate 0.10 --mde 0.02
///   promptctl ab plan --baseline-rate 0.10 --mde 0.02 --power 0.9 --json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
struct PlanArgs {
    /// The rate today, as a share (0.10 for 10%)
    #[arg(long, value_name = "P")]
    baseline_rate: f64,
    /// The smallest change worth detecting, in the same units (0.02 for 2 points)
    #[arg(long, value_name = "D", allow_negative_numbers = true)]
    mde: f64,
    /// Significance level (two-sided)
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Chance of detecting a change of D when there is one
    #[arg(long, default_value_t = 0.8)]
    power: f64,
}

/// Compare two versions on production logs
///
/// Arm A is the control and B the treatment. Without `--arms`, the logs
/// must hold exactly two versions; the older is A.
///
/// Metrics: success_rate, refusal_rate, escalation_rate, fallback_rate,
/// error_rate, correction_rate (rates), latency_ms, tokens_in, tokens_out,
/// cost_usd (means).
///
/// Example:
///   promptctl ab analyze --logs prod.jsonl --metric success_rate
///   promptctl ab analyze --logs prod.jsonl --metric success_rate --segment-by segment
///   promptctl ab analyze --logs prod.jsonl --metric cost_usd --split 10/90 --guardrail error_rate
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
struct AnalyzeArgs {
    /// Production logs, one JSON request a line
    #[arg(long, value_name = "FILE")]
    logs: PathBuf,
    /// The metric to compare
    #[arg(long, value_name = "METRIC", value_parser = parse_metric)]
    metric: Metric,
    /// Also compare by this field of the log lines (`segment`, or any other)
    #[arg(long, value_name = "FIELD")]
    segment_by: Option<String>,
    /// Only requests of this prompt (needed when the logs hold several)
    #[arg(long, value_name = "NAME")]
    prompt: Option<String>,
    /// Only requests in this environment
    #[arg(long, value_name = "ENV")]
    env: Option<String>,
    /// The two versions, control first
    #[arg(long, value_name = "A,B", value_parser = parse_arms)]
    arms: Option<[String; 2]>,
    /// The configured traffic split in percent, A/B
    #[arg(long, value_name = "A/B", value_parser = parse_split, default_value = "50/50")]
    split: [f64; 2],
    /// A metric that must not get significantly worse (repeatable)
    #[arg(long, value_name = "METRIC", value_parser = parse_metric)]
    guardrail: Vec<Metric>,
}

fn parse_metric(s: &str) -> Result<Metric, String> {
    s.parse().map_err(|e: Error| e.message().to_string())
}

fn parse_arms(s: &str) -> Result<[String; 2], String> {
    let (a, b) = s
        .split_once(',')
        .ok_or("arms are two versions, control first: `A,B`, e.g. `1.2.0,1.3.0`")?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() || b.is_empty() || b.contains(',') {
        return Err("arms are two versions, control first: `A,B`, e.g. `1.2.0,1.3.0`".into());
    }
    if a == b {
        return Err(format!("the two arms are both `{a}`"));
    }
    Ok([a.to_string(), b.to_string()])
}

fn parse_split(s: &str) -> Result<[f64; 2], String> {
    let usage = "a split is two percentages `A/B` that sum to 100, e.g. `10/90`";
    let (a, b) = s.split_once('/').ok_or(usage)?;
    let (a, b): (f64, f64) = (
        a.trim().parse().map_err(|_| usage)?,
        b.trim().parse().map_err(|_| usage)?,
    );
    if !(a > 0.0 && b > 0.0 && (a + b - 100.0).abs() < 1e-9) {
        return Err(usage.to_string());
    }
    Ok([a, b])
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitStatus> {
    match args.command {
        Command::Plan(a) => plan(a, ctx).map(|()| ExitStatus::Success),
        Command::Analyze(a) => analyze(a, ctx),
    }
}

fn plan(args: PlanArgs, ctx: &Context) -> anyhow::Result<()> {
    let plan = ab::plan(args.baseline_rate, args.mde, args.alpha, args.power)?;
    let p = ctx.printer;
    if p.json {
        p.json(&plan);
    } else {
        p.out(&plan.text());
    }
    Ok(())
}

fn analyze(args: AnalyzeArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let opts = Options {
        metric: args.metric,
        prompt: args.prompt,
        env: args.env,
        arms: args.arms,
        segment_by: args.segment_by,
        split: args.split,
        guardrails: args.guardrail,
    };
    let lines = crate::rollout::prodlog::open(&args.logs)?;
    let analysis = ab::analyze(lines, &opts)?;
    let p = ctx.printer;
    if p.json {
        p.json(&analysis);
    } else {
        p.out(&super::report::ab::analysis(&analysis));
    }
    Ok(match analysis.exit_class() {
        None => ExitStatus::Success,
        Some(class) => answer(p, &Error::new(class, analysis.summary())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_arms_and_splits() {
        assert_eq!(parse_arms("1.2.0,1.3.0").unwrap(), ["1.2.0", "1.3.0"]);
        assert_eq!(parse_arms(" a , b ").unwrap(), ["a", "b"]);
        for bad in ["1.2.0", "1.2.0,", ",b", "a,b,c", "a,a"] {
            assert!(parse_arms(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_split("10/90").unwrap(), [10.0, 90.0]);
        assert_eq!(parse_split("50/50").unwrap(), [50.0, 50.0]);
        for bad in ["10", "10/80", "0/100", "-10/110", "a/b", "10/90/0"] {
            assert!(parse_split(bad).is_err(), "{bad}");
        }
    }
}
