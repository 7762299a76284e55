#!/usr/bin/env bash
# test.sh: the top-level test driver that `make test` runs after building. Runs, in order:
#   1. every Check unit-test binary build/unit/* (each prints its own Check summary);
#   2. scripts/run-compat.sh over tests/compat (and tests/compat-io when it has tests)
#      with GOSHIM_PROCS "1 4", then tests/compat again in the pinned mode
#      (GOSHIM_DEBUG=pinned=1: no thread pointer per green thread) and with
#      started green threads moving (GOSHIM_DEBUG=move=1);
#   3. the scale tests tests/scale/*.sh (preloaded; each asserts its own result).
# Counts: a unit binary contributes its Checks (failures = Failures + Errors, or 1 if it
# died without a summary); a compat run counts per test per procs value; a scale script
# counts as one. Ends with exactly one line `N passed, N failed`; exit 1 on any failure.
# Environment: GOSHIM_LIB (as for run-compat.sh), TEST_SKIP_SCALE=1 skips step 3,
# UNIT_TIMEOUT (default 300 s) and SCALE_TIMEOUT (default 900 s) bound each binary/script,
# UNIT_DIR (default build/unit) is where the unit-test binaries are.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

LIB=${GOSHIM_LIB:-$ROOT/build/libgoshim.so}
export GOSHIM_LIB=$LIB
passed=0
failed=0

# 1. Unit tests.
shopt -s nullglob
for bin in "${UNIT_DIR:-build/unit}"/*; do
    [[ -f $bin && -x $bin ]] || continue
    echo "== unit: $bin"
    log=$(mktemp)
    rc=0
    timeout -k 5 "${UNIT_TIMEOUT:-300}" "$bin" 2>&1 | tee "$log" || rc=${PIPESTATUS[0]}
    # Check's summary: "100%: Checks: 12, Failures: 0, Errors: 0"
    line=$(grep -Eo 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" | tail -n 1 || true)
    rm -f "$log"
    if [[ $line =~ Checks:\ ([0-9]+),\ Failures:\ ([0-9]+),\ Errors:\ ([0-9]+) ]]; then
        checks=${BASH_REMATCH[1]} fails=${BASH_REMATCH[2]} errs=${BASH_REMATCH[3]}
        bad=$((fails + errs))
        if ((rc != 0 && bad == 0)); then
            echo "FAIL $bin: exit status $rc with no failed checks"
            bad=1
        fi
        passed=$((passed + checks - fails - errs))
        failed=$((failed + bad))
    elif ((rc == 0)); then
        passed=$((passed + 1))
    else
        echo "FAIL $bin: exit status $rc and no Check summary"
        failed=$((failed + 1))
    fi
done

# 2. Compat tests: in the default mode (a thread pointer per green thread where
#    the CPU allows it), then tests/compat again in the pinned mode
#    (GOSHIM_DEBUG=pinned=1) and with started green threads moving (move=1).
for run in tests/compat tests/compat-io pinned:tests/compat move:tests/compat; do
    dir=${run#*:}
    mode=()
    [[ $run == *:* ]] && mode=(env GOSHIM_DEBUG=${run%%:*}=1)
    srcs=("$dir"/*.c)
    ((${#srcs[@]} > 0)) || continue
    echo "== compat: $run"
    log=$(mktemp)
    rc=0
    "${mode[@]}" scripts/run-compat.sh -d "$dir" -p "1 4" | tee "$log" || rc=${PIPESTATUS[0]}
    line=$(grep -E '^compat: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)
    rm -f "$log"
    if [[ $line =~ ^compat:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed=$((passed + BASH_REMATCH[1]))
        failed=$((failed + BASH_REMATCH[2]))
    else
        echo "FAIL compat $run: runner exit status $rc without a summary"
        failed=$((failed + 1))
    fi
done

# 3. Scale tests.
if [[ ${TEST_SKIP_SCALE:-0} != 1 ]]; then
    for s in tests/scale/*.sh; do
        echo "== scale: $s"
        rc=0
        timeout -k 10 "${SCALE_TIMEOUT:-900}" bash "$s" || rc=$?
        if ((rc == 0)); then
            passed=$((passed + 1))
        else
            echo "FAIL $s: exit status $rc"
            failed=$((failed + 1))
        fi
    done
fi

echo "$passed passed, $failed failed"
((failed == 0))
