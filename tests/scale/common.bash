# common.bash: helpers sourced by the scale test scripts in tests/scale/ (not a test
# itself: test.sh runs only *.sh). Provides ROOT, LIB, scale_build NAME, and say_fail.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
LIB=${GOSHIM_LIB:-$ROOT/build/libgoshim.so}
OUT=$ROOT/build/scale
mkdir -p "$OUT"

# scale_build NAME: compiles tests/scale/NAME.c to build/scale/NAME.
scale_build() {
    cc -O2 -g -pthread -Wall -o "$OUT/$1" "tests/scale/$1.c"
}

# need_lib: fails the test when the library is missing.
need_lib() {
    if [[ ! -f $LIB ]]; then
        echo "FAIL $(basename "$0" .sh): $LIB is missing"
        exit 1
    fi
}
