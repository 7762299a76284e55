#!/usr/bin/env bash
# dump_all.sh: GOSHIM_DUMP_SIGNAL=QUIT dumps every green thread (issue 6 observability):
# asserts 14 Gs listed, 10 waiting on the pipe's fd with reader_thread in their
# backtrace, 3 in sleep with sleeper_thread, main marked; and that a malformed
# GOSHIM_DUMP_SIGNAL is refused with one line and exit status 2.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_lib
scale_build dump_all

err=$(mktemp)
trap 'rm -f "$err"' EXIT
for p in 1 4; do
    out=$(timeout -k 5 60 env LD_PRELOAD="$LIB" GOSHIM_PROCS=$p GOSHIM_DUMP_SIGNAL=QUIT \
        "$OUT/dump_all" 2>"$err") || { echo "FAIL dump_all procs=$p: exit status $?"; exit 1; }
    heads=$(grep -c '^G[0-9]' "$err" || true)
    fdw=$(grep -c '^G[0-9]* waiting on fd' "$err" || true)
    readers=$(grep -c ' reader_thread+' "$err" || true)
    sleepers=$(grep -c ' sleeper_thread+' "$err" || true)
    mainl=$(grep -c '(main)$' "$err" || true)
    got="out=$out gs=$heads fd=$fdw readers=$readers sleepers=$sleepers main=$mainl"
    want="out=done gs=14 fd=10 readers=10 sleepers=3 main=1"
    if [[ $got != "$want" ]]; then
        echo "FAIL dump_all procs=$p: $got, want $want"
        head -20 "$err"
        exit 1
    fi
    echo "ok   dump_all procs=$p: $got"
done
rc=0
msg=$(env LD_PRELOAD="$LIB" GOSHIM_DUMP_SIGNAL=NOPE /bin/true 2>&1) || rc=$?
if [[ $rc != 2 || $msg != *"GOSHIM_DUMP_SIGNAL=NOPE: expected a signal name or number"* ]]; then
    echo "FAIL dump_all: malformed GOSHIM_DUMP_SIGNAL gave status $rc, '$msg'"
    exit 1
fi
echo "ok   dump_all: malformed GOSHIM_DUMP_SIGNAL refused"
