/* sched/loader.c: fork against the dynamic loader (issue 17, point 7): the
 * loader gate, which fork.c shuts around the real fork. A child forked while other green threads load or
 * unload modules, walk the module list, or create threads must not inherit a
 * lock held by a thread that does not exist in it, nor a half-edited list.
 *
 * glibc 2.36's fork (posix/fork.c) takes its own locks in the parent for its
 * threads (the stdio list, every malloc arena) and, in the child, resets the
 * stdio locks, ld.so's dl_load_lock and dl_load_tls_lock, and reclaims the
 * other threads' stacks. It does not take ld.so's locks: a thread in dlopen
 * or dlclose at the fork point leaves the child a link map and TLS slot table
 * half edited, and dl_load_write_lock (dl_iterate_phdr's, and dlopen's while
 * it links a new module in) is not reset at all, so a child that inherited
 * it held hangs in its first dlopen or dl_iterate_phdr. Natively that race is
 * the program's; here the runtime closes it, as it has to make the other
 * green threads as quiet as glibc makes its own threads:
 *
 * - The loader gate: dlopen, dlmopen, dlclose and dl_iterate_phdr (shim/tp.c)
 *   enter and leave it; fork waits (parked) until no caller is inside, and
 *   callers that come meanwhile wait until the fork is done. So no thread is
 *   inside ld.so's locked sections at the fork point, and neither inside
 *   tls.c's dlopen_lock, taken only within dlopen. Calls from inside a gated
 *   call (a constructor that dlopens, a dl_iterate_phdr callback), and those
 *   of the fork handlers (pthread_atfork), pass.
 * - The runtime's own allocators (the stack pool, the robust buckets) are
 *   held across glibc's part of the fork by fork.c's handlers; the rest of the
 *   runtime's shared state is rebuilt empty in the child (fork.c).
 *
 * - No preemption inside the gated calls: their callbacks (a dl_iterate_phdr
 *   callback, a constructor or destructor) run under ld.so's recursive locks,
 *   which recognise their owner by the tid in the thread block, in tp mode
 *   the M's: another G of the same M preempted into would pass them and edit
 *   the module list under the walker (tests/compat/proc_fork_loader looped
 *   in dl_iterate_phdr over a cycle at GOSHIM_PROCS=1). A callback that
 *   parks still lets that happen (README, Limits).
 *
 * The gate word: bit 31 FORKING (a fork is waiting or under way; one fork at a
 * time), bits 0-30 the number of callers inside. Changed only by CAS or
 * atomic add, so a caller that counted itself in before FORKING was set is
 * seen by the fork, and one that comes after sees FORKING. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include "gs.h"

#define FORKING 0x80000000u
#define INSIDE 0x7fffffffu

static _Atomic uint32_t gate;
static struct m *_Atomic fork_m;	/* the forking G's M once the gate is shut */
static void *_Atomic fork_tp;		/* the forking caller's thread pointer */
/* Gated calls the caller is inside: a nested call passes. g->loader_depth for
 * a G (the runtime's own TLS is per OS thread in pinned mode), this for an
 * outside thread or a caller off its G (fork handlers on the M's identity). */
static GS_TLS int depth;

static int *depth_of(struct g *g)
{
	return g ? &g->loader_depth : &depth;
}

/* The caller is the fork that shut the gate (its M runs the fork handlers on
 * the M's real thread pointer), or one of its handlers. */
static bool is_forker(void)
{
	struct m *m = gs_curm;
	void *tp = atomic_load(&fork_tp);
	return (m && m == atomic_load(&fork_m)) || (tp && tp == gs_arch_tp_now());
}

void gs_loader_enter(void)
{
	struct g *g = gs_self();
	if (g)
		g->nopreempt++;
	if ((*depth_of(g))++ > 0 || is_forker()) {
		atomic_fetch_add(&gate, 1);
		return;
	}
	uint32_t v = atomic_load(&gate);
	for (;;) {
		if (v & FORKING) {
			gs_futex_wait(&gate, v, 0, GS_INTR_SIGNAL, "fork (loader)");
			v = atomic_load(&gate);
		} else if (atomic_compare_exchange_weak(&gate, &v, v + 1)) {
			return;
		}
	}
}

void gs_loader_leave(void)
{
	struct g *g = gs_self();
	if (g && g->nopreempt > 0)
		g->nopreempt--;
	(*depth_of(g))--;
	uint32_t v = atomic_fetch_sub(&gate, 1);
	if (v & FORKING)
		gs_futex_wake(&gate, INT_MAX);	/* the fork waits for the count */
	/* A preemption asked for inside waits for this point: a G that loops
	 * on dl_iterate_phdr spends nearly all its time inside. */
	gs_preempt_point();
}

/* Before the real fork (fork.c), on the forking G (or outside thread): shuts
 * the gate and waits until only the caller's own gated calls are inside. */
void gs_loader_shut(void)
{
	uint32_t v = atomic_load(&gate);
	for (;;) {
		if (v & FORKING) {	/* another fork first */
			gs_futex_wait(&gate, v, 0, GS_INTR_SIGNAL, "fork");
			v = atomic_load(&gate);
		} else if (atomic_compare_exchange_weak(&gate, &v, v | FORKING)) {
			break;
		}
	}
	uint32_t mine = (uint32_t)*depth_of(gs_self());
	while (((v = atomic_load(&gate)) & INSIDE) != mine)
		gs_futex_wait(&gate, v, 0, GS_INTR_SIGNAL, "fork (loader busy)");
	/* From here the caller does not park until the fork is done. */
	atomic_store(&fork_m, gs_curm);
	atomic_store(&fork_tp, gs_arch_tp_now());
}

/* After the real fork, in the parent (pid != 0, also when it failed): opens
 * the gate. Nothing in the child, where the fork handler did it. */
void gs_loader_open(pid_t pid)
{
	if (pid == 0)
		return;
	atomic_store(&fork_m, NULL);
	atomic_store(&fork_tp, NULL);
	atomic_fetch_and(&gate, ~FORKING);
	gs_futex_wake(&gate, INT_MAX);
}

/* In the child's fork handler (fork.c), where the caller is the only thread,
 * possibly on its M's real thread pointer (so not gs_self()): the callers
 * counted inside were the vanished threads', except the forker's own nested
 * ones. Also for a fork that did not shut the gate (glibc's internal fork). */
void gs_loader_fork_child(void)
{
	struct m *m = gs_curm;
	atomic_store(&fork_m, NULL);
	atomic_store(&fork_tp, NULL);
	atomic_store(&gate, (uint32_t)*depth_of(m ? m->curg : NULL));
}
