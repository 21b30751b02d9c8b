//! The one error type of `arca-client`. Messages name the file or field at fault and the fix, because
//! they are printed as-is by the CLI (and in `--raw` output as `error.message`).

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Everything that can go wrong in the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A project file is missing.
    #[error("{file} not found in {}: {fix}", dir.display())]
    MissingFile {
        /// The file name (`iexec.json`, `chain.json`, …).
        file: &'static str,
        /// Where it was looked for.
        dir: PathBuf,
        /// What to run to create it.
        fix: &'static str,
    },
    /// A project file is not JSON, or a field of it is invalid.
    #[error("{file}: {message}")]
    Project {
        /// The file name.
        file: &'static str,
        /// Which field is wrong and how to fix it.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `--chain` (or `default` in chain.json) names a chain chain.json does not have.
    #[error(
        "Missing \"{name}\" chain in \"chain.json\" (known: {known}); add it under \"chains\" or pick one with --chain"
    )]
    UnknownChain {
        /// The requested name.
        name: String,
        /// The names chain.json has.
        known: String,
    },
    /// A value given on the command line or in a file is invalid (address, amount, tag, …).
    #[error("{value} is not a valid {what}{}", hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Validation {
        /// The kind of value ("ethereum address", "amount", …).
        what: &'static str,
        /// The text given.
        value: String,
        /// How a valid value looks.
        hint: Option<String>,
    },
    /// No usable wallet.
    #[error("{0}")]
    Wallet(String),
    /// Keystore or key errors (wrong password, malformed keystore, …).
    #[error(transparent)]
    Crypto(#[from] arca_crypto::CryptoError),
    /// A JSON-RPC or contract call failed.
    #[error("{action} failed: {message}")]
    Chain {
        /// What was being done ("app deploy", "reading the balance", …).
        action: String,
        /// The node's or contract's reason.
        message: String,
    },
    /// Something looked up on chain does not exist.
    #[error("{0}")]
    NotFound(String),
}

impl ClientError {
    /// The error class shown as `error.name` in `--raw` output, following the SDK's names.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Validation { .. } | Self::Project { .. } => "ValidationError",
            Self::Chain { .. } => "Web3ProviderError",
            Self::Crypto(arca_crypto::CryptoError::WrongPassword) => "WrongPasswordError",
            _ => "Error",
        }
    }

    /// Shorthand for a chain failure while doing `action`.
    pub fn chain(action: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Self::Chain {
            action: action.into(),
            message: err.to_string(),
        }
    }

    /// Shorthand for a field error in a project file.
    pub fn project(file: &'static str, message: impl Into<String>) -> Self {
        Self::Project {
            file,
            message: message.into(),
        }
    }
}
