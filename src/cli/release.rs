//! `promptctl release`: freeze the draft as a new immutable version.

use super::context::Context;
use crate::error::Error;
use crate::version::compat::Level;
use crate::version::release::{Request, Target};
use crate::workspace::name::Name;

/// Release the draft as a new immutable version
///
/// Copies `prompt.yaml` and every file it references into
/// `prompts/<NAME>/versions/<X.Y.Z>/` with a `manifest.yaml` of sha256
/// hashes, and regenerates `CHANGELOG.md`. Refuses an existing version, one
/// not above the latest, an unchanged draft, an invalid draft, a draft with
/// a credential in it (as `lint` finds them), and a bump smaller than the
/// change needs (a removed variable needs a major bump).
///
/// Example:
///   promptctl release support_bot --bump minor -m "Shorter troubleshooting answers"
///   promptctl release support_bot --version 2.0.0 -m "Drop user_name"
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// The prompt whose draft is released, by its folder name under prompts/
    #[arg(value_parser = super::args::prompt_name)]
    name: Name,
    /// Bump the latest version (from 0.0.0 for the first release)
    #[arg(
        long,
        value_enum,
        required_unless_present = "version",
        conflicts_with = "version"
    )]
    bump: Option<BumpArg>,
    /// Release exactly this version
    #[arg(long, value_name = "X.Y.Z")]
    version: Option<String>,
    /// Why: recorded in the manifest and CHANGELOG.md
    #[arg(short, long)]
    message: String,
    /// Release even if the bump is smaller than the change needs
    #[arg(long)]
    allow_bump: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum BumpArg {
    Patch,
    Minor,
    Major,
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let target = match (&args.version, args.bump) {
        (Some(v), _) => Target::Exact(crate::workspace::name::parse_version(v)?),
        (None, Some(b)) => Target::Bump(match b {
            BumpArg::Patch => Level::Patch,
            BumpArg::Minor => Level::Minor,
            BumpArg::Major => Level::Major,
        }),
        (None, None) => return Err(Error::invalid("give `--bump` or `--version`").into()),
    };
    let ws = ctx.workspace()?;
    let outcome = crate::version::release::release(
        &ws,
        &Request {
            name: args.name,
            target,
            message: args.message,
            allow_bump: args.allow_bump,
        },
    )?;
    let p = ctx.printer;
    let m = &outcome.manifest;
    if p.json {
        p.json(&serde_json::json!({
            "manifest": m,
            "path": outcome.label,
            "changes": outcome.changes,
        }));
        return Ok(());
    }
    let from = m
        .parent
        .as_ref()
        .map_or("(none)".to_string(), ToString::to_string);
    p.out(&format!(
        "released {}@{} ({} → {})\n  digest  {}\n  path    {}\n",
        m.name, m.version, from, m.version, m.digest, outcome.label
    ));
    for c in &outcome.changes {
        p.out(&format!("  {:<7} {}\n", c.level.as_str(), c.what));
    }
    Ok(())
}
