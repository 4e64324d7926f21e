//! Durable writes: temp file, fsync, rename, fsync the folder; and locks.
//!
//! Everything promptctl changes goes through here, so a crash at any point
//! leaves either the old state or the new one, never a torn file, and two
//! commands on the same prompt take turns instead of racing. The one
//! exception, [`append_at`], is for files whose committed length is kept
//! elsewhere (written atomically after it), so a torn append is never read.
//!
//! Every atomic write says who may read the file ([`Access`]): a temp file
//! is owner-only by default, which is right for local state and wrong for a
//! file that is committed or shared, so that is never left to the default.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, io_incomplete};

/// Who may read a file that promptctl writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// A file meant to be committed or shared (`prompt.yaml`, cassettes,
    /// `releases.yaml`, reports, schemas): created as any tool creates a
    /// file, `0666` less the user's umask (`0644` under the usual `022`).
    Shared,
    /// Local state (run files): owner-only, `0600`, whatever the umask.
    Private,
}

/// Writes `bytes` to `path` atomically, readable as `access` says.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], access: Access) -> Result<(), Error> {
    write_atomic_parts(path, &[bytes], access)
}

/// A temp file in `dir` for an atomic write of `path`. The mode is given to
/// open(2), so the kernel applies the umask to a shared file.
fn temp_in(dir: &Path, path: &Path, access: Access) -> Result<tempfile::NamedTempFile, Error> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".promptctl-tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = match access {
            Access::Shared => 0o666,
            Access::Private => 0o600,
        };
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = access;
    builder
        .tempfile_in(dir)
        .map_err(|e| io_incomplete(path, &e))
}

/// Writes a file the user named (`-o FILE`) atomically, for sharing. Unlike
/// [`write_atomic`], its folder must exist: a mistyped path is an error
/// naming it, not a new folder tree.
pub(crate) fn write_output(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = parent(path);
    if !dir.is_dir() {
        return Err(Error::incomplete(format!(
            "cannot write `{}`: the folder `{}` does not exist",
            path.display(),
            dir.display()
        )));
    }
    write_atomic(path, bytes, Access::Shared)
}

/// Writes the concatenation of `parts` to `path` atomically, without first
/// joining them in memory.
pub(crate) fn write_atomic_parts(
    path: &Path,
    parts: &[&[u8]],
    access: Access,
) -> Result<(), Error> {
    let dir = parent(path);
    std::fs::create_dir_all(&dir).map_err(|e| io_incomplete(&dir, &e))?;
    let mut tmp = temp_in(&dir, path, access)?;
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

/// Writes `bytes` at `offset` in `path` (created if missing and `offset` is
/// 0), after cutting off anything past `offset`, and fsyncs the file (and
/// its folder when the file is new). For append-only files whose committed
/// length is recorded elsewhere: what lies past it was never committed. A
/// file shorter than `offset` has lost committed bytes: an integrity error,
/// and nothing is written.
pub(crate) fn append_at(path: &Path, offset: u64, bytes: &[u8]) -> Result<(), Error> {
    let (mut file, created) = match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(f) => (f, false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && offset == 0 => {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| io_incomplete(path, &e))?;
            (f, true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(shorter(path, 0, offset));
        }
        Err(e) => return Err(io_incomplete(path, &e)),
    };
    let len = file.metadata().map_err(|e| io_incomplete(path, &e))?.len();
    if len < offset {
        return Err(shorter(path, len, offset));
    }
    if len > offset {
        file.set_len(offset).map_err(|e| io_incomplete(path, &e))?;
    }
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| io_incomplete(path, &e))?;
    // In two writes, so that a test can die between them: a torn append.
    let (head, tail) = bytes.split_at(bytes.len() / 2);
    file.write_all(head).map_err(|e| io_incomplete(path, &e))?;
    crash_point("mid-append");
    file.write_all(tail).map_err(|e| io_incomplete(path, &e))?;
    file.sync_all().map_err(|e| io_incomplete(path, &e))?;
    if created {
        sync_dir(&parent(path))?;
    }
    Ok(())
}

fn shorter(path: &Path, len: u64, offset: u64) -> Error {
    Error::integrity(format!(
        "`{}` has {len} bytes, fewer than the {offset} already committed; refusing to append",
        path.display()
    ))
}

/// For tests of crash safety: exits on the spot, running no cleanup (no
/// destructors, temp files left behind), as `kill -9` would, when
/// `PROMPTCTL_TEST_CRASH_AT` names `point`. A test can then stop a write
/// between two exact steps of its protocol, which a timed kill only hits by
/// luck. Exit status 137, as a shell reports a SIGKILL.
pub(crate) fn crash_point(point: &str) {
    if std::env::var_os(crate::workspace::env::PROMPTCTL_TEST_CRASH_AT).is_some_and(|v| v == point)
    {
        std::process::exit(137);
    }
}

/// Writes a new shared file, failing if it exists (for `init` and `new`).
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = parent(path);
    std::fs::create_dir_all(&dir).map_err(|e| io_incomplete(&dir, &e))?;
    let mut tmp = temp_in(&dir, path, Access::Shared)?;
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
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
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

/// Writes a file inside a folder that will be renamed into place, and
/// fsyncs it. Created as any file is, under the umask: for shared files.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_incomplete(dir, &e))?;
    }
    let mut f = File::create(path).map_err(|e| io_incomplete(path, &e))?;
    f.write_all(bytes).map_err(|e| io_incomplete(path, &e))?;
    f.sync_all().map_err(|e| io_incomplete(path, &e))
}

/// An exclusive lock on a file; released when dropped.
#[derive(Debug)]
pub(crate) struct Lock {
    _file: File,
}

/// Takes an exclusive lock on `path` (created if missing), waiting for it.
pub(crate) fn lock(path: &Path) -> Result<Lock, Error> {
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
