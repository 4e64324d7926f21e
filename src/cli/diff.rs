//! `promptctl diff`: what changed between two versions (or a version and the draft).

use std::collections::BTreeMap;

use serde_json::Value;
use similar::TextDiff;

use super::context::Context;
use crate::cli::output::{BOLD, CYAN, GREEN, RED};
use crate::workspace::name::PromptRef;

/// Compare two versions of a prompt
///
/// A unified diff of every file, a diff of the configuration (model,
/// parameters, variables, schemas, tools, retrieval) by key, and the semver
/// bump the change needs. Either side may be the draft (`name` without
/// `@version`). Coloured only on a terminal.
///
/// Example:
///   promptctl diff support_bot@1.2.0 support_bot@1.3.0
///   promptctl diff support_bot@1.3.0 support_bot      # latest release vs draft
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// The old side: `name` (the draft) or `name@X.Y.Z`
    #[arg(value_parser = super::args::prompt_ref)]
    from: PromptRef,
    /// The new side: `name` (the draft) or `name@X.Y.Z`
    #[arg(value_parser = super::args::prompt_ref)]
    to: PromptRef,
}

#[derive(serde::Serialize)]
struct FileDiff {
    path: String,
    status: &'static str,
    diff: String,
}

#[derive(serde::Serialize)]
struct ConfigChange {
    key: String,
    from: Option<Value>,
    to: Option<Value>,
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let ws = ctx.workspace()?;
    let (a, a_manifest) = super::context::load_ref(&ws, &args.from)?;
    let (b, _) = super::context::load_ref(&ws, &args.to)?;
    let label = |r: &PromptRef| match &r.version {
        Some(v) => format!("{}@{v}", r.name),
        None => format!("{}@draft", r.name),
    };
    let (la, lb) = (label(&args.from), label(&args.to));

    let mut files = Vec::new();
    let paths: std::collections::BTreeSet<&String> = a.files.keys().chain(b.files.keys()).collect();
    for path in paths {
        let (old, new) = (a.files.get(path), b.files.get(path));
        // The editor's schema line is not content: a draft that only gained
        // it is still identical to its release.
        let content =
            |f: Option<&Vec<u8>>| f.map(|b| crate::workspace::yaml::without_modeline(b).to_vec());
        if content(old) == content(new) {
            continue;
        }
        let text = |f: Option<&Vec<u8>>| {
            f.map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        let (ot, nt) = (text(old), text(new));
        let diff = TextDiff::from_lines(&ot, &nt)
            .unified_diff()
            .context_radius(3)
            .header(&format!("{la}/{path}"), &format!("{lb}/{path}"))
            .to_string();
        files.push(FileDiff {
            path: path.clone(),
            status: match (old, new) {
                (None, _) => "added",
                (_, None) => "removed",
                _ => "modified",
            },
            diff,
        });
    }

    let (ca, cb) = (flatten(&a.config()), flatten(&b.config()));
    let keys: std::collections::BTreeSet<&String> = ca.keys().chain(cb.keys()).collect();
    let config: Vec<ConfigChange> = keys
        .into_iter()
        .filter(|k| ca.get(*k) != cb.get(*k))
        .map(|k| ConfigChange {
            key: k.clone(),
            from: ca.get(k).cloned(),
            to: cb.get(k).cloned(),
        })
        .collect();
    let changes = crate::version::compat::changes(&a, &b);
    // The bump `release` would require from the older side (shifted before 1.0).
    let from_version = match a_manifest {
        Some(m) => Some(m.version),
        None => crate::version::store::latest(&ws, &args.from.name)?,
    };
    let needed = match &from_version {
        Some(v) => crate::version::compat::required(v, &changes),
        None => changes
            .iter()
            .map(|c| c.level)
            .max()
            .unwrap_or(crate::version::compat::Level::Patch),
    };
    let (ha, hb) = (a.hashes(), b.hashes());

    let p = ctx.printer;
    if p.json {
        p.json(&serde_json::json!({
            "from": { "ref": la, "digest": ha.digest },
            "to": { "ref": lb, "digest": hb.digest },
            "same_digest": ha.digest == hb.digest,
            "files": files,
            "config": config,
            "changes": changes,
            "needs": needed,
        }));
        return Ok(());
    }
    let mut out = String::new();
    if ha.digest == hb.digest && files.is_empty() {
        out.push_str(&format!(
            "{la} and {lb} are identical (digest {})\n",
            crate::version::manifest::short(&ha.digest)
        ));
        p.out(&out);
        return Ok(());
    }
    for f in &files {
        for line in f.diff.lines() {
            let styled = if line.starts_with("+++") || line.starts_with("---") {
                p.paint(BOLD, line)
            } else if line.starts_with('+') {
                p.paint(GREEN, line)
            } else if line.starts_with('-') {
                p.paint(RED, line)
            } else if line.starts_with("@@") {
                p.paint(CYAN, line)
            } else {
                line.to_string()
            };
            out.push_str(&styled);
            out.push('\n');
        }
    }
    if !config.is_empty() {
        out.push_str(&format!("\n{}\n", p.paint(BOLD, "config")));
        for c in &config {
            let show =
                |v: &Option<Value>| v.as_ref().map_or("(absent)".to_string(), |v| v.to_string());
            out.push_str(&format!(
                "  {}: {} → {}\n",
                c.key,
                show(&c.from),
                show(&c.to)
            ));
        }
    }
    out.push_str(&format!(
        "\n{}\n",
        p.paint(BOLD, &format!("needs a {} bump", needed.as_str()))
    ));
    for c in &changes {
        out.push_str(&format!("  {:<7} {}\n", c.level.as_str(), c.what));
    }
    p.out(&out);
    Ok(())
}

/// `{"a": {"b": 1}}` → `{"a.b": 1}`; arrays stay whole values.
fn flatten(v: &Value) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            Value::Null => {}
            other => {
                out.insert(prefix.to_string(), other.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", v, &mut out);
    out
}
