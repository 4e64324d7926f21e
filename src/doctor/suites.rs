//! Suites: their prompts, datasets and cassettes, against what the newest
//! run of each recorded.

use super::check::{Check, plural};
use super::needs::{SuiteFile, model_provider, suite_providers};
use crate::error::Class;
use crate::eval::results::Run;
use crate::eval::suite::{CasesSpec, Ids, Suite};
use crate::version::artifact::Artifact;
use crate::workspace::Workspace;
use crate::workspace::config::ProviderType;
use crate::workspace::name::PromptRef;

/// The newest saved run of a suite (by name), whatever the prompt. Run ids
/// start with the UTC time, so the name order is the time order.
fn last_run(ws: &Workspace, suite: &str) -> Option<Run> {
    crate::eval::results::run_files(&ws.state_dir().join("runs"))
        .iter()
        .rev()
        .filter_map(|p| Run::load(p).ok())
        .find(|r| r.header.suite.name == suite)
}

pub(super) fn suite_checks(ws: &Workspace, file: &SuiteFile) -> Vec<Check> {
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
    let sha = crate::version::canonical::sha256(&std::fs::read(&suite.path).unwrap_or_default());
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
        ws.config.providers.get(p).is_some_and(|p| {
            matches!(
                p.kind,
                ProviderType::Openai
                    | ProviderType::Anthropic
                    | ProviderType::AzureOpenai
                    | ProviderType::Gemini
            )
        })
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
        CasesSpec::File(_) => {
            let path = suite.cases_path().expect("cases in a file");
            format!(
                "`{}`",
                path.strip_prefix(&ws.root).unwrap_or(&path).display()
            )
        }
        CasesSpec::Inline(_) => "inline".to_string(),
    };
    let mut reader = match suite.cases() {
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
    let mut seen = Ids::default();
    while let Some(case) = reader.next() {
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
        if let Err(e) = seen.check(suite, ids.len(), reader.line(), &case) {
            return (
                Check::fail(
                    Class::Invalid,
                    row,
                    e.message(),
                    e.hint().unwrap_or("give every case its own id"),
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
    let recordings: Vec<_> = match crate::provider::replay::read(&path, &label) {
        Ok(r) => r.into_iter().map(|(_, r)| r).collect(),
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
