//! Durable writes: temp file, fsync, rename, fsync the folder; and locks.
//!
//! Everything promptctl changes goes through here, so a crash at any point
//! leaves either the old state or the new one, never a torn file, and two
//! commands on the same prompt take turns instead of racing.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, io_incomplete};

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_atomic_parts(path, &[bytes])
}

/// Writes the concatenation of `parts` to `path` atomically, without first
/// joining them in memory.
pub fn write_atomic_parts(path: &Path, parts: &[&[u8]]) -> Result<(), Error> {
    let dir = parent(path);
    std::fs::create_dir_all(&dir).map_err(|e| io_incomplete(&dir, &e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".promptctl-tmp-")
        .tempfile_in(&dir)
        .map_err(|e| io_incomplete(path, &e))?;
    for part in parts {
        tmp.write_all(part).map_err(|e| io_incomplete(path, &e))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| io_incomplete(path, &e))?;
    tmp.persist(path)
        .map_err(|e| io_incomplete(path, &e.error))?;
    sync_dir(&dir)
}

/// Writes a new file, failing if it exists (for `init` and `new`).
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = parent(path);
    std::fs::create_dir_all(&dir).map_err(|e| io_incomplete(&dir, &e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".promptctl-tmp-")
        .tempfile_in(&dir)
        .map_err(|e| io_incomplete(path, &e))?;
    tmp.write_all(bytes).map_err(|e| io_incomplete(path, &e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| io_incomplete(path, &e))?;
    tmp.persist_noclobber(path).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            Error::invalid(format!(
                "`{}` already exists; refusing to overwrite it",
                path.display()
            ))
        } else {
            io_incomplete(path, &e.error)
        }
    })?;
    sync_dir(&dir)
}

/// fsyncs a folder so that a rename inside it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|f| f.sync_all())
            .map_err(|e| io_incomplete(dir, &e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes a file inside a folder that will be renamed into place, and fsyncs it.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_incomplete(dir, &e))?;
    }
    let mut f = File::create(path).map_err(|e| io_incomplete(path, &e))?;
    f.write_all(bytes).map_err(|e| io_incomplete(path, &e))?;
    f.sync_all().map_err(|e| io_incomplete(path, &e))
}

/// An exclusive lock on a file; released when dropped.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Takes an exclusive lock on `path` (created if missing), waiting for it.
pub fn lock(path: &Path) -> Result<Lock, Error> {
    let dir = parent(path);
    std::fs::create_dir_all(&dir).map_err(|e| io_incomplete(&dir, &e))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| io_incomplete(path, &e))?;
    file.lock()
        .map_err(|e| Error::incomplete(format!("cannot lock `{}`: {e}", path.display())))?;
    Ok(Lock { _file: file })
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
