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

    /// The app image is not present in the local daemon (and pulling is not this module's job).
    #[error("app image {image} not found in the local Docker daemon (pull or load it first)")]
    ImageMissing {
        /// The image reference that was looked up.
        image: String,
    },

    /// The image present locally is not the one the app's on-chain checksum designates.
    #[error(
        "app image {image} does not match the on-chain checksum {expected}: local image id {image_id}, repo digests [{}]",
        repo_digests.join(", ")
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
