# py_asyncio_select.sh: an asyncio event loop on selectors.SelectSelector whose only
# wake-up is a signal, with Debian's python3 (3.11), natively and preloaded (issue 12).
#
# Usage: bash py_asyncio_select.sh BUILT_BINARY   (the runner passes build/compat-io/NAME;
# that binary is the child the loop starts). Python retries an interrupted select with
# the same fd_sets (PEP 475), so a select hook that leaves them cleared after EINTR makes
# the loop wait forever on empty sets. Cases, each on a new SelectSelector loop:
#  - loop.add_signal_handler(SIGUSR1): another process sends SIGUSR1 while the loop
#    waits (the handler's wake-up byte goes to the loop's self-pipe, in the set);
#  - asyncio.create_subprocess_exec(child) + read its stdout + wait(), with the
#    SafeChildWatcher and FastChildWatcher (woken by SIGCHLD) and the
#    PidfdChildWatcher (a pidfd in the set);
# then no zombie child of the interpreter is left. (ThreadedChildWatcher waits in
# os.waitpid on a thread: a separate hook, tested with the process waits.)
set -euo pipefail

bin=$1
py=/usr/bin/python3
if [ ! -x "$py" ]; then
	echo "py_asyncio_select: SKIP: no $py"	# the same line natively and preloaded
	exit 0
fi

script='
import asyncio, os, selectors, signal, subprocess, sys, warnings
warnings.simplefilter("ignore", DeprecationWarning)
child = sys.argv[1]

def new_loop():
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    asyncio.set_event_loop(loop)
    return loop

def signal_case():
    loop = new_loop()
    fut = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, lambda: fut.done() or fut.set_result("SIGUSR1"))
    # Sent by another process while the loop waits in select with no timeout. The
    # sleep only makes that likely; the result is the same either way natively.
    k = subprocess.Popen(["sh", "-c", "sleep 0.3; kill -USR1 %d" % os.getpid()])
    r = loop.run_until_complete(fut)
    k.wait()
    loop.remove_signal_handler(signal.SIGUSR1)
    loop.close()
    print("add_signal_handler(SIGUSR1), SelectSelector: woken by", r)

async def run_child():
    p = await asyncio.create_subprocess_exec(child, stdout=asyncio.subprocess.PIPE)
    out = await p.stdout.read()
    rc = await p.wait()
    return out.decode().strip(), rc

def subprocess_case(name, watcher):
    loop = new_loop()
    w = watcher()
    asyncio.set_child_watcher(w)
    w.attach_loop(loop)
    out, rc = loop.run_until_complete(run_child())
    w.close()
    loop.close()
    print("create_subprocess_exec + wait, SelectSelector, %s: %r, exit %d" % (name, out, rc))

def zombies():
    n = 0
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            f = open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if f[0] == "Z" and f[1] == str(os.getpid()):
            n += 1
    return n

signal_case()
subprocess_case("SafeChildWatcher", asyncio.SafeChildWatcher)
subprocess_case("FastChildWatcher", asyncio.FastChildWatcher)
subprocess_case("PidfdChildWatcher", asyncio.PidfdChildWatcher)
print("zombie children left:", zombies())
print("py_asyncio_select: ok")
'
# LD_PRELOAD (set by the runner for the preloaded runs) reaches python3 and its children.
exec "$py" -u -c "$script" "$bin"
