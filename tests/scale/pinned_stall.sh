#!/usr/bin/env bash
# pinned_stall.sh: with GOSHIM_PROCS=1, a green thread blocked in a syscall the shim
# cannot see (a raw read) and another thread counting. Natively the other thread
# counts on during the stall. In the default mode where the CPU has FSGSBASE
# (started green threads move) it counts on too: sysmon hands the stuck OS thread's
# P and queue to another (at least a fifth of the native count: the machine is
# shared). Where started green threads stay on their OS thread (tp mode,
# GOSHIM_DEBUG=move=0, and the pinned mode) it stops until the read returns, and
# then resumes (README, Limits). Asserts each.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_lib
scale_build pinned_stall

native=$(timeout -k 5 60 "$OUT/pinned_stall")
re='^stalled: ([0-9]+) resumed: 1 read: 1$'
if ! [[ $native =~ $re ]] || [[ $native == "stalled: 0 "* ]]; then
    echo "FAIL pinned_stall native: the other thread did not run during the stall: $native"
    exit 1
fi
n=${BASH_REMATCH[1]}
hw=$(LD_SHOW_AUXV=1 /bin/true | awk '/AT_HWCAP2/ {print $2}')
moving=0
(( ${hw:-0} & 2 )) && moving=1
# No asynchronous preemption: on a loaded machine the OS thread can be off the CPU for
# 10 ms between the count being read and the raw read; sysmon then preempts the reader
# there and the counter counts once outside the stall (seen in CI: stalled: 1).
for mode in default move=0 pinned=1; do
    dbg=asyncpreemptoff=1
    [[ $mode != default ]] && dbg=$dbg,$mode
    got=$(timeout -k 5 60 env LD_PRELOAD="$LIB" GOSHIM_PROCS=1 GOSHIM_DEBUG=$dbg "$OUT/pinned_stall") || {
        echo "FAIL pinned_stall $mode: exit status $?"
        exit 1
    }
    if [[ $mode == default ]] && ((moving)); then
        if ! [[ $got =~ $re ]] || (( BASH_REMATCH[1] == 0 || BASH_REMATCH[1] * 5 < n )); then
            echo "FAIL pinned_stall procs=1 $mode (moving): '$got', native '$native': the counting thread stopped"
            exit 1
        fi
    elif [[ $got != "stalled: 0 resumed: 1 read: 1" ]]; then
        echo "FAIL pinned_stall procs=1 $mode: '$got', want 'stalled: 0 resumed: 1 read: 1'"
        exit 1
    fi
    echo "ok   pinned_stall procs=1 $mode: '$got'; native '$native'"
done
