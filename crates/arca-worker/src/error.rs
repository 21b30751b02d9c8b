//! The crate's single error type. Each variant is one cause a task can fail with, so the worker
//! can map it to an iExec replicate status cause (APP_COMPUTE_FAILED, APP_COMPUTE_TIMEOUT,
//! APP_NOT_FOUND_LOCALLY, POST_COMPUTE_COMPUTED_FILE_NOT_FOUND, …) and tell the requester what
//! to do about it.

use std::path::PathBuf;
use std::time::Duration;

use crate::logs::ComputeLogs;

/// Everything that can go wrong while running an app container or reading its results.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No Docker daemon answered at the address the runner tried.
    #[error(
        "Docker daemon unreachable at {host}: {source} (start one with scripts/lib/docker.sh ensure_docker, or set DOCKER_HOST)"
    )]
    DaemonUnreachable {
        /// The `DOCKER_HOST` (or default socket) that was tried.
        host: String,
        /// Why the connection or the first request failed.
        #[source]
        source: bollard::errors::Error,
    },

    /// `DOCKER_HOST` names a transport this runner does not speak.
    #[error("unsupported DOCKER_HOST {host:?}: only unix:// sockets are supported")]
    UnsupportedDockerHost {
        /// The offending value.
        host: String,
    },

    /// The app image is not present in the local Docker daemon, even after a pull that
    /// reported success (or it disappeared between the pull and the run).
    #[error("app image {image} not found in the local Docker daemon (pull or load it first)")]
    ImageMissing {
        /// The image reference that was looked up.
        image: String,
    },

    /// The image present locally is not the one the app's on-chain checksum designates, and
    /// the registry did not provide the designated one either.
    #[error(
        "app image {image} does not match the on-chain checksum {expected}: local image id {image_id}, repo digests [{}]{}",
        repo_digests.join(", "),
        pull_error.as_ref().map(|e| format!("; pulling the image the checksum designates failed too: {e}")).unwrap_or_default()
    )]
    ImageDigestMismatch {
        /// The image reference that was checked.
        image: String,
        /// The on-chain checksum, `0x`-prefixed.
        expected: String,
        /// The local image id (`sha256:` of its config).
        image_id: String,
        /// The registry manifest digests known for the image (`repo@sha256:…`).
        repo_digests: Vec<String>,
        /// Why pulling `repo@sha256:<checksum>` did not fix it, when it was tried.
        pull_error: Option<String>,
    },

    /// The app's image reference or its registry designates a different manifest than the
    /// on-chain checksum: the app owner moved the tag (or registered a pinned reference)
    /// without updating the checksum.
    #[error(
        "app image {image}: {origin} {found}, but the app's on-chain checksum is {expected} and the registry has no manifest with that digest; the app owner must redeploy the app with checksum {found} (the RepoDigest `docker push` printed) or push the image the checksum designates"
    )]
    RegistryDigestMismatch {
        /// The app's image reference.
        image: String,
        /// The on-chain checksum, `0x`-prefixed.
        expected: String,
        /// The digest the reference or the registry's tag designates, `sha256:…`.
        found: String,
        /// Where `found` comes from (`the registry's tag … points to`, `the reference pins`).
        origin: String,
    },

    /// The app's multiaddr is not a Docker image reference.
    #[error(
        "app image reference {image:?} is invalid: {reason}; the app owner must register a reference like registry.example.com/name:tag or name@sha256:<digest>"
    )]
    InvalidImageReference {
        /// The multiaddr as registered.
        image: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The registry of the app image could not be reached (DNS, connection, TLS).
    #[error(
        "app image {image} is not in this worker's Docker daemon and its registry {registry} is unreachable (pulling {reference}): {detail}; the app owner must publish the image on a registry workers can reach, or the worker operator must restore access to {registry} (or load the image locally)"
    )]
    RegistryUnreachable {
        /// The app's image reference.
        image: String,
        /// What was pulled (`repo@sha256:…` or `repo:tag`).
        reference: String,
        /// The registry host.
        registry: String,
        /// The daemon's message.
        detail: String,
    },

    /// The registry answered, but has no such repository, tag or digest.
    #[error(
        "app image {reference} is not in the registry {registry}: {detail}; the app owner must push it (`docker push`) and register its RepoDigest as the app's checksum"
    )]
    ImageNotInRegistry {
        /// The app's image reference.
        image: String,
        /// What was pulled.
        reference: String,
        /// The registry host.
        registry: String,
        /// The daemon's message.
        detail: String,
    },

    /// The registry refused to serve the image without (valid) credentials.
    #[error(
        "the registry {registry} refused to serve {reference} without valid credentials: {detail}; the app owner must make the repository public, or the worker operator must give the worker credentials for it (ARCA_REGISTRY_AUTH={registry}=user:password)"
    )]
    RegistryAuthRequired {
        /// The app's image reference.
        image: String,
        /// What was pulled.
        reference: String,
        /// The registry host.
        registry: String,
        /// The daemon's message.
        detail: String,
    },

    /// The pull did not finish within the worker's pull timeout.
    #[error(
        "pulling app image {reference} did not finish within {}s; the worker operator may raise the pull timeout (ARCA_PULL_TIMEOUT_SECS) or pre-load the image, the app owner may make it smaller", after.as_secs()
    )]
    ImagePullTimeout {
        /// The app's image reference.
        image: String,
        /// What was pulled.
        reference: String,
        /// The timeout that was reached.
        after: Duration,
    },

    /// The daemon failed the pull for another reason (disk full, corrupt layer, …).
    #[error(
        "pulling app image {reference} failed: {detail}; the worker operator must check the Docker daemon (disk space, its log)"
    )]
    ImagePullFailed {
        /// The app's image reference.
        image: String,
        /// What was pulled.
        reference: String,
        /// The daemon's message.
        detail: String,
    },

    /// The chain could not be reached or its configuration is wrong (agent start).
    #[error("chain: {0}")]
    Chain(#[from] arca_client::ClientError),

    /// A worker setting is malformed.
    #[error("invalid {name}: {reason}")]
    InvalidConfig {
        /// The setting (`ARCA_REGISTRY_AUTH`, `ARCA_PULL_TIMEOUT_SECS`, `max_parallel`).
        name: &'static str,
        /// What is wrong and the expected form (never the secret itself).
        reason: String,
    },

    /// A checksum string is not a `0x`/`sha256:`-prefixed 32-byte hex value.
    #[error("invalid checksum {value:?}: expected 0x followed by 64 hex digits")]
    InvalidChecksum {
        /// The offending value.
        value: String,
    },

    /// The app ran and exited with a non-zero code (APP_COMPUTE_FAILED).
    #[error("app exited with code {exit_code}{}; last log lines:\n{last_lines}",
        if *oom_killed { " (killed: out of memory)" } else { "" })]
    AppExit {
        /// The task whose app failed.
        task_id: String,
        /// The container's exit code.
        exit_code: i64,
        /// Whether the kernel's OOM killer ended it (memory limit reached).
        oom_killed: bool,
        /// The last lines of stderr (or stdout when stderr is empty), for the error message.
        last_lines: String,
        /// Everything captured (size-capped), for `task debug --logs`.
        logs: Box<ComputeLogs>,
    },

    /// The app ran past the category's maximum execution time and was killed (APP_COMPUTE_TIMEOUT).
    #[error("app killed after the maximum execution time of {}s; last log lines:\n{last_lines}", after.as_secs())]
    Timeout {
        /// The task whose app timed out.
        task_id: String,
        /// The limit that was reached.
        after: Duration,
        /// The last lines of output before the kill.
        last_lines: String,
        /// Everything captured (size-capped).
        logs: Box<ComputeLogs>,
    },

    /// The run request itself is unusable (relative mount path, zero limit, …).
    #[error("invalid run request: {0}")]
    InvalidRequest(String),

    /// Any other Docker Engine API failure, with the operation that failed.
    #[error("Docker {operation} failed: {source}")]
    Docker {
        /// What the runner was doing (`create container`, `start container`, …).
        operation: &'static str,
        /// The API error.
        #[source]
        source: bollard::errors::Error,
    },

    /// The app did not write `computed.json` in its output directory.
    #[error("the app wrote no computed.json at {}", path.display())]
    ComputedFileMissing {
        /// Where it was expected on the host.
        path: PathBuf,
    },

    /// `computed.json` is not valid JSON of the expected shape.
    #[error("invalid computed.json at {}: {source}", path.display())]
    ComputedFileInvalid {
        /// The file on the host.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },

    /// `computed.json` declares neither `deterministic-output-path` nor `callback-data`,
    /// or a value that cannot be used.
    #[error("computed.json: {0}")]
    ComputedFileUnusable(String),

    /// The `deterministic-output-path` does not exist on the host.
    #[error("deterministic output {} not found", path.display())]
    DeterministicOutputMissing {
        /// The resolved host path.
        path: PathBuf,
    },

    /// A filesystem operation failed.
    #[error("{operation} {}: {source}", path.display())]
    Io {
        /// What was attempted (`read`, `list`, …).
        operation: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// An input file or the dataset could not be fetched.
    #[error("cannot download {url}: {reason}")]
    Download {
        /// The URL as the deal or the dataset registry gives it.
        url: String,
        /// What went wrong and what to do.
        reason: String,
    },

    /// The SMS did not open a session or release the task's secrets to the enclave.
    #[error("{0}")]
    SecretRelease(String),

    /// The result archive could not be stored.
    #[error("result store: {0}")]
    ResultStore(String),

    /// The result archive could not be built or encrypted.
    #[error("result archive: {0}")]
    ResultArchive(String),
}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
