# py_subprocess.sh: Python 3.11 (Debian's /usr/bin/python3) subprocess handling, the
# cases of issue 12: a thread blocked in os.waitpid while main closes the child's stdin
# (the child ends only then); asyncio.create_subprocess_exec + wait() on every child
# watcher of 3.11 (ThreadedChildWatcher, the default, waits in a thread with
# os.waitpid) on the default (epoll) loop, and the two that need no SIGCHLD handler
# (ThreadedChildWatcher, PidfdChildWatcher) on a SelectSelector loop: the others there
# are woken only by a signal, which needs select to leave its sets alone on EINTR
# (issue 12's select fix, done apart); threading.get_native_id distinct for ten live
# threads, main's the pid.
# Usage: bash py_subprocess.sh BUILT_BINARY (the child program, build/compat/py_subprocess)
set -eu
CHILD=$1
exec /usr/bin/python3 -W ignore::DeprecationWarning - "$CHILD" <<'PY'
import asyncio, os, subprocess, sys, threading, warnings
child = sys.argv[1]

# A thread waits in os.waitpid; main ends the child by closing its stdin.
p = subprocess.Popen(['sh', '-c', 'read x; exit 3'], stdin=subprocess.PIPE)
res = []
t = threading.Thread(target=lambda: res.append(os.waitpid(p.pid, 0)[1]))
t.start()
threading.Event().wait(0.05)
p.stdin.close()
t.join()
print("waitpid thread: exit code", os.waitstatus_to_exitcode(res[0]), flush=True)

async def run_children():
    procs = []
    for code in (0, 4, 5):
        pr = await asyncio.create_subprocess_exec(child, str(code), stdin=asyncio.subprocess.PIPE,
                                                  stdout=asyncio.subprocess.PIPE)
        procs.append(pr)
    outs = []
    for pr, data in zip(procs, (b"", b"ab", b"abcdef")):
        out, _ = await pr.communicate(data)
        outs.append((pr.returncode, out.decode().strip()))
    pr = await asyncio.create_subprocess_exec('sh', '-c', 'sleep 0.05; exit 7')
    outs.append((await pr.wait(), ''))
    return outs

watchers = ['ThreadedChildWatcher', 'PidfdChildWatcher', 'SafeChildWatcher',
            'FastChildWatcher', 'MultiLoopChildWatcher']
import selectors
for sel in ('default', 'SelectSelector'):
    for w in (watchers if sel == 'default' else watchers[:2]):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            loop = (asyncio.new_event_loop() if sel == 'default'
                    else asyncio.SelectorEventLoop(selectors.SelectSelector()))
            asyncio.set_event_loop(loop)
            watcher = getattr(asyncio, w)()
            asyncio.set_child_watcher(watcher)
            watcher.attach_loop(loop)
            try:
                out = loop.run_until_complete(asyncio.wait_for(run_children(), 30))
            finally:
                watcher.close()
                asyncio.set_child_watcher(None)
                loop.close()
        print(sel, w, out, flush=True)

ids = set()
go = threading.Barrier(11)
def note():
    ids.add(threading.get_native_id())
    go.wait()
ts = [threading.Thread(target=note) for _ in range(10)]
for x in ts: x.start()
ids.add(threading.get_native_id())
go.wait()
for x in ts: x.join()
print("distinct native ids:", len(ids), "main's is the pid:", threading.get_native_id() == os.getpid())
PY
