//! `promptctl export`: what an application loads at start-up.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::context::Context;

/// Export the live prompts of an environment as one JSON bundle
///
/// For every prompt live in the environment: the stable and canary versions
/// with digest, percent and basis points, model and parameters, variables
/// and message templates, plus the bucketing rule, so an application can
/// load the bundle at start-up and route keys itself, with no runtime
/// dependency on promptctl. Every exported version is verified first.
///
/// Example:
///   promptctl export --env production -o prompts.production.json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    #[command(flatten)]
    target: super::args::EnvArg,
    /// Write the bundle here (atomically) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let ws = ctx.workspace()?;
    crate::rollout::deploy::check_env(&ws, &args.target.env)?;
    let version_json =
        |name: &crate::workspace::name::Name, v: &semver::Version| -> anyhow::Result<Value> {
            let r = crate::version::store::open(&ws, name, v)?;
            let messages: Vec<Value> = r
                .artifact
                .messages
                .iter()
                .map(|m| json!({ "role": m.role.as_str(), "template": m.template.source_form() }))
                .collect();
            Ok(json!({
                "version": v.to_string(),
                "digest": r.manifest.digest,
                "model": r.artifact.spec.model,
                "variables": r.artifact.spec.variables,
                "messages": messages,
                "output_schema": r.artifact.output_schema,
            }))
        };
    let mut prompts = serde_json::Map::new();
    for name in ws.prompt_names()? {
        let releases = crate::rollout::deploy::load(&ws, &name)?;
        let Some(state) = releases.environments.get(&args.target.env) else {
            continue;
        };
        let Some(stable) = &state.active else {
            continue;
        };
        let canary = match &state.canary {
            Some(c) => {
                let mut v = version_json(&name, &c.version)?;
                v["percent"] = json!(c.percent);
                v["basis_points"] = json!(c.percent.basis_points());
                Some(v)
            }
            None => None,
        };
        prompts.insert(
            name.to_string(),
            json!({ "stable": version_json(&name, stable)?, "canary": canary }),
        );
    }
    let bundle = json!({
        "schema": "promptctl.bundle/v1",
        "env": args.target.env,
        "bucketing": {
            "bucket": "u64 big-endian of sha256(name || 0x00 || env || 0x00 || key)[0..8] mod 10000",
            "canary_if": "bucket < basis_points (percent * 100, a whole number)",
        },
        "templates": "{{name}} inserts a variable literally; \\{{ is a literal {{",
        "prompts": prompts,
    });
    let mut text = serde_json::to_string_pretty(&bundle)?;
    text.push('\n');
    match &args.output {
        Some(path) => {
            crate::workspace::fsio::write_output(path, text.as_bytes())?;
            ctx.printer.status(&format!(
                "exported {} prompt(s) live in `{}` to `{}`",
                prompts_len(&bundle),
                args.target.env,
                path.display()
            ));
        }
        None => ctx.printer.out(&text),
    }
    Ok(())
}

fn prompts_len(bundle: &Value) -> usize {
    bundle["prompts"].as_object().map_or(0, |m| m.len())
}
