/* sched/fork.c: fork, the one way the runtime prepares for it and rebuilds
 * itself in the child. Every other file only offers its own prepare, parent
 * and child steps; the order they run in is written here, once.
 *
 * A fork reaches the runtime by two doors, and both lead here:
 * - the fork() hook (shim/tp.c) calls gs_fork(): it shuts the loader gate
 *   (loader.c: waits, parked, until no dlopen, dlclose or dl_iterate_phdr is
 *   inside, since glibc's fork does not reset ld.so's dl_load_write_lock), then
 *   runs glibc's fork on the M's real thread pointer (tls.c; glibc's child
 *   keeps only the calling thread's entry in its thread list, which must be
 *   the OS thread's own, whose stack holds the M's scheduler stack), and opens
 *   the gate again in the parent;
 * - glibc's fork handlers, one triple registered by this file's constructor
 *   (so before any handler of the program's, which glibc registers later:
 *   our prepare runs after theirs, our child handler before theirs). They run
 *   for every fork glibc makes, through the hook or not (glibc's internal
 *   fork, which daemon() used before shim/tp.c took it over): prepare holds the runtime's allocators
 *   that the child's first calls need (the robust mutex buckets of sync.c,
 *   then the stack pool of stack.c, in lock rank order) across glibc's own part
 *   of the fork, so the child never finds them half edited by an M that does
 *   not exist there; parent releases them; child resets them and rebuilds
 *   the runtime around the one OS thread and the one G left (gs_fork_child):
 *   run queues, futex table, netpoller (a poller of its own), sysmon, helper
 *   threads, thread ids, the M table, and last the dump socket under the
 *   child's pid. Ms other than the caller's start again at the child's next
 *   pthread_create.
 *
 * Holding the locks only from our prepare handler, not from the hook, lets
 * the program's own prepare handlers (which run first) create threads, take
 * robust mutexes or allocate stacks. In tp and moving modes the handlers run
 * on the M's identity (the real thread pointer: they see the OS thread's
 * __thread variables, README, Limits) with the caller marked as in the
 * scheduler, so a lock they wait for waits in the kernel, never parks; in
 * pinned mode they run on the G.
 *
 * A handler of a library whose constructor registered one before ours (a
 * preloaded library is initialised after the program's other libraries) runs
 * its child part before the runtime is rebuilt; such a handler sees the
 * parent's state of the runtime (README, Limits). */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include "gs.h"
#include "real.h"
#include "netpoll.h"
#include "proc.h"

/* Called by the fork() hook on a G, an outside thread, or before the runtime
 * has started. Returns the pid (0 in the child) or -errno. */
pid_t gs_fork(void)
{
	struct gs_realtp r;
	gs_loader_shut();	/* no loader call inside from here */
	gs_tls_real_begin(&r);
	pid_t pid = REAL(fork)();
	gs_tls_real_end(&r);	/* carries errno back */
	int e = errno;
	gs_loader_open(pid);
	return pid < 0 ? -e : pid;
}

/* In a forked child only the calling OS thread exists, running the G that
 * called fork: it becomes the only G, its M the only running M. Nothing to
 * do when the runtime has not started or an outside thread forked. */
static void rebuild(void)
{
	struct m *self = gs_curm;
	if (!self)
		return;
	struct g *g = self->curg;
	gs_g_fork_child(g);
	gs_proc_fork_child();
	gs_futex_fork_child();
	gs_np_fork_child();
	gs_sysmon_fork_child();
	gs_offload_fork_child();
	gs_tid_fork_child(g);
	gs_m_fork_child(self, g);
	gs_dumpsock_fork_child();	/* needs the child's netpoller */
}

/* Lock rank order: robust buckets before the stack pool. */
static void prepare(void)
{
	gs_robust_fork_prepare();
	gs_stack_fork_prepare();
}

static void parent(void)
{
	gs_stack_fork_parent();
	gs_robust_fork_release();
}

static void child(void)
{
	gs_stack_fork_child();
	gs_robust_fork_release();
	gs_loader_fork_child();
	rebuild();
}

__attribute__((constructor)) static void fork_init(void)
{
	pthread_atfork(prepare, parent, child);
}
