//! `promptctl redact`: the workspace's redaction rules, on any text.

use std::io::Read;
use std::path::PathBuf;

use super::context::Context;
use crate::privacy::redact::Redactor;

/// Redact PII and secrets from a file or stdin
///
/// Applies the built-in detectors (email, phone, Luhn-checked credit cards,
/// US SSNs, IBANs, IP addresses, API keys and bearer tokens) and the named
/// patterns of `promptctl.yaml`; each match becomes `[REDACTED:<kind>]`.
/// The values of the variables that `api_key_env` names, and any 12
/// characters of one in any case, become `[REDACTED:api_key]`.
/// Outside a workspace, all built-ins are used.
///
/// Example:
///   promptctl redact production.log > shareable.log
///   kubectl logs app | promptctl redact
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// The file to redact (stdin when absent or `-`)
    file: Option<PathBuf>,
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let redactor = match ctx.workspace() {
        Ok(ws) => Redactor::new(&ws.config.redaction)?
            .with_secrets(crate::provider::key::configured(&ws.config)),
        Err(_) if ctx.dir.is_none() => {
            Redactor::new(&crate::workspace::config::Redaction::default())?
        }
        Err(e) => return Err(e.into()),
    };
    let text = match args.file.as_deref().filter(|f| f.as_os_str() != "-") {
        Some(path) => crate::error::read_input_string(path)?,
        None => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s
        }
    };
    ctx.printer.out(&redactor.redact(&text));
    Ok(())
}
