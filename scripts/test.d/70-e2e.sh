#!/usr/bin/env bash
# End to end, every part real: `arca up` (dev chain, PoCo, SMS, market, result store, scheduler,
# a worker on a real dockerd), then both seed walkthroughs through the `arca` CLI (seed 000: a
# Node.js app run and its result downloaded; seed 004: a TEE app on an encrypted Excel dataset
# with a requester secret and a result encrypted for the beneficiary, decrypted). Then the
# restart variant: a deal is made, `arca up` is killed with SIGKILL while the task is in flight,
# restarted on the same data directory, and the task must still complete with the right result.
set -euo pipefail
source "$(dirname "$0")/../lib/docker.sh"
cd "$ARCA_ROOT"
ensure_docker
bash scripts/images.sh
cargo build --locked -q -p arca-cli
export ARCA="$CARGO_TARGET_DIR/debug/arca"
WORK="$(mktemp -d)"
UP_PID=""
cleanup() { [ -n "$UP_PID" ] && kill "$UP_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# Five consecutive free ports, so a restarted stack keeps the URLs its chain.json gave out.
PORT="$(python3 - <<'PY'
import random, socket
for _ in range(200):
    base = random.randint(20000, 60000)
    socks = []
    try:
        for p in range(base, base + 5):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
)"

start_up() {
  "$ARCA" up --data-dir "$WORK/up" --port-base "$PORT" --workers 1 --allow-file-urls "$WORK/seeds" >> "$WORK/up.log" 2>&1 &
  UP_PID=$!
  for _ in $(seq 1 300); do
    [ "$(grep -c '^Ready' "$WORK/up.log")" -ge "$1" ] && return 0
    kill -0 "$UP_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$WORK/up.log" >&2; echo "arca up did not get ready" >&2; return 1
}

t=$SECONDS
start_up 1
echo "arca up ready in $((SECONDS - t)) s"
bash scripts/seeds.sh "$WORK/up/chain.json" "$WORK/seeds" all | tee "$WORK/seeds.log"
grep -q '^seed 000 result.txt: Hello, test!' "$WORK/seeds.log"
grep -q '^seed 004 result.txt (decrypted): This email is compromised!' "$WORK/seeds.log"

echo "=== restart in the middle: SIGKILL arca up right after the deal, restart, the task completes ==="
cd "$WORK/seeds/000-hello-world"
W=(--keystoredir local --password seeds)
DEAL="$("$ARCA" app run --args restarted --raw "${W[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dealid"])')"
kill -9 "$UP_PID"; wait "$UP_PID" 2>/dev/null || true
echo "killed arca up with deal $DEAL in flight; restarting"
start_up 2
TASK=""
for _ in $(seq 1 120); do
  OUT="$("$ARCA" deal show "$DEAL" --raw "${W[@]}")"
  STATUS="$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"][0]["statusName"])')"
  [ "$STATUS" = COMPLETED ] && TASK="$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"][0]["taskid"])')" && break
  [ "$STATUS" = FAILED ] && { echo "the task failed after the restart" >&2; "$ARCA" deal show "$DEAL" "${W[@]}" >&2; exit 1; }
  sleep 0.5
done
[ -n "$TASK" ] || { echo "the task did not complete within 60 s of the restart" >&2; "$ARCA" deal show "$DEAL" "${W[@]}" >&2; tail -50 "$WORK/up.log" >&2; exit 1; }
rm -rf restarted restarted.zip
"$ARCA" task show "$TASK" --download restarted "${W[@]}" >/dev/null
unzip -q restarted.zip -d restarted
[ "$(cat restarted/result.txt)" = "Hello, restarted!" ] || { echo "unexpected result: $(cat restarted/result.txt)" >&2; exit 1; }
echo "restart variant: task $TASK completed after the restart: $(cat restarted/result.txt)"
