#!/usr/bin/env bash
# dump_running.sh: a dump lists a green thread running on another OS thread with its
# backtrace, read from its registers while the preemption signal holds it, and one
# blocked in a system call the shim cannot see with that call's number.
# tests/scale/dump_running.c sets it up with GOSHIM_PROCS=1: a blocker in a raw
# read(2) of stdin and a spinner looping in spin_here, each on an OS thread of its own
# (sysmon hands the P over), main waiting in join. The dump (GOSHIM_DUMP_SIGNAL=USR2,
# sent from here to the process) runs in the handler on the OS thread that takes it:
#   rounds 1-3 ("maskspin": the spinner blocks USR2): the blocker's: the blocker is
#     listed from the handler, raw_read_here in its backtrace, and the spinner through
#     the new path: running, spin_here in its backtrace;
#   rounds 4-5 ("mask": the blocker blocks USR2): the spinner's: the spinner is listed
#     from the handler, spin_here in its backtrace, and the blocker through the new
#     path: running, "(in system call 0)".
# Each time the program then ends as natively ("read 1, done"). With
# GOSHIM_DEBUG=asyncpreemptoff=1 the running G is listed without a backtrace.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_lib
scale_build dump_running

dir=$(mktemp -d)
pid=""
cleanup() {
    if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT

one_round() {   # $1: round, $2: extra env, $3: program argument
    local r=$1 extra=$2 arg=$3
    mkfifo "$dir/in$r"
    # exec'd by env: $! is the program itself, which the signal must reach.
    env LD_PRELOAD="$LIB" GOSHIM_PROCS=1 GOSHIM_DUMP_SIGNAL=USR2 $extra \
        "$OUT/dump_running" $arg <"$dir/in$r" >"$dir/out$r" 2>"$dir/err$r" &
    pid=$!
    exec 7>"$dir/in$r"
    for ((i = 0; i < 200; i++)); do
        grep -q spinning "$dir/out$r" 2>/dev/null && break
        sleep 0.05
    done
    sleep 0.3   # the blocker is in its read before the spinner starts
    kill -USR2 "$pid"
    for ((i = 0; i < 100; i++)); do
        grep -q 'spin_here\|no backtrace' "$dir/err$r" && grep -q '^G3 ' "$dir/err$r" && break
        sleep 0.05
    done
    sleep 0.2
    printf x >&7
    exec 7>&-
    for ((i = 0; i < 200; i++)); do   # at most 10 s, then it counts as hung
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    local rc=0
    wait "$pid" || rc=$?
    pid=""
    echo "rc=$rc out=$(tr '\n' ' ' <"$dir/out$r")"
}

fail=0
for r in 1 2 3 4 5; do
    arg=maskspin
    ((r >= 4)) && arg=mask
    res=$(one_round $r "" "$arg")
    err=$dir/err$r
    spin=$(awk '/^G[0-9]/ { g = $0 } /spin_here\+/ && g { print g; exit }' "$err")
    blk=$(awk '/^G[0-9]/ { g = $0 } (/raw_read_here\+/ || /\(in system call 0\)/) && g { print g; exit }' "$err")
    sys=$(grep -c '(in system call 0)' "$err" || true)
    want_sys=0 how="the spinner's backtrace from its OS thread"
    if [[ $arg == mask ]]; then want_sys=1 how="the blocker's system call"; fi
    if [[ $res != "rc=0 out=spinning read 1, done " || $spin != *" running, M"* ||
          $blk != *" running, M"* || $sys != "$want_sys" ]]; then
        echo "FAIL dump_running round $r${arg:+ ($arg)}: $res; spinner '$spin'; blocker '$blk';" \
            "system call lines $sys, want $want_sys"
        head -30 "$err"
        fail=1
        continue
    fi
    echo "ok   dump_running round $r${arg:+ ($arg)}: spinner in spin_here, blocker in its read ($how)"
done
res=$(one_round 6 "GOSHIM_DEBUG=asyncpreemptoff=1" "")
if [[ $res != "rc=0 out=spinning read 1, done " ]] || ! grep -q '(no backtrace: asyncpreemptoff=1)' "$dir/err6"; then
    echo "FAIL dump_running asyncpreemptoff=1: $res"
    head -30 "$dir/err6"
    fail=1
else
    echo "ok   dump_running asyncpreemptoff=1: $(grep -c 'no backtrace: asyncpreemptoff' "$dir/err6") G(s) listed without a backtrace"
fi
exit $fail
