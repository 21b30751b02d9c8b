#!/usr/bin/env bash
# scripts/bench.sh tasks [N] — whole tasks through the marketplace beside the bare container floor,
# same image, same daemon, same run (issue 7): the latency of one trivial task (request signed →
# result downloadable) against `docker run --rm`, and the throughput of an N-task bulk deal
# (default 100) on `arca up`'s worker (2 replicates at once) against N sequential `docker run --rm`.
# Goals: latency ≤ docker floor + 1.0 s; throughput ≥ 0.6× raw docker.
set -euo pipefail
source "$(dirname "$0")/../lib/docker.sh"
cd "$ARCA_ROOT"
N="${1:-100}"
ensure_docker >/dev/null
bash scripts/images.sh >/dev/null
# ARCA=/path/to/arca skips the release build (e.g. to try the script with a debug binary).
if [ -z "${ARCA:-}" ]; then
  cargo build --release --locked -q -p arca-cli
  ARCA="$CARGO_TARGET_DIR/release/arca"
fi
export ARCA
WORK="$(mktemp -d)"
UP_PID=""
cleanup() { [ -n "$UP_PID" ] && kill "$UP_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
now() { date +%s.%N; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }

# The stack and a project with the hello-world app (seed 000), deployed and published.
"$ARCA" up --data-dir "$WORK/up" --port-base 0 > "$WORK/up.log" 2>&1 &
UP_PID=$!
until grep -q '^Ready' "$WORK/up.log"; do kill -0 "$UP_PID" || { cat "$WORK/up.log"; exit 1; }; sleep 0.05; done
mkdir -p "$WORK/p" && cd "$WORK/p"
W=(--keystoredir local --password bench --quiet)
"$ARCA" init --skip-wallet --force >/dev/null
cp "$WORK/up/chain.json" chain.json
"$ARCA" wallet import 0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d "${W[@]}" >/dev/null
docker build -q -t arca-bench-hello:1 "$ARCA_ROOT/examples/hello-world" >/dev/null
IMAGE=arca-bench-hello:1
"$ARCA" app init "${W[@]}" >/dev/null
python3 - "$(docker image inspect -f '{{.Id}}' $IMAGE | sed 's/^sha256:/0x/')" <<'PY'
import json, sys
d = json.load(open("iexec.json")); d["app"]["multiaddr"] = "arca-bench-hello:1"; d["app"]["checksum"] = sys.argv[1]
d["app"]["name"] = "bench-hello"; json.dump(d, open("iexec.json", "w"), indent=2)
PY
"$ARCA" app deploy "${W[@]}" >/dev/null
APP="$("$ARCA" app show --raw "${W[@]}" | json "['address']")"
APPORDER="$("$ARCA" app publish --volume 1000000 --force --raw "${W[@]}" | json "['orderHash']")"

# 1. latency: one task, request → COMPLETED → result downloaded (best of 5, after one warm-up).
lat=()
for i in 0 1 2 3 4 5; do
  t0=$(now)
  DEAL="$("$ARCA" app run "$APP" --args "n$i" --watch --raw "${W[@]}" | json "['dealid']")"
  TASK="$("$ARCA" deal show "$DEAL" --raw "${W[@]}" | json "['tasks'][0]['taskid']")"
  rm -f r.zip; "$ARCA" task show "$TASK" --download r "${W[@]}" >/dev/null
  t1=$(now)
  [ "$i" -gt 0 ] && lat+=("$(python3 -c "print($t1 - $t0)")")
done
docker run --rm --network none -e IEXEC_OUT=/tmp "$IMAGE" warm >/dev/null
dlat=()
for i in 1 2 3 4 5; do
  t0=$(now); docker run --rm --network none -e IEXEC_OUT=/tmp "$IMAGE" "n$i" >/dev/null; t1=$(now)
  dlat+=("$(python3 -c "print($t1 - $t0)")")
done

# 2. throughput: one bulk deal of N tasks (request order volume N, filled against the pool's order).
"$ARCA" order init --request "${W[@]}" >/dev/null
POOLORDER="$("$ARCA" orderbook workerpool --raw "${W[@]}" | json "['orders'][0]['orderHash']")"
python3 - "$APP" "$N" <<'PY'
import json, sys
d = json.load(open("iexec.json")); r = d["order"]["requestorder"]
r.update({"app": sys.argv[1], "volume": sys.argv[2], "category": 0, "trust": 1, "tag": "0x" + "0" * 64,
          "params": {"iexec_args": "bulk"}})
json.dump(d, open("iexec.json", "w"), indent=2)
PY
"$ARCA" order sign --request --force "${W[@]}" >/dev/null
t0=$(now)
DEAL="$("$ARCA" order fill --app "$APPORDER" --workerpool "$POOLORDER" --raw "${W[@]}" | json "['dealid']")"
while :; do
  DONE="$("$ARCA" deal show "$DEAL" --raw "${W[@]}" | python3 -c 'import json,sys; t=json.load(sys.stdin)["tasks"]; print(sum(x["statusName"]=="COMPLETED" for x in t), sum(x["statusName"]=="FAILED" for x in t), len(t))')"
  read -r ok failed total <<<"$DONE"
  [ "$failed" -gt 0 ] && { echo "$failed task(s) of the bulk deal failed" >&2; exit 1; }
  [ "$ok" -eq "$N" ] && break
  sleep 0.2
done
t1=$(now)
bulk=$(python3 -c "print($t1 - $t0)")
d0=$(now)
for i in $(seq 1 "$N"); do docker run --rm --network none -e IEXEC_OUT=/tmp "$IMAGE" bulk >/dev/null; done
d1=$(now)
dbulk=$(python3 -c "print($d1 - $d0)")

python3 - "$N" "$bulk" "$dbulk" "${lat[*]}" "${dlat[*]}" "$(basename "$(dirname "$ARCA")")" <<'PY'
import sys, statistics, datetime
n, bulk, dbulk = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
build = sys.argv[6]
lat = sorted(map(float, sys.argv[4].split())); dlat = sorted(map(float, sys.argv[5].split()))
ml, md = statistics.median(lat), statistics.median(dlat)
print(f"tasks benchmark, {datetime.date.today()}, one run, arca up ({build} build, 1 worker, 2 replicates at once)")
print()
print("| measure | Arca | docker run --rm | ratio / gap | goal |")
print("|---|---:|---:|---:|---:|")
print(f"| one task: request → result downloaded (median of 5) | {ml:.2f} s | {md:.2f} s | +{ml - md:.2f} s | ≤ +1.0 s |")
print(f"| bulk deal of {n} tasks → all COMPLETED | {n / bulk:.2f} tasks/s ({bulk:.1f} s) | {n / dbulk:.2f} runs/s ({dbulk:.1f} s) | {(n / bulk) / (n / dbulk):.2f}× | ≥ 0.6× |")
PY
