//! Secrets in the SMS, as the iexec SDK pushes them (iexec-protocol.md §5.1–5.2):
//! `requester push-secret|check-secret`, `app push-secret|check-secret` (the app developer secret) and
//! `dataset push-secret|check-secret` (the dataset key, base64 as `dataset encrypt` wrote it).
//! Values are read from `--secret-value`/`--secret-path`, else asked on the terminal without echo.

use crate::output::{Common, Outcome, ask, block_on, emit, spinner};
use alloy::primitives::Address;
use anyhow::{Context as _, bail};
use arca_client::Resource;
use clap::{Args, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Requester subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum RequesterCommand {
    /// Push a named requester secret to the SMS (apps read it as IEXEC_REQUESTER_SECRET_<n>).
    PushSecret(RequesterPushArgs),
    /// Check that a requester secret exists in the SMS.
    CheckSecret(RequesterCheckArgs),
}

/// Options of `requester push-secret`.
#[derive(Debug, Args)]
pub(crate) struct RequesterPushArgs {
    /// Secret name (1 to 64 letters, digits, '-' or '_').
    secret_name: String,
    /// The value (otherwise asked on the terminal, without echo).
    #[arg(long, value_name = "VALUE")]
    secret_value: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// Options of `requester check-secret`.
#[derive(Debug, Args)]
pub(crate) struct RequesterCheckArgs {
    /// Secret name.
    secret_name: String,
    /// Requester [default: the wallet].
    requester_address: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// Options of `app push-secret`.
#[derive(Debug, Args)]
pub(crate) struct AppPushArgs {
    /// App address [default: last deployed].
    app_address: Option<String>,
    /// The value (otherwise asked on the terminal, without echo).
    #[arg(long, value_name = "VALUE")]
    secret_value: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// Options of `app check-secret` and `dataset check-secret`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Address [default: last deployed].
    address: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// Options of `dataset push-secret`.
#[derive(Debug, Args)]
pub(crate) struct DatasetPushArgs {
    /// Dataset address [default: last deployed].
    dataset_address: Option<String>,
    /// Key file [default: .secrets/datasets/dataset.key, the last key `dataset encrypt` generated].
    #[arg(long, value_name = "PATH")]
    secret_path: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

impl AppPushArgs {
    pub(crate) fn common_raw(&self) -> bool {
        self.common.raw
    }
}
impl CheckArgs {
    pub(crate) fn common_raw(&self) -> bool {
        self.common.raw
    }
}
impl DatasetPushArgs {
    pub(crate) fn common_raw(&self) -> bool {
        self.common.raw
    }
}

pub(crate) fn run_requester(command: RequesterCommand) -> anyhow::Result<ExitCode> {
    match command {
        RequesterCommand::PushSecret(a) => emit(a.common.raw, block_on(requester_push(&a))),
        RequesterCommand::CheckSecret(a) => emit(a.common.raw, block_on(requester_check(&a))),
    }
}

/// The value from the flag, else the terminal; an error naming the flag when not interactive.
fn value(common: &Common, given: Option<&str>, what: &str) -> anyhow::Result<String> {
    let value = match given {
        Some(v) => v.to_string(),
        None if std::io::stdin().is_terminal() && !common.raw => ask(&format!("{what}: "))?,
        None => bail!("missing --secret-value <value> ({what}); required when not interactive"),
    };
    if value.is_empty() {
        bail!("the secret value is empty");
    }
    Ok(value)
}

/// An address argument, else the last deployed `kind` of this chain (deployed.json).
pub(crate) async fn resource_address(
    common: &Common,
    kind: Resource,
    given: Option<&str>,
) -> anyhow::Result<Address> {
    if let Some(text) = given {
        return Ok(arca_client::parse_address(text)?);
    }
    let project = common.project()?;
    let client = common.client(&project, false).await?;
    project
        .deployed()?
        .get(kind.name(), client.chain_id())
        .with_context(|| {
            format!(
                "no {0} address given and none deployed on chain {1} in deployed.json: pass the address or run `arca {0} deploy`",
                kind.name(),
                client.chain_id()
            )
        })
}

fn checked(set: bool, what: String, fix: String) -> Outcome {
    let human = if set {
        format!("✔ {what} is set in the SMS")
    } else {
        format!("✖ {what} is not set in the SMS: run `{fix}`")
    };
    Outcome::new(human).with("isSecretSet", set)
}

async fn requester_push(args: &RequesterPushArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    crate::sms_client::check_secret_name(&args.secret_name)?;
    let project = common.project()?;
    let sms = common.sms(&project)?;
    let value = value(common, args.secret_value.as_deref(), "Secret value")?;
    let signer = common.signer(&project)?;
    let bar = spinner(common.raw, "pushing the secret");
    sms.push_requester_secret(&signer, &args.secret_name, &value)
        .await?;
    bar.finish_and_clear();
    Ok(Outcome::new(format!(
        "✔ Secret \"{}\" pushed for requester {}",
        args.secret_name,
        signer.address()
    ))
    .with("isPushed", true))
}

async fn requester_check(args: &RequesterCheckArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    crate::sms_client::check_secret_name(&args.secret_name)?;
    let project = common.project()?;
    let sms = common.sms(&project)?;
    let requester = match &args.requester_address {
        Some(text) => arca_client::parse_address(text)?,
        None => common
            .wallet_address(&project)
            .context("no wallet found: pass the requester address")?,
    };
    let set = sms
        .requester_secret_exists(requester, &args.secret_name)
        .await?;
    Ok(checked(
        set,
        format!("Secret \"{}\" of requester {requester}", args.secret_name),
        format!("arca requester push-secret {}", args.secret_name),
    ))
}

pub(crate) async fn app_push(args: &AppPushArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let sms = common.sms(&project)?;
    let app = resource_address(common, Resource::App, args.app_address.as_deref()).await?;
    let value = value(common, args.secret_value.as_deref(), "App secret value")?;
    let signer = common.signer(&project)?;
    let bar = spinner(common.raw, "pushing the app secret");
    sms.push_app_secret(&signer, app, &value).await?;
    bar.finish_and_clear();
    Ok(Outcome::new(format!("✔ Secret pushed for app {app}")).with("isPushed", true))
}

pub(crate) async fn app_check(args: &CheckArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let sms = common.sms(&project)?;
    let app = resource_address(common, Resource::App, args.address.as_deref()).await?;
    let set = sms.app_secret_exists(app).await?;
    Ok(checked(
        set,
        format!("Secret of app {app}"),
        format!("arca app push-secret {app}"),
    ))
}

pub(crate) async fn dataset_push(args: &DatasetPushArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let sms = common.sms(&project)?;
    let dataset =
        resource_address(common, Resource::Dataset, args.dataset_address.as_deref()).await?;
    let path = match &args.secret_path {
        Some(p) => project.dir().join(p),
        None => project.dir().join(".secrets/datasets/dataset.key"),
    };
    let key = std::fs::read_to_string(&path)
        .with_context(|| {
            format!(
                "cannot read the dataset key {}: run `arca dataset encrypt` or pass --secret-path",
                path.display()
            )
        })?
        .trim()
        .to_string();
    // the worker will decode it as base64 AES-256 key: refuse anything else now, not at execution
    arca_crypto::AesKey::from_base64(&key)
        .with_context(|| format!("{} does not hold a base64 AES-256 key", path.display()))?;
    let signer = common.signer(&project)?;
    let bar = spinner(common.raw, "pushing the dataset key");
    sms.push_dataset_secret(&signer, dataset, &key).await?;
    bar.finish_and_clear();
    Ok(
        Outcome::new(format!("✔ Key of dataset {dataset} pushed to the SMS"))
            .with("isPushed", true),
    )
}

pub(crate) async fn dataset_check(args: &CheckArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let sms = common.sms(&project)?;
    let dataset = resource_address(common, Resource::Dataset, args.address.as_deref()).await?;
    let set = sms.dataset_secret_exists(dataset).await?;
    Ok(checked(
        set,
        format!("Key of dataset {dataset}"),
        format!("arca dataset push-secret {dataset}"),
    ))
}
