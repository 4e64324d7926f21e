//! Prompt artifacts and their released versions: the files of a prompt
//! (spec, variables, template, tokens), canonical hashing, manifests, the
//! version store, releasing, compatibility between versions, and lint.

pub mod artifact;
pub mod canonical;
pub mod compat;
pub mod lint;
pub mod manifest;
pub mod release;
pub mod store;
