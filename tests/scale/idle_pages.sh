#!/usr/bin/env bash
# idle_pages.sh: the stack pages an idle thread-per-connection thread costs
# (tests/scale/idle_pages.c: 200 threads each waiting in read() on a socket
# with a 4 KiB buffer on its stack, as demos/echo_server.c's): two, in tp mode
# (a thread pointer per green thread, its glibc thread block in its stack:
# the block's cold part in the stack's untouched top page, the struct g in
# the block's header, the scheduler's search on the M's own stack; sched/
# tls.c), in the pinned mode and with started threads moving, at GOSHIM_PROCS
# 1 and 2. Counted by `goshim dump PID --json` (stack_committed, mincore) for
# every thread waiting on its fd; the first few threads may have run the
# one-time lazy binding of read and write (ld.so's resolver, deep), so at
# least THREADS - 8 must be at two pages and none above four.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_lib
scale_build idle_pages
[[ -x $ROOT/build/goshim ]] || { echo "FAIL idle_pages: build/goshim is missing"; exit 1; }

fail=0
for mode in tp pinned move; do
    for p in 1 2; do
        dbg=""
        [[ $mode == pinned ]] && dbg="pinned=1"
        [[ $mode == move ]] && dbg="move=1"
        label="$mode procs=$p"
        coproc PROG { exec timeout -k 5 60 env LD_PRELOAD="$LIB" GOSHIM_PROCS=$p \
            GOSHIM_DEBUG="$dbg" "$OUT/idle_pages"; }
        pid=$PROG_PID
        line=""
        read -r -t 30 line <&"${PROG[0]}" || true
        if [[ $line != ready ]]; then
            echo "FAIL idle_pages $label: no 'ready' ('$line')"
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            fail=1
            continue
        fi
        # timeout is the coproc; the program is its child.
        prog=$(pgrep -P "$pid" -x idle_pages || echo "$pid")
        json=$("$ROOT/build/goshim" dump "$prog" --json 2>&1) || true
        echo go >&"${PROG[1]}"
        read -r -t 30 line <&"${PROG[0]}" || true
        wait "$pid" 2>/dev/null || true
        counts=$(python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
c = [g["stack_committed"] for g in d["green_threads"]
     if g["wait"] and g["wait"].get("reason") == "fd" and not g["main"]]
print(len(c), sum(1 for x in c if x <= 8192), max(c) if c else 0)
' <<< "$json" 2>/dev/null || echo "0 0 0")
        read -r n two most <<< "$counts"
        if [[ $line != done || $n != 200 || $two -lt 192 || $most -gt 16384 ]]; then
            echo "FAIL idle_pages $label: end '$line', $n waiting, $two at <= 2 pages, most $most B"
            fail=1
        else
            echo "ok   idle_pages $label: $n waiting, $two at <= 2 pages, most $most B"
        fi
    done
done
exit $fail
