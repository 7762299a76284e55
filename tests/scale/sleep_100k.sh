#!/usr/bin/env bash
# sleep_100k.sh: scale test (b): 100,000 threads with default attributes, each sleeping
# 2 s, created and joined, preloaded only (natively 100,000 default stacks exceed
# vm.max_map_count). Asserts the printed count.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_lib
scale_build sleep_100k

want="100000 threads slept 2 s and joined"
# Also with GOSHIM_DEBUG=guardmarkers=0, as on kernels before 6.13: PROT_NONE guards
# (two VMAs a stack) up to a third of vm.max_map_count, packed stacks past it.
for debug in "" guardmarkers=0; do
    rc=0
    got=$(timeout -k 5 300 env LD_PRELOAD="$LIB" GOSHIM_TEST_PRELOADED=1 ${debug:+GOSHIM_DEBUG=$debug} \
        "$OUT/sleep_100k" 100000 2) || rc=$?
    if ((rc != 0)); then
        echo "FAIL sleep_100k ${debug}: exit status $rc$( ((rc == 124 || rc == 137)) && echo " (timeout)")"
        exit 1
    elif [[ $got != "$want" ]]; then
        echo "FAIL sleep_100k ${debug}: printed '$got', want '$want'"
        exit 1
    fi
    echo "ok   sleep_100k${debug:+ ($debug)}: $got"
done
