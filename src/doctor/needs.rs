//! What the workspace needs a doctor to look at: its suite files, and the
//! providers that its suites and prompts use.

use super::check::plural;
use crate::error::Error;
use crate::eval::suite::Suite;
use crate::version::artifact::Artifact;
use crate::workspace::Workspace;
use crate::workspace::config::ProviderType;
use crate::workspace::name::{Name, PromptRef};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A suite file and what became of loading it.
pub(super) struct SuiteFile {
    pub(super) name: String,
    pub(super) label: String,
    pub(super) loaded: Result<Suite, Error>,
}

pub(super) fn suites(ws: &Workspace) -> Vec<SuiteFile> {
    Suite::all_by_path(ws)
        .into_iter()
        .map(|(path, loaded)| SuiteFile {
            name: stem(&path),
            label: path
                .strip_prefix(&ws.root)
                .unwrap_or(&path)
                .display()
                .to_string(),
            loaded,
        })
        .collect()
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Who uses a provider: suites that run on it (it is needed), and prompts
/// whose `model.provider` names it.
#[derive(Debug, Default)]
pub(super) struct Use {
    suites: BTreeSet<String>,
    prompts: BTreeSet<String>,
}

impl Use {
    pub(super) fn needed(&self) -> bool {
        !self.suites.is_empty()
    }

    pub(super) fn describe(&self) -> String {
        let list = |set: &BTreeSet<String>| {
            set.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if self.needed() {
            format!(
                "suite{} {} run{} on it",
                plural(self.suites.len()),
                list(&self.suites),
                if self.suites.len() == 1 { "s" } else { "" }
            )
        } else {
            format!(
                "named by prompt{} {}; no suite runs on it",
                plural(self.prompts.len()),
                list(&self.prompts)
            )
        }
    }
}

/// The prompt a suite tests, as `eval` resolves it (without verifying).
pub(super) fn model_provider(ws: &Workspace, r: &PromptRef) -> Option<String> {
    match &r.version {
        None => Artifact::load(&ws.prompt_dir(&r.name), &ws.prompt_label(&r.name), &r.name)
            .ok()
            .map(|a| a.spec.model.provider),
        Some(v) => crate::version::store::read_manifest(ws, &r.name, v)
            .ok()
            .map(|m| m.model.provider),
    }
}

/// The provider a suite runs on and, unless that replays, its judge's.
pub(super) fn suite_providers(ws: &Workspace, suite: &Suite) -> Vec<String> {
    let main = suite.spec.provider.clone().or_else(|| {
        PromptRef::parse(&suite.spec.prompt)
            .ok()
            .and_then(|r| model_provider(ws, &r))
    });
    let Some(main) = main else {
        return Vec::new();
    };
    let replays = ws
        .config
        .providers
        .get(&main)
        .is_some_and(|p| p.kind == ProviderType::Replay);
    let mut out = vec![main];
    if let Some(r) = &suite.spec.rubric
        && !replays
    {
        out.push(r.judge.provider.clone());
    }
    out
}

pub(super) fn uses(
    ws: &Workspace,
    prompts: &[Name],
    suites: &[SuiteFile],
) -> BTreeMap<String, Use> {
    let mut uses: BTreeMap<String, Use> = BTreeMap::new();
    for name in prompts {
        if let Ok(a) = Artifact::load(&ws.prompt_dir(name), &ws.prompt_label(name), name) {
            uses.entry(a.spec.model.provider)
                .or_default()
                .prompts
                .insert(name.to_string());
        }
    }
    for s in suites {
        if let Ok(suite) = &s.loaded {
            for p in suite_providers(ws, suite) {
                uses.entry(p).or_default().suites.insert(s.name.clone());
            }
        }
    }
    uses
}
