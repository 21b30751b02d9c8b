#!/usr/bin/env bash
# Builds Arca's local base images offline (only Debian's apt mirror is reached): a debootstrapped
# Debian bookworm rootfs imported as arca/debian:bookworm, then arca/python:3 and arca/node:20
# built FROM it with the Dockerfiles in scripts/images/. No Docker Hub is involved anywhere.
#
# Each image carries a label org.arca.inputs = content hash of everything it was built from
# (debootstrap parameters, Dockerfile and context, parent's hash); an image whose label matches
# is kept, so a warm run costs a few `docker image inspect`s. The debootstrap tarball is cached
# under $ARCA_CACHE/images/ so even a wiped Docker data-root rebuilds without debootstrap.
#
# Usage: scripts/images.sh [--force]     (--force rebuilds everything, tarball included)
set -euo pipefail
source "$(dirname "$0")/lib/docker.sh"
cd "$ARCA_ROOT"

force=0
[ "${1:-}" = --force ] && force=1

ensure_docker

IMAGES_DIR="$ARCA_CACHE/images"
mkdir -p "$IMAGES_DIR"
# One build at a time (quickstart and tests may both call this): they share the rootfs dir and tags.
exec 9>"$IMAGES_DIR/.lock"
flock 9
LABEL=org.arca.inputs
# The legacy builder ships inside every dockerd; BuildKit would need the buildx CLI plugin, which
# neither docker.io 20.10 nor the preinstalled static CLI carries.
export DOCKER_BUILDKIT=0

SUITE=bookworm
MIRROR=http://deb.debian.org/debian
# Bump when the rootfs recipe below changes in a way the parameters do not show.
ROOTFS_RECIPE="v1 variant=minbase suite=$SUITE mirror=$MIRROR security+updates excludes=doc,man,locale,apt-lists"

hash_of() { sha256sum | cut -c1-32; }

# label_of IMAGE: the inputs label of a local image, empty when the image is absent.
label_of() {
  docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true
}

# report IMAGE WHAT T0: one line per image with its id, size and how long it took.
report() {
  local id size
  id="$(docker image inspect -f '{{.Id}}' "$1" | cut -c1-19)"
  size="$(docker image inspect -f '{{.Size}}' "$1")"
  printf 'images: %-22s %-10s %s  %4d MB  %3d s\n' "$1" "$2" "$id" $((size / 1000000)) $((SECONDS - $3))
}

# build_log IMAGE: where a build's output goes (printed on failure only, so warm runs stay short).
build_log() { echo "$IMAGES_DIR/build-${1//[:\/]/_}.log"; }

build_base() {
  local image=arca/debian:$SUITE
  local h
  h="$(echo "$ROOTFS_RECIPE" | hash_of)"
  local tarball="$IMAGES_DIR/debian-$SUITE-$h.tar"
  local t0=$SECONDS
  if [ $force = 0 ] && [ "$(label_of $image)" = "$h" ]; then
    report $image "up-to-date" $t0
    BASE_HASH=$h
    return
  fi
  if [ $force = 1 ] || [ ! -s "$tarball" ]; then
    local root="$IMAGES_DIR/rootfs-$SUITE.tmp" log
    log="$(build_log $image)"
    rm -rf "$root"
    echo "images: debootstrap $SUITE (minbase) into $root, log $log"
    if ! debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$log" 2>&1; then
      echo "images: debootstrap failed; last lines of $log:" >&2
      tail -n 20 "$log" >&2
      exit 1
    fi
    # Security and point-release updates, so images built later get fixes through apt.
    cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
EOF
    # Containers need no docs, man pages, locales or apt lists (Dockerfiles run apt-get update);
    # dropping them halves the tarball (runtime-feasibility.md §4).
    tar -C "$root" --numeric-owner \
      --exclude='./var/cache/apt/*' --exclude='./var/lib/apt/lists/*' \
      --exclude='./usr/share/doc/*' --exclude='./usr/share/man/*' --exclude='./usr/share/locale/*' \
      --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
      -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
    # Older tarballs of other recipes are dead weight.
    find "$IMAGES_DIR" -maxdepth 1 -name "debian-$SUITE-*.tar" ! -name "$(basename "$tarball")" -delete
  fi
  docker import \
    --change "LABEL $LABEL=$h" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    "$tarball" "$image" >/dev/null
  report $image "imported" $t0
  BASE_HASH=$h
}

# build_child IMAGE DIR: docker build DIR (FROM a base whose hash is $BASE_HASH) when its inputs changed.
build_child() {
  local image="$1" dir="$2"
  local h
  h="$( { echo "$BASE_HASH"; (cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum); } | hash_of)"
  local t0=$SECONDS
  if [ $force = 0 ] && [ "$(label_of "$image")" = "$h" ]; then
    report "$image" "up-to-date" $t0
    return
  fi
  local log
  log="$(build_log "$image")"
  # --network host: the daemon runs with --bridge=none, so the default build network does not
  # exist; RUN steps need the host's route to the apt mirror.
  if ! docker build --network host --label "$LABEL=$h" -t "$image" "$dir" >"$log" 2>&1; then
    echo "images: building $image failed; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  report "$image" "built" $t0
}

t_all=$SECONDS
build_base
build_child arca/python:3 scripts/images/python
build_child arca/node:20 scripts/images/node
# Rebuilt images leave their predecessors dangling; they are never used again.
docker image prune -f >/dev/null 2>&1 || true
echo "images: ready in $((SECONDS - t_all)) s (DOCKER_HOST=$DOCKER_HOST)"
