//! Atomic file writes: data goes to a temporary file in the destination directory, which is then renamed over
//! the destination, so a reader (or a crash, or a Ctrl-C) never sees a half-written file.

use crate::error::{CryptoError, Result};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use tempfile::NamedTempFile;

/// Creates a temporary file beside `dest` (same directory, hence same filesystem, so the final rename is atomic).
/// The file is removed automatically if it is dropped without being persisted.
pub(crate) fn temp_beside(dest: &Path) -> Result<NamedTempFile> {
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(CryptoError::io("creating a temporary file in", dir))
}

/// Moves a finished temporary file to `dest`. Without `overwrite`, an existing `dest` is left untouched and
/// reported as [`CryptoError::AlreadyExists`] (the check and the rename are one atomic step).
pub(crate) fn persist(tmp: NamedTempFile, dest: &Path, overwrite: bool) -> Result<File> {
    let outcome = if overwrite {
        tmp.persist(dest)
    } else {
        tmp.persist_noclobber(dest)
    };
    outcome.map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            CryptoError::AlreadyExists {
                path: dest.to_path_buf(),
            }
        } else {
            CryptoError::Io {
                action: "renaming the temporary file to",
                path: dest.to_path_buf(),
                source: e.error,
            }
        }
    })
}

/// Writes `bytes` to `path` atomically (temporary file + rename). Refuses to replace an existing file unless
/// `overwrite` is set.
pub fn write_file_atomic(path: &Path, bytes: &[u8], overwrite: bool) -> Result<()> {
    if !overwrite && path.exists() {
        return Err(CryptoError::AlreadyExists {
            path: path.to_path_buf(),
        });
    }
    let mut tmp = temp_beside(path)?;
    tmp.write_all(bytes)
        .map_err(CryptoError::io("writing", path))?;
    persist(tmp, path, overwrite)?;
    Ok(())
}
