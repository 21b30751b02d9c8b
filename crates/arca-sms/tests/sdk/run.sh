#!/usr/bin/env bash
# Runs iexec-sdk-sms.mjs: the unmodified iexec SDK 9.0.1 against `arca sms` on a fresh
# `arca chain` with the contracts deployed. Meant for scripts/test.d (needs node and npm).
set -euo pipefail
source "$(dirname "$0")/../../../../scripts/lib/common.sh"
IEXEC_DIR="$(npm_tool iexec iexec@9.0.1)"
cd "$ARCA_ROOT"
cargo build -q -p arca-cli --locked
ARCA="$CARGO_TARGET_DIR/debug/arca"
# the first dev account of the standard `test test … junk` mnemonic: it deploys and holds the RLC
KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; }
CHAIN_PORT="$(free_port)"
SMS_PORT="$(free_port)"
W="$(mktemp -d)"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; rm -rf "$W"' EXIT
"$ARCA" chain --port "$CHAIN_PORT" > "$W/chain.log" 2>&1 &
PIDS+=($!)
wait_port "$CHAIN_PORT"
"$ARCA" deploy --rpc "http://127.0.0.1:$CHAIN_PORT" --private-key "$KEY" --out "$W/deployment.json" > /dev/null
HUB="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).hub)' "$W/deployment.json")"
head -c 32 /dev/urandom > "$W/sms.key"
"$ARCA" sms --rpc "http://127.0.0.1:$CHAIN_PORT" --hub "$HUB" --listen "127.0.0.1:$SMS_PORT" \
  --db "$W/sms.db" --master-key-file "$W/sms.key" > "$W/sms.log" 2>&1 &
PIDS+=($!)
wait_port "$SMS_PORT"
NODE_PATH="$IEXEC_DIR/node_modules" node crates/arca-sms/tests/sdk/iexec-sdk-sms.mjs \
  "http://127.0.0.1:$CHAIN_PORT" "$HUB" "http://127.0.0.1:$SMS_PORT" "$KEY" \
  || { cat "$W/sms.log" >&2; exit 1; }
