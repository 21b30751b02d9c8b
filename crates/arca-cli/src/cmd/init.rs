//! `arca init`: creates `iexec.json` and `chain.json` like `iexec init`, and a wallet unless
//! `--skip-wallet` (an existing wallet in the keystore directory is reused).

use crate::output::{Common, Outcome, emit};
use anyhow::bail;
use arca_client::project::{ChainConf, ChainJson, IexecJson};
use clap::Args;
use serde_json::json;
use std::process::ExitCode;

/// Options of `arca init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Do not create a wallet.
    #[arg(long)]
    skip_wallet: bool,
    /// Write the wallet as plaintext wallet.json in the project (unsafe, for throwaway dev keys).
    #[arg(long)]
    unencrypted: bool,
    #[command(flatten)]
    common: Common,
}

/// The chain Arca's `arca chain` serves by default.
pub(crate) fn dev_chain() -> ChainConf {
    ChainConf {
        id: Some(arca_chain::config::DEFAULT_CHAIN_ID.to_string()),
        host: Some("http://localhost:8545".into()),
        ..Default::default()
    }
}

pub(crate) fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    let raw = args.common.raw;
    emit(raw, init(args))
}

fn init(args: InitArgs) -> anyhow::Result<Outcome> {
    let project = args.common.project()?;
    for file in ["iexec.json", "chain.json"] {
        if project.path(file).exists() && !args.common.force {
            bail!(
                "{file} already exists in {}: pass --force to overwrite it",
                project.dir().display()
            );
        }
    }
    // Create the wallet first: if it fails (no password), no project file is written.
    let mut outcome = Outcome::new("");
    let mut human = Vec::new();
    if !args.skip_wallet {
        let (address, file) =
            crate::cmd::wallet::ensure_wallet(&args.common, &project, args.unencrypted)?;
        human.push(format!("wallet: {address} ({})", file.display()));
        outcome = outcome
            .with("walletAddress", address.to_checksum(None))
            .with("walletFile", file.display().to_string());
    }
    // The SDK's iexec.json template, unchanged (users' tutorials edit it).
    let iexec = json!({
        "description": "My iExec resource description, must be at least 150 chars long in order to pass the validation checks. Describe your application, dataset or workerpool to your users",
        "license": "MIT",
        "author": "?",
        "social": {"website": "?", "github": "?"},
        "logo": "logo.png",
    });
    let serde_json::Value::Object(map) = iexec else {
        unreachable!("object literal")
    };
    let mut chains = ChainJson {
        default: Some("dev".into()),
        ..Default::default()
    };
    chains.set_chain("dev", &dev_chain());
    chains.set_chain("arbitrum-mainnet", &ChainConf::default());
    chains.set_chain("arbitrum-sepolia-testnet", &ChainConf::default());
    project.save_iexec_json(&IexecJson(map))?;
    project.save_chain_json(&chains)?;
    human.push(
        "created iexec.json and chain.json (default chain: dev, http://localhost:8545)".into(),
    );
    human.push("iExec project is ready".into());
    outcome.human = human.join("\n");
    Ok(outcome
        .with("configFile", "iexec.json")
        .with("chainConfigFile", "chain.json"))
}
