//! iexec-compatible cryptographic formats for Arca.
//!
//! - [`dataset`]: dataset encryption (`IV ‖ AES-256-CBC-PKCS7`, base64 key, `0x‖sha256` checksum), streaming
//!   in constant memory, byte-compatible with `iexec dataset encrypt` and `openssl enc -aes-256-cbc`;
//! - [`result`]: beneficiary RSA-4096 key pairs and encrypted result archives (TEE post-compute and
//!   `result decrypt`), including the SDK's legacy layouts;
//! - [`keystore`]: Ethereum V3 keystores (scrypt / AES-128-CTR / Keccak MAC) and the SDK's `wallet.json`.
//!
//! Every fallible function returns [`CryptoError`], whose messages name the file or field at fault and the fix.

pub mod dataset;
mod error;
mod fsutil;
pub mod keystore;
pub mod result;

pub use dataset::{AesKey, Checksum, DecryptSummary, EncryptSummary};
pub use error::{CryptoError, Result};
pub use fsutil::write_file_atomic;
pub use keystore::{Address, PrivateKey, ScryptParams, UnencryptedWallet};
pub use result::ResultKeyPair;
