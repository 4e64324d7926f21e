//! `promptctl evidence`: write a version's evidence pack.

use std::path::PathBuf;

use super::context::Context;
use crate::cli::output::{GREEN, RED, YELLOW};
use crate::error::Error;
use crate::evidence::{self, Request};
use crate::workspace::name::PromptRef;

/// Write the evidence pack of a released version
///
/// Writes `evidence/<name>/<version>/` with evidence.md, evidence.html
/// (self-contained: inline CSS and SVG charts), evidence.json and
/// SHA256SUMS: the verified manifest, the eval runs for its exact digest
/// (gates, scores by criterion and segment with intervals, regressions
/// against the parent version), the deploy history, a gate timeline, the
/// redaction policy and the runbook. Everything is redacted. The same
/// inputs give the same bytes (times from SOURCE_DATE_EPOCH when set);
/// `promptctl verify` checks packs (exit 4 on any change).
///
/// Without `--run`, the newest run of each suite for the version's digest
/// is used. A version that fails verification gets no pack (exit 4).
///
/// Example:
///   promptctl evidence support_bot@1.3.0
///   promptctl evidence support_bot@1.3.0 --run 20261121T100000Z-1a2b3c -o /tmp/pack
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// `name@X.Y.Z` (or `name` for its latest released version)
    #[arg(value_parser = super::args::prompt_ref)]
    prompt: PromptRef,
    /// An eval run to include, by id or file path (repeatable)
    #[arg(long = "run", value_name = "ID")]
    runs: Vec<String>,
    /// Write the pack here instead of `evidence/<name>/<version>/`
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    out: Option<PathBuf>,
}

#[derive(serde::Serialize)]
struct Report<'a> {
    dir: String,
    unchanged: bool,
    status: &'a str,
    headline: String,
    files: Vec<File<'a>>,
    warnings: &'a [String],
}

#[derive(serde::Serialize)]
struct File<'a> {
    file: &'a str,
    sha256: &'a str,
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let ws = ctx.workspace()?;
    let name = args.prompt.name.clone();
    ws.require_prompt(&name)?;
    let version = match args.prompt.version.clone() {
        Some(v) => v,
        None => crate::version::store::latest(&ws, &name)?.ok_or_else(|| {
            Error::invalid(format!("`{name}` has no released version")).with_hint(format!(
                "release one with `promptctl release {name} -m \"…\"`"
            ))
        })?,
    };
    let collected = evidence::collect(
        &ws,
        &Request {
            name: name.clone(),
            version: version.clone(),
            runs: args.runs,
        },
    )?;
    let dir = match args.out {
        Some(d) if d.is_absolute() => d,
        Some(d) => std::env::current_dir()
            .map_err(|e| Error::incomplete(format!("cannot read the current directory: {e}")))?
            .join(d),
        None => evidence::default_dir(&ws, &name, &version),
    };
    let lock = ws
        .state_dir()
        .join("locks")
        .join(format!("{name}@{version}.evidence.lock"));
    let written = evidence::write(&collected.pack, &dir, &lock)?;
    let (status, headline) = collected.pack.headline();
    let shown = dir
        .strip_prefix(&ws.root)
        .unwrap_or(&dir)
        .display()
        .to_string();
    let p = ctx.printer;
    for w in &collected.warnings {
        p.warn(w);
    }
    if p.json {
        p.json(&Report {
            dir: shown,
            unchanged: written.unchanged,
            status: status.as_str(),
            headline,
            files: written
                .files
                .iter()
                .map(|(f, h)| File { file: f, sha256: h })
                .collect(),
            warnings: &collected.warnings,
        });
        return Ok(());
    }
    let style = match status {
        evidence::StepStatus::Passed => GREEN,
        evidence::StepStatus::Failed => RED,
        _ => YELLOW,
    };
    let mut out = format!(
        "{} {name}@{version}: {}\n",
        p.paint(style, status.as_str()),
        headline
    );
    for (f, h) in &written.files {
        out.push_str(&format!(
            "  {shown}/{f}  {}\n",
            crate::version::manifest::short(h)
        ));
    }
    p.out(&out);
    p.status(&if written.unchanged {
        format!("evidence pack `{shown}` is up to date (nothing written)")
    } else {
        format!(
            "wrote evidence pack `{shown}` (open {}; check with `promptctl verify`)",
            evidence::HTML_FILE
        )
    });
    Ok(())
}
