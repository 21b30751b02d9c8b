//! # arca-client
//!
//! The library behind Arca's iexec-compatible commands:
//! - [`project`]: `iexec.json`, `chain.json`, `deployed.json`, `orders.json` (typed, validated, atomic writes);
//! - [`wallet`]: keystore selection and decryption (`--keystoredir`, `--wallet-file`, `--wallet-address`);
//! - [`client`]: typed PoCo calls (registries, escrow, categories, order cancellation) through alloy;
//! - [`poco`]: deals and tasks: matchOrders, views, the task lifecycle calls;
//! - [`orders`]: EIP-712 order building, signing and hashing exactly as the SDK;
//! - [`tags`] and [`units`]: tag names ↔ bytes32, amounts with units.
//!
//! Every fallible function returns [`ClientError`], whose messages name the field at fault and the fix.

pub mod client;
mod error;
pub mod orders;
pub mod poco;
pub mod project;
pub mod tags;
pub mod units;
pub mod wallet;

pub use client::{Client, Resource};
pub use error::{ClientError, Result};
pub use project::Project;

use alloy::primitives::Address;

/// Parses an ethereum address (`0x` + 40 hex digits; EIP-55 checksum checked when mixed-case), with the
/// SDK's message on failure.
pub fn parse_address(text: &str) -> Result<Address> {
    let invalid = || ClientError::Validation {
        what: "ethereum address",
        value: text.to_string(),
        hint: Some("expected 0x followed by 40 hex digits".into()),
    };
    let hex = text.strip_prefix("0x").ok_or_else(invalid)?;
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    let mixed =
        hex.bytes().any(|b| b.is_ascii_lowercase()) && hex.bytes().any(|b| b.is_ascii_uppercase());
    if mixed {
        Address::parse_checksummed(text, None).map_err(|_| ClientError::Validation {
            what: "ethereum address",
            value: text.to_string(),
            hint: Some("its EIP-55 checksum is wrong: check for a typo".into()),
        })
    } else {
        text.parse().map_err(|_| invalid())
    }
}
