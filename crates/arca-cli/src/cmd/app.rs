//! `arca app init|deploy|show|count`, and the registry commands shared with `dataset` and `workerpool`
//! (`init` writes the iexec.json section, `deploy` registers it and records the address in deployed.json,
//! `show` takes an address, an index of the owner's entries, or the last deployed one).

use crate::output::{Common, Outcome, block_on, emit, spinner};
use alloy::primitives::{Address, U256};
use anyhow::Context as _;
use arca_client::Resource;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::process::ExitCode;

/// App subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AppCommand {
    /// Add an app section to iexec.json.
    Init(InitArgs),
    /// Register the app of iexec.json on chain.
    Deploy(Common),
    /// Show an app (address, index, or the last deployed).
    Show(ShowArgs),
    /// Count the apps of an owner.
    Count(CountArgs),
    /// Push the app developer secret to the SMS.
    PushSecret(crate::cmd::secret::AppPushArgs),
    /// Check that the app developer secret is in the SMS.
    CheckSecret(crate::cmd::secret::CheckArgs),
    /// Sign an app order (iexec.json template and flags) and publish it on the market.
    Publish(crate::cmd::orderbook::PublishArgs),
    /// Unpublish the last (or --all) app orders of an app from the market.
    Unpublish(crate::cmd::orderbook::UnpublishArgs),
    /// Run the app: match market orders with a signed request and create a deal.
    Run(Box<crate::cmd::run::RunArgs>),
}

/// Options of `init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// TEE app (TDX in iexec v9: same fields, no mrenclave; the tag goes in the orders).
    #[arg(long)]
    tee: bool,
    #[command(flatten)]
    common: Common,
}

/// Options of `show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// Address or index (default: last deployed on this chain).
    address_or_index: Option<String>,
    /// Owner whose entries an index counts (default: the wallet).
    #[arg(long)]
    user: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// Options of `count`.
#[derive(Debug, Args)]
pub(crate) struct CountArgs {
    /// Owner (default: the wallet).
    #[arg(long)]
    user: Option<String>,
    #[command(flatten)]
    common: Common,
}

pub(crate) fn run(command: AppCommand) -> anyhow::Result<ExitCode> {
    match command {
        AppCommand::Init(a) => emit(a.common.raw, init(&a.common, Resource::App, a.tee)),
        AppCommand::Deploy(c) => emit(c.raw, block_on(deploy(&c, Resource::App))),
        AppCommand::Show(a) => emit(
            a.common.raw,
            block_on(show(
                &a.common,
                Resource::App,
                a.address_or_index.as_deref(),
                a.user.as_deref(),
            )),
        ),
        AppCommand::Count(a) => emit(
            a.common.raw,
            block_on(count(&a.common, Resource::App, a.user.as_deref())),
        ),
        AppCommand::PushSecret(a) => {
            emit(a.common_raw(), block_on(crate::cmd::secret::app_push(&a)))
        }
        AppCommand::CheckSecret(a) => {
            emit(a.common_raw(), block_on(crate::cmd::secret::app_check(&a)))
        }
        AppCommand::Publish(a) => emit(
            a.common.raw,
            block_on(crate::cmd::orderbook::publish(Resource::App, &a)),
        ),
        AppCommand::Unpublish(a) => emit(
            a.common.raw,
            block_on(crate::cmd::orderbook::unpublish(Resource::App, &a)),
        ),
        AppCommand::Run(a) => crate::cmd::run::run(*a),
    }
}

/// The SDK's templates (`app init`, `dataset init`, `workerpool init`).
fn template(kind: Resource, owner: Address) -> Value {
    let owner = owner.to_checksum(None);
    match kind {
        Resource::App => json!({
            "owner": owner, "name": "hello-world", "type": "DOCKER",
            "multiaddr": "iexechub/python-hello-world:8.0.4",
            "checksum": "0xb0b664b7a6d249f81c067a9262b1763144eeb3ca63e553567f71673442ce9e84",
        }),
        Resource::Dataset => json!({
            "owner": owner, "name": "my-dataset",
            "multiaddr": "/ipfs/QmW2WQi7j6c7UgJTarActp7tDNikE4B2qXtFCfLPdsgaTQ",
            "checksum": "0x0000000000000000000000000000000000000000000000000000000000000000",
        }),
        Resource::Workerpool => json!({"owner": owner, "description": "my-workerpool"}),
    }
}

/// Writes the `kind` section of iexec.json (owner = the wallet when one is found).
pub(crate) fn init(common: &Common, kind: Resource, _tee: bool) -> anyhow::Result<Outcome> {
    let project = common.project()?;
    let mut iexec = project.iexec_json()?;
    let owner = common.wallet_address(&project).unwrap_or(Address::ZERO);
    let section = template(kind, owner);
    iexec.set(kind.name(), section.clone());
    project.save_iexec_json(&iexec)?;
    let human = format!(
        "added \"{}\" to iexec.json:\n{}",
        kind.name(),
        serde_json::to_string_pretty(&section).expect("JSON")
    );
    Ok(Outcome::new(human).with(kind.name(), section))
}

/// Registers the `kind` of iexec.json and records it in deployed.json.
pub(crate) async fn deploy(common: &Common, kind: Resource) -> anyhow::Result<Outcome> {
    let project = common.project()?;
    let iexec = project.iexec_json()?;
    let client = common.client(&project, true).await?;
    let bar = spinner(common.raw, &format!("deploying {}", kind.name()));
    let (address, sent) = match kind {
        Resource::App => client.deploy_app(&iexec.app()?).await?,
        Resource::Dataset => client.deploy_dataset(&iexec.dataset()?).await?,
        Resource::Workerpool => client.deploy_workerpool(&iexec.workerpool()?).await?,
    };
    bar.finish_and_clear();
    project.save_deployed(kind.name(), client.chain_id(), address)?;
    Ok(
        Outcome::new(format!("Deployed new {} at address {address}", kind.name()))
            .with("address", address.to_checksum(None))
            .with("txHash", sent.tx_hash.to_string()),
    )
}

/// The owner `--user` names, else the wallet.
fn owner(
    common: &Common,
    project: &arca_client::Project,
    user: Option<&str>,
) -> anyhow::Result<Address> {
    match user {
        Some(text) => Ok(arca_client::parse_address(text)?),
        None => common
            .wallet_address(project)
            .context("Missing option --user <address> or wallet"),
    }
}

/// Shows one entry.
pub(crate) async fn show(
    common: &Common,
    kind: Resource,
    which: Option<&str>,
    user: Option<&str>,
) -> anyhow::Result<Outcome> {
    let project = common.project()?;
    let client = common.client(&project, false).await?;
    let address = match which {
        Some(text) if text.starts_with("0x") => arca_client::parse_address(text)?,
        Some(text) => {
            let index: U256 = text.parse().map_err(|_| arca_client::ClientError::Validation {
                what: "address or index",
                value: text.to_string(),
                hint: Some("expected 0x followed by 40 hex digits, or a number".into()),
            })?;
            client.by_index(kind, owner(common, &project, user)?, index).await?
        }
        None => project.deployed()?.get(kind.name(), client.chain_id()).with_context(|| {
            format!(
                "no {0} deployed on chain {1} in deployed.json: pass an address or index, or run `arca {0} deploy`",
                kind.name(),
                client.chain_id()
            )
        })?,
    };
    let entry = client.show(kind, address).await?;
    let mut human = format!("{} {address}", kind.name());
    if let Value::Object(map) = &entry {
        for (k, v) in map {
            human.push_str(&format!(
                "\n  {k}: {}",
                v.as_str().map_or_else(|| v.to_string(), str::to_string)
            ));
        }
    }
    Ok(Outcome::new(human)
        .with("address", address.to_checksum(None))
        .with(kind.name(), entry))
}

/// Counts an owner's entries.
pub(crate) async fn count(
    common: &Common,
    kind: Resource,
    user: Option<&str>,
) -> anyhow::Result<Outcome> {
    let project = common.project()?;
    let owner = owner(common, &project, user)?;
    let client = common.client(&project, false).await?;
    let count = client.count(kind, owner).await?;
    Ok(
        Outcome::new(format!("{owner} has {count} {}(s)", kind.name()))
            .with("count", count.to_string()),
    )
}
