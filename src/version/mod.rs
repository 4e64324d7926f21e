//! Prompt artifacts and their released versions: the files of a prompt
//! (spec, variables, template, tokens), canonical hashing, manifests, the
//! version store, releasing, compatibility between versions, and lint.

pub(crate) mod artifact;
pub(crate) mod canonical;
pub(crate) mod compat;
pub(crate) mod lint;
pub(crate) mod manifest;
pub(crate) mod release;
pub(crate) mod store;
