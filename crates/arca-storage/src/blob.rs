//! Where the bytes live: the [`BlobStore`] trait and its default, the local filesystem
//! ([`FsStore`]).
//!
//! A blob is immutable and named by its [`Cid`], so storing is "move a finished, fsynced temp
//! file into place": either the rename happened (the whole blob is there) or it did not (nothing
//! is), whatever the crash. Storing a cid that already exists is a no-op, as the content is the
//! same by construction.

use crate::cid::Cid;
use crate::error::{Result, StorageError};
use axum::body::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use std::ops::Range;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// A stream of blob bytes.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// Storage of immutable content-addressed blobs.
pub trait BlobStore: Send + Sync + std::fmt::Debug + 'static {
    /// Takes the finished temp file `file` (already fsynced, its sha256 is `cid`'s digest) and
    /// stores it under `cid`; `file` is consumed (moved or deleted) on success.
    fn put<'a>(&'a self, cid: &'a Cid, file: &'a Path) -> BoxFuture<'a, Result<()>>;

    /// The size of blob `cid`, `None` if absent.
    fn size<'a>(&'a self, cid: &'a Cid) -> BoxFuture<'a, Result<Option<u64>>>;

    /// Bytes `range` of blob `cid` (the range is within its size).
    fn get_range<'a>(
        &'a self,
        cid: &'a Cid,
        range: Range<u64>,
    ) -> BoxFuture<'a, Result<ByteStream>>;

    /// Readiness: the backend can be written to.
    fn check(&self) -> BoxFuture<'_, Result<()>>;
}

/// Blobs as files `<root>/blobs/<cid>`.
#[derive(Debug, Clone)]
pub struct FsStore {
    blobs: PathBuf,
}

impl FsStore {
    /// Creates `<root>/blobs` if needed.
    pub fn open(root: &Path) -> Result<FsStore> {
        let blobs = root.join("blobs");
        std::fs::create_dir_all(&blobs)
            .map_err(|e| StorageError::io(format!("creating {}", blobs.display()), e))?;
        Ok(FsStore { blobs })
    }

    fn path(&self, cid: &Cid) -> PathBuf {
        self.blobs.join(cid.to_string())
    }
}

/// fsyncs a directory so a rename into it survives a power cut.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl BlobStore for FsStore {
    fn put<'a>(&'a self, cid: &'a Cid, file: &'a Path) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let dest = self.path(cid);
            let (file, blobs) = (file.to_path_buf(), self.blobs.clone());
            tokio::task::spawn_blocking(move || {
                if dest.exists() {
                    // same cid, same bytes: keep the blob already there
                    return std::fs::remove_file(&file)
                        .map_err(|e| StorageError::io(format!("removing {}", file.display()), e));
                }
                std::fs::rename(&file, &dest).map_err(|e| {
                    StorageError::io(
                        format!("moving {} to {}", file.display(), dest.display()),
                        e,
                    )
                })?;
                sync_dir(&blobs)
                    .map_err(|e| StorageError::io(format!("syncing {}", blobs.display()), e))
            })
            .await
            .map_err(|e| StorageError::io("storing a blob", std::io::Error::other(e)))?
        })
    }

    fn size<'a>(&'a self, cid: &'a Cid) -> BoxFuture<'a, Result<Option<u64>>> {
        Box::pin(async move {
            let path = self.path(cid);
            match tokio::fs::metadata(&path).await {
                Ok(m) => Ok(Some(m.len())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(StorageError::io(format!("reading {}", path.display()), e)),
            }
        })
    }

    fn get_range<'a>(
        &'a self,
        cid: &'a Cid,
        range: Range<u64>,
    ) -> BoxFuture<'a, Result<ByteStream>> {
        Box::pin(async move {
            let path = self.path(cid);
            let mut file = tokio::fs::File::open(&path)
                .await
                .map_err(|e| StorageError::io(format!("opening {}", path.display()), e))?;
            file.seek(std::io::SeekFrom::Start(range.start))
                .await
                .map_err(|e| StorageError::io(format!("seeking in {}", path.display()), e))?;
            let reader = file.take(range.end - range.start);
            let stream = tokio_util::io::ReaderStream::with_capacity(reader, 64 * 1024);
            Ok(Box::pin(stream) as ByteStream)
        })
    }

    fn check(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            // a write, not just a stat: a read-only or full disk must make /ready fail
            let probe = self.blobs.join(".ready-probe");
            tokio::fs::write(&probe, b"ok")
                .await
                .map_err(|e| StorageError::io(format!("writing to {}", self.blobs.display()), e))?;
            let _ = tokio::fs::remove_file(&probe).await;
            Ok(())
        })
    }
}
