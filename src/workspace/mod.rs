//! The workspace: where `promptctl.yaml` is, and the paths built from it.
//!
//! A workspace is found like git finds a repository: `-C DIR` (or
//! `PROMPTCTL_DIR`) names it, otherwise the nearest folder upwards from the
//! current one that holds `promptctl.yaml`. Every path under `prompts/` is
//! built from a validated [`Name`], never from raw input.

pub(crate) mod bounded;
pub(crate) mod config;
pub(crate) mod env;
pub(crate) mod fsio;
pub(crate) mod git;
pub(crate) mod name;
pub(crate) mod nesting;
pub(crate) mod schema;
pub(crate) mod text;
pub(crate) mod yaml;

use std::path::{Path, PathBuf};

use semver::Version;

use crate::error::Error;
use crate::workspace::config::Config;
use crate::workspace::name::Name;

pub(crate) const CONFIG_FILE: &str = "promptctl.yaml";
pub(crate) const PROMPTS_DIR: &str = "prompts";
pub(crate) const EVALS_DIR: &str = "evals";
pub(crate) const STATE_DIR: &str = ".promptctl";
pub(crate) const VERSIONS_DIR: &str = "versions";
pub(crate) const MANIFEST_FILE: &str = "manifest.yaml";
pub(crate) const CHANGELOG_FILE: &str = "CHANGELOG.md";

#[derive(Debug, Clone)]
pub(crate) struct Workspace {
    pub root: PathBuf,
    pub config: Config,
}

impl Workspace {
    /// Finds and loads the workspace.
    pub(crate) fn discover(dir: Option<&Path>) -> Result<Workspace, Error> {
        let root = match dir {
            Some(d) => {
                if !d.join(CONFIG_FILE).is_file() {
                    return Err(Error::invalid(format!(
                        "`{}` is not a promptctl workspace: it has no `{CONFIG_FILE}`",
                        d.display()
                    ))
                    .with_hint("run `promptctl init` to create one"));
                }
                d.to_path_buf()
            }
            None => {
                let cwd = std::env::current_dir()
                    .map_err(|e| Error::invalid(format!("cannot read the current folder: {e}")))?;
                cwd.ancestors()
                    .find(|d| d.join(CONFIG_FILE).is_file())
                    .map(Path::to_path_buf)
                    .ok_or_else(|| {
                        Error::invalid(format!(
                            "not in a promptctl workspace: no `{CONFIG_FILE}` here or in any parent folder"
                        ))
                        .with_hint("run `promptctl init`, or pass `-C DIR`")
                    })?
            }
        };
        let config = Config::load(&root.join(CONFIG_FILE))?;
        Ok(Workspace { root, config })
    }

    pub(crate) fn prompts_dir(&self) -> PathBuf {
        self.root.join(PROMPTS_DIR)
    }

    pub(crate) fn prompt_dir(&self, name: &Name) -> PathBuf {
        self.prompts_dir().join(name.as_str())
    }

    /// `prompts/<name>`, as errors and output print it.
    pub(crate) fn prompt_label(&self, name: &Name) -> String {
        format!("{PROMPTS_DIR}/{name}")
    }

    pub(crate) fn versions_dir(&self, name: &Name) -> PathBuf {
        self.prompt_dir(name).join(VERSIONS_DIR)
    }

    pub(crate) fn version_dir(&self, name: &Name, version: &Version) -> PathBuf {
        self.versions_dir(name).join(version.to_string())
    }

    pub(crate) fn version_label(&self, name: &Name, version: &Version) -> String {
        format!("{PROMPTS_DIR}/{name}/{VERSIONS_DIR}/{version}")
    }

    pub(crate) fn evals_dir(&self) -> PathBuf {
        self.root.join(EVALS_DIR)
    }

    pub(crate) fn state_dir(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    /// Every prompt folder under `prompts/`, sorted. Folders whose name is not
    /// a valid prompt name are skipped here and reported by `lint`.
    pub(crate) fn prompt_names(&self) -> Result<Vec<Name>, Error> {
        let dir = self.prompts_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(crate::error::io_invalid(&dir, &e)),
        };
        let mut names = Vec::new();
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if let Some(name) = entry.file_name().to_str().and_then(|n| Name::parse(n).ok()) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Checks that a prompt exists (as a draft or with versions).
    pub(crate) fn require_prompt(&self, name: &Name) -> Result<(), Error> {
        if self.prompt_dir(name).is_dir() {
            return Ok(());
        }
        let known = self.prompt_names().unwrap_or_default();
        let mut err = Error::invalid(format!("no prompt named `{name}` in `{PROMPTS_DIR}/`"));
        if let Some(best) =
            crate::workspace::yaml::closest(name.as_str(), known.iter().map(Name::as_str))
        {
            err = err.with_hint(format!("did you mean `{best}`?"));
        } else {
            err = err.with_hint(format!("create it with `promptctl new {name}`"));
        }
        Err(err)
    }
}
