//! Node configuration: one typed struct with anvil-like defaults and a `test()` preset.

use alloy::primitives::U256;
use std::{net::IpAddr, path::PathBuf, time::Duration};

/// The standard test mnemonic every Ethereum tool defaults to.
pub const DEFAULT_MNEMONIC: &str = "test test test test test test test test test test test junk";
/// Chain id used by Arca's dev chain unless told otherwise.
pub const DEFAULT_CHAIN_ID: u64 = 1337;
/// Block gas limit, as anvil's default.
pub const DEFAULT_GAS_LIMIT: u64 = 30_000_000;
/// Base fee of the first blocks (1 gwei), as anvil's default.
pub const DEFAULT_BASE_FEE: u64 = 1_000_000_000;
/// Largest JSON-RPC request body accepted (bytes).
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How the dev chain runs.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Address to listen on.
    pub host: IpAddr,
    /// Port to listen on (0 = any free port).
    pub port: u16,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Where blocks and state persist; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Number of funded dev accounts derived from the mnemonic.
    pub accounts: u32,
    /// BIP-39 mnemonic of the dev accounts (m/44'/60'/0'/0/i).
    pub mnemonic: String,
    /// Initial balance of each dev account, in wei.
    pub balance: U256,
    /// `None` mines a block per transaction; `Some(d)` mines every `d`.
    pub block_time: Option<Duration>,
    /// Block gas limit.
    pub gas_limit: u64,
    /// Base fee of the first block, in wei.
    pub base_fee: u64,
    /// Genesis timestamp (seconds); `None` uses the current time.
    pub genesis_timestamp: Option<u64>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8545,
            chain_id: DEFAULT_CHAIN_ID,
            data_dir: None,
            accounts: 10,
            mnemonic: DEFAULT_MNEMONIC.to_string(),
            balance: U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18u64)),
            block_time: None,
            gas_limit: DEFAULT_GAS_LIMIT,
            base_fee: DEFAULT_BASE_FEE,
            genesis_timestamp: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

impl NodeConfig {
    /// In memory, on a free port of 127.0.0.1: what tests and embedders want.
    pub fn test() -> Self {
        Self {
            port: 0,
            ..Self::default()
        }
    }

    /// Sets the data directory (persistent chain).
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Sets the port.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Mines at a fixed interval instead of per transaction.
    pub fn with_block_time(mut self, every: Duration) -> Self {
        self.block_time = Some(every);
        self
    }
}
