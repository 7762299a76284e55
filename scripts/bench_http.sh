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
# when missing or older than their source, makes a docroot holding an
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
# from the top of the repository. Nothing here judges the figures.
set -euo pipefail

cd "$(dirname "$0")/.."
top=$PWD
BUILD=$top/build/demo
OUT=$top/results/bench
GOSHIM_LIB=${GOSHIM_LIB:-$top/build/libgoshim.so}
SERVERS=${SERVERS:-native preload go}
HTTP_AT=${HTTP_AT:-1000 10000}
HTTP_SECS=${HTTP_SECS:-5}
CC=${CC:-gcc}
GO=${GO:-go}
WRK=${WRK:-wrk}
port=${PORT:-$((30000 + $$ % 900))}
T0=$EPOCHREALTIME

say() {
	printf 'bench_http: %-60s %6.1f s\n' "$*" "$(echo "$EPOCHREALTIME - $T0" | bc)" >&2
}

tmp=$(mktemp -d /tmp/bench_http.XXXXXX)
spid=""
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

mkdir -p "$BUILD" "$OUT"

# ---- build ---------------------------------------------------------------------
if [[ ! -x $BUILD/http_server || demos/http_server.c -nt $BUILD/http_server ]]; then
	say "building build/demo/http_server"
	"$CC" -O2 -g -pthread -Wall -o "$BUILD/.http_server.$$" demos/http_server.c &&
		mv -f "$BUILD/.http_server.$$" "$BUILD/http_server" ||
		say "build of http_server failed: the native and preload rows will say failed"
fi
if [[ ! -x $BUILD/http_go || demos/peers/http.go -nt $BUILD/http_go ]]; then
	if command -v "$GO" > /dev/null; then
		say "building build/demo/http_go"
		# As demo.sh: GOPATH mode, caches under build/, nothing from the network.
		GOCACHE=$BUILD/gocache GOPATH=$BUILD/gopath GO111MODULE=off GOFLAGS='' \
			"$GO" build -o "$BUILD/.http_go.$$" demos/peers/http.go &&
			mv -f "$BUILD/.http_go.$$" "$BUILD/http_go" ||
			say "go build failed: the go rows will say failed"
	else
		say "no Go toolchain: the go rows will say failed"
	fi
fi
rm -f "$BUILD/.http_server.$$" "$BUILD/.http_go.$$"
command -v "$WRK" > /dev/null || { say "no $WRK: every row will say failed"; }

# ---- limits, docroot, Lua --------------------------------------------------------
ulimit -S -n "$(ulimit -H -n)"
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

alive() { kill -0 "$spid" 2>/dev/null; }
# A TcpExt counter of /proc/net/netstat (system-wide), e.g. ListenOverflows:
# connections whose handshake completed while the server's accept queue was
# full; the client sees them connected, the kernel drops the ACK and resends
# the SYN-ACK a second later, so they show up as latency, not errors.
tcpext() {
	awk -v k="$1" '$1 == "TcpExt:" { if (!h) { for (i = 2; i <= NF; i++) if ($i == k) c = i; h = 1 }
		else print $c + 0 }' /proc/net/netstat
}
status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$spid/status" 2>/dev/null; }

# row_failed SERVER N WHY: a failed row, the reason and the server's stderr.
row_failed() {
	say "$1 N=$2: failed: $3"
	head -n 5 "$tmp/server.err" | sed 's/^/bench_http:   server: /' >&2 || true
	head -n 5 "$tmp/wrk.err" | sed 's/^/bench_http:   wrk: /' >&2 || true
	echo "$1,$2,failed,,,,,,," >> "$csv.tmp"
	failed=1
	[[ -n $spid ]] && stop "$spid"
	spid=""
	port=$((30000 + (port - 30000 + 1) % 1000))
	return 0
}

# start SERVER: starts it on a free port (up to five tried), waits for
# "ready"; sets spid and port. Returns 1 with the reason in $why.
start() {
	local try i cmd
	for ((try = 0; try < 5; try++)); do
		case $1 in
		native)  cmd=("$BUILD/http_server" "$port" "$tmp/www") ;;
		preload) cmd=(env "LD_PRELOAD=$GOSHIM_LIB" "$BUILD/http_server" "$port" "$tmp/www") ;;
		go)      cmd=("$BUILD/http_go" "$port" "$tmp/www") ;;
		*) why="unknown server (native, preload, go)"; return 1 ;;
		esac
		: > "$tmp/server.out"	# exists before the child opens it: polled at once
		"${cmd[@]}" > "$tmp/server.out" 2> "$tmp/server.err" &
		spid=$!
		for ((i = 0; i < 200; i++)); do
			[[ $(head -c 16 "$tmp/server.out") == ready* ]] && return 0
			alive || break
			sleep 0.05
		done
		if alive; then why="not ready within 10 s"; return 1; fi
		wait "$spid" 2>/dev/null || true
		spid=""
		grep -qi "address already in use" "$tmp/server.err" || { why="exited at start"; return 1; }
		port=$((30000 + (port - 30000 + 1) % 1000))
	done
	why="no free port"
	return 1
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
		start "$s" || { row_failed "$s" "$n" "$why"; continue; }
		# ld.so only warns about a library it cannot preload: make sure the
		# preload row is not a native one.
		if [[ $s == preload ]] && ! grep -qF "$(realpath "$GOSHIM_LIB")" "/proc/$spid/maps"; then
			row_failed "$s" "$n" "$GOSHIM_LIB is not mapped in the server"; continue
		fi
		say "$s N=$n: port $port, wrk for ${HTTP_SECS} s"
		ovf0=$(tcpext ListenOverflows)
		timeout -k 5 $((HTTP_SECS + 20)) "$WRK" -t2 -c"$n" -d"${HTTP_SECS}s" \
			-s "$tmp/report.lua" "http://127.0.0.1:$port/" \
			> "$tmp/wrk.out" 2> "$tmp/wrk.err" &
		wpid=$!
		sleep "$(echo "$HTTP_SECS / 2" | bc -l)"
		threads=$(status_kb Threads) rss=$(status_kb VmRSS)
		wrc=0
		wait "$wpid" || wrc=$?
		wpid=""
		ovf=$(($(tcpext ListenOverflows) - ovf0))
		alive || { row_failed "$s" "$n" "server died during the run"; continue; }
		line=$(grep '^wrk ' "$tmp/wrk.out" || true)
		[[ -n $line ]] || { row_failed "$s" "$n" "wrk gave no result (status $wrc)"; continue; }
		field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$line"; }
		errs=$(($(field connect) + $(field read) + $(field write) + $(field timeout)))
		say "$s N=$n: $(field req_s) req/s, p99 $(field p99_us) us, errors" \
			"c/r/w/t $(field connect)/$(field read)/$(field write)/$(field timeout)," \
			"non2xx $(field non2xx), $threads threads, $ovf listen overflows"
		echo "$s,$n,$(field req_s),$(field p50_us),$(field p99_us),$(field p999_us),$errs,$(field non2xx),$threads,$rss" \
			>> "$csv.tmp"
		stop "$spid"
		spid=""
		port=$((30000 + (port - 30000 + 1) % 1000))	# fresh port: no TIME_WAIT overlap
	done
done
mv -f "$csv.tmp" "$csv"
say "wrote results/bench/http.csv"

# ---- table ---------------------------------------------------------------------
echo
awk -F, '
function num(x,   s) {
	if (x == "") return "-"
	s = sprintf("%d", x)
	while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
	return s
}
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
