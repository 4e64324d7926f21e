//! Evaluation: suites, cases and (in time) the runner, assertions and gates.

pub mod assertions;
pub mod breaker;
pub mod cache;
pub mod case;
pub mod gates;
pub mod judge;
pub mod report;
pub mod results;
pub mod runner;
pub mod session;
pub mod stop;
pub mod suite;
pub mod summary;
