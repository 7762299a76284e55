/* sched/g.c: green threads (Gs): the list of all of them, allocation (in the
 * top of its stack or from the heap, reaped ones kept for reuse), spawn onto a
 * run queue, and exit. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "gs.h"
#include "real.h"
#include "netpoll.h"
#include "sync.h"
#include "proc.h"

#define nlive gs_stats.live_gs		/* Gs not yet exited */
static _Atomic int next_id = 1;
char gs_main_name[16];
gs_lock_t gs_allg_lock = GS_LOCK_INIT(ALLG);
struct g *gs_allg;

void gs_allg_add(struct g *g)
{
	gs_lock(&gs_allg_lock);
	g->allprev = NULL;
	g->allnext = gs_allg;
	if (gs_allg)
		gs_allg->allprev = g;
	gs_allg = g;
	gs_unlock(&gs_allg_lock);
}

void gs_allg_del(struct g *g)
{
	gs_lock(&gs_allg_lock);
	if (g->allprev)
		g->allprev->allnext = g->allnext;
	else
		gs_allg = g->allnext;
	if (g->allnext)
		g->allnext->allprev = g->allprev;
	gs_unlock(&gs_allg_lock);
}


/* ---- Gs ---- */

static void g_main(void *arg)
{
	struct g *g = arg;
	gs_sched_after_switch(g->m);
	if (gs_tls_tp)
		gs_tls_g_start(g);
	if (unlikely(atomic_load(&g->sigpending)))
		gs_sig_deliver(g);
	gs_exit(g->fn(g->arg));
}

/* Heap Gs (a program-given stack, or a G too big for its stack's top page)
 * are kept for reuse, up to HEAPG_KEEP, so that a reaped one stays readable
 * with its GS_G_REAPED marker (free() would overwrite it). */
#define HEAPG_KEEP 64
static gs_lock_t heapg_lock = GS_LOCK_INIT(HEAPG);
static struct g *heapg_free;	/* linked by schedlink (heapg_lock) */
static int heapg_n;		/* heapg_lock */

void gs_free_g(struct g *g)
{
	g->magic = GS_G_REAPED;
	if (g->in_stack) {
		gs_stack_free(g);	/* g with it */
		return;
	}
	gs_lock(&heapg_lock);
	if (heapg_n < HEAPG_KEEP) {
		g->schedlink = heapg_free;
		heapg_free = g;
		heapg_n++;
		g = NULL;
	}
	gs_unlock(&heapg_lock);
	free(g);
}

static size_t g_size(void)
{
	return (sizeof(struct g) + gs_tls_size + 63) & ~(size_t)63;
}

static struct g *init_g(struct g *g)
{
	g->magic = GS_G_MAGIC;
	g->id = atomic_fetch_add(&next_id, 1);
	return g;
}

/* A zeroed heap G, from the cache of reaped ones if it has one. */
static struct g *alloc_heap_g(void)
{
	gs_lock(&heapg_lock);
	struct g *g = heapg_free;
	if (g) {
		heapg_free = g->schedlink;
		heapg_n--;
	}
	gs_unlock(&heapg_lock);
	if (g)
		memset(g, 0, g_size());
	else
		g = calloc(1, g_size());
	return g;
}

struct g *gs_new_g(void)
{
	struct g *g = alloc_heap_g();
	return g ? init_g(g) : NULL;
}

/* A G and its stack: the struct (with its saved TLS) at the top of the stack,
 * in the page every G touches anyway, when it fits well there; the context
 * starts below it. In tp mode gs_tls_g_spot says where: in the header of the
 * G's TLS block or below the block, which gs_tls_init_g puts at the top of
 * the stack (sched/tls.c). One allocation fewer per thread, and 600-odd
 * bytes. */
static struct g *new_g_stack(size_t size, size_t guard, int *err)
{
	struct g s;
	memset(&s, 0, sizeof s);
	if ((*err = gs_stack_alloc(&s, size, guard)))
		return NULL;
	struct g *g;
	if (g_size() <= 1024) {
		g = (struct g *)gs_tls_g_spot(s.stack_lo, s.stack_hi, g_size());
		memset(g, 0, g_size());
		g->in_stack = 1;
	} else if (!(g = alloc_heap_g())) {
		gs_stack_free(&s);
		*err = -EAGAIN;
		return NULL;
	}
	g->stack_lo = s.stack_lo;
	g->stack_hi = s.stack_hi;
	g->map = s.map;
	g->maplen = s.maplen;
	g->guard = s.guard;
	g->stack_kind = s.stack_kind;
	g->stack_dirty = s.stack_dirty;
	return init_g(g);
}

int gs_spawn(struct g **out, void *(*fn)(void *), void *arg, size_t stacksize, size_t guard,
	     void *ustack, int detached, const struct gs_sched *sched)
{
	struct g *self = gs_self();
	struct g *g;
	if (ustack) {
		if (!(g = gs_new_g()))
			return -EAGAIN;
		g->stack_lo = ustack;
		g->stack_hi = (char *)ustack + stacksize;
		g->stack_kind = STACK_USER;
	} else {
		int r;
		if (!(g = new_g_stack(stacksize ? stacksize : gs_stack_default(), guard, &r)))
			return r;
	}
	g->fn = fn;
	g->arg = arg;
	g->sched = *sched;
	atomic_store(&g->joinstate, detached ? J_DETACHED : J_JOINABLE);
	if (detached)
		atomic_store(&g->joiner, g);
	if (gs_tls_init_g(g)) {
		if (!g->in_stack && g->stack_kind != STACK_USER)
			gs_stack_free(g);
		gs_free_g(g);
		return -EAGAIN;
	}
	memcpy(g->name, self ? self->name : gs_main_name, sizeof g->name);
	if (self)
		g->sigmask = self->sigmask;
	else
		REAL(pthread_sigmask)(SIG_SETMASK, NULL, &g->sigmask);
	gs_ctx_make(&g->ctx, g->ctx_top ? g->ctx_top : g->in_stack ? (char *)g : g->stack_hi, g_main, g);
	atomic_store(&g->status, G_NEW);
	gs_sig_g_start(g);
	gs_allg_add(g);
	atomic_fetch_add(&nlive, 1);
	*out = g;
	gs_ensure_ms();
	if (gs_prio_new(g, self))
		return 0;
	struct m *m = gs_curm;
	if (!self || !atomic_load_explicit(&m->has_p, memory_order_relaxed) ||
	    !gs_runq_put(&m->runq, g))
		gs_globq_put(g);
	gs_wakep(self ? m : NULL);
	return 0;
}

void gs_exit(void *ret)
{
	struct g *g = gs_self();
	gs_assert(g);
	gs_tls_dtors_run(g);
	gs_tsd_run_destructors(g);
	gs_robust_exit(g);	/* robust mutexes it holds: owner died */
	gs_sig_g_end(g);
	gs_np_ghost_drop(g);	/* cancelled in a call that went on with a closed fd */
	g->ret = ret;
	if (atomic_fetch_sub(&nlive, 1) == 1)
		exit(0);	/* the last thread: as glibc, exit(0) */
	struct m *m = g->m;
	atomic_store(&g->status, G_DEAD);
	m->gdead = g;
	gs_schedule(m, g, false);
	gs_throw("a dead green thread %d was resumed", g->id);
}

/* In a forked child g (or none) is the only G left. */
void gs_g_fork_child(struct g *g)
{
	gs_lock_reset(&heapg_lock);
	gs_lock_reset(&gs_allg_lock);
	gs_allg = g;	/* the others are gone; their memory is not reclaimed */
	if (g)
		g->allnext = g->allprev = NULL;
	atomic_store(&nlive, g ? 1 : 0);
}
