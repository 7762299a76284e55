#!/usr/bin/env bash
# bench_http.sh: the HTTP half of the before/after: requests per second and
# latency of the same unmodified thread-per-connection file server
# (demos/http_server.c) run natively and under goshim, next to its Go peer
# (demos/peers/http.go, a goroutine per connection), all driven by wrk.
#
# usage: scripts/bench_http.sh      (about 45 s with the defaults)
# environment: GOSHIM_LIB ($PWD/build/libgoshim.so), SERVERS ("native preload
#   go"), HTTP_AT ("1000 10000": wrk connections), HTTP_SECS (5: seconds of
#   each wrk run), PORT (first port tried, in 30000-30999), CC (gcc), GO (go),
#   WRK (wrk).
#
# Builds build/demo/http_server (gcc -O2 -g -pthread) and build/demo/http_go
# when missing or older than their sources, makes a docroot holding an
# index.html of exactly 1024 bytes, and for every server and N starts the
# server afresh, waits for its "ready" and runs `wrk -t2 -cN` on GET / for
# HTTP_SECS seconds. A Lua done() hook prints one line: requests/s, the p50,
# p99 and p99.9 latency in microseconds and wrk's error counts. Halfway
# through the run the server's Threads: and VmRSS (/proc/PID/status) are
# sampled. The soft RLIMIT_NOFILE is raised to the hard limit first, for the
# servers and wrk alike (wrk needs N + a few fds, the server as many).
#
# Writes results/bench/http.csv:
#   server,conns,req_s,p50_us,p99_us,p999_us,errors,non2xx,threads,rss_kb
# errors is wrk's connect + read + write + timeout errors, non2xx its count
# of responses with a status of 400 or more. A server that cannot be built,
# does not start, or dies during the run gives a row whose req_s field says
# "failed" (the rest empty); the script carries on and exits with status 1.
# Progress goes to stderr, a table to stdout. Run it from anywhere; it works
# from the top of the repository. Nothing here judges the figures. What it
# shares with bench_chat.sh is in scripts/bench-common.bash.
set -euo pipefail

BENCH=bench_http SAY_WIDTH=60 PORT_BASE=30000
# shellcheck source=SCRIPTDIR/bench-common.bash
source "$(dirname "$0")/bench-common.bash"
HTTP_AT=${HTTP_AT:-1000 10000}
HTTP_SECS=${HTTP_SECS:-5}
WRK=${WRK:-wrk}
port=${PORT:-$((PORT_BASE + $$ % 900))}

wpid=""
stop() {	# stop PID: only a process this script started
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
cleanup() {
	[[ -n $wpid ]] && stop "$wpid"
	[[ -n $spid ]] && stop "$spid"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# ---- build ---------------------------------------------------------------------
if stale "$BUILD/http_server" demos/http_server.c; then
	build_c http_server demos/http_server.c || {
		cat "$tmp/build.err" >&2
		say "build of http_server failed: the native and preload rows will say failed"
	}
fi
if stale "$BUILD/http_go" demos/peers/http.go demos/peers/listen.go; then
	if command -v "$GO" > /dev/null; then
		build_go http_go demos/peers/http.go demos/peers/listen.go || {
			cat "$tmp/build.err" >&2
			say "go build failed: the go rows will say failed"
		}
	else
		say "no Go toolchain: the go rows will say failed"
	fi
fi
command -v "$WRK" > /dev/null || { say "no $WRK: every row will say failed"; }

# ---- limits, docroot, Lua --------------------------------------------------------
maxn=0
for n in $HTTP_AT; do ((n > maxn)) && maxn=$n; done
if (($(ulimit -n) < maxn + 64)); then
	say "warning: RLIMIT_NOFILE is $(ulimit -n), below the $((maxn + 64)) N=$maxn needs"
fi

mkdir "$tmp/www"
{
	printf '<!doctype html>\n<html><head><title>bench</title></head><body>\n<p>'
	head -c 2048 /dev/zero | tr '\0' 'x'
} > "$tmp/www/index.html"
truncate -s 1023 "$tmp/www/index.html"
echo >> "$tmp/www/index.html"
(($(stat -c %s "$tmp/www/index.html") == 1024)) || { say "index.html is not 1024 bytes"; exit 1; }

cat > "$tmp/report.lua" <<'EOF'
-- One machine-readable line when wrk is done; latencies in microseconds.
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"wrk requests=%d secs=%.3f req_s=%.1f p50_us=%d p99_us=%d p999_us=%d " ..
		"connect=%d read=%d write=%d timeout=%d non2xx=%d\n",
		summary.requests, summary.duration / 1e6,
		summary.requests / (summary.duration / 1e6),
		latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
		e.connect, e.read, e.write, e.timeout, e.status))
end
EOF

# ---- runs ----------------------------------------------------------------------
csv=$OUT/http.csv
echo "server,conns,req_s,p50_us,p99_us,p999_us,errors,non2xx,threads,rss_kb" > "$csv.tmp"
failed=0

# A TcpExt counter of /proc/net/netstat (system-wide), e.g. ListenOverflows:
# connections whose handshake completed while the server's accept queue was
# full; the client sees them connected, the kernel drops the ACK and resends
# the SYN-ACK a second later, so they show up as latency, not errors.
tcpext() {
	awk -v k="$1" '$1 == "TcpExt:" { if (!h) { for (i = 2; i <= NF; i++) if ($i == k) c = i; h = 1 }
		else print $c + 0 }' /proc/net/netstat
}

# row_failed SERVER N WHY: a failed row, the reason and the server's stderr.
row_failed() {
	say "$1 N=$2: failed: $3"
	head -n 5 "$tmp/server.err" | sed 's/^/bench_http:   server: /' >&2 || true
	head -n 5 "$tmp/wrk.err" | sed 's/^/bench_http:   wrk: /' >&2 || true
	echo "$1,$2,failed,,,,,,," >> "$csv.tmp"
	failed=1
	[[ -n $spid ]] && stop "$spid"
	spid=""
	next_port
	return 0
}

# launch_server SERVER (for start_ready): starts it on $port.
launch_server() {
	local cmd
	case $1 in
	native)  cmd=("$BUILD/http_server" "$port" "$tmp/www") ;;
	preload) cmd=(env "LD_PRELOAD=$GOSHIM_LIB" "$BUILD/http_server" "$port" "$tmp/www") ;;
	go)      cmd=("$BUILD/http_go" "$port" "$tmp/www") ;;
	*) why="unknown server (native, preload, go)"; return 1 ;;
	esac
	: > "$tmp/server.out"	# exists before the child opens it: polled at once
	"${cmd[@]}" > "$tmp/server.out" 2> "$tmp/server.err" &
}

for s in $SERVERS; do
	for n in $HTTP_AT; do
		case $s in
		native | preload) bin=$BUILD/http_server ;;
		go) bin=$BUILD/http_go ;;
		*) bin=$s ;;
		esac
		: > "$tmp/server.err"; : > "$tmp/wrk.err"
		[[ -x $bin ]] || { row_failed "$s" "$n" "$bin not built"; continue; }
		if [[ $s == preload && ! -f $GOSHIM_LIB ]]; then
			row_failed "$s" "$n" "no $GOSHIM_LIB (set GOSHIM_LIB)"; continue
		fi
		command -v "$WRK" > /dev/null || { row_failed "$s" "$n" "no wrk"; continue; }
		start_ready 5 "$s" || { row_failed "$s" "$n" "$why"; continue; }
		if [[ $s == preload ]] && ! preload_mapped; then
			row_failed "$s" "$n" "$GOSHIM_LIB is not mapped in the server"; continue
		fi
		say "$s N=$n: port $port, wrk for ${HTTP_SECS} s"
		ovf0=$(tcpext ListenOverflows)
		timeout -k 5 $((HTTP_SECS + 20)) "$WRK" -t2 -c"$n" -d"${HTTP_SECS}s" \
			-s "$tmp/report.lua" "http://127.0.0.1:$port/" \
			> "$tmp/wrk.out" 2> "$tmp/wrk.err" &
		wpid=$!
		sleep "$(echo "$HTTP_SECS / 2" | bc -l)"
		threads=$(proc_status Threads) rss=$(proc_status VmRSS)
		wrc=0
		wait "$wpid" || wrc=$?
		wpid=""
		ovf=$(($(tcpext ListenOverflows) - ovf0))
		alive || { row_failed "$s" "$n" "server died during the run"; continue; }
		line=$(grep '^wrk ' "$tmp/wrk.out" || true)
		[[ -n $line ]] || { row_failed "$s" "$n" "wrk gave no result (status $wrc)"; continue; }
		errs=$(($(field connect) + $(field read) + $(field write) + $(field timeout)))
		say "$s N=$n: $(field req_s) req/s, p99 $(field p99_us) us, errors" \
			"c/r/w/t $(field connect)/$(field read)/$(field write)/$(field timeout)," \
			"non2xx $(field non2xx), $threads threads, $ovf listen overflows"
		echo "$s,$n,$(field req_s),$(field p50_us),$(field p99_us),$(field p999_us),$errs,$(field non2xx),$threads,$rss" \
			>> "$csv.tmp"
		stop "$spid"
		spid=""
		next_port	# fresh port: no TIME_WAIT overlap
	done
done
mv -f "$csv.tmp" "$csv"
say "wrote results/bench/http.csv"

# ---- table ---------------------------------------------------------------------
echo
table_awk '
NR == 1 {
	printf "%-8s %6s  %10s %9s %9s %9s %7s %7s %8s %10s\n", "server", "conns", "req/s",
	       "p50 us", "p99 us", "p99.9 us", "errors", "non2xx", "threads", "RSS kB"
	next
}
$3 == "failed" { printf "%-8s %6s  %10s\n", $1, num($2), "failed"; next }
{
	printf "%-8s %6s  %10s %9s %9s %9s %7s %7s %8s %10s\n", $1, num($2), num($3),
	       num($4), num($5), num($6), num($7), num($8), num($9), num($10)
}' "$csv"
echo
echo "GET / of a 1024-byte index.html, wrk -t2, ${HTTP_SECS} s per row; threads and RSS"
echo "sampled halfway through. errors: wrk connect+read+write+timeout; see http.csv."
exit "$failed"
