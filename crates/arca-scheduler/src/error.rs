//! The crate's one error type. Every refusal says what was wrong and how to fix it, and maps to
//! a 4xx status when the caller can fix it; a broken store or an unreachable chain is a 5xx.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why a request failed or the scheduler could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The request is malformed (field named in the message).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Missing, unknown or expired credentials.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// Authenticated, but not entitled (e.g. logs of someone else's task).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The task, replicate or worker does not exist here.
    #[error("not found: {0}")]
    NotFound(String),
    /// The chain could not be read or a transaction failed.
    #[error("chain: {0}")]
    Chain(String),
    /// The SMS or the market refused or could not be reached.
    #[error("{service}: {message}")]
    Service {
        /// `sms` or `market`.
        service: &'static str,
        /// What happened.
        message: String,
    },
    /// The SQLite store failed.
    #[error("store: {0}")]
    Store(String),
    /// The configuration is invalid (a startup error).
    #[error("configuration: {0}")]
    Config(String),
}

/// Result alias of this crate.
pub type Result<T, E = SchedulerError> = std::result::Result<T, E>;

impl SchedulerError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Chain(_) | Self::Service { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(_) | Self::Config(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub(crate) fn chain(e: impl std::fmt::Display) -> Self {
        Self::Chain(e.to_string())
    }
}

impl From<rusqlite::Error> for SchedulerError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.to_string())
    }
}

impl From<arca_client::ClientError> for SchedulerError {
    fn from(e: arca_client::ClientError) -> Self {
        Self::Chain(e.to_string())
    }
}

impl IntoResponse for SchedulerError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::info!(error = %self, "request refused");
        }
        (
            status,
            axum::Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}
