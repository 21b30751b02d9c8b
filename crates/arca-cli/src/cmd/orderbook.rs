//! The market side of the iexec commands (iexec-protocol.md §2.2, §6.4), against chain.json's
//! `iexecGateway`: `app|dataset|workerpool publish|unpublish` (sign an order built from iexec.json's
//! template and the flags, publish it), and `orderbook app|dataset|workerpool|requester` with the SDK's
//! filters (`--tag` exact, `--require-tag` minimum, `--max-tag` maximum, restrictions, strict modes).

use crate::output::{Common, Outcome, block_on, emit, spinner};
use alloy::primitives::{Address, B256, U256};
use anyhow::{Context as _, bail};
use arca_client::orders::{self, OrderKind, SignedOrder, UnsignedOrder, typed};
use arca_client::{Client, Project, Resource, units};
use arca_market::{OrderQuery, PublishedOrder, UnpublishRequest};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::process::ExitCode;

/// The market client of the selected chain (chain.json `iexecGateway`).
pub(crate) fn market(
    common: &Common,
    project: &Project,
    client: &Client,
) -> anyhow::Result<arca_market::Client> {
    let (name, conf) = common.chain_conf(project)?;
    let url = conf.iexec_gateway.with_context(|| {
        format!(
            "chain.json: chains.{name}.iexecGateway is missing: set it to the market API URL (`arca market` listens on http://127.0.0.1:3000)"
        )
    })?;
    Ok(arca_market::Client::new(url, client.chain_id()))
}

/// The market's name for an order kind.
pub(crate) fn market_kind(kind: OrderKind) -> arca_market::OrderKind {
    kind.flag()
        .parse()
        .expect("the four kinds have the same names")
}

/// A signed order in the market's shape.
pub(crate) fn to_market(signed: &SignedOrder) -> anyhow::Result<arca_market::Order> {
    Ok(arca_market::Order::from_json(
        market_kind(signed.order.kind()),
        signed.to_json(),
    )?)
}

/// A market order back as a typed signed order (its hash recomputed under this chain's domain).
pub(crate) fn from_market(
    kind: OrderKind,
    published: &PublishedOrder,
    client: &Client,
) -> anyhow::Result<SignedOrder> {
    let signed = orders::signed_from_json(kind, &published.order, &client.domain())?;
    if signed.hash != published.order_hash {
        bail!(
            "the market's {} {} hashes to {} here: is iexecGateway the market of this chain?",
            kind.key(),
            published.order_hash,
            signed.hash
        );
    }
    Ok(signed)
}

/// Reads a market error into a message with the fix when the market is down.
pub(crate) fn market_err(market_url: &str) -> impl Fn(arca_market::MarketError) -> anyhow::Error {
    let url = market_url.to_string();
    move |e| match e {
        arca_market::MarketError::Http(err) => anyhow::anyhow!(
            "the market at {url} did not answer ({err}): start it (`arca market --hub <hub>`) or fix \"iexecGateway\" in chain.json"
        ),
        other => anyhow::Error::from(other),
    }
}

/// Options of `app|dataset|workerpool publish`.
#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// Address [default: last deployed].
    address: Option<String>,
    /// Price per task, `<amount> [unit]` [default: iexec.json's order template, else 0 nRLC].
    #[arg(long, value_name = "AMOUNT")]
    price: Option<String>,
    /// Number of tasks the order allows [default: template, else 1000000 (workerpool: 1)].
    #[arg(long)]
    volume: Option<String>,
    /// Tags, e.g. `tee,tdx` [default: template, else none].
    #[arg(long)]
    tag: Option<String>,
    /// Workerpool only: category [default: template, else 0].
    #[arg(long)]
    category: Option<String>,
    /// Workerpool only: trust [default: template, else 0].
    #[arg(long)]
    trust: Option<String>,
    /// Restrict to this app (dataset and workerpool orders).
    #[arg(long, value_name = "ADDRESS")]
    app_restrict: Option<String>,
    /// Restrict to this dataset (app and workerpool orders).
    #[arg(long, value_name = "ADDRESS")]
    dataset_restrict: Option<String>,
    /// Restrict to this workerpool (app and dataset orders).
    #[arg(long, value_name = "ADDRESS")]
    workerpool_restrict: Option<String>,
    /// Restrict to this requester.
    #[arg(long, value_name = "ADDRESS")]
    requester_restrict: Option<String>,
    /// Skip the preflight check (a TEE dataset order needs the dataset key in the SMS).
    #[arg(long)]
    skip_preflight_check: bool,
    #[command(flatten)]
    pub(crate) common: Common,
}

/// Options of `app|dataset|workerpool unpublish`.
#[derive(Debug, Args)]
pub(crate) struct UnpublishArgs {
    /// Address [default: last deployed].
    address: Option<String>,
    /// Unpublish all the open orders of this resource (default: the last published).
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    pub(crate) common: Common,
}

fn order_kind(kind: Resource) -> OrderKind {
    match kind {
        Resource::App => OrderKind::App,
        Resource::Dataset => OrderKind::Dataset,
        Resource::Workerpool => OrderKind::Workerpool,
    }
}

/// The iexec.json template of `kind`'s order if there is one, else the SDK's publish defaults.
fn base_order(
    project: &Project,
    kind: OrderKind,
    resource: Address,
) -> anyhow::Result<UnsignedOrder> {
    let iexec = project.iexec_json().ok();
    let has = iexec
        .as_ref()
        .and_then(|i| i.0.get("order"))
        .and_then(|o| o.get(kind.key()))
        .is_some();
    if has {
        return Ok(iexec.expect("checked").order(kind)?);
    }
    let million = U256::from(1_000_000);
    Ok(match kind {
        OrderKind::App => UnsignedOrder::App(typed::AppOrder {
            app: resource,
            volume: million,
            ..Default::default()
        }),
        OrderKind::Dataset => UnsignedOrder::Dataset(typed::DatasetOrder {
            dataset: resource,
            volume: million,
            ..Default::default()
        }),
        OrderKind::Workerpool => UnsignedOrder::Workerpool(typed::WorkerpoolOrder {
            workerpool: resource,
            volume: U256::from(1),
            ..Default::default()
        }),
        OrderKind::Request => unreachable!("no request publish through resources"),
    })
}

fn uint(flag: &str, text: &str) -> anyhow::Result<U256> {
    U256::from_str_radix(text.trim(), 10)
        .map_err(|_| anyhow::anyhow!("--{flag} {text}: expected a non-negative integer"))
}

fn address_flag(flag: &str, text: &Option<String>) -> anyhow::Result<Option<Address>> {
    text.as_deref()
        .map(|t| arca_client::parse_address(t).with_context(|| format!("--{flag}")))
        .transpose()
}

/// Applies the flags to the order, refusing those that do not apply to its kind.
fn apply_flags(
    order: &mut UnsignedOrder,
    resource: Address,
    a: &PublishArgs,
) -> anyhow::Result<()> {
    let price = a
        .price
        .as_deref()
        .map(|p| units::parse_amount(p, None, "nRLC", units::Currency::Rlc))
        .transpose()
        .context("--price")?;
    let volume = a.volume.as_deref().map(|v| uint("volume", v)).transpose()?;
    let tag = a
        .tag
        .as_deref()
        .map(arca_client::tags::parse)
        .transpose()
        .context("--tag")?;
    let app_r = address_flag("app-restrict", &a.app_restrict)?;
    let dataset_r = address_flag("dataset-restrict", &a.dataset_restrict)?;
    let pool_r = address_flag("workerpool-restrict", &a.workerpool_restrict)?;
    let requester_r = address_flag("requester-restrict", &a.requester_restrict)?;
    let refuse = |flag: &str, given: bool, kind: &str| -> anyhow::Result<()> {
        if given {
            bail!("--{flag} does not apply to {kind} orders");
        }
        Ok(())
    };
    match order {
        UnsignedOrder::App(o) => {
            refuse("app-restrict", app_r.is_some(), "app")?;
            refuse("category", a.category.is_some(), "app")?;
            refuse("trust", a.trust.is_some(), "app")?;
            o.app = resource;
            o.appprice = price.unwrap_or(o.appprice);
            o.volume = volume.unwrap_or(o.volume);
            o.tag = tag.unwrap_or(o.tag);
            o.datasetrestrict = dataset_r.unwrap_or(o.datasetrestrict);
            o.workerpoolrestrict = pool_r.unwrap_or(o.workerpoolrestrict);
            o.requesterrestrict = requester_r.unwrap_or(o.requesterrestrict);
        }
        UnsignedOrder::Dataset(o) => {
            refuse("dataset-restrict", dataset_r.is_some(), "dataset")?;
            refuse("category", a.category.is_some(), "dataset")?;
            refuse("trust", a.trust.is_some(), "dataset")?;
            o.dataset = resource;
            o.datasetprice = price.unwrap_or(o.datasetprice);
            o.volume = volume.unwrap_or(o.volume);
            o.tag = tag.unwrap_or(o.tag);
            o.apprestrict = app_r.unwrap_or(o.apprestrict);
            o.workerpoolrestrict = pool_r.unwrap_or(o.workerpoolrestrict);
            o.requesterrestrict = requester_r.unwrap_or(o.requesterrestrict);
        }
        UnsignedOrder::Workerpool(o) => {
            refuse("workerpool-restrict", pool_r.is_some(), "workerpool")?;
            o.workerpool = resource;
            o.workerpoolprice = price.unwrap_or(o.workerpoolprice);
            o.volume = volume.unwrap_or(o.volume);
            o.tag = tag.unwrap_or(o.tag);
            if let Some(c) = &a.category {
                o.category = uint("category", c)?;
            }
            if let Some(t) = &a.trust {
                o.trust = uint("trust", t)?;
            }
            o.apprestrict = app_r.unwrap_or(o.apprestrict);
            o.datasetrestrict = dataset_r.unwrap_or(o.datasetrestrict);
            o.requesterrestrict = requester_r.unwrap_or(o.requesterrestrict);
        }
        UnsignedOrder::Request(_) => {
            unreachable!("resources publish app, dataset or workerpool orders")
        }
    }
    Ok(())
}

/// `app|dataset|workerpool publish`.
pub(crate) async fn publish(kind: Resource, args: &PublishArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let resource =
        crate::cmd::secret::resource_address(common, kind, args.address.as_deref()).await?;
    let okind = order_kind(kind);
    let mut order = base_order(&project, okind, resource)?;
    apply_flags(&mut order, resource, args)?;
    let client = common.client(&project, true).await?;
    let market = market(common, &project, &client)?;
    let signer = client.signer()?.clone();
    let owner = client.show(kind, resource).await?["owner"]
        .as_str()
        .and_then(|o| o.parse::<Address>().ok())
        .context("reading the owner")?;
    if owner != signer.address() {
        bail!(
            "{} {resource} belongs to {owner}, not to the wallet {}: only its owner can publish its orders",
            kind.name(),
            signer.address()
        );
    }
    // as the SDK: a TEE dataset order is useless until its key is in the SMS (enclaves could not decrypt)
    if let UnsignedOrder::Dataset(o) = &order
        && o.tag.0[31] & 1 == 1
        && !args.skip_preflight_check
    {
        let sms = common.sms(&project)?;
        if !sms.dataset_secret_exists(resource).await? {
            bail!(
                "the key of dataset {resource} is not in the SMS ({}): run `arca dataset push-secret {resource}` first (or --skip-preflight-check)",
                sms.url()
            );
        }
    }
    let bar = spinner(common.raw, &format!("publishing the {}", okind.key()));
    let signed = orders::sign(order, &signer, &client.domain())?;
    let published = market
        .publish(&to_market(&signed)?)
        .await
        .map_err(market_err(&market_url(common, &project)))?;
    bar.finish_and_clear();
    Ok(Outcome::new(format!(
        "✔ {} published with orderHash {}",
        okind.key(),
        published.order_hash
    ))
    .with("orderHash", published.order_hash.to_string())
    .with("order", signed.to_json()))
}

fn market_url(common: &Common, project: &Project) -> String {
    common
        .chain_conf(project)
        .ok()
        .and_then(|(_, c)| c.iexec_gateway)
        .unwrap_or_default()
}

/// `app|dataset|workerpool unpublish`.
pub(crate) async fn unpublish(kind: Resource, args: &UnpublishArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let resource =
        crate::cmd::secret::resource_address(common, kind, args.address.as_deref()).await?;
    let client = common.client(&project, true).await?;
    let market = market(common, &project, &client)?;
    let mut request = UnpublishRequest {
        target: if args.all {
            "unpublish_all"
        } else {
            "unpublish_last"
        }
        .into(),
        order_hash: None,
        app: None,
        dataset: None,
        workerpool: None,
        requester: None,
    };
    match kind {
        Resource::App => request.app = Some(resource),
        Resource::Dataset => request.dataset = Some(resource),
        Resource::Workerpool => request.workerpool = Some(resource),
    }
    let hashes = market
        .unpublish(market_kind(order_kind(kind)), client.signer()?, &request)
        .await
        .map_err(market_err(&market_url(common, &project)))?;
    let list: Vec<String> = hashes.iter().map(ToString::to_string).collect();
    Ok(Outcome::new(format!(
        "✔ Unpublished {} {}(s): {}",
        list.len(),
        order_kind(kind).key(),
        list.join(", ")
    ))
    .with("unpublished", list))
}

/// `orderbook` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum OrderbookCommand {
    /// Open app orders of an app.
    App(BookArgs),
    /// Open dataset orders of a dataset.
    Dataset(BookArgs),
    /// Open workerpool orders (of one workerpool, or all).
    Workerpool(BookArgs),
    /// Open request orders (of one requester, or all).
    Requester(BookArgs),
}

/// The orderbook filters (each kind uses its subset, as the SDK).
#[derive(Debug, Args)]
pub(crate) struct BookArgs {
    /// The app, dataset, workerpool or requester address (optional for workerpool and requester).
    address: Option<String>,
    /// Exactly these tags (e.g. `tee,tdx`).
    #[arg(long)]
    tag: Option<String>,
    /// Orders having at least these tags.
    #[arg(long)]
    require_tag: Option<String>,
    /// Orders having at most these tags.
    #[arg(long)]
    max_tag: Option<String>,
    /// Orders with at least this remaining volume.
    #[arg(long)]
    min_volume: Option<String>,
    /// Category (workerpool and requester orders).
    #[arg(long)]
    category: Option<String>,
    /// Minimum trust (workerpool orders).
    #[arg(long)]
    min_trust: Option<String>,
    /// Maximum trust (request orders).
    #[arg(long)]
    max_trust: Option<String>,
    /// Include orders restricted to this app (`any`: all).
    #[arg(long)]
    app: Option<String>,
    /// Include orders restricted to this dataset (`any`: all).
    #[arg(long)]
    dataset: Option<String>,
    /// Include orders restricted to this workerpool (`any`: all).
    #[arg(long)]
    workerpool: Option<String>,
    /// Include orders restricted to this requester (`any`: all).
    #[arg(long)]
    requester: Option<String>,
    /// Beneficiary (request orders).
    #[arg(long)]
    beneficiary: Option<String>,
    /// Only orders restricted to exactly --app.
    #[arg(long)]
    app_strict: bool,
    /// Only orders restricted to exactly --dataset.
    #[arg(long)]
    dataset_strict: bool,
    /// Only orders restricted to exactly --workerpool.
    #[arg(long)]
    workerpool_strict: bool,
    /// Only orders restricted to exactly --requester.
    #[arg(long)]
    requester_strict: bool,
    #[command(flatten)]
    common: Common,
}

pub(crate) fn run_orderbook(command: OrderbookCommand) -> anyhow::Result<ExitCode> {
    let (kind, args) = match command {
        OrderbookCommand::App(a) => (OrderKind::App, a),
        OrderbookCommand::Dataset(a) => (OrderKind::Dataset, a),
        OrderbookCommand::Workerpool(a) => (OrderKind::Workerpool, a),
        OrderbookCommand::Requester(a) => (OrderKind::Request, a),
    };
    emit(args.common.raw, block_on(orderbook(kind, &args)))
}

/// Hex bytes32 of a `--tag`-like flag.
fn tag_hex(flag: &str, text: &Option<String>) -> anyhow::Result<Option<String>> {
    text.as_deref()
        .map(|t| {
            arca_client::tags::parse(t)
                .map(|b| b.to_string())
                .with_context(|| format!("--{flag}"))
        })
        .transpose()
}

/// An address filter (`any` passes through).
fn filter_address(flag: &str, text: &Option<String>) -> anyhow::Result<Option<String>> {
    text.as_deref()
        .map(|t| {
            if t == "any" {
                Ok(t.to_string())
            } else {
                arca_client::parse_address(t)
                    .map(|a| a.to_string())
                    .with_context(|| format!("--{flag}"))
            }
        })
        .transpose()
}

/// The market query of the SDK's flags.
fn query(kind: OrderKind, a: &BookArgs) -> anyhow::Result<OrderQuery> {
    let strict = |on: bool| on.then(|| "true".to_string());
    let mut q = OrderQuery {
        min_tag: tag_hex("require-tag", &a.require_tag)?,
        max_tag: tag_hex("max-tag", &a.max_tag)?,
        min_volume: a.min_volume.clone(),
        category: a.category.clone(),
        min_trust: a.min_trust.clone(),
        max_trust: a.max_trust.clone(),
        app: filter_address("app", &a.app)?,
        dataset: filter_address("dataset", &a.dataset)?,
        workerpool: filter_address("workerpool", &a.workerpool)?,
        requester: filter_address("requester", &a.requester)?,
        beneficiary: filter_address("beneficiary", &a.beneficiary)?,
        is_app_strict: strict(a.app_strict),
        is_dataset_strict: strict(a.dataset_strict),
        is_workerpool_strict: strict(a.workerpool_strict),
        is_requester_strict: strict(a.requester_strict),
        ..Default::default()
    };
    if let Some(exact) = tag_hex("tag", &a.tag)? {
        q.min_tag = Some(exact.clone());
        q.max_tag = Some(exact);
    }
    let address = filter_address("address", &a.address)?;
    match (kind, address) {
        (OrderKind::App, Some(x)) => q.app = Some(x),
        (OrderKind::Dataset, Some(x)) => q.dataset = Some(x),
        (OrderKind::Workerpool, x) => q.workerpool = x.or(q.workerpool.take()),
        (OrderKind::Request, x) => q.requester = x.or(q.requester.take()),
        (k, None) => bail!(
            "missing the {} address: `arca orderbook {} <address>`",
            k.flag(),
            k.flag()
        ),
    }
    Ok(q)
}

/// One order line of the human listing.
fn line(kind: OrderKind, p: &PublishedOrder) -> String {
    let o = &p.order;
    let field = |k: &str| {
        o.get(k)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .unwrap_or_default()
    };
    let tag = o
        .get("tag")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<B256>().ok())
        .map(|t| arca_client::tags::names(t).join(","))
        .unwrap_or_default();
    let (price, extra) = match kind {
        OrderKind::App => (field("appprice"), String::new()),
        OrderKind::Dataset => (field("datasetprice"), String::new()),
        OrderKind::Workerpool => (
            field("workerpoolprice"),
            format!(" category {} trust {}", field("category"), field("trust")),
        ),
        OrderKind::Request => (
            field("workerpoolmaxprice"),
            format!(" app {} category {}", field("app"), field("category")),
        ),
    };
    format!(
        "{} price {price} nRLC remaining {} tag [{tag}]{extra}",
        p.order_hash, p.remaining.0
    )
}

async fn orderbook(kind: OrderKind, args: &BookArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let q = query(kind, args)?;
    let client = common.client(&project, false).await?;
    let market = market(common, &project, &client)?;
    let page = market
        .orderbook(market_kind(kind), &q)
        .await
        .map_err(market_err(&market_url(common, &project)))?;
    let mut human = vec![format!(
        "{} open {}(s){}",
        page.count,
        kind.key(),
        if page.count > page.orders.len() {
            format!(" (first {} shown)", page.orders.len())
        } else {
            String::new()
        }
    )];
    human.extend(page.orders.iter().map(|p| line(kind, p)));
    let orders: Vec<Value> = page
        .orders
        .iter()
        .map(|p| serde_json::to_value(p).expect("serializable"))
        .collect();
    Ok(Outcome::new(human.join("\n"))
        .with("count", page.count)
        .with("orders", Value::Array(orders)))
}

/// The JSON shape of a published order in command outputs.
pub(crate) fn published_json(p: &PublishedOrder) -> Value {
    json!({"orderHash": p.order_hash.to_string(), "order": p.order, "remaining": p.remaining.0.to_string(), "status": p.status})
}
