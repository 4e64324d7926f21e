//! Environments: which version is live where, the canary split, and the
//! append-only history of every change.
//!
//! Two files per prompt. `prompts/<name>/releases.yaml` is small: each
//! environment's `active` version, its `canary`, and `previous`, the
//! versions `rollback` walks back to; and a reference to the history,
//! `history: { file: history.jsonl, entries: N, bytes: B }`.
//! `prompts/<name>/history.jsonl` holds the history, one JSON event a line,
//! oldest first, and is only ever appended to.
//!
//! `releases.yaml` is the commit point: the history is exactly the first `B`
//! bytes (`N` lines) of `history.jsonl`. Anything after them is a tail left
//! by an interrupted write, which readers ignore and the next writer cuts
//! off. A file shorter than `B`, or a prefix of another number of lines,
//! means committed audit history was lost or changed: exit 4.
//!
//! SPEC §7 has the history inline in `releases.yaml`. That made every change
//! read, rewrite and fsync the whole history (15 ms for a rollback at 10,000
//! entries, growing with every entry). Now a change appends a line and
//! rewrites a file of a few hundred bytes, and a plain rollback never opens
//! the history: it decides from `previous`. `git diff` of `releases.yaml`
//! shows the state change alone.
//!
//! # Updates ([`update`])
//!
//! Under the prompt's lock (`.promptctl/locks/<name>.releases.lock`):
//!
//! 1. read `releases.yaml`, and check (a stat, not a read) that
//!    `history.jsonl` is at least `B` bytes long;
//! 2. the change decides from the environments and `previous`; only when it
//!    needs to (`rollback --to` a version no longer in `previous`, a
//!    promotion path) does it read the committed history. If it refuses, or
//!    there is nothing to do, nothing is written;
//! 3. cut `history.jsonl` back to `B` bytes, append the new lines at `B`,
//!    fsync it (and the folder if the file was just created);
//! 4. write `releases.yaml` with the new state and the new `N` and `B`:
//!    temp file, fsync, rename, fsync the folder.
//!
//! Crash analysis. A crash before step 3 changes nothing. A crash in step 3,
//! or after it but before the rename in step 4, leaves the old
//! `releases.yaml`, which still commits the old `B`: the new lines, whole or
//! torn, are an uncommitted tail, so readers see the old state with the old
//! history, and the next writer cuts the tail off before it appends. After
//! the rename, the new state and its entries are committed together; the
//! appended bytes were fsynced before the rename, so a committed `B` never
//! points past what reached the disk. Writers take turns (the lock); readers
//! take no lock and need none, as committed bytes are never rewritten.
//!
//! # Files from before `history.jsonl`
//!
//! They hold the history inline: one JSON line per entry (`- {…}`, what
//! promptctl wrote), or block YAML written by hand. Both still load. The next
//! change migrates: it writes `history.jsonl` in full (temp file and rename,
//! not an append), then `releases.yaml`. A crash between the two leaves the
//! old `releases.yaml`, which does not reference the new file and so still
//! wins; the next change migrates again, replacing it.

pub(crate) mod actions;
pub mod bucket;
pub(crate) mod decision;
pub(crate) mod gate;
mod history;
mod ledger;
pub(crate) mod load;
pub(crate) mod state;
pub(crate) use ledger::{Ledger, update};

pub(crate) use load::*;
pub(crate) use state::*;
