//! # arca-market
//!
//! Arca's market API, the `iexecGateway` of `chain.json`: an orderbook of signed PoCo orders
//! (app, dataset, workerpool, request) with the paths, query parameters and JSON shapes of
//! iExec's market API, so the iexec SDK's `orderbook` and `order publish` work against it.
//!
//! - [`order`]: the order JSON shapes and their EIP-712 hashes;
//! - [`server`]: the axum service ([`spawn`]) which checks every published order on chain
//!   (registered resource, owner's signature, remaining volume) and follows the hub's
//!   `OrdersMatched`/`Closed*Order` events to hide consumed and cancelled orders;
//! - [`query`]: filters, sort and pagination of the orderbook;
//! - [`store`]: persistence ([`SqliteStore`] by default, behind the [`Store`] trait; a shared
//!   Postgres `PgStore` with the `postgres` feature);
//! - [`client`]: the typed HTTP [`Client`].

pub mod chain;
pub mod client;
mod error;
pub mod order;
pub mod query;
pub mod server;
pub mod store;
#[cfg(feature = "postgres")]
pub mod store_pg;

pub use client::{Client, OrderPage};
pub use error::MarketError;
pub use order::{Order, OrderKind, Uint};
pub use query::OrderQuery;
pub use server::{
    MarketConfig, MarketHandle, PublishedOrder, UnpublishRequest, spawn, spawn_with_store,
};
pub use store::{Record, SqliteStore, Status, Store};
#[cfg(feature = "postgres")]
pub use store_pg::PgStore;
