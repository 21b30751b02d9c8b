//! # arca-storage
//!
//! Arca's result store. iExec uploads results to IPFS through a "result proxy" and the SDK
//! downloads `<ipfsGateway>/ipfs/<cid>`; Arca replaces both with one content-addressed store
//! that serves the same gateway path, so the SDK downloads from it unmodified.
//!
//! - [`server`]: the axum service ([`spawn`]): authenticated uploads (the scheduler's
//!   WorkerpoolAuthorization plus the worker's signature of the bytes, checked against the
//!   task on chain via [`chain`]), the task → cid lookup, and the `/ipfs/{cid}` gateway with
//!   ranges;
//! - [`cid`]: the CIDv1 raw sha2-256 base32 identifiers;
//! - [`auth`]: the signed messages, for workers and schedulers that build them;
//! - [`blob`]: the [`BlobStore`] trait and its filesystem backend (and `s3::S3Store` with the
//!   `s3` feature);
//! - [`index`]: the SQLite task → cid index;
//! - [`client`]: the typed HTTP [`Client`] (retrying upload, lookup, resumable download).

pub mod auth;
pub mod blob;
pub mod chain;
pub mod cid;
pub mod client;
mod error;
pub mod index;
#[cfg(feature = "s3")]
pub mod s3;
pub mod server;

pub use blob::{BlobStore, FsStore};
pub use cid::Cid;
pub use client::{Client, UploadBody};
pub use error::{Result, StorageError};
pub use server::{Config, DEFAULT_MAX_UPLOAD, Receipt, StorageHandle, spawn, spawn_with_store};
