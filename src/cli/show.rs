//! `promptctl show`: one artifact in full.

use super::context::Context;
use crate::cli::output::BOLD;
use crate::workspace::name::PromptRef;

/// Show one prompt artifact in full
///
/// Metadata, owners, model and parameters, variables, hashes and every
/// message's text. A released version is verified first.
///
/// Example:
///   promptctl show support_bot
///   promptctl show support_bot@1.2.0 --json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// `name` for the draft, `name@X.Y.Z` for a released version
    #[arg(value_parser = super::args::prompt_ref)]
    prompt: PromptRef,
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let ws = ctx.workspace()?;
    let (a, manifest) = super::context::load_ref(&ws, &args.prompt)?;
    let hashes = a.hashes();
    let p = ctx.printer;
    let messages: Vec<_> = a
        .messages
        .iter()
        .map(|m| serde_json::json!({ "role": m.role.as_str(), "file": m.file, "text": m.text }))
        .collect();
    if p.json {
        p.json(&serde_json::json!({
            "name": a.spec.name,
            "version": manifest.as_ref().map(|m| m.version.to_string()),
            "description": a.spec.description,
            "owners": a.spec.owners,
            "model": a.spec.model,
            "variables": a.spec.variables,
            "messages": messages,
            "output_schema": a.output_schema,
            "tools": a.tools,
            "retrieval": a.spec.retrieval,
            "limitations": a.spec.limitations,
            "hashes": hashes,
            "files": a.file_hashes(),
            "manifest": manifest,
        }));
        return Ok(());
    }
    let mut out = String::new();
    let title = match &manifest {
        Some(m) => format!("{}@{}", a.spec.name, m.version),
        None => format!("{} (draft)", a.spec.name),
    };
    out.push_str(&p.paint(BOLD, &title));
    out.push('\n');
    if let Some(d) = &a.spec.description {
        out.push_str(&format!("{d}\n"));
    }
    out.push('\n');
    if let Some(m) = &manifest {
        out.push_str(&format!(
            "released   {} (parent {})\n",
            m.created_at,
            m.parent.as_ref().map_or("none".into(), |v| v.to_string())
        ));
        out.push_str(&format!("changelog  {}\n", m.changelog));
    }
    let model = &a.spec.model;
    let params = serde_json::to_value(model)?;
    let params: Vec<String> = params
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| *k != "provider" && *k != "name")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    out.push_str(&format!(
        "model      {} via {} ({})\n",
        model.name,
        model.provider,
        params.join(", ")
    ));
    for (role, who) in &a.spec.owners {
        out.push_str(&format!("owner      {role}: {who}\n"));
    }
    for l in &a.spec.limitations {
        out.push_str(&format!("limitation {l}\n"));
    }
    out.push_str(&format!("digest     {}\n", hashes.digest));
    if !a.spec.variables.is_empty() {
        out.push('\n');
        out.push_str(&crate::cli::output::table(
            &["variable", "type", "required", "default", "pii"],
            a.spec.variables.iter().map(|(n, v)| {
                vec![
                    n.clone(),
                    v.kind.as_str().to_string(),
                    if v.required { "yes" } else { "no" }.to_string(),
                    v.default
                        .as_ref()
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                    if v.pii { "yes" } else { "" }.to_string(),
                ]
            }),
        ));
    }
    for m in &a.messages {
        let from = m.file.as_ref().map_or(String::new(), |f| format!(" ({f})"));
        out.push_str(&format!(
            "\n{}\n",
            p.paint(BOLD, &format!("--- {}{from} ---", m.role.as_str()))
        ));
        out.push_str(&m.text);
        if !m.text.ends_with('\n') {
            out.push('\n');
        }
    }
    p.out(&out);
    Ok(())
}
