#!/usr/bin/env bash
# tls_moves.sh: errno and __thread exact across a million moves (issue 11). The
# program (tests/scale/tls_moves.c, -O2 -fPIC, with a linked -fPIC library and a
# dlopen'ed one, tls_moves_lib.c) yields in 2,000 threads, checking errno and a
# __thread variable of each of the three through addresses kept across the
# yield, until it has seen MOVES resumptions on another OS thread (raw gettid).
# Natively and preloaded in tp mode (started threads stay put) with 1,000 wanted:
# "mismatches: 0", "moves: too few" (it stops at its bound). Moving mode
# (GOSHIM_DEBUG=move=1) at GOSHIM_PROCS 2 and 4 with 1,000,000 wanted:
# "mismatches: 0", "moves: enough". Skipped without FSGSBASE (no moving mode).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_lib
if ! grep -qw fsgsbase /proc/cpuinfo; then
    echo "ok   tls_moves: skipped (no FSGSBASE: pinned mode only)"
    exit 0
fi
cc -O2 -g -fPIC -shared -o "$OUT/libtls_moves_lib.so" tests/scale/tls_moves_lib.c
cc -O2 -g -fPIC -shared -DDYN -o "$OUT/libtls_moves_dyn.so" tests/scale/tls_moves_lib.c
cc -O2 -g -fPIC -pthread -Wall -o "$OUT/tls_moves" tests/scale/tls_moves.c -L"$OUT" \
    -ltls_moves_lib -Wl,-rpath,'$ORIGIN' -ldl

fail=0
# check LABEL WANT_OUTPUT CMD...
check() {
    local label=$1 want=$2 got rc=0
    shift 2
    got=$(timeout -k 5 300 "$@" 2>"$OUT/tls_moves.err") || rc=$?
    local counts
    counts=$(grep '^tls_moves:' "$OUT/tls_moves.err" || true)
    if [[ $rc != 0 || $got != "$want" ]]; then
        echo "FAIL tls_moves $label: status $rc, '${got//$'\n'/; }', want '${want//$'\n'/; }'; $counts"
        fail=1
    else
        echo "ok   tls_moves $label: ${got//$'\n'/; }; ${counts#tls_moves: }"
    fi
}
few=$'mismatches: 0\nmoves: too few'
enough=$'mismatches: 0\nmoves: enough'
check native "$few" "$OUT/tls_moves" 1000 50
check "tp mode" "$few" env LD_PRELOAD="$LIB" GOSHIM_PROCS=2 GOSHIM_DEBUG=move=0 "$OUT/tls_moves" 1000 50
for p in 2 4; do
    check "moving procs=$p" "$enough" env LD_PRELOAD="$LIB" GOSHIM_PROCS=$p GOSHIM_DEBUG=move=1 \
        "$OUT/tls_moves" 1000000
done
exit $fail
