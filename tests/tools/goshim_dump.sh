#!/usr/bin/env bash
# goshim_dump: `goshim dump PID [--json]` of a running process started under the library
# with no GOSHIM_ setting (tests/tools/dump_target.c: main waiting on stdin, 2 threads on a
# pipe, 1 on a condition variable, 1 sleeping), at GOSHIM_PROCS 1 and 4, run directly, as a
# forked child (which must answer on its own pid's socket) and after exec (same pid, new
# image). Asserts for each:
#   - text: "goshim: 5 green threads", 5 entries, reader_thread twice, cond_thread and
#     sleeper_thread once each in the backtraces, main marked;
#   - JSON: passes python3 -m json.tool; its pid is the target's; 5 green threads, the same
#     ids and states as the text; every one has frames; 3 waiting on an fd for reading;
#   - the signal dump (GOSHIM_DUMP_SIGNAL=USR2) lists the same ids and states as the socket's;
#   - the dump socket adds no OS thread: Threads: in /proc/PID/status is the same with
#     GOSHIM_DUMP_SOCKET=0;
#   - another uid (nobody, via setpriv, when run as root) is refused, exit 1;
#   - `goshim stat PID`: gs=5, waiting=5 of which fd read=3, cond=1, sleep=1; --json parses
#     with the same counts; --watch 0.2 for 1 s prints at least 3 samples;
#   - a process without the library, a pid that does not exist: one line, exit 1;
#     GOSHIM_DUMP_SOCKET=0: no socket; a malformed GOSHIM_DUMP_SOCKET: exit 2;
#     bad dump arguments: usage, exit 2.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
GOSHIM=${GOSHIM:-$ROOT/build/goshim}
OUT=$ROOT/build/tools
mkdir -p "$OUT"
cc -O2 -g -pthread -Wall -o "$OUT/dump_target" tests/tools/dump_target.c || { echo "FAIL goshim_dump: cannot build dump_target"; exit 1; }
tmp=$(mktemp -d /tmp/goshim_dump.XXXXXX)
pids=()
cleanup() {
	exec 7>&- 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
skipped=0
fail() { echo "FAIL goshim_dump: $*"; fails=$((fails + 1)); }

# start MODE [env...]: runs dump_target MODE under goshim with stdin from a fifo held on
# fd 7; sets tpid (the process to dump) and lpid (the launcher, to wait for).
start() {
	local mode=$1; shift
	rm -f "$tmp/in" "$tmp/out" "$tmp/err"
	mkfifo "$tmp/in"
	env "$@" timeout -k 5 120 "$GOSHIM" "$OUT/dump_target" "$mode" <"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
	lpid=$!
	pids+=("$lpid")
	exec 7>"$tmp/in"
	tpid=""
	for _ in $(seq 100); do
		tpid=$(awk '/^ready/ {print $2}' "$tmp/out")
		[[ -n $tpid ]] && return 0
		sleep 0.1
	done
	fail "$mode: dump_target did not start: $(cat "$tmp/err")"
	return 1
}
finish() {
	echo bye >&7
	exec 7>&-
	wait "$lpid" || fail "dump_target ended with status $?: $(head -3 "$tmp/err")"
}
idstates() { grep -o '^G[0-9]* [a-z]*' | sort; }

for mode in wait fork exec; do
	for procs in 1 4; do
		start "$mode" GOSHIM_PROCS=$procs || continue
		what="$mode procs=$procs"
		before=$fails
		[[ $mode == fork && $tpid == "$lpid" ]] && fail "$what: the child reported the launcher's pid"
		"$GOSHIM" dump "$tpid" >"$tmp/text" 2>"$tmp/derr" || fail "$what: dump exit $?: $(cat "$tmp/derr")"
		got="head=$(head -1 "$tmp/text" | cut -d' ' -f2-4) gs=$(grep -c '^G[0-9]' "$tmp/text") \
readers=$(grep -c ' reader_thread+' "$tmp/text") cond=$(grep -c ' cond_thread+' "$tmp/text") \
sleeper=$(grep -c ' sleeper_thread+' "$tmp/text") main=$(grep -c '(main)$' "$tmp/text")"
		want="head=5 green threads gs=5 readers=2 cond=1 sleeper=1 main=1"
		[[ $got == "$want" ]] || { fail "$what: text: $got, want $want"; head -30 "$tmp/text"; }
		"$GOSHIM" dump "$tpid" --json >"$tmp/json" 2>"$tmp/derr" || fail "$what: dump --json exit $?: $(cat "$tmp/derr")"
		python3 -m json.tool "$tmp/json" >/dev/null || fail "$what: the JSON does not parse"
		jgot=$(python3 - "$tmp/json" "$tpid" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
gs = d["green_threads"]
ok = d["pid"] == int(sys.argv[2]) and d["green_threads_count"] == len(gs) and d["procs"] >= 1
ok = ok and all(isinstance(g["frames"], list) and g["frames"] and "function" in g["frames"][0] for g in gs)
fdr = sum(1 for g in gs if g["wait"] and g["wait"]["reason"] == "fd" and g["wait"]["direction"] == "read")
print("ok" if ok else "bad", len(gs), fdr)
for g in sorted(gs, key=lambda g: g["id"]):
    print("G%d %s" % (g["id"], g["state"]), file=open(sys.argv[1] + ".ids", "a"))
PY
)
		[[ $jgot == "ok 5 3" ]] || fail "$what: JSON: $jgot, want ok 5 3"
		[[ $(idstates <"$tmp/text") == "$(sort "$tmp/json.ids")" ]] || fail "$what: text and JSON list different threads"
		rm -f "$tmp/json.ids"
		finish
		((fails == before)) && echo "ok   goshim_dump $what: $got; JSON $jgot"
	done
done

# The signal dump lists what the socket's does; the socket adds no OS thread.
start wait GOSHIM_PROCS=4 GOSHIM_DUMP_SIGNAL=USR2 && {
	"$GOSHIM" dump "$tpid" >"$tmp/text" 2>&1
	kill -USR2 "$tpid"
	for _ in $(seq 50); do grep -q '^G' "$tmp/err" && break; sleep 0.1; done
	sleep 0.3
	# A dead G is the socket's own serving G, detached and not yet freed when the
	# signal's dump runs right after: the program's threads must be the same.
	[[ $(idstates <"$tmp/text" | grep -v ' dead$') == "$(idstates <"$tmp/err" | grep -v ' dead$')" ]] ||
		fail "signal and socket dumps differ: $(idstates <"$tmp/err" | tr '\n' ' ') / $(idstates <"$tmp/text" | tr '\n' ' ')"
	th_on=$(awk '/^Threads:/ {print $2}' "/proc/$tpid/status")
	st=$("$GOSHIM" stat "$tpid") || fail "stat: exit $?"
	sgot="$(grep -o 'gs=[0-9]*' <<<"$st") $(grep -o 'waiting=[0-9]*' <<<"$st") $(grep -o 'fd read=[0-9]*' <<<"$st") $(grep -o 'cond=[0-9]*' <<<"$st") $(grep -o 'sleep=[0-9]*' <<<"$st")"
	[[ $sgot == "gs=5 waiting=5 fd read=3 cond=1 sleep=1" ]] || fail "stat: $sgot: $st"
	jst=$("$GOSHIM" stat "$tpid" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["green_threads"], d["states"]["waiting"], d["waiting"].get("fd read"), d["waiting"].get("cond"), d["waiting"].get("sleep"), d["stack_committed"] > 0)')
	[[ $jst == "5 5 3 1 1 True" ]] || fail "stat --json: $jst"
	samples=$(timeout 1 "$GOSHIM" stat "$tpid" --watch 0.2 | grep -c SCHED)
	((samples >= 3)) || fail "stat --watch 0.2 for 1 s: $samples samples"
	echo "ok   goshim_dump: stat $sgot; --json $jst; --watch 0.2 for 1 s: $samples samples"
	if [[ $(id -u) == 0 ]] && command -v setpriv >/dev/null; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups "$GOSHIM" dump "$tpid" >"$tmp/o" 2>"$tmp/e"
		rc=$?
		if [[ $rc == 1 && ! -s $tmp/o ]] && grep -q 'may not dump' "$tmp/e"; then
			echo "ok   goshim_dump: uid nobody refused: $(cat "$tmp/e")"
		else
			fail "uid nobody: exit $rc, stdout $(wc -c <"$tmp/o") bytes, stderr $(cat "$tmp/e")"
		fi
	else
		echo "SKIP goshim_dump: another uid (needs root and setpriv)"
		skipped=1
	fi
	finish
}
start wait GOSHIM_PROCS=4 GOSHIM_DUMP_SOCKET=0 && {
	th_off=$(awk '/^Threads:/ {print $2}' "/proc/$tpid/status")
	[[ $th_on == "$th_off" ]] || fail "OS threads with the dump socket $th_on, without $th_off"
	"$GOSHIM" dump "$tpid" >"$tmp/o" 2>"$tmp/e"
	rc=$?
	[[ $rc == 1 ]] && grep -q 'does not run the goshim library' "$tmp/e" || fail "GOSHIM_DUMP_SOCKET=0: exit $rc: $(cat "$tmp/e")"
	finish
	echo "ok   goshim_dump: OS threads $th_on with the socket, $th_off without; GOSHIM_DUMP_SOCKET=0 has none"
}

# Errors: one line each.
check() {	# check WANT_RC PATTERN cmd...: exit status and a line of stderr
	local want=$1 pat=$2; shift 2
	"$@" >"$tmp/o" 2>"$tmp/e"
	local rc=$?
	[[ $rc == "$want" && ! -s $tmp/o ]] && grep -q -- "$pat" "$tmp/e" ||
		fail "$*: exit $rc (want $want), stdout $(wc -c <"$tmp/o") bytes, stderr: $(head -2 "$tmp/e")"
}
check 1 'does not run the goshim library' "$GOSHIM" dump $$
check 1 'stat: process .* does not run the goshim library' "$GOSHIM" stat $$
check 2 '^usage: goshim' "$GOSHIM" stat 1 --watch x
check 1 'no process' "$GOSHIM" dump $(($(cat /proc/sys/kernel/pid_max) + 1))
check 2 '^usage: goshim' "$GOSHIM" dump
check 2 '^usage: goshim' "$GOSHIM" dump abc
check 2 '^usage: goshim' "$GOSHIM" dump 1 --bogus
check 2 'GOSHIM_DUMP_SOCKET=yes: expected 0' env GOSHIM_DUMP_SOCKET=yes "$GOSHIM" true
((fails == 0 && skipped == 0)) && echo "goshim_dump: all passed"
((fails > 0 || skipped == 0)) || exit 77	# a skip for scripts/test.sh, not a pass
exit $((fails > 0))
