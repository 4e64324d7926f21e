//! `promptctl render`: the messages a model would receive.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::context::Context;
use crate::cli::output::{BOLD, DIM};
use crate::error::Error;
use crate::workspace::name::PromptRef;

/// Render a prompt's messages with variables filled in
///
/// Rendering is strict: an undefined or missing required variable, or a
/// value that breaks its schema, is an error naming the variable. Values are
/// inserted literally, so `{{x}}` inside a value stays `{{x}}`.
///
/// Example:
///   promptctl render support_bot --var question='How do I archive a board?'
///   promptctl render support_bot@1.2.0 --vars case.yaml --json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// `name` for the draft, `name@X.Y.Z` for a released version
    #[arg(value_parser = super::args::prompt_ref)]
    prompt: PromptRef,
    /// A variable, `name=value` (non-string types are written as JSON)
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// A YAML or JSON file mapping variable names to values
    #[arg(long = "vars", value_name = "FILE")]
    vars_file: Option<PathBuf>,
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let ws = ctx.workspace()?;
    let (artifact, manifest) = super::context::load_ref(&ws, &args.prompt)?;
    let mut given: BTreeMap<String, Value> = match &args.vars_file {
        Some(path) => crate::workspace::yaml::load(path)?,
        None => BTreeMap::new(),
    };
    for pair in &args.vars {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(Error::invalid(format!("`--var {pair}` is not `name=value`")).into());
        };
        let value =
            crate::version::artifact::variables::from_cli(k, artifact.spec.variables.get(k), v)?;
        given.insert(k.to_string(), value);
    }
    let rendered = artifact.render(&given)?;
    let p = ctx.printer;
    if p.json {
        p.json(&serde_json::json!({
            "name": artifact.spec.name,
            "version": manifest.as_ref().map(|m| m.version.to_string()),
            "model": artifact.spec.model,
            "messages": rendered,
        }));
        return Ok(());
    }
    let mut out = String::new();
    for (i, m) in rendered.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&p.paint(BOLD, &format!("--- {} ---", m.role)));
        out.push('\n');
        out.push_str(&m.content);
        if !m.content.ends_with('\n') {
            out.push('\n');
        }
    }
    let model = &artifact.spec.model;
    out.push_str(&p.paint(
        DIM,
        &format!("--- model: {} via {} ---\n", model.name, model.provider),
    ));
    p.out(&out);
    Ok(())
}
