//! `promptctl promote`: make a version live in an environment, fully or as a canary.

use std::path::PathBuf;

use super::context::Context;
use super::exit::{ExitStatus, answer};
use crate::error::Error;
use crate::rollout::deploy::actions::{self, Gate, Promote};
use crate::rollout::deploy::bucket::Percent;
use crate::rollout::deploy::gate::{self, Decision};
use crate::workspace::name::PromptRef;

/// Make a released version live in an environment (or start a canary)
///
/// Verifies the version's hashes (exit 4 on any change), then asks the
/// promote gate: each suite that gates the environment
/// (`environments.<env>.suites`, default: every suite of the prompt) needs
/// its newest run of this exact digest to count: complete (no filters, no
/// lone shard), on the suite's own provider, the version's own model and
/// the suite's judge, of the current suite file and dataset, and passing when the gates are re-applied. Exit 1
/// names each suite that refused; `--explain` lists every candidate run
/// and why it did or did not count. `--canary PCT` starts or moves a
/// canary; a full promote ends it. A promotion path in promptctl.yaml
/// (`production: { requires: staging }`) is enforced.
///
/// Example:
///   promptctl promote support_bot@1.3.0 --env staging --explain
///   promptctl promote support_bot@1.3.0 --env production --canary 5
///   promptctl promote support_bot@1.3.0 --env production
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// `name@X.Y.Z`
    #[arg(value_parser = super::args::prompt_ref)]
    prompt: PromptRef,
    #[command(flatten)]
    target: super::args::EnvArg,
    /// Send this percent of routing keys to the version (0 < PCT < 100, at most two decimals)
    #[arg(long, value_name = "PCT", value_parser = super::args::percent, allow_negative_numbers = true)]
    canary: Option<Percent>,
    /// A run file that decides its suite (default: the newest run of each gating suite)
    #[arg(long, value_name = "FILE")]
    run: Option<PathBuf>,
    /// List every candidate run of every gating suite, and why it did or did not count
    #[arg(long)]
    explain: bool,
    /// Promote without a passing run; needs `--reason`, and is recorded
    #[arg(long)]
    skip_gate: bool,
    /// Why; recorded in the history
    #[arg(long)]
    reason: Option<String>,
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitStatus> {
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
    let p = ctx.printer;
    let name = args.prompt.name;
    let env = args.target.env;
    let gate = if args.skip_gate {
        Gate::Skipped
    } else {
        crate::rollout::deploy::check_env(&ws, &env)?;
        // Only a version that still matches its hashes is worth deciding on.
        let released = crate::version::store::open(&ws, &name, &version)?;
        let decision = gate::decide(
            &ws,
            &name,
            &released.manifest.digest,
            &released.artifact.spec.model,
            &env,
            args.run.as_deref(),
        )?;
        // With `--json`, the decision is printed once, with the change.
        if args.explain && !p.json {
            p.out(&explain(&decision));
        }
        if !decision.passed() {
            if args.explain && p.json {
                p.json(&serde_json::json!({ "gate": decision }));
            }
            let no = Error::failed(format!(
                "`{name}@{version}` may not enter `{env}`: {}",
                decision.refusals().join("; ")
            ))
            .with_hint(
                "run each gating suite in full: `promptctl eval SUITE --prompt NAME@VERSION` (see `--explain`), or override with `--skip-gate --reason \"…\"` (recorded)",
            );
            return Ok(answer(p, &no));
        }
        for s in &decision.suites {
            if let Some(run) = &s.run {
                p.status(&format!("gate: suite `{}` passes on run `{run}`", s.suite));
            }
        }
        Gate::Decided(decision)
    };
    let shown = match (&gate, args.explain && p.json) {
        (Gate::Decided(d), true) => Some(d.clone()),
        _ => None,
    };
    let change = actions::promote(
        &ws,
        &Promote {
            name,
            version,
            env,
            canary: args.canary,
            gate,
            reason: args.reason,
        },
    )?;
    match shown {
        Some(decision) => p.json(&serde_json::json!({ "gate": decision, "change": change })),
        None => super::rollback::print_change(ctx, &change),
    }
    Ok(ExitStatus::Success)
}

/// `--explain`: every gating suite, every candidate run, newest first.
fn explain(d: &Decision) -> String {
    let mut out = format!(
        "promote gate for `{}` (digest {}): suites from {}\n",
        d.env,
        crate::version::manifest::short(&d.digest),
        d.suites_from
    );
    let rows = d.suites.iter().flat_map(|s| {
        let none = s.candidates.is_empty().then(|| {
            vec![
                s.suite.clone(),
                "-".into(),
                "-".into(),
                "no".into(),
                s.refused.clone().unwrap_or_default(),
            ]
        });
        none.into_iter().chain(s.candidates.iter().map(|c| {
            vec![
                s.suite.clone(),
                c.run_id.clone(),
                c.from.clone(),
                if c.counts { "yes" } else { "no" }.into(),
                if c.counts {
                    "newest complete run; passes".into()
                } else {
                    c.why.join("; ")
                },
            ]
        }))
    });
    out.push_str(&super::output::table_wrapped(
        &["suite", "run", "from", "counts", "why"],
        rows,
        &[(2, 28), (4, 48)],
    ));
    out
}
