//! `arca app run` (and the matching behind `order fill` and `order match --explain`): take the cheapest
//! compatible app, dataset and workerpool orders from the market, build and sign the request order with
//! the params encoded as the SDK does (iexec-protocol.md §2.6), run the preflight checks, then
//! `matchOrders`. Candidates are judged locally with the same checks, in the same order, as PoCo's
//! `matchOrders` (§1.5), so when nothing matches every candidate is listed with the criterion that
//! excluded it.

use crate::cmd::orderbook::{from_market, market, market_err, market_kind};
use crate::output::{Common, Outcome, block_on, emit, notice, spinner};
use alloy::primitives::{Address, B256, U256};
use anyhow::{Context as _, bail};
use arca_client::orders::{self, OrderKind, SignedOrder, UnsignedOrder, typed};
use arca_client::{Client, Project, Resource};
use arca_market::OrderQuery;
use clap::Args;
use serde_json::{Map, Value, json};
use std::process::ExitCode;

/// Options of `app run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// App address [default: last deployed].
    app: Option<String>,
    /// Dataset address, or `deployed` for the last deployed one.
    #[arg(long)]
    dataset: Option<String>,
    /// Workerpool address, or `deployed` [default: the cheapest matching one].
    #[arg(long)]
    workerpool: Option<String>,
    /// Arguments passed to the app (`iexec_args`): `--args "a b"` or `--args a b` (seed style); an
    /// argument starting with `-` goes as `--args=--flag`.
    #[arg(long, num_args = 1..)]
    args: Option<Vec<String>>,
    /// Input file URLs, comma-separated (`iexec_input_files`).
    #[arg(long, value_delimiter = ',')]
    input_files: Vec<String>,
    /// Requester secrets as `<index>=<name>` (`iexec_secrets`; TEE only), repeatable.
    #[arg(long, num_args = 1..)]
    secret: Vec<String>,
    /// Encrypt the result for the beneficiary (`iexec_result_encryption`; TEE only).
    #[arg(long)]
    encrypt_result: bool,
    /// Result storage (`iexec_result_storage_provider`): ipfs [default].
    #[arg(long)]
    storage_provider: Option<String>,
    /// Request tags, e.g. `tee,tdx`.
    #[arg(long)]
    tag: Option<String>,
    /// Minimum trust.
    #[arg(long)]
    trust: Option<String>,
    /// Category [default: the chosen workerpool order's].
    #[arg(long)]
    category: Option<String>,
    /// Callback contract.
    #[arg(long)]
    callback: Option<String>,
    /// Beneficiary of the result [default: the requester].
    #[arg(long)]
    beneficiary: Option<String>,
    /// Extra params as a JSON object, merged over the ones above.
    #[arg(long)]
    params: Option<String>,
    /// Follow the tasks until they complete or fail.
    #[arg(long)]
    watch: bool,
    /// Skip the preflight checks (SMS secrets, keys, app fields).
    #[arg(long)]
    skip_preflight_check: bool,
    /// The workerpool's scheduler API, for --watch [default: chain.json workerpoolApi].
    #[arg(long, value_name = "URL")]
    workerpool_api: Option<String>,
    #[command(flatten)]
    common: Common,
}

pub(crate) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    emit(args.common.raw, block_on(app_run(&args)))
}

/// PoCo's `ignoreTeeFramework`: a dataset's framework bits (1–3) do not constrain the deal.
fn ignore_tee_framework(tag: B256) -> B256 {
    let mut t = tag;
    t.0[31] &= 0xF1;
    t
}

fn or(a: B256, b: B256) -> B256 {
    B256::from(U256::from_be_bytes(a.0) | U256::from_be_bytes(b.0))
}

/// Tag names for messages (hex when unnamed bits are set).
fn tag_text(tag: B256) -> String {
    let names = arca_client::tags::names(tag);
    let named = arca_client::tags::encode_names(names.iter().copied()).ok();
    if named == Some(tag) {
        if names.is_empty() {
            "none".into()
        } else {
            names.join(",")
        }
    } else {
        tag.to_string()
    }
}

/// What a request asks for, before orders are chosen.
#[derive(Debug, Clone)]
pub(crate) struct Wanted {
    pub app: Address,
    pub dataset: Option<Address>,
    pub workerpool: Option<Address>,
    pub requester: Address,
    pub tag: B256,
    pub trust: U256,
    pub category: Option<U256>,
}

/// A restriction: zero, or exactly `who`.
fn restricted(restrict: Address, who: Address) -> bool {
    restrict != Address::ZERO && restrict != who
}

/// The first `matchOrders` check an app order fails for `w` alone, if any.
pub(crate) fn app_fails(o: &typed::AppOrder, remaining: U256, w: &Wanted) -> Option<String> {
    first_failure(
        remaining,
        &[
            (o.requesterrestrict, Some(w.requester), "requester"),
            (
                o.datasetrestrict,
                Some(w.dataset.unwrap_or(Address::ZERO)),
                "dataset",
            ),
            (o.workerpoolrestrict, w.workerpool, "workerpool"),
        ],
    )
}

/// The volume check, then the first restriction `(restrict, who, what)` that `who` does not
/// meet (`who` unknown yet: not checked), in PoCo's order.
fn first_failure(
    remaining: U256,
    restrictions: &[(Address, Option<Address>, &str)],
) -> Option<String> {
    if remaining.is_zero() {
        return Some("no remaining volume".into());
    }
    restrictions.iter().find_map(|&(restrict, who, what)| {
        who.is_some_and(|who| restricted(restrict, who))
            .then(|| format!("restricted to {what} {restrict}"))
    })
}

/// The first check a dataset order fails against `w` and the chosen app order.
pub(crate) fn dataset_fails(
    o: &typed::DatasetOrder,
    remaining: U256,
    w: &Wanted,
) -> Option<String> {
    first_failure(
        remaining,
        &[
            (o.requesterrestrict, Some(w.requester), "requester"),
            (o.apprestrict, Some(w.app), "app"),
            (o.workerpoolrestrict, w.workerpool, "workerpool"),
        ],
    )
}

/// The first `matchOrders` check a workerpool order fails against the request and the chosen app and
/// dataset orders (PoCo §1.5 order: category, trust, tag, restrictions).
pub(crate) fn workerpool_fails(
    o: &typed::WorkerpoolOrder,
    remaining: U256,
    w: &Wanted,
    app: &typed::AppOrder,
    dataset: Option<&typed::DatasetOrder>,
) -> Option<String> {
    if remaining.is_zero() {
        return Some("no remaining volume".into());
    }
    if let Some(category) = w.category
        && o.category != category
    {
        return Some(format!(
            "category {} (the request asks {category}; see --category)",
            o.category
        ));
    }
    if w.trust > o.trust {
        return Some(format!("trust {} < requested trust {}", o.trust, w.trust));
    }
    let tag = or(
        or(
            app.tag,
            dataset.map_or(B256::ZERO, |d| ignore_tee_framework(d.tag)),
        ),
        w.tag,
    );
    let missing = B256::from(U256::from_be_bytes(tag.0) & !U256::from_be_bytes(o.tag.0));
    if missing != B256::ZERO {
        return Some(format!(
            "tag [{}] does not cover the deal's tag [{}] (missing [{}])",
            tag_text(o.tag),
            tag_text(tag),
            tag_text(missing)
        ));
    }
    if (tag.0[31] ^ app.tag.0[31]) & 1 != 0 {
        return Some(format!(
            "the deal's tag [{}] is TEE but the app order's [{}] is not (a TEE deal needs a TEE app order)",
            tag_text(tag),
            tag_text(app.tag)
        ));
    }
    if let Some(pool) = w.workerpool
        && o.workerpool != pool
    {
        return Some(format!("not the requested workerpool {pool}"));
    }
    if restricted(app.workerpoolrestrict, o.workerpool) {
        return Some(format!(
            "the app order is restricted to workerpool {}",
            app.workerpoolrestrict
        ));
    }
    if let Some(d) = dataset
        && restricted(d.workerpoolrestrict, o.workerpool)
    {
        return Some(format!(
            "the dataset order is restricted to workerpool {}",
            d.workerpoolrestrict
        ));
    }
    if restricted(o.apprestrict, w.app) {
        return Some(format!("restricted to app {}", o.apprestrict));
    }
    if restricted(o.datasetrestrict, w.dataset.unwrap_or(Address::ZERO)) {
        return Some(format!("restricted to dataset {}", o.datasetrestrict));
    }
    if restricted(o.requesterrestrict, w.requester) {
        return Some(format!("restricted to requester {}", o.requesterrestrict));
    }
    None
}

/// The SDK's fallback when the market has no usable order for an app or dataset: if the
/// requester owns it, it signs a free single-use order for this request itself, so an owner can
/// run their own app (seed 000) or use their own dataset without publishing anything.
async fn own_order(
    client: &Client,
    kind: OrderKind,
    resource: Address,
    w: &Wanted,
) -> anyhow::Result<Option<Candidate>> {
    let signer = client.signer()?;
    let registry = match kind {
        OrderKind::App => Resource::App,
        _ => Resource::Dataset,
    };
    let info = client.show(registry, resource).await?;
    let owner: Option<Address> = info["owner"].as_str().and_then(|o| o.parse().ok());
    if owner != Some(signer.address()) || w.requester != signer.address() {
        return Ok(None);
    }
    let order = match kind {
        OrderKind::App => UnsignedOrder::App(typed::AppOrder {
            app: resource,
            appprice: U256::ZERO,
            volume: U256::from(1),
            tag: B256::ZERO,
            datasetrestrict: Address::ZERO,
            workerpoolrestrict: Address::ZERO,
            requesterrestrict: signer.address(),
            salt: B256::ZERO,
        }),
        _ => UnsignedOrder::Dataset(typed::DatasetOrder {
            dataset: resource,
            datasetprice: U256::ZERO,
            volume: U256::from(1),
            tag: B256::ZERO,
            apprestrict: w.app,
            workerpoolrestrict: Address::ZERO,
            requesterrestrict: signer.address(),
            salt: B256::ZERO,
        }),
    };
    let signed = orders::sign(order, signer, &client.domain())?;
    Ok(Some(Candidate {
        signed,
        remaining: U256::from(1),
    }))
}

/// A market order with its remaining volume.
pub(crate) struct Candidate {
    pub signed: SignedOrder,
    pub remaining: U256,
}

/// The open orders of `kind` for `query`, every restriction included (`any`) so the explanation can
/// name the ones that exclude us.
async fn candidates(
    market: &arca_market::Client,
    client: &Client,
    kind: OrderKind,
    query: OrderQuery,
    url: &str,
) -> anyhow::Result<Vec<Candidate>> {
    let query = OrderQuery {
        page_size: Some("1000".into()),
        ..query
    };
    let page = market
        .orderbook(market_kind(kind), &query)
        .await
        .map_err(market_err(url))?;
    page.orders
        .iter()
        .map(|p| {
            Ok(Candidate {
                signed: from_market(kind, p, client)?,
                remaining: p.remaining.0,
            })
        })
        .collect()
}

fn any() -> Option<String> {
    Some("any".into())
}

/// The chosen orders, or the explanation of why there are none.
#[allow(clippy::large_enum_variant)] // built once per command; boxing would only add noise
pub(crate) enum Matched {
    Found {
        app: SignedOrder,
        dataset: Option<SignedOrder>,
        workerpool: SignedOrder,
    },
    None(Vec<String>),
}

fn app_of(s: &SignedOrder) -> &typed::AppOrder {
    match &s.order {
        UnsignedOrder::App(o) => o,
        _ => unreachable!("app orders only"),
    }
}
fn dataset_of(s: &SignedOrder) -> &typed::DatasetOrder {
    match &s.order {
        UnsignedOrder::Dataset(o) => o,
        _ => unreachable!("dataset orders only"),
    }
}
fn pool_of(s: &SignedOrder) -> &typed::WorkerpoolOrder {
    match &s.order {
        UnsignedOrder::Workerpool(o) => o,
        _ => unreachable!("workerpool orders only"),
    }
}

/// Finds the cheapest compatible app, dataset and workerpool orders on the market (the market sorts
/// by price), or explains for each candidate the first criterion that excluded it.
pub(crate) async fn find_orders(
    market: &arca_market::Client,
    client: &Client,
    w: &Wanted,
    url: &str,
) -> anyhow::Result<Matched> {
    let mut why = Vec::new();
    let apps = candidates(
        market,
        client,
        OrderKind::App,
        OrderQuery {
            app: Some(w.app.to_string()),
            dataset: any(),
            workerpool: any(),
            requester: any(),
            ..Default::default()
        },
        url,
    )
    .await?;
    let apps: Vec<&Candidate> = apps
        .iter()
        .filter(|c| match app_fails(app_of(&c.signed), c.remaining, w) {
            Some(reason) => {
                why.push(format!("apporder {}: {reason}", c.signed.hash));
                false
            }
            None => true,
        })
        .collect();
    let own_app;
    let apps = if apps.is_empty() {
        match own_order(client, OrderKind::App, w.app, w).await? {
            Some(c) => {
                own_app = c;
                vec![&own_app]
            }
            None => {
                why.insert(
                    0,
                    format!(
                        "no usable apporder for app {} on the market: its owner publishes one with `arca app publish {}`",
                        w.app, w.app
                    ),
                );
                return Ok(Matched::None(why));
            }
        }
    } else {
        apps
    };
    let datasets: Vec<Candidate> = match w.dataset {
        None => Vec::new(),
        Some(dataset) => {
            candidates(
                market,
                client,
                OrderKind::Dataset,
                OrderQuery {
                    dataset: Some(dataset.to_string()),
                    app: any(),
                    workerpool: any(),
                    requester: any(),
                    ..Default::default()
                },
                url,
            )
            .await?
        }
    };
    let datasets: Vec<&Candidate> = datasets
        .iter()
        .filter(
            |c| match dataset_fails(dataset_of(&c.signed), c.remaining, w) {
                Some(reason) => {
                    why.push(format!("datasetorder {}: {reason}", c.signed.hash));
                    false
                }
                None => true,
            },
        )
        .collect();
    let own_dataset;
    let datasets = match w.dataset {
        Some(dataset) if datasets.is_empty() => {
            match own_order(client, OrderKind::Dataset, dataset, w).await? {
                Some(c) => {
                    own_dataset = c;
                    vec![&own_dataset]
                }
                None => datasets,
            }
        }
        _ => datasets,
    };
    if let Some(dataset) = w.dataset
        && datasets.is_empty()
    {
        why.insert(
            0,
            format!(
                "no usable datasetorder for dataset {dataset} on the market: its owner publishes one with `arca dataset publish {dataset}`"
            ),
        );
        return Ok(Matched::None(why));
    }
    let pools = candidates(
        market,
        client,
        OrderKind::Workerpool,
        OrderQuery {
            workerpool: w.workerpool.map(|p| p.to_string()).or_else(any),
            app: any(),
            dataset: any(),
            requester: any(),
            ..Default::default()
        },
        url,
    )
    .await?;
    if pools.is_empty() {
        why.insert(
            0,
            match w.workerpool {
                Some(pool) => format!(
                    "no open workerpoolorder of workerpool {pool} on the market: its owner publishes one with `arca workerpool publish {pool}`"
                ),
                None => "no open workerpoolorder on the market: a workerpool owner publishes one with `arca workerpool publish`".into(),
            },
        );
        return Ok(Matched::None(why));
    }
    let dataset_choices: Vec<Option<&Candidate>> = if w.dataset.is_some() {
        datasets.iter().copied().map(Some).collect()
    } else {
        vec![None]
    };
    let mut pool_why = Vec::new();
    for app in &apps {
        for dataset in &dataset_choices {
            for pool in &pools {
                let d = dataset.map(|c| dataset_of(&c.signed));
                match workerpool_fails(
                    pool_of(&pool.signed),
                    pool.remaining,
                    w,
                    app_of(&app.signed),
                    d,
                ) {
                    None => {
                        return Ok(Matched::Found {
                            app: app.signed.clone(),
                            dataset: dataset.map(|c| c.signed.clone()),
                            workerpool: pool.signed.clone(),
                        });
                    }
                    Some(reason) => {
                        let line = format!("workerpoolorder {}: {reason}", pool.signed.hash);
                        if !pool_why.contains(&line) {
                            pool_why.push(line);
                        }
                    }
                }
            }
        }
    }
    why.insert(
        0,
        "no workerpoolorder matches the request with the available app/dataset orders".into(),
    );
    why.extend(pool_why);
    Ok(Matched::None(why))
}

/// The request params keys the SDK knows, in its order (iexec-protocol.md §2.6).
const PARAM_KEYS: [&str; 7] = [
    "iexec_args",
    "iexec_input_files",
    "iexec_secrets",
    "iexec_result_encryption",
    "iexec_result_storage_provider",
    "iexec_result_storage_proxy",
    "bulk_cid",
];

/// The request params exactly as the SDK encodes them: keys in the SDK's order, absent/empty values
/// omitted, `iexec_result_encryption` always present, `iexec_result_storage_provider` "ipfs" unless a
/// callback carries the result; `--params` merged last.
pub(crate) fn build_params(
    args: Option<&str>,
    input_files: &[String],
    secrets: &[(u64, String)],
    encrypt: bool,
    storage: Option<&str>,
    callback: bool,
    extra: Option<&str>,
) -> anyhow::Result<String> {
    let mut p = Map::new();
    if let Some(a) = args
        && !a.is_empty()
    {
        p.insert("iexec_args".into(), json!(a));
    }
    if !input_files.is_empty() {
        p.insert("iexec_input_files".into(), json!(input_files));
    }
    if !secrets.is_empty() {
        let mut map = Map::new();
        for (i, name) in secrets {
            map.insert(i.to_string(), json!(name));
        }
        p.insert("iexec_secrets".into(), Value::Object(map));
    }
    p.insert("iexec_result_encryption".into(), json!(encrypt));
    if !callback {
        p.insert(
            "iexec_result_storage_provider".into(),
            json!(storage.unwrap_or("ipfs")),
        );
    }
    if let Some(extra) = extra {
        match serde_json::from_str::<Value>(extra) {
            Ok(Value::Object(m)) => p.extend(m),
            _ => bail!(
                "--params {extra}: expected a JSON object, e.g. '{{\"iexec_args\":\"--help\"}}'"
            ),
        }
    }
    // known keys in the SDK's order wherever they came from, then the caller's other keys
    let mut ordered = Map::new();
    for key in PARAM_KEYS {
        if let Some(v) = p.remove(key) {
            ordered.insert(key.to_string(), v);
        }
    }
    ordered.extend(p);
    Ok(Value::Object(ordered).to_string())
}

/// Parses `--secret 1=name` entries (positive index, valid SMS name).
pub(crate) fn parse_secrets(entries: &[String]) -> anyhow::Result<Vec<(u64, String)>> {
    let mut out: Vec<(u64, String)> = Vec::new();
    for entry in entries {
        let (index, name) = entry.split_once('=').with_context(|| {
            format!("--secret {entry}: expected <index>=<secretName>, e.g. --secret 1=my-email")
        })?;
        let index: u64 =
            index.parse().ok().filter(|i| *i > 0).with_context(|| {
                format!("--secret {entry}: the index must be a positive integer")
            })?;
        crate::sms_client::check_secret_name(name)?;
        if out.iter().any(|(i, _)| *i == index) {
            bail!("--secret: index {index} given twice");
        }
        out.push((index, name.to_string()));
    }
    out.sort();
    Ok(out)
}

/// `--workerpool`/`--dataset` values: an address, or `deployed`.
fn resource_flag(
    project: &Project,
    chain_id: u64,
    kind: Resource,
    text: &str,
) -> anyhow::Result<Address> {
    if text == "deployed" {
        return project.deployed()?.get(kind.name(), chain_id).with_context(|| {
            format!(
                "--{0} deployed: no {0} deployed on chain {chain_id} in deployed.json (run `arca {0} deploy`)",
                kind.name()
            )
        });
    }
    if !text.starts_with("0x") && text.contains('.') {
        bail!(
            "--{} {text}: ENS names are not resolved by Arca (iexec v9 dropped ENS too); pass the address (see `arca orderbook {}`)",
            kind.name(),
            kind.name()
        );
    }
    arca_client::parse_address(text).with_context(|| format!("--{}", kind.name()))
}

fn uint_flag(flag: &str, text: &Option<String>) -> anyhow::Result<Option<U256>> {
    text.as_deref()
        .map(|t| {
            U256::from_str_radix(t.trim(), 10)
                .map_err(|_| anyhow::anyhow!("--{flag} {t}: expected a non-negative integer"))
        })
        .transpose()
}

/// One preflight failure: what is missing and the command that fixes it.
pub(crate) struct Missing {
    pub what: String,
    pub fix: String,
}

/// Preflight checks of a request before any transaction (SDK `checkRequestRequirements`, plus Arca's).
#[allow(clippy::too_many_arguments)]
async fn preflight(
    common: &Common,
    project: &Project,
    client: &Client,
    app: Address,
    dataset: Option<Address>,
    tee: bool,
    secrets: &[(u64, String)],
    encrypt: bool,
    beneficiary: Address,
    requester: Address,
) -> anyhow::Result<Vec<Missing>> {
    let mut missing = Vec::new();
    let shown = client.show(Resource::App, app).await?;
    let multiaddr = shown["appMultiaddr"].as_str().unwrap_or_default();
    let checksum = shown["appChecksum"].as_str().unwrap_or_default();
    if multiaddr.trim().is_empty() {
        missing.push(Missing {
            what: format!("app {app} has no image (multiaddr)"),
            fix: "set app.multiaddr in iexec.json and `arca app deploy`".into(),
        });
    }
    if checksum.trim_start_matches("0x").chars().all(|c| c == '0') {
        missing.push(Missing {
            what: format!("app {app} has no checksum (the image digest the worker verifies)"),
            fix:
                "set app.checksum to the image's sha256 digest in iexec.json and `arca app deploy`"
                    .into(),
        });
    }
    let needs_sms = tee && (dataset.is_some() || !secrets.is_empty() || encrypt) || encrypt;
    if needs_sms {
        let sms = match common.sms(project) {
            Ok(sms) => Some(sms),
            Err(e) => {
                missing.push(Missing {
                    what: format!("{e:#}"),
                    fix: "add \"sms\" to the chain in chain.json".into(),
                });
                None
            }
        };
        if let Some(sms) = sms {
            match sms.reachable().await {
                Err(e) => missing.push(Missing {
                    what: format!("{e:#}"),
                    fix: format!("start the SMS (`arca sms --hub {}`)", client.hub_address()),
                }),
                Ok(()) => {
                    if let Some(d) = dataset.filter(|_| tee)
                        && !sms.dataset_secret_exists(d).await?
                    {
                        missing.push(Missing {
                            what: format!("the key of dataset {d} is not in the SMS"),
                            fix: format!("arca dataset push-secret {d} (by the dataset owner)"),
                        });
                    }
                    for (_, name) in secrets {
                        if !sms.requester_secret_exists(requester, name).await? {
                            missing.push(Missing {
                                what: format!(
                                    "requester secret \"{name}\" of {requester} is not in the SMS"
                                ),
                                fix: format!("arca requester push-secret {name}"),
                            });
                        }
                    }
                    if encrypt
                        && !sms
                            .web2_secret_exists(beneficiary, crate::sms_client::RESULT_KEY_SECRET)
                            .await?
                    {
                        missing.push(Missing {
                            what: format!("beneficiary {beneficiary} has no result encryption key in the SMS"),
                            fix: "arca result generate-encryption-keypair && arca result push-encryption-key".into(),
                        });
                    }
                }
            }
        }
    }
    Ok(missing)
}

async fn app_run(a: &RunArgs) -> anyhow::Result<Outcome> {
    let common = &a.common;
    let project = common.project()?;
    let secrets = parse_secrets(&a.secret)?;
    let tag = a
        .tag
        .as_deref()
        .map(arca_client::tags::parse)
        .transpose()
        .context("--tag")?
        .unwrap_or_default();
    let tee = tag.0[31] & 1 == 1;
    if !secrets.is_empty() && !tee {
        bail!(
            "--secret needs a TEE request: add --tag tee,tdx (requester secrets only reach enclaves)"
        );
    }
    if a.encrypt_result && !tee {
        bail!(
            "--encrypt-result needs a TEE request: add --tag tee,tdx (only enclaves encrypt results)"
        );
    }
    if let Some(p) = &a.storage_provider
        && p != "ipfs"
    {
        bail!(
            "--storage-provider {p}: Arca stores results on its IPFS-compatible store only; use ipfs"
        );
    }
    let callback = a
        .callback
        .as_deref()
        .map(arca_client::parse_address)
        .transpose()
        .context("--callback")?;
    let beneficiary = a
        .beneficiary
        .as_deref()
        .map(arca_client::parse_address)
        .transpose()
        .context("--beneficiary")?;
    let joined_args = a.args.as_ref().map(|v| v.join(" "));
    let params = build_params(
        joined_args.as_deref(),
        &a.input_files,
        &secrets,
        a.encrypt_result,
        a.storage_provider.as_deref(),
        callback.is_some(),
        a.params.as_deref(),
    )?;
    let trust = uint_flag("trust", &a.trust)?.unwrap_or_default();
    let category = uint_flag("category", &a.category)?;

    let client = common.client(&project, true).await?;
    let requester = client.signer()?.address();
    let app = match &a.app {
        Some(text) => arca_client::parse_address(text).context("app address")?,
        None => crate::cmd::secret::resource_address(common, Resource::App, None).await?,
    };
    let dataset = a
        .dataset
        .as_deref()
        .map(|t| resource_flag(&project, client.chain_id(), Resource::Dataset, t))
        .transpose()?;
    let workerpool = a
        .workerpool
        .as_deref()
        .map(|t| resource_flag(&project, client.chain_id(), Resource::Workerpool, t))
        .transpose()?;
    if let Some(c) = category {
        let count = client.category_count().await?;
        if c >= count {
            bail!(
                "--category {c}: there are {count} categories (see `arca category show <index>`)"
            );
        }
    }
    let beneficiary = beneficiary.unwrap_or(requester);
    let market_url = common
        .chain_conf(&project)?
        .1
        .iexec_gateway
        .unwrap_or_default();
    let market = market(common, &project, &client)?;

    if !a.skip_preflight_check {
        let bar = spinner(common.raw, "preflight checks");
        let missing = preflight(
            common,
            &project,
            &client,
            app,
            dataset,
            tee,
            &secrets,
            a.encrypt_result,
            beneficiary,
            requester,
        )
        .await?;
        bar.finish_and_clear();
        if !missing.is_empty() {
            let lines: Vec<String> = missing
                .iter()
                .map(|m| format!("  - {}\n    fix: {}", m.what, m.fix))
                .collect();
            bail!(
                "request requirements check failed:\n{}\n(--skip-preflight-check skips these checks)",
                lines.join("\n")
            );
        }
    }

    let wanted = Wanted {
        app,
        dataset,
        workerpool,
        requester,
        tag,
        trust,
        category,
    };
    let bar = spinner(common.raw, "looking for matching orders");
    let matched = find_orders(&market, &client, &wanted, &market_url).await?;
    bar.finish_and_clear();
    let (app_order, dataset_order, pool_order) = match matched {
        Matched::Found {
            app,
            dataset,
            workerpool,
        } => (app, dataset, workerpool),
        Matched::None(why) => bail!("no matching orders:\n  {}", why.join("\n  ")),
    };
    let (ao, po) = (app_of(&app_order), pool_of(&pool_order));
    let dprice = dataset_order
        .as_ref()
        .map_or(U256::ZERO, |d| dataset_of(d).datasetprice);
    let total = ao.appprice + dprice + po.workerpoolprice;
    let (stake, _) = client.account(requester).await?;
    if stake < total {
        bail!(
            "the account of {requester} has {stake} nRLC staked but this task costs {total} nRLC: run `arca account deposit {total}`"
        );
    }
    let request = UnsignedOrder::Request(typed::RequestOrder {
        app,
        appmaxprice: ao.appprice,
        dataset: dataset.unwrap_or(Address::ZERO),
        datasetmaxprice: dprice,
        workerpool: workerpool.unwrap_or(Address::ZERO),
        workerpoolmaxprice: po.workerpoolprice,
        requester,
        volume: U256::from(1),
        tag,
        category: category.unwrap_or(po.category),
        trust,
        beneficiary,
        callback: callback.unwrap_or(Address::ZERO),
        params,
        salt: B256::ZERO,
    });
    let signed_request = orders::sign(request, client.signer()?, &client.domain())?;
    notice(
        common.raw,
        format!(
            "using apporder {}, {}workerpoolorder {}",
            app_order.hash,
            dataset_order
                .as_ref()
                .map(|d| format!("datasetorder {}, ", d.hash))
                .unwrap_or_default(),
            pool_order.hash
        ),
    );
    let bar = spinner(common.raw, "matching orders on chain");
    let (deal_id, sent) = client
        .match_orders(
            &app_order,
            dataset_order.as_ref(),
            &pool_order,
            &signed_request,
        )
        .await?;
    bar.finish_and_clear();
    let deal = client.deal(deal_id).await?;
    let first: u64 = deal.botFirst.try_into().unwrap_or(0);
    let size: u64 = deal.botSize.try_into().unwrap_or(0);
    let tasks: Vec<(u64, B256)> = (first..first + size)
        .map(|i| (i, arca_client::poco::task_id(deal_id, i)))
        .collect();
    let mut human = format!(
        "✔ Deal created: {deal_id} (tx {})\n  volume {size}",
        sent.tx_hash
    );
    for (i, t) in &tasks {
        human.push_str(&format!("\n  task {i}: {t}"));
    }
    let mut outcome = Outcome::new(human)
        .with("dealid", deal_id.to_string())
        .with("volume", size.to_string())
        .with("txHash", sent.tx_hash.to_string())
        .with(
            "tasks",
            tasks
                .iter()
                .map(|(i, t)| json!({"idx": i.to_string(), "taskid": t.to_string()}))
                .collect::<Vec<_>>(),
        );
    if a.watch {
        if !common.raw {
            println!("{}", outcome.human);
            outcome.human = String::new();
        }
        let api = crate::cmd::deal::workerpool_api(common, &project, a.workerpool_api.as_deref())?;
        let ids: Vec<B256> = tasks.iter().map(|(_, t)| *t).collect();
        let finals =
            crate::cmd::deal::watch(common.raw, &client, api.as_ref(), deal_id, &ids).await?;
        outcome = outcome.with("tasksStatus", finals.clone());
        let failed: Vec<String> = finals
            .iter()
            .filter(|s| s["status"] != "COMPLETED")
            .map(|s| {
                let id = s["taskid"].as_str().unwrap_or_default();
                let status = s["status"].as_str().unwrap_or_default();
                let cause = s["cause"]
                    .as_str()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default();
                let next =
                    crate::cmd::deal::next_step(deal_id, id.parse().unwrap_or_default(), status);
                format!("task {id} {status}{cause}: {next}")
            })
            .collect();
        if !failed.is_empty() {
            bail!("deal {deal_id}: {}", failed.join("; "));
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_follow_the_sdk_encoding() {
        let secrets = parse_secrets(&["2=b".into(), "1=my-email".into()]).unwrap();
        let p = build_params(Some("arg1 arg2"), &[], &secrets, true, None, false, None).unwrap();
        assert_eq!(
            p,
            r#"{"iexec_args":"arg1 arg2","iexec_secrets":{"1":"my-email","2":"b"},"iexec_result_encryption":true,"iexec_result_storage_provider":"ipfs"}"#
        );
        let p = build_params(
            None,
            &["https://a/x".into()],
            &[],
            false,
            None,
            true,
            Some(r#"{"iexec_args":"--help"}"#),
        )
        .unwrap();
        assert_eq!(
            p,
            r#"{"iexec_args":"--help","iexec_input_files":["https://a/x"],"iexec_result_encryption":false}"#
        );
        assert!(build_params(None, &[], &[], false, None, false, Some("[1]")).is_err());
        assert!(parse_secrets(&["0=x".into()]).is_err());
        assert!(parse_secrets(&["1=a".into(), "1=b".into()]).is_err());
        assert!(parse_secrets(&["x".into()]).is_err());
    }

    #[test]
    fn workerpool_checks_follow_match_orders() {
        let tee_tdx = arca_client::tags::parse("tee,tdx").unwrap();
        let tee_scone = arca_client::tags::parse("tee,scone").unwrap();
        let w = Wanted {
            app: Address::repeat_byte(1),
            dataset: None,
            workerpool: None,
            requester: Address::repeat_byte(4),
            tag: tee_tdx,
            trust: U256::ZERO,
            category: None,
        };
        let app = typed::AppOrder {
            app: w.app,
            tag: tee_tdx,
            volume: U256::from(1),
            ..Default::default()
        };
        let pool = typed::WorkerpoolOrder {
            workerpool: Address::repeat_byte(3),
            tag: tee_tdx,
            volume: U256::from(1),
            ..Default::default()
        };
        assert_eq!(workerpool_fails(&pool, U256::from(1), &w, &app, None), None);
        let plain = typed::WorkerpoolOrder {
            tag: B256::ZERO,
            ..pool.clone()
        };
        let why = workerpool_fails(&plain, U256::from(1), &w, &app, None).unwrap();
        assert!(why.contains("missing [tee,tdx]"), "{why}");
        assert!(
            workerpool_fails(&pool, U256::ZERO, &w, &app, None)
                .unwrap()
                .contains("volume")
        );
        let cat = Wanted {
            category: Some(U256::from(2)),
            ..w.clone()
        };
        assert!(
            workerpool_fails(&pool, U256::from(1), &cat, &app, None)
                .unwrap()
                .contains("category")
        );
        let trust = Wanted {
            trust: U256::from(5),
            ..w.clone()
        };
        assert!(
            workerpool_fails(&pool, U256::from(1), &trust, &app, None)
                .unwrap()
                .contains("trust")
        );
        // a dataset's SGX framework bits are ignored (PoCo ignoreTeeFramework)
        let ds = typed::DatasetOrder {
            tag: tee_scone,
            ..Default::default()
        };
        assert_eq!(
            workerpool_fails(&pool, U256::from(1), &w, &app, Some(&ds)),
            None
        );
        // TEE deal needs a TEE app order
        let plain_app = typed::AppOrder {
            tag: B256::ZERO,
            ..app.clone()
        };
        let why = workerpool_fails(&pool, U256::from(1), &w, &plain_app, None).unwrap();
        assert!(why.contains("TEE"), "{why}");
        let restricted_pool = typed::WorkerpoolOrder {
            requesterrestrict: Address::repeat_byte(9),
            ..pool.clone()
        };
        assert!(
            workerpool_fails(&restricted_pool, U256::from(1), &w, &app, None)
                .unwrap()
                .contains("restricted to requester")
        );
        let restricted_app = typed::AppOrder {
            requesterrestrict: Address::repeat_byte(9),
            ..app
        };
        assert!(app_fails(&restricted_app, U256::from(1), &w).is_some());
    }
}

/// A request for exactly these orders, signed by the client's wallet (`order fill` without a request):
/// volume 1, the orders' prices as maximum prices, the workerpool order's category, trust 0.
pub(crate) fn request_for(
    client: &Client,
    app: &SignedOrder,
    dataset: Option<&SignedOrder>,
    pool: &SignedOrder,
    params: Option<&str>,
) -> anyhow::Result<SignedOrder> {
    let signer = client.signer()?;
    let (a, p) = (app_of(app), pool_of(pool));
    let d = dataset.map(dataset_of);
    let request = UnsignedOrder::Request(typed::RequestOrder {
        app: a.app,
        appmaxprice: a.appprice,
        dataset: d.map_or(Address::ZERO, |d| d.dataset),
        datasetmaxprice: d.map_or(U256::ZERO, |d| d.datasetprice),
        workerpool: p.workerpool,
        workerpoolmaxprice: p.workerpoolprice,
        requester: signer.address(),
        volume: U256::from(1),
        tag: B256::ZERO,
        category: p.category,
        trust: U256::ZERO,
        beneficiary: signer.address(),
        callback: Address::ZERO,
        params: build_params(None, &[], &[], false, None, false, params)?,
        salt: B256::ZERO,
    });
    Ok(orders::sign(request, signer, &client.domain())?)
}

/// Options of `order match`.
#[derive(Debug, Args)]
pub(crate) struct MatchArgs {
    /// App address [default: last deployed].
    #[arg(long = "app")]
    app: Option<String>,
    /// Dataset address, or `deployed`.
    #[arg(long)]
    dataset: Option<String>,
    /// Workerpool address, or `deployed`.
    #[arg(long)]
    workerpool: Option<String>,
    /// Request tags, e.g. `tee,tdx`.
    #[arg(long)]
    tag: Option<String>,
    /// Minimum trust.
    #[arg(long)]
    trust: Option<String>,
    /// Category.
    #[arg(long)]
    category: Option<String>,
    /// Requester [default: the wallet].
    #[arg(long)]
    requester: Option<String>,
    /// List every rejected candidate with the first criterion that excludes it.
    #[arg(long)]
    explain: bool,
    #[command(flatten)]
    common: Common,
}

pub(crate) fn run_match(args: MatchArgs) -> anyhow::Result<ExitCode> {
    emit(args.common.raw, block_on(order_match(&args)))
}

async fn order_match(a: &MatchArgs) -> anyhow::Result<Outcome> {
    let common = &a.common;
    let project = common.project()?;
    let client = common.client(&project, false).await?;
    let requester = match &a.requester {
        Some(t) => arca_client::parse_address(t).context("--requester")?,
        None => common
            .wallet_address(&project)
            .context("no wallet found: pass --requester <address>")?,
    };
    let app = match &a.app {
        Some(text) => arca_client::parse_address(text).context("--app")?,
        None => crate::cmd::secret::resource_address(common, Resource::App, None).await?,
    };
    let wanted = Wanted {
        app,
        dataset: a
            .dataset
            .as_deref()
            .map(|t| resource_flag(&project, client.chain_id(), Resource::Dataset, t))
            .transpose()?,
        workerpool: a
            .workerpool
            .as_deref()
            .map(|t| resource_flag(&project, client.chain_id(), Resource::Workerpool, t))
            .transpose()?,
        requester,
        tag: a
            .tag
            .as_deref()
            .map(arca_client::tags::parse)
            .transpose()
            .context("--tag")?
            .unwrap_or_default(),
        trust: uint_flag("trust", &a.trust)?.unwrap_or_default(),
        category: uint_flag("category", &a.category)?,
    };
    let url = common
        .chain_conf(&project)?
        .1
        .iexec_gateway
        .unwrap_or_default();
    let market = market(common, &project, &client)?;
    Ok(match find_orders(&market, &client, &wanted, &url).await? {
        Matched::Found {
            app,
            dataset,
            workerpool,
        } => {
            let mut human = vec![
                "✔ These orders match the request:".to_string(),
                format!("  apporder {}", app.hash),
            ];
            if let Some(d) = &dataset {
                human.push(format!("  datasetorder {}", d.hash));
            }
            human.push(format!("  workerpoolorder {}", workerpool.hash));
            Outcome::new(human.join("\n"))
                .with("matched", true)
                .with("apporder", app.hash.to_string())
                .with("datasetorder", dataset.map(|d| d.hash.to_string()))
                .with("workerpoolorder", workerpool.hash.to_string())
        }
        Matched::None(why) => {
            let shown = if a.explain {
                why.clone()
            } else {
                why[..1].to_vec()
            };
            let mut human = format!("✖ No orders match the request:\n  {}", shown.join("\n  "));
            if !a.explain && why.len() > 1 {
                human.push_str("\n  (--explain lists every rejected candidate)");
            }
            Outcome::new(human)
                .with("matched", false)
                .with("reasons", why)
        }
    })
}
