#!/usr/bin/env bash
# Benchmarks (not tests): scripts/bench.sh NAME runs scripts/bench.d/NAME.sh and prints its table,
# Arca beside the reference named in the issue, measured in the same run.
# Usage: scripts/bench.sh [chain|gas|encrypt|sms|tee|seeds|tasks|tasks-floor|all]
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ARCA_ROOT"
name="${1:-all}"
if [ "$name" = all ]; then
  for f in scripts/bench.d/*.sh; do bash "$f"; done
elif [ -f "scripts/bench.d/$name.sh" ]; then
  bash "scripts/bench.d/$name.sh" "${@:2}"
else
  echo "unknown benchmark '$name'; available: $(ls scripts/bench.d | sed 's/\.sh$//' | tr '\n' ' ')" >&2
  exit 2
fi
