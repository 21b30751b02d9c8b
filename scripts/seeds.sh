#!/usr/bin/env bash
# Plays the two seed walkthroughs against a running `arca up`, word for word with `arca` in place
# of `iexec` (the seeds are in ../shared/seeds/: 000 = a Node.js hello-world app; 004 = the ICBC
# TEE tutorial, a Python app checking a requester's secret email against an encrypted Excel
# dataset, with three separate wallets and an encrypted result). Prints each command, its output,
# the results and the time each step took. Used by scripts/quickstart.sh and scripts/test.d/70-e2e.sh.
#
# Usage: scripts/seeds.sh CHAIN_JSON WORK_DIR [000|004|all]
# Needs: DOCKER_HOST (the daemon the stack's workers use), the arca binary in $ARCA (default: PATH).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
CHAIN_JSON="$(realpath "$1")"; WORK="$(realpath -m "$2")"; WHICH="${3:-all}"
ARCA="${ARCA:-arca}"
APPS="$ARCA_ROOT/examples"
mkdir -p "$WORK"
declare -a TIMES=()
# Registries refuse an identical second deployment: names carry the run so the walkthrough can be
# replayed against a persistent stack.
RUN_ID="${RUN_ID:-$(date +%s)}"
t_step=$SECONDS
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }
lap() { TIMES+=("$1|$((SECONDS - t_step))"); t_step=$SECONDS; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }
# Dev accounts of the `test test … junk` mnemonic: 1 = app developer, 2 = dataset owner, 4 = requester.
KEY1=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
KEY2=0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
KEY4=0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a
W=(--keystoredir local --password seeds)

# project DIR KEY: a fresh project directory with this stack's chain.json and a wallet.
project() {
  rm -rf "$1"; mkdir -p "$1"; cd "$1"
  "$ARCA" init --skip-wallet --force >/dev/null
  cp "$CHAIN_JSON" chain.json
  "$ARCA" wallet import "$2" "${W[@]}" >/dev/null
}
# set_json FILE KEY.PATH VALUE: edits iexec.json the way the tutorial asks the user to by hand.
set_json() {
  python3 - "$@" <<'PY'
import json, sys
path, key, value = sys.argv[1], sys.argv[2], sys.argv[3]
doc = json.load(open(path))
node = doc
parts = key.split(".")
for p in parts[:-1]:
    node = node[p]
try:
    node[parts[-1]] = json.loads(value)
except ValueError:
    node[parts[-1]] = value
json.dump(doc, open(path, "w"), indent=2)
PY
}
image_checksum() { docker image inspect -f '{{.Id}}' "$1" | sed 's/^sha256:/0x/'; }

seed_000() {
  echo; echo "=== seed 000: a Node.js hello-world app, deployed and run ==="
  project "$WORK/000-hello-world" "$KEY1"
  cp -r "$APPS/hello-world/." .
  run docker build -q -t arca-hello-world:1.0.0 .
  run "$ARCA" app init "${W[@]}"
  set_json iexec.json app.name "hello-world-$RUN_ID"
  set_json iexec.json app.multiaddr arca-hello-world:1.0.0
  set_json iexec.json app.checksum "$(image_checksum arca-hello-world:1.0.0)"
  lap "000 build the app image, app init"
  run "$ARCA" app deploy "${W[@]}"
  run "$ARCA" app show "${W[@]}"
  lap "000 app deploy, app show"
  say "$ARCA app run --args test --watch"
  "$ARCA" app run --args test --watch "${W[@]}" | tee run.log
  DEAL="$("$ARCA" app run --help >/dev/null; grep -o 'deal 0x[0-9a-f]\{64\}\|0x[0-9a-f]\{64\}' run.log | head -1 | grep -o '0x[0-9a-f]\{64\}')"
  lap "000 app run --watch (deal to COMPLETED)"
  run "$ARCA" deal show "$DEAL" "${W[@]}"
  TASK="$("$ARCA" deal show "$DEAL" --raw | json "['tasks'][0]['taskid']" 2>/dev/null || "$ARCA" deal show "$DEAL" --raw | json "['tasks']['0']")"
  run "$ARCA" task debug "$TASK" --logs "${W[@]}"
  run "$ARCA" task show "$TASK" --download my-result "${W[@]}"
  run unzip -o -q my-result.zip -d my-result
  run cat my-result/result.txt
  RESULT_000="$(cat my-result/result.txt)"
  lap "000 deal show, task debug --logs, download, unzip"
}

seed_004() {
  echo; echo "=== seed 004: a TEE app, an encrypted dataset, a requester secret, an encrypted result ==="
  # --- the app developer
  project "$WORK/004-app" "$KEY1"
  cp -r "$APPS/email-checker/." .
  run docker build -q -t arca-email-checker:1.0.0 .
  run "$ARCA" app init --tee "${W[@]}"
  set_json iexec.json app.name "email-checker-$RUN_ID"
  set_json iexec.json app.multiaddr arca-email-checker:1.0.0
  set_json iexec.json app.checksum "$(image_checksum arca-email-checker:1.0.0)"
  # In place of sconify.sh: the sim enclave's measurement of the image (its mrenclave fingerprint).
  say "$ARCA tee measure arca-email-checker:1.0.0 --json"
  MRENCLAVE="$("$ARCA" tee measure arca-email-checker:1.0.0 --json)"; echo "$MRENCLAVE"
  set_json iexec.json app.mrenclave "$MRENCLAVE"
  run "$ARCA" app deploy "${W[@]}"
  APP="$("$ARCA" app show --raw "${W[@]}" | json "['address']")"
  run "$ARCA" app publish --tag tee,scone --force "${W[@]}"
  lap "004 app: build, measure, deploy, publish"
  # --- the dataset owner
  project "$WORK/004-dataset" "$KEY2"
  run "$ARCA" dataset init --encrypted "${W[@]}"
  cp "$APPS/email-checker/emails.xlsx" datasets/original/
  run "$ARCA" dataset encrypt
  ENC="$(ls "$PWD"/datasets/encrypted/*.enc | head -1)"
  # "Publish encrypted file": anywhere the workers can download it; here a local file URL.
  set_json iexec.json dataset.name "emails-$RUN_ID"
  set_json iexec.json dataset.multiaddr "file://$ENC"
  set_json iexec.json dataset.checksum "0x$(sha256sum "$ENC" | cut -c1-64)"
  run "$ARCA" dataset deploy "${W[@]}"
  DATASET="$("$ARCA" dataset show --raw "${W[@]}" | json "['address']")"
  run "$ARCA" dataset push-secret "${W[@]}"
  run "$ARCA" dataset check-secret "${W[@]}"
  run "$ARCA" dataset publish --app-restrict "$APP" --force "${W[@]}"
  lap "004 dataset: init, encrypt, deploy, push-secret, publish"
  # --- the requester
  project "$WORK/004-requester" "$KEY4"
  run "$ARCA" requester push-secret my_email --secret-value "grace@example.org" "${W[@]}"
  run "$ARCA" requester check-secret my_email "${W[@]}"
  run "$ARCA" result generate-encryption-keypair "${W[@]}"
  run "$ARCA" result push-encryption-key --tee-framework scone "${W[@]}"
  run "$ARCA" result check-encryption-key --tee-framework scone "${W[@]}"
  lap "004 requester: secret, result key pair"
  say "$ARCA app run $APP --tag tee,scone --dataset $DATASET --secret 1=my_email --encrypt-result --watch"
  "$ARCA" app run "$APP" --tag tee,scone --dataset "$DATASET" --secret 1=my_email --encrypt-result --watch "${W[@]}" | tee run.log
  DEAL="$(grep -o '0x[0-9a-f]\{64\}' run.log | head -1)"
  lap "004 app run --watch (TEE task to COMPLETED)"
  run "$ARCA" deal show "$DEAL" "${W[@]}"
  TASK="$("$ARCA" deal show "$DEAL" --raw | json "['tasks'][0]['taskid']" 2>/dev/null || "$ARCA" deal show "$DEAL" --raw | json "['tasks']['0']")"
  run "$ARCA" task show "$TASK" --download my-result "${W[@]}"
  run "$ARCA" result decrypt my-result.zip "${W[@]}"
  rm -rf my-result; run unzip -o -q results.zip -d my-result
  run cat my-result/result.txt
  RESULT_004="$(cat my-result/result.txt)"
  lap "004 download, result decrypt, unzip"
  # Beyond iExec: owners see who received their secrets, from a log the SMS cannot rewrite unseen.
  run "$ARCA" requester secret-log my_email "${W[@]}"
  cd "$WORK/004-dataset"
  run "$ARCA" dataset secret-log "${W[@]}" | tee secret-log.txt
  grep -q "$TASK" secret-log.txt || { echo "the dataset's release log does not name task $TASK" >&2; exit 1; }
  grep -q "release log verified" secret-log.txt || { echo "the release log did not verify" >&2; exit 1; }
  lap "004 owners read the SMS release log"
}

case "$WHICH" in
  000) seed_000 ;;
  004) seed_004 ;;
  all) seed_000; seed_004 ;;
  *) echo "usage: $0 CHAIN_JSON WORK_DIR [000|004|all]" >&2; exit 2 ;;
esac

echo; echo "=== results ==="
[ -n "${RESULT_000:-}" ] && echo "seed 000 result.txt: $RESULT_000"
[ -n "${RESULT_004:-}" ] && echo "seed 004 result.txt (decrypted): $RESULT_004"
echo; echo "time per step:"
for e in "${TIMES[@]}"; do printf '  %-52s %4d s\n' "${e%%|*}" "${e#*|}"; done
