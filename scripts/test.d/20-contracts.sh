#!/usr/bin/env bash
# Contracts: the committed artifacts must be exactly what the pinned solc makes of the sources,
# and the hub's ABI must cover iExec PoCo 6.1.0's IexecInterfaceToken (the reference ABI comes
# from the npm package @iexec/poco@6.1.0, unpacked into the cache, never committed).
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ARCA_ROOT/contracts"

# npm ci only when node_modules does not match package-lock.json (stamp keyed by its hash)
stamp="node_modules/.arca-ci-$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
node compile.js --check

# The reference ABI: `npm i` cannot install @iexec/poco (it has a git dependency), so take the
# tarball with `npm pack` and unpack it.
poco="$ARCA_CACHE/poco-6.1.0"
if [ ! -f "$poco/package/abis/contracts/IexecInterfaceToken.json" ]; then
  mkdir -p "$poco"
  (cd "$poco" && npm pack --silent @iexec/poco@6.1.0 >/dev/null && tar xzf iexec-poco-6.1.0.tgz)
fi
export ARCA_POCO_DIR="$poco/package"
cd "$ARCA_ROOT"
# the ABI comparison, then the differential tests against the real PoCo bytecode
cargo test -p arca-contracts --locked --test abi --test differential -- --nocapture
