//! `arca chain`: runs the embedded dev chain until Ctrl-C.

use clap::Args;
use std::process::ExitCode;

/// Options of `arca chain` (anvil-compatible names).
#[derive(Debug, Args)]
pub(crate) struct ChainArgs {}

pub(crate) fn run(_args: ChainArgs) -> anyhow::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
