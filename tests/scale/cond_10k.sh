#!/usr/bin/env bash
# cond_10k.sh: scale test (a): 10,000 threads with 64 KiB stacks waiting on one condvar,
# run natively and preloaded with GOSHIM_PROCS=1 and 4; the preloaded runs assert
# (inside the program) at most GOSHIM_PROCS + 3 kernel threads while all wait, and
# must print what the native run prints. Exit 0 when all runs pass.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_lib
scale_build cond_10k

native=$(GOSHIM_TEST_PRELOADED=0 timeout -k 5 120 "$OUT/cond_10k" 10000) || {
    echo "FAIL cond_10k native: exit status $?"
    exit 1
}
status=0
for p in 1 4; do
    rc=0
    got=$(timeout -k 5 120 env LD_PRELOAD="$LIB" GOSHIM_PROCS=$p GOSHIM_TEST_PRELOADED=1 \
        "$OUT/cond_10k" 10000) || rc=$?
    if ((rc != 0)); then
        echo "FAIL cond_10k procs=$p: exit status $rc$( ((rc == 124 || rc == 137)) && echo " (timeout)")"
        status=1
    elif [[ $got != "$native" ]]; then
        echo "FAIL cond_10k procs=$p: printed '$got', native '$native'"
        status=1
    else
        echo "ok   cond_10k procs=$p: $got"
    fi
done
exit $status
