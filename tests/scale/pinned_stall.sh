#!/usr/bin/env bash
# pinned_stall.sh: with GOSHIM_PROCS=1, a green thread blocked in a syscall the shim
# cannot see stops the others until it returns (README, Limits), and they resume;
# natively the other thread counts on during the stall. Asserts both.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_lib
scale_build pinned_stall

native=$(timeout -k 5 60 "$OUT/pinned_stall")
# No asynchronous preemption: on a loaded machine the OS thread can be off the CPU for
# 10 ms between the count being read and the raw read; sysmon then preempts the reader
# there and the counter counts once outside the stall (seen in CI: stalled: 1).
got=$(timeout -k 5 60 env LD_PRELOAD="$LIB" GOSHIM_PROCS=1 GOSHIM_DEBUG=asyncpreemptoff=1 "$OUT/pinned_stall") || {
    echo "FAIL pinned_stall: exit status $?"
    exit 1
}
if [[ $native == "stalled: 0 "* ]]; then
    echo "FAIL pinned_stall native: the other thread did not run during the stall: $native"
    exit 1
fi
if [[ $got != "stalled: 0 resumed: 1 read: 1" ]]; then
    echo "FAIL pinned_stall procs=1: '$got', want 'stalled: 0 resumed: 1 read: 1'"
    exit 1
fi
echo "ok   pinned_stall: native '$native'; procs=1 '$got'"
