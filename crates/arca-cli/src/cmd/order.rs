//! `arca order init|sign|cancel|show|publish|unpublish|fill|match`: order templates in iexec.json, EIP-712
//! signing into orders.json (per chain id, as the SDK), on-chain cancellation, the state of local or
//! published orders, publication on the market (chain.json `iexecGateway`), `matchOrders` of chosen
//! orders (`fill`), and `match --explain` (Arca): which market orders would match a request, and for
//! each rejected candidate the first criterion that excludes it, without any transaction.

use crate::cmd::orderbook::{
    from_market, market, market_err, market_kind, published_json, to_market,
};
use crate::output::{Common, Outcome, block_on, emit, spinner};
use alloy::primitives::{Address, B256, U256};
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
    /// Show orders: `--app <hash>` from the market, `--app` alone the signed one of orders.json.
    Show(HashArgs),
    /// Publish signed orders of orders.json on the market.
    Publish(KindArgs),
    /// Unpublish orders from the market (`--app <hash>`, or the one of orders.json; `--all`).
    Unpublish(HashArgs),
    /// Match orders on chain: `--app <hash>` from the market, else orders.json; a request is signed if none.
    Fill(FillArgs),
    /// Find the orders that would match a request, explaining each rejected candidate (no transaction).
    Match(Box<crate::cmd::run::MatchArgs>),
}

/// `--app [hash] --dataset [hash] --workerpool [hash] --request [hash]`.
#[derive(Debug, Args)]
pub(crate) struct HashArgs {
    /// App order (optionally its hash on the market).
    #[arg(long, num_args = 0..=1, value_name = "ORDERHASH")]
    app: Option<Option<String>>,
    /// Dataset order (optionally its hash on the market).
    #[arg(long, num_args = 0..=1, value_name = "ORDERHASH")]
    dataset: Option<Option<String>>,
    /// Workerpool order (optionally its hash on the market).
    #[arg(long, num_args = 0..=1, value_name = "ORDERHASH")]
    workerpool: Option<Option<String>>,
    /// Request order (optionally its hash on the market).
    #[arg(long, num_args = 0..=1, value_name = "ORDERHASH")]
    request: Option<Option<String>>,
    /// `unpublish`: all the wallet's orders of the flagged kinds.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    common: Common,
}

impl HashArgs {
    /// The flagged kinds with their optional hash (all four, hashless, when nothing is flagged).
    fn picks(&self) -> anyhow::Result<Vec<(OrderKind, Option<B256>)>> {
        let flags = [&self.app, &self.dataset, &self.workerpool, &self.request];
        let mut out = Vec::new();
        for (kind, flag) in OrderKind::ALL.into_iter().zip(flags) {
            if let Some(hash) = flag {
                out.push((
                    kind,
                    hash.as_deref().map(|h| order_hash(kind, h)).transpose()?,
                ));
            }
        }
        if out.is_empty() {
            out = OrderKind::ALL.into_iter().map(|k| (k, None)).collect();
        }
        Ok(out)
    }
}

/// Options of `order fill`.
#[derive(Debug, Args)]
pub(crate) struct FillArgs {
    /// App order hash on the market [default: orders.json].
    #[arg(long, value_name = "ORDERHASH")]
    app: Option<String>,
    /// Dataset order hash on the market [default: orders.json, if any].
    #[arg(long, value_name = "ORDERHASH")]
    dataset: Option<String>,
    /// Workerpool order hash on the market [default: orders.json].
    #[arg(long, value_name = "ORDERHASH")]
    workerpool: Option<String>,
    /// Request order hash on the market [default: orders.json, else one is signed].
    #[arg(long, value_name = "ORDERHASH")]
    request: Option<String>,
    /// Params of the request signed when none is given (JSON object).
    #[arg(long)]
    params: Option<String>,
    /// Accepted for compatibility with the SDK.
    #[arg(long)]
    skip_preflight_check: bool,
    #[command(flatten)]
    common: Common,
}

fn order_hash(kind: OrderKind, text: &str) -> anyhow::Result<B256> {
    let ok = text.len() == 66
        && text.starts_with("0x")
        && text[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        anyhow::bail!(
            "--{} {text}: not an order hash (expected 0x followed by 64 hex digits)",
            kind.flag()
        );
    }
    Ok(text.parse().expect("checked"))
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
        OrderCommand::Publish(a) => emit(a.common.raw, block_on(publish(&a))),
        OrderCommand::Unpublish(a) => emit(a.common.raw, block_on(unpublish(&a))),
        OrderCommand::Fill(a) => emit(a.common.raw, block_on(fill(&a))),
        OrderCommand::Match(a) => crate::cmd::run::run_match(*a),
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

async fn show(args: &HashArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let client = common.client(&project, false).await?;
    let picks = args.picks()?;
    let explicit = picks.len() < 4 || picks.iter().any(|(_, h)| h.is_some());
    let mut outcome = Outcome::new("");
    let mut human = Vec::new();
    let mut local = Vec::new();
    for (kind, hash) in &picks {
        match hash {
            Some(hash) => {
                let market = market(common, &project, &client)?;
                let published = market
                    .order(market_kind(*kind), *hash)
                    .await
                    .map_err(market_err(&market_url(common, &project)))?;
                human.push(format!(
                    "{} {hash} on the market: {}, remaining {}",
                    kind.key(),
                    published.status,
                    published.remaining.0
                ));
                outcome = outcome.with(kind.key(), published_json(&published));
            }
            None => local.push(*kind),
        }
    }
    if !local.is_empty() {
        let signed = stored(&project, &client, explicit.then_some(local))?;
        for order in &signed {
            let kind = order.order.kind();
            let consumed = client.consumed(order.hash).await?;
            let remaining = volume(order).saturating_sub(consumed);
            let status = if remaining.is_zero() { "dead" } else { "open" };
            human.push(format!(
                "{} {}: {status}, remaining {remaining}/{}",
                kind.key(),
                order.hash,
                volume(order)
            ));
            outcome = outcome.with(
                kind.key(),
                serde_json::json!({"order": order.to_json(), "orderHash": order.hash.to_string(),
                    "status": status, "remaining": remaining.to_string()}),
            );
        }
    }
    outcome.human = human.join("\n");
    Ok(outcome)
}

fn volume(order: &orders::SignedOrder) -> U256 {
    match &order.order {
        orders::UnsignedOrder::App(o) => o.volume,
        orders::UnsignedOrder::Dataset(o) => o.volume,
        orders::UnsignedOrder::Workerpool(o) => o.volume,
        orders::UnsignedOrder::Request(o) => o.volume,
    }
}

fn market_url(common: &Common, project: &arca_client::Project) -> String {
    common
        .chain_conf(project)
        .ok()
        .and_then(|(_, c)| c.iexec_gateway)
        .unwrap_or_default()
}

async fn publish(args: &KindArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let client = common.client(&project, false).await?;
    let market = market(common, &project, &client)?;
    let signed = stored(&project, &client, args.kinds())?;
    let bar = spinner(common.raw, "publishing orders");
    let mut outcome = Outcome::new("");
    let mut human = Vec::new();
    for order in &signed {
        let kind = order.order.kind();
        let published = market
            .publish(&to_market(order)?)
            .await
            .map_err(market_err(&market_url(common, &project)))
            .with_context(|| format!("publishing the {}", kind.key()))?;
        human.push(format!(
            "✔ {} published with orderHash {}",
            kind.key(),
            published.order_hash
        ));
        outcome = outcome.with(
            kind.key(),
            serde_json::json!({"orderHash": published.order_hash.to_string()}),
        );
    }
    bar.finish_and_clear();
    outcome.human = human.join("\n");
    Ok(outcome)
}

async fn unpublish(args: &HashArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let client = common.client(&project, true).await?;
    let market = market(common, &project, &client)?;
    let signer = client.signer()?.clone();
    let picks = args.picks()?;
    let explicit = picks.len() < 4;
    let mut outcome = Outcome::new("");
    let mut human = Vec::new();
    for (kind, hash) in picks {
        let hash = match (hash, args.all) {
            (Some(h), _) => Some(h),
            (None, true) => None,
            (None, false) => {
                let local = stored(&project, &client, Some(vec![kind]));
                match local {
                    Ok(mut v) => Some(v.remove(0).hash),
                    Err(e) if explicit => return Err(e),
                    Err(_) => continue,
                }
            }
        };
        let request = arca_market::UnpublishRequest {
            target: if hash.is_some() {
                "unpublish_orderHash"
            } else {
                "unpublish_all"
            }
            .into(),
            order_hash: hash,
            app: None,
            dataset: None,
            workerpool: None,
            requester: (kind == OrderKind::Request && hash.is_none()).then_some(signer.address()),
        };
        if hash.is_none() && kind != OrderKind::Request {
            anyhow::bail!(
                "order unpublish --{0} --all: use `arca {0} unpublish --all <address>` for app, dataset and workerpool orders",
                kind.flag()
            );
        }
        let done = market
            .unpublish(market_kind(kind), &signer, &request)
            .await
            .map_err(market_err(&market_url(common, &project)))?;
        let list: Vec<String> = done.iter().map(ToString::to_string).collect();
        human.push(format!("✔ {} unpublished: {}", kind.key(), list.join(", ")));
        outcome = outcome.with(kind.key(), serde_json::json!({"unpublished": list}));
    }
    outcome.human = human.join("\n");
    Ok(outcome)
}

/// An order of `kind`: from the market by hash, else the signed one of orders.json.
async fn pick(
    project: &arca_client::Project,
    client: &arca_client::Client,
    market: &arca_market::Client,
    url: &str,
    kind: OrderKind,
    hash: Option<&str>,
) -> anyhow::Result<Option<orders::SignedOrder>> {
    match hash {
        Some(text) => {
            let hash = order_hash(kind, text)?;
            let published = market
                .order(market_kind(kind), hash)
                .await
                .map_err(market_err(url))?;
            Ok(Some(from_market(kind, &published, client)?))
        }
        None => Ok(stored(project, client, Some(vec![kind]))
            .ok()
            .map(|mut v| v.remove(0))),
    }
}

async fn fill(args: &FillArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let client = common.client(&project, true).await?;
    let market = market(common, &project, &client)?;
    let url = market_url(common, &project);
    let app = pick(
        &project,
        &client,
        &market,
        &url,
        OrderKind::App,
        args.app.as_deref(),
    )
    .await?
    .context("missing apporder: pass --app <orderHash> or sign one with `arca order sign --app`")?;
    let dataset = pick(
        &project,
        &client,
        &market,
        &url,
        OrderKind::Dataset,
        args.dataset.as_deref(),
    )
    .await?;
    let pool = pick(
        &project,
        &client,
        &market,
        &url,
        OrderKind::Workerpool,
        args.workerpool.as_deref(),
    )
    .await?
    .context(
        "missing workerpoolorder: pass --workerpool <orderHash> (see `arca orderbook workerpool`)",
    )?;
    let request = match pick(
        &project,
        &client,
        &market,
        &url,
        OrderKind::Request,
        args.request.as_deref(),
    )
    .await?
    {
        Some(r) if args.params.is_none() => r,
        Some(_) => anyhow::bail!(
            "--params applies to a request signed by `order fill`; it cannot change a signed request order"
        ),
        None => crate::cmd::run::request_for(
            &client,
            &app,
            dataset.as_ref(),
            &pool,
            args.params.as_deref(),
        )?,
    };
    let bar = spinner(common.raw, "matching orders on chain");
    let (deal_id, sent) = client
        .match_orders(&app, dataset.as_ref(), &pool, &request)
        .await?;
    bar.finish_and_clear();
    let deal = client.deal(deal_id).await?;
    let volume = deal.botSize;
    Ok(Outcome::new(format!(
        "✔ {volume} task(s) purchased in deal {deal_id} (tx {})",
        sent.tx_hash
    ))
    .with("dealid", deal_id.to_string())
    .with("volume", volume.to_string())
    .with("txHash", sent.tx_hash.to_string()))
}
