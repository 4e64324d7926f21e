//! `promptctl schema`: the JSON Schemas of promptctl's YAML files.

use std::path::PathBuf;

use super::context::Context;
use crate::error::Error;
use crate::workspace::schema::{KINDS, Kind};

/// Print or write the JSON Schemas of promptctl's YAML files
///
/// One schema (draft 2020-12) per file kind: `promptctl.schema.json`,
/// `prompt.schema.json`, `suite.schema.json`, `manifest.schema.json`.
/// They are generated from the types the strict loader reads, so they accept
/// what promptctl accepts. With a KIND, prints that schema; without, prints
/// every schema as one JSON object keyed by file name. `--write DIR` writes
/// the files (overwriting older ones) instead. A YAML file whose first line
/// is `# yaml-language-server: $schema=<path>` gets completion and checks in
/// editors; `init` and `new` write that line.
///
/// Example:
///   promptctl schema prompt
///   promptctl schema --write schemas
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Only this schema: `promptctl`, `prompt`, `suite` or `manifest`
    #[arg(value_name = "KIND", value_parser = kind)]
    kind: Option<&'static Kind>,
    /// Write `<kind>.schema.json` files into DIR (created if missing)
    #[arg(long, value_name = "DIR")]
    write: Option<PathBuf>,
}

fn kind(s: &str) -> Result<&'static Kind, String> {
    crate::workspace::schema::find(s).ok_or_else(|| {
        let names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        format!("no schema `{s}`; there are: {}", names.join(", "))
    })
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let kinds: Vec<&Kind> = match args.kind {
        Some(k) => vec![k],
        None => KINDS.iter().collect(),
    };
    let p = ctx.printer;
    let Some(dir) = args.write else {
        let value = match args.kind {
            Some(k) => k.schema(),
            None => serde_json::Value::Object(
                kinds.iter().map(|k| (k.file_name(), k.schema())).collect(),
            ),
        };
        p.json(&value);
        return Ok(());
    };
    let dir = match &ctx.dir {
        Some(base) => base.join(dir),
        None => dir,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(Error::invalid(format!("`{}` is not a folder", dir.display())).into());
    }
    std::fs::create_dir_all(&dir).map_err(|e| crate::error::io_incomplete(&dir, &e))?;
    let mut written = Vec::new();
    for k in kinds {
        let path = dir.join(k.file_name());
        let text = k.text();
        let unchanged = std::fs::read(&path).is_ok_and(|old| old == text.as_bytes());
        if !unchanged {
            crate::workspace::fsio::write_atomic(
                &path,
                text.as_bytes(),
                crate::workspace::fsio::Access::Shared,
            )?;
        }
        written.push((path, unchanged));
    }
    if p.json {
        let files: Vec<serde_json::Value> = written
            .iter()
            .map(|(path, unchanged)| serde_json::json!({ "path": path, "changed": !unchanged }))
            .collect();
        p.json(&files);
    } else {
        for (path, unchanged) in &written {
            let what = if *unchanged { "unchanged" } else { "wrote" };
            p.status(&format!("{what} `{}`", path.display()));
        }
    }
    Ok(())
}
