#!/usr/bin/env bash
# scripts/switch_count.sh: instructions and locked instructions per hand-off of
# bench/switch.c's mutex + condvar ping-pong, preloaded with GOSHIM_PROCS=1, in
# each identity mode (default moving, GOSHIM_DEBUG=move=0, pinned=1), counted
# by single-stepping the OS thread that runs both green threads over COUNT
# hand-offs (bench/icount.c, bench/switch_count.c). Exact and independent of
# the machine's load, unlike the ns figures of scripts/bench.sh; for machines
# (VMs) without hardware counters. x86-64 only. Takes about a minute.
#
# Usage: scripts/switch_count.sh [LIB...]   (default build/libgoshim.so; a
#        library of another commit can be given beside it: a mode setting it
#        does not accept shows as "failed")
# Environment: COUNT hand-offs counted (default 200), CC (default gcc).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
libs=("$@")
((${#libs[@]})) || libs=("$root/build/libgoshim.so")
count=${COUNT:-200}
cc=${CC:-gcc}
bin=$root/build/bench
mkdir -p "$bin"
"$cc" -O2 -g -Wall -o "$bin/icount" bench/icount.c
"$cc" -O2 -g -pthread -Wall -o "$bin/switch_count" bench/switch_count.c
printf '%-40s %-9s %14s %14s\n' library mode instructions locked
for lib in "${libs[@]}"; do
	[[ $lib == /* ]] || lib=$root/$lib
	for mode in default move=0 pinned=1; do
		dbg=asyncpreemptoff=1
		[[ $mode != default ]] && dbg+=",$mode"
		out=$(timeout 600 "$bin/icount" env LD_PRELOAD="$lib" GOSHIM_PROCS=1 \
			GOSHIM_DEBUG="$dbg" "$bin/switch_count" 1000 "$count" 2>&1 >/dev/null || true)
		read -r n l <<<"$(awk '/^icount/ { print $2, $4 }' <<<"$out")"
		if [[ -z ${n:-} ]]; then
			printf '%-40s %-9s %14s %14s\n' "${lib#"$root/"}" "$mode" failed -
			continue
		fi
		awk -v lib="${lib#"$root/"}" -v m="$mode" -v n="$n" -v l="$l" -v c="$count" \
			'BEGIN { printf "%-40s %-9s %14.1f %14.1f\n", lib, m, n / c, l / c }'
	done
done
