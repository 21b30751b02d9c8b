//! The crate's one error type. Every refusal names what failed in plain words, and maps to a
//! 4xx status when the caller can fix it; only a broken store or an unreachable chain is a 5xx.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why a request was refused or could not be served.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The request itself is malformed (JSON, address, hex, secret name…).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The `Authorization` signature is missing, malformed or from the wrong signer.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The body exceeds the limit for this endpoint.
    #[error("payload too large: {0}")]
    TooLarge(String),
    /// The addressed secret, task or session does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The secret already exists and this endpoint does not update it.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A TEE session check failed: `check` is a stable identifier, `reason` the plain-words
    /// explanation ("the task is not ACTIVE on chain: its status is COMPLETED").
    #[error("denied ({check}): {reason}")]
    Denied {
        /// Stable name of the failed check, for logs, metrics and tests.
        check: &'static str,
        /// What was found versus what was required.
        reason: String,
    },
    /// The chain could not be read (RPC down): the SMS cannot decide, so it refuses for now.
    #[error("chain unavailable: {0}")]
    Chain(String),
    /// The secret store failed.
    #[error("store error: {0}")]
    Store(String),
    /// Configuration is invalid (master key, addresses) — a startup error, never an HTTP answer.
    #[error("configuration: {0}")]
    Config(String),
}

/// Response extension naming the failed check of a denial (read by the metrics layer).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeniedCheck(pub(crate) &'static str);

/// Result alias of this crate.
pub type Result<T, E = SmsError> = std::result::Result<T, E>;

impl SmsError {
    /// A denial of the TEE flow.
    pub fn denied(check: &'static str, reason: impl Into<String>) -> Self {
        SmsError::Denied {
            check,
            reason: reason.into(),
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            SmsError::BadRequest(_) => StatusCode::BAD_REQUEST,
            SmsError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            SmsError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            SmsError::NotFound(_) => StatusCode::NOT_FOUND,
            SmsError::Conflict(_) => StatusCode::CONFLICT,
            SmsError::Denied { .. } => StatusCode::FORBIDDEN,
            SmsError::Chain(_) => StatusCode::SERVICE_UNAVAILABLE,
            SmsError::Store(_) | SmsError::Config(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<rusqlite::Error> for SmsError {
    fn from(e: rusqlite::Error) -> Self {
        SmsError::Store(e.to_string())
    }
}

impl IntoResponse for SmsError {
    fn into_response(self) -> Response {
        let status = self.status();
        // iExec answers `{"error": [..]}`; the SDK prints the first message, so keep that shape
        // and add the failed check for machines.
        let check = match &self {
            SmsError::Denied { check, .. } => Some(*check),
            _ => None,
        };
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::info!(error = %self, "request refused");
        }
        let body = serde_json::json!({ "error": [self.to_string()], "check": check });
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(check) = check {
            // for the metrics layer: denials are counted by check
            response.extensions_mut().insert(DeniedCheck(check));
        }
        response
    }
}
