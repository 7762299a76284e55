#!/usr/bin/env bash
# check-asan.sh: the sanitizer run that `make check-asan` makes after building build/asan/
# (see the Makefile). Runs:
#   1. every unit test build/asan/unit/* (the runtime and the test under
#      -fsanitize=address,undefined; a report is fatal, so the binary dies and has no
#      summary or failed checks);
#   2. a compat subset (COMPAT_ASAN, COMPAT_IO_ASAN below), natively and preloaded at
#      GOSHIM_PROCS 1 and 4 with build/asan/libgoshim.so (the library under
#      -fsanitize=undefined, a report fatal: the preloaded run's exit status differs from
#      the native one and the runner prints the report).
# ASAN_OPTIONS: detect_leaks=0, because LeakSanitizer does not scan the runtime's tables
# in mmap'ed memory (gs_allm: each M's timer heap), so memory held there is reported as
# leaked at exit. The warning "ASan is ignoring requested __asan_handle_no_return" is
# ASan meeting the switch to a G's stack (no fiber annotations): not an error.
# Counts as scripts/test.sh does; ends with `N passed, N failed`; exit 1 on any failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
COMPAT_ASAN=${COMPAT_ASAN:-cancel_read cond_timed mutex_contention rwlock sem_unnamed sig_sigwait sleep_eintr thread_cancel preempt_spin proc_fork_threads}
COMPAT_IO_ASAN=${COMPAT_IO_ASAN:-io_fd_reuse io_socket_rw io_poll_select io_timeouts}
passed=0
failed=0

shopt -s nullglob
for bin in build/asan/unit/*; do
    [[ -f $bin && -x $bin ]] || continue
    echo "== asan unit: $bin"
    log=$(mktemp)
    rc=0
    timeout -k 5 "${UNIT_TIMEOUT:-600}" "$bin" 2>&1 | tee "$log" || rc=${PIPESTATUS[0]}
    line=$(grep -Eo 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" | tail -n 1 || true)
    rm -f "$log"
    if [[ $line =~ Checks:\ ([0-9]+),\ Failures:\ ([0-9]+),\ Errors:\ ([0-9]+) ]]; then
        checks=${BASH_REMATCH[1]} bad=$((BASH_REMATCH[2] + BASH_REMATCH[3]))
        if ((rc != 0 && bad == 0)); then
            echo "FAIL $bin: exit status $rc with no failed checks"
            bad=1
        fi
        passed=$((passed + checks - BASH_REMATCH[2] - BASH_REMATCH[3]))
        failed=$((failed + bad))
    else
        echo "FAIL $bin: exit status $rc and no Check summary"
        failed=$((failed + 1))
    fi
done

for run in "tests/compat:$COMPAT_ASAN" "tests/compat-io:$COMPAT_IO_ASAN"; do
    dir=${run%%:*} names=${run#*:}
    echo "== asan compat: $dir (library under UBSan)"
    log=$(mktemp)
    rc=0
    # shellcheck disable=SC2086
    GOSHIM_LIB=$ROOT/build/asan/libgoshim.so scripts/run-compat.sh -d "$dir" -p "1 4" $names |
        tee "$log" || rc=${PIPESTATUS[0]}
    line=$(grep -E '^compat: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)
    rm -f "$log"
    if [[ $line =~ ^compat:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed=$((passed + BASH_REMATCH[1]))
        failed=$((failed + BASH_REMATCH[2]))
    else
        echo "FAIL asan compat $dir: runner exit status $rc without a summary"
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed"
((failed == 0))
