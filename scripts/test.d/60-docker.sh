#!/usr/bin/env bash
# Container runtime tests: makes a Docker daemon answer (our own dockerd from Debian's docker.io
# when none does), builds Arca's offline base images, then runs arca-worker's tests that start
# real containers (seed 000's Node.js app, seed 004's Python/Excel app, failures, timeout).
set -euo pipefail
source "$(dirname "$0")/../lib/docker.sh"
cd "$ARCA_ROOT"
t0=$SECONDS
ensure_docker
echo "docker: $DOCKER_HOST ready ($((SECONDS - t0)) s)"
bash scripts/images.sh
cargo test -p arca-worker --locked --features docker-tests
