//! `arca`: one binary for Arca's services (`chain`, …) and its iexec-compatible client commands.
//!
//! This file only parses arguments, sets up logging and maps outcomes to exit codes; each command
//! lives in its own module under `cmd/` and calls into the library crates.

mod cmd;
mod output;
mod sms_client;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Arca: decentralized confidential computing, iexec-compatible.
#[derive(Debug, Parser)]
#[command(name = "arca", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run Arca's embedded EVM dev chain (Ethereum JSON-RPC over HTTP and WebSocket).
    Chain(cmd::chain::ChainArgs),
    /// TEE attestation tools: measure an app image, verify a quote.
    #[command(subcommand)]
    Tee(cmd::tee::TeeCommand),
    /// Deploy the PoCo contracts (RLC, registries, hub) at deterministic addresses.
    Deploy(cmd::deploy::DeployArgs),
    /// Datasets: init, encrypt (AES-256-CBC, iexec-compatible), deploy, show, count, publish, unpublish,
    /// push-secret, check-secret.
    #[command(subcommand)]
    Dataset(cmd::dataset::DatasetCommand),
    /// Create iexec.json, chain.json and a wallet (like `iexec init`).
    Init(cmd::init::InitArgs),
    /// Wallet: create, import, show, send-ether, send-RLC.
    #[command(subcommand)]
    Wallet(cmd::wallet::WalletCommand),
    /// Escrow account: deposit, withdraw, show.
    #[command(subcommand)]
    Account(cmd::account::AccountCommand),
    /// Apps: init, deploy, show, count, publish, unpublish, push-secret, check-secret, run.
    #[command(subcommand)]
    App(cmd::app::AppCommand),
    /// Workerpools: init, deploy, show, count, publish, unpublish.
    #[command(subcommand)]
    Workerpool(cmd::workerpool::WorkerpoolCommand),
    /// Categories: init, create, show, count.
    #[command(subcommand)]
    Category(cmd::category::CategoryCommand),
    /// Orders: init, sign, cancel, show, publish, unpublish, fill, match --explain.
    #[command(subcommand)]
    Order(cmd::order::OrderCommand),
    /// The chain and its PoCo contract addresses.
    Info(output::Common),
    /// Run the Secret Management Service (iexec-compatible secrets, attested release to TEE tasks).
    Sms(cmd::sms::SmsArgs),
    /// Beneficiary result encryption: key pair, SMS push/check, decryption.
    #[command(subcommand)]
    Result(cmd::result::ResultCommand),
    /// Requester secrets in the SMS: push-secret, check-secret.
    #[command(subcommand)]
    Requester(cmd::secret::RequesterCommand),
    /// The market's open orders: app, dataset, workerpool, requester.
    #[command(subcommand)]
    Orderbook(cmd::orderbook::OrderbookCommand),
    /// Result storage: init, check (Arca's store needs no token; checks it answers).
    #[command(subcommand)]
    Storage(cmd::storage::StorageCommand),
    /// Deals: show (with their tasks), claim.
    #[command(subcommand)]
    Deal(cmd::deal::DealCommand),
    /// Tasks: show (and download the result), debug, claim.
    #[command(subcommand)]
    Task(cmd::deal::TaskCommand),
    /// Run the market API (orderbook, the iexecGateway of chain.json).
    Market(cmd::market::MarketArgs),
    /// Run the whole marketplace locally in one process: chain, contracts, SMS (dev), market,
    /// result store, a workerpool with its workers. Prints every URL and writes chain.json.
    Up(cmd::up::UpArgs),
    /// Run a workerpool's scheduler (owner key in ARCA_SCHEDULER_KEY).
    Scheduler(cmd::services::SchedulerArgs),
    /// Run a worker for a workerpool's scheduler (key in ARCA_WORKER_KEY).
    #[command(after_help = WORKER_ENV)]
    Worker(cmd::services::WorkerArgs),
}

/// What `arca worker` (and `arca up`'s workers) read from the environment besides its options.
const WORKER_ENV: &str = "Environment:
  ARCA_REGISTRY_AUTH      credentials for private registries the app images are pulled from:
                          host=user:password[,host=user:password…]
  ARCA_PULL_TIMEOUT_SECS  longest wait for one image pull (default 600)
  SSL_CERT_FILE           extra CA certificates (PEM) trusted for https inputs and datasets";

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let outcome = match cli.command {
        Command::Chain(args) => cmd::chain::run(args),
        Command::Up(args) => cmd::up::run(args),
        Command::Scheduler(args) => cmd::services::run_scheduler(args),
        Command::Worker(args) => cmd::services::run_worker(args),
        Command::Tee(command) => cmd::tee::run(command),
        Command::Deploy(args) => cmd::deploy::run(args),
        Command::Dataset(command) => cmd::dataset::run(command),
        Command::Init(args) => cmd::init::run(args),
        Command::Wallet(command) => cmd::wallet::run(command),
        Command::Account(command) => cmd::account::run(command),
        Command::App(command) => cmd::app::run(command),
        Command::Workerpool(command) => cmd::workerpool::run(command),
        Command::Category(command) => cmd::category::run(command),
        Command::Order(command) => cmd::order::run(command),
        Command::Info(common) => cmd::info::run(common),
        Command::Sms(args) => cmd::sms::run(args),
        Command::Market(args) => cmd::market::run(args),
        Command::Result(command) => cmd::result::run(command),
        Command::Orderbook(command) => cmd::orderbook::run_orderbook(command),
        Command::Deal(command) => cmd::deal::run_deal(command),
        Command::Storage(command) => cmd::storage::run(command),
        Command::Task(command) => cmd::deal::run_task(command),
        Command::Requester(command) => cmd::secret::run_requester(command),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            // `{:#}` prints the whole context chain on one line: "what failed: why".
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr so stdout stays machine-readable; `RUST_LOG` overrides the default level.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
