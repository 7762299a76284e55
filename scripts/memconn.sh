#!/usr/bin/env bash
# memconn.sh: memory per idle connection of one echo server, user and kernel,
# and optionally its echo throughput; one CSV row per run on stdout.
#
# usage: scripts/memconn.sh [-H] [-e SECONDS] SERVER N
#   SERVER  native   build/demo/echo_server, a thread per connection
#           preload  the same, run with LD_PRELOAD=$GOSHIM_LIB
#           go       build/demo/echo_go, a goroutine per connection
#           epoll    build/demo/echo_epoll, one thread and an epoll loop
#   N       idle connections to open (up to about 19000: RLIMIT_NOFILE)
#   -H      print the CSV header line first (alone: print only that)
#   -e S    after the idle measurement, close the idle connections and run
#           the echo load at the same N for S seconds (64-byte messages)
# environment: BUILD (build/demo, holding the binaries demo.sh builds),
#   GOSHIM_LIB ($PWD/build/libgoshim.so), PORT (a free port below 32768),
#   ECHO_SIZE (64), SETTLE (1.0: seconds to wait before each sample).
#
# Method: start the server, wait for its "ready", sample; open N idle
# connections with loadgen, wait until the server holds N more fds and its
# fd and thread counts have stopped moving, sample again. Per connection:
#   rss, pss  growth of the server's Rss and Pss (/proc/PID/smaps_rollup) / N
#   kernel    growth of KernelStack + SUnreclaim + PageTables (/proc/meminfo) / N
#   total     rss + kernel
# meminfo is system-wide: the kernel figure holds both ends of each loopback
# connection (the server's socket and loadgen's), and anything else the
# machine does meanwhile, so run it on a quiet machine: noise is how far that
# sum drifted, per connection, over SETTLE seconds, the larger of the drift
# before the connections were opened and with them open. A run whose noise
# exceeds a tenth of its kernel figure is made again from the start, up to
# TRIES (3) times in all, and the last one is kept. vmpte is the growth of the
# server's and loadgen's own page tables (VmPTE in /proc/PID/status), a
# per-process cross-check of the PageTables share. threads and vmas are
# the server's Threads: (/proc/PID/status) and lines of /proc/PID/maps with
# the N connections open. Progress goes to stderr; a run that cannot be
# made (library missing, server dies, connections refused) gives a row whose
# status is "failed" and exit status 1.
set -euo pipefail

HEADER="server,conns,status,rss_b_per_conn,pss_b_per_conn,kernel_b_per_conn,\
kstack_b_per_conn,slab_b_per_conn,pgtable_b_per_conn,total_b_per_conn,threads,vmas,\
threads_base,vmas_base,echo_rounds_s,echo_p50_us,echo_p99_us,echo_p999_us,\
echo_mismatches,echo_errors,noise_b_per_conn,vmpte_b_per_conn,echo_starved"

argv=("$@")	# for running again after a noisy measurement
header=0
echo_secs=0
while getopts "He:" opt; do
	case $opt in
	H) header=1 ;;
	e) echo_secs=$OPTARG ;;
	*) echo "usage: $0 [-H] [-e SECONDS] native|preload|go|epoll N" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if ((header)) && [[ $# -eq 0 ]]; then
	echo "$HEADER"	# -H alone: just the header line
	exit 0
fi
if [[ $# -ne 2 || ! $2 =~ ^[0-9]+$ || $2 -lt 1 ]]; then
	echo "usage: $0 [-H] [-e SECONDS] native|preload|go|epoll N" >&2
	exit 2
fi
server=$1
n=$2
BUILD=${BUILD:-$PWD/build/demo}
GOSHIM_LIB=${GOSHIM_LIB:-$PWD/build/libgoshim.so}
PORT=${PORT:-$((21000 + $$ % 8000))}
ECHO_SIZE=${ECHO_SIZE:-64}
SETTLE=${SETTLE:-1.0}
TRIES=${TRIES:-3}
try_no=${MEMCONN_TRY:-1}	# set when this script runs itself again

t0=${MEMCONN_T0:-$EPOCHREALTIME}	# demo.sh passes its own start time
tmp=$(mktemp -d /tmp/memconn.XXXXXX)
spid=""
lpid=""

cleanup() {
	# Only the two processes this script started, by PID.
	if [[ -n $lpid ]]; then kill "$lpid" 2>/dev/null || true; wait "$lpid" 2>/dev/null || true; fi
	if [[ -n $spid ]]; then kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

progress() {
	printf 'memconn: %-7s N=%-5s %-34s %6.1f s\n' "$server" "$n" "$1" \
		"$(echo "$EPOCHREALTIME - $t0" | bc)" >&2
}

# Prints a row with status "failed" and the reason on stderr, then exits 1.
fail() {
	progress "failed: $1"
	[[ -s $tmp/server.err ]] && sed 's/^/memconn:   server: /' "$tmp/server.err" | head -5 >&2
	[[ -s $tmp/loadgen.err ]] && sed 's/^/memconn:   loadgen: /' "$tmp/loadgen.err" | head -5 >&2
	((header)) && echo "$HEADER"
	echo "$server,$n,failed,,,,,,,,,,,,,,,,,,,,"
	exit 1
}

case $server in
native)  cmd=("$BUILD/echo_server" "$PORT") ;;
preload) cmd=(env "LD_PRELOAD=$GOSHIM_LIB" "$BUILD/echo_server" "$PORT") ;;
go)      cmd=("$BUILD/echo_go" "$PORT") ;;
epoll)   cmd=("$BUILD/echo_epoll" "$PORT") ;;
*) echo "memconn: unknown server '$server' (native, preload, go, epoll)" >&2; exit 2 ;;
esac
for f in "$BUILD/loadgen" "${cmd[-2]}"; do
	[[ -x $f ]] || fail "$f not built (run scripts/demo.sh or make demo)"
done
if [[ $server == preload && ! -f $GOSHIM_LIB ]]; then
	fail "no preloaded library at $GOSHIM_LIB (set GOSHIM_LIB)"
fi

meminfo_kb() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
rollup_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$spid/smaps_rollup"; }
threads() { awk '$1 == "Threads:" { print $2 }' "/proc/$spid/status"; }
vmas() { wc -l < "/proc/$spid/maps"; }
vmpte_kb() { awk '$1 == "VmPTE:" { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() { local list=("/proc/$spid/fd/"*); echo "${#list[@]}"; }
alive() { kill -0 "$spid" 2>/dev/null; }

# Fills the associative array named $1 with one sample of everything.
sample() {
	local -n s=$1
	alive || fail "server exited"
	s[rss]=$(rollup_kb Rss)
	s[pss]=$(rollup_kb Pss)
	s[kstack]=$(meminfo_kb KernelStack)
	s[slab]=$(meminfo_kb SUnreclaim)
	s[pt]=$(meminfo_kb PageTables)
	s[threads]=$(threads)
	s[vmas]=$(vmas)
	s[fds]=$(fds)
	s[vmpte]=$(vmpte_kb "$spid")
	s[lgpte]=0
	[[ -n $lpid ]] && s[lgpte]=$(vmpte_kb "$lpid")
	s[kernel]=$((s[kstack] + s[slab] + s[pt]))
}

# Waits (up to $2 seconds, while the server lives) until file $1 starts
# with the word $3.
wait_line() {
	local file=$1 limit=$2 word=$3 i
	for ((i = 0; i < limit * 20; i++)); do
		[[ -s $file ]] && [[ $(head -c 4096 "$file") == "$word"* ]] && return 0
		alive || return 1
		sleep 0.05
	done
	return 1
}

# Up to five ports from PORT on, in case one is taken.
for ((try = 0; try < 5; try++)); do
	progress "starting on port $PORT"
	args=("${cmd[@]}")
	args[-1]=$PORT
	"${args[@]}" > "$tmp/server.out" 2> "$tmp/server.err" &
	spid=$!
	wait_line "$tmp/server.out" 10 ready && break
	alive && fail "server not ready within 10 s"
	wait "$spid" 2>/dev/null || true
	spid=""
	grep -qi "address already in use" "$tmp/server.err" || fail "server exited at start"
	PORT=$((PORT + 1))
done
[[ -n $spid ]] || fail "no free port"
# ld.so only warns about a library it cannot preload and runs the program
# natively: make sure it is really there, or the row would be a native one.
if [[ $server == preload ]] && ! grep -qF "$(realpath "$GOSHIM_LIB")" "/proc/$spid/maps"; then
	fail "$GOSHIM_LIB is not mapped in the server (ld.so refused it?)"
fi
sleep "$SETTLE"
declare -A b0 b a a2	# samples: baseline, SETTLE later; loaded, SETTLE later
sample b0
sleep "$SETTLE"
sample b
progress "ready: rss $((b[rss])) kB, ${b[threads]} threads"

progress "opening $n idle connections"
"$BUILD/loadgen" 127.0.0.1 "$PORT" "$n" idle > "$tmp/loadgen.out" 2> "$tmp/loadgen.err" &
lpid=$!
# Native threads take 0.5 s for 10000 connections here: these limits only
# bound how long a hung server (a broken preload) can hold up the demo.
connect_limit=$((20 + n / 500))
settle_limit=$((20 + n / 1000))
for ((i = 0; ; i++)); do
	grep -q '^connected' "$tmp/loadgen.out" && break
	kill -0 "$lpid" 2>/dev/null || fail "loadgen could not connect"
	((i < connect_limit * 20)) || fail "loadgen not connected after $connect_limit s"
	sleep 0.05
done
progress "connected; waiting for the server"
# Accepted when the server holds N more fds and neither fds nor threads moved
# for three samples 0.3 s apart.
stable=0 last=""
for ((i = 0; i < settle_limit * 10 / 3; i++)); do
	alive || fail "server exited"
	f=$(fds) t=$(threads)
	if ((f >= b[fds] + n)) && [[ "$f/$t" == "$last" ]]; then
		((++stable >= 3)) && break
	else
		stable=0
	fi
	last="$f/$t"
	sleep 0.3
done
((stable >= 3)) || fail "server did not settle at $n connections (fds $f, threads $t)"
sleep "$SETTLE"
sample a
sleep "$SETTLE"
sample a2
progress "measured: ${a[threads]} threads, ${a[vmas]} VMAs"

per() { echo $(( ($1) * 1024 / n )); }
rss=$(per "a[rss] - b[rss]")
pss=$(per "a[pss] - b[pss]")
kstack=$(per "a[kstack] - b[kstack]")
slab=$(per "a[slab] - b[slab]")
pt=$(per "a[pt] - b[pt]")
kernel=$((kstack + slab + pt))
total=$((rss + kernel))
noise=$(per "b[kernel] - b0[kernel]")
noise=${noise#-}
noise2=$(per "a2[kernel] - a[kernel]")
noise2=${noise2#-}
((noise2 > noise)) && noise=$noise2
vmpte=$(per "a[vmpte] + a[lgpte] - b[vmpte]")
if ((noise * 10 > ${kernel#-})); then
	if ((try_no < TRIES)); then
		progress "kernel noise $noise B/conn: measuring again"
		cleanup
		trap - EXIT
		MEMCONN_TRY=$((try_no + 1)) MEMCONN_T0=$t0 exec "$0" "${argv[@]}"
	fi
	progress "warning: kernel noise $noise B/conn"
fi

erate="" p50="" p99="" p999="" mism="" errs="" starved=""
if [[ $echo_secs != 0 ]]; then
	kill "$lpid"
	wait "$lpid" 2>/dev/null || true
	lpid=""
	progress "closing idle connections"
	for ((i = 0; i < 200; i++)); do
		alive || fail "server exited after the idle connections closed"
		(($(fds) <= b[fds] + 2)) && break
		sleep 0.1
	done
	progress "echo load for $echo_secs s"
	timeout $((${echo_secs%.*} + 30 + n / 500)) "$BUILD/loadgen" 127.0.0.1 "$PORT" "$n" echo \
		"$echo_secs" "$ECHO_SIZE" > "$tmp/echo.out" 2> "$tmp/loadgen.err" || true
	line=$(grep '^echo ' "$tmp/echo.out" || true)
	[[ -n $line ]] || fail "echo load failed"
	field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$line"; }
	erate=$(field rounds_per_s) p50=$(field p50_us) p99=$(field p99_us)
	p999=$(field p999_us) mism=$(field mismatches) errs=$(field errors)
	starved=$(field starved)
	progress "echo: $erate rounds/s, p99 $p99 us, $starved starved"
	((mism == 0 && errs == 0)) || fail "echo: $mism mismatches, $errs broken connections"
fi

((header)) && echo "$HEADER"
echo "$server,$n,ok,$rss,$pss,$kernel,$kstack,$slab,$pt,$total,${a[threads]},${a[vmas]},\
${b[threads]},${b[vmas]},$erate,$p50,$p99,$p999,$mism,$errs,$noise,$vmpte,$starved"
