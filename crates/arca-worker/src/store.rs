//! Where result archives go once a replicate is computed ([`ResultStore`]), and a store on a local
//! directory ([`DirResultStore`]) for single-machine setups and tests. A networked store (Arca's
//! result store serving `/ipfs/<cid>`) implements the same trait.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use alloy::primitives::B256;
use async_trait::async_trait;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::task::WorkerpoolAuthorization;

/// Uploads a task's result archive and says where it now is.
#[async_trait]
pub trait ResultStore: Send + Sync + std::fmt::Debug {
    /// Stores `archive` (the plain or encrypted result zip) for `task_id`; `authorization` is
    /// the scheduler's permission for this worker, which a remote store may require as proof
    /// that the upload comes from an authorized worker. Returns the location to publish on
    /// chain: `/ipfs/<cid>` for IPFS-like stores, or a URL (`file://…`, `https://…`).
    async fn upload(
        &self,
        task_id: B256,
        archive: &Path,
        authorization: &WorkerpoolAuthorization,
    ) -> Result<String>;
}

/// Content-addressed archives in a local directory: `<dir>/<sha256 hex>.zip`, located as
/// `file://<dir>/<sha256 hex>.zip`. Writing is a temp file + rename, so a crash never leaves a
/// half archive under a final name, and storing the same bytes twice is a no-op.
#[derive(Debug, Clone)]
pub struct DirResultStore {
    dir: PathBuf,
}

impl DirResultStore {
    /// A store in `dir` (created if absent; must be absolute, since locations are `file://` URLs).
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        if !dir.is_absolute() {
            return Err(Error::ResultStore(format!(
                "the result directory must be an absolute path, got {}",
                dir.display()
            )));
        }
        fs::create_dir_all(&dir).map_err(|source| Error::Io {
            operation: "create",
            path: dir.clone(),
            source,
        })?;
        Ok(Self { dir })
    }

    /// The directory archives are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn store_blocking(dir: &Path, archive: &Path) -> Result<String> {
        let io = |operation, path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io {
                operation,
                path,
                source,
            }
        };
        let bytes = fs::read(archive).map_err(io("read", archive))?;
        let name = format!("{}.zip", hex::encode(Sha256::digest(&bytes)));
        let dest = dir.join(&name);
        if !dest.exists() {
            let mut tmp =
                tempfile::NamedTempFile::new_in(dir).map_err(io("create a temp file in", dir))?;
            tmp.write_all(&bytes).map_err(io("write", tmp.path()))?;
            tmp.as_file().sync_all().map_err(io("sync", &dest))?;
            tmp.persist(&dest).map_err(|e| Error::Io {
                operation: "rename into",
                path: dest.clone(),
                source: e.error,
            })?;
        }
        Ok(format!("file://{}", dest.display()))
    }
}

#[async_trait]
impl ResultStore for DirResultStore {
    async fn upload(
        &self,
        task_id: B256,
        archive: &Path,
        _authorization: &WorkerpoolAuthorization,
    ) -> Result<String> {
        let (dir, archive) = (self.dir.clone(), archive.to_path_buf());
        let location = tokio::task::spawn_blocking(move || Self::store_blocking(&dir, &archive))
            .await
            .map_err(|e| Error::ResultStore(format!("storing the archive panicked: {e}")))??;
        tracing::info!(%task_id, location, "result archive stored");
        Ok(location)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Address, Bytes};

    fn auth() -> WorkerpoolAuthorization {
        WorkerpoolAuthorization {
            worker_wallet: Address::ZERO,
            chain_task_id: B256::ZERO,
            enclave_challenge: Address::ZERO,
            signature: Bytes::new(),
        }
    }

    #[tokio::test]
    async fn archives_are_content_addressed_file_urls() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirResultStore::new(dir.path().join("results")).unwrap();
        let archive = dir.path().join("iexec_out.zip");
        fs::write(&archive, b"zip bytes").unwrap();
        let location = store.upload(B256::ZERO, &archive, &auth()).await.unwrap();
        let expected = store
            .dir()
            .join(format!("{}.zip", hex::encode(Sha256::digest(b"zip bytes"))));
        assert_eq!(location, format!("file://{}", expected.display()));
        assert_eq!(fs::read(&expected).unwrap(), b"zip bytes");
        // same bytes, same place
        assert_eq!(
            store.upload(B256::ZERO, &archive, &auth()).await.unwrap(),
            location
        );
        assert!(DirResultStore::new("relative/dir").is_err());
    }
}
