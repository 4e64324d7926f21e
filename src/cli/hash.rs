//! `promptctl hash`: the content hashes of a draft or a version.

use super::context::Context;
use crate::workspace::name::PromptRef;

/// Print the hashes of a draft or a released version
///
/// `prompt_hash` covers the message templates, `config_hash` the model,
/// parameters, variables, schemas, tools and retrieval settings, and `digest`
/// both: equal content has an equal digest on every machine. A released
/// version is verified first.
///
/// Example:
///   promptctl hash support_bot
///   promptctl hash support_bot@1.2.0 --json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// `name` for the draft, `name@X.Y.Z` for a released version
    #[arg(value_parser = super::args::prompt_ref)]
    prompt: PromptRef,
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let ws = ctx.workspace()?;
    let (artifact, _) = super::context::load_ref(&ws, &args.prompt)?;
    let hashes = artifact.hashes();
    let files = artifact.file_hashes();
    let p = ctx.printer;
    if p.json {
        p.json(&serde_json::json!({
            "name": artifact.spec.name,
            "version": args.prompt.version.as_ref().map(ToString::to_string),
            "prompt_hash": hashes.prompt_hash,
            "config_hash": hashes.config_hash,
            "digest": hashes.digest,
            "files": files,
        }));
        return Ok(());
    }
    let mut out = format!(
        "prompt_hash  {}\nconfig_hash  {}\ndigest       {}\n",
        hashes.prompt_hash, hashes.config_hash, hashes.digest
    );
    for (f, h) in &files {
        out.push_str(&format!("file         {h}  {f}\n"));
    }
    p.out(&out);
    Ok(())
}
