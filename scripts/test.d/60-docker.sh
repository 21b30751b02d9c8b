#!/usr/bin/env bash
# Container runtime tests: makes a Docker daemon answer (our own dockerd from Debian's docker.io
# when none does), builds Arca's offline base images, starts throwaway OCI registries (Debian's
# docker-registry on 127.0.0.1: an open one, ARCA_TEST_REGISTRY, and one behind basic auth,
# ARCA_TEST_AUTH_REGISTRY) for the image-pull tests, stopped on exit, then runs
# arca-worker's tests that start real containers (seed 000's Node.js app, seed 004's
# Python/Excel app, failures, timeout, app images pulled by digest from the registry).
set -euo pipefail
source "$(dirname "$0")/../lib/docker.sh"
source "$(dirname "$0")/../lib/registry.sh"
cd "$ARCA_ROOT"
t0=$SECONDS
ensure_docker
echo "docker: $DOCKER_HOST ready ($((SECONDS - t0)) s)"
bash scripts/images.sh
trap stop_registry EXIT
ensure_registry
echo "registry: $ARCA_TEST_REGISTRY ready"
cargo test -p arca-worker --locked --features docker-tests
cargo test -p arca-scheduler --locked --features docker-tests --test replication_docker
