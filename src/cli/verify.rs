//! `promptctl verify`: recompute every hash of every released version, and
//! re-check every evidence pack.

use super::context::Context;
use super::exit::{ExitStatus, answer};
use crate::cli::output::{GREEN, RED};
use crate::error::{Class, Error};
use crate::version::store::{Outcome, Problem};
use crate::workspace::name::Name;

/// Verify released versions against their manifests
///
/// Recomputes the sha256 of every frozen file, the prompt, config and digest
/// hashes, and each manifest's seal. A changed, missing or stray file exits
/// 4 and names the file and version. So does a deploy history
/// (history.jsonl) shorter than releases.yaml records, or changed within it.
/// A releases.yaml that cannot be read (bad YAML, a canary percent outside
/// 0..100 or with more than two decimals) exits 2, naming its line.
/// Use it in CI to refuse a merge that edits a released version.
///
/// Example:
///   promptctl verify
///   promptctl verify support_bot --json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Prompts to verify (all when none are given)
    #[arg(value_parser = super::args::prompt_name)]
    names: Vec<Name>,
}

#[derive(serde::Serialize)]
struct Row<'a> {
    /// `version`, or `evidence` for a pack.
    kind: &'static str,
    name: &'a str,
    version: String,
    ok: bool,
    digest: Option<&'a str>,
    problems: &'a [Problem],
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitStatus> {
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
        for v in crate::version::store::list(&ws, name)? {
            jobs.push((name.clone(), v));
        }
        for stray in crate::version::store::strays(&ws, name) {
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
    let reports = crate::version::store::verify_all(&ws, &jobs);
    // Committed deploy history that is gone is an integrity failure too
    // (exit 4); a releases.yaml no command can read (bad YAML, a canary
    // percent outside (0, 100)) is invalid input (exit 2), reported here so
    // that CI refuses it before `status` or `resolve` would.
    let deploy: Vec<(&Name, Error)> = names
        .iter()
        .filter_map(|n| {
            crate::rollout::deploy::check_history(&ws, n)
                .err()
                .map(|e| (n, e))
        })
        .collect();

    let no_problems: &[Problem] = &[];
    let rows: Vec<Row> = reports
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Ok(rel) => Row {
                kind: "version",
                name: r.name.as_str(),
                version: r.version.to_string(),
                ok: true,
                digest: Some(&rel.manifest.digest),
                problems: no_problems,
            },
            Outcome::Problems(ps) => Row {
                kind: "version",
                name: r.name.as_str(),
                version: r.version.to_string(),
                ok: false,
                digest: None,
                problems: ps,
            },
        })
        .collect();
    let (packs, leftovers) = crate::evidence::check::find(&ws, &args.names);
    for l in &leftovers {
        ctx.printer.warn(&format!(
            "`{}`: left by an interrupted `evidence` write; safe to delete",
            l.strip_prefix(&ws.root).unwrap_or(l).display()
        ));
    }
    let pack_reports: Vec<_> = packs
        .iter()
        .map(|d| crate::evidence::check::check(&ws, d))
        .collect();
    let mut rows = rows;
    rows.extend(pack_reports.iter().map(|r| Row {
        kind: "evidence",
        name: &r.name,
        version: r.version.clone(),
        ok: r.problems.is_empty(),
        digest: r.digest.as_deref().filter(|_| r.problems.is_empty()),
        problems: &r.problems,
    }));
    let bad = rows.iter().filter(|r| !r.ok).count();
    let p = ctx.printer;
    if p.json {
        p.json(&rows);
    } else {
        let mut out = String::new();
        for r in &rows {
            if r.ok {
                let digest = crate::version::manifest::short(r.digest.unwrap_or_default());
                out.push_str(&format!(
                    "{}  {}{}@{}  {digest}\n",
                    p.paint(GREEN, "ok  "),
                    what(r.kind),
                    r.name,
                    r.version
                ));
            } else {
                out.push_str(&format!(
                    "{}  {}{}@{}\n",
                    p.paint(RED, "FAIL"),
                    what(r.kind),
                    r.name,
                    r.version
                ));
                for prob in r.problems {
                    out.push_str(&format!("      `{}`: {}\n", prob.file, prob.message));
                }
            }
        }
        for (name, e) in &deploy {
            let what = if e.class() == Class::Integrity {
                "deploy history"
            } else {
                "releases.yaml"
            };
            out.push_str(&format!(
                "{}  {name} {what}\n      {e}\n",
                p.paint(RED, "FAIL")
            ));
        }
        p.out(&out);
        let versions = rows.len() - pack_reports.len();
        let packs = if pack_reports.is_empty() {
            String::new()
        } else {
            format!(
                " and {} evidence pack{}",
                pack_reports.len(),
                plural(pack_reports.len())
            )
        };
        p.status(&format!(
            "verified {versions} version{} of {} prompt{}{packs}: {} ok, {bad} failed",
            plural(versions),
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
        let bad_versions = rows.iter().filter(|r| !r.ok && r.kind == "version").count();
        if bad_versions == 0 {
            let bad = bad - bad_versions;
            return Ok(answer(ctx.printer, &Error::integrity(format!(
                "{bad} evidence pack{} do{} not match {}: first {}@{}{file}",
                plural(bad),
                if bad == 1 { "es" } else { "" },
                if bad == 1 { "its SHA256SUMS or its version" } else { "their SHA256SUMS or their versions" },
                first.name,
                first.version
            ))
            .with_hint("packs are never edited: restore the pack from git, or rebuild it with `promptctl evidence NAME@VERSION`")));
        }
        let first = rows
            .iter()
            .find(|r| !r.ok && r.kind == "version")
            .expect("bad_versions > 0");
        let file = first
            .problems
            .first()
            .map_or(String::new(), |p| format!(" (`{}`)", p.file));
        return Ok(answer(ctx.printer, &Error::integrity(format!(
            "{bad_versions} released version{} do{} not match {} manifest{}: first {}@{}{file}",
            plural(bad_versions),
            if bad_versions == 1 { "es" } else { "" },
            if bad_versions == 1 { "its" } else { "their" },
            plural(bad_versions),
            first.name,
            first.version
        ))
        .with_hint("released versions are immutable: restore them from git (`git checkout -- prompts/`) and release a new version instead")));
    }
    // Lost history before an unreadable file: the worse news decides the code.
    let first = deploy
        .iter()
        .position(|(_, e)| e.class() == Class::Integrity)
        .unwrap_or(0);
    match deploy.into_iter().nth(first) {
        Some((_, e)) => Ok(answer(ctx.printer, &e)),
        None => Ok(ExitStatus::Success),
    }
}

fn what(kind: &str) -> &'static str {
    if kind == "evidence" { "evidence " } else { "" }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
