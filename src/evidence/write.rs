//! Writing a pack: render, checksum, and swap the folder in whole.
//!
//! The files are written into a temporary folder beside the destination and
//! fsynced; then an existing pack is renamed aside, the new one renamed into
//! place, the parent fsynced, and the old one deleted. A crash leaves the old
//! pack, the new one, or (between the two renames) the old one under a
//! `.old-…` name; `verify` names leftovers. A pack whose bytes would not
//! change is not rewritten.

use std::path::Path;

use super::pack::{HTML_FILE, JSON_FILE, MARKDOWN_FILE, Pack, SUMS_FILE};
use crate::error::Error;

/// What [`write`] did.
#[derive(Debug)]
pub(crate) struct Written {
    /// File name → `sha256:<hex>`, sorted by name (SHA256SUMS itself excluded).
    pub files: Vec<(String, String)>,
    /// The pack on disk already had exactly these bytes.
    pub unchanged: bool,
}

/// The files of a pack, in `SHA256SUMS` order, then `SHA256SUMS` itself.
pub(super) fn render(pack: &Pack) -> Vec<(&'static str, Vec<u8>)> {
    let mut json = serde_json::to_vec_pretty(pack).expect("a pack serialises");
    json.push(b'\n');
    let mut files = vec![
        (HTML_FILE, super::html::render(pack).into_bytes()),
        (JSON_FILE, json),
        (MARKDOWN_FILE, super::markdown::render(pack).into_bytes()),
    ];
    files.sort_by_key(|(name, _)| *name);
    let sums: String = files
        .iter()
        .map(|(name, bytes)| format!("{}  {name}\n", hex_sha256(bytes)))
        .collect();
    files.push((SUMS_FILE, sums.into_bytes()));
    files
}

pub(super) fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Writes `pack` to `dir`, under `lock` (a lock file path).
pub(crate) fn write(pack: &Pack, dir: &Path, lock: &Path) -> Result<Written, Error> {
    let files = render(pack);
    let listed = files
        .iter()
        .filter(|(n, _)| *n != SUMS_FILE)
        .map(|(n, b)| (n.to_string(), format!("sha256:{}", hex_sha256(b))))
        .collect();
    let _lock = crate::workspace::fsio::lock(lock)?;
    if same_as_on_disk(dir, &files) {
        return Ok(Written {
            files: listed,
            unchanged: true,
        });
    }
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| crate::error::io_incomplete(parent, &e))?;
    let leaf = dir
        .file_name()
        .map_or_else(|| "pack".into(), |n| n.to_string_lossy().into_owned());
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".tmp-{leaf}-"))
        .tempdir_in(parent)
        .map_err(|e| crate::error::io_incomplete(parent, &e))?;
    for (name, bytes) in &files {
        crate::workspace::fsio::write_synced(&tmp.path().join(name), bytes)?;
    }
    crate::workspace::fsio::sync_dir(tmp.path())?;
    let staged = tmp.keep();
    let old = if dir.exists() {
        let aside = parent.join(format!(".old-{leaf}-{}", fastrand::u32(..)));
        std::fs::rename(dir, &aside).map_err(|e| crate::error::io_incomplete(dir, &e))?;
        Some(aside)
    } else {
        None
    };
    std::fs::rename(&staged, dir).map_err(|e| crate::error::io_incomplete(dir, &e))?;
    crate::workspace::fsio::sync_dir(parent)?;
    if let Some(old) = old {
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(Written {
        files: listed,
        unchanged: false,
    })
}

/// Whether `dir` holds exactly `files`, byte for byte, and nothing else.
fn same_as_on_disk(dir: &Path, files: &[(&str, Vec<u8>)]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let count = entries.count();
    count == files.len()
        && files
            .iter()
            .all(|(name, bytes)| std::fs::read(dir.join(name)).is_ok_and(|b| &b == bytes))
}
