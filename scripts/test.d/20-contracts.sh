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

# An unmodified PoCo client against Arca's contracts on Arca's chain: the iexec SDK deposits,
# registers, signs and matches orders (contracts/clients/iexec-sdk-smoke.mjs).
IEXEC_DIR="$(npm_tool iexec iexec@9.0.1)"
cargo build -q -p arca-cli --locked
ARCA="$CARGO_TARGET_DIR/debug/arca"
# the first dev account of the standard `test test … junk` mnemonic: it deploys and holds the RLC
KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
W="$(mktemp -d)"
"$ARCA" chain --port "$PORT" > "$W/chain.log" 2>&1 &
CHAIN_PID=$!
trap 'kill "$CHAIN_PID" 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
"$ARCA" deploy --rpc "http://127.0.0.1:$PORT" --private-key "$KEY" --out "$W/deployment.json" > /dev/null
NODE_PATH="$IEXEC_DIR/node_modules" node contracts/clients/iexec-sdk-smoke.mjs \
  "http://127.0.0.1:$PORT" "$W/deployment.json" "$KEY"
