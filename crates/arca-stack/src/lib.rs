//! # arca-stack
//!
//! The whole Arca marketplace in one process, as `arca up` runs it: the dev chain with the PoCo
//! contracts, the SMS (dev mode: simulated enclaves accepted), the market API, the result store,
//! one workerpool (its scheduler and N workers). Every part is the same code that runs as a
//! separate service in a scale-out deployment, talking to the others only over HTTP and JSON-RPC.
//!
//! State: with a data directory everything persists under it (see [`layout`]) and a restart
//! resumes the same chain, secrets, orders, results and tasks; without one, all is in memory.

mod error;
pub mod keys;
pub mod layout;
pub mod worker;

pub use error::{Result, StackError};

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use arca_client::project::{ChainConf, WorkerpoolConfig};
use keys::PoolKeys;
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How to run the stack.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Where state lives; `None`: in memory (gone at exit).
    pub data_dir: Option<PathBuf>,
    /// Interface every service listens on.
    pub host: IpAddr,
    /// First port: chain, then SMS, market, result store, scheduler on the next ones. 0: random
    /// free ports (tests).
    pub port_base: u16,
    /// Number of workers in the pool.
    pub workers: usize,
    /// The Docker daemon the workers run apps on (`unix://…`); `None`: `DOCKER_HOST` or the default.
    pub docker_host: Option<String>,
    /// Chain id of the dev chain.
    pub chain_id: u64,
    /// Directories the workers may read `file://` datasets and input files from (local
    /// development; empty: such URLs are refused).
    pub file_url_roots: Vec<PathBuf>,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            data_dir: None,
            host: IpAddr::from([127, 0, 0, 1]),
            port_base: 8545,
            workers: 1,
            docker_host: None,
            chain_id: arca_chain::config::DEFAULT_CHAIN_ID,
            file_url_roots: Vec::new(),
        }
    }
}

impl StackConfig {
    fn addr(&self, offset: u16) -> SocketAddr {
        let port = if self.port_base == 0 {
            0
        } else {
            self.port_base + offset
        };
        SocketAddr::new(self.host, port)
    }
}

/// Where everything is, once started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackInfo {
    /// Chain id.
    pub chain_id: u64,
    /// JSON-RPC over HTTP.
    pub rpc_url: String,
    /// JSON-RPC over WebSocket (same port).
    pub ws_url: String,
    /// The PoCo hub.
    pub hub: Address,
    /// The SMS.
    pub sms_url: String,
    /// The market API (`iexecGateway`).
    pub market_url: String,
    /// The result store (the `ipfsGateway` of chain.json: it serves `/ipfs/<cid>`).
    pub storage_url: String,
    /// The workerpool's scheduler (`workerpoolApi` of chain.json).
    pub scheduler_url: String,
    /// The workerpool of this stack.
    pub workerpool: Address,
    /// Its owner (the scheduler's wallet).
    pub workerpool_owner: Address,
    /// The data directory, if any.
    pub data_dir: Option<PathBuf>,
}

impl StackInfo {
    /// The `chains.arca` entry of a `chain.json` pointing at this stack.
    pub fn chain_conf(&self) -> ChainConf {
        ChainConf {
            id: Some(self.chain_id.to_string()),
            host: Some(self.rpc_url.clone()),
            hub: Some(self.hub.to_checksum(None)),
            sms: Some(self.sms_url.clone()),
            iexec_gateway: Some(self.market_url.clone()),
            ipfs_gateway: Some(self.storage_url.clone()),
            workerpool_api: Some(self.scheduler_url.clone()),
            ..ChainConf::default()
        }
    }

    /// A whole `chain.json` whose default chain is this stack (read by `arca` and the iexec SDK).
    pub fn chain_json(&self) -> Value {
        json!({
            "default": "arca",
            "chains": { "arca": arca_client::project::indexmap_like::to_value(&self.chain_conf()) },
        })
    }
}

/// The running stack; dropping it stops every part.
pub struct StackHandle {
    /// Where everything is.
    pub info: StackInfo,
    /// The pool's wallets.
    pub pool: PoolKeys,
    chain: arca_chain::NodeHandle,
    sms: arca_sms::SmsHandle,
    market: arca_market::MarketHandle,
    storage: arca_storage::StorageHandle,
    scheduler: arca_scheduler::SchedulerHandle,
    workers: Vec<arca_worker::agent::AgentHandle>,
    _scratch: Vec<tempfile::TempDir>,
}

impl std::fmt::Debug for StackHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackHandle")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// The pool's order tag: TEE (bit 0) with Scone (1), Gramine (2) and TDX (3), all simulated.
const POOL_TAG: u8 = 0x0f;

/// Dev ETH each pool wallet is topped up to, for gas.
const POOL_GAS_FUNDS_ETH: u64 = 100;

impl StackHandle {
    /// Starts every part, in dependency order, and returns once all answer.
    pub async fn start(config: StackConfig) -> Result<StackHandle> {
        let dirs = config
            .data_dir
            .as_deref()
            .map(layout::Layout::create)
            .transpose()?;
        let mut chain_config = arca_chain::NodeConfig {
            host: config.host,
            port: config.addr(0).port(),
            chain_id: config.chain_id,
            ..arca_chain::NodeConfig::default()
        };
        if let Some(d) = &dirs {
            chain_config.data_dir = Some(d.chain.clone());
        }
        let chain = arca_chain::spawn(chain_config)
            .await
            .map_err(|e| StackError::part("the dev chain", e))?;
        let rpc_url = chain.http_url();
        let admin = chain.dev_signers()[0].clone();
        let deployment = arca_contracts::deploy(&rpc_url, &hex_key(&admin))
            .await
            .map_err(|e| StackError::part("deploying the PoCo contracts", e))?;
        tracing::info!(hub = %deployment.hub, "PoCo deployed");

        // Directories of an in-memory stack's file-based parts, removed when it stops.
        let mut scratch: Vec<tempfile::TempDir> = Vec::new();
        let pool = match &dirs {
            Some(d) => PoolKeys::load_or_create(&d.root, config.workers)?,
            None => PoolKeys::random(config.workers),
        };
        fund(&rpc_url, &admin, &pool).await?;

        let sms_store: Arc<dyn arca_sms::SecretStore> = match &dirs {
            Some(d) => Arc::new(
                arca_sms::SqliteStore::open(&d.sms_db, d.sms_master_key()?)
                    .map_err(|e| StackError::part("opening the SMS store", e))?,
            ),
            None => Arc::new(
                arca_sms::SqliteStore::in_memory(arca_sms::MasterKey::new(rand::random()))
                    .map_err(|e| StackError::part("opening the SMS store", e))?,
            ),
        };
        let sms = arca_sms::spawn(
            config.addr(1),
            arca_sms::Config {
                rpc_url: rpc_url.clone(),
                hub: deployment.hub,
                dev: true,
                public_url: None,
                session_ttl: 300,
            },
            sms_store,
        )
        .await
        .map_err(|e| StackError::part("the SMS", e))?;

        let mut market_config = arca_market::MarketConfig::new(rpc_url.clone(), deployment.hub);
        market_config.listen = config.addr(2);
        market_config.data_dir = dirs.as_ref().map(|d| d.market.clone());
        market_config.poll_interval = std::time::Duration::from_millis(500);
        let market = arca_market::spawn(market_config)
            .await
            .map_err(|e| StackError::part("the market API", e))?;

        let results_dir = match &dirs {
            Some(d) => d.results.clone(),
            None => scratch_dir(&mut scratch)?,
        };
        let mut storage_config =
            arca_storage::Config::new(rpc_url.clone(), deployment.hub, results_dir);
        storage_config.listen = config.addr(3);
        let storage = arca_storage::spawn(storage_config)
            .await
            .map_err(|e| StackError::part("the result store", e))?;

        let chain_conf = ChainConf {
            id: Some(deployment.chain_id.to_string()),
            host: Some(rpc_url.clone()),
            hub: Some(deployment.hub.to_checksum(None)),
            ..ChainConf::default()
        };
        let workerpool = ensure_workerpool(&chain_conf, &pool.scheduler, dirs.as_ref()).await?;

        // The pool takes every tag (TEE + every framework the sim enclave stands in for), so
        // standard and TEE requests alike find its order on the market.
        let mut scheduler_config = arca_scheduler::SchedulerConfig::new(
            chain_conf.clone(),
            pool.scheduler.clone(),
            workerpool,
        );
        scheduler_config.sms_url = Some(sms.url());
        scheduler_config.market_url = Some(market.url());
        scheduler_config.order = Some(arca_scheduler::OrderSettings {
            price: U256::ZERO,
            category: 0,
            tag: alloy::primitives::B256::with_last_byte(POOL_TAG),
            trust: 1,
            volume: 1_000_000,
        });
        scheduler_config.listen = config.addr(4);
        scheduler_config.data_dir = dirs.as_ref().map(|d| d.scheduler.clone());
        scheduler_config.poll_interval = std::time::Duration::from_millis(200);
        let scheduler = arca_scheduler::spawn(scheduler_config)
            .await
            .map_err(|e| StackError::part("the scheduler", e))?;

        let mut workers = Vec::with_capacity(pool.workers.len());
        for (n, signer) in pool.workers.iter().enumerate() {
            let work_dir = match &dirs {
                Some(d) => d.worker(n),
                None => scratch_dir(&mut scratch)?,
            };
            let agent = worker::spawn_worker(worker::WorkerConfig {
                chain: chain_conf.clone(),
                signer: signer.clone(),
                scheduler_url: scheduler.url(),
                storage_url: storage.url(),
                docker_host: config.docker_host.clone(),
                work_dir,
                sim_tee: true,
                file_url_roots: config.file_url_roots.clone(),
                max_parallel: 2,
            })
            .await?;
            workers.push(agent);
        }

        let info = StackInfo {
            chain_id: deployment.chain_id,
            rpc_url,
            ws_url: chain.ws_url(),
            hub: deployment.hub,
            sms_url: sms.url(),
            market_url: market.url(),
            storage_url: storage.url(),
            scheduler_url: scheduler.url(),
            workerpool,
            workerpool_owner: pool.scheduler.address(),
            data_dir: dirs.as_ref().map(|d| d.root.clone()),
        };
        if let Some(d) = &dirs {
            keys::write_private(
                &d.root.join("chain.json"),
                &serde_json::to_vec_pretty(&info.chain_json()).expect("serializable"),
            )?;
        }
        Ok(StackHandle {
            info,
            pool,
            chain,
            sms,
            market,
            storage,
            scheduler,
            workers,
            _scratch: scratch,
        })
    }

    /// Stops every part (the chain last, so in-flight writes of the others land first).
    pub async fn shutdown(self) {
        let StackHandle {
            chain,
            sms,
            market,
            storage,
            scheduler,
            workers,
            ..
        } = self;
        for w in workers {
            w.shutdown().await;
        }
        scheduler.shutdown().await;
        drop(sms);
        storage.shutdown().await;
        market.shutdown().await;
        chain.shutdown().await;
    }
}

/// A temporary directory for a file-based part of an in-memory stack, removed with the stack.
fn scratch_dir(scratch: &mut Vec<tempfile::TempDir>) -> Result<PathBuf> {
    let tmp = tempfile::tempdir().map_err(|e| StackError::io(Path::new("/tmp"), e))?;
    let path = tmp.path().to_path_buf();
    scratch.push(tmp);
    Ok(path)
}

fn hex_key(s: &PrivateKeySigner) -> String {
    format!("0x{}", alloy::hex::encode(s.to_bytes()))
}

/// Tops the pool's wallets up with dev ETH from account 0 so they can send transactions.
async fn fund(rpc_url: &str, admin: &PrivateKeySigner, pool: &PoolKeys) -> Result<()> {
    let url = rpc_url
        .parse()
        .map_err(|e| StackError::part("the chain URL", e))?;
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::new(admin.clone()))
        .connect_http(url);
    let target = U256::from(POOL_GAS_FUNDS_ETH) * U256::from(10u64).pow(U256::from(18u64));
    let wallets = std::iter::once(&pool.scheduler).chain(pool.workers.iter());
    for wallet in wallets {
        let address = wallet.address();
        let balance = provider
            .get_balance(address)
            .await
            .map_err(|e| StackError::part("reading a pool wallet's balance", e))?;
        if balance >= target / U256::from(2) {
            continue;
        }
        let tx = TransactionRequest::default()
            .with_to(address)
            .with_value(target - balance);
        provider
            .send_transaction(tx)
            .await
            .map_err(|e| StackError::part("funding a pool wallet", e))?
            .get_receipt()
            .await
            .map_err(|e| StackError::part("funding a pool wallet", e))?;
    }
    Ok(())
}

/// The stack's workerpool: the one recorded in the data directory if it is still on chain,
/// else a new one owned by the pool's scheduler wallet.
async fn ensure_workerpool(
    chain: &ChainConf,
    owner: &PrivateKeySigner,
    dirs: Option<&layout::Layout>,
) -> Result<Address> {
    let client = arca_client::Client::connect("arca", chain, Some(owner.clone()))
        .await
        .map_err(|e| StackError::part("connecting to the chain", e))?;
    if let Some(d) = dirs
        && let Some(address) = d.recorded_workerpool()?
    {
        let code = client
            .provider()
            .get_code_at(address)
            .await
            .map_err(|e| StackError::part("reading the workerpool", e))?;
        if !code.is_empty() {
            return Ok(address);
        }
    }
    let config = WorkerpoolConfig {
        owner: owner.address(),
        description: format!("arca-up-pool-{}", owner.address()),
    };
    let (address, _) = client
        .deploy_workerpool(&config)
        .await
        .map_err(|e| StackError::part("registering the workerpool", e))?;
    if let Some(d) = dirs {
        d.record_workerpool(address)?;
    }
    Ok(address)
}
