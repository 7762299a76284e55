#!/usr/bin/env bash
# check-arch.sh ARCH: the tests of another architecture's build, run under qemu-user
# (`make check-aarch64` builds build/ARCH/ first, then runs this):
#   1. every Check unit-test binary build/ARCH/unit/*, under the emulator;
#   2. scripts/run-compat.sh over tests/compat and tests/compat-io, built with
#      ARCH-linux-gnu-gcc/g++ into build/ARCH/, each test run natively-emulated and
#      preloaded with build/ARCH/libgoshim.so, at GOSHIM_PROCS 1 and 4 (CHECK_PROCS).
# The emulator: qemu-ARCH-static -L /usr/ARCH-linux-gnu (Debian's cross C library),
# with LD_LIBRARY_PATH naming that library first (so that the arm64 libunwind and
# Check from Debian's multiarch are found without mixing in multiarch's libc).
# The preloaded runs get LD_PRELOAD=build/ARCH/preload/$LIB/libgoshim.so (below).
#
# What qemu-user cannot do is a skip, with its reason, never a pass:
#   - a unit test named in its source by `// unit-skip-runner: qemu-ARCH-static: TCASE:TEST: WHY`
#     (it still runs; its verdict is not counted);
#   - a compat test whose native run fails under the emulator, or that names the
#     emulator in a `// compat-skip-runner:` line (scripts/run-compat.sh).
# qemu-user accepts madvise(MADV_GUARD_INSTALL) and does nothing (its madvise only
# carries out a few advices), so the runtime's stacks get PROT_NONE guards there, as on
# a kernel before 6.13: GOSHIM_DEBUG=guardmarkers=0 for every run.
# Ends with one line `N passed, N failed, K skipped`; exit 1 on any failure.
# Environment: CHECK_PROCS (default "1 4"), COMPAT_TIMEOUT (default 180 s: emulated),
# UNIT_TIMEOUT (default 600 s), CK_DEFAULT_TIMEOUT (default 60 s per Check test).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ARCH=${1:?usage: $0 ARCH}
BUILD=build/$ARCH
QEMU=qemu-$ARCH-static
SYSROOT=/usr/$ARCH-linux-gnu
RUNNER="$QEMU -L $SYSROOT -E LD_LIBRARY_PATH=$SYSROOT/lib:/usr/lib/$ARCH-linux-gnu"
command -v "$QEMU" >/dev/null || { echo "check-arch: $QEMU missing (scripts/deps.sh $ARCH)"; exit 2; }
[[ -f $BUILD/libgoshim.so ]] || { echo "check-arch: $BUILD/libgoshim.so missing (make ARCH=$ARCH)"; exit 2; }
[[ -f build/libgoshim.so ]] || { echo "check-arch: build/libgoshim.so (the host's) missing (make)"; exit 2; }

# The preload: a path with ld.so's $LIB (lib/MULTIARCH on Debian), which names
# ARCH's library in the emulated test and the host's build in the host programs
# it starts (qemu-user runs /bin/sh of system() and popen() natively, with the
# test's environment): as on a real ARCH machine every process of the test has
# the library, and no host loader complains of a library of another machine.
HOST_MA=$(gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")
PRE=$ROOT/$BUILD/preload
mkdir -p "$PRE/lib/$ARCH-linux-gnu" "$PRE/lib/$HOST_MA"
ln -sfn "$ROOT/$BUILD/libgoshim.so" "$PRE/lib/$ARCH-linux-gnu/libgoshim.so"
ln -sfn "$ROOT/build/libgoshim.so" "$PRE/lib/$HOST_MA/libgoshim.so"

export GOSHIM_DEBUG=${GOSHIM_DEBUG:+$GOSHIM_DEBUG,}guardmarkers=0
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-60}
passed=0
failed=0
skipped=0

# 1. Unit tests, verbose: one line per test, `file:line:P|F|E:tcase:test:...`.
shopt -s nullglob
for bin in "$BUILD"/unit/*; do
    [[ -f $bin && -x $bin ]] || continue
    src=tests/unit/$(basename "$bin").c
    echo "== unit ($QEMU): $bin"
    log=$(mktemp)
    rc=0
    # shellcheck disable=SC2086
    CK_VERBOSITY=verbose timeout -k 5 "${UNIT_TIMEOUT:-600}" $RUNNER "$bin" >"$log" 2>&1 || rc=$?
    declare -A why=()
    while IFS= read -r line; do
        why[${line%%: *}]=${line#*: }
    done < <(sed -n "s|^[[:space:]]*//[[:space:]]*unit-skip-runner:[[:space:]]*$QEMU:[[:space:]]*||p" "$src")
    n=0
    while IFS=: read -r _ _ verdict tcase test rest; do
        n=$((n + 1))
        test=$tcase:$test
        if [[ -n ${why[$test]:-} ]]; then
            echo "skip $test ($verdict under $QEMU): ${why[$test]}"
            skipped=$((skipped + 1))
        elif [[ $verdict == P ]]; then
            echo "ok   $test"
            passed=$((passed + 1))
        else
            echo "FAIL $test:$rest"
            failed=$((failed + 1))
        fi
    done < <(grep -E '^[^:]+:[0-9]+:[PFE]:[^:]*:[^:]+:' "$log")
    if ! grep -qE 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log"; then
        echo "FAIL $bin: exit status $rc and no Check summary"
        tail -n 5 "$log" | sed 's/^/    /'
        failed=$((failed + 1))
    elif ((n == 0)); then
        echo "FAIL $bin: no test verdict"
        failed=$((failed + 1))
    fi
    unset why
    rm -f "$log"
done

# 2. Compat tests, plain build, under the emulator.
for dir in tests/compat tests/compat-io; do
    echo "== compat ($QEMU): $dir"
    log=$(mktemp)
    rc=0
    CC=$ARCH-linux-gnu-gcc CXX=$ARCH-linux-gnu-g++ COMPAT_BUILD=$BUILD GOSHIM_LIB=$ROOT/$BUILD/libgoshim.so \
        COMPAT_PRELOAD="$PRE/\$LIB/libgoshim.so" \
        COMPAT_RUNNER=$RUNNER COMPAT_RUNNER_NAME=$QEMU COMPAT_TIMEOUT=${COMPAT_TIMEOUT:-180} \
        scripts/run-compat.sh -d "$dir" -p "${CHECK_PROCS:-1 4}" | tee "$log" || rc=${PIPESTATUS[0]}
    line=$(grep -E '^compat: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)
    sk=$(grep -E '^compat: [0-9]+ skipped$' "$log" | grep -Eo '[0-9]+' || echo 0)
    rm -f "$log"
    if [[ $line =~ ^compat:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed=$((passed + BASH_REMATCH[1]))
        failed=$((failed + BASH_REMATCH[2]))
        skipped=$((skipped + sk))
    else
        echo "FAIL compat $dir: runner exit status $rc without a summary"
        failed=$((failed + 1))
    fi
done

echo "$ARCH ($QEMU): $passed passed, $failed failed, $skipped skipped"
((failed == 0))
