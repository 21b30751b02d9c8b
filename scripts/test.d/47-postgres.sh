#!/usr/bin/env bash
# The Postgres stores of the market, the SMS and the scheduler (feature `postgres`) against a
# real server: a throw-away cluster in a temp dir on a free port, run as the `postgres` user
# (root cannot run postgres), stopped and removed on exit. Installs Debian's `postgresql` if it
# is missing.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ARCA_ROOT"

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then
  echo "installing postgresql (apt)"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  # the package's own cluster is not used (and may not start without systemd)
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
PG_BIN="$(pg_bin)"
[ -x "$PG_BIN/initdb" ] || { echo "no initdb under /usr/lib/postgresql/*/bin after installing postgresql" >&2; exit 1; }

# postgres refuses to run as root: run it as the `postgres` user (created by the package)
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  AS_PG=(runuser -u postgres --)
else
  AS_PG=()
fi

PG_DIR="$(mktemp -d /tmp/arca-pg.XXXXXX)"
chmod 755 "$PG_DIR"
[ "$(id -u)" -eq 0 ] && chown postgres: "$PG_DIR"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cleanup() {
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
trap cleanup EXIT

"${AS_PG[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --no-locale >"$PG_DIR/initdb.log" 2>&1 \
  || { cat "$PG_DIR/initdb.log" >&2; exit 1; }
# fsync off: a throw-away test cluster (durability is Postgres' job, not under test here)
"${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
  -o "-p $PORT -c listen_addresses=127.0.0.1 -k $PG_DIR -c fsync=off -c max_connections=50" start >/dev/null \
  || { cat "$PG_DIR/server.log" >&2; exit 1; }
"${AS_PG[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres arca_test

export ARCA_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PORT/arca_test"
echo "Postgres $("$PG_BIN/postgres" --version | awk '{print $3}') on port $PORT"
# The store-level tests (shared with SQLite, `store::conformance`) and the Postgres-only ones:
# `store` selects the unit tests of store.rs and store_pg.rs (market, SMS) and of the
# scheduler's store/ module (its restart test reopens a store on the same database); then the
# market's end-to-end query and follower/restart tests on a Postgres orderbook (`postgres`
# selects them) and the scheduler's restart in the middle of a task on a real chain.
set +e
{
  cargo test --locked -p arca-market -p arca-sms -p arca-scheduler \
    --features arca-market/postgres,arca-sms/postgres,arca-scheduler/postgres \
    --lib store -- --nocapture \
  && cargo test --locked -p arca-market --features postgres --test market postgres -- --nocapture \
  && cargo test --locked -p arca-scheduler --features postgres --test postgres -- --nocapture
} >"$PG_DIR/test.log" 2>&1
status=$?
set -e
grep -E "^test |test result|SKIPPED|panicked|^error" "$PG_DIR/test.log" || true
if [ "$status" -ne 0 ]; then
  tail -n 60 "$PG_DIR/test.log" >&2
  exit "$status"
fi
if grep -q SKIPPED "$PG_DIR/test.log"; then
  echo "a Postgres test was skipped although ARCA_TEST_POSTGRES_URL is set" >&2
  exit 1
fi
