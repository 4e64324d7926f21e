//! Privacy: redaction of PII and secrets from everything shareable, and the
//! detection of secrets written into prompt files.

pub(crate) mod redact;
pub(crate) mod secrets;
