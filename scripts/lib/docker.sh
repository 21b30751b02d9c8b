# Container runtime helpers for scripts/*.sh: `ensure_docker` makes a Docker daemon answer and
# exports DOCKER_HOST. Sourced, never run; sources common.sh for $ARCA_CACHE.
#
# Why our own dockerd: the dev/CI VM (Firecracker, no systemd, hybrid cgroups v1/v2) has no
# daemon, and Debian's docker.io 20.10 works there unchanged (research/runtime-feasibility.md §2)
# as long as it touches neither iptables nor a bridge. Everything it writes (images, containers,
# its containerd) lives under $ARCA_CACHE/docker so a fresh clone reuses the image cache.

# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ARCA_DOCKER_DIR="$ARCA_CACHE/docker"
ARCA_DOCKER_SOCK="$ARCA_DOCKER_DIR/docker.sock"
ARCA_DOCKER_LOG="$ARCA_DOCKER_DIR/dockerd.log"

# docker_ping HOST: true when the Engine API at HOST (unix:///path) answers GET /_ping with OK.
docker_ping() {
  local host="$1"
  case "$host" in
    unix://*) ;;
    *) return 1 ;; # only local sockets are probed here; a tcp DOCKER_HOST is trusted as given
  esac
  local path="${host#unix://}"
  [ -S "$path" ] || return 1
  if command -v curl >/dev/null 2>&1; then
    [ "$(curl -fsS --max-time 3 --unix-socket "$path" http://docker/_ping 2>/dev/null)" = OK ]
  else
    DOCKER_HOST="$host" timeout 5 docker version >/dev/null 2>&1
  fi
}

# _docker_install_packages: apt-installs dockerd (docker.io) and debootstrap when missing.
_docker_install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  # The preinstalled static CLI in /usr/local/bin may be absent on other machines; docker.io
  # ships /usr/bin/docker, so a CLI is there once docker.io is.
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "ensure_docker: ${missing[*]} missing and not root; install them with apt" >&2
    return 1
  fi
  local log="$ARCA_DOCKER_DIR/apt.log"
  echo "ensure_docker: installing ${missing[*]} with apt (log: $log)" >&2
  # policy-rc.d on this VM keeps apt from starting a system dockerd; we start our own below.
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -q \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
      >"$log" 2>&1; then
    echo "ensure_docker: apt-get install ${missing[*]} failed; see $log" >&2
    tail -n 20 "$log" >&2
    return 1
  fi
}

# ensure_docker: makes a Docker daemon answer and exports DOCKER_HOST. Idempotent and quiet on
# success. Order: an already set DOCKER_HOST, the system socket, our own socket, else start our
# own dockerd.
ensure_docker() {
  mkdir -p "$ARCA_DOCKER_DIR"
  local candidate
  for candidate in "${DOCKER_HOST:-}" unix:///var/run/docker.sock "unix://$ARCA_DOCKER_SOCK"; do
    [ -n "$candidate" ] || continue
    if docker_ping "$candidate"; then
      export DOCKER_HOST="$candidate"
      _docker_install_packages # images.sh still needs debootstrap
      return
    fi
  done
  if [[ -n "${DOCKER_HOST:-}" && "$DOCKER_HOST" != unix://* ]]; then
    export DOCKER_HOST # remote daemon: nothing to start here
    return
  fi

  _docker_install_packages || return 1

  # A dockerd of ours that died (VM restarted, killed) leaves its pidfile and socket behind;
  # dockerd refuses to start over a live pidfile, so clear them when the pid is gone.
  local pidfile="$ARCA_DOCKER_DIR/dockerd.pid"
  if [ -f "$pidfile" ]; then
    local old
    old="$(cat "$pidfile" 2>/dev/null || true)"
    if [ -n "$old" ] && kill -0 "$old" 2>/dev/null; then
      # Alive but not answering yet: give it the same wait as a fresh start below.
      :
    else
      rm -f "$pidfile" "$ARCA_DOCKER_SOCK"
    fi
  fi

  if [ ! -f "$pidfile" ]; then
    mkdir -p "$ARCA_DOCKER_DIR/data" "$ARCA_DOCKER_DIR/exec"
    # --iptables/--ip6tables=false and --bridge=none: the VM has no use for NAT, and leaving the
    # host's firewall and interfaces alone keeps CI clean; containers run with --network none.
    # dockerd sets no rlimits (unlike podman, whose nofile=1048576 the VM refuses without
    # CAP_SYS_RESOURCE). setsid detaches it so the daemon outlives the calling script and its
    # process group: later steps and runs reuse it.
    setsid dockerd \
      --data-root "$ARCA_DOCKER_DIR/data" \
      --exec-root "$ARCA_DOCKER_DIR/exec" \
      --pidfile "$pidfile" \
      -H "unix://$ARCA_DOCKER_SOCK" \
      --iptables=false --ip6tables=false --bridge=none \
      </dev/null >>"$ARCA_DOCKER_LOG" 2>&1 &
    disown 2>/dev/null || true
  fi

  # First start measured 0.3-2.5 s (perf-anchors §04); 60 s covers a cold containerd on a busy CI.
  local i
  for i in $(seq 1 240); do
    if docker_ping "unix://$ARCA_DOCKER_SOCK"; then
      export DOCKER_HOST="unix://$ARCA_DOCKER_SOCK"
      return 0
    fi
    sleep 0.25
  done
  echo "ensure_docker: dockerd did not answer on unix://$ARCA_DOCKER_SOCK within 60 s; log: $ARCA_DOCKER_LOG" >&2
  tail -n 20 "$ARCA_DOCKER_LOG" >&2 2>/dev/null || true
  return 1
}
