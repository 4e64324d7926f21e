//! Re-verifying packs: what `verify` runs over `evidence/`.
//!
//! A pack is intact when every file `SHA256SUMS` lists has that hash, no
//! other file is in the folder, the three renderings are listed, and the
//! digest `evidence.json` names is the digest in the released version's
//! manifest. Anything else is an integrity problem (exit 4).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use semver::Version;

use super::pack::{HTML_FILE, JSON_FILE, MARKDOWN_FILE, SUMS_FILE};
use crate::version::store::Problem;
use crate::workspace::Workspace;
use crate::workspace::name::Name;

/// One pack's check.
#[derive(Debug)]
pub(crate) struct PackReport {
    /// The pack folder, relative to the workspace.
    pub label: String,
    pub name: String,
    pub version: String,
    pub digest: Option<String>,
    pub problems: Vec<Problem>,
}

/// Every pack folder under `evidence/` (of `names`, or all), sorted, and
/// leftovers of interrupted writes (`.tmp-…`, `.old-…`).
pub(crate) fn find(ws: &Workspace, names: &[Name]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let root = ws.root.join(super::pack::DIR);
    let mut packs = Vec::new();
    let mut leftovers = Vec::new();
    let Ok(prompts) = std::fs::read_dir(&root) else {
        return (packs, leftovers);
    };
    for p in prompts.flatten().filter(|e| e.path().is_dir()) {
        let pname = p.file_name().to_string_lossy().into_owned();
        if !names.is_empty() && !names.iter().any(|n| n.as_str() == pname) {
            continue;
        }
        let Ok(versions) = std::fs::read_dir(p.path()) else {
            continue;
        };
        for v in versions.flatten().filter(|e| e.path().is_dir()) {
            if v.file_name().to_string_lossy().starts_with('.') {
                leftovers.push(v.path());
            } else {
                packs.push(v.path());
            }
        }
    }
    packs.sort();
    leftovers.sort();
    (packs, leftovers)
}

/// Checks one pack folder.
pub(crate) fn check(ws: &Workspace, dir: &Path) -> PackReport {
    let label = dir
        .strip_prefix(&ws.root)
        .unwrap_or(dir)
        .to_string_lossy()
        .replace('\\', "/");
    let mut report = PackReport {
        name: dir
            .parent()
            .and_then(|p| p.file_name())
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        version: dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        digest: None,
        problems: Vec::new(),
        label: label.clone(),
    };
    let problem = |file: &str, message: String| Problem {
        file: format!("{label}/{file}"),
        message,
    };
    let sums = match std::fs::read_to_string(dir.join(SUMS_FILE)) {
        Ok(s) => s,
        Err(e) => {
            report.problems.push(problem(
                SUMS_FILE,
                format!("cannot read it ({e}): the pack cannot be checked"),
            ));
            return report;
        }
    };
    let mut listed = BTreeSet::new();
    let mut json_ok = false;
    for (i, line) in sums.lines().enumerate() {
        let Some((hex, file)) = line.split_once("  ").filter(|(h, f)| {
            h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) && !f.is_empty()
        }) else {
            report.problems.push(problem(
                SUMS_FILE,
                format!("line {}: not `<sha256>  <file>`", i + 1),
            ));
            continue;
        };
        if file.contains('/') || file.contains('\\') || file == SUMS_FILE {
            report.problems.push(problem(
                SUMS_FILE,
                format!("line {}: lists `{file}`", i + 1),
            ));
            continue;
        }
        listed.insert(file.to_string());
        match std::fs::read(dir.join(file)) {
            Ok(bytes) => {
                let actual = super::write::hex_sha256(&bytes);
                if !actual.eq_ignore_ascii_case(hex) {
                    report.problems.push(problem(
                        file,
                        format!(
                            "changed since the pack was written (sha256 {} ≠ {} in {SUMS_FILE})",
                            &actual[..12],
                            &hex[..12.min(hex.len())]
                        ),
                    ));
                } else if file == JSON_FILE {
                    json_ok = true;
                }
            }
            Err(e) => report.problems.push(problem(
                file,
                format!("listed in {SUMS_FILE} but unreadable: {e}"),
            )),
        }
    }
    for required in [JSON_FILE, MARKDOWN_FILE, HTML_FILE] {
        if !listed.contains(required) {
            report
                .problems
                .push(problem(SUMS_FILE, format!("does not list `{required}`")));
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut extra: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != SUMS_FILE && !listed.contains(n))
            .collect();
        extra.sort();
        for n in extra {
            report.problems.push(problem(
                &n,
                format!("not listed in {SUMS_FILE}: added after the pack was written"),
            ));
        }
    }
    if json_ok {
        check_digest(ws, dir, &mut report);
    }
    report
}

/// The pack names a version and digest; the released manifest must agree.
fn check_digest(ws: &Workspace, dir: &Path, report: &mut PackReport) {
    #[derive(serde::Deserialize)]
    struct Head {
        schema: String,
        prompt: Named,
    }
    #[derive(serde::Deserialize)]
    struct Named {
        name: String,
        version: String,
        digest: String,
    }
    let file = format!("{}/{JSON_FILE}", report.label);
    let fail = |report: &mut PackReport, message: String| {
        report.problems.push(Problem {
            file: file.clone(),
            message,
        })
    };
    let head: Head = match std::fs::read(dir.join(JSON_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        Some(h) => h,
        None => return fail(report, "not a promptctl evidence pack".into()),
    };
    if head.schema != super::pack::SCHEMA {
        return fail(
            report,
            format!(
                "a `{}` pack; this promptctl reads `{}`",
                head.schema,
                super::pack::SCHEMA
            ),
        );
    }
    report.digest = Some(head.prompt.digest.clone());
    if head.prompt.name != report.name || head.prompt.version != report.version {
        fail(
            report,
            format!(
                "is the pack of {}@{}, but lies in the folder of {}@{}",
                head.prompt.name, head.prompt.version, report.name, report.version
            ),
        );
    }
    let (Ok(name), Ok(version)) = (
        Name::parse(&head.prompt.name),
        Version::parse(&head.prompt.version),
    ) else {
        return fail(report, "names no valid prompt version".into());
    };
    match crate::version::store::read_manifest(ws, &name, &version) {
        Ok(m) if m.digest == head.prompt.digest => {}
        Ok(m) => fail(
            report,
            format!(
                "names digest {}, but {name}@{version}'s manifest has {}",
                crate::version::manifest::short(&head.prompt.digest),
                crate::version::manifest::short(&m.digest)
            ),
        ),
        Err(e) => fail(report, format!("names {name}@{version}: {}", e.message())),
    }
}
