#!/usr/bin/env bash
# stack_overflow.sh: a green thread that overflows its stack dies by SIGSEGV, with one
# line on stderr naming it and its size, whether it recursed page by page (deep) or one
# large frame jumped the guard page the default attributes ask for (frame: the marked
# gap below the guard catches it before it reaches the stack below, which belongs to
# another thread). Run at the default size (256 KiB) and at GOSHIM_STACK=1M, with
# GOSHIM_PROCS 1 and 2, and with GOSHIM_DEBUG=guardmarkers=0 (PROT_NONE guards, as on
# kernels before 6.13). Preloaded only: natively a default stack is 8 MiB here.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_lib
scale_build stack_overflow

err=$(mktemp)
trap 'rm -f "$err"' EXIT
fail=0
for debug in "" guardmarkers=0; do
for mode in deep frame; do
    for stack in "" 1M; do
        for procs in 1 2; do
            [[ -n $debug && $procs == 2 ]] && continue
            kib=$([[ $stack == 1M ]] && echo 1024 || echo 256)
            rc=0
            out=$(ulimit -c 0; timeout -k 5 60 env LD_PRELOAD="$LIB" GOSHIM_PROCS=$procs \
                ${stack:+GOSHIM_STACK=$stack} ${debug:+GOSHIM_DEBUG=$debug} \
                "$OUT/stack_overflow" $mode 2>"$err") || rc=$?
            want="goshim: green thread 3 overflowed its stack of $kib KiB (GOSHIM_STACK sets the default)"
            what="$mode stack=${stack:-default} procs=$procs${debug:+ $debug}"
            if [[ $rc != 139 || $out != "stack $kib KiB, recursing" || $(cat "$err") != "$want" ]]; then
                echo "FAIL stack_overflow $what: status $rc (want 139), stdout '$out', stderr:"
                head -3 "$err"
                fail=1
            else
                echo "ok   stack_overflow $what: SIGSEGV, '$(cat "$err")'"
            fi
        done
    done
done
done
exit $fail
