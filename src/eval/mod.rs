//! Evaluation: suites, cases and (in time) the runner, assertions and gates.

pub mod suite;
