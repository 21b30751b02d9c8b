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
    /// Which tasks, enclaves and measurements received your secrets, and whether the SMS's
    /// release log verifies (hash chain and MACs intact).
    SecretLog(RequesterLogArgs),
}

/// Options of `requester secret-log`.
#[derive(Debug, Args)]
pub(crate) struct RequesterLogArgs {
    /// Only this secret [default: all of the wallet's secrets].
    secret_name: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// Options of `dataset secret-log`.
#[derive(Debug, Args)]
pub(crate) struct DatasetLogArgs {
    /// Dataset address [default: last deployed].
    dataset_address: Option<String>,
    #[command(flatten)]
    pub(crate) common: Common,
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
        RequesterCommand::SecretLog(a) => emit(a.common.raw, block_on(requester_log(&a))),
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

async fn requester_log(args: &RequesterLogArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let name = args.secret_name.as_deref().unwrap_or("");
    if !name.is_empty() {
        crate::sms_client::check_secret_name(name)?;
    }
    let project = common.project()?;
    let signer = common.signer(&project)?;
    let id = arca_sms::client::SecretId::requester(signer.address(), name);
    secret_log(common, &project, &signer, &id).await
}

pub(crate) async fn dataset_log(args: &DatasetLogArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let dataset =
        resource_address(common, Resource::Dataset, args.dataset_address.as_deref()).await?;
    let signer = common.signer(&project)?;
    let id = arca_sms::client::SecretId::dataset(dataset);
    secret_log(common, &project, &signer, &id).await
}

/// The owner's view of the SMS release log for `id`, with the log's own verdict.
async fn secret_log(
    common: &Common,
    project: &arca_client::Project,
    signer: &alloy::signers::local::PrivateKeySigner,
    id: &arca_sms::client::SecretId,
) -> anyhow::Result<Outcome> {
    let url = common.sms(project)?.url().to_string();
    let log = arca_sms::client::SmsClient::new(&url)
        .release_log(signer, id)
        .await
        .with_context(|| format!("reading the release log of {} at {url}", log_label(id)))?;
    let mut human = format!("Releases of {} ({} in all):", log.secret, log.entries.len());
    for e in &log.entries {
        let secrets: Vec<String> = e
            .secrets
            .iter()
            .map(|r| format!("{} v{}", r.secret, r.version))
            .collect();
        human.push_str(&format!(
            "\n  #{} at {} task {} worker {} measurement {}…: {}",
            e.seq,
            arca_tee::format_rfc3339(e.at),
            e.task_id,
            e.worker,
            e.measurement.get(..16).unwrap_or(&e.measurement),
            secrets.join(", ")
        ));
    }
    human.push_str(&match &log.log.tampered {
        None => format!(
            "\n✔ release log verified: {} entries, head {}",
            log.log.length, log.log.head
        ),
        Some(t) => format!(
            "\n✖ release log TAMPERED at entry {}: {} — the SMS's database was altered; report it to the SMS operator",
            t.seq, t.reason
        ),
    });
    Ok(Outcome::new(human)
        .with("secret", log.secret.clone())
        .with("releases", serde_json::to_value(&log.entries)?)
        .with("log", serde_json::to_value(&log.log)?))
}

fn log_label(id: &arca_sms::client::SecretId) -> String {
    if id.name.is_empty() {
        format!("{}", id.address)
    } else {
        format!("{} {}", id.address, id.name)
    }
}
