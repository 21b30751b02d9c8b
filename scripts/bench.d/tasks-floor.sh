#!/usr/bin/env bash
# The container floor of a task: latency of `docker run --rm` of a trivial image beside Arca's
# bollard runner (create, start, follow logs, wait, remove, with a task's mounts, env and
# limits) on the same image in the same run. Issue 7's `tasks` benchmark compares whole tasks
# against this floor. Usage: scripts/bench.sh tasks-floor [N]   (default 20 runs each)
set -euo pipefail
source "$(dirname "$0")/../lib/docker.sh"
cd "$ARCA_ROOT"
n="${1:-20}"
ensure_docker
bash scripts/images.sh >/dev/null
image=arca/debian:bookworm
cargo build -q -p arca-worker --release --example run_floor
runner_bin="$CARGO_TARGET_DIR/release/examples/run_floor"

# stats: median min max of the numbers on stdin (ms).
stats() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f %.1f %.1f", m, a[1], a[NR]}'; }

docker run --rm --network none "$image" true >/dev/null # warm the daemon's caches for both
docker_ms="$(for _ in $(seq "$n"); do
  t0=$(date +%s%N)
  docker run --rm --network none "$image" true >/dev/null
  echo $(( ($(date +%s%N) - t0) / 100000 )) | awk '{printf "%.1f\n", $1/10}'
done | stats)"
runner_ms="$("$runner_bin" "$image" "$n" true | stats)"

read -r dm dmin dmax <<<"$docker_ms"
read -r rm rmin rmax <<<"$runner_ms"
printf '%-44s %10s %22s\n' "tasks-floor ($n runs each, $image true)" "median ms" "[min - max]"
printf '%-44s %10s %22s\n' "docker run --rm --network none (CLI)" "$dm" "[$dmin - $dmax]"
printf '%-44s %10s %22s\n' "arca-worker ContainerRunner::run (bollard)" "$rm" "[$rmin - $rmax]"
awk -v r="$rm" -v d="$dm" 'BEGIN {printf "ratio runner / docker run: %.2f\n", r / d}'
