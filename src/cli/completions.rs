//! `promptctl completions`: shell completion scripts.

use super::Context;

/// Print a shell completion script
///
/// Example:
///   promptctl completions bash > ~/.local/share/bash-completion/completions/promptctl
///   promptctl completions zsh > "${fpath[1]}/_promptctl"
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The shell to generate for
    shell: clap_complete::Shell,
}

pub fn run(args: Args, _ctx: &Context) -> anyhow::Result<()> {
    let mut cmd = <super::Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "promptctl", &mut out);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
    Ok(())
}
