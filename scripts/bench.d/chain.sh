#!/usr/bin/env bash
# scripts/bench.sh chain — Arca's dev chain (`arca chain`, release) beside anvil 1.7.1, measured by
# the same load generator (crates/arca-bench) in the same run: eth_blockNumber requests/s with 1
# and 16 keep-alive clients, eth_call of a view function/s, signed transfers/s (send → receipt),
# and the resident memory of each node at idle and after 10,000 transactions. BENCH_SECONDS (5) is
# the length of one throughput measurement, BENCH_ROUNDS (3) how many alternating rounds.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ARCA_ROOT"

SECS="${BENCH_SECONDS:-5}"
ROUNDS="${BENCH_ROUNDS:-3}"
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

# Both nodes run side by side and the throughput figures alternate between them, round after
# round, each node's figure being its median: the machine is shared (builds, other sessions), and
# measuring one node for a minute then the other would credit load swings to the node.
rps() { # URL CLIENTS [METHOD CONTRACT] → requests/s
  local extra=(); [ -n "${3:-}" ] && extra=(--method "$3" --contract "$4")
  "$BIN/arca-bench" rps --url "$1" --clients "$2" --seconds "$SECS" "${extra[@]}" | jq_num per_second
}

P1="$(free_port)"; "$BIN/arca" chain --port "$P1" > "$WORK/arca.log" 2>&1 & PIDS+=($!); ARCA_PID=$!
P2="$(free_port)"; "$ANVIL" --port "$P2" --chain-id 1337 --silent > "$WORK/anvil.log" 2>&1 & PIDS+=($!); ANVIL_PID=$!
declare -A URL=([arca]="http://127.0.0.1:$P1" [anvil]="http://127.0.0.1:$P2")
declare -A PID=([arca]="$ARCA_PID" [anvil]="$ANVIL_PID")
declare -A PROBE
for n in arca anvil; do wait_ready "${URL[$n]}"; done
sleep 2
for n in arca anvil; do
  echo "rss_idle_kib $(rss_kib "${PID[$n]}")" > "$WORK/$n.txt"
  PROBE[$n]="$("$BIN/arca-bench" deploy --url "${URL[$n]}" --code "$CODE" | jq_num address)"
done
for r in $(seq 1 "$ROUNDS"); do
  order="arca anvil"; [ $((r % 2)) -eq 0 ] && order="anvil arca"
  for n in $order; do
    {
      echo "rps1 $(rps "${URL[$n]}" 1)"
      echo "rps16 $(rps "${URL[$n]}" 16)"
      echo "call $(rps "${URL[$n]}" 4 call "${PROBE[$n]}")"
    } >> "$WORK/$n.rounds"
  done
  echo "round $r/$ROUNDS measured" >&2
done
for n in arca anvil; do
  echo "transfers $("$BIN/arca-bench" transfers --url "${URL[$n]}" --count 2000 | jq_num per_second)" >> "$WORK/$n.txt"
  echo "transfers_10k $("$BIN/arca-bench" transfers --url "${URL[$n]}" --count 8000 | jq_num per_second)" >> "$WORK/$n.txt"
  echo "rss_10k_kib $(rss_kib "${PID[$n]}")" >> "$WORK/$n.txt"
  echo "measured $n transfers" >&2
done

python3 - "$WORK" "$ROUNDS" "$SECS" <<'PY'
import sys, datetime, platform, os
import statistics
work, rounds, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def load(n):
    figures = {k: float(v) for k, v in (l.split() for l in open(f"{work}/{n}.txt"))}
    per_round = {}
    for l in open(f"{work}/{n}.rounds"):
        k, v = l.split()
        per_round.setdefault(k, []).append(float(v))
    figures.update({k: statistics.median(v) for k, v in per_round.items()})
    return figures, per_round
(a, a_rounds), (b, b_rounds) = load("arca"), load("anvil")
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
load = " ".join(open("/proc/loadavg").read().split()[:3])
print(f"# scripts/bench.sh chain — {datetime.date.today()} — {os.cpu_count()} cores, {cpu}, load average {load} at the end")
print(f"# requests/s and calls/s: median of {rounds} alternating rounds of {secs} s each")
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
print()
print("rounds (arca | anvil):")
for label, key, *_ in rows[:3]:
    fmt = lambda xs: ", ".join(f"{x:,.0f}" for x in xs)
    print(f"- {label}: {fmt(a_rounds[key])} | {fmt(b_rounds[key])}")
PY
