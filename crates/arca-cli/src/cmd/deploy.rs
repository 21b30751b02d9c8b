//! `arca deploy`: puts Arca's PoCo contracts (RLC, registries, hub) on any EVM JSON-RPC chain at
//! deterministic addresses, or completes an existing deployment, and writes the addresses.

use anyhow::Context as _;
use clap::Args;
use std::{path::PathBuf, process::ExitCode};

/// Options of `arca deploy`.
#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// JSON-RPC endpoint of the chain.
    #[arg(long, default_value = "http://127.0.0.1:8545", env = "ARCA_RPC_URL")]
    rpc: String,
    /// Private key (hex) paying for the deployment; it owns the hub and holds the RLC supply.
    #[arg(long, env = "ARCA_PRIVATE_KEY", hide_env_values = true)]
    private_key: String,
    /// Where to write the addresses (JSON).
    #[arg(long, default_value = "deployment.json")]
    out: PathBuf,
}

pub(crate) fn run(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let deployment = runtime
        .block_on(arca_contracts::deploy(&args.rpc, &args.private_key))
        .with_context(|| format!("deploying the PoCo contracts on {}", args.rpc))?;
    deployment.write_json(&args.out)?;
    println!("{}", serde_json::to_string_pretty(&deployment)?);
    eprintln!("addresses written to {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}
