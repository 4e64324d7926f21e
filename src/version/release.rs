//! `release`: freeze the draft into an immutable, hashed version.
//!
//! Everything is decided before anything is written, under the prompt's lock.
//! A draft that `lint` finds a credential in is refused: a version is
//! immutable, so a key frozen into one could never be taken out.
//! The version is built in a temporary folder beside its destination, fsynced
//! and renamed into place, so a crash leaves no version or a whole one; a
//! leftover `.tmp-…` folder is ignored by every reader and named by `verify`.
//! The frozen files are the draft's bytes but for one line: `prompt.yaml`'s
//! editor schema line is rebased to resolve from the version's folder.

use std::collections::BTreeMap;

use semver::Version;

use crate::error::Error;
use crate::version::artifact::Artifact;
use crate::version::compat::{self, Change, Level};
use crate::version::manifest::Manifest;
use crate::version::store;
use crate::workspace::name::Name;
use crate::workspace::{CHANGELOG_FILE, MANIFEST_FILE, Workspace};

/// Which version to release.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Bump(Level),
    Exact(Version),
}

#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub name: Name,
    pub target: Target,
    pub message: String,
    /// Release even if the bump is smaller than the change needs.
    pub allow_bump: bool,
}

#[derive(Debug)]
pub(crate) struct Outcome {
    pub manifest: Manifest,
    pub label: String,
    pub changes: Vec<Change>,
}

pub(crate) fn release(ws: &Workspace, req: &Request) -> Result<Outcome, Error> {
    let name = &req.name;
    ws.require_prompt(name)?;
    if req.message.trim().is_empty() {
        return Err(Error::invalid("the changelog message is empty")
            .with_hint("say why with `-m \"…\"`; it goes into the manifest and CHANGELOG.md"));
    }
    let _lock =
        crate::workspace::fsio::lock(&ws.state_dir().join("locks").join(format!("{name}.lock")))?;

    let draft = Artifact::load(&ws.prompt_dir(name), &ws.prompt_label(name), name)
        .map_err(|e| refuse(&format!("the draft is invalid: {}", e.message()), e.hint()))?;
    draft.check_provider(&ws.config)?;
    let secrets: Vec<String> = crate::privacy::secrets::scan_files(&draft.files)
        .into_iter()
        .map(|(rel, f)| format!("`{}/{rel}:{}` ({})", draft.label, f.line, f.kind))
        .collect();
    if !secrets.is_empty() {
        return Err(refuse(
            &format!(
                "a credential is in the draft: {}; a released version can never be changed",
                secrets.join(", ")
            ),
            Some("remove it, rotate the key, and release again (`promptctl lint` lists them)"),
        ));
    }
    let hashes = draft.hashes();

    let latest = match store::latest(ws, name)? {
        Some(v) => Some(store::open(ws, name, &v)?),
        None => None,
    };
    let base = latest.as_ref().map(|r| r.manifest.version.clone());
    let version = match &req.target {
        Target::Exact(v) => v.clone(),
        Target::Bump(level) => {
            compat::bump(base.as_ref().unwrap_or(&Version::new(0, 0, 0)), *level)
        }
    };
    if ws.version_dir(name, &version).exists() {
        return Err(refuse(&format!("version {version} already exists"), None));
    }
    if !version.pre.is_empty() || !version.build.is_empty() {
        return Err(refuse(
            &format!("{version}: pre-release and build versions are not supported"),
            None,
        ));
    }

    let mut changes = Vec::new();
    if let Some(latest) = &latest {
        let prev = &latest.manifest.version;
        if version <= *prev {
            return Err(refuse(
                &format!("{version} is not above the latest version {prev}"),
                None,
            ));
        }
        if latest.manifest.digest == hashes.digest {
            return Err(Error::invalid(format!(
                "nothing changed since {prev}: the draft's digest is that version's ({})",
                crate::version::manifest::short(&hashes.digest)
            ))
            .with_hint("edit the draft first; a release is a new content digest"));
        }
        changes = compat::changes(&latest.artifact, &draft);
        let needed = compat::required(prev, &changes);
        let actual = compat::bump_of(prev, &version);
        if actual < needed && !req.allow_bump {
            let why: Vec<&str> = changes
                .iter()
                .filter(|c| c.level >= Level::Minor)
                .map(|c| c.what.as_str())
                .collect();
            return Err(Error::invalid(format!(
                "{prev} → {version} is a {} bump, but the change needs {}: {}",
                actual.as_str(),
                needed.as_str(),
                why.join("; ")
            ))
            .with_hint(format!(
                "use `--bump {}`, or `--allow-bump` if you are sure",
                needed.as_str()
            )));
        }
    }

    let frozen = frozen_files(&draft);
    let manifest = {
        let mut m = Manifest {
            name: name.clone(),
            version: version.clone(),
            parent: base,
            created_at: crate::version::manifest::now_rfc3339()?,
            git_commit: crate::workspace::git::head_commit(&ws.root),
            changelog: req.message.trim().to_string(),
            model: draft.spec.model.clone(),
            files: frozen
                .iter()
                .map(|(k, v)| (k.clone(), crate::version::canonical::sha256(v)))
                .collect(),
            prompt_hash: hashes.prompt_hash,
            config_hash: hashes.config_hash,
            digest: hashes.digest,
            seal: String::new(),
        };
        m.seal = m.compute_seal();
        m
    };
    freeze(ws, &frozen, &manifest)?;
    write_changelog(ws, name)?;
    Ok(Outcome {
        label: ws.version_label(name, &version),
        manifest,
        changes,
    })
}

fn refuse(why: &str, hint: Option<&str>) -> Error {
    let err = Error::invalid(format!("release refused: {why}"));
    match hint {
        Some(h) => err.with_hint(h),
        None => err,
    }
}

/// From a version's folder (`versions/X.Y.Z/`) back up to the draft's.
const VERSION_TO_DRAFT: &str = "../../";

/// The bytes a version freezes: the draft's files, except that the schema
/// line of `prompt.yaml` (`# yaml-language-server: $schema=../../schemas/…`)
/// is rebased to resolve from the version's folder, two below the draft's.
/// The line is a YAML comment, so no content hash changes; the manifest
/// records the sha256 of these bytes, which are what `verify` reads.
fn frozen_files(draft: &Artifact) -> BTreeMap<String, Vec<u8>> {
    draft
        .files
        .iter()
        .map(|(rel, bytes)| {
            let bytes = if rel == crate::version::artifact::PROMPT_FILE {
                crate::workspace::yaml::rebase_modeline(bytes, VERSION_TO_DRAFT).into_owned()
            } else {
                bytes.clone()
            };
            (rel.clone(), bytes)
        })
        .collect()
}

/// Writes the version folder atomically: temp folder, fsync, rename.
fn freeze(
    ws: &Workspace,
    files: &BTreeMap<String, Vec<u8>>,
    manifest: &Manifest,
) -> Result<(), Error> {
    let versions = ws.versions_dir(&manifest.name);
    let incomplete = |e: std::io::Error| crate::error::io_incomplete(&versions, &e);
    std::fs::create_dir_all(&versions).map_err(incomplete)?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".tmp-{}-", manifest.version))
        .tempdir_in(&versions)
        .map_err(incomplete)?;
    for (rel, bytes) in files {
        crate::workspace::fsio::write_synced(&tmp.path().join(rel), bytes)?;
    }
    crate::workspace::fsio::write_synced(
        &tmp.path().join(MANIFEST_FILE),
        crate::workspace::yaml::to_string(manifest).as_bytes(),
    )?;
    let mut dirs: Vec<_> = files
        .keys()
        .filter_map(|rel| std::path::Path::new(rel).parent())
        .filter(|p| !p.as_os_str().is_empty())
        .map(|p| tmp.path().join(p))
        .collect();
    dirs.push(tmp.path().to_path_buf());
    for d in dirs {
        crate::workspace::fsio::sync_dir(&d)?;
    }
    let dest = ws.version_dir(&manifest.name, &manifest.version);
    // `keep` so the folder survives the rename; on failure, remove it.
    let tmp_path = tmp.keep();
    if let Err(e) = std::fs::rename(&tmp_path, &dest) {
        let _ = std::fs::remove_dir_all(&tmp_path);
        return Err(incomplete(e));
    }
    crate::workspace::fsio::sync_dir(&versions)
}

/// Regenerates `CHANGELOG.md` from every manifest, newest first. The file is
/// a view of the manifests, so an interrupted release heals on the next one.
pub(crate) fn write_changelog(ws: &Workspace, name: &Name) -> Result<(), Error> {
    let mut text = format!(
        "# Changelog: {name}\n\n\
         <!-- Generated by `promptctl release` from each version's manifest.yaml; edits here are overwritten. -->\n"
    );
    for v in store::list(ws, name)?.iter().rev() {
        let m = store::read_manifest(ws, name, v)?;
        let date = m.created_at.get(..10).unwrap_or(&m.created_at);
        text.push_str(&format!(
            "\n## {} — {date}\n\n{}\n\n",
            m.version, m.changelog
        ));
        let mut facts = vec![format!("digest `{}`", m.digest)];
        if let Some(p) = &m.parent {
            facts.push(format!("parent {p}"));
        }
        if let Some(c) = &m.git_commit {
            facts.push(format!("commit `{}`", &c[..c.len().min(12)]));
        }
        facts.push(format!(
            "model `{}` via `{}`",
            m.model.name, m.model.provider
        ));
        text.push_str(&format!("{}\n", facts.join(" · ")));
    }
    crate::workspace::fsio::write_atomic(
        &ws.prompt_dir(name).join(CHANGELOG_FILE),
        text.as_bytes(),
        crate::workspace::fsio::Access::Shared,
    )
}
