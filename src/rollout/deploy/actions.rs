//! Promote, canary and rollback: each one locked update (see the parent
//! module) that records exactly one history entry, or writes nothing when
//! there is nothing to do or it refuses.

use semver::Version;

use super::Ledger;
use super::bucket::Percent;
use super::state::{Action, Canary, EnvState, Event};
use crate::error::Error;
use crate::workspace::Workspace;
use crate::workspace::name::Name;

/// What a command changed in one environment.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Change {
    pub name: String,
    pub env: String,
    pub before: EnvState,
    pub after: EnvState,
    /// The history entry written; `None` when there was nothing to do.
    pub event: Option<Event>,
}

#[derive(Debug, Clone)]
pub(crate) struct Promote {
    pub name: Name,
    pub version: Version,
    pub env: String,
    /// Start or move a canary at this percent instead of a full promote.
    pub canary: Option<Percent>,
    pub gate: Gate,
    pub reason: Option<String>,
}

/// What lets a version through: the gate's decision, or a recorded skip.
#[derive(Debug, Clone)]
pub(crate) enum Gate {
    /// The decision of [`super::gate::decide`] for this version and environment.
    Decided(super::gate::Decision),
    /// `--skip-gate`: needs a reason, and the history says so.
    Skipped,
}

pub(crate) fn promote(ws: &Workspace, req: &Promote) -> Result<Change, Error> {
    super::load::check_env(ws, &req.env)?;
    ws.require_prompt(&req.name)?;
    let what = format!("`{}@{}`", req.name, req.version);
    // Only a version that still matches its hashes can ship.
    let released = crate::version::store::open(ws, &req.name, &req.version)?;
    let digest = released.manifest.digest.clone();
    let reason = req
        .reason
        .as_ref()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    let skip_gate = matches!(req.gate, Gate::Skipped);
    let run = match &req.gate {
        Gate::Skipped => {
            if reason.is_none() {
                return Err(Error::invalid(
                    "`--skip-gate` needs `--reason \"…\"`: skipping the gate is recorded with why",
                ));
            }
            None
        }
        Gate::Decided(d) => {
            if !d.passed() || d.digest != digest || d.env != req.env {
                return Err(Error::failed(format!(
                    "the promote gate does not let {what} into `{}`: {}",
                    req.env,
                    d.refusals().join("; ")
                )));
            }
            Some(d.runs())
        }
    };
    let by = super::load::who(ws);
    let at = crate::version::manifest::now_rfc3339()?;
    super::update(ws, &req.name, |r: &mut Ledger| {
        if let Some(required) = ws
            .config
            .environments
            .get(&req.env)
            .and_then(|e| e.requires.clone())
            && !r.was_live(&required, &req.version)?
        {
            return Err(Error::failed(format!(
                "{what} cannot go to `{}`: it has not been live in `{required}` first",
                req.env
            ))
            .with_hint(format!(
                "promote it to `{required}` first: `promptctl promote {}@{} --env {required}`",
                req.name, req.version
            )));
        }
        let before = r.state(&req.env);
        let mut after = before.clone();
        let event = match req.canary {
            Some(percent) => {
                let Some(stable) = &before.active else {
                    return Err(Error::invalid(format!(
                        "`{}` has no live version to split traffic with; promote one fully first",
                        req.env
                    )));
                };
                if stable == &req.version {
                    return Err(Error::invalid(format!(
                        "{what} is already live in `{}`",
                        req.env
                    )));
                }
                if let Some(c) = &before.canary {
                    if c.version == req.version && percent < c.percent && reason.is_none() {
                        return Err(Error::invalid(format!(
                            "the canary of {what} is at {}%; lowering it to {percent}% needs `--reason`",
                            c.percent
                        )));
                    }
                    if c.version == req.version && percent == c.percent {
                        return Ok(Change {
                            name: req.name.to_string(),
                            env: req.env.clone(),
                            after: before.clone(),
                            before,
                            event: None,
                        });
                    }
                }
                after.canary = Some(Canary {
                    version: req.version.clone(),
                    percent,
                });
                Event {
                    at: at.clone(),
                    env: req.env.clone(),
                    action: Action::Canary,
                    version: req.version.clone(),
                    from: Some(stable.clone()),
                    percent: Some(percent.as_f64()),
                    by: by.clone(),
                    reason: reason.clone(),
                    digest: digest.clone(),
                    run: run.clone(),
                    skip_gate,
                }
            }
            None => {
                if before.active.as_ref() == Some(&req.version) && before.canary.is_none() {
                    return Ok(Change {
                        name: req.name.to_string(),
                        env: req.env.clone(),
                        after: before.clone(),
                        before,
                        event: None,
                    });
                }
                after.active = Some(req.version.clone());
                after.canary = None;
                Event {
                    at: at.clone(),
                    env: req.env.clone(),
                    action: Action::Promote,
                    version: req.version.clone(),
                    from: before.active.clone(),
                    percent: None,
                    by: by.clone(),
                    reason: reason.clone(),
                    digest: digest.clone(),
                    run: run.clone(),
                    skip_gate,
                }
            }
        };
        let after = r.record(after, event.clone())?;
        Ok(Change {
            name: req.name.to_string(),
            env: req.env.clone(),
            before,
            after,
            event: Some(event),
        })
    })
}

#[derive(Debug, Clone)]
pub(crate) struct Rollback {
    pub name: Name,
    pub env: String,
    pub to: Option<Version>,
    pub reason: String,
    /// Verify the target's files first (default). Off only with `--no-verify`.
    pub verify: bool,
}

/// Moves `env` back to the previous live version (or `to`), ending any
/// canary. Reads only `releases.yaml` and the target's manifest; the
/// history only for a `to` no longer in `previous`.
pub(crate) fn rollback(ws: &Workspace, req: &Rollback) -> Result<Change, Error> {
    super::load::check_env(ws, &req.env)?;
    let reason = req.reason.trim();
    if reason.is_empty() {
        return Err(Error::invalid(
            "`--reason` is empty: a rollback records why",
        ));
    }
    let by = super::load::who(ws);
    let at = crate::version::manifest::now_rfc3339()?;
    super::update(ws, &req.name, |r: &mut Ledger| {
        let before = r.state(&req.env);
        let Some(current) = before.active.clone() else {
            return Err(Error::invalid(format!(
                "`{}` has nothing live in `{}`: there is nothing to roll back",
                req.name, req.env
            )));
        };
        let target = match &req.to {
            Some(v) => {
                // Only back to what was live here: `--to` must not become a
                // way around the promote gate or the promotion path.
                if !r.was_live(&req.env, v)? {
                    return Err(Error::invalid(format!(
                        "`{}@{v}` was never live in `{}`; roll back only to a version that was",
                        req.name, req.env
                    ))
                    .with_hint(format!(
                        "to make it live, promote it: `promptctl promote {}@{v} --env {}`",
                        req.name, req.env
                    )));
                }
                v.clone()
            }
            // A running canary is what gets rolled back first: the stable
            // version stays, the canary ends.
            None if before.canary.is_some() => current.clone(),
            None => {
                let previous = r.previous(&req.env)?;
                match previous.iter().find(|v| **v != current) {
                    Some(v) => v.clone(),
                    None => {
                        return Err(Error::invalid(format!(
                            "`{}` in `{}` has no earlier version than {current} to roll back to",
                            req.name, req.env
                        ))
                        .with_hint("name one with `--to VERSION`, or end a canary with `promptctl promote` of the live version"));
                    }
                }
            }
        };
        if target == current && before.canary.is_none() {
            return Err(Error::invalid(format!(
                "{current} is already live in `{}`",
                req.env
            )));
        }
        let digest = if req.verify {
            crate::version::store::open(ws, &req.name, &target)?
                .manifest
                .digest
        } else {
            crate::version::store::read_manifest(ws, &req.name, &target)?.digest
        };
        let after = EnvState {
            active: Some(target.clone()),
            canary: None,
            previous: None, // `record` keeps it
        };
        let event = Event {
            at,
            env: req.env.clone(),
            action: Action::Rollback,
            from: match (&before.canary, target == current) {
                (Some(c), true) => Some(c.version.clone()),
                _ => Some(current),
            },
            version: target,
            percent: None,
            by,
            reason: Some(reason.to_string()),
            digest,
            run: None,
            skip_gate: false,
        };
        let after = r.record(after, event.clone())?;
        Ok(Change {
            name: req.name.to_string(),
            env: req.env.clone(),
            before,
            after,
            event: Some(event),
        })
    })
}

/// `production: 1.2.0 → 1.3.0 (canary 5%)`.
pub(crate) fn describe(state: &EnvState) -> String {
    let live = state
        .active
        .as_ref()
        .map_or("(none)".to_string(), ToString::to_string);
    match &state.canary {
        Some(c) => format!("{live} + canary {} at {}%", c.version, c.percent),
        None => live,
    }
}
