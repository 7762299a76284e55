#!/usr/bin/env bash
# dump_10k.sh: the dump (GOSHIM_DUMP_SIGNAL) of a real server with 10,000 connections:
# demos/echo_server.c, preloaded with GOSHIM_PROCS=2 and GOSHIM_DUMP_SIGNAL=USR2, holds
# 10,000 idle connections from demos/loadgen.c (idle mode, as scripts/memconn.sh drives
# it); the script sends SIGUSR2 to the server and reads the dump on its stderr.
#
# The demo's main thread is its acceptor and every connection gets one detached thread
# (conn_main), so the dump must list exactly 10,001 green threads:
#   - the header "goshim: 10001 green threads on 2 OS threads (GOSHIM_PROCS=2)";
#   - 10,001 entries (lines matching ^G[0-9]), all "waiting on fd N (read)";
#   - main marked "(main)", waiting on the listening fd, with accept and main in its
#     backtrace;
#   - 10,000 entries with conn_main in their symbolised backtrace (10,000 such frame
#     lines), each waiting on an fd with read in its backtrace, on 10,000 distinct fds.
# Then loadgen must report that the server closed none of its connections, and both are
# stopped by PID. The first two entries and main's go to build/scale/dump_10k.excerpt
# (for the README). RLIMIT_NOFILE is raised to the hard limit (20,000 here).
# The time the dump took is printed, not asserted (about 1 s here; 11 minutes before the
# dump cached the names libunwind finds, sched/dump.c).
# Environment: GOSHIM_LIB (build/libgoshim.so), CC (cc), PORT (a free port below the
# ephemeral range; by default one from 21000 on, five tried), DUMP_LIMIT (300: seconds
# the dump may take; the whole test must stay within test.sh's SCALE_TIMEOUT of 900).
# CONNS (10000: connections; fewer only to try the script out quickly).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_lib

conns=${CONNS:-10000}
CC=${CC:-cc}
CFLAGS=(-O2 -g -pthread -Wall)	# as scripts/demo.sh builds the demos
PORT=${PORT:-$((21000 + $$ % 8000))}
DUMP_LIMIT=${DUMP_LIMIT:-300}
limit=$((DUMP_LIMIT + 120))	# what each process started here may take at most

fail() {
    echo "FAIL dump_10k: $*"
    exit 1
}

# The demos, built as scripts/demo.sh builds them (written beside, then renamed);
# loadgen is demos/loadgen.c with demos/loadcommon.c.
for d in echo_server loadgen; do
    srcs=("demos/$d.c")
    [[ $d == loadgen ]] && srcs+=(demos/loadcommon.c)
    "$CC" "${CFLAGS[@]}" -o "$OUT/.$d.$$" "${srcs[@]}" || fail "cannot build demos/$d.c"
    mv -f "$OUT/.$d.$$" "$OUT/$d"
done

ulimit -S -n "$(ulimit -H -n)"
(($(ulimit -n) >= conns + 100)) || fail "RLIMIT_NOFILE $(ulimit -n) is too low for $conns connections"

tmp=$(mktemp -d /tmp/dump_10k.XXXXXX)
spid=""	# the server (its timeout wrapper is stpid)
stpid=""
lpid=""	# loadgen's timeout wrapper, which passes SIGTERM on to loadgen

# stop PID: SIGTERM, then SIGKILL if it is still there after 5 s; reaps it if a child.
stop() {
    local p=$1 i
    kill -0 "$p" 2>/dev/null || return 0
    kill "$p" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$p" 2>/dev/null || break
        # A child that exited stays a zombie (kill -0 succeeds) until reaped.
        [[ $(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null) == Z ]] && break
        sleep 0.1
    done
    if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
    wait "$p" 2>/dev/null || true
}

cleanup() {
    # Only the processes this script started, by PID.
    if [[ -n $lpid ]]; then stop "$lpid"; fi
    if [[ -n $spid ]]; then stop "$spid"; fi
    if [[ -n $stpid ]]; then stop "$stpid"; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

alive() { kill -0 "$spid" 2>/dev/null; }
nfds() { local list=("/proc/$spid/fd/"*); echo "${#list[@]}"; }

# The server, bounded by a timeout; the inner bash writes its PID, then becomes env,
# then the server, so that the signal goes to the server and not to timeout.
for ((try = 0; try < 5; try++)); do
    rm -f "$tmp/server.pid"
    # shellcheck disable=SC2016
    timeout -k 5 "$limit" bash -c 'echo $$ > "$0"; exec "$@"' "$tmp/server.pid" \
        env LD_PRELOAD="$LIB" GOSHIM_PROCS=2 GOSHIM_DUMP_SIGNAL=USR2 \
        "$OUT/echo_server" "$PORT" > "$tmp/server.out" 2> "$tmp/server.err" &
    stpid=$!
    for ((i = 0; i < 200; i++)); do
        [[ -s $tmp/server.out ]] && break
        kill -0 "$stpid" 2>/dev/null || break
        sleep 0.05
    done
    spid=$(cat "$tmp/server.pid" 2>/dev/null || true)
    [[ $(head -n 1 "$tmp/server.out") == ready ]] && break
    stop "$stpid"
    stpid="" spid=""
    grep -qi "address already in use" "$tmp/server.err" ||
        fail "the server did not start on port $PORT: $(head -n 3 "$tmp/server.err")"
    PORT=$((PORT + 1))
done
[[ -n $spid ]] || fail "no free port from $((PORT - 5)) to $((PORT - 1))"
# ld.so only warns about a library it cannot preload: make sure it is mapped.
grep -qF "$(realpath "$LIB")" "/proc/$spid/maps" || fail "$LIB is not mapped in the server"
base=$(nfds)

# loadgen holds the connections until SIGTERM (stdin at /dev/null is not a request to stop).
timeout -k 5 "$limit" "$OUT/loadgen" 127.0.0.1 "$PORT" "$conns" idle \
    < /dev/null > "$tmp/loadgen.out" 2> "$tmp/loadgen.err" &
lpid=$!
for ((i = 0; ; i++)); do
    grep -q '^connected' "$tmp/loadgen.out" && break
    kill -0 "$lpid" 2>/dev/null || fail "loadgen exited: $(head -n 3 "$tmp/loadgen.err")"
    alive || fail "the server exited: $(tail -n 3 "$tmp/server.err")"
    ((i < 1200)) || fail "loadgen not connected after 60 s"
    sleep 0.05
done
[[ $(grep '^connected' "$tmp/loadgen.out") == "connected $conns" ]] ||
    fail "loadgen: $(cat "$tmp/loadgen.out")"

# Every connection accepted: the server holds $conns more fds, and the count has not
# moved for three samples 0.2 s apart (each new thread has long parked in its read).
stable=0 last="" f=0
for ((i = 0; i < 300 && stable < 3; i++)); do
    alive || fail "the server exited: $(tail -n 3 "$tmp/server.err")"
    f=$(nfds)
    if ((f >= base + conns)) && [[ $f == "$last" ]]; then
        stable=$((stable + 1))
    else
        stable=0
    fi
    last=$f
    sleep 0.2
done
((stable >= 3)) || fail "the server did not settle at $conns connections ($f fds, $base before)"

# The dump. Its header gives the number of entries; it is complete when that many
# entries are there and stderr has not grown for 1 s. It may be slow (see the top):
# the wait is bounded by DUMP_LIMIT, and by 60 s without any new output.
entries() { grep -c '^G[0-9]' "$tmp/server.err" || true; }
kill -USR2 "$spid"
t0=$EPOCHREALTIME
n="" size=0 same=0
while :; do
    sleep 0.5
    alive || fail "the server died during the dump: $(tail -n 3 "$tmp/server.err")"
    s=$(stat -c %s "$tmp/server.err")
    if ((s != size)); then
        size=$s same=0
        continue
    fi
    same=$((same + 1))
    [[ -n $n ]] || n=$(sed -n 's/^goshim: \([0-9]*\) green threads on .*/\1/p' "$tmp/server.err" | head -n 1)
    if [[ -n $n ]] && ((same >= 2 && $(entries) >= n)); then
        break
    fi
    ((same < 120)) || fail "the dump stopped: no output for 60 s, $(entries) of ${n:-?} entries"
    (($(echo "$EPOCHREALTIME - $t0 < $DUMP_LIMIT" | bc))) ||
        fail "the dump did not complete within DUMP_LIMIT=$DUMP_LIMIT s: $(entries) of ${n:-?} entries"
done
secs=$(printf '%.1f' "$(echo "$EPOCHREALTIME - $t0 - 1" | bc)")
dump=$tmp/dump
sed -n '/^goshim: [0-9]* green threads on /,$p' "$tmp/server.err" > "$dump"
{
    head -n 21 "$dump"
    echo "    ..."
    awk '/^G[0-9].*\(main\)$/ { on = 1; print; next } /^G[0-9]/ { on = 0 } on' "$dump"
} > "$OUT/dump_10k.excerpt"

# One pass over the entries: an entry is a ^G line and the frame lines under it.
summary=$(awk '
function entry() {
    if (head == "")
        return
    fdw = head ~ /^G[0-9]+ waiting on fd [0-9]+ \(read\)/
    if (fdw)
        nfd++
    if (conn) {
        nconn++
        if (fdw && rd) {
            nconnread++
            fd = head
            sub(/^G[0-9]+ waiting on fd /, "", fd)
            sub(/[^0-9].*$/, "", fd)
            if (!(fd in seen)) {
                seen[fd] = 1
                nfds++
            }
        }
    }
    if (head ~ /\(main\)$/) {
        nmain++
        if (fdw && acc && mainf)
            mainok++
    }
    head = ""
}
/^G[0-9]/ { entry(); head = $0; ng++; conn = rd = acc = mainf = 0; next }
/^    / {
    if ($0 ~ / conn_main\+0x/) { conn = 1; connlines++ }
    if ($0 ~ / read\+0x/) rd = 1
    if ($0 ~ / accept4?\+0x/) acc = 1
    if ($0 ~ / main\+0x/) mainf = 1
    next
}
{ entry() }
END {
    entry()
    printf "gs=%d fd=%d conn_main_lines=%d conn_gs=%d conn_read_fd=%d conn_fds=%d main=%d main_accept=%d\n",
        ng, nfd, connlines, nconn, nconnread, nfds, nmain, mainok
}' "$dump")
got="header=$n $summary"
all=$((conns + 1))
want="header=$all gs=$all fd=$all conn_main_lines=$conns conn_gs=$conns conn_read_fd=$conns conn_fds=$conns main=1 main_accept=1"
if [[ $got != "$want" ]]; then
    echo "FAIL dump_10k: $got"
    echo "              want $want"
    head -n 20 "$dump"
    exit 1
fi
grep -q '^goshim: [0-9]* green threads on 2 OS threads' "$dump" ||
    fail "the dump header does not say 2 OS threads: $(head -n 1 "$dump")"

# loadgen: SIGTERM (passed on by its timeout) ends the idle hold with one line.
stop "$lpid"
lpid=""
line=$(grep '^idle ' "$tmp/loadgen.out" || true)
[[ $line == "idle conns=$conns closed_by_peer=0" ]] ||
    fail "loadgen ended with '$line', want 'idle conns=$conns closed_by_peer=0'"
alive || fail "the server exited before it was stopped"
stop "$spid"
spid=""
stop "$stpid"
stpid=""
echo "ok   dump_10k: $got; dump took $secs s; loadgen '$line'; excerpt in build/scale/dump_10k.excerpt"
