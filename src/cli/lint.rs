//! `promptctl lint`: checks a release would not catch.

use super::context::Context;
use super::exit::{ExitStatus, answer};
use crate::cli::output::{RED, YELLOW};
use crate::error::Error;
use crate::version::lint::Severity;
use crate::workspace::name::Name;

/// Check prompts for problems
///
/// Errors (exit 1): unknown provider, a credential in any file of the
/// artifact, a system text over `max_prompt_tokens` (counted with a real BPE
/// tokenizer, offline). Warnings (exit 0, or 1 with `--strict`): unused
/// variables, missing sections (identity & role, behaviour, capabilities &
/// limits, output format, safety & escalation), and eval inputs that appear
/// verbatim in the prompt (few-shot leakage). A prompt that does not load is
/// invalid input (exit 2).
///
/// Example:
///   promptctl lint
///   promptctl lint support_bot --strict --json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Prompts to lint (all when none are given)
    #[arg(value_parser = super::args::prompt_name)]
    names: Vec<Name>,
    /// Treat warnings as errors
    #[arg(long)]
    strict: bool,
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let ws = ctx.workspace()?;
    let names = if args.names.is_empty() {
        ws.prompt_names()?
    } else {
        for n in &args.names {
            ws.require_prompt(n)?;
        }
        args.names
    };
    let report = crate::version::lint::lint(&ws, &names);
    let p = ctx.printer;
    if p.json {
        p.json(&report);
    } else {
        let mut out = String::new();
        for f in &report.findings {
            let label = match f.severity {
                Severity::Warning => p.paint(YELLOW.bold(), "warning"),
                Severity::Error => p.paint(RED.bold(), "error"),
                Severity::Invalid => p.paint(RED.bold(), "invalid"),
            };
            let place = match f.line {
                Some(l) => format!("{}:{l}", f.file),
                None => f.file.clone(),
            };
            let place = if place.is_empty() {
                String::new()
            } else {
                format!(" `{place}`:")
            };
            out.push_str(&format!("{label}[{}]:{place} {}\n", f.code, f.message));
        }
        for (name, t) in &report.tokens {
            let budget = t.budget.map_or(String::new(), |b| format!(" of {b}"));
            let approx = if t.count.approximate {
                ", approximate"
            } else {
                ""
            };
            out.push_str(&format!(
                "{name}: system text {} tokens{budget} ({}{approx})\n",
                t.count.tokens, t.count.encoding
            ));
        }
        p.out(&out);
    }
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    let (invalid, errors, warnings) = (
        count(Severity::Invalid),
        count(Severity::Error),
        count(Severity::Warning),
    );
    if !p.json {
        p.status(&format!(
            "linted {} prompt(s): {errors} error(s), {warnings} warning(s), {invalid} invalid",
            names.len()
        ));
    }
    if invalid > 0 {
        return Ok(answer(
            p,
            &Error::invalid(format!("{invalid} file(s) are invalid; see above")),
        ));
    }
    if errors > 0 || (args.strict && warnings > 0) {
        let what = if errors > 0 {
            format!("{errors} error(s)")
        } else {
            format!("{warnings} warning(s) with --strict")
        };
        return Ok(answer(p, &Error::failed(format!("lint found {what}"))));
    }
    Ok(ExitStatus::Success)
}
