#!/usr/bin/env bash
# maxthreads.sh: GOSHIM_MAXTHREADS caps the OS threads that run green threads. With
# GOSHIM_PROCS=1 and GOSHIM_MAXTHREADS=1, sysmon cannot hand the P of an OS thread stuck
# in a raw read to another: it says so once on stderr and the program still finishes as
# it does with one OS thread (tests/scale/pinned_stall.c: the stall ends when an outside
# process writes). A malformed or too small value is refused with one line, exit 2.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_lib
scale_build pinned_stall

err=$(mktemp)
trap 'rm -f "$err"' EXIT
got=$(timeout -k 5 60 env LD_PRELOAD="$LIB" GOSHIM_PROCS=1 GOSHIM_MAXTHREADS=1 \
    GOSHIM_DEBUG=schedtrace=100 "$OUT/pinned_stall" 2>"$err") || {
    echo "FAIL maxthreads: exit status $?"
    exit 1
}
warn=$(grep -c 'GOSHIM_MAXTHREADS=1 reached' "$err" || true)
handoffs=$(grep -o 'handoffs=[0-9]*' "$err" | sort -u | tr '\n' ' ')
if [[ $got != "stalled: 0 resumed: 1 read: 1" || $warn != 1 || $handoffs != "handoffs=0 " ]]; then
    echo "FAIL maxthreads: output '$got', warnings $warn, schedtrace '$handoffs'"
    head -5 "$err"
    exit 1
fi
echo "ok   maxthreads: '$got', one warning, no hand-off"
for v in 0 abc; do
    rc=0
    msg=$(env LD_PRELOAD="$LIB" GOSHIM_PROCS=2 GOSHIM_MAXTHREADS=$v /bin/true 2>&1) || rc=$?
    if [[ $rc != 2 || $msg != "goshim: GOSHIM_MAXTHREADS=$v: expected an integer from 2 to 1000000" ]]; then
        echo "FAIL maxthreads: GOSHIM_MAXTHREADS=$v gave status $rc, '$msg'"
        exit 1
    fi
done
echo "ok   maxthreads: malformed and too small values refused"
