#!/usr/bin/env bash
# Gas of the PoCo operations, Arca's hub beside iExec PoCo 6.1.0's real bytecode (npm package
# @iexec/poco@6.1.0, deployed by the test fixture), on the same fresh Arca chain in one run:
# matchOrders with and without a dataset (volume 3), initialize, contributeAndFinalize (TEE),
# contribute + reveal + finalize (trust 1), claim. Prints one Markdown table for docs/benchmarks.md.
# Gas does not depend on the build profile, so this reuses the test build.
# Usage: scripts/bench.sh gas
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ARCA_ROOT"

poco="$ARCA_CACHE/poco-6.1.0"
if [ ! -f "$poco/package/abis/contracts/IexecInterfaceToken.json" ]; then
  mkdir -p "$poco"
  (cd "$poco" && npm pack --silent @iexec/poco@6.1.0 >/dev/null && tar xzf iexec-poco-6.1.0.tgz)
fi
export ARCA_POCO_DIR="$poco/package"
table="$(mktemp)"
trap 'rm -f "$table"' EXIT
ARCA_GAS_TABLE="$table" cargo test -q -p arca-contracts --locked --test differential gas_against_poco \
  -- --exact --nocapture >&2
echo "PoCo gas, $(date -u +%Y-%m-%d), Arca chain (revm), chain id 1337"
cat "$table"
