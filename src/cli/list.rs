//! `promptctl list`: every prompt, its latest version and draft state.

use super::context::Context;
use crate::version::artifact::Artifact;

/// List the prompts in the workspace
///
/// Shows each prompt's latest version, how many versions exist, and whether
/// the draft has unreleased changes (its digest differs from the latest).
///
/// Example:
///   promptctl list
///   promptctl list --json | jq -r '.[].name'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {}

#[derive(serde::Serialize)]
struct Row {
    name: String,
    latest: Option<String>,
    versions: usize,
    draft: &'static str,
    description: Option<String>,
}

pub(super) fn run(_args: Args, ctx: &Context) -> anyhow::Result<()> {
    let ws = ctx.workspace()?;
    let mut rows = Vec::new();
    for name in ws.prompt_names()? {
        let versions = crate::version::store::list(&ws, &name)?;
        let latest = match versions.last() {
            Some(v) => Some(crate::version::store::read_manifest(&ws, &name, v)?),
            None => None,
        };
        let draft = Artifact::load(&ws.prompt_dir(&name), &ws.prompt_label(&name), &name);
        let state = match (&draft, &latest) {
            (Err(_), _) if !ws.prompt_dir(&name).join("prompt.yaml").exists() => "none",
            (Err(_), _) => "invalid",
            (Ok(_), None) => "unreleased",
            (Ok(d), Some(m)) if d.hashes().digest == m.digest => "clean",
            (Ok(_), Some(_)) => "changed",
        };
        rows.push(Row {
            description: draft.ok().and_then(|d| d.spec.description).or(None),
            name: name.to_string(),
            latest: latest.map(|m| m.version.to_string()),
            versions: versions.len(),
            draft: state,
        });
    }
    let p = ctx.printer;
    if p.json {
        p.json(&rows);
    } else if rows.is_empty() {
        p.status("no prompts yet: create one with `promptctl new NAME`");
    } else {
        p.out(&crate::cli::output::table(
            &["prompt", "latest", "versions", "draft", "description"],
            rows.iter().map(|r| {
                vec![
                    r.name.clone(),
                    r.latest.clone().unwrap_or_else(|| "-".into()),
                    r.versions.to_string(),
                    r.draft.to_string(),
                    r.description.clone().unwrap_or_default(),
                ]
            }),
        ));
    }
    Ok(())
}
