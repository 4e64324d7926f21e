//! Every environment variable promptctl reads, in one place.

/// Run against another workspace; the same as `-C DIR`.
pub const PROMPTCTL_DIR: &str = "PROMPTCTL_DIR";
/// `auto`, `always` or `never`; the same as `--color`.
pub const PROMPTCTL_COLOR: &str = "PROMPTCTL_COLOR";
/// Any value disables colour (https://no-color.org), unless `--color always`.
pub const NO_COLOR: &str = "NO_COLOR";
/// Seconds since the epoch; pins every timestamp promptctl writes, for
/// reproducible builds and tests (https://reproducible-builds.org/specs/source-date-epoch/).
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";
