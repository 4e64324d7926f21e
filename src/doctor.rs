//! `doctor`: is this workspace ready to work? One row per check, each ok,
//! warn or fail, with a hint for everything that is not ok.
//!
//! The design decision to know: a provider's problems are failures only when
//! something promptctl runs needs it: the provider a suite runs on, and its
//! judge unless the suite replays its cassette (as `eval` does). A provider
//! that only a prompt's `model.provider` names, with every suite overriding
//! it, gets warnings: the workspace works without it. Each failure carries the
//! class of error the command that hits it would exit with, so `doctor`
//! exits with the code CI would see later: 3 for a missing key or a provider
//! down, 2 for a broken file, 4 for a tampered version.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::artifact::Artifact;
use crate::config::ProviderType;
use crate::error::{Class, Error};
use crate::eval::results::Run;
use crate::eval::suite::{CasesSpec, Suite};
use crate::name::{Name, PromptRef};
use crate::provider::http::Probe;
use crate::store::Outcome;
use crate::workspace::{CONFIG_FILE, Workspace};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked, e.g. `key openai`, `suite support`.
    pub check: String,
    pub status: Status,
    pub detail: String,
    /// The next step; set for every warning and failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// For a failure: what kind of "no" it is, and so the exit code.
    #[serde(skip)]
    pub class: Option<Class>,
}

impl Check {
    fn ok(check: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            check: check.into(),
            status: Status::Ok,
            detail: detail.into(),
            hint: None,
            class: None,
        }
    }

    fn warn(check: impl Into<String>, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check {
            check: check.into(),
            status: Status::Warn,
            detail: detail.into(),
            hint: Some(hint.into()),
            class: None,
        }
    }

    fn fail(
        class: Class,
        check: impl Into<String>,
        detail: impl Into<String>,
        hint: impl Into<String>,
    ) -> Check {
        Check {
            check: check.into(),
            status: Status::Fail,
            detail: detail.into(),
            hint: Some(hint.into()),
            class: Some(class),
        }
    }

    /// A failure when `needed`, else a warning.
    fn bad(
        needed: bool,
        class: Class,
        check: impl Into<String>,
        detail: impl Into<String>,
        hint: impl Into<String>,
    ) -> Check {
        if needed {
            Check::fail(class, check, detail, hint)
        } else {
            Check::warn(check, detail, hint)
        }
    }
}

/// The class of the worst failure (4 over 3 over 2), or `None` when
/// nothing failed.
pub fn worst(checks: &[Check]) -> Option<Class> {
    checks.iter().filter_map(|c| c.class).max()
}

/// What `doctor` may spend.
#[derive(Debug, Clone)]
pub struct Options {
    /// For each provider's request, connecting included.
    pub timeout: Duration,
}

/// Runs every check. `ws` was loaded, so `promptctl.yaml` is valid.
pub fn run(ws: &Workspace, opts: &Options) -> Result<Vec<Check>, Error> {
    let mut checks = vec![config(ws)];
    let prompts = ws.prompt_names()?;
    let suites = suites(ws);
    let uses = uses(ws, &prompts, &suites);
    checks.extend(providers(ws, &uses, opts)?);
    for suite in &suites {
        checks.extend(suite_checks(ws, suite));
    }
    checks.extend(versions(ws, &prompts)?);
    Ok(checks)
}

fn config(ws: &Workspace) -> Check {
    let c = &ws.config;
    Check::ok(
        "config",
        format!(
            "`{CONFIG_FILE}`: {} provider{}, {} environment{}",
            c.providers.len(),
            plural(c.providers.len()),
            c.environments.len(),
            plural(c.environments.len())
        ),
    )
}

/// A suite file and what became of loading it.
struct SuiteFile {
    name: String,
    label: String,
    loaded: Result<Suite, Error>,
}

fn suites(ws: &Workspace) -> Vec<SuiteFile> {
    let Ok(entries) = std::fs::read_dir(ws.evals_dir()) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    paths.sort();
    let files: Vec<(PathBuf, SuiteFile)> = paths
        .into_iter()
        .map(|path| {
            let file = SuiteFile {
                name: stem(&path),
                label: path
                    .strip_prefix(&ws.root)
                    .unwrap_or(&path)
                    .display()
                    .to_string(),
                loaded: Suite::load(ws, &path.to_string_lossy()),
            };
            (path, file)
        })
        .collect();
    // A YAML list of cases beside its suite is a dataset, not a suite.
    let datasets: HashSet<PathBuf> = files
        .iter()
        .filter_map(|(_, f)| f.loaded.as_ref().ok())
        .filter_map(|s| match &s.spec.cases {
            CasesSpec::File(f) => Some(s.path.parent().unwrap_or(Path::new(".")).join(f)),
            CasesSpec::Inline(_) => None,
        })
        .collect();
    files
        .into_iter()
        .filter(|(path, _)| !datasets.contains(path))
        .map(|(_, file)| file)
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
struct Use {
    suites: BTreeSet<String>,
    prompts: BTreeSet<String>,
}

impl Use {
    fn needed(&self) -> bool {
        !self.suites.is_empty()
    }

    fn describe(&self) -> String {
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
fn model_provider(ws: &Workspace, r: &PromptRef) -> Option<String> {
    match &r.version {
        None => Artifact::load(&ws.prompt_dir(&r.name), &ws.prompt_label(&r.name), &r.name)
            .ok()
            .map(|a| a.spec.model.provider),
        Some(v) => crate::store::read_manifest(ws, &r.name, v)
            .ok()
            .map(|m| m.model.provider),
    }
}

/// The provider a suite runs on and, unless that replays, its judge's.
fn suite_providers(ws: &Workspace, suite: &Suite) -> Vec<String> {
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

fn uses(ws: &Workspace, prompts: &[Name], suites: &[SuiteFile]) -> BTreeMap<String, Use> {
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

fn providers(
    ws: &Workspace,
    uses: &BTreeMap<String, Use>,
    opts: &Options,
) -> Result<Vec<Check>, Error> {
    let mut checks = Vec::new();
    let mut probes = Vec::new();
    for (name, used) in uses {
        let row = format!("provider {name}");
        let Some(p) = ws.config.providers.get(name) else {
            let mut hint = format!("define `{name}` under `providers:` in `{CONFIG_FILE}`");
            let names = ws.config.providers.keys().map(String::as_str);
            if let Some(best) = crate::yaml::closest(name, names) {
                hint = format!("did you mean `{best}`?");
            }
            checks.push(Check::fail(
                Class::Invalid,
                row,
                format!("not defined in `{CONFIG_FILE}`; {}", used.describe()),
                hint,
            ));
            continue;
        };
        let needed = used.needed();
        let network = matches!(p.kind, ProviderType::Openai | ProviderType::Anthropic);
        if !network {
            let what = match p.kind {
                ProviderType::Replay => "offline: answers from each suite's cassette",
                _ => "offline: answers with the rendered prompt",
            };
            checks.push(Check::ok(row, format!("{what}; {}", used.describe())));
            continue;
        }
        if let Some(var) = &p.api_key_env {
            let key_row = format!("key {name}");
            if crate::provider::key::ApiKey::from_env(name, var).is_err() {
                checks.push(Check::bad(
                    needed,
                    Class::Incomplete,
                    key_row,
                    format!(
                        "`{var}` is not set, so `{name}` was not tried; {}",
                        used.describe()
                    ),
                    format!("export {var}=… (promptctl reads keys only from the environment)"),
                ));
                continue;
            }
            checks.push(Check::ok(key_row, format!("`{var}` is set")));
        }
        match crate::provider::HealthCheck::new(&ws.config, name, opts.timeout) {
            Ok(Some(check)) => probes.push((name.clone(), needed, check)),
            Ok(None) => {}
            Err(e) => checks.push(Check::bad(
                needed,
                e.class(),
                row,
                e.message(),
                e.hint().unwrap_or("check the provider in `promptctl.yaml`"),
            )),
        }
    }
    if probes.is_empty() {
        return Ok(checks);
    }
    // Every provider at once, so the whole report takes one timeout at most.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::incomplete(format!("cannot start the async runtime: {e}")))?;
    let results = runtime.block_on(futures_util::future::join_all(
        probes.iter().map(|(_, _, check)| check.run()),
    ));
    for ((name, needed, check), probe) in probes.iter().zip(results) {
        let p = &ws.config.providers[name];
        checks.push(probe_row(
            name,
            *needed,
            check.url(),
            p,
            probe,
            opts.timeout,
        ));
    }
    Ok(checks)
}

fn probe_row(
    name: &str,
    needed: bool,
    url: &str,
    p: &crate::config::Provider,
    probe: Probe,
    timeout: Duration,
) -> Check {
    let row = format!("provider {name}");
    let get = format!("`GET {url}`");
    match probe {
        Probe::Ok { status, elapsed } => Check::ok(
            row,
            format!(
                "reachable: {get} answered {status} in {} ms",
                elapsed.as_millis()
            ),
        ),
        Probe::Unreachable(message) => {
            let message = if message.contains("timed out") {
                format!(
                    "unreachable: no answer within {} s ({message})",
                    timeout.as_secs_f64()
                )
            } else {
                format!("unreachable: {message}")
            };
            Check::bad(
                needed,
                Class::Incomplete,
                row,
                message,
                "is the server up, and is `base_url` right? (`doctor --timeout SECS` waits longer)",
            )
        }
        Probe::KeyRejected { status, message } => Check::bad(
            needed,
            Class::Incomplete,
            row,
            format!("key rejected ({status}): {message}"),
            match &p.api_key_env {
                Some(var) => format!("check the key in `{var}`: the server refused it"),
                None => format!("the server wants a key: set `api_key_env` for `{name}`"),
            },
        ),
        Probe::ServerError { status, message } => Check::bad(
            needed,
            Class::Incomplete,
            row,
            format!("server error ({status}): {message}"),
            "the provider is failing; try again later or check its status page",
        ),
        Probe::RateLimited(message) => Check::warn(
            row,
            format!("reachable, but rate-limited: {message}"),
            "the key works; the provider asks to slow down (`rps` in `promptctl.yaml`)",
        ),
        Probe::Unexpected { status, message } => Check::warn(
            row,
            format!("reachable, but {get} answered {status}: {message}"),
            "the server may not offer a model list; `eval` will tell whether chat calls work",
        ),
    }
}

/// The newest saved run of a suite (by name), whatever the prompt.
fn last_run(ws: &Workspace, suite: &str) -> Option<Run> {
    let entries = std::fs::read_dir(ws.state_dir().join("runs")).ok()?;
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    // Run ids start with the UTC time, so the name order is the time order.
    paths.sort();
    paths
        .iter()
        .rev()
        .filter_map(|p| Run::load(p).ok())
        .find(|r| r.header.suite.name == suite)
}

fn suite_checks(ws: &Workspace, file: &SuiteFile) -> Vec<Check> {
    let row = format!("suite {}", file.name);
    let suite = match &file.loaded {
        Ok(s) => s,
        Err(e) => {
            return vec![Check::fail(
                Class::Invalid,
                row,
                e.message(),
                e.hint()
                    .unwrap_or("fix the suite file; `promptctl lint` reports the same"),
            )];
        }
    };
    let invalid =
        |detail: String, hint: &str| vec![Check::fail(Class::Invalid, row.clone(), detail, hint)];
    let prompt = match PromptRef::parse(&suite.spec.prompt) {
        Ok(r) => r,
        Err(e) => {
            return invalid(
                format!("`{}`: prompt: {}", file.label, e.message()),
                "`prompt:` is a prompt name, or `name@X.Y.Z` for a released version",
            );
        }
    };
    let prompt_problem = match &prompt.version {
        None => Artifact::load(
            &ws.prompt_dir(&prompt.name),
            &ws.prompt_label(&prompt.name),
            &prompt.name,
        )
        .err()
        .map(|e| format!("prompt `{}` does not load: {}", prompt.name, e.message())),
        Some(v) => (!ws.version_dir(&prompt.name, v).is_dir())
            .then(|| format!("prompt `{}@{v}` is not released", prompt.name)),
    };
    if let Some(problem) = prompt_problem {
        return invalid(problem, "see the prompts with `promptctl list`");
    }
    let providers = suite_providers(ws, suite);
    let Some(main) = providers.first() else {
        return invalid(
            format!("`{}`: no provider to run on", file.label),
            "set `provider:` in the suite",
        );
    };
    let kind = ws.config.providers.get(main).map(|p| p.kind);
    let replays = kind == Some(ProviderType::Replay);

    // Checksums: what the newest run recorded, against the files now.
    let last = last_run(ws, &suite.name);
    let rerun = format!(
        "re-run `promptctl eval {}` so results match the files",
        suite.name
    );
    let mut checks = Vec::new();
    let sha = crate::canonical::sha256(&std::fs::read(&suite.path).unwrap_or_default());
    let about = format!(
        "prompt `{}`{}, provider `{main}`{}",
        prompt.name,
        match &prompt.version {
            Some(v) => format!(" {v}"),
            None => " (draft)".into(),
        },
        if providers.len() > 1 {
            format!(", judge `{}`", providers[1])
        } else {
            String::new()
        }
    );
    checks.push(match &last {
        Some(run) if run.header.suite.sha256 != sha => Check::warn(
            row.clone(),
            format!(
                "{about}; changed since the last run `{}`",
                run.header.run_id
            ),
            rerun.clone(),
        ),
        Some(run) => Check::ok(
            row.clone(),
            format!("{about}; as in the last run `{}`", run.header.run_id),
        ),
        None => Check::ok(row.clone(), format!("{about}; not run yet")),
    });

    let (dataset, ids) = dataset(ws, suite, last.as_ref(), &rerun);
    checks.push(dataset);
    // The provider to record with: the prompt's own, when it is a live one.
    let live = model_provider(ws, &prompt).filter(|p| {
        ws.config
            .providers
            .get(p)
            .is_some_and(|p| matches!(p.kind, ProviderType::Openai | ProviderType::Anthropic))
    });
    if let Some(c) = cassette(ws, suite, replays, ids.as_ref(), live.as_deref()) {
        checks.push(c);
    }
    checks
}

/// The dataset row, and the case ids when the cases parse.
fn dataset(
    ws: &Workspace,
    suite: &Suite,
    last: Option<&Run>,
    rerun: &str,
) -> (Check, Option<Vec<String>>) {
    let row = format!("dataset {}", suite.name);
    let what = match &suite.spec.cases {
        CasesSpec::File(f) => {
            let path = suite.path.parent().unwrap_or(Path::new(".")).join(f);
            format!(
                "`{}`",
                path.strip_prefix(&ws.root).unwrap_or(&path).display()
            )
        }
        CasesSpec::Inline(_) => "inline".to_string(),
    };
    let reader = match suite.cases() {
        Ok(r) => r,
        Err(e) => {
            return (
                Check::fail(
                    Class::Invalid,
                    row,
                    e.message(),
                    "the cases file must exist beside the suite and parse",
                ),
                None,
            );
        }
    };
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    for case in reader {
        let case = match case {
            Ok(c) => c,
            Err(e) => {
                return (
                    Check::fail(
                        Class::Invalid,
                        row,
                        e.message(),
                        "fix that case; each is `{ id, vars, expected?, segment?, tags?, assert? }`",
                    ),
                    None,
                );
            }
        };
        if !seen.insert(case.id.clone()) {
            return (
                Check::fail(
                    Class::Invalid,
                    row,
                    format!("{what}: case id `{}` appears twice", case.id),
                    "give every case its own id",
                ),
                None,
            );
        }
        ids.push(case.id);
    }
    let count = format!("{what}: {} case{}", ids.len(), plural(ids.len()));
    let check = if ids.is_empty() {
        Check::warn(row, count, "a run with no cases never passes: add cases")
    } else {
        let now = crate::eval::session::dataset_sha256(suite);
        match last {
            Some(run) if run.header.suite.dataset_sha256 != now => Check::warn(
                row,
                format!(
                    "{count}; changed since the last run `{}`",
                    run.header.run_id
                ),
                rerun,
            ),
            Some(run) => Check::ok(
                row,
                format!("{count}; sha256 as in the last run `{}`", run.header.run_id),
            ),
            None => Check::ok(row, format!("{count}; not run yet")),
        }
    };
    (check, Some(ids))
}

/// The cassette row: needed (and complete) when the suite replays; checked
/// when present otherwise.
fn cassette(
    ws: &Workspace,
    suite: &Suite,
    replays: bool,
    ids: Option<&Vec<String>>,
    live: Option<&str>,
) -> Option<Check> {
    let row = format!("cassette {}", suite.name);
    let path = ws
        .evals_dir()
        .join("cassettes")
        .join(format!("{}.jsonl", suite.name));
    let label = path
        .strip_prefix(&ws.root)
        .unwrap_or(&path)
        .display()
        .to_string();
    let live = live.unwrap_or("NAME");
    let record = format!(
        "record it with a live provider: `promptctl eval {} --provider {live} --record`",
        suite.name
    );
    if !path.exists() {
        return replays.then(|| {
            Check::fail(
                Class::Incomplete,
                row,
                format!("`{label}` is missing: under `replay` every case would be an error"),
                record,
            )
        });
    }
    let recordings = match crate::provider::replay::read(&path) {
        Ok(r) => r,
        Err(e) => {
            return Some(Check::bad(
                replays,
                Class::Invalid,
                row,
                e.message(),
                "each line is one recording; re-record the cassette",
            ));
        }
    };
    let count = format!(
        "`{label}`: {} recording{}",
        recordings.len(),
        plural(recordings.len())
    );
    if !replays {
        return Some(Check::ok(
            row,
            format!("{count}; used with `--provider replay`"),
        ));
    }
    // Lookups go by request hash; a case with no recording at all is sure to miss.
    let judged = suite.spec.rubric.is_some();
    let has = |id: &str, kind: &str| recordings.iter().any(|r| r.case == id && r.kind == kind);
    let missing: Vec<&String> = ids
        .map(|ids| {
            ids.iter()
                .filter(|id| !has(id, "prompt") || (judged && !has(id, "judge")))
                .collect()
        })
        .unwrap_or_default();
    if missing.is_empty() {
        return Some(Check::ok(row, count));
    }
    let shown: Vec<String> = missing.iter().take(5).map(|id| format!("`{id}`")).collect();
    Some(Check::fail(
        Class::Incomplete,
        row,
        format!(
            "{count}; no recording for {} case{}: {}{}",
            missing.len(),
            plural(missing.len()),
            shown.join(", "),
            if missing.len() > 5 { ", …" } else { "" }
        ),
        record,
    ))
}

/// One row per prompt with released versions: all of them verify.
fn versions(ws: &Workspace, prompts: &[Name]) -> Result<Vec<Check>, Error> {
    let mut jobs = Vec::new();
    for name in prompts {
        for v in crate::store::list(ws, name)? {
            jobs.push((name.clone(), v));
        }
    }
    let reports = crate::store::verify_all(ws, &jobs);
    let mut checks = Vec::new();
    for name in prompts {
        let mine: Vec<_> = reports.iter().filter(|r| &r.name == name).collect();
        if mine.is_empty() {
            continue;
        }
        let row = format!("versions {name}");
        let bad: Vec<String> = mine
            .iter()
            .filter_map(|r| match &r.outcome {
                Outcome::Ok(_) => None,
                Outcome::Problems(ps) => Some(format!(
                    "{}: {}",
                    r.version,
                    ps.iter()
                        .map(|p| format!("`{}` {}", p.file, p.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
            })
            .collect();
        let range = match (mine.first(), mine.last()) {
            (Some(a), Some(b)) if mine.len() > 1 => format!("{} … {}", a.version, b.version),
            (Some(a), _) => a.version.to_string(),
            _ => String::new(),
        };
        if !bad.is_empty() {
            checks.push(Check::fail(
                Class::Integrity,
                row,
                format!(
                    "{} of {} version{} do{} not match {} manifest: {}",
                    bad.len(),
                    mine.len(),
                    plural(mine.len()),
                    if bad.len() == 1 { "es" } else { "" },
                    if bad.len() == 1 { "its" } else { "their" },
                    bad.join("; ")
                ),
                format!(
                    "released versions are immutable: restore them from git \
                     (`git checkout -- {}/versions/`) and release a new version instead",
                    ws.prompt_label(name)
                ),
            ));
            continue;
        }
        let strays = crate::store::strays(ws, name);
        let ok = format!(
            "{} version{} verif{} ({range})",
            mine.len(),
            plural(mine.len()),
            if mine.len() == 1 { "ies" } else { "y" }
        );
        checks.push(if strays.is_empty() {
            Check::ok(row, ok)
        } else {
            Check::warn(
                row,
                format!(
                    "{ok}; `{}/versions/` also holds {}",
                    ws.prompt_label(name),
                    strays
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "`.tmp-…` folders are left by an interrupted release and safe to delete; promptctl ignores anything else",
            )
        });
    }
    Ok(checks)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(key: Option<&str>) -> crate::config::Provider {
        crate::config::Provider {
            kind: ProviderType::Openai,
            base_url: None,
            api_key_env: key.map(str::to_string),
            max_in_flight: None,
            rps: None,
            timeout_s: None,
            retries: None,
            api_key: None,
        }
    }

    #[test]
    fn probe_outcomes_by_need() {
        let cases = [
            (
                Probe::Ok {
                    status: 200,
                    elapsed: Duration::from_millis(3),
                },
                (Status::Ok, None),
                (Status::Ok, None),
            ),
            (
                Probe::Unreachable("could not connect".into()),
                (Status::Fail, Some(Class::Incomplete)),
                (Status::Warn, None),
            ),
            (
                Probe::KeyRejected {
                    status: 401,
                    message: "m".into(),
                },
                (Status::Fail, Some(Class::Incomplete)),
                (Status::Warn, None),
            ),
            (
                Probe::ServerError {
                    status: 503,
                    message: "m".into(),
                },
                (Status::Fail, Some(Class::Incomplete)),
                (Status::Warn, None),
            ),
            (
                Probe::RateLimited("m".into()),
                (Status::Warn, None),
                (Status::Warn, None),
            ),
            (
                Probe::Unexpected {
                    status: 404,
                    message: "m".into(),
                },
                (Status::Warn, None),
                (Status::Warn, None),
            ),
        ];
        for (probe, if_needed, if_not) in cases {
            for (needed, (status, class)) in [(true, if_needed), (false, if_not)] {
                let c = probe_row(
                    "o",
                    needed,
                    "http://x/models",
                    &provider(Some("K")),
                    probe.clone(),
                    Duration::from_secs(3),
                );
                assert_eq!(
                    (c.status, c.class),
                    (status, class),
                    "{probe:?} needed={needed}"
                );
                assert_eq!(c.hint.is_some(), status != Status::Ok, "{c:?}");
            }
        }
    }

    #[test]
    fn a_timeout_says_how_long_was_waited_and_a_401_without_a_key_says_so() {
        let c = probe_row(
            "o",
            true,
            "u",
            &provider(None),
            Probe::Unreachable("provider `o`: timed out: operation timed out".into()),
            Duration::from_millis(1500),
        );
        assert!(c.detail.contains("no answer within 1.5 s"), "{}", c.detail);
        let c = probe_row(
            "o",
            true,
            "u",
            &provider(None),
            Probe::KeyRejected {
                status: 401,
                message: "m".into(),
            },
            Duration::from_secs(3),
        );
        assert!(c.hint.unwrap().contains("set `api_key_env`"));
    }

    #[test]
    fn the_worst_failure_decides() {
        let f = |class| Check::fail(class, "c", "d", "h");
        assert_eq!(
            worst(&[Check::ok("a", "b"), Check::warn("a", "b", "c")]),
            None
        );
        assert_eq!(
            worst(&[f(Class::Invalid), f(Class::Incomplete)]),
            Some(Class::Incomplete)
        );
        assert_eq!(
            worst(&[f(Class::Integrity), f(Class::Incomplete), f(Class::Invalid)]),
            Some(Class::Integrity)
        );
    }
}
