# io_dump_full_stderr.sh: a dump (GOSHIM_DUMP_SIGNAL=URG) written while the program's
# stderr is a full pipe does not park or deadlock: it waits in the kernel until the
# pipe is drained, and the program then goes on (io_dump_full_stderr.c).
#
# Usage: bash io_dump_full_stderr.sh BUILT_BINARY (the runner passes build/compat-io/NAME).
# stderr is a FIFO this shell opened O_RDWR and nobody reads until the program says
# "stderr full"; then, 0.3 s later, a cat drains it. Natively SIGURG is ignored; preloaded
# the drained text must hold the dump's first line, and (with strace) no poll of fd 2 may
# follow the kill. Output (stdout) is the same both ways.
set -euo pipefail

bin=$1
tmp=$(mktemp -d /tmp/io_dump_full_stderr.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
mkfifo "$tmp/err" "$tmp/out"
exec 3<>"$tmp/err"

# Preloaded, under strace when there is one: the dump's writes must reach the kernel
# as plain blocking writes, never as a wait for fd 2 in the netpoller (our write hook
# polls the fd first, then parks). strace itself runs without the library.
run=("$bin")
traced=0
if [ "${GOSHIM_TEST_PRELOADED:-}" = 1 ] && command -v strace >/dev/null; then
	run=(env -u LD_PRELOAD strace -f -qq -o "$tmp/trace" -e trace=kill,tgkill,poll,write
		env "LD_PRELOAD=$LD_PRELOAD" "$bin")
	traced=1
fi
GOSHIM_DUMP_SIGNAL=URG "${run[@]}" 2>&3 >"$tmp/out" &
prog=$!
pids+=("$prog")
exec 4<"$tmp/out"
read -r line <&4
echo "program: $line"
[ "$line" = "stderr full" ] || exit 1
sleep 0.3
cat <&3 >"$tmp/drained" &
pids+=($!)
read -r line <&4 || line="(EOF)"
echo "program: $line"
status=0
wait "$prog" || status=$?
echo "program exit status: $status"
for _ in $(seq 200); do	# until cat has copied the program's last line
	grep -q END-OF-STDERR "$tmp/drained" && break
	sleep 0.05
done
if [ "${GOSHIM_TEST_PRELOADED:-}" = 1 ] && ! grep -q "goshim: [0-9]* green threads" "$tmp/drained"; then
	echo "io_dump_full_stderr: FAIL: no dump in the drained stderr" >&2
	exit 1
fi
if [ $traced = 1 ]; then
	polls=$(awk '/kill\(.*SIGURG/ { k = 1 } k && /poll\(\[\{fd=2, events=POLLOUT/' "$tmp/trace" | head -3)
	if [ -n "$polls" ]; then
		echo "io_dump_full_stderr: FAIL: the dump waited for fd 2 through the write hook:" >&2
		echo "$polls" >&2
		exit 1
	fi
fi
echo "io_dump_full_stderr: ok"
