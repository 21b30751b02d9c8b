//! The one error type of `arca-crypto`: every failure names what went wrong and, where a user can act, how to fix it.

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = CryptoError> = std::result::Result<T, E>;

/// Everything that can go wrong while encrypting, decrypting or loading keys.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// A file or stream could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done ("reading", "writing", "creating", …).
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying OS error.
        #[source]
        source: std::io::Error,
    },
    /// An I/O error on a stream that has no path (in-memory buffers, pipes).
    #[error("i/o error while {action}: {source}")]
    Stream {
        /// What was being done.
        action: &'static str,
        /// The underlying OS error.
        #[source]
        source: std::io::Error,
    },
    /// The destination exists and overwriting was not requested.
    #[error("{} already exists; pass --force to replace it", path.display())]
    AlreadyExists {
        /// The file that would have been replaced.
        path: PathBuf,
    },
    /// A dataset/result AES key is not base64 of exactly 32 bytes.
    #[error(
        "invalid AES-256 key: {reason} (expected the base64 encoding of 32 random bytes, as written by `arca dataset encrypt`)"
    )]
    InvalidAesKey {
        /// Why it was rejected.
        reason: String,
    },
    /// Ciphertext that cannot come from AES-CBC with PKCS#7 (too short, not block-aligned, bad padding).
    /// A bad padding almost always means the wrong key was used.
    #[error("cannot decrypt {what}: {reason}")]
    Decrypt {
        /// What was being decrypted ("dataset", "result archive", …).
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// An RSA key could not be parsed, generated or used.
    #[error("RSA {action} failed: {reason}")]
    Rsa {
        /// What was being done ("private key parsing", "key generation", …).
        action: &'static str,
        /// Detail from the RSA implementation or our own check.
        reason: String,
    },
    /// An encrypted result archive is malformed (not a zip, a member missing or too large).
    #[error("invalid encrypted result archive: {reason}")]
    ResultArchive {
        /// Why it was rejected.
        reason: String,
    },
    /// A keystore file is not a readable V3 keystore.
    #[error("invalid keystore: {reason}")]
    Keystore {
        /// Why it was rejected.
        reason: String,
    },
    /// The keystore MAC does not match: the password is wrong (or the file was corrupted).
    #[error(
        "wrong password: the keystore MAC does not match (check the password given with --password)"
    )]
    WrongPassword,
    /// A checksum is not `0x` + 64 hex digits.
    #[error("invalid checksum '{text}': expected 0x followed by 64 hex digits (a sha256)")]
    InvalidChecksum {
        /// The text that was given.
        text: String,
    },
    /// An Ethereum address is not `0x` + 40 hex digits.
    #[error("invalid address '{text}': expected 0x followed by 40 hex digits")]
    InvalidAddress {
        /// The text that was given.
        text: String,
    },
    /// An Ethereum private key is malformed.
    #[error(
        "invalid private key: {reason} (expected 32 bytes as 64 hex digits, 0x-prefixed or not)"
    )]
    InvalidPrivateKey {
        /// Why it was rejected.
        reason: String,
    },
}

impl CryptoError {
    /// Wraps an I/O error with the action and path, so messages read "writing datasets/encrypted/a.enc: No space left".
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }

    /// Wraps an I/O error on a path-less stream.
    pub(crate) fn stream(action: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        move |source| Self::Stream { action, source }
    }
}
