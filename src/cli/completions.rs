//! `promptctl completions`: shell completion scripts.

use super::context::Context;

/// Print a shell completion script
///
/// Example:
///   promptctl completions bash > ~/.local/share/bash-completion/completions/promptctl
///   promptctl completions zsh > "${fpath[1]}/_promptctl"
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// The shell to generate for
    shell: clap_complete::Shell,
}

/// Writes the script for `cmd`, the whole command line (passed in, as this
/// file is one of its parts).
pub(super) fn run(args: Args, ctx: &Context, mut cmd: clap::Command) -> anyhow::Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "promptctl", &mut out);
    ctx.printer.out(&String::from_utf8_lossy(&out));
    Ok(())
}
