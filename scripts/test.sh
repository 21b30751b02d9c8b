#!/usr/bin/env bash
# Runs every test of the repository: the numbered steps in scripts/test.d/, in order
# (formatting and lints, generated-file checks, the Cargo test suites, end-to-end flows).
# Usage: scripts/test.sh [STEP-PATTERN]   e.g. scripts/test.sh cargo
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ARCA_ROOT"
pattern="${1:-}"
t0=$SECONDS
for f in scripts/test.d/*.sh; do
  [ -n "$pattern" ] && [[ "$f" != *"$pattern"* ]] && continue
  step "$(basename "$f" .sh)" bash "$f"
done
echo "all test steps passed in $((SECONDS - t0)) s"
