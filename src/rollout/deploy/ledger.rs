//! The writer's side of the update protocol in the parent module: a
//! [`Ledger`] the change decides on, then the append and the commit.
//!
//! A change decides from the environments and their `previous` stacks, which
//! `releases.yaml` carries, so the common case never reads `history.jsonl`;
//! the ledger reads the committed history only when asked something the
//! stacks cannot answer, and then once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use semver::Version;

use super::history;
use super::load::Past;
use super::state::{
    EnvState, Event, HISTORY_FILE, History, HistoryFile, Releases, previous_of, stack, step,
};
use crate::error::Error;
use crate::workspace::Workspace;
use crate::workspace::fsio::Access;
use crate::workspace::name::Name;

/// `releases.yaml` as a change sees it, with what the change records.
pub(crate) struct Ledger {
    /// The state as the change leaves it.
    environments: BTreeMap<String, EnvState>,
    /// The state as committed, for the stacks the change starts from.
    committed: BTreeMap<String, EnvState>,
    past: Past,
    /// The committed history of a `history.jsonl`, once read.
    loaded: Option<Vec<Event>>,
    /// The stacks of the environments this change moved.
    stacks: BTreeMap<String, Vec<Version>>,
    new: Vec<Event>,
    /// The prompt's folder, and how errors name it.
    dir: PathBuf,
    label: String,
}

/// Reads `releases.yaml`, lets `change` decide and record, then appends and
/// commits under the prompt's lock. If `change` fails or records nothing,
/// nothing is written.
pub(crate) fn update<T>(
    ws: &Workspace,
    name: &Name,
    change: impl FnOnce(&mut Ledger) -> Result<T, Error>,
) -> Result<T, Error> {
    let _lock = crate::workspace::fsio::lock(
        &ws.state_dir()
            .join("locks")
            .join(format!("{name}.releases.lock")),
    )?;
    let mut ledger = Ledger::open(ws, name)?;
    let out = change(&mut ledger)?;
    ledger.commit(&super::load::path(ws, name))?;
    Ok(out)
}

impl Ledger {
    fn open(ws: &Workspace, name: &Name) -> Result<Ledger, Error> {
        let read = super::load::read(ws, name)?;
        let dir = ws.prompt_dir(name);
        let label = ws.prompt_label(name);
        let mut environments = read.environments;
        match &read.past {
            Past::File(h) => history::check_len(&dir, &label, h)?,
            // A file from before `history.jsonl`: derive every `previous`
            // now, so the migrated file has them all.
            Past::Inline(events) => {
                for (env, state) in &mut environments {
                    if state.previous.is_none() {
                        state.previous = Some(previous_of(&stack(events, env)));
                    }
                }
            }
        }
        Ok(Ledger {
            committed: environments.clone(),
            environments,
            past: read.past,
            loaded: None,
            stacks: BTreeMap::new(),
            new: Vec::new(),
            dir,
            label,
        })
    }

    /// `env`'s state (empty if it never had one).
    pub(crate) fn state(&self, env: &str) -> EnvState {
        self.environments.get(env).cloned().unwrap_or_default()
    }

    /// The versions a rollback of `env` walks back to, newest first.
    pub(crate) fn previous(&mut self, env: &str) -> Result<Vec<Version>, Error> {
        match self.committed.get(env) {
            Some(EnvState {
                previous: Some(p), ..
            }) => Ok(p.clone()),
            _ => Ok(previous_of(&self.committed_stack(env)?)),
        }
    }

    /// Whether `version` was ever fully live in `env`. From the state when
    /// it is live or in `previous`; otherwise only the history can say.
    pub(crate) fn was_live(&mut self, env: &str, version: &Version) -> Result<bool, Error> {
        if let Some(s) = self.committed.get(env)
            && (s.active.as_ref() == Some(version)
                || s.previous.as_ref().is_some_and(|p| p.contains(version)))
        {
            return Ok(true);
        }
        Ok(super::state::was_live(self.history()?, env, version))
    }

    /// Sets `event.env`'s state and appends `event` to the history, keeping
    /// `previous` in step with it. Returns the state as it will be written.
    pub(crate) fn record(&mut self, state: EnvState, event: Event) -> Result<EnvState, Error> {
        let env = event.env.clone();
        let mut stack = match self.stacks.remove(&env) {
            Some(s) => s,
            None => self.committed_stack(&env)?,
        };
        step(&mut stack, event.action, &event.version);
        let state = EnvState {
            previous: Some(previous_of(&stack)),
            ..state
        };
        self.stacks.insert(env.clone(), stack);
        self.environments.insert(env, state.clone());
        self.new.push(event);
        Ok(state)
    }

    /// `env`'s stack as committed: `previous` under the live version, or
    /// from the history when `previous` is absent.
    fn committed_stack(&mut self, env: &str) -> Result<Vec<Version>, Error> {
        match self.committed.get(env) {
            Some(EnvState {
                active,
                previous: Some(p),
                ..
            }) => Ok(p.iter().rev().chain(active).cloned().collect()),
            // Every change leaves its environment here, with `previous`: in
            // a file with `history.jsonl`, one that is missing never changed
            // (so its first promotion reads no history).
            None if matches!(self.past, Past::File(_)) => Ok(Vec::new()),
            _ => Ok(stack(self.history()?, env)),
        }
    }

    /// The committed history, read on first use.
    fn history(&mut self) -> Result<&[Event], Error> {
        match &self.past {
            Past::Inline(events) => Ok(events),
            Past::File(h) => {
                if self.loaded.is_none() {
                    self.loaded = Some(history::read(&self.dir, &self.label, h)?);
                }
                Ok(self.loaded.as_deref().unwrap_or_default())
            }
        }
    }

    /// Steps 3 and 4 of the protocol: the history, then `releases.yaml`.
    fn commit(self, releases: &Path) -> Result<(), Error> {
        if self.new.is_empty() {
            return Ok(());
        }
        let lines: String = self.new.iter().map(history::line).collect();
        let file = match &self.past {
            Past::File(h) => self.append(h, &lines)?,
            Past::Inline(old) => self.migrate(old, &lines)?,
        };
        crate::workspace::fsio::crash_point("before-commit");
        let text = crate::workspace::yaml::to_string(&Releases {
            environments: self.environments,
            history: Some(History::File(file)),
        });
        crate::workspace::fsio::write_atomic(releases, text.as_bytes(), Access::Shared)
    }

    /// Appends `lines` after the committed bytes, dropping any uncommitted tail.
    fn append(&self, h: &HistoryFile, lines: &str) -> Result<HistoryFile, Error> {
        crate::workspace::fsio::append_at(&self.dir.join(&h.file), h.bytes, lines.as_bytes())?;
        Ok(HistoryFile {
            file: h.file.clone(),
            entries: h.entries + self.new.len() as u64,
            bytes: h.bytes + lines.len() as u64,
        })
    }

    /// Writes the inline history and `lines` to a new `history.jsonl`, whole.
    fn migrate(&self, old: &[Event], lines: &str) -> Result<HistoryFile, Error> {
        let mut text: String = old.iter().map(history::line).collect();
        text.push_str(lines);
        crate::workspace::fsio::write_atomic(
            &self.dir.join(HISTORY_FILE),
            text.as_bytes(),
            Access::Shared,
        )?;
        Ok(HistoryFile {
            file: HISTORY_FILE.to_string(),
            entries: (old.len() + self.new.len()) as u64,
            bytes: text.len() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::rollout::deploy::state::Action;

    /// A ledger as `open` makes it, from state committed by an earlier one.
    fn reopen(environments: BTreeMap<String, EnvState>, history: Vec<Event>) -> Ledger {
        Ledger {
            committed: environments.clone(),
            environments,
            past: Past::File(HistoryFile::empty()),
            loaded: Some(history),
            stacks: BTreeMap::new(),
            new: Vec::new(),
            dir: PathBuf::new(),
            label: String::new(),
        }
    }

    fn event(env: &str, action: Action, version: u64) -> Event {
        Event {
            at: String::new(),
            env: env.into(),
            action,
            version: Version::new(1, version, 0),
            from: None,
            percent: None,
            by: "t".into(),
            reason: None,
            digest: String::new(),
            run: None,
            skip_gate: false,
        }
    }

    proptest! {
        /// `previous` kept change by change, through one file after another,
        /// is what the whole history says.
        #[test]
        fn previous_kept_by_each_change_matches_the_history(
            changes in prop::collection::vec((0..2usize, 0..3usize, 0..6u64), 0..60)
        ) {
            let mut environments = BTreeMap::new();
            let mut history = Vec::new();
            for (env, action, version) in changes {
                let env = ["staging", "production"][env];
                let action = [Action::Promote, Action::Canary, Action::Rollback][action];
                let e = event(env, action, version);
                let mut ledger = reopen(environments, history.clone());
                let mut state = ledger.state(env);
                if action != Action::Canary {
                    state.active = Some(e.version.clone());
                }
                ledger.record(state, e.clone()).unwrap();
                history.push(e);
                environments = ledger.environments;
                for (env, state) in &environments {
                    let stack = stack(&history, env);
                    prop_assert_eq!(state.previous.as_ref(), Some(&previous_of(&stack)));
                    prop_assert_eq!(state.active.as_ref(), stack.last());
                }
            }
        }
    }
}
