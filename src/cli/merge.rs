//! `promptctl merge`: join the shards of a run into one run.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use super::context::Context;
use super::exit::ExitStatus;
use crate::error::Error;
use crate::eval::results::Run;

/// Join shard runs (`eval --shard I/N`) into one run, and gate it
///
/// The shards must be of the same suite, prompt digest, provider, model and
/// judge, and no case may appear in two of them. The merged run is saved under
/// `.promptctl/runs/` and gated with the suite's gates; the exit code is the
/// merged run's verdict.
///
/// Example:
///   promptctl merge shard-1.json shard-2.json shard-3.json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// The shard run files
    #[arg(required = true, num_args = 2..)]
    runs: Vec<PathBuf>,
    /// Report format
    #[arg(long, value_enum, default_value_t = super::eval::Format::Table)]
    format: super::eval::Format,
}

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let ws = ctx.workspace()?;
    let mut runs = args
        .runs
        .iter()
        .map(|p| Run::load(p).map(|r| (p, r)))
        .collect::<Result<Vec<_>, _>>()?;
    check_shards(&runs)?;
    let (first_path, mut merged) = runs.remove(0);
    let identity = |r: &Run| {
        (
            r.header.suite.name.clone(),
            r.header.prompt.digest.clone(),
            r.header.provider.name.clone(),
            r.header.provider.model.clone(),
            r.header.judge.clone(),
        )
    };
    let want = identity(&merged);
    let mut seen: HashSet<(String, u32)> = merged
        .cases
        .iter()
        .map(|c| (c.id.clone(), c.sample))
        .collect();
    for (path, run) in runs {
        if identity(&run) != want {
            return Err(Error::invalid(format!(
                "`{}` is not a shard of the same run as `{}`: suite, prompt digest, provider, model and judge must match",
                path.display(),
                first_path.display()
            ))
            .into());
        }
        for c in run.cases {
            if !seen.insert((c.id.clone(), c.sample)) {
                return Err(Error::invalid(format!(
                    "case `{}` is in more than one shard (`{}`)",
                    c.id,
                    path.display()
                ))
                .into());
            }
            merged.cases.push(c);
        }
        merged.header.duration_ms = merged.header.duration_ms.max(run.header.duration_ms);
        merged.header.finished_at = merged.header.finished_at.max(run.header.finished_at);
        merged.header.started_at = merged.header.started_at.min(run.header.started_at);
        // One interrupted shard makes the whole run a partial one.
        merged.header.settings.interrupted |= run.header.settings.interrupted;
    }
    merged.header.run_id = crate::eval::results::new_run_id();
    merged.header.settings.shard = None;
    for w in crate::eval::session::regate(&ws, &mut merged, None)? {
        ctx.printer.warn(&w);
    }
    let path = ws
        .state_dir()
        .join("runs")
        .join(format!("{}.json", merged.header.run_id));
    merged.save(&path)?;
    let p = ctx.printer;
    let failures: Vec<_> = merged
        .cases
        .iter()
        .filter(|c| !c.passed)
        .take(crate::eval::session::TOP_FAILURES)
        .cloned()
        .collect();
    let format = if p.json {
        super::eval::Format::Json
    } else {
        args.format
    };
    let written = super::eval::deliver(p, format, None, &merged.header, &failures, &|| {
        Ok(merged.clone())
    });
    p.status(&format!(
        "saved merged run `{}` to `{}`",
        merged.header.run_id,
        path.strip_prefix(&ws.root).unwrap_or(&path).display()
    ));
    Ok(super::eval::verdict(p, &merged.header.verdict).with_outputs_written(written))
}

/// The runs are shards `1/N` … `N/N` of one run, each exactly once, taken
/// with the same case selection: a merge of some of the shards would be a
/// run of some of the cases that looks complete.
fn check_shards(runs: &[(&PathBuf, Run)]) -> Result<(), Error> {
    let mut count = None;
    let mut have: BTreeMap<u32, &PathBuf> = BTreeMap::new();
    for (path, run) in runs {
        let Some((k, n)) = run.header.settings.shard.as_deref().and_then(parse_shard) else {
            return Err(Error::invalid(format!(
                "`{}` is not a shard (it was not run with `--shard K/N`)",
                path.display()
            )));
        };
        match count {
            None => count = Some(n),
            Some(m) if m != n => {
                return Err(Error::invalid(format!(
                    "`{}` is shard {k}/{n}, but the others are of {m} shards",
                    path.display()
                )));
            }
            Some(_) => {}
        }
        if let Some(other) = have.insert(k, path) {
            return Err(Error::invalid(format!(
                "shard {k}/{n} is given twice: `{}` and `{}`",
                other.display(),
                path.display()
            )));
        }
        let (first_path, first) = &runs[0];
        let selection = |r: &Run| {
            let s = &r.header.settings;
            (
                s.filter_id.clone(),
                s.filter_segment.clone(),
                s.tags.clone(),
                s.repeat,
            )
        };
        if selection(run) != selection(first) {
            return Err(Error::invalid(format!(
                "`{}` selected other cases than `{}` (filters, tags or --repeat differ)",
                path.display(),
                first_path.display()
            )));
        }
    }
    let n = count.unwrap_or(0);
    let missing: Vec<String> = (1..=n)
        .filter(|k| !have.contains_key(k))
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(Error::invalid(format!(
            "shard{} {} of {n} {} missing: a merge needs every shard",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            if missing.len() == 1 { "is" } else { "are" }
        ))
        .with_hint(
            "run the missing shards with `promptctl eval SUITE --shard K/N`, then merge them all",
        ));
    }
    Ok(())
}

/// `K/N` as written in a run's settings.
fn parse_shard(s: &str) -> Option<(u32, u32)> {
    let (k, n) = s.split_once('/')?;
    let (k, n) = (k.parse().ok()?, n.parse().ok()?);
    (k >= 1 && k <= n).then_some((k, n))
}
