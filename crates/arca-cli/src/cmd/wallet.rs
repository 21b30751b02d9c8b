//! `arca wallet create|import|show|send-ether|send-RLC`: the wallet commands of the iexec CLI. Keystores
//! are Ethereum V3 (scrypt), named and placed as the SDK does, so both tools read each other's wallets.

use crate::output::{Common, Outcome, block_on, emit, spinner};
use alloy::primitives::Address;
use anyhow::Context as _;
use arca_client::{Project, units};
use arca_crypto::{PrivateKey, UnencryptedWallet};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Wallet subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum WalletCommand {
    /// Create a new wallet (encrypted keystore).
    Create(CreateArgs),
    /// Import a private key into an encrypted keystore.
    Import(ImportArgs),
    /// Show the wallet address and balances.
    Show(ShowArgs),
    /// Send ether (default unit: ether).
    #[command(name = "send-ether")]
    SendEther(SendArgs),
    /// Send RLC (default unit: RLC).
    #[command(name = "send-RLC")]
    SendRlc(SendArgs),
}

/// Options of `wallet create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Write a plaintext wallet.json in the project instead (unsafe).
    #[arg(long)]
    unencrypted: bool,
    #[command(flatten)]
    common: Common,
}

/// Options of `wallet import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The private key (hex, 0x-prefixed or not).
    private_key: String,
    /// Write a plaintext wallet.json in the project instead (unsafe).
    #[arg(long)]
    unencrypted: bool,
    #[command(flatten)]
    common: Common,
}

/// Options of `wallet show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// Address to show instead of the wallet's (no password needed).
    address: Option<String>,
    /// Also print the private key (decrypts the wallet).
    #[arg(long)]
    show_private_key: bool,
    #[command(flatten)]
    common: Common,
}

/// Options of `send-ether` / `send-RLC`.
#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// Amount.
    amount: String,
    /// Unit (wei … ether, nRLC, RLC).
    unit: Option<String>,
    /// Recipient address.
    #[arg(long)]
    to: String,
    #[command(flatten)]
    common: Common,
}

pub(crate) fn run(command: WalletCommand) -> anyhow::Result<ExitCode> {
    match command {
        WalletCommand::Create(a) => emit(
            a.common.raw,
            save(&a.common, PrivateKey::generate(), a.unencrypted),
        ),
        WalletCommand::Import(a) => {
            let raw = a.common.raw;
            emit(
                raw,
                PrivateKey::from_hex(&a.private_key)
                    .map_err(Into::into)
                    .and_then(|k| save(&a.common, k, a.unencrypted)),
            )
        }
        WalletCommand::Show(a) => emit(a.common.raw, block_on(show(&a))),
        WalletCommand::SendEther(a) => {
            emit(a.common.raw, block_on(send(&a, units::Currency::Ether)))
        }
        WalletCommand::SendRlc(a) => emit(a.common.raw, block_on(send(&a, units::Currency::Rlc))),
    }
}

/// Saves `key` as the SDK would (keystore, or wallet.json when `unencrypted`).
fn write_wallet(
    common: &Common,
    project: &Project,
    key: &PrivateKey,
    unencrypted: bool,
) -> anyhow::Result<PathBuf> {
    if unencrypted {
        return Ok(UnencryptedWallet::from_key(key).save(project.dir(), common.force)?);
    }
    let options = common.wallet_options(project, true)?;
    Ok(options.save(project.dir(), key)?)
}

fn save(common: &Common, key: PrivateKey, unencrypted: bool) -> anyhow::Result<Outcome> {
    let project = common.project()?;
    let path = write_wallet(common, &project, &key, unencrypted)?;
    let address = Address::from(key.address().0);
    Ok(Outcome::new(format!(
        "wallet saved in {}\naddress: {address}",
        path.display()
    ))
    .with(
        "wallet",
        serde_json::json!({"address": address.to_checksum(None)}),
    )
    .with("address", address.to_checksum(None))
    .with("fileName", path.display().to_string()))
}

/// The wallet `init` uses: the existing one if any, else a new one.
pub(crate) fn ensure_wallet(
    common: &Common,
    project: &Project,
    unencrypted: bool,
) -> anyhow::Result<(Address, PathBuf)> {
    let options = common.wallet_options(project, false)?;
    if let Ok(path) = options.find(project.dir())
        && let Some(address) = common.wallet_address(project)
    {
        return Ok((address, path));
    }
    let key = PrivateKey::generate();
    let path = write_wallet(common, project, &key, unencrypted)?;
    Ok((Address::from(key.address().0), path))
}

async fn show(args: &ShowArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let mut private_key = None;
    let address = match &args.address {
        Some(text) => arca_client::parse_address(text)?,
        None if args.show_private_key => {
            let wallet = common
                .wallet_options(&project, false)?
                .load(project.dir())?;
            private_key = Some(format!(
                "0x{}",
                alloy::hex::encode(wallet.signer.to_bytes())
            ));
            wallet.signer.address()
        }
        None => common
            .wallet_address(&project)
            .context("Missing wallet: create one with `arca wallet create` or pass an address")?,
    };
    let client = common.client(&project, false).await?;
    let bar = spinner(common.raw, "reading balances");
    let (wei, nrlc) = client.balances(address).await?;
    bar.finish_and_clear();
    let mut wallet = serde_json::json!({"address": address.to_checksum(None)});
    let mut human = format!(
        "address: {address}\nether: {} ETH\nRLC: {} RLC",
        units::format_units(wei, 18),
        units::format_units(nrlc, 9)
    );
    if let Some(key) = private_key {
        human.push_str(&format!("\nprivate key: {key}"));
        wallet["privateKey"] = key.into();
    }
    Ok(Outcome::new(human).with("wallet", wallet).with(
        "balance",
        serde_json::json!({"ether": units::format_units(wei, 18), "nRLC": nrlc.to_string()}),
    ))
}

async fn send(args: &SendArgs, currency: units::Currency) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let default_unit = match currency {
        units::Currency::Ether => "ether",
        units::Currency::Rlc => "RLC",
    };
    let amount = units::parse_amount(&args.amount, args.unit.as_deref(), default_unit, currency)?;
    let to = arca_client::parse_address(&args.to)?;
    let project = common.project()?;
    let client = common.client(&project, true).await?;
    let bar = spinner(common.raw, "sending");
    let sent = match currency {
        units::Currency::Ether => client.send_ether(to, amount).await?,
        units::Currency::Rlc => client.send_rlc(to, amount).await?,
    };
    bar.finish_and_clear();
    let shown = match currency {
        units::Currency::Ether => format!("{} ether", units::format_units(amount, 18)),
        units::Currency::Rlc => format!("{} RLC", units::format_units(amount, 9)),
    };
    Ok(
        Outcome::new(format!("sent {shown} to {to} (tx {})", sent.tx_hash))
            .with("amount", amount.to_string())
            .with("to", to.to_checksum(None))
            .with("txHash", sent.tx_hash.to_string()),
    )
}
