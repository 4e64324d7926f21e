//! promptctl: release discipline for LLM prompts.
//!
//! Prompts are versioned as immutable, hashed artifacts in a git repository;
//! they are evaluated against model APIs with gates that fail closed, and
//! promoted, canaried and rolled back per environment. The binary is a thin
//! doorway to [`run`]; `cli` parses and prints, every other module is domain
//! logic that returns data and typed [`error::Error`]s. The library API is
//! [`run`] and the canary bucketing rule (`rollout::deploy::bucket`);
//! everything else is `pub(crate)`, which `unreachable_pub` keeps so.

#![warn(unreachable_pub)]

pub(crate) mod cli;
pub(crate) mod doctor;
pub(crate) mod error;
pub(crate) mod eval;
pub(crate) mod evidence;
pub(crate) mod privacy;
pub(crate) mod provider;
pub mod rollout;
pub(crate) mod stats;
pub(crate) mod version;
pub(crate) mod workspace;

use std::ffi::OsString;
use std::process::ExitCode;

/// Parses `args`, runs the command, and returns the exit code (SPEC §4).
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match <cli::Cli as clap::Parser>::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    ExitCode::SUCCESS
                }
                _ => cli::exit::ExitStatus::Invalid.into(),
            };
        }
    };
    let printer = cli::output::Printer::new(cli.color, cli.json, cli.quiet);
    let result = cli::dispatch(cli, &printer);
    cli::exit::finish(&printer, result)
}
