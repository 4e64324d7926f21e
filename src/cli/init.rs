//! `promptctl init`: a new workspace with an example that runs at once.

use std::path::PathBuf;

use super::context::Context;
use crate::error::Error;

/// Create a new workspace with one example prompt and eval suite
///
/// Writes `promptctl.yaml`, the `support_bot` example prompt (its system text
/// has the five recommended sections), an eval suite with its cases and the
/// recorded cassette that `promptctl eval support` replays offline, the
/// `order_agent` tool-calling prompt with its multi-turn suite (`promptctl
/// eval agent`, offline too), the JSON
/// Schemas under `schemas/` that the YAML files name on their first line (for
/// editors), a `.gitignore` for local state, and a `.gitattributes` that
/// keeps git from converting the line endings of hashed files. Refuses to
/// overwrite any existing file.
///
/// Example:
///   promptctl init my-prompts && cd my-prompts && promptctl lint
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// The folder to create the workspace in (created if missing)
    #[arg(default_value = ".", value_name = "DIR")]
    path: PathBuf,
}

/// The example workspace: the same files as the repository's own example,
/// embedded so that `init` and the README tour stay in step. Its YAML files
/// start with a `yaml-language-server` line naming `schemas/`, which `init`
/// writes from [`crate::workspace::schema::KINDS`].
const FILES: &[(&str, &str)] = &[
    ("promptctl.yaml", include_str!("../../promptctl.yaml")),
    (
        "prompts/support_bot/prompt.yaml",
        include_str!("../../prompts/support_bot/prompt.yaml"),
    ),
    (
        "prompts/support_bot/system.md",
        include_str!("../../prompts/support_bot/system.md"),
    ),
    (
        "evals/support.yaml",
        include_str!("../../evals/support.yaml"),
    ),
    (
        "evals/support.cases.jsonl",
        include_str!("../../evals/support.cases.jsonl"),
    ),
    (
        "evals/cassettes/support.jsonl",
        include_str!("../../evals/cassettes/support.jsonl"),
    ),
    (
        "prompts/order_agent/prompt.yaml",
        include_str!("../../prompts/order_agent/prompt.yaml"),
    ),
    (
        "prompts/order_agent/system.md",
        include_str!("../../prompts/order_agent/system.md"),
    ),
    (
        "prompts/order_agent/tools.json",
        include_str!("../../prompts/order_agent/tools.json"),
    ),
    ("evals/agent.yaml", include_str!("../../evals/agent.yaml")),
    (
        "evals/cassettes/agent.jsonl",
        include_str!("../../evals/cassettes/agent.jsonl"),
    ),
    (".gitignore", ".promptctl/\n"),
    (".gitattributes", GITATTRIBUTES),
];

/// What keeps a checkout byte for byte as committed. promptctl hashes
/// these files' bytes (released files, digests of the templates, the
/// cassette keys of rendered requests, suite and dataset sha256s, evidence
/// sums), so a Windows checkout with `core.autocrlf` would change every
/// digest and fail `verify`. `-text` turns off end-of-line conversion
/// either way; `eol=lf` would instead rewrite a CRLF file on commit, so the
/// bytes committed would no longer be the bytes hashed.
const GITATTRIBUTES: &str = "\
# promptctl hashes these files byte for byte: never convert their line endings.
prompts/** -text
evals/** -text
evidence/** -text
";

/// Every file `init` writes: the example, then the schemas.
fn files() -> Vec<(String, String)> {
    let example = FILES
        .iter()
        .map(|(rel, text)| (rel.to_string(), text.to_string()));
    let schemas = crate::workspace::schema::KINDS.iter().map(|k| {
        (
            format!("{}/{}", crate::workspace::schema::DIR, k.file_name()),
            k.text(),
        )
    });
    example.chain(schemas).collect()
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let dir = match &ctx.dir {
        Some(base) => base.join(&args.path),
        None => args.path.clone(),
    };
    let files = files();
    let existing: Vec<&str> = files
        .iter()
        .map(|(rel, _)| rel.as_str())
        .filter(|rel| dir.join(rel).exists())
        .collect();
    if !existing.is_empty() {
        return Err(Error::invalid(format!(
            "`{}` already has {}; refusing to overwrite",
            dir.display(),
            existing
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_hint("choose an empty folder: `promptctl init NEW_DIR`")
        .into());
    }
    for (rel, content) in &files {
        crate::workspace::fsio::write_new(&dir.join(rel), content.as_bytes())?;
    }
    let p = ctx.printer;
    if p.json {
        let names: Vec<&str> = files.iter().map(|(f, _)| f.as_str()).collect();
        p.json(&serde_json::json!({ "dir": dir, "files": names }));
    } else {
        p.status(&format!(
            "created a promptctl workspace in `{}`",
            dir.display()
        ));
        for (rel, _) in &files {
            p.status(&format!("  {rel}"));
        }
        p.status("next: `promptctl eval support` (offline, from the cassette), then `promptctl release support_bot --bump minor -m \"First release\"`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository is itself a workspace (its example is what `init`
    /// writes), so it keeps the same files byte for byte.
    #[test]
    fn the_repository_keeps_what_init_keeps() {
        let own = include_str!("../../.gitattributes");
        for rule in GITATTRIBUTES.lines().filter(|l| !l.starts_with('#')) {
            assert!(
                own.lines().any(|l| l.trim() == rule),
                "`.gitattributes` lacks `{rule}`"
            );
        }
    }
}
