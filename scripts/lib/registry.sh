# OCI registry for tests: `ensure_registry` starts Debian's docker-registry (distribution 2.8)
# on 127.0.0.1 with a free port and its storage in a temp dir, and exports
# ARCA_TEST_REGISTRY=127.0.0.1:PORT; `stop_registry` stops it and deletes its storage.
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

# ensure_registry: starts a registry for this shell (idempotent while it runs) and exports
# ARCA_TEST_REGISTRY. Call stop_registry when done (a trap on EXIT).
ensure_registry() {
  mkdir -p "$ARCA_REGISTRY_LOG_DIR"
  if [ -n "${ARCA_REGISTRY_PID:-}" ] && kill -0 "$ARCA_REGISTRY_PID" 2>/dev/null; then
    return 0
  fi
  _registry_install || return 1

  ARCA_REGISTRY_DIR="$(mktemp -d "${TMPDIR:-/tmp}/arca-registry.XXXXXX")"
  local port
  port="$(_registry_free_port)" || {
    echo "ensure_registry: no free port on 127.0.0.1" >&2
    return 1
  }
  # No auth, no TLS, deletes allowed (tests may remove what they pushed).
  cat >"$ARCA_REGISTRY_DIR/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $ARCA_REGISTRY_DIR/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
  local log="$ARCA_REGISTRY_LOG_DIR/registry.log"
  docker-registry serve "$ARCA_REGISTRY_DIR/config.yml" </dev/null >"$log" 2>&1 &
  ARCA_REGISTRY_PID=$!
  export ARCA_REGISTRY_PID ARCA_REGISTRY_DIR

  # It answers within ~0.1 s; 10 s covers a loaded CI machine.
  local i
  for i in $(seq 1 100); do
    if curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null; then
      export ARCA_TEST_REGISTRY="127.0.0.1:$port"
      return 0
    fi
    if ! kill -0 "$ARCA_REGISTRY_PID" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  echo "ensure_registry: docker-registry did not answer on 127.0.0.1:$port; log: $log" >&2
  tail -n 20 "$log" >&2 2>/dev/null || true
  stop_registry
  return 1
}

# stop_registry: stops the registry ensure_registry started and deletes its storage.
stop_registry() {
  if [ -n "${ARCA_REGISTRY_PID:-}" ]; then
    kill "$ARCA_REGISTRY_PID" 2>/dev/null || true
    wait "$ARCA_REGISTRY_PID" 2>/dev/null || true
  fi
  if [ -n "${ARCA_REGISTRY_DIR:-}" ] && [ -d "$ARCA_REGISTRY_DIR" ]; then
    rm -rf "$ARCA_REGISTRY_DIR"
  fi
  unset ARCA_REGISTRY_PID ARCA_REGISTRY_DIR ARCA_TEST_REGISTRY
}
