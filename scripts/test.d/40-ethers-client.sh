#!/usr/bin/env bash
# An unmodified ethers v6 client drives `arca chain`: deploy, fees, calls, events, reverts.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ARCA_ROOT"
ETHERS_DIR="$(npm_tool ethers6 ethers@6.17.0)"
cargo build -q --locked -p arca-cli
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
LOG="$(mktemp)"
"$CARGO_TARGET_DIR/debug/arca" chain --port "$PORT" > "$LOG" 2>&1 &
CHAIN_PID=$!
trap 'kill "$CHAIN_PID" 2>/dev/null; rm -f "$LOG"' EXIT
for _ in $(seq 1 100); do
  curl -sf -XPOST "http://127.0.0.1:$PORT" -H 'content-type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' >/dev/null && break
  sleep 0.1
done
# ES modules resolve packages next to the script, so run a copy placed beside node_modules.
cp crates/arca-chain/tests/ethers/ethers-client.mjs "$ETHERS_DIR/"
node "$ETHERS_DIR/ethers-client.mjs" "http://127.0.0.1:$PORT" "ws://127.0.0.1:$PORT" \
  "$ARCA_ROOT/contracts/artifacts/ChainProbe.json"
