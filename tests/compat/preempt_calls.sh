# preempt_calls.sh: runs preempt_calls (see preempt_calls.c) twice: as is, and with
# GOSHIM_DEBUG=asyncpreemptoff=1, where only the hooks' preemption points can make the
# looping thread yield (natively the setting means nothing). The second run is the
# deterministic one: without those points it hangs at GOSHIM_PROCS=1 every time, while
# with asynchronous preemption the signal sometimes lands in program code.
# Usage: bash preempt_calls.sh BUILT_BINARY (run through $COMPAT_RUNNER when set: another
# architecture's emulator, scripts/run-compat.sh)
set -e
# shellcheck disable=SC2086
$COMPAT_RUNNER "$1"
# shellcheck disable=SC2086
GOSHIM_DEBUG=asyncpreemptoff=1 $COMPAT_RUNNER "$1"
