# io_echo_10k.sh: a thread-per-connection blocking echo server holding 10,000
# concurrent connections from a client process on 127.0.0.1.
#
# Usage: bash io_echo_10k.sh BUILT_BINARY   (the runner passes build/compat/NAME)
# Starts "BINARY server" (preloaded if the runner preloads: only the server is; the
# client and the tools run without LD_PRELOAD so that a failure points at the server),
# then "BINARY client PORT", which opens 10,000 connections, has a unique line echoed
# on each and reports READY with all of them still open. At that moment the shell reads
# Threads: from /proc/SERVER/status:
#   preloaded (GOSHIM_TEST_PRELOADED=1): at most GOSHIM_PROCS (default: nproc) + 3;
#   natively: at least 10,001 (a self-test: one thread per connection plus main).
# Then the client closes everything and both print their summaries. Both raise the soft
# RLIMIT_NOFILE to the hard limit (20000 here); natively this needs `ulimit -u` above
# 10,000, checked first.
set -euo pipefail

bin=$1
preload=${LD_PRELOAD-}
unset LD_PRELOAD
preloaded=0
if [ "${GOSHIM_TEST_PRELOADED-}" = 1 ]; then
	preloaded=1
fi
conns=10000
fail() {
	echo "io_echo_10k: FAIL: $*" >&2
	exit 1
}

ulimit -S -n "$(ulimit -H -n)"
[ "$(ulimit -n)" -ge $((conns + 100)) ] || fail "RLIMIT_NOFILE $(ulimit -n) is too low"
maxproc=$(ulimit -u)
if [ "$maxproc" != unlimited ] && [ "$maxproc" -lt $((conns + 100)) ]; then
	fail "ulimit -u is $maxproc: the native run needs $((conns + 100)) threads"
fi

tmp=$(mktemp -d /tmp/io_echo_10k.XXXXXX)
spid=""
cpid=""
cleanup() {
	for p in $cpid $spid; do
		if kill -0 "$p" 2>/dev/null; then
			kill "$p" 2>/dev/null || true
		fi
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
mkfifo "$tmp/srv_out" "$tmp/cli_in" "$tmp/cli_out"

run=()
if [ -n "$preload" ]; then
	run=(env "LD_PRELOAD=$preload")
fi
"${run[@]}" "$bin" server > "$tmp/srv_out" &
spid=$!
exec 5< "$tmp/srv_out"
word=""
port=""
read -t 30 -r word port <&5 || fail "the server did not report its port"
[ "$word" = PORT ] || fail "the server said '$word $port' instead of its port"

"$bin" client "$port" < "$tmp/cli_in" > "$tmp/cli_out" &
cpid=$!
exec 6> "$tmp/cli_in"
exec 7< "$tmp/cli_out"
ready=""
read -t 50 -r ready <&7 || fail "the client never became READY"
[ "$ready" = READY ] || fail "the client said '$ready' instead of READY"

threads=""
while read -r key val; do
	if [ "$key" = "Threads:" ]; then
		threads=$val
	fi
done < "/proc/$spid/status"
[ -n "$threads" ] || fail "no Threads: line for the server"
if [ "$preloaded" = 1 ]; then
	procs=${GOSHIM_PROCS:-$(nproc)}
	[ "$threads" -le $((procs + 3)) ] ||
		fail "the server has $threads OS threads with $conns connections open, want at most $((procs + 3))"
else
	[ "$threads" -ge $((conns + 1)) ] ||
		fail "self-test: natively the server has $threads threads, want at least $((conns + 1))"
fi

echo go >&6
exec 6>&-
client_line=""
read -t 30 -r client_line <&7 || fail "the client did not finish"
server_line=""
read -t 30 -r server_line <&5 || fail "the server did not finish"
cstatus=0
wait "$cpid" || cstatus=$?
cpid=""
sstatus=0
wait "$spid" || sstatus=$?
spid=""
[ "$cstatus" -eq 0 ] || fail "the client exited with status $cstatus"
[ "$sstatus" -eq 0 ] || fail "the server exited with status $sstatus"
echo "$server_line"
echo "$client_line"
echo "io_echo_10k: OS threads of the server with $conns connections open: within bounds"
echo "io_echo_10k: ok"
