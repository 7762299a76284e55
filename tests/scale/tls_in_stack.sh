#!/usr/bin/env bash
# tls_in_stack.sh: in tp mode (a thread pointer per green thread: x86-64 with
# FSGSBASE, the default there), each green thread's TCB and static TLS lie in
# its own stack, as natively (tests/scale/tls_in_stack.c). Natively, then
# preloaded at GOSHIM_PROCS 1 and 2, and with started threads moving
# (GOSHIM_DEBUG=move=1); the output must be the native one. Skipped where the
# CPU has no FSGSBASE (the pinned mode keeps TLS in the OS thread's block): exit 77.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_lib
if ! grep -qw fsgsbase /proc/cpuinfo; then
    echo "SKIP tls_in_stack: no FSGSBASE (pinned mode)"
    exit 77
fi
scale_build tls_in_stack

want=$(timeout -k 5 60 "$OUT/tls_in_stack")
fail=0
for run in 1 2 move; do
    rc=0
    if [[ $run == move ]]; then
        got=$(timeout -k 5 60 env LD_PRELOAD="$LIB" GOSHIM_DEBUG=move=1 "$OUT/tls_in_stack") || rc=$?
    else
        got=$(timeout -k 5 60 env LD_PRELOAD="$LIB" GOSHIM_PROCS=$run "$OUT/tls_in_stack") || rc=$?
    fi
    label=$([[ $run == move ]] && echo "move=1" || echo "procs=$run")
    if [[ $rc != 0 || $got != "$want" ]]; then
        echo "FAIL tls_in_stack $label: status $rc, '${got//$'\n'/; }', want '${want//$'\n'/; }'"
        fail=1
    else
        echo "ok   tls_in_stack $label: ${got//$'\n'/; }"
    fi
done
exit $fail
