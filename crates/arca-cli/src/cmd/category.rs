//! `arca category init|create|show|count`: work categories (name, description, reference time); only
//! the hub owner can create them.

use crate::output::{Common, Outcome, block_on, emit, spinner};
use alloy::primitives::U256;
use clap::{Args, Subcommand};
use std::process::ExitCode;

/// Category subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum CategoryCommand {
    /// Add a category section to iexec.json.
    Init(Common),
    /// Create the category of iexec.json on chain (hub owner only).
    Create(Common),
    /// Show a category by index.
    Show(ShowArgs),
    /// Count the categories.
    Count(Common),
}

/// Options of `show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// Category index.
    index: String,
    #[command(flatten)]
    common: Common,
}

pub(crate) fn run(command: CategoryCommand) -> anyhow::Result<ExitCode> {
    match command {
        CategoryCommand::Init(c) => emit(c.raw, init(&c)),
        CategoryCommand::Create(c) => emit(c.raw, block_on(create(&c))),
        CategoryCommand::Show(a) => emit(a.common.raw, block_on(show(&a))),
        CategoryCommand::Count(c) => emit(c.raw, block_on(count(&c))),
    }
}

fn init(common: &Common) -> anyhow::Result<Outcome> {
    let project = common.project()?;
    let mut iexec = project.iexec_json()?;
    // the SDK's template
    let section = serde_json::json!({"name": "CAT", "description": "new category", "workClockTimeRef": "100"});
    iexec.set("category", section.clone());
    project.save_iexec_json(&iexec)?;
    Ok(Outcome::new("added \"category\" to iexec.json").with("category", section))
}

async fn create(common: &Common) -> anyhow::Result<Outcome> {
    let project = common.project()?;
    let category = project.iexec_json()?.category()?;
    let client = common.client(&project, true).await?;
    let bar = spinner(common.raw, "creating category");
    let (index, sent) = client.create_category(&category).await?;
    bar.finish_and_clear();
    Ok(Outcome::new(format!("created category {index}"))
        .with("catid", index.to_string())
        .with("txHash", sent.tx_hash.to_string()))
}

async fn show(args: &ShowArgs) -> anyhow::Result<Outcome> {
    let index: U256 = args
        .index
        .parse()
        .map_err(|_| arca_client::ClientError::Validation {
            what: "category index",
            value: args.index.clone(),
            hint: Some("expected a non-negative integer".into()),
        })?;
    let project = args.common.project()?;
    let client = args.common.client(&project, false).await?;
    let category = client.category(index).await?;
    Ok(Outcome::new(format!(
        "category {index}: {} ({}), workClockTimeRef {} s",
        category["name"].as_str().unwrap_or_default(),
        category["description"].as_str().unwrap_or_default(),
        category["workClockTimeRef"].as_str().unwrap_or_default()
    ))
    .with("index", index.to_string())
    .with("category", category))
}

async fn count(common: &Common) -> anyhow::Result<Outcome> {
    let project = common.project()?;
    let client = common.client(&project, false).await?;
    let count = client.category_count().await?;
    Ok(Outcome::new(format!("{count} categories")).with("count", count.to_string()))
}
