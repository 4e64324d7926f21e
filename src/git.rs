//! The git commit a release was made from, if the workspace is in a git repository.

use std::path::Path;
use std::process::{Command, Stdio};

/// `HEAD`'s commit id, or `None` outside a repository, before the first
/// commit, or when git is not installed. Never an error: it is provenance.
pub fn head_commit(dir: &Path) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--verify", "--quiet", "HEAD"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let id = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (id.len() >= 40 && id.chars().all(|c| c.is_ascii_hexdigit())).then_some(id)
}
