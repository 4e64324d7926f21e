//! `promptctl resolve`: which version serves a routing key.

use std::collections::BTreeMap;

use super::context::Context;
use crate::error::Error;
use crate::rollout::deploy::bucket;

/// Show which version serves a routing key in an environment
///
/// Without `--key`, the stable version. With `--key K`, the canary when
/// the key's sticky bucket (sha256 of name, env and key, mod 10000; see
/// docs/environments.md) is below the canary's percent in basis points
/// (percent × 100, a whole number), else the stable version. The same key
/// always gets the same answer.
///
/// Example:
///   promptctl resolve support_bot --env production --key user-8812 --json
///   promptctl resolve support_bot --env production --key user-8812 --render --var question=hi
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    #[command(flatten)]
    target: super::args::PromptEnv,
    /// The routing key (a user or account id)
    #[arg(long)]
    key: Option<String>,
    /// Also render the resolved version's messages
    #[arg(long)]
    render: bool,
    /// A variable for `--render`, `name=value`
    #[arg(long = "var", value_name = "NAME=VALUE", requires = "render")]
    vars: Vec<String>,
}

#[derive(serde::Serialize)]
struct Resolved {
    name: String,
    env: String,
    key: Option<String>,
    version: String,
    digest: String,
    arm: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    bucket: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<Vec<crate::version::artifact::Rendered>>,
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let ws = ctx.workspace()?;
    crate::rollout::deploy::check_env(&ws, &args.target.env)?;
    ws.require_prompt(&args.target.name)?;
    let r = crate::rollout::deploy::load(&ws, &args.target.name)?;
    let state = r
        .environments
        .get(&args.target.env)
        .cloned()
        .unwrap_or_default();
    let Some(stable) = state.active.clone() else {
        return Err(Error::invalid(format!(
            "`{}` has nothing live in `{}`",
            args.target.name, args.target.env
        ))
        .with_hint(format!(
            "promote a version first: `promptctl promote {}@X.Y.Z --env {}`",
            args.target.name, args.target.env
        ))
        .into());
    };
    let b = args
        .key
        .as_deref()
        .map(|k| bucket::bucket(args.target.name.as_str(), &args.target.env, k));
    let (version, arm) = match (&state.canary, b) {
        (Some(c), Some(b)) if bucket::in_canary(b, c.percent) => (c.version.clone(), "canary"),
        _ => (stable, "stable"),
    };
    let manifest = crate::version::store::read_manifest(&ws, &args.target.name, &version)?;
    let messages = if args.render {
        let released = crate::version::store::open(&ws, &args.target.name, &version)?;
        let mut given = BTreeMap::new();
        for pair in &args.vars {
            let Some((k, v)) = pair.split_once('=') else {
                return Err(Error::invalid(format!("`--var {pair}` is not `name=value`")).into());
            };
            let value = crate::version::artifact::variables::from_cli(
                k,
                released.artifact.spec.variables.get(k),
                v,
            )?;
            given.insert(k.to_string(), value);
        }
        Some(released.artifact.render(&given)?)
    } else {
        None
    };
    let out = Resolved {
        name: args.target.name.to_string(),
        env: args.target.env,
        key: args.key,
        version: version.to_string(),
        digest: manifest.digest,
        arm,
        bucket: b,
        messages,
    };
    let p = ctx.printer;
    if p.json {
        p.json(&out);
    } else {
        let mut text = format!(
            "{}@{} ({}, digest {})\n",
            out.name,
            out.version,
            out.arm,
            crate::version::manifest::short(&out.digest)
        );
        for m in out.messages.iter().flatten() {
            text.push_str(&format!("--- {} ---\n{}\n", m.role, m.content));
        }
        p.out(&text);
    }
    Ok(())
}
