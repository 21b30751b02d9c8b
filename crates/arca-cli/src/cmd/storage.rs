//! `arca storage init|check`: in the iexec SDK these push a token for the result storage provider
//! (`iexec-result-iexec-ipfs-token` for the iExec result proxy, `iexec-result-dropbox-token` for
//! Dropbox) to the SMS. Arca's result store authenticates each upload with the workerpool's on-chain
//! authorization instead, so there is no requester token to push: these commands say so and check that
//! the store (chain.json `ipfsGateway`) answers, so a seed's `storage init` step succeeds with a
//! meaningful check instead of a silent no-op.

use crate::output::{Common, Outcome, block_on, emit};
use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use std::process::ExitCode;

/// Storage subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum StorageCommand {
    /// Prepare the result storage (Arca: nothing to push; checks the result store answers).
    Init(StorageArgs),
    /// Check the result storage is ready (Arca: the result store answers).
    Check(StorageArgs),
    /// Run the result store service (chain.json's ipfsGateway).
    Serve(super::services::StorageServeArgs),
}

/// Options of `storage init|check`.
#[derive(Debug, Args)]
pub(crate) struct StorageArgs {
    /// Storage provider: ipfs [default] (dropbox is not supported by Arca).
    provider: Option<String>,
    /// SDK option for dropbox tokens; Arca's store needs none.
    #[arg(long)]
    token: Option<String>,
    /// SDK option (replace the token); accepted, there is no token.
    #[arg(long)]
    force_update: bool,
    /// SDK v8 option; Arca runs one store for every TEE framework.
    #[arg(long, value_name = "FRAMEWORK")]
    tee_framework: Option<String>,
    /// `check`: the user whose storage is checked (no per-user state in Arca's store).
    #[arg(long)]
    user: Option<String>,
    #[command(flatten)]
    common: Common,
}

pub(crate) fn run(command: StorageCommand) -> anyhow::Result<ExitCode> {
    let (init, args) = match command {
        StorageCommand::Init(a) => (true, a),
        StorageCommand::Check(a) => (false, a),
        StorageCommand::Serve(a) => return super::services::run_storage(a),
    };
    emit(args.common.raw, block_on(storage(init, &args)))
}

async fn storage(init: bool, args: &StorageArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    match args.provider.as_deref().unwrap_or("ipfs") {
        "ipfs" | "default" => {}
        "dropbox" => bail!(
            "Arca stores results in its own IPFS-compatible store only: dropbox is not supported (use ipfs, the default)"
        ),
        other => bail!("unknown storage provider \"{other}\": use ipfs"),
    }
    if args.token.is_some() {
        bail!(
            "--token: Arca's result store takes no token (each upload is authorized by the workerpool on chain); drop --token"
        );
    }
    if let Some(user) = &args.user {
        arca_client::parse_address(user).context("--user")?;
    }
    let project = common.project()?;
    let (name, conf) = common.chain_conf(&project)?;
    let gateway = conf.ipfs_gateway.with_context(|| {
        format!(
            "chain.json: chains.{name}.ipfsGateway is missing: set it to the result store's URL (`arca up` prints it)"
        )
    })?;
    let url = format!("{}/health", gateway.trim_end_matches('/'));
    let response = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("static client configuration")
        .get(&url)
        .send()
        .await
        .with_context(|| {
            format!(
                "the result store at {gateway} did not answer: start it (`arca up`) or fix \"ipfsGateway\" in chain.json"
            )
        })?;
    if !response.status().is_success() {
        bail!(
            "the result store at {gateway} answered {} to GET /health: is ipfsGateway Arca's result store?",
            response.status()
        );
    }
    let what = if init { "initialized" } else { "ready" };
    Ok(Outcome::new(format!(
        "✔ Result storage {what}: Arca's result store at {gateway} answers.\n  \
         No token to push: workers upload results with the workerpool's on-chain authorization \
         (iExec's `storage init` pushed a result-proxy token to the SMS instead)."
    ))
    .with("isInitialized", true)
    .with("provider", "ipfs")
    .with("ipfsGateway", gateway))
}
