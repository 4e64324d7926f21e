//! Environments: which version is live where, the canary split, and the
//! append-only history of every change (`prompts/<name>/releases.yaml`).
//!
//! Every change is a read-modify-write of that one file under an exclusive
//! lock, written atomically ([`update`]), so concurrent commands serialise and
//! a crash leaves the old file or the new one. Rollback reads only this file
//! and the target's manifest: no provider, no eval, no network.

pub mod actions;
pub mod bucket;
pub mod gate;

use std::collections::BTreeMap;
use std::path::PathBuf;

use semver::Version;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::name::Name;
use crate::workspace::Workspace;

pub const RELEASES_FILE: &str = "releases.yaml";

/// The whole of `releases.yaml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Releases {
    #[serde(default)]
    pub environments: BTreeMap<String, EnvState>,
    /// Append-only, oldest first.
    #[serde(default)]
    pub history: Vec<Event>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<Version>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Canary {
    pub version: Version,
    /// Share of routing keys served by the canary, 0 < percent < 100.
    pub percent: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Promote,
    Canary,
    Rollback,
}

/// One change, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub at: String,
    pub env: String,
    pub action: Action,
    pub version: Version,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Version>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub digest: String,
    /// The eval run that let this version through (promote and canary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The gate was skipped with `--skip-gate` (the reason says why).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_gate: bool,
}

pub fn path(ws: &Workspace, name: &Name) -> PathBuf {
    ws.prompt_dir(name).join(RELEASES_FILE)
}

/// Reads `releases.yaml`; a missing file is an empty one.
pub fn load(ws: &Workspace, name: &Name) -> Result<Releases, Error> {
    let path = path(ws, name);
    let label = format!("{}/{RELEASES_FILE}", ws.prompt_label(name));
    match std::fs::read_to_string(&path) {
        Ok(text) => crate::yaml::from_str(std::path::Path::new(&label), &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Releases::default()),
        Err(e) => Err(crate::error::io_invalid(&path, &e)),
    }
}

/// Reads, changes and writes `releases.yaml` under the prompt's lock. `change`
/// sees the current state; if it fails, nothing is written.
pub fn update<T>(
    ws: &Workspace,
    name: &Name,
    change: impl FnOnce(&mut Releases) -> Result<T, Error>,
) -> Result<T, Error> {
    let _lock = crate::fsio::lock(
        &ws.state_dir()
            .join("locks")
            .join(format!("{name}.releases.lock")),
    )?;
    let mut releases = load(ws, name)?;
    let out = change(&mut releases)?;
    let text = crate::yaml::to_string(&releases);
    crate::fsio::write_atomic(&path(ws, name), text.as_bytes())?;
    Ok(out)
}

impl Releases {
    /// The versions an environment has had active, as a stack: promotions
    /// push, a rollback pops back to its target. So a second rollback walks
    /// further back instead of returning to what the first one left.
    pub fn stack(&self, env: &str) -> Vec<Version> {
        let mut stack: Vec<Version> = Vec::new();
        for e in self.history.iter().filter(|e| e.env == env) {
            match e.action {
                Action::Promote => {
                    if stack.last() != Some(&e.version) {
                        stack.push(e.version.clone());
                    }
                }
                Action::Rollback => {
                    while stack.last().is_some_and(|v| v != &e.version) {
                        stack.pop();
                    }
                    if stack.is_empty() {
                        stack.push(e.version.clone());
                    }
                }
                Action::Canary => {}
            }
        }
        stack
    }

    /// Whether `version` was ever fully live in `env`.
    pub fn was_live(&self, env: &str, version: &Version) -> bool {
        self.history.iter().any(|e| {
            e.env == env
                && &e.version == version
                && matches!(e.action, Action::Promote | Action::Rollback)
        })
    }

    /// The last change in `env`.
    pub fn last_change(&self, env: &str) -> Option<&Event> {
        self.history.iter().rev().find(|e| e.env == env)
    }
}

/// Who is making a change: `PROMPTCTL_USER`, else git's `user.name`, else `$USER`.
pub fn who(ws: &Workspace) -> String {
    if let Some(u) = std::env::var(crate::env::PROMPTCTL_USER)
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        return u.trim().to_string();
    }
    let git = std::process::Command::new("git")
        .arg("-C")
        .arg(&ws.root)
        .args(["config", "user.name"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    git.or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Checks that `env` is defined in `promptctl.yaml`.
pub fn check_env(ws: &Workspace, env: &str) -> Result<(), Error> {
    if ws.config.environments.contains_key(env) {
        return Ok(());
    }
    let mut err = Error::invalid(format!("unknown environment `{env}`"));
    let names = ws.config.environments.keys().map(String::as_str);
    err = match crate::yaml::closest(env, names) {
        Some(best) => err.with_hint(format!("did you mean `{best}`?")),
        None if ws.config.environments.is_empty() => {
            err.with_hint("define environments under `environments:` in `promptctl.yaml`")
        }
        None => err.with_hint(format!(
            "environments are: {}",
            ws.config
                .environments
                .keys()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    };
    Err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(action: Action, v: &str) -> Event {
        Event {
            at: String::new(),
            env: "p".into(),
            action,
            version: v.parse().unwrap(),
            from: None,
            percent: None,
            by: "t".into(),
            reason: None,
            digest: String::new(),
            run: None,
            skip_gate: false,
        }
    }

    #[test]
    fn rollbacks_walk_back() {
        use Action::*;
        let mut r = Releases {
            history: vec![
                ev(Promote, "1.0.0"),
                ev(Promote, "1.1.0"),
                ev(Promote, "1.2.0"),
                ev(Rollback, "1.1.0"),
            ],
            ..Releases::default()
        };
        assert_eq!(
            r.stack("p"),
            vec![
                "1.0.0".parse::<Version>().unwrap(),
                "1.1.0".parse().unwrap()
            ]
        );
        r.history.push(ev(Rollback, "1.0.0"));
        assert_eq!(r.stack("p").len(), 1);
        assert!(r.was_live("p", &"1.2.0".parse().unwrap()));
    }
}
