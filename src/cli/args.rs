//! Argument parsers and the argument groups several commands share, each
//! flattened into the commands' `Args` so that it reads and helps the same
//! everywhere.

use crate::rollout::deploy::bucket::{Percent, PercentError};
use crate::workspace::name::{Name, PromptRef};

/// Parses a `name` or `name@X.Y.Z` argument for clap.
pub(crate) fn prompt_ref(s: &str) -> Result<PromptRef, String> {
    PromptRef::parse(s).map_err(|e| e.message().to_string())
}

/// Parses a prompt name argument for clap.
pub(crate) fn prompt_name(s: &str) -> Result<Name, String> {
    Name::parse(s).map_err(|e| e.message().to_string())
}

/// Parses a canary percent for clap: whole basis points, 0 < PCT < 100.
pub(crate) fn percent(s: &str) -> Result<Percent, String> {
    Percent::parse(s).map_err(|e| match e {
        PercentError::OutOfRange(_) => {
            format!("{e}; to send all traffic, promote without `--canary`")
        }
        e => e.to_string(),
    })
}

/// `--env ENV`: one of the environments `promptctl.yaml` defines.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct EnvArg {
    /// The environment, as named under `environments:` in promptctl.yaml
    #[arg(long, value_name = "ENV")]
    pub env: String,
}

/// `NAME --env ENV`: a prompt and one of its environments.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PromptEnv {
    /// The prompt, by its folder name under prompts/
    #[arg(value_name = "NAME", value_parser = prompt_name)]
    pub name: Name,
    /// The environment, as named under `environments:` in promptctl.yaml
    #[arg(long, value_name = "ENV")]
    pub env: String,
}
