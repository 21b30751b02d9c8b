//! # arca-sms
//!
//! Arca's Secret Management Service: it keeps the secrets of datasets (keys), apps (developer
//! secret), requesters (named secrets) and beneficiaries (result-encryption public keys), and
//! releases them only to the enclave of a task entitled to them.
//!
//! - [`secrets`]: the iExec-compatible push/check endpoints with iExec's exact signature
//!   challenges ([`auth`]), so the iexec SDK pushes to Arca unmodified.
//! - [`tee`]: enclave challenges, sessions and the attested release of secrets, after on-chain
//!   checks ([`chain`]); every refusal is an [`SmsError::Denied`] naming the failed check.
//! - [`store`]: the storage trait and its SQLite backend, every value sealed with AES-256-GCM.
//! - [`manage`]: Arca's owner operations: rotate and revoke secrets, query the release log.
//! - [`log`]: the hash-chained, MAC'd release log (which task and enclave received which secret
//!   versions).
//! - [`metrics`]: the Prometheus text exposition of `/metrics`.
//! - [`client`]: a typed client of the owner operations (for `arca dataset secret-log` & co).
//! - [`server`]: the axum router, `/health`, `/ready` and [`spawn`].

pub mod auth;
pub mod chain;
pub mod client;
mod error;
pub mod log;
pub mod manage;
pub mod metrics;
pub mod secrets;
pub mod server;
pub mod store;
#[cfg(feature = "postgres")]
pub mod store_pg;
pub mod tee;

pub use error::{Result, SmsError};
pub use server::{Config, SmsHandle, Tuning, spawn, spawn_with};
pub use store::{MasterKey, SecretStore, SqliteStore};
#[cfg(feature = "postgres")]
pub use store_pg::PgStore;
