//! Environments: which version is live where, the canary split, and the
//! append-only history of every change (`prompts/<name>/releases.yaml`).
//!
//! Every change is a read-modify-write of that one file under an exclusive
//! lock, written atomically ([`update`]), so concurrent commands serialise and
//! a crash leaves the old file or the new one. Rollback reads only this file
//! and the target's manifest: no provider, no eval, no network.
//!
//! The file stays plain YAML, but each history entry is written as one line
//! of JSON (a YAML flow mapping). An update then parses only the small
//! `environments` block and a light view of each history line, and appends
//! its entry without re-serialising the rest: with 10,000 entries a rollback
//! takes milliseconds instead of the 200 ms a full YAML round trip took. A
//! hand-edited file in block style still loads (through the YAML parser) and
//! is rewritten in the line form on the next change.

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

/// Reads `releases.yaml` in full; a missing file is an empty one.
pub fn load(ws: &Workspace, name: &Name) -> Result<Releases, Error> {
    let (text, label) = read(ws, name)?;
    let (header, history) = split(&text);
    let Some(lines) = history.filter(|h| {
        h.lines()
            .all(|l| l.trim().is_empty() || l.starts_with("- {"))
    }) else {
        return crate::yaml::from_str(std::path::Path::new(&label), &text);
    };
    let mut releases: Releases = crate::yaml::from_str(std::path::Path::new(&label), header)?;
    let first = header.lines().count() + 2;
    for (i, line) in lines
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let event = serde_json::from_str(&line[2..]).map_err(|e| {
            Error::invalid(format!(
                "`{label}:{}:{}`: history entry: {e}",
                first + i,
                e.column() + 2
            ))
        })?;
        releases.history.push(event);
    }
    Ok(releases)
}

fn read(ws: &Workspace, name: &Name) -> Result<(String, String), Error> {
    let path = path(ws, name);
    let label = format!("{}/{RELEASES_FILE}", ws.prompt_label(name));
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((text, label)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((String::new(), label)),
        Err(e) => Err(crate::error::io_invalid(&path, &e)),
    }
}

/// The text before the top-level `history:` key, and the lines after it.
fn split(text: &str) -> (&str, Option<&str>) {
    if let Some(rest) = text.strip_prefix("history:\n") {
        return ("", Some(rest));
    }
    match text.find("\nhistory:\n") {
        Some(i) => (&text[..i + 1], Some(&text[i + "\nhistory:\n".len()..])),
        None => (text, None),
    }
}

/// What an update needs of each history entry, parsed cheaply.
#[derive(Debug, Clone, Deserialize)]
struct Light {
    env: String,
    action: Action,
    version: Version,
}

impl Light {
    /// Reads a line exactly as promptctl writes it (`- {"at":…,"env":…,
    /// "action":…,"version":…` first, in that order) without a JSON parser;
    /// `None` for anything else, which then goes through serde_json.
    fn scan(line: &str) -> Option<Light> {
        let rest = line.strip_prefix("- {\"at\":\"")?;
        let rest = &rest[rest.find('"')? + 1..];
        let (env, rest) = field(rest, ",\"env\":\"")?;
        let (action, rest) = field(rest, ",\"action\":\"")?;
        let (version, _) = field(rest, ",\"version\":\"")?;
        let action = match action {
            "promote" => Action::Promote,
            "canary" => Action::Canary,
            "rollback" => Action::Rollback,
            _ => return None,
        };
        Some(Light {
            env: env.to_string(),
            action,
            version: Version::parse(version).ok()?,
        })
    }
}

/// After `key` (`,"name":"`), the string up to its closing quote, if it has no escapes.
fn field<'a>(s: &'a str, key: &str) -> Option<(&'a str, &'a str)> {
    let rest = s.strip_prefix(key)?;
    let end = rest.find('"')?;
    let value = &rest[..end];
    (!value.contains('\\')).then_some((value, &rest[end + 1..]))
}

/// `releases.yaml` as an update sees it: the environments in full, the
/// history as a light view plus the raw lines to carry over.
pub struct Ledger {
    pub environments: BTreeMap<String, EnvState>,
    light: Vec<Light>,
    /// The file as read (or the history rewritten in line form) and where
    /// its history lines start: carried over byte for byte.
    raw: String,
    raw_start: usize,
    new: Vec<Event>,
}

impl Ledger {
    fn open(ws: &Workspace, name: &Name) -> Result<Ledger, Error> {
        let (text, label) = read(ws, name)?;
        let (header, history) = split(&text);
        let line_form = history.is_none_or(|h| {
            h.lines()
                .all(|l| l.trim().is_empty() || l.starts_with("- {"))
        });
        if !line_form {
            // Hand-edited block style: read it in full, rewrite it in line form.
            let full = load(ws, name)?;
            let mut raw = String::new();
            for e in &full.history {
                raw.push_str(&history_line(e));
            }
            let light = full
                .history
                .iter()
                .map(|e| Light {
                    env: e.env.clone(),
                    action: e.action,
                    version: e.version.clone(),
                })
                .collect();
            return Ok(Ledger {
                environments: full.environments,
                light,
                raw,
                raw_start: 0,
                new: Vec::new(),
            });
        }
        let head: Releases = crate::yaml::from_str(std::path::Path::new(&label), header)?;
        let raw_start = history.map_or(text.len(), |h| text.len() - h.len());
        let first = header.lines().count() + 2;
        let mut light = Vec::new();
        for (i, line) in text[raw_start..]
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let entry = match Light::scan(line) {
                Some(l) => l,
                None => serde_json::from_str(&line[2..]).map_err(|e| {
                    Error::invalid(format!(
                        "`{label}:{}:{}`: history entry: {e}",
                        first + i,
                        e.column() + 2
                    ))
                })?,
            };
            light.push(entry);
        }
        Ok(Ledger {
            environments: head.environments,
            light,
            raw: text,
            raw_start,
            new: Vec::new(),
        })
    }

    /// Appends an entry to the history.
    pub fn push(&mut self, event: Event) {
        self.light.push(Light {
            env: event.env.clone(),
            action: event.action,
            version: event.version.clone(),
        });
        self.new.push(event);
    }

    fn entries(&self) -> impl Iterator<Item = (&str, Action, &Version)> {
        self.light
            .iter()
            .map(|l| (l.env.as_str(), l.action, &l.version))
    }

    /// Writes the new file: the environments, then the old history lines
    /// byte for byte, then the new ones.
    fn write(&self, path: &std::path::Path) -> Result<(), Error> {
        let head = Releases {
            environments: self.environments.clone(),
            history: Vec::new(),
        };
        let mut text = crate::yaml::to_string(&head).replace("history: []\n", "");
        text.push_str("history:\n");
        let old = &self.raw[self.raw_start..];
        let mut tail = String::new();
        if !old.is_empty() && !old.ends_with('\n') {
            tail.push('\n');
        }
        for e in &self.new {
            tail.push_str(&history_line(e));
        }
        crate::fsio::write_atomic_parts(path, &[text.as_bytes(), old.as_bytes(), tail.as_bytes()])
    }

    pub fn stack(&self, env: &str) -> Vec<Version> {
        stack(self.entries(), env)
    }

    pub fn was_live(&self, env: &str, version: &Version) -> bool {
        was_live(self.entries(), env, version)
    }
}

/// Reads, changes and writes `releases.yaml` under the prompt's lock. `change`
/// sees the current state; if it fails, nothing is written.
pub fn update<T>(
    ws: &Workspace,
    name: &Name,
    change: impl FnOnce(&mut Ledger) -> Result<T, Error>,
) -> Result<T, Error> {
    let _lock = crate::fsio::lock(
        &ws.state_dir()
            .join("locks")
            .join(format!("{name}.releases.lock")),
    )?;
    let mut ledger = Ledger::open(ws, name)?;
    let out = change(&mut ledger)?;
    ledger.write(&path(ws, name))?;
    Ok(out)
}

/// One history entry as a line: `- {json}`. serde_json leaves U+0085,
/// U+2028 and U+2029 unescaped, and YAML readers take them for line breaks,
/// so they are escaped here.
fn history_line(e: &Event) -> String {
    let json = serde_json::to_string(e).expect("an event serialises");
    let json = json
        .replace('\u{85}', "\\u0085")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    format!("- {json}\n")
}

/// The versions an environment has had live, as a stack: promotions push, a
/// rollback pops back to its target. So a second rollback walks further back
/// instead of returning to what the first one left.
fn stack<'a>(
    entries: impl Iterator<Item = (&'a str, Action, &'a Version)>,
    env: &str,
) -> Vec<Version> {
    let mut stack: Vec<Version> = Vec::new();
    for (_, action, version) in entries.filter(|(e, _, _)| *e == env) {
        match action {
            Action::Promote => {
                if stack.last() != Some(version) {
                    stack.push(version.clone());
                }
            }
            Action::Rollback => {
                while stack.last().is_some_and(|v| v != version) {
                    stack.pop();
                }
                if stack.is_empty() {
                    stack.push(version.clone());
                }
            }
            Action::Canary => {}
        }
    }
    stack
}

fn was_live<'a>(
    mut entries: impl Iterator<Item = (&'a str, Action, &'a Version)>,
    env: &str,
    version: &Version,
) -> bool {
    entries.any(|(e, a, v)| {
        e == env && v == version && matches!(a, Action::Promote | Action::Rollback)
    })
}

impl Releases {
    pub fn stack(&self, env: &str) -> Vec<Version> {
        stack(
            self.history
                .iter()
                .map(|e| (e.env.as_str(), e.action, &e.version)),
            env,
        )
    }

    /// Whether `version` was ever fully live in `env`.
    pub fn was_live(&self, env: &str, version: &Version) -> bool {
        was_live(
            self.history
                .iter()
                .map(|e| (e.env.as_str(), e.action, &e.version)),
            env,
            version,
        )
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
    fn the_line_scanner_agrees_with_serde() {
        let mut e = ev(Action::Rollback, "1.2.3");
        e.env = "prod-eu".into();
        e.at = "2026-11-21T10:00:00Z".into();
        e.reason = Some("quote \" and, comma".into());
        let line = format!("- {}", serde_json::to_string(&e).unwrap());
        let fast = Light::scan(&line).expect("promptctl's own line form");
        let slow: Light = serde_json::from_str(&line[2..]).unwrap();
        assert_eq!(
            (fast.env, fast.action, fast.version),
            (slow.env, slow.action, slow.version)
        );
        assert!(
            Light::scan("- {\"env\":\"p\",\"at\":\"x\"}").is_none(),
            "another key order goes to serde"
        );
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
