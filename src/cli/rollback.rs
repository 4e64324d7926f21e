//! `promptctl rollback`: back to the previous live version, at once, offline.

use super::context::Context;
use crate::rollout::deploy::actions::{self, Change, Rollback};

/// Roll an environment back to its previous live version
///
/// Moves the environment back to the version that was live before the
/// current one (or `--to VERSION`), ends any canary, and records who and
/// why. Needs no network, no provider and no eval: it reads only
/// `releases.yaml` and the target's manifest, and finishes in milliseconds.
/// Running it again walks further back.
///
/// Example:
///   promptctl rollback support_bot --env production --reason "refusals doubled"
///   promptctl rollback support_bot --env production --to 1.1.0 --reason "INC-4211"
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    #[command(flatten)]
    target: super::args::PromptEnv,
    /// Roll back to this version instead of the previous one
    #[arg(long, value_name = "VERSION")]
    to: Option<String>,
    /// Why; recorded in the history
    #[arg(long)]
    reason: String,
    /// Do not verify the target's files (the rollback is still recorded)
    #[arg(long)]
    no_verify: bool,
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let to = args
        .to
        .as_deref()
        .map(crate::workspace::name::parse_version)
        .transpose()?;
    let ws = ctx.workspace()?;
    let change = actions::rollback(
        &ws,
        &Rollback {
            name: args.target.name,
            env: args.target.env,
            to,
            reason: args.reason,
            verify: !args.no_verify,
        },
    )?;
    print_change(ctx, &change);
    Ok(())
}

/// `production: 1.2.0 → 1.3.0`, or the change as JSON.
pub(super) fn print_change(ctx: &Context, change: &Change) {
    let p = ctx.printer;
    if p.json {
        p.json(change);
        return;
    }
    let (before, after) = (
        actions::describe(&change.before),
        actions::describe(&change.after),
    );
    match &change.event {
        None => p.out(&format!(
            "{} {}: {after} (already; nothing to do)\n",
            change.name, change.env
        )),
        Some(_) => p.out(&format!(
            "{} {}: {before} → {after}\n",
            change.name, change.env
        )),
    }
}
