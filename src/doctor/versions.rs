//! Released versions: each one verifies.

use super::check::{Check, plural};
use crate::error::{Class, Error};
use crate::version::store::Outcome;
use crate::workspace::Workspace;
use crate::workspace::name::Name;

/// One row per prompt with released versions: all of them verify.
pub(super) fn versions(ws: &Workspace, prompts: &[Name]) -> Result<Vec<Check>, Error> {
    let mut jobs = Vec::new();
    for name in prompts {
        for v in crate::version::store::list(ws, name)? {
            jobs.push((name.clone(), v));
        }
    }
    let reports = crate::version::store::verify_all(ws, &jobs);
    let mut checks = Vec::new();
    for name in prompts {
        let mine: Vec<_> = reports.iter().filter(|r| &r.name == name).collect();
        if mine.is_empty() {
            continue;
        }
        let row = format!("versions {name}");
        let bad: Vec<String> = mine
            .iter()
            .filter_map(|r| match &r.outcome {
                Outcome::Ok(_) => None,
                Outcome::Problems(ps) => Some(format!(
                    "{}: {}",
                    r.version,
                    ps.iter()
                        .map(|p| format!("`{}` {}", p.file, p.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
            })
            .collect();
        let range = match (mine.first(), mine.last()) {
            (Some(a), Some(b)) if mine.len() > 1 => format!("{} … {}", a.version, b.version),
            (Some(a), _) => a.version.to_string(),
            _ => String::new(),
        };
        if !bad.is_empty() {
            checks.push(Check::fail(
                Class::Integrity,
                row,
                format!(
                    "{} of {} version{} do{} not match {} manifest: {}",
                    bad.len(),
                    mine.len(),
                    plural(mine.len()),
                    if bad.len() == 1 { "es" } else { "" },
                    if bad.len() == 1 { "its" } else { "their" },
                    bad.join("; ")
                ),
                format!(
                    "released versions are immutable: restore them from git \
                     (`git checkout -- {}/versions/`) and release a new version instead",
                    ws.prompt_label(name)
                ),
            ));
            continue;
        }
        let strays = crate::version::store::strays(ws, name);
        let ok = format!(
            "{} version{} verif{} ({range})",
            mine.len(),
            plural(mine.len()),
            if mine.len() == 1 { "ies" } else { "y" }
        );
        checks.push(if strays.is_empty() {
            Check::ok(row, ok)
        } else {
            Check::warn(
                row,
                format!(
                    "{ok}; `{}/versions/` also holds {}",
                    ws.prompt_label(name),
                    strays
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "`.tmp-…` folders are left by an interrupted release and safe to delete; promptctl ignores anything else",
            )
        });
    }
    Ok(checks)
}
