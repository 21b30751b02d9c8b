#!/usr/bin/env bash
# The unmodified iexec SDK 9.0.1 against Arca's services on a fresh chain: push/check secrets on
# `arca sms`, publish/query/unpublish orders on `arca market`.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ARCA_ROOT"
bash crates/arca-sms/tests/sdk/run.sh
bash crates/arca-market/tests/sdk/run.sh
