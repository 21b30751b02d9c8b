//! `arca up`: the whole marketplace in one process on this machine — dev chain with PoCo, SMS in
//! dev mode, market API, result store, one workerpool (scheduler + N workers) — the same code
//! that runs as separate services in a scale-out deployment (see `arca up --help`).

use anyhow::Context as _;
use arca_stack::{StackConfig, StackHandle};
use clap::Args;
use std::{net::IpAddr, path::PathBuf, process::ExitCode};

/// Options of `arca up`.
#[derive(Debug, Args)]
#[command(after_long_help = SCALE_OUT)]
pub(crate) struct UpArgs {
    /// Keep all state here (chain, secrets, orders, results, tasks); a restart with the same
    /// directory resumes everything. Without it, state lives in memory and is gone at exit.
    #[arg(long, env = "ARCA_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Number of workers in the local workerpool.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// First port: chain on it, then SMS, market, result store and scheduler on the next four.
    #[arg(long, default_value_t = 8545)]
    port_base: u16,
    /// Interface to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Docker daemon for the workers (unix://…); default: DOCKER_HOST or /var/run/docker.sock.
    #[arg(long, env = "DOCKER_HOST")]
    docker_host: Option<String>,
    /// Let workers read `file://` dataset and input URLs under this directory (repeatable;
    /// local development: a requester chooses these URLs, so by default they are refused).
    #[arg(long, value_name = "DIR")]
    allow_file_urls: Vec<PathBuf>,
    /// Also write the chain.json of this stack here (e.g. `.` in a project directory).
    #[arg(long, value_name = "DIR")]
    write_chain_json: Option<PathBuf>,
}

const SCALE_OUT: &str = "\
Running the same parts as separate processes (scale-out):
  arca chain --data-dir DIR            or any Ethereum JSON-RPC endpoint (anvil, geth, an L2)
  arca deploy --rpc URL --private-key KEY
  arca sms --rpc URL --hub HUB --db sms.sqlite --master-key-file sms.key
  arca market --rpc URL --hub HUB --data-dir market/
  arca storage serve --rpc URL --hub HUB --data-dir results/   (--s3-bucket: blobs in S3)
  arca scheduler --rpc URL --hub HUB --workerpool ADDR --sms URL --market URL ...
                                       (--postgres-url: state in Postgres)
  arca worker --scheduler URL ...      (any number, on any machine with a Docker daemon)
Then point chain.json (host, hub, sms, iexecGateway, ipfsGateway, workerpoolApi) at them.
The workers here read the environment `arca worker --help` lists (registry credentials, pull
timeout, extra CA certificates).";

pub(crate) fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    if args.workers == 0 {
        anyhow::bail!("--workers must be at least 1: a workerpool without workers runs no task");
    }
    let config = StackConfig {
        data_dir: args.data_dir.clone(),
        host: args.host,
        port_base: args.port_base,
        workers: args.workers,
        docker_host: args.docker_host.clone(),
        file_url_roots: args.allow_file_urls.clone(),
        ..StackConfig::default()
    };
    crate::output::block_on(async move {
        let stack = StackHandle::start(config)
            .await
            .context("starting the local stack")?;
        let info = &stack.info;
        let chain_json = serde_json::to_string_pretty(&info.chain_json())?;
        if let Some(dir) = &args.write_chain_json {
            let path = dir.join("chain.json");
            arca_crypto::write_file_atomic(&path, chain_json.as_bytes(), true)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        println!(
            "Arca is up — DEV MODE: the SMS accepts simulated enclaves; never use it for real secrets"
        );
        println!(
            "  chain        {}  (ws {}, chain id {})",
            info.rpc_url, info.ws_url, info.chain_id
        );
        println!("  hub          {}", info.hub);
        println!("  sms          {}", info.sms_url);
        println!("  market       {}", info.market_url);
        println!("  results      {}", info.storage_url);
        println!(
            "  scheduler    {}  ({} worker(s))",
            info.scheduler_url,
            stack.pool.workers.len()
        );
        println!(
            "  workerpool   {}  (owner {})",
            info.workerpool, info.workerpool_owner
        );
        match &info.data_dir {
            Some(dir) => println!(
                "  data         {}  (chain.json written there)",
                dir.display()
            ),
            None => println!("  data         in memory (use --data-dir to keep it)"),
        }
        println!("chain.json:\n{chain_json}");
        println!("Ready. Ctrl-C stops.");
        wait_for_stop().await;
        eprintln!("stopping…");
        stack.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Ctrl-C or SIGTERM.
pub(crate) async fn wait_for_stop() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
