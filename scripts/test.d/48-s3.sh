#!/usr/bin/env bash
# The result store's S3 backend (arca-storage feature `s3`) against a local S3-compatible
# server: moto's server from PyPI (pinned), installed once in a venv under the cache, started by
# the test itself on a free port. Fails if the test skipped itself.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ARCA_ROOT"
MOTO_VERSION=5.2.1
VENV="$ARCA_CACHE/moto-$MOTO_VERSION"
if [ ! -x "$VENV/bin/moto_server" ]; then
  # Debian's python3 makes venvs only with python3-venv (ensurepip)
  if ! /usr/bin/python3 -c 'import ensurepip' 2>/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
  rm -rf "$VENV"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
PATH="$VENV/bin:$PATH" ARCA_TEST_S3=1 \
  cargo test -p arca-storage --locked --features s3 --test s3 -- --nocapture 2>&1 | tee "$out"
if grep -q 'skipped' "$out"; then
  echo "the S3 test skipped itself: see crates/arca-storage/tests/s3.rs" >&2
  exit 1
fi
