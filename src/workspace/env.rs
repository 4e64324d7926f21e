//! Every environment variable promptctl reads, in one place.

/// Run against another workspace; the same as `-C DIR`.
pub(crate) const PROMPTCTL_DIR: &str = "PROMPTCTL_DIR";
/// `auto`, `always` or `never`; the same as `--color`.
pub(crate) const PROMPTCTL_COLOR: &str = "PROMPTCTL_COLOR";
/// Any value but empty, `0`, `false`, `no` or `off`: the same as `--quiet`.
pub(crate) const PROMPTCTL_QUIET: &str = "PROMPTCTL_QUIET";
/// Any value disables colour (https://no-color.org), unless `--color always`.
pub(crate) const NO_COLOR: &str = "NO_COLOR";
/// Seconds since the epoch; pins every timestamp promptctl writes, for
/// reproducible builds and tests (https://reproducible-builds.org/specs/source-date-epoch/).
pub(crate) const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";
/// The provider for `eval`; the same as `--provider`.
pub(crate) const PROMPTCTL_PROVIDER: &str = "PROMPTCTL_PROVIDER";
/// Cases evaluated at once; the same as `-j`.
pub(crate) const PROMPTCTL_CONCURRENCY: &str = "PROMPTCTL_CONCURRENCY";
/// Any value other than `false`/`0` disables the response cache; the same as `--no-cache`.
pub(crate) const PROMPTCTL_NO_CACHE: &str = "PROMPTCTL_NO_CACHE";
/// The run's time budget in seconds; the same as `--max-time`.
pub(crate) const PROMPTCTL_MAX_TIME: &str = "PROMPTCTL_MAX_TIME";
/// Seconds between the lines an `eval` without a progress bar (stderr not
/// a terminal) writes to say how far it got: 1 to 3600, default 10; `0`
/// writes none.
pub(crate) const PROMPTCTL_HEARTBEAT: &str = "PROMPTCTL_HEARTBEAT";
/// Set by GitHub Actions: the Markdown summary of an eval is appended to it.
pub(crate) const GITHUB_STEP_SUMMARY: &str = "GITHUB_STEP_SUMMARY";
/// Who is recorded as making a change (promote, rollback); else git's `user.name`, else `$USER`.
pub(crate) const PROMPTCTL_USER: &str = "PROMPTCTL_USER";
/// For tests only: `mid-append` or `before-commit` makes a change to
/// `releases.yaml` exit at once at that step of its write, as if killed
/// (see `fsio::crash_point`).
pub(crate) const PROMPTCTL_TEST_CRASH_AT: &str = "PROMPTCTL_TEST_CRASH_AT";
