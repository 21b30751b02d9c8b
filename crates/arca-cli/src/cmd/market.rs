//! `arca market`: runs the market API (chain.json's `iexecGateway`) for a hub until Ctrl-C or
//! SIGTERM. Published orders live in `--data-dir` (or a shared Postgres, `--postgres-url`) and
//! survive restarts; the service follows the chain from where it stopped.

use alloy::primitives::Address;
use anyhow::Context as _;
use arca_market::{MarketConfig, PgStore};
use clap::Args;
use std::{net::IpAddr, path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

/// Options of `arca market`.
#[derive(Debug, Args)]
pub(crate) struct MarketArgs {
    /// JSON-RPC endpoint of the chain.
    #[arg(long, default_value = "http://127.0.0.1:8545", env = "ARCA_RPC")]
    rpc: String,
    /// Address of the PoCo hub (see `arca deploy`).
    #[arg(long, env = "ARCA_HUB")]
    hub: Address,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "ARCA_MARKET_HOST")]
    host: IpAddr,
    /// HTTP port of the market API (0: any free port).
    #[arg(long, short, default_value_t = 3000, env = "ARCA_MARKET_PORT")]
    port: u16,
    /// Keep the orderbook in this directory (market.sqlite); in memory if absent. Not with
    /// --postgres-url.
    #[arg(long, env = "ARCA_MARKET_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Keep the orderbook in this Postgres database instead, shared by several market
    /// instances: postgres://user:password@host:port/database (tables market_*, created if
    /// needed; no TLS). Not with --data-dir.
    #[arg(
        long,
        env = "ARCA_MARKET_POSTGRES_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    postgres_url: Option<String>,
    /// Seconds between two polls of the chain for matched and cancelled orders.
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    poll_interval: f64,
}

pub(crate) fn run(args: MarketArgs) -> anyhow::Result<ExitCode> {
    if !(args.poll_interval > 0.0 && args.poll_interval.is_finite()) {
        anyhow::bail!(
            "--poll-interval must be a positive number of seconds, got {}",
            args.poll_interval
        );
    }
    let postgres = match (&args.postgres_url, &args.data_dir) {
        (Some(_), Some(dir)) => anyhow::bail!(
            "--postgres-url (or ARCA_MARKET_POSTGRES_URL) and --data-dir {} (or \
             ARCA_MARKET_DATA_DIR) both given: the orderbook lives in one store; keep one",
            dir.display()
        ),
        // opened before the runtime: a bad URL fails fast, before the chain is contacted
        (Some(url), None) => Some(PgStore::open(url)?),
        (None, _) => None,
    };
    let orderbook = match (&postgres, &args.data_dir) {
        (Some(pg), _) => format!("Postgres {}", pg.target()),
        (None, Some(dir)) => dir.join("market.sqlite").display().to_string(),
        (None, None) => "in memory (use --data-dir or --postgres-url to persist)".to_owned(),
    };
    let config = MarketConfig {
        listen: (args.host, args.port).into(),
        data_dir: args.data_dir.clone(),
        poll_interval: Duration::from_secs_f64(args.poll_interval),
        ..MarketConfig::new(args.rpc.clone(), args.hub)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let started = match postgres {
            Some(pg) => arca_market::spawn_with_store(config, Arc::new(pg)).await,
            None => arca_market::spawn(config).await,
        };
        let handle = started.with_context(|| {
            format!(
                "starting the market for hub {} on {} (is the chain running and the hub deployed?)",
                args.hub, args.rpc
            )
        })?;
        println!("Market API (iexecGateway) listening on {}", handle.url());
        println!("Orderbook: {orderbook}");
        wait_for_stop_signal().await;
        eprintln!("stopping the market…");
        handle.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
