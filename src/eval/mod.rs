//! Evaluation: suites, cases and (in time) the runner, assertions and gates.

pub mod suite;
pub mod assertions;
pub mod cache;
pub mod judge;
pub mod gates;
pub mod results;
pub mod summary;
pub mod runner;
pub mod session;
pub mod report;
