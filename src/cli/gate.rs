//! `promptctl gate`: re-apply a suite's gates to a saved run.

use std::path::PathBuf;

use super::context::Context;
use super::exit::ExitStatus;
use crate::eval::results::Run;

/// Re-apply the suite's gates to a saved run
///
/// Recomputes the summary from the run's cases and applies the suite's
/// current gates, without calling any model. Useful after tightening a gate,
/// or in a later CI step that only has the results file.
///
/// Example:
///   promptctl gate .promptctl/runs/20261121T100000Z-a1b2c3.json
///   promptctl gate run.json --baseline 1.2.0 --format markdown
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// A run file written by `promptctl eval`
    run: PathBuf,
    /// Compare with a version's latest saved run, or a run file
    #[arg(long, value_name = "VERSION|RUN.json")]
    baseline: Option<String>,
    /// Report format
    #[arg(long, value_enum, default_value_t = super::eval::Format::Table)]
    format: super::eval::Format,
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let ws = ctx.workspace()?;
    let mut run = Run::load(&args.run)?;
    for w in crate::eval::session::regate(&ws, &mut run, args.baseline.as_deref())? {
        ctx.printer.warn(&w);
    }
    let failures: Vec<_> = run
        .cases
        .iter()
        .filter(|c| !c.passed)
        .take(crate::eval::session::TOP_FAILURES)
        .cloned()
        .collect();
    let p = ctx.printer;
    let format = if p.json {
        super::eval::Format::Json
    } else {
        args.format
    };
    let written =
        super::eval::deliver(p, format, None, &run.header, &failures, &|| Ok(run.clone()));
    Ok(super::eval::verdict(p, &run.header.verdict).with_outputs_written(written))
}
