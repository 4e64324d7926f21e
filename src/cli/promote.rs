//! `promptctl promote`: make a version live in an environment, fully or as a canary.

use std::path::PathBuf;

use super::context::Context;
use crate::error::Error;
use crate::rollout::deploy::actions::{self, Promote};
use crate::rollout::deploy::bucket::Percent;
use crate::workspace::name::PromptRef;

/// Make a released version live in an environment (or start a canary)
///
/// Verifies the version's hashes (exit 4 on any change), then requires a
/// passing eval run for its exact digest, from `.promptctl/runs/` or
/// `--run FILE` (exit 1 naming what is missing). `--canary PCT` starts or
/// moves a canary; a full promote ends it. A promotion path in
/// promptctl.yaml (`production: { requires: staging }`) is enforced.
///
/// Example:
///   promptctl promote support_bot@1.3.0 --env staging
///   promptctl promote support_bot@1.3.0 --env production --canary 5
///   promptctl promote support_bot@1.3.0 --env production
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// `name@X.Y.Z`
    #[arg(value_parser = super::args::prompt_ref)]
    prompt: PromptRef,
    #[command(flatten)]
    target: super::args::EnvArg,
    /// Send this percent of routing keys to the version (0 < PCT < 100, at most two decimals)
    #[arg(long, value_name = "PCT", value_parser = super::args::percent, allow_negative_numbers = true)]
    canary: Option<Percent>,
    /// The eval run that lets the version through (default: search `.promptctl/runs/`)
    #[arg(long, value_name = "FILE")]
    run: Option<PathBuf>,
    /// Promote without a passing run; needs `--reason`, and is recorded
    #[arg(long)]
    skip_gate: bool,
    /// Why; recorded in the history
    #[arg(long)]
    reason: Option<String>,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let Some(version) = args.prompt.version.clone() else {
        return Err(Error::invalid(format!(
            "promote a released version: `{}@X.Y.Z`",
            args.prompt.name
        ))
        .with_hint(format!(
            "see the versions with `promptctl log {}`",
            args.prompt.name
        ))
        .into());
    };
    let ws = ctx.workspace()?;
    let change = actions::promote(
        &ws,
        &Promote {
            name: args.prompt.name,
            version,
            env: args.target.env,
            canary: args.canary,
            skip_gate: args.skip_gate,
            reason: args.reason,
            run: args.run,
        },
    )?;
    super::rollback::print_change(ctx, &change)
}
