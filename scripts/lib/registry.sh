# OCI registries for tests: `ensure_registry` starts Debian's docker-registry (distribution 2.8)
# twice on 127.0.0.1 with free ports and storage in a temp dir: an open one, exported as
# ARCA_TEST_REGISTRY=127.0.0.1:PORT, and one behind basic auth (ARCA_TEST_AUTH_REGISTRY, with
# ARCA_TEST_AUTH_REGISTRY_CREDENTIALS=user:password). `stop_registry` stops both and deletes
# their storage.
# Sourced, never run; sources common.sh for $ARCA_CACHE.
#
# Plain HTTP is enough: dockerd treats registries on 127.0.0.0/8 as insecure by default, so
# `docker push 127.0.0.1:PORT/…` and pulls through the Engine API need no TLS and no
# --insecure-registry flag.

# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ARCA_REGISTRY_LOG_DIR="$ARCA_CACHE/registry"

# _registry_install: apt-installs docker-registry when /usr/bin/docker-registry is missing.
# The package's own service stays stopped (policy-rc.d / no systemd); we run ours below.
_registry_install() {
  command -v docker-registry >/dev/null 2>&1 && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "ensure_registry: docker-registry missing and not root; install it with apt" >&2
    return 1
  fi
  local log="$ARCA_REGISTRY_LOG_DIR/apt.log"
  echo "ensure_registry: installing docker-registry with apt (log: $log)" >&2
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -q \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker-registry; } \
      >"$log" 2>&1; then
    echo "ensure_registry: apt-get install docker-registry failed; see $log" >&2
    tail -n 20 "$log" >&2
    return 1
  fi
}

# _registry_free_port: prints a TCP port free on 127.0.0.1 (the kernel's pick for port 0).
_registry_free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    return
  fi
  # No python: probe the ephemeral range for a port nothing answers on.
  local port
  for port in $(shuf -i 20000-60000 -n 50); do
    if ! (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  return 1
}

# _registry_bcrypt PASSWORD: prints a bcrypt hash for an htpasswd file (python3's crypt on
# Debian 12, else apache2-utils' htpasswd when installed).
_registry_bcrypt() {
  if python3 -W ignore -c 'import crypt' 2>/dev/null; then
    # Cost 5: it guards a throwaway test registry, and every request checks it.
    python3 -W ignore -c 'import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 5)))' "$1"
  elif command -v htpasswd >/dev/null 2>&1; then
    htpasswd -nbB -C 5 x "$1" | cut -d: -f2
  else
    return 1
  fi
}

# _registry_start DIR [USER:PASSWORD]: starts docker-registry with its storage under DIR, on a
# free 127.0.0.1 port, behind htpasswd basic auth when credentials are given; once it answers,
# writes its pid to DIR/pid and its host:port to DIR/addr. Called directly, not in $(…), so the
# registry is this shell's child and stop_registry's `wait` reaps it.
_registry_start() {
  local dir="$1" credentials="${2:-}" port auth=""
  port="$(_registry_free_port)" || {
    echo "ensure_registry: no free port on 127.0.0.1" >&2
    return 1
  }
  if [ -n "$credentials" ]; then
    local hash
    hash="$(_registry_bcrypt "${credentials#*:}")" || {
      echo "ensure_registry: cannot make a bcrypt hash (needs python3's crypt module or apache2-utils)" >&2
      return 1
    }
    echo "${credentials%%:*}:$hash" >"$dir/htpasswd"
    auth="auth:
  htpasswd:
    realm: arca-test
    path: $dir/htpasswd"
  fi
  # No TLS, deletes allowed (tests may remove what they pushed).
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
$auth
EOF
  local log="$ARCA_REGISTRY_LOG_DIR/registry-$port.log"
  docker-registry serve "$dir/config.yml" </dev/null >"$log" 2>&1 &
  local pid=$!
  # It answers within ~0.1 s; 10 s covers a loaded CI machine. 401 is an answer too.
  local i code
  for i in $(seq 1 100); do
    code="$(curl -sS --max-time 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/" 2>/dev/null || true)"
    if [ "$code" = 200 ] || [ "$code" = 401 ]; then
      echo "$pid" >"$dir/pid"
      echo "127.0.0.1:$port" >"$dir/addr"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "ensure_registry: docker-registry did not answer on 127.0.0.1:$port; log: $log" >&2
  tail -n 20 "$log" >&2 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  return 1
}

# ensure_registry: starts two registries for this shell (idempotent while they run) and
# exports ARCA_TEST_REGISTRY (open) plus ARCA_TEST_AUTH_REGISTRY and
# ARCA_TEST_AUTH_REGISTRY_CREDENTIALS (user:password; basic auth, for the credential tests).
# Call stop_registry when done (a trap on EXIT).
ensure_registry() {
  mkdir -p "$ARCA_REGISTRY_LOG_DIR"
  if [ -n "${ARCA_REGISTRY_PIDS:-}" ] && kill -0 ${ARCA_REGISTRY_PIDS} 2>/dev/null; then
    return 0
  fi
  _registry_install || return 1

  ARCA_REGISTRY_DIR="$(mktemp -d "${TMPDIR:-/tmp}/arca-registry.XXXXXX")"
  export ARCA_REGISTRY_DIR
  mkdir -p "$ARCA_REGISTRY_DIR/open" "$ARCA_REGISTRY_DIR/auth"
  local credentials
  _registry_start "$ARCA_REGISTRY_DIR/open" || { stop_registry; return 1; }
  ARCA_REGISTRY_PIDS="$(cat "$ARCA_REGISTRY_DIR/open/pid")"
  export ARCA_REGISTRY_PIDS
  credentials="arca-test:$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  _registry_start "$ARCA_REGISTRY_DIR/auth" "$credentials" || { stop_registry; return 1; }
  ARCA_REGISTRY_PIDS="$ARCA_REGISTRY_PIDS $(cat "$ARCA_REGISTRY_DIR/auth/pid")"
  export ARCA_TEST_REGISTRY="$(cat "$ARCA_REGISTRY_DIR/open/addr")"
  export ARCA_TEST_AUTH_REGISTRY="$(cat "$ARCA_REGISTRY_DIR/auth/addr")"
  export ARCA_TEST_AUTH_REGISTRY_CREDENTIALS="$credentials"
}

# stop_registry: stops the registries ensure_registry started and deletes their storage.
stop_registry() {
  local pid
  for pid in ${ARCA_REGISTRY_PIDS:-}; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "${ARCA_REGISTRY_DIR:-}" ] && [ -d "$ARCA_REGISTRY_DIR" ]; then
    rm -rf "$ARCA_REGISTRY_DIR"
  fi
  unset ARCA_REGISTRY_PIDS ARCA_REGISTRY_DIR ARCA_TEST_REGISTRY ARCA_TEST_AUTH_REGISTRY \
    ARCA_TEST_AUTH_REGISTRY_CREDENTIALS
}
