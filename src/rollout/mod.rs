//! Rollout: environments and their history (deploy), canary analysis, A/B
//! statistics, and the production logs both read.

pub mod ab;
pub mod canary;
pub mod deploy;
pub mod prodlog;
