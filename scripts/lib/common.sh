# Shared helpers for scripts/*.sh: where caches live and how steps are printed.
# Sourced, never run. Caches live outside the clone so a fresh clone reuses them.

ARCA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ARCA_CACHE="${ARCA_CACHE:-$HOME/.cache/arca}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ARCA_CACHE/target}"
# CI builds each crate once: incremental state would only cost time and gigabytes of disk.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"; fi
mkdir -p "$ARCA_CACHE"

# step NAME CMD...: runs CMD, prints its duration, stops the script on failure.
step() {
  local name="$1"; shift
  local t0=$SECONDS
  echo "==> $name"
  if "$@"; then
    echo "<== $name ok ($((SECONDS - t0)) s)"
  else
    local rc=$?
    echo "!!! $name FAILED (exit $rc, $((SECONDS - t0)) s)" >&2
    exit "$rc"
  fi
}

# npm_tool DIR PKG@VER...: installs pinned npm packages once into $ARCA_CACHE/DIR and prints that dir.
npm_tool() {
  local dir="$ARCA_CACHE/$1"; shift
  local stamp="$dir/.installed-$(echo "$*" | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    mkdir -p "$dir"
    (cd "$dir" && { [ -f package.json ] || echo '{"private":true}' > package.json; } \
      && npm install --no-audit --no-fund --loglevel=error "$@" >&2) || return 1
    touch "$stamp"
  fi
  echo "$dir"
}
