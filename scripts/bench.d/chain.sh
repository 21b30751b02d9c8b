#!/usr/bin/env bash
# scripts/bench.sh chain — Arca's dev chain (`arca chain`, release) beside anvil 1.7.1, measured by
# the same load generator (crates/arca-bench) in the same run: eth_blockNumber requests/s with 1
# and 16 keep-alive clients, eth_call of a view function/s, signed transfers/s (send → receipt),
# and the resident memory of each node at idle and after 10,000 transactions.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ARCA_ROOT"

SECS="${BENCH_SECONDS:-5}"
echo "building release binaries…" >&2
cargo build --release --locked -q -p arca-cli -p arca-bench
BIN="$CARGO_TARGET_DIR/release"
ANVIL="$(npm_tool anvil @foundry-rs/anvil-linux-amd64@1.7.1)/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() {
  for _ in $(seq 1 200); do
    curl -sf -XPOST "$1" -H 'content-type: application/json' \
      -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' >/dev/null && return 0
    sleep 0.05
  done
  echo "node at $1 did not start" >&2; return 1
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
jq_num() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
CODE="$(python3 -c "import json; print(json.load(open('contracts/artifacts/ChainProbe.json'))['bytecode']['object'] + '0'*64)")"

measure() { # NAME URL PID → writes $WORK/NAME.txt with one figure per line
  local name="$1" url="$2" pid="$3" out="$WORK/$1.txt"
  sleep 2
  echo "rss_idle_kib $(rss_kib "$pid")" > "$out"
  echo "rps1 $("$BIN/arca-bench" rps --url "$url" --clients 1 --seconds "$SECS" | jq_num per_second)" >> "$out"
  echo "rps16 $("$BIN/arca-bench" rps --url "$url" --clients 16 --seconds "$SECS" | jq_num per_second)" >> "$out"
  local probe; probe="$("$BIN/arca-bench" deploy --url "$url" --code "$CODE" | jq_num address)"
  echo "call $("$BIN/arca-bench" rps --url "$url" --method call --contract "$probe" --clients 4 --seconds "$SECS" | jq_num per_second)" >> "$out"
  echo "transfers $("$BIN/arca-bench" transfers --url "$url" --count 2000 | jq_num per_second)" >> "$out"
  echo "transfers_10k $("$BIN/arca-bench" transfers --url "$url" --count 8000 | jq_num per_second)" >> "$out"
  echo "rss_10k_kib $(rss_kib "$pid")" >> "$out"
  echo "measured $name" >&2
}

P1="$(free_port)"; "$BIN/arca" chain --port "$P1" > "$WORK/arca.log" 2>&1 & PIDS+=($!); ARCA_PID=$!
wait_ready "http://127.0.0.1:$P1"
measure arca "http://127.0.0.1:$P1" "$ARCA_PID"
kill "$ARCA_PID"

P2="$(free_port)"; "$ANVIL" --port "$P2" --chain-id 1337 --silent > "$WORK/anvil.log" 2>&1 & PIDS+=($!); ANVIL_PID=$!
wait_ready "http://127.0.0.1:$P2"
measure anvil "http://127.0.0.1:$P2" "$ANVIL_PID"
kill "$ANVIL_PID"

python3 - "$WORK/arca.txt" "$WORK/anvil.txt" <<'PY'
import sys, datetime, platform, os
def load(p): return {k: float(v) for k, v in (l.split() for l in open(p))}
a, b = load(sys.argv[1]), load(sys.argv[2])
rows = [
  ("eth_blockNumber, 1 client (req/s)", "rps1", True, 1.5),
  ("eth_blockNumber, 16 clients (req/s)", "rps16", True, 1.5),
  ("eth_call view, 4 clients (calls/s)", "call", True, None),
  ("transfers send→receipt, first 2,000 (tx/s)", "transfers", True, 1.0),
  ("transfers send→receipt, next 8,000 (tx/s)", "transfers_10k", True, 1.0),
  ("RSS idle (MiB)", "rss_idle_kib", False, 1.0),
  ("RSS after 10,000 tx (MiB)", "rss_10k_kib", False, 1.0),
]
cpu = next((l.split(":",1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"# scripts/bench.sh chain — {datetime.date.today()} — {os.cpu_count()} cores, {cpu}")
print("| measure | arca | anvil 1.7.1 | arca/anvil | goal |")
print("|---|---:|---:|---:|---|")
for label, key, higher, goal in rows:
    x, y = a[key], b[key]
    if key.startswith("rss"):
        x, y = x / 1024, y / 1024
    ratio = x / y if y else float("nan")
    g = "" if goal is None else (f"≥ {goal}×" if higher else "≤ anvil")
    ok = "" if goal is None else (" ✓" if (ratio >= goal if higher else ratio <= goal) else " ✗")
    print(f"| {label} | {x:,.1f} | {y:,.1f} | {ratio:.2f}× | {g}{ok} |")
PY
