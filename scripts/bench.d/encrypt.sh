#!/usr/bin/env bash
# Dataset encryption throughput on a 100 MiB file, one run each, all writing a new file from a warm page cache:
#   Arca       `arca dataset encrypt` (release build; also writes the key files and computes the sha256 checksum)
#   openssl    `openssl enc -aes-256-cbc -K … -iv …` (the reference: cipher only, no IV in the file, no checksum)
#   iexec SDK  `iexec dataset encrypt` (npm iexec@9.0.1; includes node start-up, like Arca includes its own)
# Prints one Markdown table (wall time, MiB/s, ratio to openssl, peak RSS) ready for docs/benchmarks.md.
# Usage: scripts/bench.sh encrypt [SIZE_MIB]   (default 100)
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ARCA_ROOT"

size_mib="${1:-100}"
IEXEC_DIR="$(npm_tool iexec iexec@9.0.1)"
IEXEC="$IEXEC_DIR/node_modules/.bin/iexec"
cargo build --release -q -p arca-cli -p arca-crypto --example interop
ARCA="$CARGO_TARGET_DIR/release/arca"
INTEROP="$CARGO_TARGET_DIR/release/examples/interop"

W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
input="$ARCA_CACHE/bench-encrypt-${size_mib}MiB.bin"
if [ ! -f "$input" ] || [ "$(stat -c %s "$input")" != $((size_mib * 1048576)) ]; then
  head -c $((size_mib * 1048576)) /dev/urandom > "$input.tmp" && mv "$input.tmp" "$input"
fi
cat "$input" > /dev/null   # warm the page cache so every tool reads from memory

# One project layout per tool, with a hard link to the same input (no copy, same cached pages).
for p in arca sdk; do
  mkdir -p "$W/$p/datasets/original" "$W/$p/datasets/encrypted" "$W/$p/.secrets/datasets"
  ln "$input" "$W/$p/datasets/original/data.bin" 2>/dev/null || cp "$input" "$W/$p/datasets/original/data.bin"
done
key_hex="$(head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n')"
iv_hex="$(head -c 16 /dev/urandom | od -An -v -tx1 | tr -d ' \n')"

# timed NAME CMD...: runs CMD once after a sync (so earlier write-back does not land in this run); records wall
# seconds and peak RSS (KiB, from GNU time when present).
declare -A WALL RSS
timed() {
  local name="$1"; shift
  sync
  local t0=$EPOCHREALTIME
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f %M -o "$W/$name.rss" "$@" > "$W/$name.out" 2> "$W/$name.err"
    RSS[$name]="$(tail -1 "$W/$name.rss")"
  else
    "$@" > "$W/$name.out" 2> "$W/$name.err"
    RSS[$name]="n/a"
  fi
  WALL[$name]="$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }')"
}

timed openssl openssl enc -aes-256-cbc -K "$key_hex" -iv "$iv_hex" -in "$input" -out "$W/openssl.enc"
timed arca bash -c "cd '$W/arca' && exec '$ARCA' dataset encrypt"
timed sdk bash -c "cd '$W/sdk' && exec '$IEXEC' dataset encrypt --raw"

# The outputs must be right, or the figures mean nothing.
enc="$W/arca/datasets/encrypted/data.bin.enc"
grep -q "^0x$(sha256sum "$enc" | cut -d' ' -f1) " "$W/arca.out" || { echo "arca checksum mismatch" >&2; exit 1; }
"$INTEROP" dataset-decrypt "$W/arca/.secrets/datasets/data.bin.key" "$enc" "$W/arca.plain" > /dev/null
cmp -s "$W/arca.plain" "$input" || { echo "arca output does not decrypt to the input" >&2; exit 1; }
[ "$(stat -c %s "$W/sdk/datasets/encrypted/data.bin.enc")" = "$(stat -c %s "$enc")" ] || { echo "SDK output size differs" >&2; exit 1; }

mibs() { awk -v s="$size_mib" -v t="${WALL[$1]}" 'BEGIN { printf "%.1f", s / t }'; }
ratio() { awk -v r="${WALL[openssl]}" -v t="${WALL[$1]}" 'BEGIN { printf "%.2f", r / t }'; }
rss() { [ "${RSS[$1]}" = n/a ] && echo n/a || echo "$(( ${RSS[$1]} / 1024 )) MiB"; }
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "Dataset encryption, ${size_mib} MiB, one run each, $(date -u +%Y-%m-%d), $(nproc) cores, ${cpu}; AES-NI used by Arca: $("$INTEROP" aes-ni)"
echo
echo "| tool | wall (s) | MiB/s | × openssl | peak RSS |"
echo "|---|---|---|---|---|"
printf '| openssl enc -aes-256-cbc (%s) | %.3f | %s | 1.00 | %s |\n' "$(openssl version | cut -d' ' -f2)" "${WALL[openssl]}" "$(mibs openssl)" "$(rss openssl)"
printf '| arca dataset encrypt (release) | %.3f | %s | %s | %s |\n' "${WALL[arca]}" "$(mibs arca)" "$(ratio arca)" "$(rss arca)"
printf '| iexec dataset encrypt (SDK 9.0.1) | %.3f | %s | %s | %s |\n' "${WALL[sdk]}" "$(mibs sdk)" "$(ratio sdk)" "$(rss sdk)"
