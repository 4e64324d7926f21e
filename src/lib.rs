//! promptctl: release discipline for LLM prompts.
//!
//! Prompts are versioned as immutable, hashed artifacts in a git repository;
//! they are evaluated against model APIs with gates that fail closed, and
//! promoted, canaried and rolled back per environment. The binary is a thin
//! doorway to [`run`]; `cli` parses and prints, every other module is domain
//! logic that returns data and typed [`error::Error`]s.

pub mod ab;
pub mod artifact;
pub mod canary;
pub mod canonical;
pub mod cli;
pub mod compat;
pub mod config;
pub mod deploy;
pub mod doctor;
pub mod env;
pub mod error;
pub mod eval;
pub mod evidence;
pub mod exit;
pub mod fsio;
pub mod git;
pub mod lint;
pub mod manifest;
pub mod name;
pub mod output;
pub mod prodlog;
pub mod provider;
pub mod redact;
pub mod release;
pub mod schema;
pub mod secrets;
pub mod stats;
pub mod store;
pub mod template;
pub mod tokens;
pub mod variables;
pub mod workspace;
pub mod yaml;

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
                _ => exit::code(error::Class::Invalid),
            };
        }
    };
    let printer = output::Printer::new(cli.color, cli.json);
    match cli::dispatch(cli, &printer) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => exit::report(&printer, &err),
    }
}
