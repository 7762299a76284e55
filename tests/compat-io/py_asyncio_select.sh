# py_asyncio_select.sh: an asyncio event loop on selectors.SelectSelector whose only
# wake-up is a signal, with Debian's python3 (3.11), natively and preloaded (issue 12).
#
# Usage: bash py_asyncio_select.sh BUILT_BINARY   (the runner passes build/compat-io/NAME;
# that binary is the child the loop starts). Python retries an interrupted select with
# the same fd_sets (PEP 475), so a select hook that leaves them cleared after EINTR makes
# the loop wait forever on empty sets. Cases, each on a new loop, for each selector
# (SelectSelector, PollSelector, EpollSelector):
#  - loop.add_signal_handler(SIGUSR1): another process sends SIGUSR1 while the loop
#    waits (the handler's wake-up byte goes to the loop's self-pipe, in the set);
#  - asyncio.create_subprocess_exec(child) + read its stdout + wait(), with the
#    SafeChildWatcher and FastChildWatcher (woken by SIGCHLD), the PidfdChildWatcher
#    (a pidfd in the set) and the ThreadedChildWatcher (os.waitpid on a thread);
# then no zombie child of the interpreter is left.
set -euo pipefail

bin=$1
py=/usr/bin/python3
if [ ! -x "$py" ]; then
	echo "py_asyncio_select: SKIP: no $py"
	exit 77	# run-compat.sh: a native exit 77 is a skip
fi

script='
import asyncio, os, selectors, signal, subprocess, sys, warnings
warnings.simplefilter("ignore", DeprecationWarning)
child = sys.argv[1]

def new_loop(sel):
    loop = asyncio.SelectorEventLoop(getattr(selectors, sel)())
    asyncio.set_event_loop(loop)
    return loop

def signal_case(sel):
    loop = new_loop(sel)
    fut = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, lambda: fut.done() or fut.set_result("SIGUSR1"))
    # Sent by another process while the loop waits with no timeout. The sleep only
    # makes that likely; the result is the same either way natively.
    k = subprocess.Popen(["sh", "-c", "sleep 0.3; kill -USR1 %d" % os.getpid()])
    r = loop.run_until_complete(fut)
    k.wait()
    loop.remove_signal_handler(signal.SIGUSR1)
    loop.close()
    print("add_signal_handler(SIGUSR1), %s: woken by %s" % (sel, r))

async def run_child():
    p = await asyncio.create_subprocess_exec(child, stdout=asyncio.subprocess.PIPE)
    out = await p.stdout.read()
    rc = await p.wait()
    return out.decode().strip(), rc

def subprocess_case(sel, name):
    loop = new_loop(sel)
    w = getattr(asyncio, name)()
    asyncio.set_child_watcher(w)
    w.attach_loop(loop)
    out, rc = loop.run_until_complete(run_child())
    w.close()
    loop.close()
    print("create_subprocess_exec + wait, %s, %s: %r, exit %d" % (sel, name, out, rc))

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

for sel in ("SelectSelector", "PollSelector", "EpollSelector"):
    signal_case(sel)
    for name in ("SafeChildWatcher", "FastChildWatcher", "PidfdChildWatcher",
                 "ThreadedChildWatcher"):
        subprocess_case(sel, name)
print("zombie children left:", zombies())
print("py_asyncio_select: ok")
'
# LD_PRELOAD (set by the runner for the preloaded runs) reaches python3 and its children.
exec "$py" -u -c "$script" "$bin"
