//! Evaluation: suites, cases and (in time) the runner, assertions and gates.

pub(crate) mod assertions;
pub(crate) mod breaker;
pub(crate) mod cache;
pub(crate) mod case;
pub(crate) mod compare;
pub(crate) mod conversation;
pub(crate) mod gates;
pub(crate) mod judge;
pub(crate) mod report;
pub(crate) mod results;
pub(crate) mod runner;
pub(crate) mod session;
pub(crate) mod stop;
pub(crate) mod suite;
pub(crate) mod summary;
pub(crate) mod trajectory;
