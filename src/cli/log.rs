//! `promptctl log`: the release history of one prompt, newest first.

use super::context::Context;
use crate::workspace::name::Name;

/// Show a prompt's release and deploy history
///
/// Releases (from each version's manifest) and every promote, canary and
/// rollback (from history.jsonl, as far as releases.yaml commits it), newest
/// first, with who and why.
///
/// Example:
///   promptctl log support_bot
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// The prompt, by its folder name under prompts/
    #[arg(value_parser = super::args::prompt_name)]
    name: Name,
}

#[derive(serde::Serialize)]
struct Entry {
    at: String,
    what: String,
    version: String,
    env: Option<String>,
    by: Option<String>,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    changelog: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    git_commit: Option<String>,
    digest: String,
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let ws = ctx.workspace()?;
    ws.require_prompt(&args.name)?;
    let mut entries = Vec::new();
    for v in crate::version::store::list(&ws, &args.name)? {
        let m = crate::version::store::read_manifest(&ws, &args.name, &v)?;
        entries.push(Entry {
            at: m.created_at.clone(),
            what: "release".into(),
            version: m.version.to_string(),
            env: None,
            by: None,
            detail: match &m.git_commit {
                Some(c) => format!(
                    "{} (digest {}, commit {})",
                    m.changelog,
                    m.short_digest(),
                    &c[..c.len().min(10)]
                ),
                None => format!("{} (digest {})", m.changelog, m.short_digest()),
            },
            changelog: Some(m.changelog.clone()),
            parent: m.parent.as_ref().map(ToString::to_string),
            git_commit: m.git_commit.clone(),
            digest: m.digest.clone(),
        });
    }
    for e in crate::rollout::deploy::load(&ws, &args.name)?.history {
        let action = match e.action {
            crate::rollout::deploy::Action::Promote => "promote",
            crate::rollout::deploy::Action::Canary => "canary",
            crate::rollout::deploy::Action::Rollback => "rollback",
        };
        let mut detail = match (&e.from, e.percent) {
            (Some(f), Some(p)) => format!("{p}% (stable {f})"),
            (Some(f), None) => format!("from {f}"),
            (None, Some(p)) => format!("{p}%"),
            (None, None) => String::new(),
        };
        if e.skip_gate {
            detail.push_str(" [gate skipped]");
        }
        if let Some(r) = &e.reason {
            detail.push_str(&format!(": {r}"));
        }
        entries.push(Entry {
            at: e.at,
            what: action.into(),
            version: e.version.to_string(),
            env: Some(e.env),
            by: Some(e.by),
            detail: detail.trim().to_string(),
            changelog: None,
            parent: None,
            git_commit: None,
            digest: e.digest,
        });
    }
    // Newest first. Entries were gathered oldest first (releases, then
    // deploys), so reversing before a stable sort keeps that order, newest
    // first, among entries of the same second.
    entries.reverse();
    entries.sort_by(|a, b| b.at.cmp(&a.at));
    let p = ctx.printer;
    if p.json {
        p.json(&entries);
    } else if entries.is_empty() {
        p.status(&format!(
            "`{}` has no releases yet: `promptctl release {} --bump minor -m \"…\"`",
            args.name, args.name
        ));
    } else {
        p.out(&crate::cli::output::table(
            &["when", "what", "version", "env", "by", "detail"],
            entries.iter().map(|e| {
                vec![
                    e.at.clone(),
                    e.what.clone(),
                    e.version.clone(),
                    e.env.clone().unwrap_or_default(),
                    e.by.clone().unwrap_or_default(),
                    e.detail.clone(),
                ]
            }),
        ));
    }
    Ok(())
}
