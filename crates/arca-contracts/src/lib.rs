//! # arca-contracts
//!
//! Arca's PoCo marketplace contracts seen from Rust: typed bindings generated from the committed
//! artifacts ([`bindings`]), the facet artifacts needed to assemble the hub ([`artifacts`]), and
//! [`deploy`], which puts the whole set on any EVM JSON-RPC chain at deterministic addresses.

pub mod artifacts;
pub mod bindings;
pub mod deploy;
mod error;

pub use deploy::{Deployment, deploy, deploy_with};
pub use error::ContractsError;
