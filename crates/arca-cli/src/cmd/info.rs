//! `arca info`: the selected chain and its PoCo contract addresses (read from the hub).

use crate::output::{Common, Outcome, block_on, emit};
use std::process::ExitCode;

pub(crate) fn run(common: Common) -> anyhow::Result<ExitCode> {
    emit(common.raw, block_on(info(&common)))
}

async fn info(common: &Common) -> anyhow::Result<Outcome> {
    let project = common.project()?;
    let client = common.client(&project, false).await?;
    let serde_json::Value::Object(addresses) = client.info().await? else {
        unreachable!("info is an object")
    };
    let mut human = format!("chain id: {}", client.chain_id());
    for (k, v) in &addresses {
        human.push_str(&format!("\n{k}: {}", v.as_str().unwrap_or_default()));
    }
    let mut outcome = Outcome::new(human).with("chainId", client.chain_id().to_string());
    outcome.json.extend(addresses);
    Ok(outcome)
}
