//! `arca order init|sign|cancel|show`: order templates in iexec.json, EIP-712 signing into orders.json
//! (per chain id, as the SDK), on-chain cancellation, and the on-chain state of the local signed orders.
//! Publishing to a market is left to the market commands.

use crate::output::{Common, Outcome, block_on, emit, spinner};
use alloy::primitives::Address;
use anyhow::Context as _;
use arca_client::orders::{self, OrderKind};
use clap::{Args, Subcommand};
use serde_json::Value;
use std::process::ExitCode;

/// Order subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum OrderCommand {
    /// Write order templates into iexec.json (all four without a flag).
    Init(KindArgs),
    /// Sign the iexec.json orders into orders.json (all present without a flag).
    Sign(KindArgs),
    /// Cancel signed orders of orders.json on chain.
    Cancel(KindArgs),
    /// Show the signed orders of orders.json with their on-chain state.
    Show(KindArgs),
}

/// `--app --dataset --workerpool --request`.
#[derive(Debug, Args)]
pub(crate) struct KindArgs {
    /// App order.
    #[arg(long)]
    app: bool,
    /// Dataset order.
    #[arg(long)]
    dataset: bool,
    /// Workerpool order.
    #[arg(long)]
    workerpool: bool,
    /// Request order.
    #[arg(long)]
    request: bool,
    #[command(flatten)]
    common: Common,
}

impl KindArgs {
    /// The kinds flagged, or `None` when no flag was given.
    fn kinds(&self) -> Option<Vec<OrderKind>> {
        let flags = [self.app, self.dataset, self.workerpool, self.request];
        let kinds: Vec<OrderKind> = OrderKind::ALL
            .into_iter()
            .zip(flags)
            .filter_map(|(k, on)| on.then_some(k))
            .collect();
        (!kinds.is_empty()).then_some(kinds)
    }
}

pub(crate) fn run(command: OrderCommand) -> anyhow::Result<ExitCode> {
    match command {
        OrderCommand::Init(a) => emit(a.common.raw, init(&a)),
        OrderCommand::Sign(a) => emit(a.common.raw, block_on(sign(&a))),
        OrderCommand::Cancel(a) => emit(a.common.raw, block_on(cancel(&a))),
        OrderCommand::Show(a) => emit(a.common.raw, block_on(show(&a))),
    }
}

fn init(args: &KindArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let mut iexec = project.iexec_json()?;
    // The resource fields start at the last deployed address of the selected chain (when chain.json gives
    // its id), the requester at the wallet, as the SDK does.
    let chain_id = project
        .chain_json()
        .ok()
        .and_then(|c| c.select(common.chain.as_deref()).ok())
        .and_then(|(_, conf)| conf.id?.parse::<u64>().ok());
    let deployed = project.deployed()?;
    let wallet = common.wallet_address(&project).unwrap_or(Address::ZERO);
    let mut outcome = Outcome::new("");
    let mut names = Vec::new();
    for kind in args.kinds().unwrap_or(OrderKind::ALL.to_vec()) {
        let resource = match kind {
            OrderKind::Request => None,
            k => chain_id.and_then(|id| deployed.get(k.flag(), id)),
        };
        let template = kind.template(resource.unwrap_or(Address::ZERO), wallet);
        iexec.set_order(kind.key(), template.clone());
        outcome = outcome.with(kind.key(), template);
        names.push(kind.key());
    }
    project.save_iexec_json(&iexec)?;
    outcome.human = format!("added {} to iexec.json", names.join(", "));
    Ok(outcome)
}

async fn sign(args: &KindArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let iexec = project.iexec_json()?;
    let present = |k: &OrderKind| iexec.0.get("order").and_then(|o| o.get(k.key())).is_some();
    let kinds = match args.kinds() {
        Some(kinds) => kinds,
        None => OrderKind::ALL.into_iter().filter(present).collect(),
    };
    if kinds.is_empty() {
        anyhow::bail!("iexec.json has no order to sign: run `arca order init` first");
    }
    // Validate every template before touching the chain, so a bad field fails fast and nothing is written.
    let templates = kinds
        .iter()
        .map(|k| iexec.order(*k))
        .collect::<Result<Vec<_>, _>>()?;
    let client = common.client(&project, true).await?;
    let signer = client.signer()?.clone();
    let domain = client.domain();
    let bar = spinner(common.raw, "signing orders");
    let mut outcome = Outcome::new("");
    let mut human = Vec::new();
    for mut order in templates {
        order.fill_requester(signer.address());
        let kind = order.kind();
        let signed = orders::sign(order, &signer, &domain)?;
        project.save_order(client.chain_id(), kind.key(), signed.to_json())?;
        human.push(format!(
            "{} signed (hash {}) and saved in orders.json",
            kind.key(),
            signed.hash
        ));
        outcome = outcome.with(kind.key(), signed.to_json());
    }
    bar.finish_and_clear();
    outcome.human = human.join("\n");
    Ok(outcome)
}

/// The signed orders of orders.json on the connected chain, for the flagged kinds (or all stored).
fn stored(
    project: &arca_client::Project,
    client: &arca_client::Client,
    kinds: Option<Vec<OrderKind>>,
) -> anyhow::Result<Vec<orders::SignedOrder>> {
    let all = project.orders()?;
    let chain = all
        .get(&client.chain_id().to_string())
        .cloned()
        .unwrap_or(Value::Null);
    let explicit = kinds.is_some();
    let mut out = Vec::new();
    for kind in kinds.unwrap_or(OrderKind::ALL.to_vec()) {
        match chain.get(kind.key()) {
            Some(value) => out.push(orders::signed_from_json(kind, value, &client.domain())?),
            None if explicit => anyhow::bail!(
                "no signed {} for chain {} in orders.json: run `arca order sign --{}`",
                kind.key(),
                client.chain_id(),
                kind.flag()
            ),
            None => {}
        }
    }
    if out.is_empty() {
        anyhow::bail!(
            "no signed order for chain {} in orders.json: run `arca order sign`",
            client.chain_id()
        );
    }
    Ok(out)
}

async fn cancel(args: &KindArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let client = common.client(&project, true).await?;
    let signed = stored(&project, &client, args.kinds())?;
    let bar = spinner(common.raw, "cancelling orders");
    let mut outcome = Outcome::new("");
    let mut human = Vec::new();
    for order in &signed {
        let kind = order.order.kind();
        let sent = client
            .cancel(order)
            .await
            .with_context(|| format!("cancelling the {} {}", kind.key(), order.hash))?;
        human.push(format!("{} {} cancelled", kind.key(), order.hash));
        outcome = outcome.with(kind.key(), serde_json::json!({"orderHash": order.hash.to_string(), "txHash": sent.tx_hash.to_string()}));
    }
    bar.finish_and_clear();
    outcome.human = human.join("\n");
    Ok(outcome)
}

async fn show(args: &KindArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let client = common.client(&project, false).await?;
    let signed = stored(&project, &client, args.kinds())?;
    let mut outcome = Outcome::new("");
    let mut human = Vec::new();
    for order in &signed {
        let kind = order.order.kind();
        let consumed = client.consumed(order.hash).await?;
        let volume = match &order.order {
            orders::UnsignedOrder::App(o) => o.volume,
            orders::UnsignedOrder::Dataset(o) => o.volume,
            orders::UnsignedOrder::Workerpool(o) => o.volume,
            orders::UnsignedOrder::Request(o) => o.volume,
        };
        let remaining = volume.saturating_sub(consumed);
        let status = if remaining.is_zero() { "dead" } else { "open" };
        human.push(format!(
            "{} {}: {status}, remaining {remaining}/{volume}",
            kind.key(),
            order.hash
        ));
        outcome = outcome.with(
            kind.key(),
            serde_json::json!({"order": order.to_json(), "orderHash": order.hash.to_string(),
                "status": status, "remaining": remaining.to_string()}),
        );
    }
    outcome.human = human.join("\n");
    Ok(outcome)
}
