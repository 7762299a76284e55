# preempt_calls.sh: runs preempt_calls (see preempt_calls.c) twice: as is, and with
# GOSHIM_DEBUG=asyncpreemptoff=1, where only the hooks' preemption points can make the
# looping thread yield (natively the setting means nothing). The second run is the
# deterministic one: without those points it hangs at GOSHIM_PROCS=1 every time, while
# with asynchronous preemption the signal sometimes lands in program code.
# Usage: bash preempt_calls.sh BUILT_BINARY
set -e
"$1"
GOSHIM_DEBUG=asyncpreemptoff=1 "$1"
