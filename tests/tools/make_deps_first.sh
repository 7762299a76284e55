#!/usr/bin/env bash
# make_deps_first: on a fresh machine both README commands (`make demo`, `make test`) and
# every other goal that compiles must install or name the Debian packages before the first
# compiler call, in either order and with -j (issue 13).
#  1. `make -n -B GOAL` (and with -j4): the dependency step is printed before any cc/gcc/clang.
#  2. `make -B -j4 GOAL DEPS_SH=false` into an empty build directory: make stops at the
#     dependency step and no object file was compiled.
# TEST_MAKEFILE (default: the repository's) lets the test be run against another Makefile.
set -uo pipefail
cd "$(dirname "$0")/../.."
mk=${TEST_MAKEFILE:-Makefile}
fail=0
for goal in demo test all unit compat bench install; do
	for j in "" -j4; do
		out=$(make -f "$mk" -n -B $j "$goal" 2>&1)
		cc=$(grep -n -m1 -E '(^| )(cc|gcc|clang) ' <<<"$out" | cut -d: -f1)
		dep=$(grep -n -m1 'deps' <<<"$out" | cut -d: -f1)
		if [[ -z $cc ]]; then
			echo "FAIL make -n -B $j $goal: no compiler call at all"; fail=1
		elif [[ -z $dep || $dep -gt $cc ]]; then
			echo "FAIL make -n -B $j $goal: compiler call on line $cc before the dependency step (line ${dep:-none})"; fail=1
		fi
	done
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for goal in demo test all; do
	rc=0
	make -f "$mk" -B -j4 "$goal" BUILD="$tmp/$goal" DEPS_SH=false >"$tmp/log" 2>&1 || rc=$?
	objs=$(find "$tmp/$goal" -name '*.o' 2>/dev/null | wc -l)
	if ((rc == 0 || objs > 0)); then
		echo "FAIL make -B -j4 $goal with a failing dependency step: exit $rc, $objs objects compiled"; fail=1
	fi
done
((fail == 0)) && echo "make_deps_first: dependency step first for demo test all unit compat bench install (also -j4)"
exit $fail
