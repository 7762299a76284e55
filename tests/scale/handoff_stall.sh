#!/usr/bin/env bash
# handoff_stall.sh: the sysmon hand-off (README, Limits). While main's OS thread is stuck
# in a call the shim cannot see (a raw read made with the syscall instruction; and 10 such stalls in a row), a
# thread created just before the stall must run on another OS thread,
# and that thread ends the stall: without the hand-off the program hangs and the timeout
# fails the run. Each kind runs natively, and preloaded with GOSHIM_PROCS=1 (a thread
# started before the stall counts during it where started threads move, the default
# with FSGSBASE; in tp mode, GOSHIM_DEBUG=move=0, and the pinned mode it stays on the
# stuck OS thread and must count 0 times) and GOSHIM_PROCS=2; preloaded, at most GOSHIM_PROCS + 3 OS threads may remain once the
# extra threads are joined (handoff_stall.c checks Threads:). Two kinds no longer stall
# the OS thread: getaddrinfo waiting for a DNS reply runs on a helper thread
# (sched/offload.c), and fgets on an empty pipe first waits in the netpoller
# (shim/stdio.c); with GOSHIM_PROCS=1 the thread started before them counts during the
# wait, as natively (at least once).
# getaddrinfo runs inside `unshare -rmn` (user, mount and network namespaces): lo only,
# /etc/resolv.conf bind-mounted to `nameserver 127.0.0.1`, and tests/scale/handoff_dns.c
# as the DNS server, so no query leaves the machine. Where such namespaces are not
# permitted (neither root nor unprivileged user namespaces) that case is skipped with a
# SKIP line: sending the query to the machine's real resolver is not an option.
# Environment: HANDOFF_TIMEOUT (default 60) bounds each run, in seconds.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_lib
scale_build handoff_stall
scale_build handoff_dns

T=${HANDOFF_TIMEOUT:-60}
CTL=5354 # handoff_dns's control port, inside the private network namespace
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# timeout 30 is glibc's maximum; one attempt: the reply comes when the hand-off works.
printf 'nameserver 127.0.0.1\noptions attempts:1 timeout:30\n' >"$tmp/resolv.conf"
printf 'hosts: files dns\n' >"$tmp/nsswitch.conf"

# Run inside the namespaces: $1 tmp dir, $2 handoff_dns, $3 control port, then the command.
# shellcheck disable=SC2016
NS_SCRIPT='
set -eu
tmp=$1 dnsbin=$2 ctl=$3
shift 3
mount --bind "$tmp/resolv.conf" /etc/resolv.conf
mount --bind "$tmp/nsswitch.conf" /etc/nsswitch.conf
# glibc would ask a host nscd over its unix socket; hide it.
if [ -d /var/run/nscd ]; then mount -t tmpfs none /var/run/nscd; fi
rm -f "$tmp/ready"
"$dnsbin" "$ctl" "$tmp/ready" 2>"$tmp/dns.log" &
dns=$!
i=0
while [ ! -e "$tmp/ready" ] && [ $i -lt 200 ] && kill -0 $dns 2>/dev/null; do
    sleep 0.05
    i=$((i + 1))
done
if [ ! -e "$tmp/ready" ]; then
    echo "handoff_dns did not start" >&2
    kill $dns 2>/dev/null || true
    exit 3
fi
rc=0
"$@" || rc=$?
kill $dns 2>/dev/null || true
wait $dns 2>/dev/null || true
exit $rc
'

# Started threads move (the default where the CPU has FSGSBASE: AT_HWCAP2 bit 1).
moving=0
hw=$(LD_SHOW_AUXV=1 /bin/true | awk '/AT_HWCAP2/ {print $2}')
(( ${hw:-0} & 2 )) && moving=1
declare -A result=([fgets]=go [syscall]=1 [getaddrinfo]=EAI_NONAME [repeat]=10/10)
status=0

# run KIND LABEL [ENV...]: one run of handoff_stall KIND under env ENV...; checks its line.
run() {
    local k=$1 label=$2 rc=0 got want
    shift 2
    local cmd=(env "$@" "$OUT/handoff_stall" "$k")
    rm -f "$tmp/dns.log"
    if [[ $k == getaddrinfo ]]; then
        got=$(timeout -k 5 "$T" unshare -rmn bash -c "$NS_SCRIPT" handoff-ns \
            "$tmp" "$OUT/handoff_dns" "$CTL" "${cmd[@]}" "$CTL" 2>"$tmp/err") || rc=$?
    else
        got=$(timeout -k 5 "$T" "${cmd[@]}" 2>"$tmp/err") || rc=$?
    fi
    if [[ ($label == "procs=1 tp" || ($label == procs=1 && $moving == 0)) && $k != getaddrinfo && $k != fgets ]]; then
        want="kind=$k new_during=yes old_during=0 threads_ok=yes result=${result[$k]}"
        [[ $got == "$want" ]] && ((rc == 0)) && {
            echo "ok   handoff_stall $k $label: $got"
            return
        }
    else
        local n='[0-9]+'
        # The old thread ran meanwhile: beside a helper or the netpoller, and, where
        # started threads move (procs=1 in the default mode with FSGSBASE), beside
        # any stall.
        [[ $k == getaddrinfo || $k == fgets || $label == procs=1 ]] && n='[1-9][0-9]*'
        want="kind=$k new_during=yes old_during=N threads_ok=yes result=${result[$k]}"
        [[ $got =~ ^kind=$k\ new_during=yes\ old_during=$n\ threads_ok=yes\ result=${result[$k]}$ ]] &&
            ((rc == 0)) && {
            echo "ok   handoff_stall $k $label: $got"
            return
        }
    fi
    if ((rc == 124 || rc == 137)); then
        echo "FAIL handoff_stall $k $label: timeout after ${T}s (the thread that ends the stall never ran)"
    else
        echo "FAIL handoff_stall $k $label: exit status $rc, printed '$got', want '$want'"
    fi
    sed 's/^/    /' "$tmp/err"
    [[ -f $tmp/dns.log ]] && sed 's/^/    dns: /' "$tmp/dns.log"
    status=1
}

for k in fgets syscall repeat getaddrinfo; do
    if [[ $k == getaddrinfo ]]; then
        err=$(timeout -k 5 10 unshare -rmn true 2>&1) || {
            # Not a failure of goshim: this machine forbids the namespaces that keep the
            # DNS traffic on 127.0.0.1. Said loudly; the other kinds still run.
            echo "SKIP handoff_stall getaddrinfo: cannot create user+mount+network namespaces" \
                "(unshare -rmn: ${err:-exit status $?}); this case needs them to keep DNS on 127.0.0.1"
            continue
        }
    fi
    run "$k" native -u LD_PRELOAD -u GOSHIM_PROCS
    # No asynchronous preemption at PROCS=1: on a loaded machine the OS thread can be off
    # the CPU for 10 ms between OLD's count being read and the stall, sysmon preempts the
    # reader there and OLD counts once, outside the stall (seen in CI: old_during=1).
    run "$k" procs=1 LD_PRELOAD="$LIB" GOSHIM_PROCS=1 GOSHIM_DEBUG=asyncpreemptoff=1
    ((moving)) && run "$k" "procs=1 tp" LD_PRELOAD="$LIB" GOSHIM_PROCS=1 \
        GOSHIM_DEBUG=asyncpreemptoff=1,move=0
    run "$k" procs=2 LD_PRELOAD="$LIB" GOSHIM_PROCS=2
done
exit $status
