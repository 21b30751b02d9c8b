//! The crate's one error type. Every variant a caller can cause maps to a 4xx whose message
//! names the field and the fix; only the service's own failures (storage, chain unreachable)
//! are 5xx. Bodies follow the market API: `{"ok":false,"error":"…"}`.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};

/// Everything that can go wrong in the market service and its client.
#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    /// A request parameter or body field is missing or malformed.
    #[error("{field}: {reason}")]
    BadField { field: String, reason: String },
    /// The JSON body could not be read at all.
    #[error("malformed JSON body: {0}; send {{\"order\": <signed order>}}")]
    MalformedJson(String),
    /// The order's app/dataset/workerpool is not registered in the hub's registry.
    #[error(
        "order.{field}: {address} is not a registered {field}; deploy it first (arca {field} deploy)"
    )]
    UnknownResource {
        field: &'static str,
        address: String,
    },
    /// The signature does not come from the resource owner.
    #[error("order.sign: {0}")]
    BadSignature(String),
    /// Nothing left to match on chain.
    #[error(
        "order {hash}: remaining volume is 0 on chain (fully consumed or cancelled); sign a new order with a fresh salt"
    )]
    Consumed { hash: String },
    /// The order is already in the orderbook.
    #[error(
        "order {hash} is already published; unpublish it first or sign a new order with a fresh salt"
    )]
    AlreadyPublished { hash: String },
    /// No such order.
    #[error("no {kind}order with hash {hash} in this market")]
    NotFound { kind: &'static str, hash: String },
    /// Missing or invalid `Authorization` header.
    #[error(
        "authorization: {0}; get a challenge with GET /challenge?chainId=…&address=…, sign it (EIP-712) and send <hash>_<signature>_<address>"
    )]
    Unauthorized(String),
    /// Storage failure.
    #[error("storage: {0}")]
    Store(#[from] rusqlite::Error),
    /// Failure of a storage backend other than SQLite (the shared Postgres store).
    #[error("storage: {0}")]
    Database(String),
    /// The chain did not answer as expected.
    #[error("chain: {0}")]
    Chain(String),
    /// I/O (binding the port, creating the data directory).
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The client got a refusal from the market (status and the server's message).
    #[error("market answered {status}: {message}")]
    Remote { status: u16, message: String },
    /// The client could not reach the market.
    #[error("market unreachable: {0}")]
    Http(#[from] reqwest::Error),
}

impl MarketError {
    pub(crate) fn chain(e: impl std::fmt::Display) -> Self {
        MarketError::Chain(e.to_string())
    }

    pub(crate) fn bad(field: impl Into<String>, reason: impl Into<String>) -> Self {
        MarketError::BadField {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The HTTP status the service answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadField { .. }
            | Self::MalformedJson(_)
            | Self::UnknownResource { .. }
            | Self::BadSignature(_)
            | Self::Consumed { .. } => StatusCode::BAD_REQUEST,
            Self::AlreadyPublished { .. } => StatusCode::CONFLICT,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Chain(_) | Self::Http(_) => StatusCode::BAD_GATEWAY,
            Self::Remote { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            Self::Store(_) | Self::Database(_) | Self::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for MarketError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "market request failed");
        }
        (
            status,
            Json(serde_json::json!({ "ok": false, "error": self.to_string() })),
        )
            .into_response()
    }
}
