//! `arca account deposit|withdraw|show`: the escrow account (stake and locked nRLC) in the hub.

use crate::output::{Common, Outcome, block_on, emit, spinner};
use arca_client::units::{self, Currency};
use clap::{Args, Subcommand};
use std::process::ExitCode;

/// Account subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AccountCommand {
    /// Move RLC from the wallet to the escrow account (default unit: nRLC).
    Deposit(AmountArgs),
    /// Move RLC from the escrow account back to the wallet (default unit: nRLC).
    Withdraw(AmountArgs),
    /// Show the escrow account of the wallet or of an address.
    Show(ShowArgs),
}

/// `<amount> [unit]`.
#[derive(Debug, Args)]
pub(crate) struct AmountArgs {
    /// Amount.
    amount: String,
    /// Unit: nRLC (default) or RLC.
    unit: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// Options of `account show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// Address (default: the wallet's).
    address: Option<String>,
    #[command(flatten)]
    common: Common,
}

pub(crate) fn run(command: AccountCommand) -> anyhow::Result<ExitCode> {
    match command {
        AccountCommand::Deposit(a) => emit(a.common.raw, block_on(move_funds(&a, true))),
        AccountCommand::Withdraw(a) => emit(a.common.raw, block_on(move_funds(&a, false))),
        AccountCommand::Show(a) => emit(a.common.raw, block_on(show(&a))),
    }
}

async fn move_funds(args: &AmountArgs, deposit: bool) -> anyhow::Result<Outcome> {
    let amount = units::parse_amount(&args.amount, args.unit.as_deref(), "nRLC", Currency::Rlc)?;
    let project = args.common.project()?;
    let client = args.common.client(&project, true).await?;
    let (verb, bar) = if deposit {
        ("deposited", spinner(args.common.raw, "depositing"))
    } else {
        ("withdrawn", spinner(args.common.raw, "withdrawing"))
    };
    let sent = if deposit {
        client.deposit(amount).await?
    } else {
        client.withdraw(amount).await?
    };
    bar.finish_and_clear();
    Ok(Outcome::new(format!(
        "{verb} {amount} nRLC ({} RLC)",
        units::format_units(amount, 9)
    ))
    .with("amount", amount.to_string())
    .with("txHash", sent.tx_hash.to_string()))
}

async fn show(args: &ShowArgs) -> anyhow::Result<Outcome> {
    let project = args.common.project()?;
    let address = match &args.address {
        Some(text) => arca_client::parse_address(text)?,
        None => args.common.wallet_address(&project).ok_or_else(|| {
            anyhow::anyhow!("Missing address or wallet: pass an address or create a wallet with `arca wallet create`")
        })?,
    };
    let client = args.common.client(&project, false).await?;
    let (stake, locked) = client.account(address).await?;
    Ok(Outcome::new(format!(
        "account {address}\nstake: {stake} nRLC\nlocked: {locked} nRLC"
    ))
    .with(
        "balance",
        serde_json::json!({"stake": stake.to_string(), "locked": locked.to_string()}),
    ))
}
