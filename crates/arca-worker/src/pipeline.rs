//! One replicate from start to result: [`run_replicate`] takes a [`ReplicateSpec`] and returns a
//! [`ReplicateOutcome`] — `Computed` (digest, on-chain `results`, callback data, enclave
//! signature) or `Failed` at a [`Stage`] with a distinct [`FailureCause`] and a message saying
//! what to do. It never panics on bad input and never returns an `Err`: every way to fail is an
//! outcome the agent reports.
//!
//! Stages (iexec-protocol.md §4, §3.3, §5.3, §7.2):
//! 1. **app** — the image must be in the local daemon and match the app's on-chain checksum;
//! 2. **pre-compute** — TEE tasks open an SMS session and get their secrets released to the
//!    (sim) enclave ([`crate::enclave`]); input files and the dataset are downloaded
//!    ([`crate::download`]), the dataset checked against its on-chain checksum, and for TEE tasks
//!    decrypted with the released key into `/iexec_in/<dataset address>`;
//! 3. **compute** — the app runs with the §4.2 environment (secrets for TEE tasks only), the
//!    deal's args split shell-like, the category's maximum time;
//! 4. **post-compute** — `computed.json`, the result digest, the 31-character file-name rule,
//!    the app's logs (standard tasks), `iexec_out.zip`, encryption for the beneficiary (TEE,
//!    `iexec_result_encryption`), upload through the [`ResultStore`], and for TEE tasks the
//!    enclave signature with the released enclave challenge key.
//!
//! Work directory per task: `<work>/<taskId>/input` (→ `/iexec_in`), `<work>/<taskId>/output/
//! iexec_out` (→ `/iexec_out`), archives in `<work>/<taskId>/output/`. Secrets (dataset key,
//! requester/app secrets, enclave keys) live only in memory; the clear dataset only in the
//! input directory. After the run, whatever the outcome, the input directory, the downloaded
//! dataset and `iexec_out` are deleted: a computed task keeps only its result archive (the
//! uploaded one), a failed task keeps nothing.

use std::collections::BTreeMap;
use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, Bytes};
use alloy::signers::local::PrivateKeySigner;
use arca_tee::dev::DevPki;
use tracing::{Instrument as _, info, info_span, warn};

use crate::checksum::Checksum;
use crate::download::{self, FetchOptions};
use crate::enclave::{self, EnclaveRequest, Released};
use crate::env::{DatasetEnv, TaskEnv};
use crate::error::Error;
use crate::logs::{ComputeLogs, DEFAULT_LOG_CAP};
use crate::postcompute;
use crate::result::{read_computed_file, result_digest};
use crate::runner::{ContainerRunner, Limits, Network, RunRequest, VerifiedImage};
use crate::store::ResultStore;
use crate::task::{Computed, Failure, FailureCause, ReplicateOutcome, ReplicateSpec, Stage};
use crate::worker_key;

/// Default cap on one downloaded input file or dataset: 10 GiB.
pub const DEFAULT_MAX_DOWNLOAD_BYTES: u64 = 10 << 30;

/// What the pipeline runs with; shared by all replicates of a worker.
#[derive(Debug, Clone)]
pub struct PipelineContext {
    /// The Docker daemon apps run in.
    pub runner: ContainerRunner,
    /// Base directory of task directories (absolute, without ':').
    pub work_dir: PathBuf,
    /// The worker's wallet (its address is in every result seal; it signs SMS session requests).
    pub worker: PrivateKeySigner,
    /// App container limits.
    pub limits: Limits,
    /// App container network.
    pub network: Network,
    /// Bytes kept from the end of each of the app's stdout and stderr.
    pub log_cap: usize,
    /// Where result archives are uploaded.
    pub store: Arc<dyn ResultStore>,
    /// The dev PKI of the sim enclave; `None`: this worker takes no TEE task.
    pub dev_pki: Option<Arc<DevPki>>,
    /// HTTP client for downloads and the SMS.
    pub http: reqwest::Client,
    /// Base URL `/ipfs/<cid>` is fetched from (e.g. Arca's result store); `None`: IPFS inputs
    /// are refused with a message saying so.
    pub ipfs_gateway: Option<String>,
    /// Directories `file://` input and dataset URLs may point into (empty: `file://` refused,
    /// since the requester chooses these URLs).
    pub file_url_roots: Vec<PathBuf>,
    /// Largest input file or dataset accepted, in bytes.
    pub max_download_bytes: u64,
}

impl PipelineContext {
    /// A context with the defaults: no network for apps, [`Limits::default`], 100 kB of logs per
    /// stream, no TEE, no IPFS gateway, no `file://` URLs, 10 GiB per download.
    pub fn new(
        runner: ContainerRunner,
        work_dir: impl Into<PathBuf>,
        worker: PrivateKeySigner,
        store: Arc<dyn ResultStore>,
    ) -> Self {
        Self {
            runner,
            work_dir: work_dir.into(),
            worker,
            limits: Limits::default(),
            network: Network::None,
            log_cap: DEFAULT_LOG_CAP,
            store,
            dev_pki: None,
            http: default_http_client(),
            ipfs_gateway: None,
            file_url_roots: Vec::new(),
            max_download_bytes: DEFAULT_MAX_DOWNLOAD_BYTES,
        }
    }
}

/// The HTTP client of [`PipelineContext::new`]: no overall timeout (a dataset may take long to
/// download), but a stalled connection fails instead of holding the replicate forever. `https://`
/// is verified against the system's roots; `SSL_CERT_FILE` / `SSL_CERT_DIR` add a private CA.
pub fn default_http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120))
        .build()
        // Only the TLS backend's initialisation can fail, and it has nothing to load up front
        // (the platform verifier reads the roots at the first handshake).
        .unwrap_or_default()
}

/// A task's directories.
#[derive(Debug, Clone)]
pub struct TaskDirs {
    /// `<work>/<taskId>`.
    pub root: PathBuf,
    /// `<root>/input`, mounted at `/iexec_in`.
    pub input: PathBuf,
    /// `<root>/output`, where archives go.
    pub output: PathBuf,
    /// `<root>/output/iexec_out`, mounted at `/iexec_out`.
    pub iexec_out: PathBuf,
}

impl TaskDirs {
    /// The directories of `task_id` under `work_dir` (not created).
    pub fn new(work_dir: &Path, task_id: B256) -> Self {
        let root = work_dir.join(format!("{task_id}"));
        let output = root.join("output");
        Self {
            input: root.join("input"),
            iexec_out: output.join("iexec_out"),
            output,
            root,
        }
    }

    /// The downloaded (still encrypted, for TEE tasks) dataset, outside the app's mounts.
    fn dataset_download(&self) -> PathBuf {
        self.root.join("dataset.download")
    }

    /// Starts from empty directories: what a previous, interrupted attempt left is removed.
    fn create_fresh(&self) -> std::io::Result<()> {
        if self.root.exists() {
            fs::remove_dir_all(&self.root)?;
        }
        fs::create_dir_all(&self.input)?;
        fs::create_dir_all(&self.iexec_out)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            // Other users of the worker host stay out of the task (clear dataset, results);
            // the container sees only its two mounts, whose own modes apply inside.
            fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700))?;
            // The app may run as any user: it must read its inputs and write its outputs.
            fs::set_permissions(&self.input, fs::Permissions::from_mode(0o755))?;
            fs::set_permissions(&self.iexec_out, fs::Permissions::from_mode(0o777))?;
        }
        Ok(())
    }

    /// Deletes everything but `keep` (the uploaded archive); with nothing to keep, the whole
    /// task directory.
    fn scrub(&self, keep: Option<&Path>) {
        let remove = |path: &Path| {
            let result = if path.is_dir() {
                fs::remove_dir_all(path)
            } else {
                fs::remove_file(path)
            };
            if let Err(e) = result
                && e.kind() != std::io::ErrorKind::NotFound
            {
                warn!(path = %path.display(), error = %e, "could not delete a task file");
            }
        };
        match keep {
            None => remove(&self.root),
            Some(keep) => {
                remove(&self.input);
                remove(&self.dataset_download());
                remove(&self.iexec_out);
                if let Ok(entries) = fs::read_dir(&self.output) {
                    for entry in entries.flatten() {
                        if entry.path() != keep {
                            remove(&entry.path());
                        }
                    }
                }
            }
        }
    }
}

/// Deletes a task directory when dropped while still holding it.
struct ScrubOnDrop(Option<PathBuf>);

impl Drop for ScrubOnDrop {
    fn drop(&mut self) {
        if let Some(root) = self.0.take() {
            warn!(path = %root.display(), "replicate abandoned: deleting its task directory");
            let _ = fs::remove_dir_all(root);
        }
    }
}

/// Deletes the task directories of replicates that never finished (the worker was killed
/// mid-task): they may hold a clear dataset. A finished replicate has no `input` directory left,
/// so its kept archive is untouched. For the agent to call at startup; returns how many were
/// deleted.
pub fn scrub_unfinished(work_dir: &Path) -> std::io::Result<usize> {
    let entries = match fs::read_dir(work_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut deleted = 0;
    for entry in entries {
        let root = entry?.path();
        let is_task = root.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
            n.len() == 66 && n.starts_with("0x") && n[2..].bytes().all(|b| b.is_ascii_hexdigit())
        });
        if is_task && root.join("input").is_dir() {
            fs::remove_dir_all(&root)?;
            info!(path = %root.display(), "deleted the directory of an unfinished replicate");
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Splits `iexec_args` like a POSIX shell would (quotes and backslashes respected, nothing
/// expanded). `None` when a quote is not closed.
pub fn split_args(args: &str) -> Option<Vec<String>> {
    shlex::split(args)
}

/// The on-chain `results` JSON for a stored archive: `{"storage":…,"location":…}`, storage
/// `ipfs` for `/ipfs/<cid>` locations, else the URL scheme (`file`, `http`, …).
pub fn results_json(location: &str) -> String {
    let storage = if location.starts_with("/ipfs/") {
        "ipfs"
    } else {
        location
            .split_once("://")
            .map_or("unknown", |(scheme, _)| scheme)
    };
    // Key order as iExec writes it, whatever serde_json's map order feature is.
    format!(
        r#"{{"storage":{},"location":{}}}"#,
        serde_json::Value::from(storage),
        serde_json::Value::from(location)
    )
}

/// A failure under construction.
fn fail(stage: Stage, cause: FailureCause, message: impl Into<String>) -> Box<Failure> {
    Box::new(Failure {
        stage,
        cause,
        message: message.into(),
        logs: None,
        report: None,
    })
}

type StageResult<T> = Result<T, Box<Failure>>;

/// Times a stage into `timings`.
async fn timed<T>(
    timings: &mut BTreeMap<String, Duration>,
    name: &str,
    stage: impl Future<Output = T>,
) -> T {
    let start = Instant::now();
    let out = stage.await;
    timings.insert(name.to_owned(), start.elapsed());
    out
}

/// Runs one replicate (module docs). Never panics on bad input; every failure is an outcome.
///
/// `Computed`: `result_digest` for `contribute`/`reveal` (resultHash and resultSeal from
/// [`worker_key`]), `results` the UTF-8 result link JSON for `finalize`/`contributeAndFinalize`
/// (`{"storage":"ipfs","location":"/ipfs/<cid>"}` for an IPFS-style store, the URL scheme as
/// storage otherwise, `{"storage":"ethereum","location":<callback>}` for callback deals, which
/// upload nothing), `callback_data` the bytes for the callback (empty otherwise),
/// `enclave_signature` for TEE tasks (65 bytes, to pass with the authorization's enclave
/// challenge), the app's logs, and `timings` keyed `app`, `pre-compute`, `compute`,
/// `post-compute`. The result archive is already uploaded. `Failed`: the stage, a cause per
/// distinct problem, a message naming who must do what, and the app's logs when it ran.
pub async fn run_replicate(spec: &ReplicateSpec, ctx: &PipelineContext) -> ReplicateOutcome {
    let span = info_span!(
        "replicate",
        task_id = %spec.task_id,
        deal_id = %spec.deal_id,
        tee = spec.tee.is_some()
    );
    async {
        let dirs = TaskDirs::new(&ctx.work_dir, spec.task_id);
        let started = Instant::now();
        // If this future is dropped mid-way (the agent gave up on the task), the guard still
        // deletes the task directory, clear dataset included.
        let mut guard = ScrubOnDrop(Some(dirs.root.clone()));
        let result = match dirs.create_fresh() {
            Ok(()) => run_stages(spec, ctx, &dirs).await,
            Err(e) => Err(fail(
                Stage::PreCompute,
                FailureCause::WorkerError,
                format!(
                    "cannot create the task directory {}: {e} (check the worker's work directory and its free space)",
                    dirs.root.display()
                ),
            )),
        };
        guard.0 = None;
        match result {
            Ok((computed, archive)) => {
                dirs.scrub(archive.as_deref());
                info!(
                    digest = %computed.result_digest,
                    total_ms = started.elapsed().as_millis() as u64,
                    "replicate computed"
                );
                ReplicateOutcome::Computed(Box::new(computed))
            }
            Err(failure) => {
                dirs.scrub(None);
                info!(stage = ?failure.stage, cause = ?failure.cause, message = %failure.message, "replicate failed");
                ReplicateOutcome::Failed(failure)
            }
        }
    }
    .instrument(span)
    .await
}

/// The stages; `Ok` carries the result and the archive to keep.
async fn run_stages(
    spec: &ReplicateSpec,
    ctx: &PipelineContext,
    dirs: &TaskDirs,
) -> StageResult<(Computed, Option<PathBuf>)> {
    let mut timings = BTreeMap::new();
    check_spec(spec, ctx)?;

    let image = timed(&mut timings, "app", verify_app(spec, ctx)).await?;

    let pre = timed(
        &mut timings,
        "pre-compute",
        pre_compute(spec, ctx, dirs, &image),
    )
    .await?;

    // From here on a TEE enclave holds the task's challenge key: it signs its failures.
    let sign = |f: Box<Failure>| sign_failure(f, spec, ctx, pre.released.as_ref());
    let logs = timed(&mut timings, "compute", compute(spec, ctx, dirs, &pre))
        .await
        .map_err(sign)?;

    let post = timed(
        &mut timings,
        "post-compute",
        post_compute(spec, ctx, dirs, pre.released.as_ref(), &logs),
    )
    .await
    .map_err(|mut f| {
        f.logs = Some(logs.clone());
        sign(f)
    })?;

    Ok((
        Computed {
            result_digest: post.digest,
            results: post.results,
            callback_data: post.callback_data,
            enclave_signature: post.enclave_signature,
            logs,
            timings,
        },
        post.archive,
    ))
}

/// A TEE failure once the enclave has its challenge key: signed, so the scheduler can show the
/// requester it comes from the attested enclave. Without the key (standard task, or a key the
/// SMS did not release) the failure goes unsigned, as it is.
fn sign_failure(
    mut failure: Box<Failure>,
    spec: &ReplicateSpec,
    ctx: &PipelineContext,
    released: Option<&Released>,
) -> Box<Failure> {
    let Some(key) = released.and_then(|r| r.challenge_key(&spec.authorization).ok()) else {
        return failure;
    };
    match worker_key::sign_failure_report(&key, ctx.worker.address(), spec.task_id, &failure) {
        Ok(report) => failure.report = Some(report),
        Err(e) => warn!(error = %e, "could not sign the failure report"),
    }
    failure
}

/// Refuses what cannot be served before touching anything.
fn check_spec(spec: &ReplicateSpec, ctx: &PipelineContext) -> StageResult<()> {
    if spec.authorization.worker_wallet != ctx.worker.address() {
        return Err(fail(
            Stage::PreCompute,
            FailureCause::WorkerError,
            format!(
                "the scheduler's authorization is for worker {}, but this worker's wallet is {}; the agent must pass the authorization issued to this wallet",
                spec.authorization.worker_wallet,
                ctx.worker.address()
            ),
        ));
    }
    if spec.authorization.chain_task_id != spec.task_id {
        return Err(fail(
            Stage::PreCompute,
            FailureCause::WorkerError,
            format!(
                "the authorization is for task {}, not {}",
                spec.authorization.chain_task_id, spec.task_id
            ),
        ));
    }
    if spec.params.result_encryption && spec.tee.is_none() {
        return Err(fail(
            Stage::PreCompute,
            FailureCause::DealParamsInvalid,
            "iexec_result_encryption is only available for TEE tasks (the beneficiary key is released to an enclave, iExec: TASK_DESCRIPTION_INVALID); request a TEE task or drop iexec_result_encryption",
        ));
    }
    if spec.tee.is_some() && ctx.dev_pki.is_none() {
        return Err(fail(
            Stage::PreCompute,
            FailureCause::WorkerError,
            "this is a TEE task but the worker has no enclave (neither TDX nor the sim enclave's dev PKI is configured); the scheduler should not give TEE tasks to this worker",
        ));
    }
    let provider = spec.params.result_storage_provider.as_str();
    if !provider.is_empty() && provider != "ipfs" && spec.callback == Address::ZERO {
        return Err(fail(
            Stage::PreCompute,
            FailureCause::DealParamsInvalid,
            format!(
                "iexec_result_storage_provider {provider:?} is not supported by Arca workers, which store results in their result store (IPFS-style /ipfs/<cid>); the requester must use \"ipfs\" or leave it unset"
            ),
        ));
    }
    if split_args(&spec.params.args).is_none() {
        return Err(fail(
            Stage::PreCompute,
            FailureCause::DealParamsInvalid,
            format!(
                "iexec_args {:?} has an unclosed quote; the requester must balance its quotes",
                spec.params.args
            ),
        ));
    }
    Ok(())
}

fn app_checksum(spec: &ReplicateSpec) -> Option<Checksum> {
    (!spec.app.checksum.is_zero()).then_some(Checksum(spec.app.checksum.0))
}

async fn verify_app(spec: &ReplicateSpec, ctx: &PipelineContext) -> StageResult<VerifiedImage> {
    let image = &spec.app.image;
    ctx.runner
        .verify_image(image, app_checksum(spec).as_ref())
        .await
        .map_err(|e| match e {
            Error::ImageMissing { .. } => fail(
                Stage::AppDownload,
                FailureCause::AppImageMissing,
                format!(
                    "app image {image} is not in this worker's Docker daemon even after pulling it; the worker operator must check the daemon (or load the image: `docker load`)"
                ),
            ),
            Error::ImageDigestMismatch {
                expected,
                image_id,
                repo_digests,
                pull_error,
                ..
            } => fail(
                Stage::AppDownload,
                FailureCause::AppChecksumMismatch,
                format!(
                    "app image checksum mismatch: on chain {expected}, local image {image} has id {image_id} and registry digests [{}]{} — the app owner must redeploy the app with the checksum of the image to run, or the worker operator must load the image the checksum designates",
                    repo_digests.join(", "),
                    pull_error
                        .map(|p| format!(", and pulling the image the checksum designates failed: {p}"))
                        .unwrap_or_default()
                ),
            ),
            // The messages of these name the cause and who must act (error.rs).
            e @ Error::RegistryDigestMismatch { .. } => fail(
                Stage::AppDownload,
                FailureCause::AppChecksumMismatch,
                e.to_string(),
            ),
            e @ (Error::ImageNotInRegistry { .. } | Error::InvalidImageReference { .. }) => fail(
                Stage::AppDownload,
                FailureCause::AppImageMissing,
                e.to_string(),
            ),
            // this worker's reach of the registry, not the app: another worker may succeed, so
            // the scheduler does not count these towards ending the task early
            e @ (Error::RegistryUnreachable { .. }
            | Error::RegistryAuthRequired { .. }
            | Error::ImagePullTimeout { .. }) => fail(
                Stage::AppDownload,
                FailureCause::AppImagePullFailed,
                e.to_string(),
            ),
            other => fail(
                Stage::AppDownload,
                FailureCause::WorkerError,
                format!("fetching app image {image}: {other}"),
            ),
        })
}

/// What pre-compute hands to compute.
struct PreComputed {
    input_file_names: Vec<String>,
    dataset: Option<DatasetEnv>,
    released: Option<Released>,
    /// The entrypoint the enclave measured (TEE; empty: the image's own).
    entrypoint: String,
}

async fn pre_compute(
    spec: &ReplicateSpec,
    ctx: &PipelineContext,
    dirs: &TaskDirs,
    image: &VerifiedImage,
) -> StageResult<PreComputed> {
    let pre = |cause, message: String| fail(Stage::PreCompute, cause, message);
    let mut entrypoint = String::new();
    let released = match (&spec.tee, &ctx.dev_pki) {
        (Some(tee), Some(pki)) => {
            entrypoint = enclave::enclave_entrypoint(&spec.app.mrenclave)
                .map_err(|e| pre(FailureCause::SecretNotReleased, e.to_string()))?;
            let digest = enclave::measured_digest(image);
            let request = EnclaveRequest {
                http: &ctx.http,
                sms_url: &tee.sms_url,
                authorization: &spec.authorization,
                worker: &ctx.worker,
                pki: pki.clone(),
                image_digest: &digest,
                entrypoint: &entrypoint,
            };
            let released = enclave::open_and_release(&request)
                .await
                .map_err(|e| pre(FailureCause::SecretNotReleased, e.to_string()))?;
            info!(session = %released.session_id, measurement = %released.measurement, "secrets released to the enclave");
            Some(released)
        }
        _ => None,
    };

    // The enclave holds its key from here: failures fetching or decrypting are signed.
    let (input_file_names, dataset) = fetch_inputs(spec, ctx, dirs, released.as_ref())
        .await
        .map_err(|f| sign_failure(f, spec, ctx, released.as_ref()))?;
    Ok(PreComputed {
        input_file_names,
        dataset,
        released,
        entrypoint,
    })
}

/// Input files and the dataset into `/iexec_in` (decrypted by the enclave for TEE tasks):
/// the input file names and the dataset's env.
async fn fetch_inputs(
    spec: &ReplicateSpec,
    ctx: &PipelineContext,
    dirs: &TaskDirs,
    released: Option<&Released>,
) -> StageResult<(Vec<String>, Option<DatasetEnv>)> {
    let pre = |cause, message: String| fail(Stage::PreCompute, cause, message);
    let opts = FetchOptions {
        http: &ctx.http,
        ipfs_gateway: ctx.ipfs_gateway.as_deref(),
        file_roots: &ctx.file_url_roots,
        max_bytes: ctx.max_download_bytes,
    };
    let mut input_file_names = Vec::with_capacity(spec.params.input_files.len());
    for (i, url) in spec.params.input_files.iter().enumerate() {
        let name = download::input_file_name(url);
        download::fetch(url, &dirs.input.join(&name), &opts)
            .await
            .map_err(|e| {
                pre(
                    FailureCause::InputDownloadFailed,
                    format!(
                        "input file {} of iexec_input_files could not be fetched: {e} — the requester must make it reachable or fix the URL",
                        i + 1
                    ),
                )
            })?;
        input_file_names.push(name);
    }

    let dataset = match &spec.dataset {
        None => None,
        Some(d) => {
            let downloaded = dirs.dataset_download();
            let got = download::fetch(&d.url, &downloaded, &opts).await.map_err(|e| {
                pre(
                    FailureCause::DatasetDownloadFailed,
                    format!(
                        "dataset {} could not be fetched: {e} — the dataset owner must make its file reachable at the registered URL",
                        d.address
                    ),
                )
            })?;
            if !d.checksum.is_zero() && got.sha256 != d.checksum.0 {
                return Err(pre(
                    FailureCause::DatasetChecksumMismatch,
                    format!(
                        "dataset checksum mismatch: on chain {}, downloaded file 0x{} ({} bytes from {}) — the dataset owner must re-upload the registered file or redeploy the dataset with the checksum of the file at its URL",
                        d.checksum,
                        hex::encode(got.sha256),
                        got.len,
                        d.url
                    ),
                ));
            }
            let name = d.address.to_string();
            let dest = dirs.input.join(&name);
            match released {
                // Standard tasks: iExec gives the app the file as downloaded (no decryption).
                None => fs::rename(&downloaded, &dest).map_err(|e| {
                    pre(
                        FailureCause::WorkerError,
                        format!("moving the dataset into {}: {e}", dest.display()),
                    )
                })?,
                Some(released) => decrypt_dataset(released, &downloaded, &dest, d.address).await?,
            }
            Some(DatasetEnv {
                address: name.clone(),
                filename: name,
            })
        }
    };
    Ok((input_file_names, dataset))
}

async fn decrypt_dataset(
    released: &Released,
    encrypted: &Path,
    dest: &Path,
    address: Address,
) -> StageResult<()> {
    let pre = |cause, message: String| fail(Stage::PreCompute, cause, message);
    let key_text = released.dataset_key().ok_or_else(|| {
        pre(
            FailureCause::SecretNotReleased,
            format!(
                "the SMS released no key for dataset {address}; the dataset owner must push it (`iexec dataset push-secret`)"
            ),
        )
    })?;
    let key = arca_crypto::AesKey::from_base64(key_text).map_err(|e| {
        pre(
            FailureCause::DatasetDecryptionFailed,
            format!(
                "the key pushed for dataset {address} is unusable: {e} — the dataset owner pushed a wrong value and must redeploy the dataset with a new key"
            ),
        )
    })?;
    let (encrypted, dest_owned) = (encrypted.to_path_buf(), dest.to_path_buf());
    // The plain text is written to a temporary file beside `dest` (the input directory) and
    // renamed only when the padding checks out, so a wrong key leaves no partial file.
    let result = tokio::task::spawn_blocking(move || {
        arca_crypto::dataset::decrypt_file(&encrypted, &dest_owned, &key, None, true, &mut |_| {})
    })
    .await;
    match result {
        Ok(Ok(summary)) => {
            // Readable by the app whatever user its image runs as (the task root is 0700).
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                fs::set_permissions(dest, fs::Permissions::from_mode(0o644)).map_err(|e| {
                    pre(
                        FailureCause::WorkerError,
                        format!("making the dataset readable for the app: {e}"),
                    )
                })?;
            }
            info!(plain_bytes = summary.plain_len, "dataset decrypted");
            Ok(())
        }
        Ok(Err(e)) => Err(pre(
            FailureCause::DatasetDecryptionFailed,
            format!(
                "dataset {address} does not decrypt with the key its owner pushed: {e} — the dataset owner must push the key the file was encrypted with (a pushed key cannot be replaced: redeploy the dataset)"
            ),
        )),
        Err(e) => Err(pre(
            FailureCause::WorkerError,
            format!("decryption task failed: {e}"),
        )),
    }
}

async fn compute(
    spec: &ReplicateSpec,
    ctx: &PipelineContext,
    dirs: &TaskDirs,
    pre: &PreComputed,
) -> StageResult<ComputeLogs> {
    let (requester_secrets, app_developer_secret) = match &pre.released {
        Some(r) => (r.requester_secrets(), r.app_developer_secret()),
        None => (BTreeMap::new(), None),
    };
    let env = TaskEnv {
        deal_id: format!("{}", spec.deal_id),
        task_id: format!("{}", spec.task_id),
        task_index: spec.task_index,
        bot_size: spec.bot_size,
        bot_first_index: spec.bot_first,
        dataset: pre.dataset.clone(),
        input_file_names: pre.input_file_names.clone(),
        requester_secrets,
        app_developer_secret,
        bulk_dataset_filenames: Vec::new(),
    };
    let mut request = RunRequest::new(
        spec.app.image.clone(),
        env,
        &dirs.input,
        &dirs.iexec_out,
        spec.max_execution_time,
    );
    request.expected_checksum = app_checksum(spec);
    // check_spec made sure the args split.
    request.args = split_args(&spec.params.args).unwrap_or_default();
    if !pre.entrypoint.is_empty() {
        request.entrypoint = Some(split_args(&pre.entrypoint).ok_or_else(|| {
            fail(
                Stage::Compute,
                FailureCause::SecretNotReleased,
                format!(
                    "the app's registered entrypoint {:?} has an unclosed quote; the app owner must fix its mrenclave",
                    pre.entrypoint
                ),
            )
        })?);
    }
    request.network = ctx.network.clone();
    request.limits = ctx.limits;
    request.log_cap = ctx.log_cap;
    request.container_name = Some(format!(
        "arca-{}-{}",
        hex::encode(ctx.worker.address()),
        spec.task_id
    ));
    let max_secs = spec.max_execution_time.as_secs();
    match ctx.runner.run(&request).await {
        Ok(outcome) => Ok(outcome.logs),
        Err(Error::AppExit {
            exit_code,
            oom_killed,
            last_lines,
            logs,
            ..
        }) => {
            let oom = if oom_killed {
                format!(
                    " (killed: out of memory at the worker's limit of {} MiB)",
                    ctx.limits.memory_bytes >> 20
                )
            } else {
                String::new()
            };
            let mut f = fail(
                Stage::Compute,
                FailureCause::AppExitCode { code: exit_code },
                format!(
                    "the app exited with code {exit_code}{oom}; last log lines:\n{last_lines}\n— the app developer or the requester (args, inputs) must fix what the log says"
                ),
            );
            f.logs = Some(*logs);
            Err(f)
        }
        Err(Error::Timeout {
            last_lines, logs, ..
        }) => {
            let mut f = fail(
                Stage::Compute,
                FailureCause::Timeout,
                format!(
                    "the app ran past the category's maximum execution time of {max_secs}s and was killed; last log lines:\n{last_lines}\n— request a category with a longer time or make the app faster"
                ),
            );
            f.logs = Some(*logs);
            Err(f)
        }
        Err(Error::ImageMissing { image }) => Err(fail(
            Stage::AppDownload,
            FailureCause::AppImageMissing,
            format!(
                "app image {image} disappeared from the Docker daemon before it ran; the worker operator must keep it loaded"
            ),
        )),
        Err(e) => Err(fail(
            Stage::Compute,
            FailureCause::WorkerError,
            format!("running the app: {e}"),
        )),
    }
}

struct PostComputed {
    digest: B256,
    results: Bytes,
    callback_data: Bytes,
    enclave_signature: Option<Bytes>,
    archive: Option<PathBuf>,
}

async fn post_compute(
    spec: &ReplicateSpec,
    ctx: &PipelineContext,
    dirs: &TaskDirs,
    released: Option<&Released>,
    logs: &ComputeLogs,
) -> StageResult<PostComputed> {
    let post = |cause, message: String| fail(Stage::PostCompute, cause, message);
    let has_callback = spec.callback != Address::ZERO;
    let computed = read_computed_file(&dirs.iexec_out).map_err(|e| {
        post(
            FailureCause::ComputedFileInvalid,
            format!(
                "{e} — an iExec app must write /iexec_out/computed.json, e.g. {{\"deterministic-output-path\":\"/iexec_out/result.txt\"}}{}",
                if has_callback { " or {\"callback-data\":\"0x…\"} for a deal with a callback" } else { "" }
            ),
        )
    })?;
    let digest_text = result_digest(&computed, &dirs.iexec_out, has_callback).map_err(|e| {
        post(
            FailureCause::ComputedFileInvalid,
            format!("no result digest: {e} — the app must point computed.json at a non-empty result it wrote"),
        )
    })?;
    let digest: B256 = digest_text.parse().map_err(|_| {
        post(
            FailureCause::WorkerError,
            format!("digest {digest_text} is not 32 bytes"),
        )
    })?;
    let callback_data = if has_callback {
        let text = computed.callback_data.as_deref().unwrap_or_default();
        Bytes::from(hex::decode(text.trim_start_matches("0x")).map_err(|e| {
            post(
                FailureCause::ComputedFileInvalid,
                format!("callback-data is not hex: {e}"),
            )
        })?)
    } else {
        Bytes::new()
    };
    if let Some(name) = postcompute::too_long_name(&dirs.iexec_out)
        .map_err(|e| post(FailureCause::WorkerError, e.to_string()))?
    {
        return Err(post(
            FailureCause::ResultFileNameTooLong,
            format!(
                "result file /iexec_out/{name} has a name longer than {} characters; the app must use shorter file names",
                postcompute::MAX_RESULT_FILE_NAME
            ),
        ));
    }
    // Standard tasks only: a TEE app's logs may quote its secrets and stay with the worker.
    if released.is_none() {
        postcompute::write_logs(&dirs.iexec_out, logs)
            .map_err(|e| post(FailureCause::WorkerError, e.to_string()))?;
    }

    let enclave_signature = match released {
        None => None,
        Some(r) => {
            let key = r
                .challenge_key(&spec.authorization)
                .map_err(|e| post(FailureCause::SecretNotReleased, e.to_string()))?;
            Some(
                worker_key::enclave_signature(&key, ctx.worker.address(), spec.task_id, digest)
                    .map_err(|e| {
                        post(FailureCause::WorkerError, format!("enclave signature: {e}"))
                    })?,
            )
        }
    };

    // A callback deal's result is its callback data, delivered on chain (§3.3 result link).
    if has_callback {
        let results = format!(
            r#"{{"storage":"ethereum","location":"{:#x}"}}"#,
            spec.callback
        );
        return Ok(PostComputed {
            digest,
            results: Bytes::from(results.into_bytes()),
            callback_data,
            enclave_signature,
            archive: None,
        });
    }

    let plain_zip = dirs.output.join("iexec_out.zip");
    let (out, zip_dest) = (dirs.iexec_out.clone(), plain_zip.clone());
    tokio::task::spawn_blocking(move || postcompute::zip_dir(&out, &zip_dest))
        .await
        .map_err(|e| post(FailureCause::WorkerError, format!("zip task failed: {e}")))?
        .map_err(|e| post(FailureCause::WorkerError, e.to_string()))?;

    let archive = if spec.params.result_encryption {
        let key_text = released
            .and_then(Released::result_encryption_public_key)
            .ok_or_else(|| {
                post(
                    FailureCause::ResultEncryptionFailed,
                    format!(
                        "the deal asks for result encryption but the SMS released no key of beneficiary {}; the beneficiary must push one (`iexec result push-encryption-key`)",
                        spec.beneficiary
                    ),
                )
            })?
            .to_owned();
        let public = arca_crypto::result::parse_public_key(&key_text).map_err(|e| {
            post(
                FailureCause::ResultEncryptionFailed,
                format!(
                    "the result-encryption key of beneficiary {} is malformed: {e} — the beneficiary must push an RSA public key (PEM, or base64 of the PEM)",
                    spec.beneficiary
                ),
            )
        })?;
        let encrypted = dirs.output.join("encrypted-iexec_out.zip");
        let (src, dest) = (plain_zip.clone(), encrypted.clone());
        tokio::task::spawn_blocking(move || -> Result<(), String> {
            let plain = fs::read(&src).map_err(|e| format!("reading {}: {e}", src.display()))?;
            let sealed =
                arca_crypto::result::encrypt_result(&plain, &public).map_err(|e| e.to_string())?;
            arca_crypto::write_file_atomic(&dest, &sealed, true).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| {
            post(
                FailureCause::WorkerError,
                format!("encryption task failed: {e}"),
            )
        })?
        .map_err(|e| {
            post(
                FailureCause::ResultEncryptionFailed,
                format!("encrypting the result: {e}"),
            )
        })?;
        // The plain archive is the clear result: only the encrypted one is kept.
        let _ = fs::remove_file(&plain_zip);
        encrypted
    } else {
        plain_zip
    };

    let location = ctx
        .store
        .upload(spec.task_id, &archive, &spec.authorization)
        .await
        .map_err(|e| {
            post(
                FailureCause::ResultUploadFailed,
                format!("uploading the result archive: {e} — the worker operator must check the result store"),
            )
        })?;
    Ok(PostComputed {
        digest,
        results: Bytes::from(results_json(&location).into_bytes()),
        callback_data,
        enclave_signature,
        archive: Some(archive),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_split_like_a_shell() {
        assert_eq!(split_args("").unwrap(), Vec::<String>::new());
        assert_eq!(split_args("  a  b ").unwrap(), ["a", "b"]);
        assert_eq!(
            split_args(r#"--name "Jane Doe" 'x y' z\ w"#).unwrap(),
            ["--name", "Jane Doe", "x y", "z w"]
        );
        assert_eq!(split_args(r#""a \"q\" b""#).unwrap(), [r#"a "q" b"#]);
        // nothing is expanded
        assert_eq!(split_args("$HOME *.txt").unwrap(), ["$HOME", "*.txt"]);
        assert_eq!(split_args("'it''s'").unwrap(), ["its"]);
        assert!(split_args(r#"unclosed "quote"#).is_none());
        assert!(split_args("'single").is_none());
    }

    #[test]
    fn results_json_names_the_storage() {
        assert_eq!(
            results_json("/ipfs/QmX"),
            r#"{"storage":"ipfs","location":"/ipfs/QmX"}"#
        );
        let v: serde_json::Value = serde_json::from_str(&results_json("file:///r/ab.zip")).unwrap();
        assert_eq!(v["storage"], "file");
        assert_eq!(v["location"], "file:///r/ab.zip");
    }

    #[test]
    fn task_dirs_follow_the_iexec_layout_and_scrub_keeps_only_the_archive() {
        let work = tempfile::tempdir().unwrap();
        let task = B256::repeat_byte(0xab);
        let dirs = TaskDirs::new(work.path(), task);
        assert_eq!(dirs.root, work.path().join(format!("{task}")));
        assert_eq!(dirs.iexec_out, dirs.root.join("output/iexec_out"));
        use std::os::unix::fs::PermissionsExt as _;
        // a leftover of an interrupted attempt is cleared
        fs::create_dir_all(&dirs.input).unwrap();
        fs::write(dirs.input.join("stale"), "x").unwrap();
        dirs.create_fresh().unwrap();
        assert_eq!(fs::read_dir(&dirs.input).unwrap().count(), 0);
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dirs.root), 0o700);
        assert_eq!(mode(&dirs.input), 0o755);
        fs::write(dirs.input.join("clear-dataset"), "secret").unwrap();
        fs::write(dirs.dataset_download(), "enc").unwrap();
        fs::write(dirs.iexec_out.join("result.txt"), "r").unwrap();
        let archive = dirs.output.join("encrypted-iexec_out.zip");
        fs::write(&archive, "z").unwrap();
        fs::write(dirs.output.join("iexec_out.zip"), "plain").unwrap();
        dirs.scrub(Some(&archive));
        let mut left: Vec<PathBuf> = walk_all(&dirs.root);
        left.sort();
        assert_eq!(left, [dirs.output.clone(), archive]);
        dirs.scrub(None);
        assert!(!dirs.root.exists());
    }

    #[test]
    fn unfinished_task_directories_are_scrubbed_finished_ones_kept() {
        let work = tempfile::tempdir().unwrap();
        let unfinished = TaskDirs::new(work.path(), B256::repeat_byte(1));
        unfinished.create_fresh().unwrap();
        fs::write(unfinished.input.join("clear-dataset"), "secret").unwrap();
        let finished = TaskDirs::new(work.path(), B256::repeat_byte(2));
        finished.create_fresh().unwrap();
        let archive = finished.output.join("iexec_out.zip");
        fs::write(&archive, "z").unwrap();
        finished.scrub(Some(&archive));
        // not a task directory: never touched
        fs::create_dir_all(work.path().join("other/input")).unwrap();
        assert_eq!(scrub_unfinished(work.path()).unwrap(), 1);
        assert!(!unfinished.root.exists());
        assert!(archive.exists());
        assert!(work.path().join("other/input").exists());
        assert_eq!(scrub_unfinished(&work.path().join("absent")).unwrap(), 0);
    }

    #[test]
    fn an_abandoned_replicate_leaves_no_task_directory() {
        let work = tempfile::tempdir().unwrap();
        let dirs = TaskDirs::new(work.path(), B256::repeat_byte(3));
        dirs.create_fresh().unwrap();
        fs::write(dirs.input.join("clear-dataset"), "secret").unwrap();
        drop(ScrubOnDrop(Some(dirs.root.clone())));
        assert!(!dirs.root.exists());
    }

    fn walk_all(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in fs::read_dir(dir).unwrap().flatten() {
            out.push(e.path());
            if e.path().is_dir() {
                out.extend(walk_all(&e.path()));
            }
        }
        out
    }
}
