//! The typed HTTP client of the result store: workers upload, schedulers look up, requesters
//! (and the CLI) download.
//!
//! Transient failures (connection refused or reset, timeouts, 5xx) are retried a bounded
//! number of times with exponential backoff; a refusal (4xx) is returned at once, with the
//! store's check name and message. Downloads are resumable: bytes go to `<dest>.part`, a
//! later call continues from its length with a `Range` request, and the whole file's sha256 is
//! checked against the cid before the atomic rename to `<dest>`.

use crate::auth;
use crate::cid::Cid;
use crate::error::{Result, StorageError};
use crate::server::{
    AUTHORIZATION_HEADER, CHALLENGE_HEADER, Receipt, SIGNATURE_HEADER, WORKER_HEADER, sync_parent,
};
use alloy::primitives::{Address, B256, Bytes};
use alloy::signers::local::PrivateKeySigner;
use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, IF_RANGE, RANGE};
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What to upload: bytes in memory or a file streamed from disk.
#[derive(Debug, Clone)]
pub enum UploadBody {
    /// In memory.
    Bytes(axum::body::Bytes),
    /// A file, streamed (never loaded whole).
    File(PathBuf),
}

impl From<Vec<u8>> for UploadBody {
    fn from(v: Vec<u8>) -> Self {
        UploadBody::Bytes(v.into())
    }
}

impl From<&[u8]> for UploadBody {
    fn from(v: &[u8]) -> Self {
        UploadBody::Bytes(axum::body::Bytes::copy_from_slice(v))
    }
}

impl From<axum::body::Bytes> for UploadBody {
    fn from(v: axum::body::Bytes) -> Self {
        UploadBody::Bytes(v)
    }
}

impl From<PathBuf> for UploadBody {
    fn from(v: PathBuf) -> Self {
        UploadBody::File(v)
    }
}

impl From<&Path> for UploadBody {
    fn from(v: &Path) -> Self {
        UploadBody::File(v.to_path_buf())
    }
}

/// A client of one result store.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    attempts: u32,
    backoff: Duration,
}

/// One try's outcome: done, retry (transient), or give up.
enum Try<T> {
    Done(T),
    Retry(StorageError),
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> StorageError {
    move |e| StorageError::io(context, e)
}

/// Reads the store's JSON refusal `{"ok":false,"error":{"name","message"}}`.
async fn remote(url: &str, response: reqwest::Response) -> StorageError {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let parsed: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|v| v["error"][k].as_str())
            .map(str::to_owned)
    };
    StorageError::Remote {
        url: url.to_string(),
        status,
        check: field("name").unwrap_or_else(|| "http".into()),
        message: field("message").unwrap_or_else(|| {
            format!("unexpected answer (not the result store's JSON): {text:.200}")
        }),
    }
}

/// sha256 and size of what will be uploaded.
async fn digest(body: &UploadBody) -> Result<([u8; 32], u64)> {
    match body {
        UploadBody::Bytes(b) => Ok((sha2::Sha256::digest(b).into(), b.len() as u64)),
        UploadBody::File(path) => hash_file(path).await,
    }
}

async fn hash_file(path: &Path) -> Result<([u8; 32], u64)> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(io(format!("opening {}", path.display())))?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .await
            .map_err(io(format!("reading {}", path.display())))?;
        if n == 0 {
            return Ok((hasher.finalize().into(), size));
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
}

/// `<dest>.part`.
fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

impl Client {
    /// A client of the store at `base_url` (`http://host:port`), 5 attempts, backoff from 250 ms.
    pub fn new(base_url: impl Into<String>) -> Result<Client> {
        let base = base_url.into().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(StorageError::Config(format!(
                "result store URL '{base}' must start with http:// or https://"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // no total timeout (archives can be large), but a stalled transfer is an error
            .read_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| StorageError::Config(format!("building the HTTP client: {e}")))?;
        Ok(Client {
            base,
            http,
            attempts: 5,
            backoff: Duration::from_millis(250),
        })
    }

    /// Sets the number of attempts (at least 1) and the first backoff (doubled each time, at
    /// most 8 s).
    pub fn with_retries(mut self, attempts: u32, backoff: Duration) -> Client {
        self.attempts = attempts.max(1);
        self.backoff = backoff;
        self
    }

    /// The store's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    async fn pause(&self, attempt: u32, url: &str, why: &StorageError) {
        let delay = self
            .backoff
            .saturating_mul(1 << attempt.min(5))
            .min(Duration::from_secs(8));
        tracing::warn!(%url, attempt = attempt + 1, error = %why, ?delay, "retrying");
        tokio::time::sleep(delay).await;
    }

    /// Runs `one` up to `attempts` times while it asks to retry.
    async fn retrying<T, F, Fut>(&self, url: &str, mut one: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Try<T>>>,
    {
        let mut attempt = 0;
        loop {
            match one().await? {
                Try::Done(v) => return Ok(v),
                Try::Retry(e) => {
                    attempt += 1;
                    if attempt >= self.attempts {
                        return Err(e);
                    }
                    self.pause(attempt - 1, url, &e).await;
                }
            }
        }
    }

    /// Uploads the result archive of `task_id` as `worker`, with the scheduler's
    /// `authorization` (WorkerpoolAuthorization signature for this worker, task and enclave
    /// challenge). Signs `keccak256(taskId ‖ sha256(body))` with the worker's key.
    #[tracing::instrument(name = "upload", skip_all, fields(task = %task_id, worker = %worker.address()))]
    pub async fn upload(
        &self,
        task_id: B256,
        body: impl Into<UploadBody>,
        worker: &PrivateKeySigner,
        authorization: Bytes,
        enclave_challenge: Address,
    ) -> Result<Receipt> {
        let body = body.into();
        let (sha, size) = digest(&body).await?;
        let signature = auth::personal_sign(worker, auth::upload_hash(task_id, sha));
        let url = format!("{}/v1/results/{task_id}", self.base);
        let receipt: Receipt = self
            .retrying(&url, || async {
                let payload = match &body {
                    UploadBody::Bytes(b) => reqwest::Body::from(b.clone()),
                    UploadBody::File(path) => {
                        let file = tokio::fs::File::open(path)
                            .await
                            .map_err(io(format!("opening {}", path.display())))?;
                        reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
                            file,
                            256 * 1024,
                        ))
                    }
                };
                let sent = self
                    .http
                    .put(&url)
                    .header(WORKER_HEADER, worker.address().to_string())
                    .header(CHALLENGE_HEADER, enclave_challenge.to_string())
                    .header(AUTHORIZATION_HEADER, authorization.to_string())
                    .header(SIGNATURE_HEADER, signature.to_string())
                    .header(CONTENT_LENGTH, size)
                    .body(payload)
                    .send()
                    .await;
                self.answer(&url, sent).await
            })
            .await?;
        if receipt.sha256 != B256::from(sha) || receipt.size != size {
            return Err(StorageError::Remote {
                url,
                status: 201,
                check: "receipt".into(),
                message: format!(
                    "the store acknowledged sha256 {} ({} bytes) but sent 0x{} ({size} bytes); upload again and report the store if it repeats",
                    receipt.sha256,
                    receipt.size,
                    alloy::hex::encode(sha)
                ),
            });
        }
        Ok(receipt)
    }

    /// Classifies a response carrying a receipt.
    async fn answer(
        &self,
        url: &str,
        sent: reqwest::Result<reqwest::Response>,
    ) -> Result<Try<Receipt>> {
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                return Ok(Try::Retry(StorageError::Unreachable {
                    url: url.to_string(),
                    source: e,
                }));
            }
        };
        let status = response.status();
        if status.is_server_error() {
            return Ok(Try::Retry(remote(url, response).await));
        }
        if !status.is_success() {
            return Err(remote(url, response).await);
        }
        match response.json::<Receipt>().await {
            Ok(r) => Ok(Try::Done(r)),
            Err(e) => Ok(Try::Retry(StorageError::Unreachable {
                url: url.to_string(),
                source: e,
            })),
        }
    }

    /// The stored result of `task_id`, `None` if none was uploaded.
    pub async fn lookup(&self, task_id: B256) -> Result<Option<Receipt>> {
        let url = format!("{}/v1/results/{task_id}", self.base);
        self.retrying(&url, || async {
            let sent = self.http.get(&url).send().await;
            let sent = match sent {
                Ok(r) if r.status() == StatusCode::NOT_FOUND => {
                    // only the store's own "no result" is an answer; a 404 from something else
                    // (wrong URL, a proxy) is an error naming it
                    let e = remote(&url, r).await;
                    return if e.check() == "not-found" {
                        Ok(Try::Done(None))
                    } else {
                        Err(e)
                    };
                }
                other => other,
            };
            Ok(match self.answer(&url, sent).await? {
                Try::Done(r) => Try::Done(Some(r)),
                Try::Retry(e) => Try::Retry(e),
            })
        })
        .await
    }

    /// Resolves a cid, `/ipfs/<cid>`, `ipfs://<cid>` or a full gateway URL to (URL, cid).
    fn resolve(&self, location: &str) -> Result<(String, Cid)> {
        let text = location.trim();
        let (url, cid_text) = if text.starts_with("http://") || text.starts_with("https://") {
            let cid = text
                .split("/ipfs/")
                .nth(1)
                .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(rest))
                .unwrap_or("");
            (text.to_string(), cid)
        } else {
            let cid = text
                .strip_prefix("ipfs://")
                .or_else(|| text.strip_prefix("/ipfs/"))
                .unwrap_or(text);
            (format!("{}/ipfs/{cid}", self.base), cid)
        };
        let cid = cid_text.parse::<Cid>().map_err(|e| {
            StorageError::bad(
                "cid",
                format!(
                    "'{location}': {e}; give the task's result location (/ipfs/<cid>) or the cid"
                ),
            )
        })?;
        Ok((url, cid))
    }

    /// Downloads `location` (cid, `/ipfs/<cid>`, `ipfs://<cid>` or a gateway URL) to `dest`,
    /// resuming `<dest>.part` if present, verifying the sha256 against the cid, then renaming
    /// atomically. `progress(bytes_on_disk, total)` is called as data arrives.
    #[tracing::instrument(name = "download", skip_all, fields(location = %location))]
    pub async fn download(
        &self,
        location: &str,
        dest: &Path,
        mut progress: impl FnMut(u64, Option<u64>),
    ) -> Result<Receipt> {
        let (url, cid) = self.resolve(location)?;
        let part = part_path(dest);
        let etag = format!("\"{cid}\"");
        let mut attempt = 0u32;
        loop {
            match self
                .download_once(&url, &cid, &etag, &part, &mut progress)
                .await?
            {
                Try::Done(size) => {
                    let (sha, _) = hash_file(&part).await?;
                    if sha != cid.sha256() {
                        let _ = tokio::fs::remove_file(&part).await;
                        return Err(StorageError::Integrity {
                            url,
                            cid: cid.to_string(),
                            expected: format!("0x{}", alloy::hex::encode(cid.sha256())),
                            found: format!("0x{}", alloy::hex::encode(sha)),
                        });
                    }
                    tokio::fs::rename(&part, dest).await.map_err(io(format!(
                        "renaming {} to {}",
                        part.display(),
                        dest.display()
                    )))?;
                    sync_parent(dest)
                        .map_err(io(format!("syncing the directory of {}", dest.display())))?;
                    return Ok(Receipt::new(cid, size));
                }
                Try::Retry(e) => {
                    attempt += 1;
                    if attempt >= self.attempts {
                        return Err(e);
                    }
                    self.pause(attempt - 1, &url, &e).await;
                }
            }
        }
    }

    /// One GET from the current length of `part`; `Done(size)` when `part` is complete.
    async fn download_once(
        &self,
        url: &str,
        cid: &Cid,
        etag: &str,
        part: &Path,
        progress: &mut impl FnMut(u64, Option<u64>),
    ) -> Result<Try<u64>> {
        let offset = match tokio::fs::metadata(part).await {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(StorageError::io(format!("reading {}", part.display()), e)),
        };
        let mut request = self.http.get(url);
        if offset > 0 {
            request = request
                .header(RANGE, format!("bytes={offset}-"))
                .header(IF_RANGE, etag);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                return Ok(Try::Retry(StorageError::Unreachable {
                    url: url.to_string(),
                    source: e,
                }));
            }
        };
        let status = response.status();
        let content_range = response
            .headers()
            .get(CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // "bytes a-b/total" or "bytes */total"
        let range_total = content_range
            .as_deref()
            .and_then(|v| v.rsplit('/').next())
            .and_then(|t| t.parse::<u64>().ok());
        let range_start = content_range
            .as_deref()
            .and_then(|v| v.strip_prefix("bytes "))
            .and_then(|v| v.split('-').next())
            .and_then(|s| s.parse::<u64>().ok());
        let (mut file, mut done, total) = match status {
            StatusCode::RANGE_NOT_SATISFIABLE if offset > 0 => {
                if range_total == Some(offset) {
                    // the partial file is already whole
                    return Ok(Try::Done(offset));
                }
                // longer than the content: not a prefix of it, start over
                tokio::fs::remove_file(part)
                    .await
                    .map_err(io(format!("removing {}", part.display())))?;
                return Ok(Try::Retry(StorageError::Remote {
                    url: url.to_string(),
                    status: 416,
                    check: "range".into(),
                    message: format!(
                        "the partial file {} ({offset} bytes) is longer than the content; it was removed and the download restarts",
                        part.display()
                    ),
                }));
            }
            StatusCode::PARTIAL_CONTENT if offset > 0 && range_start == Some(offset) => {
                let file = tokio::fs::OpenOptions::new()
                    .append(true)
                    .open(part)
                    .await
                    .map_err(io(format!("opening {}", part.display())))?;
                (file, offset, range_total)
            }
            StatusCode::OK => {
                let total = response.content_length();
                let file = tokio::fs::File::create(part)
                    .await
                    .map_err(io(format!("creating {}", part.display())))?;
                (file, 0, total)
            }
            s if s.is_server_error() => return Ok(Try::Retry(remote(url, response).await)),
            s if s.is_success() => {
                return Err(StorageError::Remote {
                    url: url.to_string(),
                    status: s.as_u16(),
                    check: "range".into(),
                    message: format!(
                        "asked bytes {offset}- of {cid} but got {s} with Content-Range {content_range:?}; remove {} and download again",
                        part.display()
                    ),
                });
            }
            _ => return Err(remote(url, response).await),
        };
        progress(done, total);
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    // keep what arrived: the next try resumes from there
                    file.flush()
                        .await
                        .map_err(io(format!("writing {}", part.display())))?;
                    return Ok(Try::Retry(StorageError::Unreachable {
                        url: url.to_string(),
                        source: e,
                    }));
                }
            };
            file.write_all(&chunk)
                .await
                .map_err(io(format!("writing {}", part.display())))?;
            done += chunk.len() as u64;
            progress(done, total);
        }
        file.flush()
            .await
            .map_err(io(format!("writing {}", part.display())))?;
        file.sync_all()
            .await
            .map_err(io(format!("syncing {}", part.display())))?;
        if let Some(total) = total
            && done != total
        {
            return Ok(Try::Retry(StorageError::Remote {
                url: url.to_string(),
                status: status.as_u16(),
                check: "truncated".into(),
                message: format!("the transfer stopped at {done} of {total} bytes; resuming"),
            }));
        }
        Ok(Try::Done(done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_to_the_gateway_url_and_cid() {
        let client = Client::new("http://store:1/").unwrap();
        let cid = Cid::of(b"x");
        for loc in [
            cid.to_string(),
            format!("/ipfs/{cid}"),
            format!("ipfs://{cid}"),
        ] {
            let (url, got) = client.resolve(&loc).unwrap();
            assert_eq!(url, format!("http://store:1/ipfs/{cid}"));
            assert_eq!(got, cid);
        }
        let other = format!("https://gw.example/ipfs/{cid}?filename=r.zip");
        assert_eq!(client.resolve(&other).unwrap(), (other.clone(), cid));
        let err = client.resolve("/results/0x12").unwrap_err();
        assert_eq!(err.check(), "cid");
        assert!(Client::new("store:1").is_err());
        assert_eq!(
            part_path(Path::new("/a/r.zip")),
            PathBuf::from("/a/r.zip.part")
        );
    }
}
