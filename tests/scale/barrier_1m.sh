#!/usr/bin/env bash
# barrier_1m.sh: scale test (c): 1,000,000 threads with 16 KiB stacks, all alive at once
# on one barrier, created and joined, preloaded only. Asserts the printed count.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_lib
scale_build barrier_1m

want="1000000 threads with 16 KiB stacks met at one barrier and joined"
rc=0
got=$(timeout -k 5 600 env LD_PRELOAD="$LIB" GOSHIM_TEST_PRELOADED=1 "$OUT/barrier_1m" 1000000) || rc=$?
if ((rc != 0)); then
    echo "FAIL barrier_1m: exit status $rc$( ((rc == 124 || rc == 137)) && echo " (timeout)")"
    exit 1
elif [[ $got != "$want" ]]; then
    echo "FAIL barrier_1m: printed '$got', want '$want'"
    exit 1
fi
echo "ok   barrier_1m: $got"
