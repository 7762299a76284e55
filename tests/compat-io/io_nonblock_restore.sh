# io_nonblock_restore.sh: checks that a program's I/O leaves the O_NONBLOCK flag of
# open file descriptions it shares with its parent as the program left it.
#
# Usage: bash io_nonblock_restore.sh BUILT_BINARY   (the runner passes build/compat/NAME)
# The shell opens four FIFOs O_RDWR (so it shares each description with the program),
# presets O_NONBLOCK on two of them, keeps the read end of an anonymous pipe (fed by a
# child that writes "stdin-data" after 0.2 s) and runs the program (preloaded if the
# runner says so) with that pipe as stdin; then it reads each description's flags from
# its own /proc/PID/fdinfo: stdin, 3 and 5 must be blocking, 4 and 6 O_NONBLOCK (4 because the
# program set it, 6 because it was so and the program left it alone). Its own stdout and
# stderr (the runner's pipes, also shared with the program) must be as before.
# Helpers (the --set-nonblock mode) run without LD_PRELOAD; only the test program is
# preloaded.
set -euo pipefail

bin=$1
preload=${LD_PRELOAD-}
unset LD_PRELOAD
run=()
if [ -n "$preload" ]; then
	run=(env "LD_PRELOAD=$preload")
fi

tmp=$(mktemp -d /tmp/io_nonblock_restore.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 143' TERM INT
for f in shared own preset left; do
	mkfifo "$tmp/$f"
done
exec 3<>"$tmp/shared" 4<>"$tmp/own" 5<>"$tmp/preset" 6<>"$tmp/left"
# The writer's delay only makes it likely the program's read blocks first.
exec 7< <(sleep 0.2; printf stdin-data)

# The O_NONBLOCK state of this shell's fd $1, from the kernel.
nonblock_of() {
	local key val
	while read -r key val; do
		if [ "$key" = "flags:" ]; then
			if (( 8#$val & 8#4000 )); then echo O_NONBLOCK; else echo blocking; fi
			return 0
		fi
	done < "/proc/$$/fdinfo/$1"
	echo "no flags line for fd $1" >&2
	return 1
}

"$bin" --set-nonblock 5 6
out1_before=$(nonblock_of 1)
out2_before=$(nonblock_of 2)
echo "before: stdin $(nonblock_of 7), fd 3 $(nonblock_of 3), fd 4 $(nonblock_of 4)," \
	"fd 5 $(nonblock_of 5), fd 6 $(nonblock_of 6)"

status=0
"${run[@]}" "$bin" <&7 7<&- || status=$?
if [ "$status" -ne 0 ]; then
	echo "io_nonblock_restore: FAIL: the program exited with status $status" >&2
	exit 1
fi

after="stdin $(nonblock_of 7), fd 3 $(nonblock_of 3), fd 4 $(nonblock_of 4), fd 5 $(nonblock_of 5), fd 6 $(nonblock_of 6)"
echo "after:  $after"
want="stdin blocking, fd 3 blocking, fd 4 O_NONBLOCK, fd 5 blocking, fd 6 O_NONBLOCK"
if [ "$after" != "$want" ]; then
	echo "io_nonblock_restore: FAIL: after the program the shared descriptions are" \
		"'$after', want '$want'" >&2
	exit 1
fi
if [ "$(nonblock_of 1)" != "$out1_before" ] || [ "$(nonblock_of 2)" != "$out2_before" ]; then
	echo "io_nonblock_restore: FAIL: stdout/stderr O_NONBLOCK changed from" \
		"$out1_before/$out2_before to $(nonblock_of 1)/$(nonblock_of 2)" >&2
	exit 1
fi
echo "stdout and stderr descriptions: O_NONBLOCK as before"
echo "io_nonblock_restore: ok"
