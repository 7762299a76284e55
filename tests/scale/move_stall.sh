#!/usr/bin/env bash
# move_stall.sh: with started green threads moving (GOSHIM_DEBUG=move=1, a thread
# pointer per green thread), a green thread blocked in a raw syscall(SYS_read) the
# shim cannot see no longer stops the others: sysmon hands its OS thread's P, run
# queue, runnext and timers to another, and the counting thread goes on (at least a
# fifth of its native count, the machine being shared), at GOSHIM_PROCS 1 and 2,
# whether main or another thread is the one blocked. (pinned_stall.sh asserts the
# default mode, where it stops.) Skipped where the CPU lacks FSGSBASE (exit 77).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_lib
scale_build pinned_stall

hw=$(LD_SHOW_AUXV=1 /bin/true | awk '/AT_HWCAP2/ {print $2}')
if ! (( ${hw:-0} & 2 )); then
    echo "SKIP move_stall: no FSGSBASE (Gs stay pinned)"
    exit 77
fi
re='^stalled: ([0-9]+) resumed: 1 read: 1$'
for who in main thread; do
    arg=()
    [[ $who == thread ]] && arg=(thread)
    native=$(timeout -k 5 60 "$OUT/pinned_stall" "${arg[@]}")
    [[ $native =~ $re ]] || { echo "FAIL move_stall native ($who): '$native'"; exit 1; }
    n=${BASH_REMATCH[1]}
    for p in 1 2; do
        got=$(timeout -k 5 60 env LD_PRELOAD="$LIB" GOSHIM_PROCS=$p GOSHIM_DEBUG=move=1 \
            "$OUT/pinned_stall" "${arg[@]}") || { echo "FAIL move_stall procs=$p ($who): exit status $?"; exit 1; }
        if ! [[ $got =~ $re ]] || (( BASH_REMATCH[1] == 0 || BASH_REMATCH[1] * 5 < n )); then
            echo "FAIL move_stall procs=$p ($who blocked): '$got', native '$native': the counting thread stopped"
            exit 1
        fi
        echo "ok   move_stall procs=$p ($who blocked): '$got'; native '$native'"
    done
done
