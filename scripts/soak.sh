#!/usr/bin/env bash
# soak.sh: a long run with connection churn leaks nothing. demos/echo_server
# serves TOTAL short connections (connect, one 64-byte echo, close; INFLIGHT
# at a time: `loadgen ... churn`), then IDLE idle ones; at 0, at each EVERY
# completed connections (with none in flight, once the server has settled) and
# with the idle ones open, the server's RSS, VMAs, fds, OS threads and green
# threads are sampled. The same for each SERVER, side by side.
#
# usage: scripts/soak.sh [-s] [-n TOTAL] [-e EVERY] [-i IDLE] [SERVER...]
#   SERVER  preload  build/demo/echo_server with LD_PRELOAD=$GOSHIM_LIB
#           native   the same without it
#           go       build/demo/echo_go (demos/peers/echo.go)
#           (default: preload native go)
#   -s      short: 20,000 connections, a sample every 2,000, 1,000 idle
#   -n, -e, -i  TOTAL (1,000,000), EVERY (100,000), IDLE (10,000)
# environment: BUILD (build/demo), GOSHIM_LIB ($PWD/build/libgoshim.so),
#   SOAK_OUT (results/bench), PORT (a free port below 32768), INFLIGHT (200),
#   SOAK_SMAPS (a directory: the server's /proc/PID/smaps at each sample goes there).
#
# Columns: rss (VmRSS, KiB), vmas (lines of /proc/PID/maps), fds (entries of
# /proc/PID/fd), threads (Threads: of /proc/PID/status), gs (green threads:
# preloaded, the count in the dump the runtime prints on GOSHIM_DUMP_SIGNAL;
# natively the OS threads; Go: not visible from outside, "-"). "settled"
# means fds, threads and RSS unchanged over three samples 0.2 s apart (a
# closed connection's thread may still be finishing when the client has its
# reset; pooled stacks give their pages back when the runtime goes idle).
#
# Verdicts, per server, over the churn samples from the first EVERY on (the
# first EVERY is the warm-up: pools, arenas and tables reach their size):
# rss within 5% of its value there, vmas, fds, threads and gs never above it.
# Exit status 1 if the preloaded server fails one (the others are figures).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

TOTAL=1000000
EVERY=100000
IDLE=10000
while getopts "sn:e:i:" opt; do
	case $opt in
	s) TOTAL=20000 EVERY=2000 IDLE=1000 ;;
	n) TOTAL=$OPTARG ;;
	e) EVERY=$OPTARG ;;
	i) IDLE=$OPTARG ;;
	*) echo "usage: $0 [-s] [-n TOTAL] [-e EVERY] [-i IDLE] [preload|native|go...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
SERVERS=("$@")
((${#SERVERS[@]})) || SERVERS=(preload native go)
BUILD=${BUILD:-$ROOT/build/demo}
GOSHIM_LIB=${GOSHIM_LIB:-$ROOT/build/libgoshim.so}
OUT=${SOAK_OUT:-$ROOT/results/bench}
INFLIGHT=${INFLIGHT:-200}
CC=${CC:-gcc}
GO=${GO:-go}
T0=$EPOCHREALTIME

say() { printf 'soak: %-60s %7.1f s\n' "$1" "$(echo "$EPOCHREALTIME - $T0" | bc)" >&2; }

mkdir -p "$BUILD" "$OUT"
"$CC" -O2 -g -pthread -Wall -o "$BUILD/echo_server" demos/echo_server.c
"$CC" -O2 -g -pthread -Wall -o "$BUILD/loadgen" demos/loadgen.c demos/loadcommon.c
if [[ " ${SERVERS[*]} " == *" go "* ]]; then
	GOCACHE=$BUILD/gocache GOPATH=$BUILD/gopath GO111MODULE=off GOFLAGS='' \
		"$GO" build -o "$BUILD/echo_go" demos/peers/echo.go demos/peers/listen.go ||
		say "go build failed: no go column"
fi

tmp=$(mktemp -d /tmp/soak.XXXXXX)
spid="" lpid="" ipid=""
cleanup() {
	# Only the processes this script started, by PID.
	for p in $ipid $lpid $spid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

alive() { kill -0 "$spid" 2>/dev/null; }
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$spid/status"; }
threads() { awk '$1 == "Threads:" { print $2 }' "/proc/$spid/status"; }
vmas() { wc -l < "/proc/$spid/maps"; }
fds() { local l=("/proc/$spid/fd/"*); echo "${#l[@]}"; }

# Green threads: preloaded, from the header of a dump ("goshim: N green threads on").
gs() {
	case $server in
	preload)
		local before i
		before=$(grep -c "green threads on" "$tmp/server.err" || true)
		kill -USR2 "$spid"
		for ((i = 0; i < 200; i++)); do
			(($(grep -c "green threads on" "$tmp/server.err" || true) > before)) && break
			sleep 0.05
		done
		grep "green threads on" "$tmp/server.err" | tail -1 | sed 's/.*goshim: \([0-9]*\) green.*/\1/'
		;;
	native) threads ;;
	*) echo - ;;
	esac
}

# Waits (up to 20 s) until fds, threads and RSS have not moved over three samples
# (the runtime gives pooled stacks' pages back when its monitor goes idle).
settle() {
	local last="" same=0 i cur
	for ((i = 0; i < 100; i++)); do
		cur="$(fds) $(threads) $(rss)"
		if [[ $cur == "$last" ]]; then
			((++same >= 2)) && return 0
		else
			same=0
		fi
		last=$cur
		sleep 0.2
	done
	say "$server: fds/threads/rss still moving after 20 s"
}

# row LABEL RATE: one CSV row of the server's figures.
row() {
	settle
	alive || { say "$server: the server died"; exit 1; }
	echo "$1,$(rss),$(vmas),$(fds),$(threads),$(gs),$2" >> "$csv"
	[[ -n ${SOAK_SMAPS-} ]] && cp "/proc/$spid/smaps" "$SOAK_SMAPS/$server-$1.smaps"
	say "$server at $1: $(tail -1 "$csv")"
}

run_one() {
	local cmd port try line
	case $server in
	preload) cmd=(env "LD_PRELOAD=$GOSHIM_LIB" GOSHIM_DUMP_SIGNAL=USR2 "$BUILD/echo_server") ;;
	native)  cmd=("$BUILD/echo_server") ;;
	go)      cmd=("$BUILD/echo_go") ;;
	esac
	csv=$OUT/soak-$server.csv
	echo "at,rss_kb,vmas,fds,threads,gs,conns_per_s" > "$csv"
	port=${PORT:-$((21000 + $$ % 8000))}
	spid=""
	for ((try = 0; try < 5; try++, port++)); do
		: > "$tmp/server.err"
		"${cmd[@]}" "$port" > "$tmp/server.out" 2> "$tmp/server.err" &
		spid=$!
		for ((i = 0; i < 100; i++)); do
			grep -q ready "$tmp/server.out" && break
			alive || break
			sleep 0.1
		done
		grep -q ready "$tmp/server.out" && break
		kill "$spid" 2>/dev/null || true
		wait "$spid" 2>/dev/null || true
		spid=""
	done
	[[ -n $spid ]] || { say "$server: cannot start"; return 1; }
	if [[ $server == preload ]] && ! grep -qF "$(realpath "$GOSHIM_LIB")" "/proc/$spid/maps"; then
		say "$GOSHIM_LIB is not mapped in the server"
		return 1
	fi
	row 0 ""
	# The churn client waits for a line after each progress report: a pipe each way.
	mkfifo "$tmp/to_lg" "$tmp/from_lg"
	"$BUILD/loadgen" 127.0.0.1 "$port" "$INFLIGHT" churn "$TOTAL" "$EVERY" \
		< "$tmp/to_lg" > "$tmp/from_lg" 2> "$tmp/lg.err" &
	lpid=$!
	exec 7> "$tmp/to_lg" 8< "$tmp/from_lg"
	while IFS= read -r line <&8; do
		case $line in
		progress*)
			set -- $line
			row "$2" "${3#conns_per_s=}"
			echo go >&7
			;;
		churn*)
			say "$server: $line"
			echo "# $line" >> "$csv"
			;;
		esac
	done
	exec 7>&- 8<&-
	wait "$lpid" || say "$server: loadgen churn failed: $(head -3 "$tmp/lg.err")"
	lpid=""
	rm -f "$tmp/to_lg" "$tmp/from_lg"
	# Then IDLE idle connections, held until a line arrives on its stdin.
	mkfifo "$tmp/to_idle"
	"$BUILD/loadgen" 127.0.0.1 "$port" "$IDLE" idle < "$tmp/to_idle" > "$tmp/idle.out" 2> "$tmp/idle.err" &
	ipid=$!
	exec 7> "$tmp/to_idle"
	for ((i = 0; i < 600; i++)); do
		grep -q connected "$tmp/idle.out" && break
		kill -0 "$ipid" 2>/dev/null || break
		sleep 0.1
	done
	if grep -q connected "$tmp/idle.out"; then
		row "idle$IDLE" ""
	else
		say "$server: the idle connections did not open: $(head -3 "$tmp/idle.err")"
	fi
	echo stop >&7
	exec 7>&-
	wait "$ipid" || true
	ipid=""
	rm -f "$tmp/to_idle"
	kill "$spid"
	wait "$spid" 2>/dev/null || true
	spid=""
}

for server in "${SERVERS[@]}"; do
	[[ $server == go && ! -x $BUILD/echo_go ]] && continue
	say "$server: $TOTAL connections, $INFLIGHT in flight, then $IDLE idle"
	run_one || say "$server: failed"
done

# The table, side by side, and the verdicts.
report=$OUT/soak.txt
{
	echo "soak: $TOTAL short connections ($INFLIGHT in flight), then $IDLE idle; $(date -u '+%F %H:%M UTC'), $(nproc) CPUs"
	printf '%-10s' at
	for s in "${SERVERS[@]}"; do
		[[ -f $OUT/soak-$s.csv ]] || continue
		printf ' | %-41s' "$s: rss_kb vmas fds thr gs conn/s"
	done
	echo
	labels=$(for s in "${SERVERS[@]}"; do [[ -f $OUT/soak-$s.csv ]] && grep -v '^#' "$OUT/soak-$s.csv" | tail -n +2 | cut -d, -f1; done | awk '!seen[$0]++')
	for l in $labels; do
		printf '%-10s' "$l"
		for s in "${SERVERS[@]}"; do
			[[ -f $OUT/soak-$s.csv ]] || continue
			awk -F, -v l="$l" '$1 == l { printf " | %8s %5s %5s %4s %6s %7s   ", $2, $3, $4, $5, $6, $7; f = 1 }
				END { if (!f) printf " | %-41s", "" }' "$OUT/soak-$s.csv"
		done
		echo
	done
	for s in "${SERVERS[@]}"; do
		[[ -f $OUT/soak-$s.csv ]] || continue
		grep '^#' "$OUT/soak-$s.csv" | sed "s/^# /$s: /"
	done
} > "$report"

status=0
for s in "${SERVERS[@]}"; do
	[[ -f $OUT/soak-$s.csv ]] || continue
	v=$(awk -F, -v every="$EVERY" '
		/^#/ || NR == 1 || $1 !~ /^[0-9]+$/ || $1 < every { next }
		!base { base = 1; r0 = $2; v0 = $3; f0 = $4; t0 = $5; g0 = $6; n = 0 }
		{ d = ($2 - r0) / r0 * 100; if (d < 0) d = -d; if (d > dev) dev = d
		  if ($3 > v0) vg = vg " vmas " $3 ">" v0
		  if ($4 > f0) fg = fg " fds " $4 ">" f0
		  if ($5 > t0) tg = tg " threads " $5 ">" t0
		  if ($6 != "-" && $6 > g0) gg = gg " gs " $6 ">" g0
		  n++ }
		END {
			if (!base) { print "no samples"; exit 1 }
			printf "rss within 5%% of the first %d: %s (largest deviation %.1f%% over %d samples); ", every, dev <= 5 ? "yes" : "no", dev, n
			printf "vmas, fds, threads, gs never above it: %s\n", (vg fg tg gg) == "" ? "yes" : "no:" vg fg tg gg
			exit !(dev <= 5 && (vg fg tg gg) == "")
		}' "$OUT/soak-$s.csv") && ok=1 || ok=0
	echo "$s: $v" >> "$report"
	[[ $s == preload && $ok == 0 ]] && status=1
done
cat "$report"
say "wrote $report and $OUT/soak-*.csv"
exit $status
