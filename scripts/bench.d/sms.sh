#!/usr/bin/env bash
# SMS benchmark: TEE secret releases/s and push/check latency, over real HTTP against `arca sms`
# code (--dev, SQLite file in WAL mode) on Arca's in-process chain, load generator in the same
# process (crates/arca-sms/examples/sms_load.rs). A session's first release verifies the
# enclave's (sim) DCAP quote; its later releases are signed by the attested session key.
# Goal (issue 6): >= 5,000 releases/s on this 2-core machine.
# Usage: scripts/bench.sh sms [--seconds S] [--sessions N] [--concurrency C]
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ARCA_ROOT"
echo "## SMS — scripts/bench.sh sms"
echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load average $(cut -d' ' -f1 /proc/loadavg) before the run, rustc $(rustc --version | cut -d' ' -f2), release build"
echo
cargo run --quiet --release -p arca-sms --example sms_load -- "$@"
