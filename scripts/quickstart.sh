#!/usr/bin/env bash
# Quickstart on a fresh Debian machine (run as root): installs what is missing, builds Arca in
# release mode, starts a local dev chain with the PoCo contracts deployed, writes a chain.json that
# both `arca` and the iexec SDK accept, and shows the chain answering. Later steps of the seed
# tutorial (market, SMS, workers: `arca up`) join this script as they land.
#
# Usage: scripts/quickstart.sh            (state in ~/.cache/arca/quickstart, chain on port 8545)
#        ARCA_QUICKSTART_PORT=9545 scripts/quickstart.sh
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ARCA_ROOT"
T0=$SECONDS
PORT="${ARCA_QUICKSTART_PORT:-8545}"
HOME_DIR="$ARCA_CACHE/quickstart"
timing() { printf '  %-44s %4d s\n' "$1" "$2"; }
declare -a TIMES=()

# 1. System packages (only what is missing).
t=$SECONDS
missing=()
for pair in curl:curl gcc:build-essential node:nodejs npm:npm python3:python3 docker:docker.io debootstrap:debootstrap; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "error: cargo is missing; install Rust 1.95 (rustup) first" >&2; exit 1; }
TIMES+=("system packages|$((SECONDS - t))")

# 2. Build (release).
t=$SECONDS
echo "building arca (release)…"
cargo build --release --locked -q -p arca-cli
ARCA="$CARGO_TARGET_DIR/release/arca"
TIMES+=("cargo build --release|$((SECONDS - t))")

# 3. Dev chain, persistent, in the background.
t=$SECONDS
mkdir -p "$HOME_DIR"
if [ -f "$HOME_DIR/chain.pid" ] && kill -0 "$(cat "$HOME_DIR/chain.pid")" 2>/dev/null; then
  echo "a quickstart chain is already running (pid $(cat "$HOME_DIR/chain.pid")); reusing it"
else
  nohup "$ARCA" chain --port "$PORT" --data-dir "$HOME_DIR/chain" > "$HOME_DIR/chain.log" 2>&1 &
  echo $! > "$HOME_DIR/chain.pid"
fi
URL="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
  curl -sf -XPOST "$URL" -H 'content-type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' >/dev/null && break
  sleep 0.1
done
TIMES+=("arca chain ready|$((SECONDS - t))")

# 4. Contracts (deterministic addresses; a no-op when already deployed).
t=$SECONDS
KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80   # dev account 0 of `test … junk`
"$ARCA" deploy --rpc "$URL" --private-key "$KEY" --out "$HOME_DIR/deployment.json" >/dev/null
HUB="$(python3 -c "import json,sys; print(json.load(open('$HOME_DIR/deployment.json'))['hub'])")"
TIMES+=("arca deploy (PoCo contracts)|$((SECONDS - t))")

# 5. A project directory with the chain.json the iexec SDK and arca both read.
PROJECT="$HOME_DIR/project"
mkdir -p "$PROJECT"
cat > "$PROJECT/chain.json" <<JSON
{
  "default": "arca-dev",
  "chains": {
    "arca-dev": { "id": "1337", "host": "$URL", "hub": "$HUB" }
  }
}
JSON

# 6. Seed tutorial 000, the steps that need no worker yet: an app developer's wallet, app init,
#    app deploy, app show — the same commands as `iexec`, against the local chain.
t=$SECONDS
DEV_KEY=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d   # dev account 1
W=(--keystoredir local --password quickstart)
(
  cd "$PROJECT"
  "$ARCA" init --skip-wallet --force >/dev/null
  # init writes a default chain.json; keep ours (it knows the hub)
  cat > chain.json <<JSON
{ "default": "arca-dev", "chains": { "arca-dev": { "id": "1337", "host": "$URL", "hub": "$HUB" } } }
JSON
  ls UTC--* >/dev/null 2>&1 || "$ARCA" wallet import "$DEV_KEY" "${W[@]}" >/dev/null
  "$ARCA" app init "${W[@]}" >/dev/null
  if [ -f deployed.json ] && grep -q '"1337"' deployed.json; then
    echo "(app already deployed on this chain by an earlier quickstart run)"
  else
    echo "\$ arca app deploy"; "$ARCA" app deploy "${W[@]}"
  fi
  echo "\$ arca app show";   "$ARCA" app show "${W[@]}"
)
TIMES+=("seed 000: wallet, app init, deploy, show|$((SECONDS - t))")

BLOCK="$(curl -s -XPOST "$URL" -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}')"
echo
echo "Arca dev chain: $URL (HTTP and WebSocket), chain id 1337, data in $HOME_DIR/chain"
echo "PoCo hub:       $HUB   (all addresses: $HOME_DIR/deployment.json)"
echo "Project:        $PROJECT/chain.json"
echo "Latest block:   $BLOCK"
echo
echo "Try it:  curl -s -XPOST $URL -H 'content-type: application/json' -d '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_accounts\",\"params\":[]}'"
echo "Encrypt a dataset: cd $PROJECT && mkdir -p datasets/original && cp YOUR.xlsx datasets/original/ && $ARCA dataset encrypt"
echo "Stop the chain:  kill \$(cat $HOME_DIR/chain.pid)"
echo
echo "Time per step:"
for entry in "${TIMES[@]}"; do timing "${entry%%|*}" "${entry#*|}"; done
timing "total" $((SECONDS - T0))
