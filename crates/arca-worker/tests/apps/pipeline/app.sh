#!/bin/sh
# Behaviours for the pipeline tests, chosen by $1:
#   echo-input WORDS  result.txt = first input file's content, "|", WORDS (one arg, quotes kept)
#   exit N            print to both streams, then exit with code N
#   tee               result.txt = the (decrypted) dataset and requester secret 1 (TEE task)
#   sleep N           sleep N seconds (timeout)
#   no-computed       write a result but no computed.json
#   long-name         write a result under a 32-character file name
#   callback HEX      computed.json with callback-data HEX (deal with a callback)
#   hello ...         result.txt = "hello" and the other args (entrypoint override)
set -u
case "$1" in
  echo-input)
    printf '%s|%s\n' "$(cat "$IEXEC_IN/$IEXEC_INPUT_FILE_NAME_1")" "$2" > "$IEXEC_OUT/result.txt"
    echo '{"deterministic-output-path":"/iexec_out/result.txt"}' > "$IEXEC_OUT/computed.json"
    echo "read $IEXEC_INPUT_FILES_NUMBER input file(s): $IEXEC_INPUT_FILE_NAME_1" ;;
  exit)
    echo "starting"
    echo "fatal: the input is not a CSV file" >&2
    exit "$2" ;;
  tee)
    printf 'dataset: %s\nsecret: %s\n' "$(cat "$IEXEC_IN/$IEXEC_DATASET_FILENAME")" \
      "${IEXEC_REQUESTER_SECRET_1:-missing}" > "$IEXEC_OUT/result.txt"
    echo '{"deterministic-output-path":"/iexec_out/result.txt"}' > "$IEXEC_OUT/computed.json"
    echo "tee app done" ;;
  sleep)
    echo "sleeping $2 s"
    exec sleep "$2" ;;
  no-computed)
    echo done > "$IEXEC_OUT/result.txt" ;;
  long-name)
    echo done > "$IEXEC_OUT/this-name-is-32-characters-long!"
    echo '{"deterministic-output-path":"/iexec_out"}' > "$IEXEC_OUT/computed.json" ;;
  callback)
    printf '{"callback-data":"%s"}\n' "$2" > "$IEXEC_OUT/computed.json" ;;
  hello)
    shift
    echo "hello $*" > "$IEXEC_OUT/result.txt"
    echo '{"deterministic-output-path":"/iexec_out/result.txt"}' > "$IEXEC_OUT/computed.json" ;;
  *)
    echo "unknown behaviour: $*" >&2
    exit 64 ;;
esac
