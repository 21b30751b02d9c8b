//! # arca-chain
//!
//! Arca's embedded EVM dev chain: [revm] executes transactions (Osaka rules, the same as anvil's
//! default, so gas matches), and a JSON-RPC 2.0 server answers Ethereum clients over HTTP and
//! WebSocket on one port. Blocks, receipts and state persist in one SQLite file per data
//! directory and survive `kill -9`; without a data directory everything stays in memory.
//!
//! Brief overview:
//! - [`spawn`] starts a node from a [`NodeConfig`] and returns a [`NodeHandle`] with the bound
//!   address and the dev accounts; `arca chain`, `arca up` and the tests all use it.
//! - [`backend`] holds the chain (pool, mining, time control, snapshots), [`state`] the world
//!   state with its undo journal, [`persist`] the SQLite store, [`rpc`] the method table and
//!   [`server`] the transports.
//!
//! Nothing outside this crate depends on its internals: every other Arca part talks JSON-RPC, so
//! it can point at anvil, geth or an L2 instead.

pub mod backend;
pub mod config;
pub mod error;
pub mod fees;
pub mod filters;
pub mod genesis;
pub mod persist;
pub mod rpc;
pub mod server;
pub mod state;

pub use config::NodeConfig;
pub use error::{ChainError, RpcError};
pub use rpc::Node;

use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use backend::{Backend, ChainSpec};
use std::{net::SocketAddr, sync::Arc};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// A running node. Dropping it stops the server.
#[derive(Debug)]
pub struct NodeHandle {
    addr: SocketAddr,
    node: Arc<Node>,
    signers: Vec<PrivateKeySigner>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    miner: Option<JoinHandle<()>>,
}

impl NodeHandle {
    /// Address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://host:port`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://host:port`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The funded dev accounts' signers, in derivation order.
    pub fn dev_signers(&self) -> &[PrivateKeySigner] {
        &self.signers
    }

    /// The dev accounts' addresses.
    pub fn dev_accounts(&self) -> Vec<Address> {
        self.signers.iter().map(|s| s.address()).collect()
    }

    /// The node, for in-process calls (`node().dispatch(method, params)`).
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Stops the server and waits for it to finish.
    pub async fn shutdown(mut self) {
        self.stop();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(miner) = self.miner.take() {
            miner.abort();
        }
    }
}

impl Drop for NodeHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Builds the node (state, store, dev accounts) without serving it.
pub fn build_node(config: &NodeConfig) -> Result<(Arc<Node>, Vec<PrivateKeySigner>), ChainError> {
    let signers = genesis::dev_signers(&config.mnemonic, config.accounts)?;
    let alloc: Vec<_> = signers
        .iter()
        .map(|s| (s.address(), config.balance))
        .collect();
    let store = config
        .data_dir
        .as_deref()
        .map(persist::Store::open)
        .transpose()?;
    let spec = ChainSpec {
        chain_id: config.chain_id,
        gas_limit: config.gas_limit,
        initial_base_fee: config.base_fee,
    };
    let genesis_time = config
        .genesis_timestamp
        .unwrap_or_else(|| backend::TimeControl::default().now());
    let backend = Backend::open(spec, &alloc, genesis_time, store)?;
    let node = Node {
        backend: std::sync::RwLock::new(backend),
        filters: Default::default(),
        signers: signers.iter().map(|s| (s.address(), s.clone())).collect(),
        accounts: signers.iter().map(|s| s.address()).collect(),
        automine: config.block_time.is_none(),
    };
    Ok((Arc::new(node), signers))
}

/// Starts a node: binds the port, serves JSON-RPC, and mines on the configured schedule.
pub async fn spawn(config: NodeConfig) -> Result<NodeHandle, ChainError> {
    let (node, signers) = build_node(&config)?;
    let bind = SocketAddr::new(config.host, config.port);
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|source| ChainError::Bind {
            addr: bind.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ChainError::Bind {
        addr: bind.to_string(),
        source,
    })?;
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(
        listener,
        node.clone(),
        config.max_body_bytes,
        async move {
            let _ = shutdown_rx.await;
        },
    ));
    let miner = config.block_time.map(|every| {
        let node = node.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let mut backend = node.backend.write().unwrap_or_else(|p| p.into_inner());
                if let Err(err) = backend.mine_one(None) {
                    tracing::error!(target: "arca::chain", message = %err.message, "interval mining failed");
                }
            }
        })
    });
    tracing::info!(target: "arca::chain", %addr, chain_id = config.chain_id, "dev chain listening");
    Ok(NodeHandle {
        addr,
        node,
        signers,
        shutdown: Some(shutdown_tx),
        server: Some(server),
        miner,
    })
}
