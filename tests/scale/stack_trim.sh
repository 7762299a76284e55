#!/usr/bin/env bash
# stack_trim.sh: stacks freed by joined threads give their pages back
# (tests/scale/stack_trim.c: 2,000 threads write 128 KiB of stack each, then are joined;
# the process's RSS must come back within 16 MiB of where it started). Natively and
# preloaded with GOSHIM_PROCS 1 and 2; the output must be the native one.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_lib
scale_build stack_trim

want="peak above 125 MiB: yes; back within 16 MiB: yes"
fail=0
for run in native 1 2; do
    rc=0
    if [[ $run == native ]]; then
        got=$(timeout -k 5 60 "$OUT/stack_trim") || rc=$?
    else
        got=$(timeout -k 5 60 env LD_PRELOAD="$LIB" GOSHIM_PROCS=$run "$OUT/stack_trim") || rc=$?
    fi
    label=$([[ $run == native ]] && echo native || echo "procs=$run")
    if [[ $rc != 0 || $got != "$want" ]]; then
        echo "FAIL stack_trim $label: status $rc, '$got', want '$want'"
        fail=1
    else
        echo "ok   stack_trim $label: $got"
    fi
done
exit $fail
