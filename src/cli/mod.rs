//! The command line: global flags, the command list, one flat dispatch.
//!
//! Each command lives in its own file with its `Args` and `run`. Commands
//! parse, resolve the workspace, call domain code and print through
//! [`Printer`]; they never format errors themselves.

mod ab;
pub(crate) mod args;
mod canary;
mod completions;
mod context;
mod diff;
mod doctor;
mod eval;
mod evidence;
pub(crate) mod exit;
mod export;
mod gate;
mod hash;
mod init;
mod lint;
mod list;
mod log;
mod merge;
mod new;
pub(crate) mod output;
mod promote;
mod redact;
mod release;
mod render;
mod report;
mod resolve;
mod rollback;
mod schema;
mod show;
mod status;
mod verify;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use context::Context;
use exit::ExitStatus;
use output::{ColorChoice, Printer};

const ABOUT: &str = "Release discipline for LLM prompts: versions, evals, evidence, rollout";

const AFTER_HELP: &str = "\
Examples:
  promptctl init my-prompts && cd my-prompts
  promptctl render support_bot --var question='How do I export a board?'
  promptctl release support_bot --bump minor -m \"Shorter answers\"
  promptctl verify

Exit codes:
  0  success; every gate passed
  1  a gate failed, or a check said no
  2  bad usage or invalid input (bad YAML, unknown key, bad version or name)
  3  the work could not be completed (provider down, auth refused, budget exhausted)
  4  integrity: a released version or evidence pack does not match its hashes
  5  inconclusive: too little data to decide";

#[derive(Debug, Parser)]
#[command(name = "promptctl", version, about = ABOUT, after_help = AFTER_HELP, max_term_width = 100)]
pub(crate) struct Cli {
    /// Run against the workspace in DIR instead of searching upwards from here
    #[arg(short = 'C', global = true, value_name = "DIR", env = crate::workspace::env::PROMPTCTL_DIR)]
    pub dir: Option<PathBuf>,

    /// Print data as JSON on stdout
    #[arg(long, global = true)]
    pub json: bool,

    /// No status lines or progress bar on stderr (data, warnings and errors still show)
    #[arg(short, long, global = true, env = crate::workspace::env::PROMPTCTL_QUIET, value_parser = clap::builder::FalseyValueParser::new())]
    pub quiet: bool,

    /// When to use colour
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, env = crate::workspace::env::PROMPTCTL_COLOR)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    Init(init::Args),
    New(new::Args),
    Lint(lint::Args),
    Eval(eval::Args),
    Gate(gate::Args),
    Merge(merge::Args),
    Render(render::Args),
    Release(release::Args),
    List(list::Args),
    Show(show::Args),
    Log(log::Args),
    Diff(diff::Args),
    Hash(hash::Args),
    Verify(verify::Args),
    Evidence(evidence::Args),
    Status(status::Args),
    Promote(promote::Args),
    Rollback(rollback::Args),
    Resolve(resolve::Args),
    Export(export::Args),
    Canary(canary::Args),
    Ab(ab::Args),
    Redact(redact::Args),
    Doctor(doctor::Args),
    Schema(schema::Args),
    Completions(completions::Args),
}

/// Runs the command. Commands that answer a question (a gate, a check, a
/// canary) return their verdict as an [`ExitStatus`]; the others succeed or
/// fail with an error.
pub(crate) fn dispatch(cli: Cli, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let done = |()| ExitStatus::Success;
    let ctx = Context {
        printer,
        dir: cli.dir,
    };
    match cli.command {
        Command::Init(args) => init::run(args, &ctx).map(done),
        Command::New(args) => new::run(args, &ctx).map(done),
        Command::Lint(args) => lint::run(args, &ctx),
        Command::Eval(args) => eval::run(args, &ctx),
        Command::Gate(args) => gate::run(args, &ctx),
        Command::Merge(args) => merge::run(args, &ctx),
        Command::Render(args) => render::run(args, &ctx).map(done),
        Command::Release(args) => release::run(args, &ctx).map(done),
        Command::List(args) => list::run(args, &ctx).map(done),
        Command::Show(args) => show::run(args, &ctx).map(done),
        Command::Log(args) => log::run(args, &ctx).map(done),
        Command::Diff(args) => diff::run(args, &ctx).map(done),
        Command::Hash(args) => hash::run(args, &ctx).map(done),
        Command::Verify(args) => verify::run(args, &ctx),
        Command::Evidence(args) => evidence::run(args, &ctx).map(done),
        Command::Status(args) => status::run(args, &ctx).map(done),
        Command::Promote(args) => promote::run(args, &ctx),
        Command::Rollback(args) => rollback::run(args, &ctx).map(done),
        Command::Resolve(args) => resolve::run(args, &ctx).map(done),
        Command::Export(args) => export::run(args, &ctx).map(done),
        Command::Canary(args) => canary::run(args, &ctx),
        Command::Ab(args) => ab::run(args, &ctx),
        Command::Redact(args) => redact::run(args, &ctx).map(done),
        Command::Doctor(args) => doctor::run(args, &ctx),
        Command::Schema(args) => schema::run(args, &ctx).map(done),
        Command::Completions(args) => {
            completions::run(args, &ctx, <Cli as clap::CommandFactory>::command()).map(done)
        }
    }
}
