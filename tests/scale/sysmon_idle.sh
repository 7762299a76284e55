#!/usr/bin/env bash
# sysmon_idle.sh: while no green thread runs, the monitor thread parks (Go's sysmon
# does too): in an idle process (tests/scale/sysmon_idle.c: a reader parked on a pipe,
# main parked reading stdin) the monitor thread reaches its park, a futex wait
# (/proc/PID/task/TID/syscall: 202, FUTEX_WAIT_PRIVATE 0x80; its tick is a
# clock_nanosleep, 230), within 20 s, and then does not wake at all for 2 s: its
# voluntary_ctxt_switches is the same before and after, and it is still in that same
# futex wait (a wake-up would be counted when it slept again, or seen as another call
# or "running"). It used to tick every 20 ms (about 100 times in 2 s). When an OS thread wakes up it brings sysmon back:
# with GOSHIM_PROCS=1 main then stalls in a raw read the shim cannot see, and the
# helper created just before runs only if sysmon hands the P over; the test waits
# for its "helper ran" (30 s at most; sysmon's park lasts a minute, so a lost wake-up
# fails here) before it ends the stall. The output is the native one. The monitor
# thread is found by its name, "goshim sysmon" (/proc/PID/task/TID/comm).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_lib
scale_build sysmon_idle

dir=$(mktemp -d)
pid=""
cleanup() {
    exec 7>&- 2>/dev/null || true
    if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT

wait_for() {   # wait_for FILE TEXT SECONDS
    local i
    for ((i = 0; i < $3 * 20; i++)); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

want="idle helper ran raw read ok, helper wrote 1, reader read 1 "
for procs in 1 2; do
    mkfifo "$dir/in$procs"
    env LD_PRELOAD="$LIB" GOSHIM_PROCS=$procs "$OUT/sysmon_idle" <"$dir/in$procs" >"$dir/out" 2>"$dir/err" &
    pid=$!
    exec 7>"$dir/in$procs"
    if ! wait_for "$dir/out" idle 20; then
        echo "FAIL sysmon_idle procs=$procs: no 'idle' line"
        exit 1
    fi
    sysmon=""
    for t in /proc/$pid/task/*; do
        [[ $(cat "$t/comm" 2>/dev/null) == "goshim sysmon" ]] && sysmon=$t
    done
    if [[ -z $sysmon ]]; then
        echo "FAIL sysmon_idle procs=$procs: no thread named 'goshim sysmon'"
        exit 1
    fi
    # Its park: state S in futex(addr, FUTEX_WAIT_PRIVATE, ...); the backoff takes ~40 ms.
    parked_in() { local s; s=$(cat "$sysmon/syscall" 2>/dev/null) || return 1
        [[ $s =~ ^202\ 0x[0-9a-f]+\ 0x80\  ]] && echo "$s"; }
    for ((i = 0; i < 400; i++)); do
        park0=$(parked_in) && break
        sleep 0.05
    done
    if [[ -z ${park0:-} ]]; then
        echo "FAIL sysmon_idle procs=$procs: sysmon never parked in 20 s idle (syscall: $(cat "$sysmon/syscall"))"
        exit 1
    fi
    w0=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "$sysmon/status")
    sleep 2
    w1=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "$sysmon/status")
    park1=$(cat "$sysmon/syscall")
    wakes=$((w1 - w0))
    [[ $park1 == "$park0" ]] || wakes="$wakes (and it left its park: $park1)"
    echo go >&7
    if ! wait_for "$dir/out" "helper ran" 30; then
        echo "FAIL sysmon_idle procs=$procs: the helper did not run during the raw read (sysmon not woken?)"
        exit 1
    fi
    echo end >&7
    exec 7>&-
    rc=0
    wait "$pid" || rc=$?
    pid=""
    got=$(tr '\n' ' ' <"$dir/out")
    if [[ $rc != 0 || $got != "$want" || $wakes != 0 ]]; then
        echo "FAIL sysmon_idle procs=$procs: status $rc, output '$got', sysmon woke $wakes times in 2 s idle"
        head -5 "$dir/err"
        exit 1
    fi
    echo "ok   sysmon_idle procs=$procs: sysmon parked, woke $wakes times in 2 s idle; the stall after it was handed off; output as native"
done
