//! Post-compute file work (iexec-protocol.md §3.3): the result file-name rule, the app's logs
//! written beside its results, and the `iexec_out.zip` archive.

use std::fs;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::logs::ComputeLogs;

/// Longest file name allowed under `/iexec_out` (iExec's post-compute refuses longer ones with
/// `POST_COMPUTE_TOO_LONG_RESULT_FILE_NAME`).
pub const MAX_RESULT_FILE_NAME: usize = 31;

/// Where the standard worker writes the app's output streams in `/iexec_out`.
pub const STDOUT_FILE: &str = "stdout.txt";
/// See [`STDOUT_FILE`].
pub const STDERR_FILE: &str = "stderr.txt";

fn io(operation: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error + use<> {
    let path = path.to_path_buf();
    move |source| Error::Io {
        operation,
        path,
        source,
    }
}

/// Every entry under `dir` (recursively, not following symlinks), sorted by path.
fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in fs::read_dir(&d).map_err(io("list", &d))? {
            let entry = entry.map_err(io("list", &d))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(io("stat", &path))?;
            if kind.is_dir() {
                pending.push(path.clone());
            }
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// The first name under `dir` longer than [`MAX_RESULT_FILE_NAME`] characters, as a path
/// relative to `dir`, if any.
pub fn too_long_name(dir: &Path) -> Result<Option<String>> {
    for path in walk(dir)? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.chars().count() > MAX_RESULT_FILE_NAME {
            let relative = path.strip_prefix(dir).unwrap_or(&path);
            return Ok(Some(relative.display().to_string()));
        }
    }
    Ok(None)
}

/// Writes the app's stdout/stderr to `stdout.txt`/`stderr.txt` in `out` when non-empty, as
/// iExec's standard worker does, unless the app wrote a file of that name itself (its own
/// results win). Called after the result digest is computed, so logs (which may differ between
/// workers) never enter the consensus.
pub fn write_logs(out: &Path, logs: &ComputeLogs) -> Result<()> {
    for (name, text) in [(STDOUT_FILE, &logs.stdout), (STDERR_FILE, &logs.stderr)] {
        let path = out.join(name);
        if text.is_empty() || fs::symlink_metadata(&path).is_ok() {
            continue;
        }
        fs::write(&path, text).map_err(io("write", &path))?;
    }
    Ok(())
}

/// Zips the regular files under `dir` (recursively, relative paths, deflate; symlinks and other
/// special files skipped, as iExec's post-compute does) into `dest`, atomically. Entries are in
/// path order, so the same tree gives the same entry list.
pub fn zip_dir(dir: &Path, dest: &Path) -> Result<u64> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(parent).map_err(io("create a temp file in", parent))?;
    let archive_err =
        |e: zip::result::ZipError| Error::ResultArchive(format!("zipping {}: {e}", dir.display()));
    let mut count = 0u64;
    {
        let mut writer = zip::ZipWriter::new(tmp.as_file_mut());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o644);
        let mut buf = Vec::new();
        for path in walk(dir)? {
            let meta = fs::symlink_metadata(&path).map_err(io("stat", &path))?;
            if !meta.file_type().is_file() {
                continue;
            }
            let relative = path.strip_prefix(dir).unwrap_or(&path);
            let name = relative.to_str().ok_or_else(|| {
                Error::ResultArchive(format!("{} is not UTF-8", relative.display()))
            })?;
            writer.start_file(name, options).map_err(archive_err)?;
            buf.clear();
            fs::File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut buf))
                .map_err(io("read", &path))?;
            writer.write_all(&buf).map_err(io("write", dest))?;
            count += 1;
        }
        writer.finish().map_err(archive_err)?;
    }
    tmp.as_file().sync_all().map_err(io("sync", dest))?;
    tmp.persist(dest).map_err(|e| Error::Io {
        operation: "rename into",
        path: dest.to_path_buf(),
        source: e.error,
    })?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_longer_than_31_chars_are_found_at_any_depth() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a".repeat(31)), "ok").unwrap();
        assert_eq!(too_long_name(dir.path()).unwrap(), None);
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub").join("b".repeat(32)), "x").unwrap();
        assert_eq!(
            too_long_name(dir.path()).unwrap(),
            Some(format!("sub/{}", "b".repeat(32)))
        );
    }

    #[test]
    fn logs_are_written_when_present_without_overwriting_the_app() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(STDERR_FILE), "the app's own").unwrap();
        let logs = ComputeLogs {
            stdout: "out\n".into(),
            stderr: "err\n".into(),
            ..Default::default()
        };
        write_logs(dir.path(), &logs).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join(STDOUT_FILE)).unwrap(),
            "out\n"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join(STDERR_FILE)).unwrap(),
            "the app's own"
        );
        let empty = tempfile::tempdir().unwrap();
        write_logs(empty.path(), &ComputeLogs::default()).unwrap();
        assert_eq!(fs::read_dir(empty.path()).unwrap().count(), 0);
    }

    #[test]
    fn zip_holds_regular_files_by_relative_path() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("iexec_out");
        fs::create_dir_all(out.join("sub")).unwrap();
        fs::write(out.join("result.txt"), "hello").unwrap();
        fs::write(out.join("sub/deep.txt"), "deep").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", out.join("link")).unwrap();
        let dest = dir.path().join("iexec_out.zip");
        assert_eq!(zip_dir(&out, &dest).unwrap(), 2);
        let mut archive = zip::ZipArchive::new(fs::File::open(&dest).unwrap()).unwrap();
        let mut names: Vec<String> = archive
            .file_names()
            .map(|n| n.unwrap().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["result.txt", "sub/deep.txt"]);
        let mut text = String::new();
        archive
            .by_name("sub/deep.txt")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "deep");
    }
}
