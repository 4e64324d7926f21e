//! `promptctl verify`: recompute every hash of every released version.

use super::Context;
use crate::error::Error;
use crate::name::Name;
use crate::output::{GREEN, RED};
use crate::store::{Outcome, Problem};

/// Verify released versions against their manifests
///
/// Recomputes the sha256 of every frozen file, the prompt, config and digest
/// hashes, and each manifest's seal. A changed, missing or stray file exits
/// 4 and names the file and version. Use it in CI to refuse a merge that
/// edits a released version.
///
/// Example:
///   promptctl verify
///   promptctl verify support_bot --json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Prompts to verify (all when none are given)
    #[arg(value_parser = super::prompt_name)]
    names: Vec<Name>,
}

#[derive(serde::Serialize)]
struct Row<'a> {
    name: &'a str,
    version: String,
    ok: bool,
    digest: Option<&'a str>,
    problems: &'a [Problem],
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let ws = ctx.workspace()?;
    let names = if args.names.is_empty() {
        ws.prompt_names()?
    } else {
        for n in &args.names {
            ws.require_prompt(n)?;
        }
        args.names.clone()
    };
    let mut jobs = Vec::new();
    for name in &names {
        for v in crate::store::list(&ws, name)? {
            jobs.push((name.clone(), v));
        }
        for stray in crate::store::strays(&ws, name) {
            let what = if stray.starts_with(".tmp-") {
                "left by an interrupted release; safe to delete"
            } else {
                "not a version; promptctl ignores it"
            };
            ctx.printer.warn(&format!(
                "`{}/versions/{stray}`: {what}",
                ws.prompt_label(name)
            ));
        }
    }
    let reports = crate::store::verify_all(&ws, &jobs);

    let no_problems: &[Problem] = &[];
    let rows: Vec<Row> = reports
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Ok(rel) => Row {
                name: r.name.as_str(),
                version: r.version.to_string(),
                ok: true,
                digest: Some(&rel.manifest.digest),
                problems: no_problems,
            },
            Outcome::Problems(ps) => Row {
                name: r.name.as_str(),
                version: r.version.to_string(),
                ok: false,
                digest: None,
                problems: ps,
            },
        })
        .collect();
    let bad = rows.iter().filter(|r| !r.ok).count();
    let p = ctx.printer;
    if p.json {
        p.json(&rows)?;
    } else {
        let mut out = String::new();
        for r in &rows {
            if r.ok {
                let digest = crate::manifest::short(r.digest.unwrap_or_default());
                out.push_str(&format!(
                    "{}  {}@{}  {digest}\n",
                    p.paint(GREEN, "ok  "),
                    r.name,
                    r.version
                ));
            } else {
                out.push_str(&format!(
                    "{}  {}@{}\n",
                    p.paint(RED, "FAIL"),
                    r.name,
                    r.version
                ));
                for prob in r.problems {
                    out.push_str(&format!("      `{}`: {}\n", prob.file, prob.message));
                }
            }
        }
        p.out(&out)?;
        p.status(&format!(
            "verified {} version{} of {} prompt{}: {} ok, {bad} failed",
            rows.len(),
            plural(rows.len()),
            names.len(),
            plural(names.len()),
            rows.len() - bad
        ));
    }
    if bad > 0 {
        let first = rows.iter().find(|r| !r.ok).expect("bad > 0");
        let file = first
            .problems
            .first()
            .map_or(String::new(), |p| format!(" (`{}`)", p.file));
        return Err(Error::integrity(format!(
            "{bad} released version{} do{} not match {} manifest{}: first {}@{}{file}",
            plural(bad),
            if bad == 1 { "es" } else { "" },
            if bad == 1 { "its" } else { "their" },
            plural(bad),
            first.name,
            first.version
        ))
        .with_hint("released versions are immutable: restore them from git (`git checkout -- prompts/`) and release a new version instead")
        .into());
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
