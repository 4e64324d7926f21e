//! `promptctl status`: what is live where.

use super::context::Context;
use crate::workspace::name::Name;

/// Show what is live in each environment
///
/// For every prompt (or the one named) and every environment: the live
/// version, the canary and its percent, and the last change (when, what,
/// who). Reads only local files.
///
/// Example:
///   promptctl status
///   promptctl status support_bot --json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Only this prompt (all when none is given)
    #[arg(value_parser = super::args::prompt_name)]
    name: Option<Name>,
}

#[derive(serde::Serialize)]
struct Row {
    prompt: String,
    env: String,
    live: Option<String>,
    canary: Option<String>,
    percent: Option<f64>,
    last_change: Option<crate::rollout::deploy::Event>,
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let ws = ctx.workspace()?;
    let names = match args.name {
        Some(n) => {
            ws.require_prompt(&n)?;
            vec![n]
        }
        None => ws.prompt_names()?,
    };
    let mut rows = Vec::new();
    for name in &names {
        let r = crate::rollout::deploy::load(&ws, name)?;
        let mut envs: Vec<&String> = ws.config.environments.keys().collect();
        envs.extend(
            r.environments
                .keys()
                .filter(|e| !ws.config.environments.contains_key(*e)),
        );
        for env in envs {
            let state = r.environments.get(env).cloned().unwrap_or_default();
            rows.push(Row {
                prompt: name.to_string(),
                env: env.clone(),
                live: state.active.map(|v| v.to_string()),
                canary: state.canary.as_ref().map(|c| c.version.to_string()),
                percent: state.canary.as_ref().map(|c| c.percent.as_f64()),
                last_change: r.last_change(env).cloned(),
            });
        }
    }
    let p = ctx.printer;
    if p.json {
        p.json(&rows);
        return Ok(());
    }
    if rows.is_empty() {
        p.status("no environments: define them under `environments:` in promptctl.yaml");
        return Ok(());
    }
    p.out(&crate::cli::output::table(
        &["prompt", "env", "live", "canary", "last change"],
        rows.iter().map(|r| {
            vec![
                r.prompt.clone(),
                r.env.clone(),
                r.live.clone().unwrap_or_else(|| "-".into()),
                match (&r.canary, r.percent) {
                    (Some(v), Some(pct)) => format!("{v} at {pct}%"),
                    _ => "-".into(),
                },
                r.last_change.as_ref().map_or("-".into(), |e| {
                    let action = match e.action {
                        crate::rollout::deploy::Action::Promote => "promote",
                        crate::rollout::deploy::Action::Canary => "canary",
                        crate::rollout::deploy::Action::Rollback => "rollback",
                    };
                    format!("{} {action} {} by {}", e.at, e.version, e.by)
                }),
            ]
        }),
    ));
    Ok(())
}
