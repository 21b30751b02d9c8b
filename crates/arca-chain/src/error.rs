//! Errors of the dev chain: launch failures (`ChainError`) and JSON-RPC errors (`RpcError`),
//! converted to the wire in one place so codes and messages stay consistent.

use alloy::primitives::Bytes;
use serde_json::Value;

/// Failures to start or persist the node.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The data directory could not be created or opened.
    #[error("cannot use data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The embedded store failed.
    #[error("chain store error: {0}")]
    Store(#[from] rusqlite::Error),
    /// A stored record could not be decoded (the data directory is damaged or from another version).
    #[error("chain store is corrupt: {0}")]
    Corrupt(String),
    /// The data directory belongs to a chain with other settings.
    #[error(
        "data directory holds chain id {stored}, but chain id {requested} was asked for; use another --data-dir or the same --chain-id"
    )]
    ChainIdMismatch {
        /// Chain id in the store.
        stored: u64,
        /// Chain id requested.
        requested: u64,
    },
    /// The dev accounts could not be derived.
    #[error("invalid mnemonic or derivation for dev account {index}: {reason}")]
    Mnemonic {
        /// Account index.
        index: u32,
        /// Why.
        reason: String,
    },
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}; pick another --port or stop the process using it")]
    Bind {
        /// Address asked for.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// JSON-RPC error code.
    pub code: i64,
    /// Human-readable message.
    pub message: String,
    /// Extra data (revert data for execution errors).
    pub data: Option<Value>,
}

/// Standard and de-facto codes.
pub mod codes {
    /// Invalid JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// Not a valid request object.
    pub const INVALID_REQUEST: i64 = -32600;
    /// Unknown method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Bad parameters.
    pub const INVALID_PARAMS: i64 = -32602;
    /// Internal error.
    pub const INTERNAL: i64 = -32603;
    /// Transaction rejected (geth/anvil use -32003 for pool rejections).
    pub const TX_REJECTED: i64 = -32003;
    /// Execution reverted (EIP-1474 style, with the revert data in `data`).
    pub const EXECUTION_REVERTED: i64 = 3;
    /// Resource not found (unknown filter, snapshot).
    pub const NOT_FOUND: i64 = -32001;
}

impl RpcError {
    /// An error with a code and message.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// Invalid params, naming the parameter.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(codes::INVALID_PARAMS, message)
    }

    /// A transaction the node refuses to accept.
    pub fn rejected(message: impl Into<String>) -> Self {
        Self::new(codes::TX_REJECTED, message)
    }

    /// An internal error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(codes::INTERNAL, message)
    }

    /// A revert, with the raw revert data and, when it is `Error(string)`, the reason in the message.
    pub fn reverted(data: &Bytes) -> Self {
        let message = match decode_revert_reason(data) {
            Some(reason) => format!("execution reverted: {reason}"),
            None => "execution reverted".to_string(),
        };
        Self {
            code: codes::EXECUTION_REVERTED,
            message,
            data: Some(Value::String(data.to_string())),
        }
    }

    /// JSON form.
    pub fn to_json(&self) -> Value {
        let mut obj = serde_json::json!({"code": self.code, "message": self.message});
        if let Some(data) = &self.data {
            obj["data"] = data.clone();
        }
        obj
    }
}

/// Decodes `Error(string)` and `Panic(uint256)` revert payloads into text.
pub fn decode_revert_reason(data: &[u8]) -> Option<String> {
    use alloy::sol_types::{Panic, Revert, SolError};
    if let Ok(revert) = Revert::abi_decode(data) {
        return Some(revert.reason);
    }
    if let Ok(panic) = Panic::abi_decode(data) {
        return Some(format!("panic code {:#x}", panic.code));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::{Revert, SolError};

    #[test]
    fn revert_message_carries_reason_and_data() {
        let data: Bytes = Revert::from("no way").abi_encode().into();
        let err = RpcError::reverted(&data);
        assert_eq!(err.code, 3);
        assert_eq!(err.message, "execution reverted: no way");
        assert_eq!(err.data, Some(Value::String(data.to_string())));
        let custom = RpcError::reverted(&Bytes::from(vec![1, 2, 3, 4]));
        assert_eq!(custom.message, "execution reverted");
    }
}
