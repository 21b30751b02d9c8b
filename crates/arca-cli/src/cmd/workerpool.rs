//! `arca workerpool init|deploy|show|count|publish|unpublish` (same behaviour as the app commands, on the
//! workerpool registry and its market orders).

use crate::cmd::app::{count, deploy, init, show};
use crate::output::{Common, block_on, emit};
use arca_client::Resource;
use clap::{Args, Subcommand};
use std::process::ExitCode;

/// Workerpool subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum WorkerpoolCommand {
    /// Add a workerpool section to iexec.json.
    Init(Common),
    /// Register the workerpool of iexec.json on chain.
    Deploy(Common),
    /// Show a workerpool (address, index, or the last deployed).
    Show(ShowArgs),
    /// Count the workerpools of an owner.
    Count(CountArgs),
    /// Sign a workerpool order (iexec.json template and flags) and publish it on the market.
    Publish(crate::cmd::orderbook::PublishArgs),
    /// Unpublish the last (or --all) workerpool orders of a workerpool from the market.
    Unpublish(crate::cmd::orderbook::UnpublishArgs),
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

pub(crate) fn run(command: WorkerpoolCommand) -> anyhow::Result<ExitCode> {
    let kind = Resource::Workerpool;
    match command {
        WorkerpoolCommand::Init(c) => emit(c.raw, init(&c, kind, false)),
        WorkerpoolCommand::Deploy(c) => emit(c.raw, block_on(deploy(&c, kind))),
        WorkerpoolCommand::Show(a) => emit(
            a.common.raw,
            block_on(show(
                &a.common,
                kind,
                a.address_or_index.as_deref(),
                a.user.as_deref(),
            )),
        ),
        WorkerpoolCommand::Count(a) => emit(
            a.common.raw,
            block_on(count(&a.common, kind, a.user.as_deref())),
        ),
        WorkerpoolCommand::Publish(a) => emit(
            a.common.raw,
            block_on(crate::cmd::orderbook::publish(kind, &a)),
        ),
        WorkerpoolCommand::Unpublish(a) => emit(
            a.common.raw,
            block_on(crate::cmd::orderbook::unpublish(kind, &a)),
        ),
    }
}
