#!/usr/bin/env bash
# TEE attestation benchmark: DCAP quote verifications per second, cold (full Intel QVL path) and
# warm (collateral verified once and cached; quote and QE report signatures checked every time),
# beside dcap-qvl's one-shot verify as the reference. Goal: >= 2,000 warm verifications/s.
# Quotes: the recorded Intel vectors inside the dcap-qvl 0.7.1 package, and an Arca dev quote.
# Usage: scripts/bench.sh tee [--seconds S]   (S = measuring time per cell, default 1.5)
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ARCA_ROOT"
echo "## TEE attestation — scripts/bench.sh tee"
echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), rustc $(rustc --version | cut -d' ' -f2), release build"
echo
cargo run --quiet --release -p arca-tee --example tee_bench -- "$@"
