//! `arca tee …`: attestation tools (filled in by the arca-tee work).

use clap::Subcommand;
use std::process::ExitCode;

/// TEE attestation subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum TeeCommand {}

pub(crate) fn run(command: TeeCommand) -> anyhow::Result<ExitCode> {
    match command {}
}
