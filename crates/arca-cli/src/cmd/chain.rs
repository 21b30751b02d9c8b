//! `arca chain`: runs the embedded dev chain until Ctrl-C or SIGTERM, anvil-style.

use alloy::{primitives::U256, signers::local::PrivateKeySigner};
use anyhow::Context as _;
use arca_chain::{NodeConfig, config};
use clap::Args;
use std::{net::IpAddr, path::PathBuf, process::ExitCode, time::Duration};

/// Options of `arca chain` (the same names as anvil's where they exist).
#[derive(Debug, Args)]
pub(crate) struct ChainArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "ARCA_CHAIN_HOST")]
    host: IpAddr,
    /// Port for HTTP and WebSocket JSON-RPC.
    #[arg(long, short, default_value_t = 8545, env = "ARCA_CHAIN_PORT")]
    port: u16,
    /// EIP-155 chain id.
    #[arg(long, default_value_t = config::DEFAULT_CHAIN_ID)]
    chain_id: u64,
    /// Keep blocks and state in this directory (survives restarts and kill -9); in memory if absent.
    #[arg(long, env = "ARCA_CHAIN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Number of funded dev accounts.
    #[arg(long, short, default_value_t = 10)]
    accounts: u32,
    /// Mnemonic the dev accounts are derived from (m/44'/60'/0'/0/i).
    #[arg(long, short, default_value = config::DEFAULT_MNEMONIC)]
    mnemonic: String,
    /// Initial balance of each dev account, in ether.
    #[arg(long, default_value_t = 10_000)]
    balance: u64,
    /// Mine a block every SECS seconds instead of one per transaction.
    #[arg(long, short, value_name = "SECS")]
    block_time: Option<f64>,
    /// Block gas limit.
    #[arg(long, default_value_t = config::DEFAULT_GAS_LIMIT)]
    gas_limit: u64,
}

impl ChainArgs {
    fn into_config(self) -> anyhow::Result<NodeConfig> {
        let block_time = match self.block_time {
            Some(s) if !(s > 0.0 && s.is_finite()) => {
                anyhow::bail!("--block-time must be a positive number of seconds, got {s}")
            }
            Some(s) => Some(Duration::from_secs_f64(s)),
            None => None,
        };
        let wei_per_eth = alloy_u256(10).pow(alloy_u256(18));
        Ok(NodeConfig {
            host: self.host,
            port: self.port,
            chain_id: self.chain_id,
            data_dir: self.data_dir,
            accounts: self.accounts,
            mnemonic: self.mnemonic,
            balance: alloy_u256(self.balance) * wei_per_eth,
            block_time,
            gas_limit: self.gas_limit,
            ..NodeConfig::default()
        })
    }
}

fn alloy_u256(n: u64) -> U256 {
    U256::from(n)
}

pub(crate) fn run(args: ChainArgs) -> anyhow::Result<ExitCode> {
    let config = args.into_config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let persistent = config.data_dir.clone();
        let handle = arca_chain::spawn(config)
            .await
            .context("starting the dev chain")?;
        print_banner(&handle, persistent.as_deref());
        wait_for_stop_signal().await;
        eprintln!("stopping the dev chain…");
        handle.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

fn print_banner(handle: &arca_chain::NodeHandle, data_dir: Option<&std::path::Path>) {
    let mut out = String::new();
    out.push_str("Available accounts (10000 ETH each unless --balance)\n");
    for (i, s) in handle.dev_signers().iter().enumerate() {
        out.push_str(&format!("({i}) {}\n", s.address()));
    }
    out.push_str("\nPrivate keys\n");
    for (i, s) in handle.dev_signers().iter().enumerate() {
        out.push_str(&format!("({i}) 0x{}\n", hex_key(s)));
    }
    out.push_str(&format!(
        "\nStorage: {}\nListening on {} (HTTP) and {} (WebSocket)\n",
        data_dir
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| "in memory (use --data-dir to persist)".into()),
        handle.http_url(),
        handle.ws_url()
    ));
    print!("{out}");
}

fn hex_key(signer: &PrivateKeySigner) -> String {
    signer
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn wait_for_stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
