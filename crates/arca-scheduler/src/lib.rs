//! # arca-scheduler
//!
//! One scheduler per workerpool (iexec-core's role, iexec-protocol.md §6.1–6.2, §7): it
//! publishes the pool's workerpool order, follows the pool's deals on chain, initializes their
//! tasks (TEE: with the SMS's enclave challenge), hands replicates to registered workers with
//! the owner's signed authorization, tells each worker what to do next (contribute, reveal,
//! contributeAndFinalize for trust 1), finalizes after the reveals, reopens when nobody
//! revealed, and claims past the final deadline so the requester is refunded.
//!
//! - [`config`] holds [`SchedulerConfig`];
//! - [`server`]: the HTTP API and [`spawn`] (HTTP server + chain loop);
//! - [`engine`]: the decisions (assignment, reports, task driving, views);
//! - [`store`]: the state in SQLite or Postgres (`postgres` feature), one transaction per
//!   change, so a restart resumes every task;
//! - [`chain`]: what is read from and sent to the chain;
//! - [`api`]: JSON shapes of the public API; [`client`]: the typed client (agents, CLI).

pub mod api;
pub mod chain;
pub mod client;
pub mod config;
pub mod engine;
mod error;
pub mod server;
pub mod store;

pub use config::{OrderSettings, SchedulerConfig};
pub use error::{Result, SchedulerError};
pub use server::{SchedulerHandle, spawn};
