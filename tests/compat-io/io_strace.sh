# io_strace.sh: checks what reaches the kernel while green threads wait on sockets:
# no recv/read/accept on a socket may ever sleep in the kernel, and the netpoller's
# epoll_wait must be there.
#
# Usage: bash io_strace.sh BUILT_BINARY   (the runner passes build/compat/NAME)
# Runs the program (io_strace.c: a server thread waiting ~1 s in all in accept, recv and
# read on TCP sockets) under
#   strace -f -yy -e trace=recvfrom,read,accept,accept4,epoll_wait,epoll_pwait
# and meanwhile samples every thread of it every 20 ms: a thread in state S (asleep)
# whose /proc/PID/task/TID/syscall is read/readv/recvfrom/recvmsg/accept/accept4 on an fd
# that is a socket is a call left blocking in the kernel.
# Why the sampling and not only strace's "<unfinished ...>": strace also prints that for a
# quick call when another thread's syscall is printed between its entry and exit (native
# runs show it for reads of /dev/zero), which with several Ms would flag correct
# non-blocking retries. A sleeping task is exact.
# Natively the same checks are run inverted, as a self-test of the method: the sampler
# must see the server asleep in accept, recvfrom and read on sockets, and strace must show
# the recvfrom "<unfinished ...>". Preloaded (GOSHIM_TEST_PRELOADED=1): the sampler must
# see no such sleep, and the trace must contain epoll_wait or epoll_pwait.
# The same lines are printed either way. strace, the sampler and the tools run without
# LD_PRELOAD; only the test program is preloaded (strace -E).
set -euo pipefail

bin=$1
preload=${LD_PRELOAD-}
unset LD_PRELOAD
preloaded=0
if [ "${GOSHIM_TEST_PRELOADED-}" = 1 ]; then
	preloaded=1
fi
fail() {
	echo "io_strace: FAIL: $*" >&2
	exit 1
}

tmp=$(mktemp -d /tmp/io_strace.XXXXXX)
spid=""
cleanup() {
	if [ -n "$spid" ] && kill -0 "$spid" 2>/dev/null; then
		kill "$spid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

env_opt=()
if [ -n "$preload" ]; then
	env_opt=(-E "LD_PRELOAD=$preload")
fi
strace -f -qq -yy -o "$tmp/trace" \
	-e trace=recvfrom,read,accept,accept4,epoll_wait,epoll_pwait \
	"${env_opt[@]}" "$bin" > "$tmp/out" &
spid=$!

# The tracee is strace's only child.
pid=""
for _ in $(seq 500); do
	pid=$(pgrep -P "$spid" || true)
	if [ -n "$pid" ]; then
		break
	fi
	sleep 0.01
done
[ -n "$pid" ] || fail "strace's child did not appear"

# Syscall numbers (x86_64) of the calls that must never sleep on a socket.
name_of() {
	case $1 in
		0) echo read ;; 19) echo readv ;; 45) echo recvfrom ;; 47) echo recvmsg ;;
		43) echo accept ;; 288) echo accept4 ;; *) echo "" ;;
	esac
}

seen=" "
while kill -0 "$spid" 2>/dev/null; do
	for task in /proc/"$pid"/task/*; do
		line=""
		{ read -r line < "$task/stat"; } 2>/dev/null || continue
		rest=${line##*) }
		[ "${rest%% *}" = S ] || continue
		nr=""
		a0=""
		{ read -r nr a0 _ < "$task/syscall"; } 2>/dev/null || continue
		name=$(name_of "$nr")
		[ -n "$name" ] || continue
		target=$(readlink "/proc/$pid/fd/$((a0))" 2>/dev/null) || continue
		case $target in
			socket:*)
				case $seen in
					*" $name "*) ;;
					*) seen="$seen$name " ;;
				esac ;;
		esac
	done
	sleep 0.02
done
status=0
wait "$spid" || status=$?
spid=""
[ "$status" -eq 0 ] || fail "the program under strace exited with status $status"
cat "$tmp/out"

if [ "$preloaded" = 1 ]; then
	if [ "$seen" != " " ]; then
		fail "calls left blocking in the kernel on a socket:$seen(trace follows)
$(grep -E '^[0-9]+ +(recvfrom|read|accept4?)\([0-9]+<(TCP|UDP|UNIX)' "$tmp/trace" | head -40)"
	fi
	grep -qE '^[0-9]+ +(epoll_wait|epoll_pwait)\(' "$tmp/trace" ||
		fail "no epoll_wait/epoll_pwait in the trace: is the netpoller in use?"
else
	for want in accept recvfrom read; do
		case $seen in
			*" $want "*) ;;
			*) fail "self-test: natively the server was never seen asleep in $want on a socket (seen:$seen)" ;;
		esac
	done
	grep -qE '^[0-9]+ +recvfrom\([0-9]+<TCP:\[[^]]*\]>, +<unfinished \.\.\.>$' "$tmp/trace" ||
		fail "self-test: natively strace does not show the blocked recvfrom as <unfinished ...>"
fi
echo "io_strace: kernel-state and trace checks: ok"
