#!/usr/bin/env bash
# Formatting and lints: the tree must be rustfmt-clean and clippy-clean with warnings denied.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ARCA_ROOT"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
