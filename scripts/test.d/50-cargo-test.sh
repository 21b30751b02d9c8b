#!/usr/bin/env bash
# The Rust test suites of every crate (unit, integration, differential against anvil).
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ARCA_ROOT"
# The differential tests compare Arca's chain with the real anvil shipped in an npm package.
ANVIL_DIR="$(npm_tool anvil @foundry-rs/anvil-linux-amd64@1.7.1)"
export ARCA_ANVIL_BIN="$ANVIL_DIR/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
cargo test --workspace --locked
