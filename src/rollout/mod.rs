//! Rollout: environments and their history (deploy), canary analysis, A/B
//! statistics, and the production logs both read.

pub(crate) mod ab;
pub(crate) mod canary;
pub mod deploy;
pub(crate) mod prodlog;
