#!/usr/bin/env bash
# schedtrace.sh: GOSHIM_DEBUG=schedtrace=MS prints one line per MS milliseconds on stderr,
#   goshim: SCHED <elapsed>ms: procs=<P> threads=<T> idleprocs=<I> runqueue=<N> gs=<G>
#           preempts=<N> handoffs=<N> [<n> <n> ...]
# (one line; the bracket holds the local run queue length of each OS thread). Runs
# schedtrace.c (4 threads spinning 10 ms and sleeping 40 ms in turn, about 0.5 s)
# preloaded with GOSHIM_DEBUG=schedtrace=100 at GOSHIM_PROCS=1 and 2 and asserts: the
# program's own output ("done", exit status 0); at least 2 SCHED lines; every SCHED line
# in the format above, with procs= equal to GOSHIM_PROCS, idleprocs= at most that, and
# elapsed times that never go back. Without GOSHIM_DEBUG no SCHED line appears. A
# malformed GOSHIM_DEBUG (schedtrace=abc, nosuchkey=1) is refused as the other
# variables are: one line on stderr naming GOSHIM_DEBUG, exit status 2, and the program
# does not run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_lib
scale_build schedtrace

err=$(mktemp)
trap 'rm -f "$err"' EXIT
re='^goshim: SCHED ([0-9]+)ms: procs=([0-9]+) threads=([0-9]+) idleprocs=([0-9]+) runqueue=([0-9]+) gs=([0-9]+) preempts=([0-9]+) handoffs=([0-9]+) moves=([0-9]+) mode=(moving|tp|pinned) \[[0-9]+( [0-9]+)*\]$'

for p in 1 2; do
    rc=0
    out=$(timeout -k 5 60 env LD_PRELOAD="$LIB" GOSHIM_PROCS=$p GOSHIM_DEBUG=schedtrace=100 \
        "$OUT/schedtrace" 2>"$err") || rc=$?
    if [[ $rc != 0 || $out != "done" ]]; then
        echo "FAIL schedtrace procs=$p: exit status $rc, stdout '$out', want 0 and 'done'"
        head -n 10 "$err"
        exit 1
    fi
    lines=0 last=-1
    while IFS= read -r l; do
        [[ $l == "goshim: SCHED"* ]] || continue
        if ! [[ $l =~ $re ]]; then
            echo "FAIL schedtrace procs=$p: malformed line: $l"
            exit 1
        fi
        el=${BASH_REMATCH[1]} procs=${BASH_REMATCH[2]} idle=${BASH_REMATCH[4]}
        if ((procs != p || idle > p || el < last)); then
            echo "FAIL schedtrace procs=$p: procs=$procs idleprocs=$idle elapsed ${el}ms after ${last}ms: $l"
            exit 1
        fi
        last=$el
        lines=$((lines + 1))
    done <"$err"
    if ((lines < 2)); then
        echo "FAIL schedtrace procs=$p: $lines SCHED lines on stderr, want at least 2"
        head -n 10 "$err"
        exit 1
    fi
    echo "ok   schedtrace procs=$p: $lines lines, e.g. $(grep -m 1 '^goshim: SCHED' "$err")"
done

# The mode: moving (a thread pointer per green thread, started ones moving) where
# the CPU has FSGSBASE (AT_HWCAP2 bit 1), by default and with move=1; tp there with
# move=0; pinned when asked or without FSGSBASE.
fsgs=0
hw=$(LD_SHOW_AUXV=1 /bin/true | awk '/AT_HWCAP2/ {print $2}')
(( ${hw:-0} & 2 )) && fsgs=1
for m in default pinned=1 move=1 move=0; do
    dbg=schedtrace=100
    [[ $m != default ]] && dbg=$dbg,$m
    timeout -k 5 60 env LD_PRELOAD="$LIB" GOSHIM_PROCS=2 GOSHIM_DEBUG=$dbg "$OUT/schedtrace" \
        >/dev/null 2>"$err" || true
    w=pinned
    ((fsgs)) && [[ $m == default || $m == move=1 ]] && w=moving
    ((fsgs)) && [[ $m == move=0 ]] && w=tp
    if ! grep -q "^goshim: mode: $w" "$err" || ! grep -q "^goshim: SCHED .* mode=$w " "$err"; then
        echo "FAIL schedtrace: $m: want mode $w; got: $(grep -m 1 'mode' "$err")"
        exit 1
    fi
    echo "ok   schedtrace $m: $(grep -m 1 '^goshim: mode' "$err")"
done

out=$(timeout -k 5 60 env LD_PRELOAD="$LIB" GOSHIM_PROCS=2 "$OUT/schedtrace" 2>"$err") || {
    echo "FAIL schedtrace: without GOSHIM_DEBUG: exit status $?"
    exit 1
}
if [[ $out != "done" ]] || grep -q '^goshim: SCHED' "$err"; then
    echo "FAIL schedtrace: without GOSHIM_DEBUG: stdout '$out', $(grep -c '^goshim: SCHED' "$err" || true) SCHED lines"
    exit 1
fi
echo "ok   schedtrace: no SCHED lines without GOSHIM_DEBUG"

for bad in schedtrace=abc nosuchkey=1; do
    rc=0
    out=$(timeout -k 5 60 env LD_PRELOAD="$LIB" GOSHIM_DEBUG=$bad "$OUT/schedtrace" 2>"$err") || rc=$?
    nl=$(wc -l <"$err")
    msg=$(head -n 1 "$err")
    if [[ $rc != 2 || -n $out || $nl != 1 || $msg != "goshim: "*GOSHIM_DEBUG* ]]; then
        echo "FAIL schedtrace: GOSHIM_DEBUG=$bad gave status $rc, stdout '$out', $nl lines on stderr: '$msg'"
        exit 1
    fi
    echo "ok   schedtrace: GOSHIM_DEBUG=$bad refused: $msg"
done
