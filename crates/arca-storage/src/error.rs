//! The crate's one error type, for the service and its client.
//!
//! A refusal carries a stable check name (`authorization`, `task-status`, …) and a message in
//! plain words: what failed, what was expected versus found, and what to do. The service
//! answers `{"ok":false,"error":{"name":"<check>","message":"…"}}` with a 4xx for anything the
//! caller can fix, a 5xx only for its own failures (disk, index, chain unreachable).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Everything that can go wrong in the result store and its client.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A request was refused by a check (4xx); `check` is the stable name of the check.
    #[error("{check}: {message}")]
    Refused {
        /// HTTP status of the refusal.
        status: StatusCode,
        /// Stable check name (see the README).
        check: &'static str,
        /// What failed, expected versus found, what to do.
        message: String,
    },
    /// The chain could not be read: the store cannot decide, so it refuses for now (503).
    #[error("chain unavailable: {0}; retry when the chain's JSON-RPC endpoint answers")]
    Chain(String),
    /// The task → cid index failed.
    #[error("index: {0}")]
    Index(#[from] rusqlite::Error),
    /// Disk or network I/O (the blob directory, the listener).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Invalid configuration (startup only).
    #[error("configuration: {0}")]
    Config(String),
    /// Client side: the store answered with a refusal or a server error.
    #[error("{url} answered {status} ({check}): {message}")]
    Remote {
        /// The URL asked.
        url: String,
        /// HTTP status.
        status: u16,
        /// The check name from the answer (`http` if the body was not the store's JSON).
        check: String,
        /// The server's message.
        message: String,
    },
    /// Client side: the store could not be reached (after the retries).
    #[error("cannot reach {url}: {source}; check that the result store runs and the URL is right")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// The transport error.
        source: reqwest::Error,
    },
    /// Client side: downloaded bytes do not hash to the cid.
    #[error(
        "{url}: the downloaded content has sha256 {found} but the cid {cid} requires {expected}; the partial file was removed, download again (if it repeats, the store's copy is corrupt)"
    )]
    Integrity {
        /// The URL downloaded.
        url: String,
        /// The cid asked.
        cid: String,
        /// The digest in the cid.
        expected: String,
        /// The digest of what arrived.
        found: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

impl StorageError {
    /// A 4xx refusal.
    pub fn refused(status: StatusCode, check: &'static str, message: impl Into<String>) -> Self {
        StorageError::Refused {
            status,
            check,
            message: message.into(),
        }
    }

    /// 400 on a malformed request field.
    pub fn bad(check: &'static str, message: impl Into<String>) -> Self {
        Self::refused(StatusCode::BAD_REQUEST, check, message)
    }

    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StorageError::Io {
            context: context.into(),
            source,
        }
    }

    /// The stable name of the failure (the `error.name` of the JSON answer).
    pub fn check(&self) -> &str {
        match self {
            StorageError::Refused { check, .. } => check,
            StorageError::Chain(_) => "chain-unavailable",
            StorageError::Index(_) => "index",
            StorageError::Io { .. } => "io",
            StorageError::Config(_) => "config",
            StorageError::Remote { check, .. } => check,
            StorageError::Unreachable { .. } => "unreachable",
            StorageError::Integrity { .. } => "integrity",
        }
    }

    /// The HTTP status the service answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            StorageError::Refused { status, .. } => *status,
            StorageError::Chain(_) | StorageError::Unreachable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            StorageError::Remote { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            StorageError::Index(_)
            | StorageError::Io { .. }
            | StorageError::Config(_)
            | StorageError::Integrity { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message without the check-name prefix.
    fn message(&self) -> String {
        match self {
            StorageError::Refused { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

impl IntoResponse for StorageError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::info!(error = %self, "request refused");
        }
        let body = serde_json::json!({
            "ok": false,
            "error": { "name": self.check(), "message": self.message() },
        });
        (status, axum::Json(body)).into_response()
    }
}
