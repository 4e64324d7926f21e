//! The git commit a release was made from, if the workspace is in a git repository.
//!
//! `HEAD` is read straight from `.git` (loose ref, packed ref, or detached),
//! which costs microseconds; spawning `git rev-parse` cost 3–9 ms of a
//! release's 20 ms budget. Anything unusual (reftable, an odd layout) falls
//! back to running git itself. `GIT_CEILING_DIRECTORIES` is honoured.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `HEAD`'s commit id, or `None` outside a repository, before the first
/// commit, or when git is not installed. Never an error: it is provenance.
pub(crate) fn head_commit(dir: &Path) -> Option<String> {
    let git_dir = find_git_dir(dir)?;
    match read_head(&git_dir) {
        Read::Commit(id) => Some(id),
        Read::Unborn => None,
        Read::Unsure => spawn_git(dir),
    }
}

enum Read {
    Commit(String),
    Unborn,
    Unsure,
}

fn find_git_dir(dir: &Path) -> Option<PathBuf> {
    let ceilings: Vec<PathBuf> = std::env::var_os("GIT_CEILING_DIRECTORIES")
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    let start = dir.canonicalize().ok()?;
    for d in start.ancestors() {
        let dot_git = d.join(".git");
        if dot_git.is_dir() {
            return Some(dot_git);
        }
        if dot_git.is_file() {
            // A worktree or submodule: `gitdir: <path>`.
            let text = std::fs::read_to_string(&dot_git).ok()?;
            let target = text.strip_prefix("gitdir:")?.trim();
            return Some(d.join(target));
        }
        if ceilings
            .iter()
            .any(|c| c == d || c.canonicalize().is_ok_and(|c| c == d))
        {
            return None;
        }
    }
    None
}

fn read_head(git_dir: &Path) -> Read {
    let Ok(head) = std::fs::read_to_string(git_dir.join("HEAD")) else {
        return Read::Unsure;
    };
    let head = head.trim();
    let Some(refname) = head.strip_prefix("ref:").map(str::trim) else {
        return if is_id(head) {
            Read::Commit(head.to_string())
        } else {
            Read::Unsure
        };
    };
    // Refs live in the common dir for linked worktrees.
    let common = match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(c) => git_dir.join(c.trim()),
        Err(_) => git_dir.to_path_buf(),
    };
    for base in [git_dir, common.as_path()] {
        if let Ok(id) = std::fs::read_to_string(base.join(refname)) {
            let id = id.trim();
            return if is_id(id) {
                Read::Commit(id.to_string())
            } else {
                Read::Unsure
            };
        }
    }
    if let Ok(packed) = std::fs::read_to_string(common.join("packed-refs")) {
        for line in packed.lines() {
            if let Some((id, name)) = line.split_once(' ')
                && name == refname
                && is_id(id)
            {
                return Read::Commit(id.to_string());
            }
        }
    }
    if common.join("reftable").exists() {
        return Read::Unsure;
    }
    Read::Unborn
}

/// Whether every file under `path` (a folder of the repository at `root`)
/// is tracked by git and unchanged from `HEAD`. `false` when `root` is not
/// in a repository, git is missing, or anything there is new or edited.
pub(crate) fn committed_unchanged(root: &Path, path: &Path) -> bool {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .arg("--")
            .arg(path)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    let tracked = git(&["ls-files"]).is_some_and(|o| !o.stdout.is_empty());
    let clean = git(&["status", "--porcelain", "--untracked-files=all"])
        .is_some_and(|o| o.stdout.is_empty());
    tracked && clean
}

fn is_id(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.chars().all(|c| c.is_ascii_hexdigit())
}

fn spawn_git(dir: &Path) -> Option<String> {
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
    is_id(&id).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "git {args:?}");
    }

    #[test]
    fn agrees_with_git_for_loose_packed_and_unborn_heads() {
        if spawn_git(Path::new("/")).is_some()
            || Command::new("git").arg("--version").output().is_err()
        {
            return; // no git here, or `/` is itself in a repository
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        git(dir, &["init", "-q", "-b", "main"]);
        assert_eq!(head_commit(dir), None, "unborn branch");
        git(dir, &["commit", "-q", "--allow-empty", "-m", "one"]);
        assert_eq!(head_commit(dir), spawn_git(dir), "loose ref");
        git(dir, &["pack-refs", "--all"]);
        assert!(!dir.join(".git/refs/heads/main").exists());
        assert_eq!(head_commit(dir), spawn_git(dir), "packed ref");
        git(dir, &["checkout", "-q", "--detach"]);
        assert_eq!(head_commit(dir), spawn_git(dir), "detached");
        let sub = dir.join("prompts/x");
        std::fs::create_dir_all(&sub).unwrap();
        assert_eq!(head_commit(&sub), spawn_git(dir), "from a subfolder");
    }
}
