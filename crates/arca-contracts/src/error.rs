//! The crate's single error type.

use alloy::primitives::{Address, B256};

/// Everything that can go wrong while loading artifacts or deploying the contracts.
#[derive(Debug, thiserror::Error)]
pub enum ContractsError {
    #[error("invalid RPC URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("invalid private key: {0}")]
    InvalidKey(String),
    #[error("JSON-RPC request failed while {what}: {reason}")]
    Rpc { what: String, reason: String },
    #[error("contract call {what} failed: {source}")]
    Contract {
        what: String,
        // boxed: alloy's error is large and would bloat every Result of this crate
        #[source]
        source: Box<alloy::contract::Error>,
    },
    #[error("transaction {what} reverted (tx {tx})")]
    Reverted { what: String, tx: B256 },
    #[error("deploying {name} left no code at {address}")]
    NoCode { name: String, address: Address },
    #[error("cannot install the deterministic deployment factory: {0}")]
    Factory(String),
    #[error("artifact {name}: {reason}")]
    Artifact { name: String, reason: String },
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl ContractsError {
    pub(crate) fn rpc(what: impl Into<String>, err: impl std::fmt::Display) -> Self {
        ContractsError::Rpc {
            what: what.into(),
            reason: err.to_string(),
        }
    }

    pub(crate) fn contract(what: impl Into<String>, source: alloy::contract::Error) -> Self {
        ContractsError::Contract {
            what: what.into(),
            source: Box::new(source),
        }
    }
}
