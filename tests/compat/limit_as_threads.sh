# limit_as_threads.sh: runs limit_as_threads natively and as the runner runs it
# (preloaded or not), and prints the verdicts the runner compares: the same error,
# every made thread joined, and the count within a factor of two of the native one.
# Why a factor of two: the runtime's own reservations (its M table, the Ms' stacks,
# malloc arenas of its OS threads) take some of the 768 MiB, and a chunk may hold a
# few stacks' worth beyond the last thread; nothing near a half of it. The old
# behaviour (no thread at all: one 8 MiB stack reserved a 2 GiB chunk) fails it.
set -euo pipefail
bin=$1
native=$(env -u LD_PRELOAD "$bin")
this=$("$bin")
count() { sed -n 's/^created \([0-9]*\)$/\1/p' <<< "$1"; }
n=$(count "$native")
m=$(count "$this")
echo "limit_as_threads: native $n, this run $m" >&2
grep -v '^created\|^joined [0-9]' <<< "$this"
[[ $(grep '^joined [0-9]' <<< "$this") == "joined $m of $m" ]] && echo "every made thread joined: yes" ||
    echo "every made thread joined: no ($(grep '^joined [0-9]' <<< "$this"))"
if (( n > 0 && m * 2 >= n && m <= n * 2 )); then
    echo "count within a factor of two of native: yes"
else
    echo "count within a factor of two of native: no (native $n, this run $m)"
fi
