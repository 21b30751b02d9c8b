#!/usr/bin/env bash
# Crypto interop, live: Arca's dataset files, result archives and keystores against the real tools
# (openssl, ethers v6, the iexec SDK 9.0.1), in both directions where the tool can do both.
# The committed fixtures in crates/arca-crypto/tests/data check the same things offline in `cargo test`.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ARCA_ROOT"

IEXEC_DIR="$(npm_tool iexec iexec@9.0.1)"
ETHERS_DIR="$(npm_tool ethers6 ethers@6.17.0)"
cargo build --locked -q -p arca-cli -p arca-crypto --example interop
ARCA="$CARGO_TARGET_DIR/debug/arca"
INTEROP="$CARGO_TARGET_DIR/debug/examples/interop"

W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
ok() { echo "  ok: $*"; }
fail() { echo "  FAILED: $*" >&2; exit 1; }
hex_of() { od -An -v -tx1 | tr -d ' \n'; }
unhex() { python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' "$1"; }
# openssl_decrypt KEYFILE ENC: IV = first 16 bytes, key = base64 file contents.
openssl_decrypt() {
  local key iv
  key="$(base64 -d < "$1" | hex_of)"
  iv="$(head -c 16 "$2" | hex_of)"
  tail -c +17 "$2" | openssl enc -d -aes-256-cbc -K "$key" -iv "$iv"
}
sha256_0x() { echo "0x$(sha256sum "$1" | cut -d' ' -f1)"; }

echo "- arca dataset encrypt -> openssl enc -d"
P="$W/project"
mkdir -p "$P/datasets/original" "$P/datasets/encrypted" "$P/.secrets/datasets"
: > "$P/datasets/original/empty.bin"
printf 'x' > "$P/datasets/original/one.txt"
head -c 1048579 /dev/urandom > "$P/datasets/original/big.bin"   # 1 MiB + 3: crosses a chunk boundary
(cd "$P" && "$ARCA" dataset encrypt > "$W/arca.out" 2> "$W/arca.err")
for f in empty.bin one.txt big.bin; do
  openssl_decrypt "$P/.secrets/datasets/$f.key" "$P/datasets/encrypted/$f.enc" | cmp -s - "$P/datasets/original/$f" \
    || fail "openssl cannot decrypt $f.enc"
  grep -qx "$(sha256_0x "$P/datasets/encrypted/$f.enc") $P/datasets/encrypted/$f.enc" "$W/arca.out" \
    || fail "printed checksum of $f.enc is not its sha256"
done
cmp -s "$P/.secrets/datasets/one.txt.key" "$P/.secrets/datasets/dataset.key" || fail "dataset.key is not the last key"
ok "3 files (0 B, 1 B, 1 MiB+3) decrypt with openssl; checksums = sha256sum; dataset.key = last key"
before="$(sha256sum "$P"/datasets/encrypted/* "$P"/.secrets/datasets/*)"
if (cd "$P" && "$ARCA" dataset encrypt > /dev/null 2> "$W/refuse.err"); then fail "overwrote without --force"; fi
grep -q -- "--force" "$W/refuse.err" || fail "refusal does not mention --force: $(cat "$W/refuse.err")"
[ "$before" = "$(sha256sum "$P"/datasets/encrypted/* "$P"/.secrets/datasets/*)" ] || fail "refusal changed files"
(cd "$P" && "$ARCA" dataset encrypt --force > /dev/null 2>&1)
openssl_decrypt "$P/.secrets/datasets/big.bin.key" "$P/datasets/encrypted/big.bin.enc" | cmp -s - "$P/datasets/original/big.bin" \
  || fail "--force output does not decrypt"
ok "refuses to overwrite without --force (files untouched), replaces with --force"

echo "- iexec dataset encrypt (SDK 9.0.1) -> arca decrypt"
S="$W/sdk"
mkdir -p "$S/datasets/original" "$S/datasets/encrypted" "$S/.secrets/datasets"
head -c 300007 /dev/urandom > "$S/datasets/original/data.bin"
(cd "$S" && "$IEXEC_DIR/node_modules/.bin/iexec" dataset encrypt --raw > "$W/sdk.json")
sdk_sum="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["encryptedFiles"][0]["checksum"])' "$W/sdk.json")"
arca_sum="$("$INTEROP" dataset-decrypt "$S/.secrets/datasets/data.bin.key" "$S/datasets/encrypted/data.bin.enc" "$W/sdk.plain")"
cmp -s "$W/sdk.plain" "$S/datasets/original/data.bin" || fail "arca cannot decrypt the SDK's file"
[ "$sdk_sum" = "$arca_sum" ] || fail "checksum: SDK says $sdk_sum, arca computes $arca_sum"
ok "SDK-encrypted file decrypts with arca; same checksum"

echo "- result encryption: arca <-> openssl, arca -> iexec SDK decryptResult"
R="$W/result"
mkdir -p "$R/keys" "$R/x"
python3 - "$R/plain.zip" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("result.txt", "the answer is 42\n" * 100)
    z.writestr("computed.json", '{"deterministic-output-path":"/iexec_out/result.txt"}')
EOF
"$INTEROP" result-keygen 4096 "$R/keys"
openssl pkey -in "$R/keys/key" -check -noout > /dev/null 2>&1 || fail "openssl rejects arca's private key"
[ "$(openssl pkey -in "$R/keys/key" -pubout)" = "$(cat "$R/keys/key.pub")" ] || fail "public key does not match private key"
openssl rsa -in "$R/keys/key" -noout -text 2>/dev/null | grep -q "Private-Key: (4096 bit" || fail "not a 4096-bit key"
ok "arca keypair: PKCS#8 + SPKI PEM, 4096 bits, accepted by openssl"
"$INTEROP" result-encrypt "$R/keys/key.pub" "$R/plain.zip" "$R/enc.zip"
python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert sorted(z.namelist()) == ["aes-key.rsa", "iexec_out.zip.aes"], z.namelist(); z.extractall(sys.argv[2])' "$R/enc.zip" "$R/x"
openssl pkeyutl -decrypt -inkey "$R/keys/key" -pkeyopt rsa_padding_mode:pkcs1 -in "$R/x/aes-key.rsa" -out "$R/aes.key"
[ "$(stat -c %s "$R/aes.key")" = 32 ] || fail "unwrapped key is not 32 bytes"
tail -c +17 "$R/x/iexec_out.zip.aes" | openssl enc -d -aes-256-cbc -K "$(hex_of < "$R/aes.key")" -iv "$(head -c 16 "$R/x/iexec_out.zip.aes" | hex_of)" \
  | cmp -s - "$R/plain.zip" || fail "openssl cannot decrypt arca's result archive"
ok "arca result archive -> openssl pkeyutl (PKCS#1 v1.5) + openssl enc -d"
ln -s "$IEXEC_DIR/node_modules" "$R/node_modules"
cat > "$R/sdk-decrypt.mjs" <<'EOF'
import { utils } from "iexec";
import { readFileSync, writeFileSync } from "fs";
const [archive, key, out] = process.argv.slice(2);
writeFileSync(out, await utils.decryptResult(readFileSync(archive), readFileSync(key, "utf8")));
EOF
node "$R/sdk-decrypt.mjs" "$R/enc.zip" "$R/keys/key" "$R/sdk-plain.zip"
cmp -s "$R/sdk-plain.zip" "$R/plain.zip" || fail "the iexec SDK cannot decrypt arca's result archive"
ok "arca result archive -> iexec SDK utils.decryptResult"
mkdir -p "$R/o"
head -c 32 /dev/urandom > "$R/o/k"
iv="$(head -c 16 /dev/urandom | hex_of)"
{ unhex "$iv"; openssl enc -aes-256-cbc -K "$(hex_of < "$R/o/k")" -iv "$iv" -in "$R/plain.zip"; } > "$R/o/iexec_out.zip.aes"
openssl pkeyutl -encrypt -pubin -inkey "$R/keys/key.pub" -pkeyopt rsa_padding_mode:pkcs1 -in "$R/o/k" -out "$R/o/aes-key.rsa"
(cd "$R/o" && python3 -c 'import zipfile; z = zipfile.ZipFile("enc.zip", "w", zipfile.ZIP_DEFLATED); z.write("iexec_out.zip.aes"); z.write("aes-key.rsa"); z.close()')
"$INTEROP" result-decrypt "$R/keys/key" "$R/o/enc.zip" "$R/o/plain.zip"
cmp -s "$R/o/plain.zip" "$R/plain.zip" || fail "arca cannot decrypt an openssl-built result archive"
ok "openssl-built result archive -> arca result decrypt"
[ "$("$INTEROP" sms-secret "$R/keys/key.pub" | base64 -d)" = "$(cat "$R/keys/key.pub")" ] || fail "SMS form is not base64(PEM)"
ok "SMS public key form = base64(PEM)"

echo "- keystores: ethers v6 <-> arca"
K="$W/keystore"
mkdir -p "$K/arca"
ln -s "$ETHERS_DIR/node_modules" "$K/node_modules"
cat > "$K/ethers.mjs" <<'EOF'
import { Wallet } from "ethers";
import { readFileSync, writeFileSync } from "fs";
const [cmd, a, b, c] = process.argv.slice(2);
if (cmd === "write") {            // write KEY PASSWORD FILE: ethers' default (scrypt N = 131072)
  writeFileSync(c, await new Wallet(a).encrypt(b));
} else {                          // read FILE PASSWORD: print the address
  console.log((await Wallet.fromEncryptedJson(readFileSync(a, "utf8"), b)).address);
}
EOF
pk="0x$(head -c 32 /dev/urandom | hex_of)"
node "$K/ethers.mjs" write "$pk" "pw-ethers" "$K/ethers.json"
ethers_addr="$(node "$K/ethers.mjs" read "$K/ethers.json" "pw-ethers")"
[ "$("$INTEROP" keystore-read "$K/ethers.json" "pw-ethers")" = "$ethers_addr" ] || fail "arca reads a different address"
ok "ethers-written keystore -> arca ($ethers_addr)"
if "$INTEROP" keystore-read "$K/ethers.json" "not-it" 2> "$K/wrong.err"; then fail "wrong password accepted"; fi
grep -q "wrong password" "$K/wrong.err" || fail "wrong password error unclear: $(cat "$K/wrong.err")"
ok "wrong password -> '$(cat "$K/wrong.err")'"
file="$("$INTEROP" keystore-write "$pk" "pw-arca" "$K/arca")"
case "$(basename "$file")" in UTC--*--"${ethers_addr#0x}") ;; *) fail "unexpected file name $file" ;; esac
[ "$(node "$K/ethers.mjs" read "$file" "pw-arca")" = "$ethers_addr" ] || fail "ethers reads a different address"
ok "arca-written keystore -> ethers ($(basename "$file"))"
