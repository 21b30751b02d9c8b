#!/bin/sh
# Behaviours for the container runner's tests, chosen by $1:
#   exit N     print to both streams, then exit with code N
#   sleep N    announce, then sleep N seconds (for the timeout test)
#   spam N     print N numbered lines to stdout (for the log cap)
#   hog N      hold N MiB of memory (for the memory limit)
#   sandbox    write what the app can see (env, mounts, network, limits) to $IEXEC_OUT
set -u
case "$1" in
  exit)
    echo "starting"
    echo "fatal: no input" >&2
    exit "$2" ;;
  sleep)
    echo "going to sleep for $2 s"
    exec sleep "$2" ;;
  spam)
    i=1
    while [ "$i" -le "$2" ]; do echo "line $i"; i=$((i + 1)); done ;;
  hog)
    echo "allocating $2 MiB"
    # tail keeps a line that has no newline whole, so it holds everything head sends.
    head -c "$(($2 * 1048576))" /dev/zero | tail -n 1 >/dev/null
    exit $? ;;
  sandbox)
    env | grep '^IEXEC_' | sort > "$IEXEC_OUT/env.txt"
    if touch "$IEXEC_IN/probe" 2>/dev/null; then echo writable; else echo read-only; fi > "$IEXEC_OUT/iexec_in.txt"
    # Interfaces other than loopback, one per line (none expected).
    tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | grep -v '^lo$' > "$IEXEC_OUT/interfaces.txt" || true
    cat /sys/fs/cgroup/memory/memory.limit_in_bytes > "$IEXEC_OUT/memory.txt" 2>/dev/null \
      || cat /sys/fs/cgroup/memory.max > "$IEXEC_OUT/memory.txt"
    cat /sys/fs/cgroup/pids/pids.max > "$IEXEC_OUT/pids.txt" 2>/dev/null \
      || cat /sys/fs/cgroup/pids.max > "$IEXEC_OUT/pids.txt"
    # CPU quota and period in microseconds ("50000 100000" is half a core).
    if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
      echo "$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"
    else
      cat /sys/fs/cgroup/cpu.max
    fi > "$IEXEC_OUT/cpu.txt"
    echo '{"deterministic-output-path":"/iexec_out"}' > "$IEXEC_OUT/computed.json"
    echo "sandbox described" ;;
  *)
    echo "unknown behaviour: $*" >&2
    exit 64 ;;
esac
