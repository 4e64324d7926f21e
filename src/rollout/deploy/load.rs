//! Reading `releases.yaml` and its history into a [`Snapshot`], and the
//! checks every change shares (the environment exists, who is making it).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::Error;
use crate::workspace::Workspace;
use crate::workspace::name::Name;

use super::state::{EnvState, Event, History, HistoryFile, RELEASES_FILE, Releases};

pub(crate) fn path(ws: &Workspace, name: &Name) -> PathBuf {
    ws.prompt_dir(name).join(RELEASES_FILE)
}

/// What a reader sees: the environments and the committed history.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    pub environments: BTreeMap<String, EnvState>,
    /// Oldest first.
    pub history: Vec<Event>,
}

impl Snapshot {
    /// The last change in `env`.
    pub(crate) fn last_change(&self, env: &str) -> Option<&Event> {
        self.history.iter().rev().find(|e| e.env == env)
    }
}

/// Reads `releases.yaml` and its committed history; a missing file is an
/// empty one. Lost history is exit 4.
pub(crate) fn load(ws: &Workspace, name: &Name) -> Result<Snapshot, Error> {
    let read = read(ws, name)?;
    let history = match read.past {
        Past::File(h) => super::history::read(&ws.prompt_dir(name), &ws.prompt_label(name), &h)?,
        Past::Inline(events) => events,
    };
    Ok(Snapshot {
        environments: read.environments,
        history,
    })
}

/// Checks that the committed history is all there (for `verify`): exit 4
/// if `history.jsonl` is shorter than `releases.yaml` says, or its committed
/// part has another number of lines.
pub(crate) fn check_history(ws: &Workspace, name: &Name) -> Result<(), Error> {
    match read(ws, name)?.past {
        Past::File(h) => {
            super::history::committed(&ws.prompt_dir(name), &ws.prompt_label(name), &h).map(drop)
        }
        Past::Inline(_) => Ok(()),
    }
}

/// `releases.yaml` as read: the environments, and where the history is.
pub(super) struct Read {
    pub(super) environments: BTreeMap<String, EnvState>,
    pub(super) past: Past,
}

pub(super) enum Past {
    /// In `history.jsonl`, read only when needed.
    File(HistoryFile),
    /// Inline (a file from before `history.jsonl`), read with the rest.
    Inline(Vec<Event>),
}

pub(super) fn read(ws: &Workspace, name: &Name) -> Result<Read, Error> {
    let path = path(ws, name);
    let label = format!("{}/{RELEASES_FILE}", ws.prompt_label(name));
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(crate::error::io_invalid(&path, &e)),
    };
    if let Some(read) = inline_lines(&text, &label)? {
        return Ok(read);
    }
    let releases: Releases = parse(&label, &text)?;
    let past = match releases.history {
        None => Past::File(HistoryFile::empty()),
        Some(History::File(h)) => {
            super::history::check_name(&h.file, &label)?;
            Past::File(h)
        }
        Some(History::Inline(events)) => Past::Inline(events),
    };
    Ok(Read {
        environments: releases.environments,
        past,
    })
}

/// `releases.yaml` parsed, or an error naming its line. No command changes
/// a file it cannot read, so the hint says how to mend it.
fn parse(label: &str, text: &str) -> Result<Releases, Error> {
    crate::workspace::yaml::from_str(std::path::Path::new(label), text).map_err(|e| {
        if e.hint().is_some() {
            return e;
        }
        e.with_hint(format!(
            "correct that line by hand, or restore the file: `git checkout -- {label}`"
        ))
    })
}

/// The inline history as promptctl used to write it (`- {json}` lines
/// after `history:`), read without the YAML parser, which took 200 ms over
/// 10,000 entries. `None` for any other shape.
fn inline_lines(text: &str, label: &str) -> Result<Option<Read>, Error> {
    let (header, Some(lines)) = split(text) else {
        return Ok(None);
    };
    if !lines
        .lines()
        .all(|l| l.trim().is_empty() || l.starts_with("- {"))
    {
        return Ok(None);
    }
    let head: Releases = parse(label, header)?;
    let first = header.lines().count() + 2;
    let mut events = Vec::new();
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
        events.push(event);
    }
    Ok(Some(Read {
        environments: head.environments,
        past: Past::Inline(events),
    }))
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

/// Who is making a change: `PROMPTCTL_USER`, else git's `user.name`, else `$USER`.
pub(crate) fn who(ws: &Workspace) -> String {
    if let Some(u) = std::env::var(crate::workspace::env::PROMPTCTL_USER)
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
pub(crate) fn check_env(ws: &Workspace, env: &str) -> Result<(), Error> {
    if ws.config.environments.contains_key(env) {
        return Ok(());
    }
    let mut err = Error::invalid(format!("unknown environment `{env}`"));
    let names = ws.config.environments.keys().map(String::as_str);
    err = match crate::workspace::yaml::closest(env, names) {
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
    use crate::rollout::deploy::state::{Action, previous_of, stack, was_live};
    use semver::Version;

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

    fn versions(vs: &[&str]) -> Vec<Version> {
        vs.iter().map(|v| v.parse().unwrap()).collect()
    }

    #[test]
    fn rollbacks_walk_back() {
        use Action::*;
        let mut h = vec![
            ev(Promote, "1.0.0"),
            ev(Promote, "1.1.0"),
            ev(Promote, "1.2.0"),
            ev(Rollback, "1.1.0"),
        ];
        assert_eq!(stack(&h, "p"), versions(&["1.0.0", "1.1.0"]));
        assert_eq!(previous_of(&stack(&h, "p")), versions(&["1.0.0"]));
        h.push(ev(Rollback, "1.0.0"));
        assert_eq!(stack(&h, "p").len(), 1);
        assert!(previous_of(&stack(&h, "p")).is_empty());
        assert!(was_live(&h, "p", &"1.2.0".parse().unwrap()));
        assert!(stack(&h, "other").is_empty());
    }

    #[test]
    fn a_file_reference_and_an_inline_list_both_parse_and_errors_keep_their_line() {
        let r: Releases =
            serde_yaml::from_str("history:\n  file: history.jsonl\n  entries: 2\n  bytes: 10\n")
                .unwrap();
        assert_eq!(
            r.history,
            Some(History::File(HistoryFile {
                file: "history.jsonl".into(),
                entries: 2,
                bytes: 10
            }))
        );
        let r: Releases = serde_yaml::from_str(
            "history:\n- {at: x, env: p, action: promote, version: 1.0.0, by: a, digest: d}\n",
        )
        .unwrap();
        assert_eq!(
            r.history,
            Some(History::Inline(vec![Event {
                at: "x".into(),
                by: "a".into(),
                digest: "d".into(),
                ..ev(Action::Promote, "1.0.0")
            }]))
        );
        let e = crate::workspace::yaml::from_str::<Releases>(
            std::path::Path::new("r.yaml"),
            "environments: {}\nhistory:\n  file: h.jsonl\n  entries: 1\n  byte: 3\n",
        )
        .unwrap_err();
        assert!(e.message().starts_with("`r.yaml:5:"), "{}", e.message());
        assert!(
            e.message().contains("unknown field `byte`"),
            "{}",
            e.message()
        );
        let e = crate::workspace::yaml::from_str::<Releases>(
            std::path::Path::new("r.yaml"),
            "history:\n  - at: x\n    env: p\n    action: promote\n    version: one\n",
        )
        .unwrap_err();
        assert!(e.message().starts_with("`r.yaml:5:"), "{}", e.message());
    }

    #[test]
    fn the_json_schema_accepts_both_layouts() {
        let schema = serde_json::to_value(schemars::schema_for!(Releases)).unwrap();
        let v = jsonschema::validator_for(&schema).unwrap();
        let ok = |yaml: &str| {
            let doc: serde_json::Value = serde_yaml::from_str(yaml).unwrap();
            v.is_valid(&doc)
        };
        assert!(ok(
            "environments:\n  production:\n    active: 1.2.0\n    canary: { version: 1.3.0, percent: 5 }\n    previous: [1.1.0, 1.0.0]\nhistory: { file: history.jsonl, entries: 3, bytes: 600 }\n"
        ));
        assert!(ok(
            "history:\n- {at: x, env: p, action: rollback, version: 1.0.0, by: a, digest: d}\n"
        ));
        assert!(!ok("history: { file: history.jsonl, entries: 3 }\n"));
        let canary = |pct: &str| {
            format!(
                "environments: {{ p: {{ active: 1.0.0, canary: {{ version: 1.1.0, percent: {pct} }} }} }}\n"
            )
        };
        for good in ["5", "12.5", "0.05", "0.29", "99.99"] {
            assert!(ok(&canary(good)), "{good}");
        }
        for bad in ["0", "100", "150", "-1"] {
            assert!(!ok(&canary(bad)), "{bad}");
        }
        // More than two decimals is for the loader: see `Percent`'s schema.
        assert!(ok(&canary("0.125")));
        assert!(
            crate::workspace::yaml::from_str::<Releases>(
                std::path::Path::new("r.yaml"),
                &canary("0.125")
            )
            .is_err()
        );
        assert!(!ok("environments: { p: { active: 1.0.0, previus: [] } }\n"));
    }
}
