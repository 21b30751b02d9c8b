//! The S3-compatible blob backend (cargo feature `s3`), through the `object_store` crate.
//!
//! Objects are `<prefix>/<cid>`. A finished temp file is streamed up (one PUT when small,
//! multipart above 10 MiB), so nothing is buffered whole; S3 makes an object visible only once
//! its upload completed, which gives the same all-or-nothing rule as the filesystem's rename.
//! The index and the temp files stay on the local `data_dir`.

use crate::blob::{BlobStore, ByteStream};
use crate::cid::Cid;
use crate::error::{Result, StorageError};
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Where the blobs go.
#[derive(Debug, Clone, Default)]
pub struct S3Config {
    /// The bucket (must exist).
    pub bucket: String,
    /// Key prefix, e.g. `arca/results` (empty: bucket root).
    pub prefix: String,
    /// Endpoint of an S3-compatible server (`http://127.0.0.1:9000`); `None`: AWS.
    pub endpoint: Option<String>,
    /// Region (`us-east-1` if empty).
    pub region: String,
    /// Access key id; `None`: from the environment (`AWS_ACCESS_KEY_ID`, …).
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
}

/// Blobs as S3 objects `<prefix>/<cid>`.
#[derive(Debug, Clone)]
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    bucket: String,
}

fn s3_err(what: String) -> impl FnOnce(object_store::Error) -> StorageError {
    move |e| StorageError::io(what, std::io::Error::other(e))
}

impl S3Store {
    /// Builds the client (no request is made: [`BlobStore::check`] tells if it works).
    pub fn new(config: &S3Config) -> Result<S3Store> {
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&config.bucket);
        builder = builder.with_region(if config.region.is_empty() {
            "us-east-1"
        } else {
            &config.region
        });
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(key) = &config.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder.build().map_err(|e| {
            StorageError::Config(format!(
                "S3 bucket '{}': {e}; check bucket, endpoint and credentials",
                config.bucket
            ))
        })?;
        Ok(S3Store {
            store: Arc::new(store),
            prefix: config.prefix.trim_matches('/').to_string(),
            bucket: config.bucket.clone(),
        })
    }

    fn key(&self, cid: &Cid) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(cid.to_string())
        } else {
            ObjectPath::from(format!("{}/{cid}", self.prefix))
        }
    }

    fn name(&self, key: &ObjectPath) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

impl BlobStore for S3Store {
    fn put<'a>(&'a self, cid: &'a Cid, file: &'a Path) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let key = self.key(cid);
            if self.size(cid).await?.is_none() {
                let mut source = tokio::fs::File::open(file)
                    .await
                    .map_err(|e| StorageError::io(format!("opening {}", file.display()), e))?;
                let mut sink = BufWriter::new(self.store.clone(), key.clone());
                let copied = tokio::io::copy(&mut source, &mut sink).await;
                let closed = match copied {
                    Ok(_) => sink.shutdown().await,
                    Err(e) => {
                        let _ = sink.abort().await;
                        Err(e)
                    }
                };
                closed.map_err(|e| {
                    StorageError::io(
                        format!("uploading {} to {}", file.display(), self.name(&key)),
                        e,
                    )
                })?;
            }
            tokio::fs::remove_file(file)
                .await
                .map_err(|e| StorageError::io(format!("removing {}", file.display()), e))
        })
    }

    fn size<'a>(&'a self, cid: &'a Cid) -> BoxFuture<'a, Result<Option<u64>>> {
        Box::pin(async move {
            let key = self.key(cid);
            match self.store.head(&key).await {
                Ok(meta) => Ok(Some(meta.size)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(s3_err(format!("reading {}", self.name(&key)))(e)),
            }
        })
    }

    fn get_range<'a>(
        &'a self,
        cid: &'a Cid,
        range: Range<u64>,
    ) -> BoxFuture<'a, Result<ByteStream>> {
        Box::pin(async move {
            let key = self.key(cid);
            if range.is_empty() {
                // S3 refuses empty ranges; an empty blob (or range) is an empty body
                return Ok(futures::stream::empty().boxed());
            }
            let options = GetOptions {
                range: Some(GetRange::Bounded(range)),
                ..GetOptions::default()
            };
            let got = self
                .store
                .get_opts(&key, options)
                .await
                .map_err(s3_err(format!("reading {}", self.name(&key))))?;
            Ok(got.into_stream().map_err(std::io::Error::other).boxed())
        })
    }

    fn check(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            // a write, not just a read: the credentials must allow uploads
            let probe = if self.prefix.is_empty() {
                ObjectPath::from(".ready-probe")
            } else {
                ObjectPath::from(format!("{}/.ready-probe", self.prefix))
            };
            self.store
                .put(&probe, b"ok".to_vec().into())
                .await
                .map_err(s3_err(format!("writing {}", self.name(&probe))))?;
            let _ = self.store.delete(&probe).await;
            Ok(())
        })
    }
}
