//! Released versions on disk: listing them, and opening one only after it verifies.
//!
//! A version is the folder `prompts/<name>/versions/<X.Y.Z>/`. Verification
//! recomputes every hash from the frozen bytes and compares it with the
//! manifest; commands that use a version go through [`open`], so they never
//! act on a version that was edited after release.

use std::collections::BTreeMap;
use std::path::Path;

use semver::Version;
use serde::Serialize;

use crate::error::Error;
use crate::version::artifact::Artifact;
use crate::version::manifest::Manifest;
use crate::workspace::name::Name;
use crate::workspace::{MANIFEST_FILE, Workspace};

/// A verified released version.
#[derive(Debug, Clone)]
pub(crate) struct Released {
    pub manifest: Manifest,
    pub artifact: Artifact,
}

/// Every released version of `name`, oldest first.
pub(crate) fn list(ws: &Workspace, name: &Name) -> Result<Vec<Version>, Error> {
    let dir = ws.versions_dir(name);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(crate::error::io_invalid(&dir, &e)),
    };
    let mut versions: Vec<Version> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().and_then(|s| Version::parse(s).ok()))
        .collect();
    versions.sort();
    Ok(versions)
}

pub(crate) fn latest(ws: &Workspace, name: &Name) -> Result<Option<Version>, Error> {
    Ok(list(ws, name)?.pop())
}

/// Reads a version's manifest without verifying the version (for listings).
pub(crate) fn read_manifest(
    ws: &Workspace,
    name: &Name,
    version: &Version,
) -> Result<Manifest, Error> {
    let path = ws.version_dir(name, version).join(MANIFEST_FILE);
    let label = format!("{}/{MANIFEST_FILE}", ws.version_label(name, version));
    let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound if ws.version_dir(name, version).is_dir() => Error::integrity(
            format!("`{label}` is missing: the version folder has no manifest"),
        ),
        std::io::ErrorKind::NotFound => {
            Error::invalid(format!("`{name}@{version}` is not released (no `{label}`)")).with_hint(
                format!("see the released versions with `promptctl log {name}`"),
            )
        }
        _ => Error::integrity(format!("cannot read `{label}`: {e}")),
    })?;
    let manifest: Manifest = crate::workspace::yaml::from_str(Path::new(&label), &text)
        .map_err(|e| Error::integrity(e.message().to_string()))?;
    // The seal covers the values; this covers the bytes: a manifest is
    // exactly what `release` wrote, so no comment or respelling slips in.
    if crate::workspace::yaml::to_string(&manifest) != text {
        return Err(Error::integrity(format!(
            "`{label}`: edited since release: it is not byte for byte what `release` wrote"
        )));
    }
    Ok(manifest)
}

/// Opens a released version after verifying every hash (exit 4 if any differs).
pub(crate) fn open(ws: &Workspace, name: &Name, version: &Version) -> Result<Released, Error> {
    if !ws.version_dir(name, version).is_dir() {
        return Err(
            Error::invalid(format!("`{name}@{version}` is not released")).with_hint(format!(
                "see the released versions with `promptctl log {name}`"
            )),
        );
    }
    let report = verify_version(ws, name, version);
    match report.outcome {
        Outcome::Ok(released) => Ok(*released),
        Outcome::Problems(problems) => {
            let list: Vec<String> = problems
                .iter()
                .map(|p| format!("`{}`: {}", p.file, p.message))
                .collect();
            Err(Error::integrity(format!(
                "`{name}@{version}` does not match its manifest: {}",
                list.join("; ")
            ))
            .with_hint(format!(
                "run `promptctl verify {name}` for details; released versions are never edited"
            )))
        }
    }
}

/// Verifies versions on every core; the work is reading and hashing files.
pub(crate) fn verify_all(ws: &Workspace, jobs: &[(Name, Version)]) -> Vec<VersionReport> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len().max(1));
    if threads <= 1 {
        return jobs.iter().map(|(n, v)| verify_version(ws, n, v)).collect();
    }
    let chunk = jobs.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(n, v)| verify_version(ws, n, v))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a verify thread panicked"))
            .collect()
    })
}

/// One thing wrong with a released version.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Problem {
    /// The file, relative to the workspace.
    pub file: String,
    pub message: String,
}

#[derive(Debug)]
pub(crate) struct VersionReport {
    pub name: Name,
    pub version: Version,
    pub outcome: Outcome,
}

#[derive(Debug)]
pub(crate) enum Outcome {
    Ok(Box<Released>),
    Problems(Vec<Problem>),
}

/// Recomputes every hash of one version and compares it with its manifest.
pub(crate) fn verify_version(ws: &Workspace, name: &Name, version: &Version) -> VersionReport {
    let outcome = match check(ws, name, version) {
        Ok(released) => Outcome::Ok(Box::new(released)),
        Err(problems) => Outcome::Problems(problems),
    };
    VersionReport {
        name: name.clone(),
        version: version.clone(),
        outcome,
    }
}

fn check(ws: &Workspace, name: &Name, version: &Version) -> Result<Released, Vec<Problem>> {
    let dir = ws.version_dir(name, version);
    let label = ws.version_label(name, version);
    let problem = |file: &str, message: String| Problem {
        file: format!("{label}/{file}"),
        message,
    };
    let manifest = read_manifest(ws, name, version)
        .map_err(|e| vec![problem(MANIFEST_FILE, e.message().to_string())])?;
    let mut problems = Vec::new();
    if manifest.name != *name {
        problems.push(problem(
            MANIFEST_FILE,
            format!("names prompt `{}`, not `{name}`", manifest.name),
        ));
    }
    if manifest.version != *version {
        problems.push(problem(
            MANIFEST_FILE,
            format!(
                "says version {}, but its folder is {version}",
                manifest.version
            ),
        ));
    }

    // The files on disk must be exactly the files in the manifest.
    let mut on_disk = BTreeMap::new();
    if let Err(e) = walk(&dir, "", &mut on_disk) {
        problems.push(problem("", format!("cannot read the version folder: {e}")));
    }
    for (path, kind) in &on_disk {
        if path == MANIFEST_FILE {
            continue;
        }
        match (manifest.files.get(path), kind) {
            (None, _) => problems.push(problem(
                path,
                "stray file: it is not in the manifest".into(),
            )),
            (Some(_), FileKind::Other) => {
                problems.push(problem(path, "is not a regular file (a symlink?)".into()))
            }
            (Some(expected), FileKind::File) => match std::fs::read(dir.join(path)) {
                Ok(bytes) => {
                    let actual = crate::version::canonical::sha256(&bytes);
                    if &actual != expected {
                        problems.push(problem(
                            path,
                            format!(
                                "changed since release: sha256 is {}, manifest says {}",
                                crate::version::manifest::short(&actual),
                                crate::version::manifest::short(expected)
                            ),
                        ));
                    }
                }
                Err(e) => problems.push(problem(path, format!("cannot read: {e}"))),
            },
        }
    }
    for path in manifest.files.keys() {
        if !on_disk.contains_key(path) {
            problems.push(problem(path, "missing: the manifest lists it".into()));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    // The bytes are intact; recompute the content hashes from them.
    let artifact = Artifact::load(&dir, &label, name).map_err(|e| {
        vec![problem(
            crate::version::artifact::PROMPT_FILE,
            format!("no longer loads: {}", e.message()),
        )]
    })?;
    let hashes = artifact.hashes();
    for (field, expected, actual) in [
        ("prompt_hash", &manifest.prompt_hash, &hashes.prompt_hash),
        ("config_hash", &manifest.config_hash, &hashes.config_hash),
        ("digest", &manifest.digest, &hashes.digest),
    ] {
        if expected != actual {
            problems.push(problem(
                MANIFEST_FILE,
                format!(
                    "{field} is {}, recomputed {}",
                    crate::version::manifest::short(expected),
                    crate::version::manifest::short(actual)
                ),
            ));
        }
    }
    if manifest.compute_seal() != manifest.seal {
        problems.push(problem(
            MANIFEST_FILE,
            "edited since release: its seal does not match its body".into(),
        ));
    }
    if problems.is_empty() {
        Ok(Released { manifest, artifact })
    } else {
        Err(problems)
    }
}

enum FileKind {
    File,
    Other,
}

/// Every entry under `dir` by relative `/`-separated path.
fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, FileKind>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let ty = entry.file_type()?;
        if ty.is_dir() {
            let before = out.len();
            walk(&entry.path(), &rel, out)?;
            if out.len() == before {
                out.insert(rel, FileKind::Other); // an empty folder is a stray
            }
        } else if ty.is_file() {
            out.insert(rel, FileKind::File);
        } else {
            out.insert(rel, FileKind::Other);
        }
    }
    Ok(())
}

/// Entries in `versions/` that are not a version: leftovers of an interrupted
/// release (`.tmp-…`, safe to delete) and anything else.
pub(crate) fn strays(ws: &Workspace, name: &Name) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(ws.versions_dir(name)) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let is_version = e.file_type().is_ok_and(|t| t.is_dir()) && Version::parse(&n).is_ok();
            (!is_version).then_some(n)
        })
        .collect();
    out.sort();
    out
}
