# bench-common.bash: what the load benchmarks scripts/bench_http.sh and
# scripts/bench_chat.sh share; they source it (it is not run on its own).
# shellcheck shell=bash
#
# Before sourcing it a script sets BENCH (its name: the prefix of its
# progress lines and of its temporary directory), SAY_WIDTH (the width the
# message of a progress line is padded to) and PORT_BASE (its servers get
# ports PORT_BASE..PORT_BASE+999). Sourcing it goes to the top of the
# repository, raises the soft RLIMIT_NOFILE to the hard limit (for the servers
# and the load generator alike) and sets:
#   top, BUILD (build/demo, made), OUT (results/bench, made), GOSHIM_LIB
#   ($top/build/libgoshim.so), SERVERS ("native preload go"), CC (gcc), GO
#   (go), CFLAGS (as scripts/demo.sh builds the demos), t0 (the start time),
#   tmp (a new directory under /tmp: the script's EXIT trap removes it), spid
#   (the server's PID, "" while none runs)
# and defines the functions below: say, stale, build_c, build_go, next_port,
# alive, start_ready, preload_mapped, proc_status, field and table_awk. The script sets
# port (the first port to try) itself, and defines launch_server for
# start_ready.

cd "$(dirname "${BASH_SOURCE[0]}")/.."
top=$PWD
BUILD=$top/build/demo
OUT=$top/results/bench
GOSHIM_LIB=${GOSHIM_LIB:-$top/build/libgoshim.so}
SERVERS=${SERVERS:-native preload go}
CC=${CC:-gcc}
GO=${GO:-go}
CFLAGS=(-O2 -g -pthread -Wall)
t0=$EPOCHREALTIME

# say MESSAGE...: a progress line on stderr, with the seconds since t0.
say() {
	printf '%s: %-*s %6.1f s\n' "$BENCH" "$SAY_WIDTH" "$*" \
		"$(echo "$EPOCHREALTIME - $t0" | bc)" >&2
}

tmp=$(mktemp -d "/tmp/$BENCH.XXXXXX")
spid=""
ulimit -S -n "$(ulimit -H -n)"
mkdir -p "$BUILD" "$OUT"

# stale OUT SRC...: true if OUT is missing or older than one of the SRCs.
stale() {
	local out=$1 src
	shift
	[[ -x $out ]] || return 0
	for src in "$@"; do
		[[ $src -nt $out ]] && return 0
	done
	return 1
}

# build_c NAME SRC...: compiles the SRCs into build/demo/NAME. Returns 1 if
# that fails, the compiler's messages in $tmp/build.err.
build_c() {
	local name=$1
	shift
	say "building build/demo/$name"
	# Built beside its final name, then renamed: never a half-written binary.
	if "$CC" "${CFLAGS[@]}" -o "$BUILD/.$name.$$" "$@" 2> "$tmp/build.err"; then
		mv -f "$BUILD/.$name.$$" "$BUILD/$name"
	else
		rm -f "$BUILD/.$name.$$"
		return 1
	fi
}

# build_go NAME SRC...: builds the Go SRCs (one program) into build/demo/NAME,
# as scripts/demo.sh does: GOPATH mode and a cache under build/, so no
# module download, no network and nothing written to $HOME. Returns 1 if
# there is no Go toolchain or the build fails, its messages in $tmp/build.err.
build_go() {
	local name=$1
	shift
	say "building build/demo/$name"
	if command -v "$GO" > /dev/null &&
		GOCACHE=$BUILD/gocache GOPATH=$BUILD/gopath GO111MODULE=off GOFLAGS='' \
			"$GO" build -o "$BUILD/.$name.$$" "$@" 2> "$tmp/build.err"; then
		mv -f "$BUILD/.$name.$$" "$BUILD/$name"
	else
		rm -f "$BUILD/.$name.$$"
		return 1
	fi
}

# next_port: the next port of PORT_BASE..PORT_BASE+999, round.
next_port() { port=$((PORT_BASE + (port - PORT_BASE + 1) % 1000)); }

alive() { kill -0 "$spid" 2>/dev/null; }

# start_ready TRIES ARG...: starts the server with `launch_server ARG...` (the
# script's: starts it in the background on $port, its stdout to
# $tmp/server.out and its stderr to $tmp/server.err; returns 1 with the
# reason in $why if it cannot) and waits up to 10 s for its "ready". A server
# that exits because its port is taken is started again on the next port, up
# to TRIES times in all. Sets spid and port; returns 1 with the reason in $why.
start_ready() {
	local tries=$1 try i
	shift
	for ((try = 0; try < tries; try++)); do
		launch_server "$@" || return 1
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
		next_port
	done
	why="no free port"
	return 1
}

# preload_mapped: true if GOSHIM_LIB is mapped in the server. ld.so only
# warns about a library it cannot preload: a preload row must not be a
# native one.
preload_mapped() { grep -qF "$(realpath "$GOSHIM_LIB")" "/proc/$spid/maps"; }

# proc_status FIELD: a field of the server's /proc/PID/status ("Threads",
# "VmRSS": in kB).
proc_status() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$spid/status" 2>/dev/null; }

# field KEY: the value of KEY=value in $line (a result line of key=value fields).
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$line"; }

# table_awk PROGRAM CSV: runs the awk PROGRAM over the comma-separated CSV
# (the table of a benchmark), with one more function for it: num(x), x as a
# whole number with thousands separators ("12,345"), "-" when empty.
table_awk() {
	awk -F, '
function num(x,   s) {
	if (x == "") return "-"
	s = sprintf("%d", x)
	while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
	return s
}
'"$1" "$2"
}
