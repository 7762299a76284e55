#!/usr/bin/env bash
# bench_chat.sh: the chat part of the before/after benchmark: broadcast
# throughput and latency of the same unmodified thread-per-connection chat
# server run natively and under goshim, next to its Go peer.
#
# usage: scripts/bench_chat.sh          (about 40 s with the defaults)
# environment: GOSHIM_LIB ($PWD/build/libgoshim.so), SERVERS ("native preload
#   go"), CHAT_AT ("1000 10000": the connection counts), CHAT_SECS (5: seconds
#   of load per run), CC (gcc), GO (go).
#
# Builds build/demo/chat_server, build/demo/chatload and build/demo/chat_go
# (GOPATH mode, cache under build/demo, no network) when missing or older than
# their sources. Then for every N of CHAT_AT and every server:
#   native   build/demo/chat_server, two threads per connection
#   preload  the same binary with LD_PRELOAD=$GOSHIM_LIB
#   go       build/demo/chat_go, two goroutines per connection
# starts a fresh server on a port in 31000-31999, waits for its "ready", runs
# `chatload 127.0.0.1 PORT N CHAT_SECS` (one broadcast in flight at a time, each
# delivered to the N - 1 other connections; see demos/chatload.c) and, halfway
# through the load, reads the server's Threads: and VmRSS: from
# /proc/PID/status. Writes results/bench/chat.csv:
#   server,conns,broadcasts_s,deliveries_s,p50_us,p99_us,p999_us,errors,threads,rss_kb
# (latencies are from a broadcast's send to its last delivery; errors counts
# chatload's errors plus mismatches: lost, repeated or malformed lines) and
# prints a table on stdout; progress goes to stderr. A run that gives no
# result (build failed, server did not start or died, chatload failed to
# connect or timed out) gets a row whose broadcasts_s is "failed", and the
# script carries on. Exit status 1 if any row failed or counted errors.
# Run it from anywhere; it works at the top of the repository. What it shares
# with bench_http.sh is in scripts/bench-common.bash.
set -euo pipefail

BENCH=bench_chat SAY_WIDTH=56 PORT_BASE=31000
# shellcheck source=SCRIPTDIR/bench-common.bash
source "$(dirname "$0")/bench-common.bash"
CHAT_AT=${CHAT_AT:-1000 10000}
CHAT_SECS=${CHAT_SECS:-5}
HEADER="server,conns,broadcasts_s,deliveries_s,p50_us,p99_us,p999_us,errors,threads,rss_kb"

lpid=""
# Only the processes this script started, by PID.
stop_pid() {
	local pid=$1 i
	kill "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
cleanup() {
	if [[ -n $lpid ]]; then stop_pid "$lpid"; lpid=""; fi
	if [[ -n $spid ]]; then stop_pid "$spid"; spid=""; fi
}
trap 'cleanup; rm -rf "$tmp"' EXIT
trap 'exit 143' TERM INT

# ---- build ---------------------------------------------------------------------
declare -A broken=()	# binary name -> 1 if it could not be built
# build_failed NAME: shows the first compiler messages, marks NAME broken.
build_failed() {
	sed 's/^/bench_chat:   /' "$tmp/build.err" | head -5 >&2
	broken[$1]=1
}
if stale "$BUILD/chat_server" demos/chat_server.c; then
	build_c chat_server demos/chat_server.c || build_failed chat_server
fi
if stale "$BUILD/chatload" demos/chatload.c demos/loadcommon.[ch]; then
	build_c chatload demos/chatload.c demos/loadcommon.c || build_failed chatload
fi
if stale "$BUILD/chat_go" demos/peers/chat.go demos/peers/listen.go; then
	if ! build_go chat_go demos/peers/chat.go demos/peers/listen.go; then
		[[ -s $tmp/build.err ]] && sed 's/^/bench_chat:   /' "$tmp/build.err" | head -5 >&2
		say "no Go toolchain or go build failed: the go rows will say failed"
		broken[chat_go]=1
	fi
fi

# ---- runs ----------------------------------------------------------------------
port=$((PORT_BASE + $$ % 1000))

csv=$OUT/chat.csv
echo "$HEADER" > "$csv"
failed=0

# row_failed SERVER N WHY: a failed row, the reason on stderr.
row_failed() {
	say "$1 N=$2: failed: $3"
	[[ -s $tmp/server.err ]] && sed 's/^/bench_chat:   server: /' "$tmp/server.err" | head -5 >&2
	[[ -s $tmp/chatload.err ]] && grep -v '^chatload: \(connected\|[0-9]* greetings\|subscribed\|measuring\)' \
		"$tmp/chatload.err" | sed 's/^/bench_chat:   /' | head -5 >&2
	echo "$1,$2,failed,,,,,,," >> "$csv"
	failed=$((failed + 1))
	cleanup
}

# launch_server SERVER (for start_ready): starts it on $port.
launch_server() {
	local bin
	case $1 in
	native|preload) bin=$BUILD/chat_server ;;
	go) bin=$BUILD/chat_go ;;
	esac
	if [[ $1 == preload ]]; then
		env "LD_PRELOAD=$GOSHIM_LIB" "$bin" "$port" > "$tmp/server.out" 2> "$tmp/server.err" &
	else
		"$bin" "$port" > "$tmp/server.out" 2> "$tmp/server.err" &
	fi
}

run_row() {
	local s=$1 n=$2 bin limit i line threads="" rss="" half
	: > "$tmp/server.err"
	: > "$tmp/chatload.err"
	case $s in
	native|preload) bin=chat_server ;;
	go) bin=chat_go ;;
	*) row_failed "$s" "$n" "unknown server (native, preload, go)"; return ;;
	esac
	[[ -z ${broken[$bin]:-} && -x $BUILD/$bin ]] || { row_failed "$s" "$n" "$bin not built"; return; }
	[[ -z ${broken[chatload]:-} && -x $BUILD/chatload ]] || { row_failed "$s" "$n" "chatload not built"; return; }
	if [[ $s == preload && ! -f $GOSHIM_LIB ]]; then
		row_failed "$s" "$n" "no library at $GOSHIM_LIB"; return
	fi
	say "$s N=$n: starting the server"
	start_ready 10 "$s" || { row_failed "$s" "$n" "server not ready"; return; }
	if [[ $s == preload ]] && ! preload_mapped; then
		row_failed "$s" "$n" "$GOSHIM_LIB is not mapped in the server"; return
	fi
	say "$s N=$n: chatload for $CHAT_SECS s on port $port"
	# chatload bounds each of its steps (10 s without progress fails); this
	# only bounds the whole of it.
	limit=$((${CHAT_SECS%.*} + 60 + n / 200))
	timeout -k 5 "$limit" "$BUILD/chatload" 127.0.0.1 "$port" "$n" "$CHAT_SECS" \
		> "$tmp/chatload.out" 2> "$tmp/chatload.err" &
	lpid=$!
	# Halfway through the measured phase: threads and RSS of the server.
	for ((i = 0; ; i++)); do
		grep -q '^chatload: measuring' "$tmp/chatload.err" && break
		kill -0 "$lpid" 2>/dev/null || break
		sleep 0.05
	done
	if grep -q '^chatload: measuring' "$tmp/chatload.err"; then
		half=$(echo "$CHAT_SECS / 2" | bc -l)
		sleep "$half"
		threads=$(proc_status Threads)
		rss=$(proc_status VmRSS)
	fi
	wait "$lpid" 2>/dev/null || true
	lpid=""
	line=$(grep '^chat ' "$tmp/chatload.out" || true)
	if [[ -z $line ]]; then
		if alive; then row_failed "$s" "$n" "chatload gave no result"
		else row_failed "$s" "$n" "the server exited"; fi
		return
	fi
	alive || { row_failed "$s" "$n" "the server exited"; return; }
	local bps dps p50 p99 p999 errs
	bps=$(field broadcasts_per_s) dps=$(field deliveries_per_s)
	p50=$(field p50_us) p99=$(field p99_us) p999=$(field p999_us)
	errs=$(($(field errors) + $(field mismatches)))
	echo "$s,$n,$bps,$dps,$p50,$p99,$p999,$errs,$threads,$rss" >> "$csv"
	say "$s N=$n: $bps broadcasts/s, p99 $p99 us, $errs errors, ${threads:-?} threads"
	if ((errs != 0)); then
		grep -v '^chatload: \(connected\|[0-9]* greetings\|subscribed\|measuring\)' \
			"$tmp/chatload.err" | sed 's/^/bench_chat:   /' | head -5 >&2
		failed=$((failed + 1))
	fi
	cleanup
	next_port	# the next server gets a port with no leftovers of this run
}

for n in $CHAT_AT; do
	for s in $SERVERS; do
		run_row "$s" "$n"
	done
done
say "wrote results/bench/chat.csv"

# ---- table ---------------------------------------------------------------------
echo
table_awk '
NR == 1 {
	printf "%-8s %6s  %12s %13s %9s %9s %9s %6s %8s %10s\n", "server", "conns",
	       "broadcasts/s", "deliveries/s", "p50 us", "p99 us", "p999 us", "errors",
	       "threads", "RSS kB"
	next
}
$3 == "failed" { printf "%-8s %6d  %12s\n", $1, $2, "failed"; next }
{
	printf "%-8s %6d  %12s %13s %9s %9s %9s %6s %8s %10s\n", $1, $2, num($3), num($4),
	       num($5), num($6), num($7), $8, num($9), num($10)
}' "$csv"
cat <<'EOT'

One broadcast in flight at a time; each is delivered to the N - 1 other
connections, and the next starts when all have it: deliveries/s is
broadcasts/s x (N - 1). Latency: send to the last delivery. threads and RSS:
the server's, read halfway through the load.
EOT
((failed == 0))
