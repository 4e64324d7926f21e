//! `promptctl canary`: compare the canary with the stable version on production logs.

use std::path::PathBuf;

use super::context::Context;
use super::exit::{ExitStatus, answer};
use crate::error::Error;
use crate::rollout::canary::Verdict;
use crate::rollout::deploy::actions::{self, Rollback};

/// Decide a canary from production logs: promote, hold or roll back
///
/// Compares the canary with the stable version on success, refusal,
/// escalation, fallback and manual-correction rates and P50/P95 latency,
/// against `canary.thresholds` in promptctl.yaml, with a minimum number of
/// requests per arm and a sample-ratio-mismatch check. Exit 0 promote,
/// 1 roll back, 5 hold (too little data, SRM, a gated metric with no data).
/// `--apply` carries out a rollback verdict.
///
/// Example:
///   promptctl canary support_bot --env production --logs prod-2026-11-21.jsonl
///   promptctl canary support_bot --env production --logs prod.jsonl --apply
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    #[command(flatten)]
    target: super::args::PromptEnv,
    /// Production logs, JSONL, one request a line (SPEC §8)
    #[arg(long, value_name = "FILE")]
    logs: PathBuf,
    /// Roll the canary back if the verdict is rollback
    #[arg(long)]
    apply: bool,
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let ws = ctx.workspace()?;
    crate::rollout::deploy::check_env(&ws, &args.target.env)?;
    ws.require_prompt(&args.target.name)?;
    let Some(config) = ws.config.canary.clone() else {
        return Err(Error::invalid("promptctl.yaml has no `canary:` thresholds; a canary with no thresholds cannot be judged")
            .with_hint("add `canary: { min_requests: 200, thresholds: { success_rate: { max_drop: 0.02 } } }`")
            .into());
    };
    let releases = crate::rollout::deploy::load(&ws, &args.target.name)?;
    let state = releases
        .environments
        .get(&args.target.env)
        .cloned()
        .unwrap_or_default();
    let (Some(stable), Some(canary)) = (state.active, state.canary) else {
        return Err(Error::invalid(format!(
            "no canary is running for `{}` in `{}`",
            args.target.name, args.target.env
        ))
        .with_hint(format!(
            "start one with `promptctl promote {}@X.Y.Z --env {} --canary 5`",
            args.target.name, args.target.env
        ))
        .into());
    };
    let lines = crate::rollout::prodlog::open(&args.logs)?;
    let report = crate::rollout::canary::analyze(
        lines,
        args.target.name.as_str(),
        &args.target.env,
        &stable.to_string(),
        &canary.version.to_string(),
        canary.percent.as_f64(),
        &config,
    )?;
    // Act first, then print: a reader that stops early (`| head -1`) must
    // not stop the rollback.
    let p = ctx.printer;
    let mut change = None;
    if args.apply && matches!(report.verdict, Verdict::Rollback) {
        change = Some(actions::rollback(
            &ws,
            &Rollback {
                name: args.target.name.clone(),
                env: args.target.env.clone(),
                to: None,
                reason: format!(
                    "canary analysis of `{}`: {}",
                    args.logs.display(),
                    report.summary()
                ),
                verify: true,
            },
        )?);
    }
    if p.json {
        p.json(&report);
    } else {
        p.out(&super::report::canary::canary(&report));
        if let Some(change) = &change {
            super::rollback::print_change(ctx, change);
        }
    }
    Ok(match report.exit_class() {
        None => ExitStatus::Success,
        Some(class) => answer(p, &Error::new(class, report.summary())),
    })
}
