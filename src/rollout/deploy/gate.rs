//! The promote gate: a passing eval run for the exact digest being promoted.
//!
//! A run counts when its prompt digest equals the version's, its verdict is
//! a pass, and its judge is the one its suite names now (a run scored by
//! another judge proves nothing about this suite). Runs are looked for in
//! `.promptctl/runs/`, then in intact evidence packs (`evidence/*/*/`, whose
//! files match their SHA256SUMS), or given with `--run FILE`. A pack carries
//! its runs' headers, so a fresh clone with the pack committed can promote
//! without re-running the eval.

use std::path::Path;

use crate::error::Error;
use crate::eval::judge::Judge;
use crate::eval::results::{Run, RunHeader};
use crate::eval::suite::Suite;
use crate::workspace::Workspace;

/// The run that lets a version through.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub run_id: String,
}

/// Why a run does not count, if it does not.
fn disqualify(ws: &Workspace, h: &RunHeader, digest: &str) -> Option<String> {
    if h.prompt.digest != digest {
        return Some(format!(
            "it evaluated digest {}, not {}",
            crate::version::manifest::short(&h.prompt.digest),
            crate::version::manifest::short(digest)
        ));
    }
    if h.verdict.exit_code != 0 {
        return Some(format!(
            "its verdict is `{}`: {}",
            h.verdict.status, h.verdict.reason
        ));
    }
    let suite_path = ws.root.join(&h.suite.path);
    match Suite::load(ws, &suite_path.to_string_lossy()) {
        Err(_) => return Some(format!("its suite `{}` no longer exists", h.suite.path)),
        Ok(suite) => {
            let want = suite.spec.rubric.as_ref().map(|r| {
                Judge::new(&r.judge.provider, &r.judge.model, r.judge.temperature).identity()
            });
            if want != h.judge {
                return Some(format!(
                    "its judge differs from the one `{}` names now",
                    h.suite.path
                ));
            }
        }
    }
    None
}

/// Finds a passing run for `digest`, or says what is missing (exit 1).
pub fn find(
    ws: &Workspace,
    digest: &str,
    explicit: Option<&Path>,
    what: &str,
) -> Result<Evidence, Error> {
    if let Some(path) = explicit {
        let run = Run::load(path)?;
        return match disqualify(ws, &run.header, digest) {
            None => Ok(Evidence {
                run_id: run.header.run_id,
            }),
            Some(why) => Err(Error::failed(format!(
                "`{}` does not let {what} through: {why}",
                path.display()
            ))),
        };
    }
    let dir = ws.state_dir().join("runs");
    let paths = crate::eval::results::run_files(&dir);
    let mut near_misses = Vec::new();
    let local = paths
        .iter()
        .rev()
        .filter_map(|p| Run::load(p).ok())
        .map(|run| (run.header, String::new()));
    let packs = std::iter::once_with(|| packed(ws, digest)).flatten();
    for (header, from) in local.chain(packs) {
        if header.prompt.digest != digest {
            continue;
        }
        match disqualify(ws, &header, digest) {
            None => {
                return Ok(Evidence {
                    run_id: header.run_id,
                });
            }
            Some(why) => near_misses.push(format!("run `{}`{from}: {why}", header.run_id)),
        }
    }
    let mut msg = format!(
        "no passing eval run for {what} (digest {})",
        crate::version::manifest::short(digest)
    );
    if !near_misses.is_empty() {
        msg.push_str(&format!("; {}", near_misses.join("; ")));
    }
    Err(Error::failed(msg).with_hint(
        "run `promptctl eval SUITE --prompt NAME@VERSION` until it passes, give a run with `--run FILE`, or override with `--skip-gate --reason \"…\"` (recorded)",
    ))
}

/// The run headers in intact evidence packs that name `digest`, with where
/// they come from. A pack whose files do not match its SHA256SUMS is not
/// evidence of anything and is skipped.
fn packed(ws: &Workspace, digest: &str) -> Vec<(RunHeader, String)> {
    let (packs, _) = crate::evidence::check::find(ws, &[]);
    let mut out = Vec::new();
    for dir in packs {
        let report = crate::evidence::check::check(ws, &dir);
        if !report.problems.is_empty() || report.digest.as_deref() != Some(digest) {
            continue;
        }
        let Ok(bytes) = std::fs::read(dir.join(crate::evidence::JSON_FILE)) else {
            continue;
        };
        let Ok(pack) = serde_json::from_slice::<crate::evidence::Pack>(&bytes) else {
            continue;
        };
        for run in pack.runs {
            out.push((run.header, format!(" (in `{}`)", report.label)));
        }
    }
    out
}
