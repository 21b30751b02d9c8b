//! The HTTP service: `PUT|GET /v1/results/{taskId}`, `GET|HEAD /ipfs/{cid}`, `/health`,
//! `/ready`, and [`spawn`] to run it in-process (port 0 in tests) or as `arca storage serve`.
//!
//! An upload is checked in the cheapest order that never stores unauthorized bytes: headers,
//! then the chain (task status, the scheduler's authorization), then the body is streamed to a
//! temp file (size limit, sha256), then the worker's signature over that sha256; only then is
//! the file fsynced, moved into the blob store and indexed (the blob before the index, so the
//! index never names a missing blob).
//!
//! Re-upload rule: the same content for a task always gets the same answer (201 and the same
//! receipt, even after completion). Different content replaces the stored result only while
//! the task is still ACTIVE on chain (a worker restarted and recomputed before contributing);
//! once the task is REVEALING, COMPLETED or FAILED the stored result is final and a different
//! one is refused with 409.

use crate::auth;
use crate::blob::{BlobStore, FsStore, sync_dir};
use crate::chain::{Chain, TaskView, status, status_name};
use crate::cid::Cid;
use crate::error::{Result, StorageError};
use crate::index::{Index, Insert, Record};
use alloy::primitives::{Address, B256};
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path as AxPath, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// Header: the uploading worker's address.
pub const WORKER_HEADER: &str = "x-arca-worker";
/// Header: the enclave challenge address (zero for standard tasks).
pub const CHALLENGE_HEADER: &str = "x-arca-enclave-challenge";
/// Header: the scheduler's WorkerpoolAuthorization signature.
pub const AUTHORIZATION_HEADER: &str = "x-arca-authorization";
/// Header: the worker's signature of `keccak256(taskId ‖ sha256(body))`.
pub const SIGNATURE_HEADER: &str = "x-arca-signature";

/// Default upload size limit: 512 MiB.
pub const DEFAULT_MAX_UPLOAD: u64 = 512 * 1024 * 1024;

/// How to run the result store.
#[derive(Debug, Clone)]
pub struct Config {
    /// The chain's JSON-RPC URL.
    pub rpc_url: String,
    /// The PoCo hub.
    pub hub: Address,
    /// Where to listen (port 0: any free port).
    pub listen: SocketAddr,
    /// Holds `index.sqlite`, `blobs/` (the default backend) and `tmp/` (uploads in progress).
    pub data_dir: PathBuf,
    /// Largest accepted result archive, in bytes.
    pub max_upload_bytes: u64,
}

impl Config {
    /// Listens on 127.0.0.1:13200 with the default 512 MiB limit.
    pub fn new(rpc_url: impl Into<String>, hub: Address, data_dir: impl Into<PathBuf>) -> Config {
        Config {
            rpc_url: rpc_url.into(),
            hub,
            listen: SocketAddr::from(([127, 0, 0, 1], 13200)),
            data_dir: data_dir.into(),
            max_upload_bytes: DEFAULT_MAX_UPLOAD,
        }
    }
}

/// What an upload (and a lookup) answers, minus the `"ok": true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The content id (`bafkrei…`).
    pub cid: Cid,
    /// `/ipfs/<cid>`: what goes into the on-chain result link.
    pub location: String,
    /// Size in bytes.
    pub size: u64,
    /// sha256 of the content, `0x` hex (also the cid's digest).
    pub sha256: B256,
}

impl Receipt {
    /// The receipt of content `cid` of `size` bytes.
    pub fn new(cid: Cid, size: u64) -> Receipt {
        Receipt {
            location: cid.location(),
            sha256: B256::from(cid.sha256()),
            cid,
            size,
        }
    }

    fn response(&self, status: StatusCode) -> Response {
        let mut body = serde_json::to_value(self).expect("receipts always serialize");
        body["ok"] = serde_json::Value::Bool(true);
        (status, axum::Json(body)).into_response()
    }
}

struct Inner {
    blobs: Arc<dyn BlobStore>,
    index: Index,
    chain: Chain,
    tmp: PathBuf,
    max_upload: u64,
    counter: AtomicU64,
}

type State = Arc<Inner>;

/// A running result store; stops when dropped or on [`StorageHandle::shutdown`].
#[derive(Debug)]
pub struct StorageHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl StorageHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ip:port`: the `resultProxyURL` and, for the SDK, the `ipfsGateway`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits for in-flight requests to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for StorageHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Opens `<data_dir>` with the filesystem backend, connects to the hub, binds and serves;
/// returns once listening.
pub async fn spawn(config: Config) -> Result<StorageHandle> {
    let blobs = Arc::new(FsStore::open(&config.data_dir)?);
    spawn_with_store(config, blobs).await
}

/// [`spawn`] with a blob backend of the caller's choice (the index and temp files stay in
/// `data_dir`).
pub async fn spawn_with_store(config: Config, blobs: Arc<dyn BlobStore>) -> Result<StorageHandle> {
    let dir = &config.data_dir;
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp)
        .map_err(|e| StorageError::io(format!("creating {}", tmp.display()), e))?;
    // uploads interrupted by a crash left their temp files: none was indexed, drop them
    if let Ok(entries) = std::fs::read_dir(&tmp) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let index = Index::open(dir)?;
    let chain = Chain::connect(&config.rpc_url, config.hub).await?;
    let state = Arc::new(Inner {
        blobs,
        index,
        chain,
        tmp,
        max_upload: config.max_upload_bytes,
        counter: AtomicU64::new(0),
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| StorageError::io(format!("listening on {}", config.listen), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StorageError::io("reading the bound address", e))?;
    let span = tracing::info_span!("storage", %addr, hub = %config.hub);
    tracing::info!(parent: &span, dir = %dir.display(), "result store listening");
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router(state);
    let server = tokio::spawn(
        async move {
            let graceful = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = graceful.await {
                tracing::error!(error = %e, "result store stopped");
            }
        }
        .instrument(span),
    );
    Ok(StorageHandle {
        addr,
        stop: Some(stop),
        server: Some(server),
    })
}

fn router(state: State) -> Router {
    Router::new()
        .route("/health", get(|| async { "OK" }))
        .route("/ready", get(ready))
        .route(
            "/v1/results/{task_id}",
            // the body is streamed and limited by `max_upload_bytes`, not by axum's default
            put(upload).get(lookup).layer(DefaultBodyLimit::disable()),
        )
        .route("/ipfs/{cid}", get(download).head(download))
        .with_state(state)
}

/// Ready when the blob backend takes a write, the index answers and the chain serves blocks.
async fn ready(AxState(s): AxState<State>) -> Result<String> {
    s.blobs.check().await?;
    s.index.ping()?;
    let block = s.chain.block_number().await?;
    Ok(format!("ready: store OK, index OK, chain at block {block}"))
}

fn parse_task_id(text: &str) -> Result<B256> {
    let ok = text.len() == 66
        && text.starts_with("0x")
        && text[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        return Err(StorageError::bad(
            "task-id",
            format!(
                "'{text}' is not a task id: expected 0x followed by 64 hex digits (keccak256(dealId ‖ index))"
            ),
        ));
    }
    text.parse()
        .map_err(|e| StorageError::bad("task-id", format!("'{text}': {e}")))
}

fn header<'h>(headers: &'h HeaderMap, name: &'static str, check: &'static str) -> Result<&'h str> {
    let value = headers.get(name).ok_or_else(|| {
        StorageError::bad(
            check,
            format!("header {name} is missing; see the upload contract in arca-storage's README"),
        )
    })?;
    value
        .to_str()
        .map(str::trim)
        .map_err(|_| StorageError::bad(check, format!("header {name} is not ASCII text")))
}

fn header_address(headers: &HeaderMap, name: &'static str, check: &'static str) -> Result<Address> {
    let text = header(headers, name, check)?;
    let valid = text.len() == 42
        && text.starts_with("0x")
        && text[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if !valid {
        return Err(StorageError::bad(
            check,
            format!(
                "header {name}: '{text}' is not an address: expected 0x followed by 40 hex digits"
            ),
        ));
    }
    text.parse()
        .map_err(|e| StorageError::bad(check, format!("header {name}: '{text}': {e}")))
}

fn header_signature(
    headers: &HeaderMap,
    name: &'static str,
    check: &'static str,
) -> Result<alloy::primitives::Signature> {
    let text = header(headers, name, check)?;
    auth::parse_signature(text).map_err(|e| StorageError::bad(check, format!("header {name}: {e}")))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A temp file removed on drop unless it was handed to the blob store.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The task's status allows a first upload.
fn accepts_first_upload(view: &TaskView) -> bool {
    view.status == status::ACTIVE || view.status == status::REVEALING
}

#[tracing::instrument(name = "upload", skip_all, fields(task = %task_text, deal = tracing::field::Empty))]
async fn upload(
    AxState(s): AxState<State>,
    AxPath(task_text): AxPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let task_id = parse_task_id(&task_text)?;
    let worker = header_address(&headers, WORKER_HEADER, "worker-header")?;
    let challenge = header_address(&headers, CHALLENGE_HEADER, "enclave-challenge-header")?;
    let authorization = header_signature(&headers, AUTHORIZATION_HEADER, "authorization-header")?;
    let signature = header_signature(&headers, SIGNATURE_HEADER, "signature-header")?;
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > s.max_upload
    {
        return Err(too_large(len, s.max_upload));
    }

    let view = s.chain.task(task_id).await?;
    tracing::Span::current().record("deal", tracing::field::display(view.deal_id));
    if view.status == status::UNSET {
        return Err(StorageError::refused(
            StatusCode::NOT_FOUND,
            "task-not-found",
            format!(
                "task {task_id} does not exist on chain (status UNSET): it must be initialized (initialize(dealId, index)) before its result is uploaded; check the task id"
            ),
        ));
    }
    let existing = s.index.get(task_id)?;
    if existing.is_none() && !accepts_first_upload(&view) {
        return Err(StorageError::refused(
            StatusCode::CONFLICT,
            "task-status",
            format!(
                "task {task_id} is {} on chain: results are accepted while it is ACTIVE or REVEALING; this task is over, nothing can be uploaded for it",
                status_name(view.status)
            ),
        ));
    }
    if view.is_tee() && challenge == Address::ZERO {
        return Err(StorageError::bad(
            "enclave-challenge",
            format!(
                "deal {} is a TEE deal but {CHALLENGE_HEADER} is the zero address: send the task's enclave challenge address (from the SMS), the one the authorization was signed for",
                view.deal_id
            ),
        ));
    }
    let auth_hash = auth::authorization_hash(worker, task_id, challenge);
    match auth::recover(&authorization, auth_hash) {
        Some(signer) if signer == view.workerpool_owner => {}
        found => {
            return Err(StorageError::refused(
                StatusCode::FORBIDDEN,
                "authorization",
                format!(
                    "{AUTHORIZATION_HEADER} recovers to {} but the workerpool owner of deal {} is {}: the scheduler must sign (EIP-191) keccak256(worker ‖ taskId ‖ enclaveChallenge) for worker {worker}, task {task_id}, enclave challenge {challenge}; send the authorization the scheduler gave this worker for this task",
                    found.map_or("nothing".to_string(), |a| a.to_string()),
                    view.deal_id,
                    view.workerpool_owner
                ),
            ));
        }
    }

    let (temp, sha, size) = receive(&s, task_id, body).await?;
    let upload_hash = auth::upload_hash(task_id, sha);
    match auth::recover(&signature, upload_hash) {
        Some(signer) if signer == worker => {}
        found => {
            return Err(StorageError::refused(
                StatusCode::FORBIDDEN,
                "signature",
                format!(
                    "{SIGNATURE_HEADER} recovers to {} but the worker is {worker}: the worker must sign (EIP-191) keccak256(taskId ‖ sha256(body)) over exactly the bytes sent, whose sha256 is 0x{}; re-sign the archive being uploaded",
                    found.map_or("nothing".to_string(), |a| a.to_string()),
                    alloy::hex::encode(sha)
                ),
            ));
        }
    }
    let cid = Cid::from_sha256(sha);
    let record = Record {
        task_id,
        cid,
        size,
        worker,
        uploaded_at: unix_now(),
    };
    let receipt = Receipt::new(cid, size);
    store(&s, &view, existing, record, temp).await?;
    tracing::info!(%cid, size, %worker, "result stored");
    Ok(receipt.response(StatusCode::CREATED))
}

fn too_large(size: u64, max: u64) -> StorageError {
    StorageError::refused(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
        format!(
            "the result archive is {size} bytes or more but this store accepts at most {max} bytes: make the result smaller (or ask the operator to raise max_upload_bytes)"
        ),
    )
}

/// Streams the body to a new temp file: returns it with the sha256 and size.
async fn receive(s: &Inner, task_id: B256, body: Body) -> Result<(TempFile, [u8; 32], u64)> {
    let n = s.counter.fetch_add(1, Ordering::Relaxed);
    let path = s
        .tmp
        .join(format!("{task_id}-{}-{n}.part", std::process::id()));
    let temp = TempFile {
        path: path.clone(),
        armed: true,
    };
    let file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| StorageError::io(format!("creating {}", path.display()), e))?;
    let mut file = tokio::io::BufWriter::with_capacity(256 * 1024, file);
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            StorageError::bad(
                "body",
                format!("the upload was interrupted after {size} bytes ({e}); upload again"),
            )
        })?;
        size += chunk.len() as u64;
        if size > s.max_upload {
            return Err(too_large(size, s.max_upload));
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| StorageError::io(format!("writing {}", path.display()), e))?;
    }
    file.flush()
        .await
        .map_err(|e| StorageError::io(format!("writing {}", path.display()), e))?;
    // durable before it is renamed into the store and indexed
    file.get_ref()
        .sync_all()
        .await
        .map_err(|e| StorageError::io(format!("syncing {}", path.display()), e))?;
    Ok((temp, hasher.finalize().into(), size))
}

/// Puts the blob, then indexes it, applying the re-upload rule (module doc).
async fn store(
    s: &Inner,
    view: &TaskView,
    existing: Option<Record>,
    record: Record,
    mut temp: TempFile,
) -> Result<()> {
    let task_id = record.task_id;
    let mut existing = existing;
    loop {
        match existing {
            None => {
                put_blob(s, &record.cid, &mut temp).await?;
                match s.index.insert(&record)? {
                    Insert::Stored => return Ok(()),
                    // a concurrent upload of this task won the race: decide against it
                    Insert::Exists(other) => existing = Some(other),
                }
            }
            Some(ref old) if old.cid == record.cid => {
                // idempotent: same bytes, same answer; make sure the blob is still there
                if s.blobs.size(&record.cid).await?.is_none() {
                    put_blob(s, &record.cid, &mut temp).await?;
                }
                return Ok(());
            }
            Some(old) => {
                // a different result: only while the task is still ACTIVE (re-read now, the
                // upload may have taken long)
                let now = s.chain.task(task_id).await?;
                if now.status != status::ACTIVE {
                    return Err(StorageError::refused(
                        StatusCode::CONFLICT,
                        "conflict",
                        format!(
                            "task {task_id} already has result {} ({} bytes, uploaded by {}) and the task is {} on chain: a stored result can only be replaced while the task is ACTIVE, it is final now; download it with GET /ipfs/{}",
                            old.cid,
                            old.size,
                            old.worker,
                            status_name(now.status),
                            old.cid
                        ),
                    ));
                }
                put_blob(s, &record.cid, &mut temp).await?;
                if s.index.replace(&old.cid, &record)? {
                    tracing::info!(deal = %view.deal_id, previous = %old.cid, "result replaced while the task is ACTIVE");
                    return Ok(());
                }
                // changed under us: decide again against the current record
                existing = s.index.get(task_id)?;
            }
        }
    }
}

async fn put_blob(s: &Inner, cid: &Cid, temp: &mut TempFile) -> Result<()> {
    if !temp.armed {
        return Ok(()); // already handed over in an earlier round
    }
    s.blobs.put(cid, &temp.path).await?;
    temp.armed = false;
    Ok(())
}

#[tracing::instrument(name = "lookup", skip_all, fields(task = %task_text))]
async fn lookup(AxState(s): AxState<State>, AxPath(task_text): AxPath<String>) -> Result<Response> {
    let task_id = parse_task_id(&task_text)?;
    match s.index.get(task_id)? {
        Some(r) => Ok(Receipt::new(r.cid, r.size).response(StatusCode::OK)),
        None => Err(StorageError::refused(
            StatusCode::NOT_FOUND,
            "not-found",
            format!(
                "no result stored for task {task_id}: the worker has not uploaded it yet (or to another store); retry later"
            ),
        )),
    }
}

/// What a `Range` header asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RangeRequest {
    /// No (usable) range: the whole content, 200.
    Full,
    /// One satisfiable range, 206.
    Partial(Range<u64>),
    /// Outside the content, 416.
    Unsatisfiable,
}

/// Parses a single `bytes=` range against `size`. Syntactically invalid and multi-range
/// headers are ignored (RFC 9110 §14.2 lets a server serve the whole content instead).
pub(crate) fn parse_range(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let num = |t: &str| -> Option<u64> {
        (!t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    match (a.trim(), b.trim()) {
        ("", n) => match num(n) {
            None => RangeRequest::Full,
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if size == 0 => RangeRequest::Unsatisfiable,
            Some(n) => RangeRequest::Partial(size.saturating_sub(n)..size),
        },
        (a, "") => match num(a) {
            None => RangeRequest::Full,
            Some(a) if a >= size => RangeRequest::Unsatisfiable,
            Some(a) => RangeRequest::Partial(a..size),
        },
        (a, b) => match (num(a), num(b)) {
            (Some(a), Some(b)) if a <= b => {
                if a >= size {
                    RangeRequest::Unsatisfiable
                } else {
                    RangeRequest::Partial(a..b.saturating_add(1).min(size))
                }
            }
            _ => RangeRequest::Full,
        },
    }
}

#[tracing::instrument(name = "download", skip_all, fields(cid = %cid_text))]
async fn download(
    AxState(s): AxState<State>,
    method: Method,
    AxPath(cid_text): AxPath<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let cid: Cid = cid_text
        .parse()
        .map_err(|e: crate::cid::CidParseError| StorageError::bad("cid", e.to_string()))?;
    let Some(size) = s.blobs.size(&cid).await? else {
        return Err(StorageError::refused(
            StatusCode::NOT_FOUND,
            "not-found",
            format!(
                "no content {cid} in this store: check the cid (the task's on-chain result location) and that you ask the store the worker uploaded to"
            ),
        ));
    };
    let etag = format!("\"{cid}\"");
    let mut out = HeaderMap::new();
    let set = |h: &mut HeaderMap, name, value: String| {
        h.insert(
            name,
            HeaderValue::from_str(&value).expect("header values built here are ASCII"),
        );
    };
    set(&mut out, header::ETAG, etag.clone());
    set(&mut out, header::ACCEPT_RANGES, "bytes".into());
    set(
        &mut out,
        header::CONTENT_TYPE,
        "application/octet-stream".into(),
    );
    // content-addressed: the bytes behind a cid never change
    set(
        &mut out,
        header::CACHE_CONTROL,
        "public, max-age=31536000, immutable".into(),
    );
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    // If-Range with another validator: the client's partial copy is of something else, send all
    let if_range_ok = headers
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim() == etag);
    let request = if if_range_ok {
        parse_range(range_header, size)
    } else {
        RangeRequest::Full
    };
    let (status, range) = match request {
        RangeRequest::Full => (StatusCode::OK, 0..size),
        RangeRequest::Partial(r) => {
            set(
                &mut out,
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{size}", r.start, r.end - 1),
            );
            (StatusCode::PARTIAL_CONTENT, r)
        }
        RangeRequest::Unsatisfiable => {
            set(&mut out, header::CONTENT_RANGE, format!("bytes */{size}"));
            let body = serde_json::json!({
                "ok": false,
                "error": {
                    "name": "range",
                    "message": format!(
                        "range '{}' is outside the content ({size} bytes): ask for bytes within 0-{}",
                        range_header.unwrap_or_default(),
                        size.saturating_sub(1)
                    ),
                },
            });
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, out, axum::Json(body)).into_response());
        }
    };
    set(
        &mut out,
        header::CONTENT_LENGTH,
        (range.end - range.start).to_string(),
    );
    if method == Method::HEAD {
        return Ok((status, out).into_response());
    }
    let stream = s.blobs.get_range(&cid, range).await?;
    Ok((status, out, Body::from_stream(stream)).into_response())
}

/// Syncs `dir` (exposed for the client's atomic renames).
pub(crate) fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => sync_dir(p),
        _ => sync_dir(Path::new(".")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeRequest::*;
        let r = |h: &str, size| parse_range(Some(h), size);
        assert_eq!(parse_range(None, 10), Full);
        assert_eq!(r("bytes=0-4", 10), Partial(0..5));
        assert_eq!(r("bytes=5-", 10), Partial(5..10));
        assert_eq!(r("bytes=-3", 10), Partial(7..10));
        assert_eq!(r("bytes=-30", 10), Partial(0..10));
        assert_eq!(r("bytes=8-100", 10), Partial(8..10));
        assert_eq!(r("bytes=9-9", 10), Partial(9..10));
        assert_eq!(r("bytes=10-", 10), Unsatisfiable);
        assert_eq!(r("bytes=10-12", 10), Unsatisfiable);
        assert_eq!(r("bytes=-0", 10), Unsatisfiable);
        assert_eq!(r("bytes=0-", 0), Unsatisfiable);
        assert_eq!(r("bytes=-1", 0), Unsatisfiable);
        // invalid or unsupported: ignored, whole content
        assert_eq!(r("bytes=5-2", 10), Full);
        assert_eq!(r("bytes=0-1,3-4", 10), Full);
        assert_eq!(r("items=0-1", 10), Full);
        assert_eq!(r("bytes=a-b", 10), Full);
        assert_eq!(r("bytes=+1-2", 10), Full);
    }

    #[test]
    fn task_ids_are_checked() {
        assert!(parse_task_id(&B256::repeat_byte(1).to_string()).is_ok());
        for bad in ["", "0x12", "12", &format!("0x{}", "g".repeat(64))] {
            let e = parse_task_id(bad).unwrap_err();
            assert_eq!(e.check(), "task-id");
            assert!(e.to_string().contains("64 hex digits"));
        }
    }
}
