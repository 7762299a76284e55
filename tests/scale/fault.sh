#!/usr/bin/env bash
# fault.sh: the fault-injection matrix. tests/fault/libfault.so, preloaded after
# libgoshim.so, makes the N-th (N+: and every later) mmap, epoll_create1, epoll_ctl,
# eventfd, pthread_create (the start of an M, the monitor or a helper) or timerfd_create
# of the runtime fail with the kernel's errno for that limit (tests/fault/libfault.c).
# Each case runs a scenario of tests/fault/fault_prog.c at GOSHIM_PROCS 1 and 4 and
# asserts: it ends by itself (a 30 s timeout counts as a hang) with the exit status and
# the stdout the program has natively under the same failure, the fault was reached,
# and the runtime's line on stderr where no caller could take an error.
#
# "Natively" is the same program with only libfault.so preloaded and the same rules:
# rules on the runtime's calls then fail nothing, so a case where the runtime must
# hide the failure expects the program's normal output; an @any rule fails the
# program's own call both ways. Where glibc itself would see the failure, which a
# preload cannot make it see (its own mmap of a thread stack), the expected output is
# written out: pthread_create returns EAGAIN, as glibc documents and as
# tests/compat/limit_as_threads shows under RLIMIT_AS.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_lib
FOUT=$ROOT/build/fault
mkdir -p "$FOUT"
cc -O2 -g -Wall -Wextra -fPIC -shared -fvisibility=hidden -o "$FOUT/libfault.so" tests/fault/libfault.c -ldl
cc -O2 -g -Wall -pthread -o "$FOUT/fault_prog" tests/fault/fault_prog.c -ldl
FAULT=$FOUT/libfault.so
PROG=$FOUT/fault_prog

fail=0
tmp=$(mktemp -d /tmp/goshim-fault.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# case SCENARIO SPEC STDERR_RE [EXPECT [ENV]]: EXPECT "native" (default) takes the native
# run's stdout and status; "stack" the native one with glibc's own mmap failing;
# "nothread" no thread can be made (status 1, no output). ENV: VAR=value for the
# preloaded runs.
case_() {
	local sc=$1 spec=$2 want_err=$3 expect=${4:-native} extra=${5:-GOSHIM_FAULT_NONE=} p rc nrc want got
	nrc=0
	timeout -k 5 30 env LD_PRELOAD="$FAULT" GOSHIM_FAULT="$spec" "$PROG" "$sc" > "$tmp/native" 2> /dev/null || nrc=$?
	case $expect in
	stack) sed -i 's/while mmap fails: 0$/while mmap fails: EAGAIN/' "$tmp/native" ;;
	nothread) : > "$tmp/native"; nrc=1 ;;
	esac
	for p in 1 4; do
		rc=0
		timeout -k 5 30 env LD_PRELOAD="$LIB $FAULT" GOSHIM_PROCS=$p GOSHIM_FAULT="$spec" "$extra" \
			"$PROG" "$sc" > "$tmp/out" 2> "$tmp/err" || rc=$?
		local label="$sc ${spec:-(armed in the program)}${5:+ $5} procs=$p"
		local why=""
		((rc == 124 || rc == 137)) && why="hung (killed after 30 s)"
		[[ -z $why && $rc != "$nrc" ]] && why="exit status $rc, natively $nrc"
		[[ -z $why ]] && ! cmp -s "$tmp/out" "$tmp/native" && why="stdout differs from native"
		[[ -z $why ]] && ! grep -q '^fault: ' "$tmp/err" && why="the fault was never reached"
		[[ -z $why && -n $want_err ]] && ! grep -Eq "$want_err" "$tmp/err" && why="no '$want_err' on stderr"
		if [[ -n $why ]]; then
			echo "FAIL fault $label: $why"
			diff "$tmp/native" "$tmp/out" | head -10 | sed 's/^/    /' || true
			grep -v '^fault: ' "$tmp/err" | head -5 | sed 's/^/    stderr: /' || true
			fail=1
		else
			got=$(paste -sd';' "$tmp/out" | cut -c1-90)
			local said
			said=$(grep '^goshim: ' "$tmp/err" | head -2 | paste -sd';' | cut -c1-110 || true)
			echo "ok   fault $label: status $rc, '$got'${said:+ | stderr: $said}"
		fi
	done
}

# mmap: the 1st is the stack probe (no guard markers then), the 2nd the M table (half
# the slots), the 3rd main's signal stack (none: an overflow of main is a plain SIGSEGV),
# the 4th main's scheduler stack (a static one), the 5th the first chunk of green
# stacks (a smaller chunk); 5+: no green stack at all (EAGAIN as natively); 1+: no
# memory from the start.
case_ stack "" "" stack
for n in 1 2 3 4 5; do case_ threads "mmap:$n" ""; done
case_ threads "mmap:5+" "" nothread
case_ threads "mmap:1+" "out of memory at start-up" nothread
# A guard page past vm.max_map_count (mprotect fails: where the kernel has no guard
# markers): EAGAIN, as glibc when it cannot protect a new stack's guard.
case_ threads "mprotect:1+" "" nothread GOSHIM_DEBUG=guardmarkers=0
# The netpoller: no epoll instance or eventfd (RLIMIT_NOFILE), no watch (max_user_watches):
# the waits look again every 5 ms; once, or for good. Without the dump socket the
# netpoller is made at the first wait, so the N-th call is that wait's.
for spec in epoll_create1:1 epoll_create1:1+ eventfd:1 eventfd:1+ epoll_ctl:1 epoll_ctl:2 epoll_ctl:1+; do
	case_ io "$spec" "goshim: cannot watch fd" native GOSHIM_DUMP_SOCKET=0
done
# With it (the default), the netpoller and the socket are made at start: a failure
# there is taken again by the first wait, and the program runs as natively.
for spec in epoll_create1:1 eventfd:1 epoll_ctl:1 epoll_ctl:2; do
	case_ io "$spec" ""
done
# OS threads (RLIMIT_NPROC). In the pinned mode: the first one the runtime starts (an M;
# at GOSHIM_PROCS=1 the monitor), the second (at 1 the resolver helper: the lookup then
# runs on the M, and nothing failed to tell), or none; the runtime goes on with what it
# has. In tp mode (the default here) the first is a short-lived probe of glibc's thread
# header (sched/tls.c): without it green threads share the process's resolver state, as
# in the pinned mode, and there is nothing to tell; the M or monitor comes second.
case_ threads pthread_create:1 "goshim: cannot start (an OS|the monitor) thread" native GOSHIM_DEBUG=pinned=1
case_ threads pthread_create:2 "" native GOSHIM_DEBUG=pinned=1
if grep -qw fsgsbase /proc/cpuinfo; then
	case_ threads pthread_create:1 ""
	case_ threads pthread_create:2 "goshim: cannot start (an OS|the monitor) thread"
fi
case_ threads pthread_create:1+ "goshim: cannot start the monitor thread"
case_ io pthread_create:1+ "goshim: cannot start"
# The program's own timerfd_create (the runtime makes none): its EMFILE as natively.
case_ timerfd "timerfd_create@any:1" ""
exit $fail
