#!/usr/bin/env bash
# test.sh: the top-level test driver that `make test` runs after building. Runs, in order:
#   1. every Check unit-test binary build/unit/* (each prints its own Check summary);
#   1b. scripts/abi-check.py, the ABI list (counts as one);
#   2. scripts/run-compat.sh over tests/compat (and tests/compat-io when it has tests)
#      with GOSHIM_PROCS "1 4", each built twice: plain and as packages (-b pkg), in
#      the default mode (where the CPU allows it a thread pointer per green thread,
#      started green threads moving between OS threads); then tests/compat again in
#      the pinned mode (GOSHIM_DEBUG=pinned=1) and in tp mode (GOSHIM_DEBUG=move=0:
#      a thread pointer per green thread, started ones staying on their OS thread);
#   3. the scale tests tests/scale/*.sh (preloaded; each asserts its own result);
#   4. the tool tests tests/tools/*.sh (build, command, man page; each asserts its own result).
# Counts: a unit binary contributes its Checks (failures = Failures + Errors, or 1 if it
# died without a summary); a compat run counts per test per procs value; a scale script
# counts as one, and so does a tool script. Ends with exactly one line `N passed, N failed`; exit 1 on any failure.
# Environment: GOSHIM_LIB (as for run-compat.sh), TEST_SKIP_SCALE=1 skips step 3,
# UNIT_TIMEOUT (default 300 s) and SCALE_TIMEOUT (default 900 s) bound each binary/script,
# UNIT_DIR (default build/unit) is where the unit-test binaries are, COMPAT_PKG_PROCS
# (default "1 4") the GOSHIM_PROCS values of the packaged build's runs.
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

# 1b. The ABI list: every glibc export that can wait is classified, hooked ones are
# exported, no alias of a hooked call passes through (scripts/abi-check.py).
echo "== abi: tests/abi/abi.list"
# The README's table is the generator's output, between its two marker lines.
readme_table() {
    sed -n '/^<!-- abi-table: generated/,/^<!-- abi-table end -->/p' README.md | sed '1d;$d'
}
if ! python3 scripts/abi-check.py --self-test --lib "$LIB"; then
    echo "FAIL abi: scripts/abi-check.py"
    failed=$((failed + 1))
elif ! diff <(readme_table) <(python3 scripts/abi-table.py) > /dev/null; then
    echo "FAIL abi: README.md's hooked-call table is not scripts/abi-table.py's output (regenerate it)"
    failed=$((failed + 1))
else
    passed=$((passed + 1))
fi

# 2. Compat tests.
# Each directory twice: as built here (-O2 -g), and as Debian builds packages
# (dpkg-buildflags, -D_FORTIFY_SOURCE=2, -D_FILE_OFFSET_BITS=64: run-compat.sh -b pkg).
# Then tests/compat in the two other modes (plain build): pinned, and tp (a thread
# pointer per green thread, started ones staying put: GOSHIM_DEBUG=move=0).
compat_counts=()
for run in plain:tests/compat plain:tests/compat-io pkg:tests/compat pkg:tests/compat-io \
           plain:pinned:tests/compat plain:tp:tests/compat; do
    variant=${run%%:*} dir=${run##*:} mode=() label=""
    if [[ $run == *:*:* ]]; then
        m=${run#*:}; m=${m%%:*}
        case $m in
        pinned) mode=(env GOSHIM_DEBUG=pinned=1) ;;
        tp) mode=(env GOSHIM_DEBUG=move=0) ;;
        esac
        label=", $m"
    fi
    srcs=("$dir"/*.c)
    ((${#srcs[@]} > 0)) || continue
    echo "== compat: $dir ($variant build$label)"
    log=$(mktemp)
    rc=0
    procs="1 4"
    [[ $variant == pkg ]] && procs=${COMPAT_PKG_PROCS:-1 4}
    "${mode[@]}" scripts/run-compat.sh -d "$dir" -p "$procs" -b "$variant" | tee "$log" || rc=${PIPESTATUS[0]}
    line=$(grep -E '^compat: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)
    progs=$(grep -E '^(ok  |FAIL) ' "$log" | sed -E 's/^(ok  |FAIL) ([^ ]+) .*/\2/' | sort -u | wc -l)
    rm -f "$log"
    compat_counts+=("$dir $variant$label: $progs programs")
    if [[ $line =~ ^compat:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed=$((passed + BASH_REMATCH[1]))
        failed=$((failed + BASH_REMATCH[2]))
    else
        echo "FAIL compat $dir ($variant$label): runner exit status $rc without a summary"
        failed=$((failed + 1))
    fi
done

# run_script KIND SCRIPT: one scale or tool script, counted as one test.
run_script() {
    echo "== $1: $2"
    local rc=0
    timeout -k 10 "${SCALE_TIMEOUT:-900}" bash "$2" || rc=$?
    if ((rc == 0)); then
        passed=$((passed + 1))
    else
        echo "FAIL $2: exit status $rc"
        failed=$((failed + 1))
    fi
}

# 3. Scale tests.
if [[ ${TEST_SKIP_SCALE:-0} != 1 ]]; then
    for s in tests/scale/*.sh; do
        run_script scale "$s"
    done
fi

# 4. Tool tests: the Makefile, the goshim command, the man page, the package.
for s in tests/tools/*.sh; do
    run_script tool "$s"
done

printf 'compat programs: %s\n' "$(IFS=';'; echo "${compat_counts[*]}" | sed 's/;/, /g')"
echo "$passed passed, $failed failed"
((failed == 0))
