#!/usr/bin/env bash
# run-compat.sh: the compat test runner. Builds each tests/compat/NAME.c (or DIR/NAME.c;
# NAME.cc, a C++20 program, is built with g++ -std=c++20),
# runs it natively once, then preloaded with libgoshim.so for each GOSHIM_PROCS value,
# and compares stdout and exit status with the native run (DESIGN.md §2: a program must
# behave under the shim exactly as natively).
#
# Usage: scripts/run-compat.sh [-d DIR] [-p "1 4"] [-b plain|pkg] [-q] [NAME...]
#   -d DIR   directory of tests (default tests/compat, relative to the repository root);
#            binaries go to build/$(basename DIR)/ (build/$(basename DIR)-pkg/ for -b pkg)
#   -b pkg   build as Debian builds packages: with `dpkg-buildflags --get` CPPFLAGS, CFLAGS
#            and LDFLAGS (-O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong ...) plus
#            -D_FILE_OFFSET_BITS=64, so that the programs call libc by the names packaged
#            binaries use (__read_chk, open64, __getdelim, ...); verdicts name the test
#            NAME[pkg]. dpkg-buildflags is required (package dpkg-dev; scripts/deps.sh).
#            Default plain: -O2 -g.
#   -p LIST  GOSHIM_PROCS values for the preloaded runs (default "1 4")
#   -q       quiet: print only the one-line verdicts, no details
#   NAME     run only these tests (NAME or NAME.c)
# Environment: GOSHIM_LIB overrides the library (default $PWD/build/libgoshim.so, with
#   $PWD the repository root); COMPAT_TIMEOUT overrides the per-run timeout (default 60 s).
#   CC and CXX the compilers. COMPAT_BUILD the build directory binaries go under (default
#   build). COMPAT_RUNNER a command that runs each test binary, native and preloaded
#   alike (another architecture's, e.g. "qemu-aarch64-static -L /usr/aarch64-linux-gnu";
#   the preload and GOSHIM_* reach the program through its environment), with
#   COMPAT_RUNNER_NAME naming it in verdicts (default: its first word). COMPAT_PRELOAD
#   what the preloaded runs get in LD_PRELOAD (default the library; scripts/check-arch.sh
#   gives a path with ld.so's $LIB, so that the host's programs a test starts under the
#   runner, /bin/sh for system(), load the host's build of the library). Under a runner a
#   test whose native run fails is reported as a skip with the runner's reason (the
#   last line of its stderr), never as passed, and so is a test that names the runner
#   in a `compat-skip-runner` line (below). A NAME.sh test gets the runner in
#   $COMPAT_RUNNER (empty without one) to run its program with.
#
# Directives read from a test's source, one per line anywhere in the file:
#   // compat-cflags: FLAGS     extra compiler flags
#   // compat-ldlibs: LIBS      extra libraries (e.g. -ldl)
#   // compat-lib: other.c      build DIR/other.c as build/.../libother.so and link it
#   // compat-dlopen: other.c   build it the same way, not linked (the test dlopens it)
#   // compat-exit: N           the exit status the test is expected to have natively (default 0)
#   // compat-helper            this file is not a test (e.g. only a compat-lib source)
#   // compat-skip-move: WHY    a known failure in the moving mode: not run in it
#                               (the default with FSGSBASE unless GOSHIM_DEBUG has
#                               move=0 or pinned=1; one `skip` line instead)
#   // compat-procs: LIST: WHY  run preloaded only at these GOSHIM_PROCS values (e.g.
#                               "1": an order that is defined on one processor only, as
#                               the native run pins itself to one CPU); any other value
#                               of -p gives one `skip NAME procs=P: WHY` line
#   // compat-skip-runner: R: WHY  what the runner named R (e.g. qemu-aarch64-static)
#                               cannot do for this test: not run under it (`skip`)
# A file named by some test's compat-lib is a helper too and is not run as a test.
# If NAME.sh exists beside NAME.c, each run executes `bash NAME.sh build/.../NAME` instead
# of the binary; GOSHIM_TEST_PRELOADED=1 tells it the run is preloaded.
# A test whose native run exits 77 (and whose compat-exit is not 77) is skipped: its
# preloaded runs are not made, one `skip` line (with the native stdout's last line, which
# says why) stands for them, and they count as skipped, not passed.
# A test that cannot run one of its parts here says so on stdout with a line
#   skip-part: WHAT (WHY)
# (natively and preloaded alike, so the outputs still compare): its runs count as passed
# for the rest, and each such line of the native run gives one `skip NAME: part ...` line,
# counted as skipped, so no part is silently counted as passed.
#
# The library must really be in the preloaded programs (a library the loader cannot load
# is ignored with a message, and the program then runs natively and "passes"):
#   - before any test (without COMPAT_RUNNER), a preloaded /bin/cat of /proc/self/maps
#     must list the library (the same file, by device and inode); else every test fails
#     with the loader's reason;
#   - a preloaded run whose stderr has the loader's "cannot be preloaded" line fails;
#   - compat.h (included by every C test) checks at start, when GOSHIM_TEST_PRELOADED=1,
#     that pthread_create resolves into the library named by LD_PRELOAD, and exits 3
#     with "compat.h: ... not preloaded" on stderr otherwise.
#
# Output: one line per run, `ok   NAME procs=P` or `FAIL NAME procs=P: why` followed by at
# most 20 lines of detail (or `skip NAME: why`); last line `compat: N passed, N failed`,
# then `compat: K skipped` when some were.
# Exit: 0 all passed, 1 some failed, 2 the library is missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DIR=tests/compat
PROCS="1 4"
QUIET=0
VARIANT=plain
while getopts "d:p:b:qh" opt; do
    case $opt in
        d) DIR=${OPTARG%/} ;;
        p) PROCS=$OPTARG ;;
        b) VARIANT=$OPTARG ;;
        q) QUIET=1 ;;
        h) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "usage: $0 [-d DIR] [-p \"1 4\"] [-b plain|pkg] [-q] [NAME...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

LIB=${GOSHIM_LIB:-$ROOT/build/libgoshim.so}
PRELOAD=${COMPAT_PRELOAD:-$LIB}
TIMEOUT=${COMPAT_TIMEOUT:-60}
CC=${CC:-cc}
CXX=${CXX:-g++}
read -r -a RUNNER <<<"${COMPAT_RUNNER:-}"
RUNNER_NAME=${COMPAT_RUNNER_NAME:-$(basename "${RUNNER[0]:-}")}
export COMPAT_RUNNER=${COMPAT_RUNNER:-}

if [[ ! -f $LIB ]]; then
    echo "compat: $LIB is missing (build it first, or set GOSHIM_LIB)"
    exit 2
fi
# The library is mapped into a preloaded program: the loader says why when it is not.
# (Under a runner, another architecture's library: the per-run checks only.)
lib_id=$(stat -L -c '%d %i' "$LIB")
maps_err=$(mktemp)
loaded=0
((${#RUNNER[@]} == 0)) || loaded=1
((loaded == 1)) || while read -r _ _ _ dev ino path; do
    [[ -n ${path:-} && -e $path ]] || continue
    [[ $(stat -L -c '%d %i' "$path") == "$lib_id" ]] && loaded=1
done < <(LD_PRELOAD="$LIB" /bin/cat /proc/self/maps 2>"$maps_err")
if ((loaded == 0)); then
    why=$(grep -m1 . "$maps_err" || true)
    rm -f "$maps_err"
    echo "FAIL compat: $LIB is not mapped into a preloaded program: ${why:-the loader printed nothing}"
    echo "compat: 0 passed, 1 failed"
    exit 1
fi
rm -f "$maps_err"
if [[ ! -d $DIR ]]; then
    echo "compat: no test directory $DIR" >&2
    exit 2
fi

# The build flags of the variant: VFLAGS for compiling, VLDFLAGS for linking, TAG after names.
VFLAGS="" VLDFLAGS="" TAG=""
case $VARIANT in
    plain) ;;
    pkg)
        if ! command -v dpkg-buildflags >/dev/null; then
            echo "compat: -b pkg needs dpkg-buildflags (apt-get install dpkg-dev; scripts/deps.sh does)"
            exit 2
        fi
        VFLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS) -D_FILE_OFFSET_BITS=64"
        VLDFLAGS=$(dpkg-buildflags --get LDFLAGS)
        TAG="[pkg]"
        ;;
    *) echo "compat: -b takes plain or pkg, not $VARIANT" >&2; exit 2 ;;
esac

OUT=$ROOT/${COMPAT_BUILD:-build}/$(basename "$DIR")${TAG:+-pkg}
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/goshim-compat.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0

# directive FILE KEY: the value of the `// compat-KEY: value` line in FILE (empty if none).
directive() {
    sed -n "s|^[[:space:]]*//[[:space:]]*compat-$2:[[:space:]]*||p" "$1" | head -n 1 | sed 's/[[:space:]]*$//'
}

# Helpers: files that some test links as compat-lib, or that say `// compat-helper`.
declare -A helper=()
for src in "$DIR"/*.c; do
    [[ -e $src ]] || continue
    lib="$(directive "$src" lib) $(directive "$src" dlopen)"
    for l in $lib; do helper[${l%.c}]=1; done
    if grep -q '^[[:space:]]*//[[:space:]]*compat-helper' "$src"; then
        helper[$(basename "$src" .c)]=1
    fi
done

# The tests to run, in name order.
names=()
if (($# > 0)); then
    for n in "$@"; do
        n=$(basename "$(basename "$n" .c)" .cc)
        if [[ ! -f $DIR/$n.c && ! -f $DIR/$n.cc ]]; then
            echo "compat: no test $DIR/$n.c" >&2
            exit 2
        fi
        names+=("$n")
    done
else
    for src in "$DIR"/*.c "$DIR"/*.cc; do
        [[ -e $src ]] || continue
        n=$(basename "$(basename "$src" .c)" .cc)
        [[ -n ${helper[$n]:-} ]] || names+=("$n")
    done
    mapfile -t names < <(printf '%s\n' "${names[@]}" | sort)
fi

# report_fail NAME PROCS WHY [DETAILFILE]: one FAIL line and at most 20 lines of detail.
report_fail() {
    echo "FAIL $1$TAG procs=$2: $3"
    if [[ $QUIET == 0 && -n ${4:-} && -s $4 ]]; then
        head -n 20 "$4" | sed 's/^/    /'
    fi
    failed=$((failed + 1))
}

# status RC: an exit status in words ("139 (SIGSEGV)" for a death by signal).
status() {
    if (($1 > 128 && $1 < 128 + 65)); then
        echo "$1 (SIG$(kill -l $(($1 - 128)) 2>/dev/null || echo "?"))"
    else
        echo "$1"
    fi
}

# src NAME: the test's source file (NAME.c or NAME.cc).
src() {
    if [[ -f $DIR/$1.cc ]]; then echo "$DIR/$1.cc"; else echo "$DIR/$1.c"; fi
}

# build NAME: compile DIR/NAME.c (and its compat-lib) into $OUT; output in $WORK/NAME.build.
build() {
    local n=$1 src cflags ldlibs libs l lflags=() cc=$CC
    src=$(src "$1")
    [[ $src == *.cc ]] && cc="$CXX -std=c++20"
    cflags=$(directive "$src" cflags)
    ldlibs=$(directive "$src" ldlibs)
    libs=$(directive "$src" lib)
    : >"$WORK/$n.build"
    # Each output is written beside its final name and renamed into place, so that a
    # concurrent run (of another checkout step, or by hand) never executes a half-written file.
    for l in $libs; do
        l=${l%.c}
        # shellcheck disable=SC2086
        $CC -O2 -g -pthread -Wall -fPIC -shared $VFLAGS $cflags $VLDFLAGS -o "$OUT/.lib$l.so.$$" "$DIR/$l.c" \
            >>"$WORK/$n.build" 2>&1 || return 1
        mv -f "$OUT/.lib$l.so.$$" "$OUT/lib$l.so"
        lflags+=("-L$OUT" "-l$l" "-Wl,-rpath,$OUT")
    done
    for l in $(directive "$src" dlopen); do
        l=${l%.c}
        # shellcheck disable=SC2086
        $CC -O2 -g -pthread -Wall -fPIC -shared $VFLAGS $cflags $VLDFLAGS -o "$OUT/.lib$l.so.$$" "$DIR/$l.c" \
            >>"$WORK/$n.build" 2>&1 || return 1
        mv -f "$OUT/.lib$l.so.$$" "$OUT/lib$l.so"
    done
    # shellcheck disable=SC2086
    $cc -O2 -g -pthread -Wall $VFLAGS $cflags $VLDFLAGS -o "$OUT/.$n.$$" "$src" "${lflags[@]}" $ldlibs \
        >>"$WORK/$n.build" 2>&1 || return 1
    mv -f "$OUT/.$n.$$" "$OUT/$n"
}

# run NAME TAG [ENV...]: run the test once with a timeout; stdout in $WORK/NAME.TAG.out,
# stderr in .err, exit status in .rc, and "1" in .hang if it timed out.
run() {
    local n=$1 tag=$2 rc=0
    shift 2
    local cmd=("${RUNNER[@]}" "$OUT/$n")
    [[ -f $DIR/$n.sh ]] && cmd=(bash "$DIR/$n.sh" "$OUT/$n")
    # timeout runs unpreloaded; env (and then the test) gets the preload.
    # (timeout re-raises a signal that killed the test; the braces keep bash's
    # "Segmentation fault" notice out of our output.)
    { timeout --verbose -k 5 "$TIMEOUT" env "$@" "${cmd[@]}" \
        </dev/null >"$WORK/$n.$tag.out" 2>"$WORK/$n.$tag.err"; } 2>/dev/null || rc=$?
    echo "$rc" >"$WORK/$n.$tag.rc"
    if grep -q "^timeout: sending signal" "$WORK/$n.$tag.err"; then
        echo 1 >"$WORK/$n.$tag.hang"
    else
        rm -f "$WORK/$n.$tag.hang"
    fi
}

# The moving mode: FSGSBASE (AT_HWCAP2 bit 1) and neither move=0 nor pinned=1.
moving=0
hw=$(LD_SHOW_AUXV=1 /bin/true | awk '/AT_HWCAP2/ {print $2}')
if ((${#RUNNER[@]} == 0 && (${hw:-0} & 2))) && [[ ,${GOSHIM_DEBUG:-}, != *,move=0,* && ,${GOSHIM_DEBUG:-}, != *,pinned=1,* ]]; then
    moving=1
fi
skipped=0
# skip NAME WHY: one skip line, counted apart.
skip() {
    echo "skip $1$TAG: $2"
    skipped=$((skipped + 1))
}

# runner_skip NAME: the reason this test names for not running under the runner.
runner_skip() {
    ((${#RUNNER[@]} > 0)) || return 0
    sed -n "s|^[[:space:]]*//[[:space:]]*compat-skip-runner:[[:space:]]*$RUNNER_NAME:[[:space:]]*||p" "$(src "$1")" |
        head -n 1 | sed 's/[[:space:]]*$//'
}

for n in "${names[@]}"; do
    # A known failure of the moving mode (the default with FSGSBASE, unless GOSHIM_DEBUG
    # has move=0 or pinned=1), named with its reason in the test and in README Limits:
    # reported, not run, not counted.
    why=$(directive "$(src "$n")" skip-move)
    if [[ -n $why ]] && ((moving)); then
        echo "skip $n$TAG (moving mode): $why"
        skipped=$((skipped + 1))
        continue
    fi
    why=$(runner_skip "$n")
    if ((${#RUNNER[@]} > 0)) && [[ -z $why && -f $DIR/$n.sh ]] && ! grep -q COMPAT_RUNNER "$DIR/$n.sh"; then
        why="$n.sh runs the program itself, not through the runner (without binfmt_misc the host cannot exec it)"
    fi
    if [[ -n $why ]]; then
        skip "$n" "$RUNNER_NAME: $why"
        continue
    fi
    if ! build "$n"; then
        report_fail "$n" "-" "build failed" "$WORK/$n.build"
        continue
    fi
    want=$(directive "$(src "$n")" exit)
    want=${want:-0}

    run "$n" native GOSHIM_TEST_PRELOADED=0
    nrc=$(cat "$WORK/$n.native.rc")
    if ((${#RUNNER[@]} > 0)) && [[ -f $WORK/$n.native.hang || $nrc != "$want" ]]; then
        # The program fails under the runner without the library: the runner's limit.
        last=$(grep -av "^timeout: sending signal" "$WORK/$n.native.err" | grep -av '^[[:space:]]*$' | tail -n 1 | cut -c1-160 || true)
        if [[ -f $WORK/$n.native.hang ]]; then
            skip "$n" "$RUNNER_NAME: the native run timed out after ${TIMEOUT}s${last:+ ($last)}"
        else
            skip "$n" "$RUNNER_NAME: the native run exits $(status "$nrc"), expected $want${last:+ ($last)}"
        fi
        continue
    fi
    if [[ -f $WORK/$n.native.hang ]]; then
        report_fail "$n" native "broken test: native run timed out after ${TIMEOUT}s" "$WORK/$n.native.err"
        continue
    fi
    if [[ $nrc == 77 && $want != 77 ]]; then
        why=$(tail -n 1 "$WORK/$n.native.out")
        for p in $PROCS; do
            echo "skip $n$TAG procs=$p: ${why:-native exit status 77}"
            skipped=$((skipped + 1))
        done
        continue
    fi
    if [[ $nrc != "$want" ]]; then
        report_fail "$n" native "broken test: native exit status $(status "$nrc"), expected $want" "$WORK/$n.native.err"
        continue
    fi

    while IFS= read -r part; do
        skip "$n" "part ${part#skip-part: }"
    done < <(grep -a '^skip-part: ' "$WORK/$n.native.out" || true)

    only=$(directive "$(src "$n")" procs)
    for p in $PROCS; do
        if [[ -n $only && " ${only%%:*} " != *" $p "* ]]; then
            echo "skip $n$TAG procs=$p: ${only#*:[[:space:]]}"
            skipped=$((skipped + 1))
            continue
        fi
        run "$n" "p$p" LD_PRELOAD="$PRELOAD" GOSHIM_PROCS="$p" GOSHIM_TEST_PRELOADED=1
        prc=$(cat "$WORK/$n.p$p.rc")
        det=$WORK/$n.p$p.detail
        : >"$det"
        # Detail: the tail of stderr when the run died or hung, then the stdout diff.
        if [[ -f $WORK/$n.p$p.hang || $prc != "$nrc" ]]; then
            grep -v "^timeout: sending signal" "$WORK/$n.p$p.err" | tail -n 8 >"$det.err" || true
            if [[ -s $det.err ]]; then
                { echo "--- stderr (last lines):"; cat "$det.err"; } >>"$det"
            fi
        fi
        if ! cmp -s "$WORK/$n.native.out" "$WORK/$n.p$p.out"; then
            diff -u --label native --label "procs=$p" "$WORK/$n.native.out" "$WORK/$n.p$p.out" \
                >>"$det" || true
        fi
        if grep -q "cannot be preloaded" "$WORK/$n.p$p.err"; then
            report_fail "$n" "$p" "the library was not loaded: $(grep -m1 "cannot be preloaded" "$WORK/$n.p$p.err")" "$det"
        elif grep -q "^compat.h: .* not preloaded" "$WORK/$n.p$p.err"; then
            report_fail "$n" "$p" "$(grep -m1 "^compat.h: .* not preloaded" "$WORK/$n.p$p.err")" "$det"
        elif [[ -f $WORK/$n.p$p.hang ]]; then
            report_fail "$n" "$p" "timeout (hang) after ${TIMEOUT}s" "$det"
        elif [[ $prc != "$nrc" ]]; then
            report_fail "$n" "$p" "exit status $(status "$prc"), native $(status "$nrc")" "$det"
        elif ! cmp -s "$WORK/$n.native.out" "$WORK/$n.p$p.out"; then
            report_fail "$n" "$p" "stdout differs from native" "$det"
        else
            echo "ok   $n$TAG procs=$p"
            passed=$((passed + 1))
        fi
    done
done

echo "compat: $passed passed, $failed failed"
((skipped == 0)) || echo "compat: $skipped skipped"
((failed == 0))
