//! `promptctl doctor`: is this workspace ready to work?

use std::time::Duration;

use super::context::Context;
use super::exit::{ExitStatus, answer};
use crate::cli::output::{GREEN, RED, YELLOW};
use crate::doctor::{Options, Status};
use crate::error::Error;

/// Check the workspace: config, keys, providers, suites, released versions
///
/// One row per check, each ok, warn or fail, with a hint for anything not
/// ok: `promptctl.yaml` is valid; each provider that a prompt or suite uses
/// has its key variable set (the variable's name is shown, never its value)
/// and answers a cheap authenticated request (`GET …/models`) within the
/// timeout; `replay` and `echo` need no network; each suite's prompt exists
/// and its dataset and cassette exist and parse, and whether they changed
/// since the suite's last run (the sha256 the run recorded); every released
/// version verifies. Providers are tried at once, so the whole check takes
/// at most one timeout.
///
/// Exits 0 when nothing failed (warnings allowed); 3 when a key is missing,
/// a provider is down or refuses the key, or a replay cassette is missing; 2
/// when a file is invalid (an invalid `promptctl.yaml` stops before any
/// check); 4 when a released version does not match its manifest. When
/// several fail, the highest code wins. Problems with a provider that no
/// suite runs on are warnings.
///
/// Example:
///   promptctl doctor
///   promptctl doctor --timeout 10 --json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Seconds to wait for each provider, connecting included
    #[arg(long, value_name = "SECS", default_value = "3", value_parser = seconds)]
    timeout: Duration,
}

fn seconds(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && t > 0.0 && t <= 3600.0 => Ok(Duration::from_secs_f64(t)),
        _ => Err(format!(
            "`{s}` is not a number of seconds above 0 (and at most 3600)"
        )),
    }
}

#[derive(serde::Serialize)]
struct Summary {
    ok: usize,
    warn: usize,
    fail: usize,
    exit_code: u8,
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let ws = ctx.workspace()?;
    let checks = crate::doctor::run(
        &ws,
        &Options {
            timeout: args.timeout,
        },
    )?;
    let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
    let worst = crate::doctor::worst(&checks);
    let summary = Summary {
        ok: count(Status::Ok),
        warn: count(Status::Warn),
        fail: count(Status::Fail),
        exit_code: worst.map_or(0, |c| c as u8),
    };
    let p = ctx.printer;
    if p.json {
        p.json(&serde_json::json!({ "checks": checks, "summary": summary }));
    } else {
        p.out(&crate::cli::output::table_wrapped(
            &["check", "status", "detail", "hint"],
            checks.iter().map(|c| {
                vec![
                    c.check.clone(),
                    c.status.as_str().to_string(),
                    c.detail.clone(),
                    c.hint.clone().unwrap_or_default(),
                ]
            }),
            &[(2, 50), (3, 32)],
        ));
        let n = checks.len();
        let line = match (summary.fail, summary.warn) {
            (0, 0) => p.paint_err(GREEN, &format!("all {n} checks passed")),
            (0, w) => p.paint_err(YELLOW, &format!("no check failed; {w} of {n} warned")),
            (f, _) => p.paint_err(RED, &format!("{f} of {n} checks failed")),
        };
        p.status(&line);
    }
    let Some(class) = worst else {
        return Ok(ExitStatus::Success);
    };
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| format!("`{}`", c.check))
        .collect();
    Ok(answer(
        p,
        &Error::new(
            class,
            format!(
                "doctor: {} check{} failed: {}",
                failed.len(),
                if failed.len() == 1 { "" } else { "s" },
                failed.join(", ")
            ),
        ),
    ))
}
