//! Evidence packs (SPEC §6): what a release owner attaches to a launch and
//! what an auditor opens a year later.
//!
//! A pack is the folder `evidence/<name>/<version>/` with `evidence.json`
//! (the data), `evidence.md` and `evidence.html` (two renderings of it) and
//! `SHA256SUMS` (`sha256sum -c` format). The data is gathered once
//! ([`collect`]), redacted field by field as it is gathered, and both
//! renderings are pure functions of it, so the same inputs give the same
//! bytes; the only clock read is `generated_at` (`SOURCE_DATE_EPOCH` when
//! set). [`check`] re-verifies a pack: every file against `SHA256SUMS`, no
//! file unlisted, and the digest the pack names against the released
//! version's manifest.

mod charts;
pub(crate) mod check;
mod collect;
mod html;
mod markdown;
pub(crate) mod pack;
mod write;
pub(crate) use collect::{Request, collect};
pub(crate) use write::write;

pub(crate) use pack::*;
