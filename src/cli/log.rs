//! `promptctl log`: the release history of one prompt, newest first.

use super::Context;
use crate::name::Name;

/// Show a prompt's release history
///
/// One line per released version, newest first: version, date, digest, git
/// commit and changelog message, read from each version's manifest.
///
/// Example:
///   promptctl log support_bot
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[arg(value_parser = super::prompt_name)]
    name: Name,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let ws = ctx.workspace()?;
    ws.require_prompt(&args.name)?;
    let mut manifests = Vec::new();
    for v in crate::store::list(&ws, &args.name)?.iter().rev() {
        manifests.push(crate::store::read_manifest(&ws, &args.name, v)?);
    }
    let p = ctx.printer;
    if p.json {
        p.json(&manifests)?;
    } else if manifests.is_empty() {
        p.status(&format!(
            "`{}` has no releases yet: `promptctl release {} --bump minor -m \"…\"`",
            args.name, args.name
        ));
    } else {
        p.out(&crate::output::table(
            &["version", "released", "digest", "commit", "changelog"],
            manifests.iter().map(|m| {
                vec![
                    m.version.to_string(),
                    m.created_at.clone(),
                    m.short_digest().to_string(),
                    m.git_commit
                        .as_deref()
                        .map_or("-", |c| &c[..c.len().min(10)])
                        .to_string(),
                    m.changelog.clone(),
                ]
            }),
        ))?;
    }
    Ok(())
}
