#!/usr/bin/env bash
# Quickstart on a fresh Debian machine (run as root): installs what is missing, starts a Docker
# daemon if none answers, builds Arca (release) and the local base images (offline, cached), starts
# the whole marketplace with `arca up`, then plays both seed walkthroughs end to end (seed 000: a
# Node.js hello-world app; seed 004: a TEE app on an encrypted Excel dataset with a requester
# secret and an encrypted result) and prints the results and the time each step took.
#
# The stack keeps running afterwards (state in ~/.cache/arca/quickstart/up); re-running reuses it.
# Usage: scripts/quickstart.sh              (ports 8545-8549)
#        ARCA_QUICKSTART_PORT=9545 scripts/quickstart.sh
#        scripts/quickstart.sh --stop       (stops the stack)
set -euo pipefail
source "$(dirname "$0")/lib/docker.sh"
cd "$ARCA_ROOT"
T0=$SECONDS
PORT="${ARCA_QUICKSTART_PORT:-8545}"
HOME_DIR="$ARCA_CACHE/quickstart"
DATA="$HOME_DIR/up"
PIDFILE="$HOME_DIR/up.pid"
declare -a TIMES=()
lap() { TIMES+=("$1|$((SECONDS - t))"); t=$SECONDS; }
mkdir -p "$HOME_DIR"

if [ "${1:-}" = --stop ]; then
  if [ -f "$PIDFILE" ] && kill "$(cat "$PIDFILE")" 2>/dev/null; then echo "stopped"; else echo "not running"; fi
  exit 0
fi

# 1. System packages (only what is missing).
t=$SECONDS
missing=()
for pair in curl:curl gcc:build-essential node:nodejs npm:npm python3:python3 unzip:unzip; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "error: cargo is missing; install Rust 1.95 (rustup) first" >&2; exit 1; }
lap "system packages"

# 2. A Docker daemon (ours, under ~/.cache/arca/docker, unless one already answers) and the
#    offline base images (debootstrapped Debian, Python 3 with xlrd/openpyxl, Node.js 20).
ensure_docker
bash scripts/images.sh
lap "docker daemon and base images"

# 3. Build (release).
echo "building arca (release)…"
cargo build --release --locked -q -p arca-cli
export ARCA="$CARGO_TARGET_DIR/release/arca"
lap "cargo build --release"

# 4. The whole stack, in the background, persistent.
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "arca up is already running (pid $(cat "$PIDFILE")); reusing it"
else
  rm -f "$DATA/chain.json"
  mkdir -p "$HOME_DIR/seeds"
  nohup "$ARCA" up --data-dir "$DATA" --port-base "$PORT" --workers 1 --allow-file-urls "$HOME_DIR/seeds" > "$HOME_DIR/up.log" 2>&1 &
  echo $! > "$PIDFILE"
  for _ in $(seq 1 300); do
    grep -q '^Ready' "$HOME_DIR/up.log" 2>/dev/null && break
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { cat "$HOME_DIR/up.log" >&2; echo "arca up failed (log above)" >&2; exit 1; }
    sleep 0.1
  done
  grep -q '^Ready' "$HOME_DIR/up.log" || { cat "$HOME_DIR/up.log" >&2; echo "arca up did not get ready in 30 s" >&2; exit 1; }
fi
sed -n '/^Arca is up/,/^chain.json/p' "$HOME_DIR/up.log" | sed '$d'
lap "arca up ready"

# 5. The seeds, word for word with arca in place of iexec.
bash scripts/seeds.sh "$DATA/chain.json" "$HOME_DIR/seeds" all
lap "seed walkthroughs 000 and 004"

echo
echo "The stack is still running: chain.json in $DATA, log in $HOME_DIR/up.log."
echo "Stop it with: scripts/quickstart.sh --stop"
echo "Quickstart steps:"
for e in "${TIMES[@]}"; do printf '  %-44s %4d s\n' "${e%%|*}" "${e#*|}"; done
printf '  %-44s %4d s\n' total $((SECONDS - T0))
