/* sched/proc.c: Gs and Ms, the scheduler, park/ready, start-up and exit.
 *
 * Each M runs Gs from, in order: its inbox (started Gs pinned to it, made
 * runnable by anyone), its local run queue of new Gs, the global queue, other
 * Ms' run queues (stealing new Gs), its due timers. A G that parks switches
 * straight to the next runnable G of its M; when there is none it switches to
 * the M's g0 context (the scheduler's own stack), which sleeps on a kernel
 * futex until its inbox fills, new work appears or its next timer is due.
 *
 * Lost wakeups: gs_ready() publishes a G to its M's inbox with a CAS on the G's
 * park word, and only that M ever runs it. The M pops it only from the
 * scheduler, i.e. after the parking G's registers are saved: a ready that races
 * ahead of the park is simply found in the inbox by the park itself.
 *
 * Ms are started when the program first creates a thread, so a program that
 * never does runs with no extra OS thread. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/single_threaded.h>
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

struct gs_config gs_cfg;
GS_TLS struct m *gs_curm;
struct m *gs_allm;
_Atomic int gs_nm;
_Atomic int gs_started;
struct g *gs_maing;
struct gs_stats gs_stats;
int gs_move;

#define nlive gs_stats.live_gs		/* Gs not yet exited */
#define gq_len gs_stats.globq
static _Atomic int next_id = 1;
static gs_lock_t glock;			/* guards the global queue */
static struct g *gq_head, *gq_tail;	/* glock */
static _Atomic int ms_started;
static gs_lock_t start_lock;
static gs_lock_t mslock;		/* M life cycle: start, retire, P transfer */
static char main_name[16];
gs_lock_t gs_allg_lock;
struct g *gs_allg;

static void allg_add(struct g *g)
{
	gs_lock(&gs_allg_lock);
	g->allprev = NULL;
	g->allnext = gs_allg;
	if (gs_allg)
		gs_allg->allprev = g;
	gs_allg = g;
	gs_unlock(&gs_allg_lock);
}

static void allg_del(struct g *g)
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

#define G0_STACK (256 * 1024)


/* ---- queues ---- */

static void globq_put(struct g *g)
{
	g->schedlink = NULL;
	gs_lock(&glock);
	if (gq_tail)
		gq_tail->schedlink = g;
	else
		gq_head = g;
	gq_tail = g;
	atomic_fetch_add(&gq_len, 1);
	gs_unlock(&glock);
}

/* Takes one G from the global queue, and a fair share more into m's runq. */
static struct g *globq_get(struct m *m)
{
	if (atomic_load_explicit(&gq_len, memory_order_relaxed) == 0)
		return NULL;
	gs_lock(&glock);
	struct g *g = gq_head;
	if (g) {
		gq_head = g->schedlink;
		if (!gq_head)
			gq_tail = NULL;
		atomic_fetch_sub(&gq_len, 1);
		int more = atomic_load(&gq_len) / gs_cfg.procs;
		while (more-- > 0 && gq_head && gs_runq_len(&m->runq) < RUNQ_SIZE / 2) {
			struct g *x = gq_head;
			gq_head = x->schedlink;
			if (!gq_head)
				gq_tail = NULL;
			atomic_fetch_sub(&gq_len, 1);
			gs_runq_put(&m->runq, x);
		}
	}
	gs_unlock(&glock);
	return g;
}

/* m->sleeping: 0 running, 1 asleep on its futex, 2 blocked in the netpoller. */
static _Atomic int np_blocker;	/* an M is (about to be) blocked in the netpoller */

static void wake_m(struct m *m)
{
	int s = atomic_load(&m->sleeping);
	if (s == 1) {
		if (atomic_compare_exchange_strong(&m->sleeping, &s, 0))
			gs_sys_futex(&m->sleeping, FUTEX_WAKE_PRIVATE, 1, NULL);
	} else if (s == 2) {
		gs_np_break();	/* the poller resets its own state */
	}
}

/* New stealable work exists: wake one idle M with a P to take it. */
static void wakep(struct m *self)
{
	if (!atomic_load_explicit(&ms_started, memory_order_relaxed))
		return;
	int nm = atomic_load_explicit(&gs_nm, memory_order_acquire);
	for (int i = 0; i < nm; i++) {
		struct m *m = &gs_allm[i];
		if (m != self && atomic_load(&m->sleeping) && atomic_load(&m->has_p) &&
		    atomic_load(&m->state) == M_LIVE) {
			wake_m(m);
			return;
		}
	}
}

/* Move mode: g goes to the readier's runnext when a G of an M readies it (a
 * partner it will switch to), to the run queue of the readier's M when that is
 * its scheduler, to the global queue when it readies itself (yield, preemption)
 * or the readier is no M (sysmon's netpoll, helpers); new work wakes an idle M
 * with a P, which steals. */
static void ready_move(struct g *g)
{
	struct m *cm = gs_curm;
	if (cm && cm->curg == g) {
		globq_put(g);	/* yield, preemption: behind everything, as in Go */
		return;
	}
	if (cm) {
		if (cm->curg && !cm->in_sched) {
			g = __atomic_exchange_n(&cm->runnext, g, __ATOMIC_ACQ_REL);
			if (!g)
				return;
		}
		if (gs_runq_put(&cm->runq, g)) {
			if (!cm->curg && atomic_exchange(&cm->sleeping, 0) == 2)
				gs_np_break();	/* a handler on its idle scheduler: see gs_ready */
			wakep(cm);
			return;
		}
	}
	globq_put(g);
	wakep(NULL);
}

bool gs_ready(struct g *g, uint64_t seq)
{
	uint64_t want = (seq << 1) | PARK_WAITING;
	if (!atomic_compare_exchange_strong(&g->parkword, &want, seq << 1))
		return false;
	atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
	struct m *m = g->m, *w = NULL;
	if (gs_move && g != gs_maing && !(w = atomic_load_explicit(&g->wired_m, memory_order_relaxed))) {
		ready_move(g);
		return true;
	}
	if (w)
		m = w;
	if (m == gs_curm && m->curg && !m->in_sched && !gs_move) {
		/* Readied by a G of its own M: it runs next, as in Go. (In
		 * move mode main's G, which stays on M0, uses the inbox only:
		 * runnext is for Gs that may go anywhere.) */
		struct g *old = m->runnext;
		m->runnext = g;
		if (!old)
			return true;
		g = old;
	}
	gs_mpsc_push(&m->inbox, &g->node);
	if (m != gs_curm)
		wake_m(m);
	else if (!m->curg && atomic_exchange(&m->sleeping, 0) == 2)
		/* A signal handler on m's idle scheduler. Its futex wait may be
		 * restarted (SA_RESTART): the changed word makes it return; an
		 * epoll_wait it is about to enter needs the eventfd. */
		gs_np_break();
	return true;
}

void gs_interrupt(struct g *g)
{
	uint64_t w = atomic_load(&g->parkword);
	if (!(w & PARK_WAITING) || !g->interruptible)
		return;
	/* Only a signal ends such a wait (the sender set sigpending first). */
	if (g->interruptible == GS_INTR_SIGNAL && !atomic_load(&g->sigpending))
		return;
	atomic_store(&g->interrupted, 1);
	if (!gs_ready(g, w >> 1))
		atomic_store(&g->interrupted, 0);
}

void gs_cancel_async_wake(struct g *g)
{
	uint64_t w = atomic_load(&g->parkword);
	if (w & PARK_WAITING) {
		if (g->interruptible && g->interruptible != GS_INTR_SIGNAL)
			gs_interrupt(g);	/* its call ends with the cancellation */
		else if (g->in_futex)
			gs_ready(g, w >> 1);	/* gs_futex_wait unwinds it */
	} else if (atomic_load(&g->status) == G_RUNNING && g->m && gs_preempt_sig) {
		gs_preempt_m(g->m);	/* preempt.c unwinds it at a safe PC */
	}
}

/* ---- the scheduler ---- */

/* In move mode a heap is touched under its lock: a G deletes its entry from
 * whichever M it now runs on, and an M with a P adopts the entries of one
 * without. A due entry is readied under the lock, so its G (deleting) cannot
 * be gone meanwhile. Lock order: timer lock -> run queue locks. */
static void run_timers(struct m *m)
{
	if (!m->timers.n)
		return;
	uint64_t now = gs_nanotime();
	struct gs_timer t;
	if (gs_move)
		gs_lock(&m->tlock);
	while (gs_timer_pop_due(&m->timers, now, &t))
		gs_ready(t.g, t.seq);
	if (gs_move)
		gs_unlock(&m->tlock);
}

int gs_g_timer_add(struct g *g, uint64_t when, uint64_t seq)
{
	struct m *m = g->m;	/* runs on it */
	if (gs_move)
		gs_lock(&m->tlock);
	int r = gs_timer_add(&m->timers, when, g, seq);
	if (r == 0)
		atomic_store(&g->timer_m, m);
	if (gs_move)
		gs_unlock(&m->tlock);
	return r;
}

void gs_g_timer_del(struct g *g)
{
	struct m *m;
	for (;;) {
		if (!(m = atomic_load(&g->timer_m)))
			return;
		if (!gs_move)
			break;
		gs_lock(&m->tlock);
		if (atomic_load(&g->timer_m) == m)
			break;
		gs_unlock(&m->tlock);	/* adopted by another M meanwhile */
	}
	gs_timer_del(&m->timers, g);
	atomic_store(&g->timer_m, NULL);
	if (gs_move)
		gs_unlock(&m->tlock);
}

/* Move mode: m (with a P) takes the timers of v (without one). */
static void adopt_timers(struct m *m, struct m *v)
{
	struct m *a = m->id < v->id ? m : v, *b = a == m ? v : m;
	gs_lock(&a->tlock);
	gs_lock(&b->tlock);
	while (v->timers.n) {
		struct gs_timer t = v->timers.v[v->timers.n - 1];
		gs_timer_del(&v->timers, t.g);
		if (gs_timer_add(&m->timers, t.when, t.g, t.seq) != 0) {
			gs_timer_add(&v->timers, t.when, t.g, t.seq);	/* room it had */
			break;
		}
		atomic_store(&t.g->timer_m, m);
	}
	gs_unlock(&b->tlock);
	gs_unlock(&a->tlock);
}

static struct g *from_node(struct gs_node *n)
{
	return (struct g *)((char *)n - offsetof(struct g, node));
}

/* A runnable G for m without blocking, or NULL. prefer_new: look at new Gs
 * before the inbox (a yielding G is in the inbox and must not starve them). */
static struct g *find_move(struct m *m, bool prefer_new);

/* Half of another M's run queue, the first that has any: one of them. */
static struct g *steal(struct m *m)
{
	int nm = atomic_load_explicit(&gs_nm, memory_order_acquire);
	for (int i = 1; i < nm; i++) {
		struct m *v = &gs_allm[(m->id + i) % nm];
		if (gs_runq_len(&v->runq) && gs_runq_steal(&m->runq, &v->runq))
			return gs_runq_get(&m->runq);
	}
	return NULL;
}

static struct g *find_nowait(struct m *m, bool prefer_new)
{
	struct g *g;
	struct gs_node *n;
	if (gs_move)
		return find_move(m, prefer_new);
	m->schedtick++;
	if ((m->schedtick & 7) == 0)
		run_timers(m);
	if ((m->schedtick % 61) == 0) {
		if (atomic_load_explicit(&m->has_p, memory_order_relaxed) && (g = globq_get(m)))
			return g;
		if (gs_np_waiting())
			gs_np_poll(0);	/* a busy M still lets I/O in */
	}
	if (!prefer_new && m->runnext && (m->schedtick & 15) != 0) {
		g = m->runnext;	/* not every time: the others in the inbox must run too */
		m->runnext = NULL;
		return g;
	}
	if (!prefer_new && (n = gs_mpsc_pop(&m->inbox)))
		return from_node(n);
	if (atomic_load_explicit(&m->has_p, memory_order_relaxed)) {
		if ((g = gs_runq_get(&m->runq)) || (g = globq_get(m)) || (g = steal(m)))
			return g;
	}
	run_timers(m);
	if ((n = gs_mpsc_pop(&m->inbox)))
		return from_node(n);
	if ((g = m->runnext)) {
		m->runnext = NULL;
		return g;
	}
	if (gs_np_waiting() && !atomic_load_explicit(&np_blocker, memory_order_relaxed) &&
	    gs_np_poll(0) > 0 && (n = gs_mpsc_pop(&m->inbox)))
		return from_node(n);
	return NULL;
}

static struct g *take_runnext(struct m *m)
{
	if (!__atomic_load_n(&m->runnext, __ATOMIC_RELAXED))
		return NULL;
	return __atomic_exchange_n(&m->runnext, NULL, __ATOMIC_ACQ_REL);
}

/* Move mode: an M without a P (stuck in the kernel, its P handed off) keeps
 * nothing runnable to itself. */
static bool pless(struct m *v)
{
	return atomic_load_explicit(&v->state, memory_order_relaxed) == M_LIVE &&
	       !atomic_load_explicit(&v->has_p, memory_order_relaxed);
}

/* find_nowait of move mode: runnext, main's inbox (M0), the run queue, the
 * global queue, then stealing: other Ms' run queues (started Gs too), the
 * runnext and timers of Ms without a P, then timers and the network. */
static struct g *find_move1(struct m *m, bool prefer_new);

/* A G wired to another M (wired_m) found in a shared queue goes to that M. */
static struct g *find_move(struct m *m, bool prefer_new)
{
	for (;;) {
		struct g *g = find_move1(m, prefer_new);
		struct m *w = g ? atomic_load(&g->wired_m) : NULL;
		if (!w || w == m)
			return g;
		gs_mpsc_push(&w->inbox, &g->node);
		wake_m(w);
	}
}

static struct g *find_move1(struct m *m, bool prefer_new)
{
	struct g *g;
	struct gs_node *n;
	bool has_p = atomic_load_explicit(&m->has_p, memory_order_relaxed);
	bool m0 = true;	/* the inbox: main's G on M0, wired Gs on any */
	m->schedtick++;
	if ((m->schedtick & 7) == 0)
		run_timers(m);
	if ((m->schedtick % 61) == 0) {
		if (has_p && (g = globq_get(m)))
			return g;
		if (gs_np_waiting())
			gs_np_poll(0);
	}
	/* A yielding G waits in the global queue, but main's and a wired one's
	 * in the inbox. */
	bool main_yields = prefer_new && m->curg &&
			   (m->curg == gs_maing || atomic_load(&m->curg->wired_m));
	/* Not every time: a pair that readies each other would keep the
	 * others waiting (Go's runnext inherits a time slice instead). */
	if ((m->schedtick & 15) != 0 && (g = take_runnext(m)))
		return g;
	if (m0 && !main_yields && (n = gs_mpsc_pop(&m->inbox)))
		return from_node(n);
	if ((g = gs_runq_get(&m->runq)))
		return g;
	if (has_p) {
		if ((g = globq_get(m)) || (g = steal(m)))
			return g;
		int nm = atomic_load_explicit(&gs_nm, memory_order_acquire);
		for (int i = 1; i < nm; i++) {
			struct m *v = &gs_allm[(m->id + i) % nm];
			if (!pless(v))
				continue;
			if (v->timers.n)
				adopt_timers(m, v);
			if ((g = take_runnext(v)))
				return g;
		}
	}
	run_timers(m);
	if (m0 && (n = gs_mpsc_pop(&m->inbox)))
		return from_node(n);
	if ((g = take_runnext(m)) || (g = gs_runq_get(&m->runq)))
		return g;
	if (gs_np_waiting() && !atomic_load_explicit(&np_blocker, memory_order_relaxed) &&
	    gs_np_poll(0) > 0 && ((g = gs_runq_get(&m->runq)) || (g = globq_get(m))))
		return g;
	return NULL;
}

static bool work_visible(struct m *m)
{
	if (m->runnext || !gs_mpsc_empty(&m->inbox) || (gs_move && gs_runq_len(&m->runq)))
		return true;
	if (!atomic_load(&m->has_p))
		return false;
	if (gs_runq_len(&m->runq) || atomic_load(&gq_len))
		return true;
	int nm = atomic_load_explicit(&gs_nm, memory_order_acquire);
	for (int i = 0; i < nm; i++) {
		struct m *v = &gs_allm[i];
		if (gs_runq_len(&v->runq))
			return true;
		if (gs_move && v != m && pless(v) && v->runnext)
			return true;
	}
	return false;
}

bool gs_m_has_work(struct g *g)
{
	struct m *m = g->m;
	return m->runnext || gs_runq_len(&m->runq) || !gs_mpsc_empty(&m->inbox) ||
	       gs_timer_next(&m->timers) <= gs_nanotime();
}

static void release_dead(struct m *m, struct g *d)
{
	if (!gs_move)
		m->npinned--;
	else if (atomic_load(&d->wired_m))
		atomic_fetch_sub(&atomic_load(&d->wired_m)->nwired, 1);
	allg_del(d);
	gs_tls_release(m, d);
	if (!d->in_stack)
		gs_stack_free(d);	/* else it goes with d (gs_free_g) */
	int js = J_JOINABLE;
	if (atomic_compare_exchange_strong(&d->joinstate, &js, J_EXITED))
		gs_futex_wake((_Atomic uint32_t *)&d->joinstate, INT_MAX);
	else
		gs_free_g(d);	/* detached: nobody else holds it */
}

static inline void after_switch(struct m *m)
{
	struct g *p = m->prevg;
	if (p) {	/* move mode: its registers are saved, another M may run it */
		m->prevg = NULL;
		atomic_store_explicit(&p->on_cpu, 0, memory_order_release);
	}
	struct g *d = m->gdead;
	if (unlikely(d)) {
		m->gdead = NULL;
		release_dead(m, d);
	}
}

static void apply_sigmask(struct m *m, struct g *g)
{
	if (likely(m->sigmask_valid && !memcmp(&m->sigmask, &g->sigmask, sizeof(uint64_t))))
		return;
	gs_sig_apply(m, &g->sigmask);
}

/* Switches from the context saved in *from to g, on m. Returns when whoever
 * owns *from is resumed. */
static void run_g(struct m *m, struct gs_ctx *from, struct g *g)
{
	if (gs_move) {
		/* Its last M may still be switching away from it (only g0
		 * waits: schedule() sends a G found so to g0). */
		while (atomic_load_explicit(&g->on_cpu, memory_order_acquire))
			gs_arch_relax();
		atomic_store_explicit(&g->on_cpu, 1, memory_order_relaxed);
		g->m = m;
		if (unlikely(!g->tid))
			g->tid = g == gs_maing ? m->tid : gs_tid_of(g);
	} else if (unlikely(!g->m)) {
		g->m = m;	/* first run: pinned from now on */
		m->npinned++;
	}
	if (gs_tls_tp)
		gs_tls_enter(m, g->tp, gs_move ? g->tid : m->tid);
	else
		gs_tls_switch(m, g);
	apply_sigmask(m, g);
	gs_cpuclock_at_switch(m, g);
	m->curg = g;
	atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
	m->in_sched = 0;
	gs_ctx_switch(from, &g->ctx);
	after_switch(gs_move ? gs_curm : m);	/* the M it resumed on */
}

#define OVERFLOW_FMT "green thread %d overflowed its stack of %zu KiB (GOSHIM_STACK sets the default)"

static void check_stack(struct g *g)
{
	if (likely(g->stack_kind == STACK_MAIN))
		return;
	if (unlikely(gs_arch_sp() < (uintptr_t)g->stack_lo))
		gs_throw(OVERFLOW_FMT, g->id, (size_t)(g->stack_hi - g->stack_lo) / 1024);
}

/* Gives m to another G; returns when cur runs again. Runs on cur's stack. */
static void schedule(struct m *m, struct g *cur, bool prefer_new)
{
	check_stack(cur);
	m->in_sched = 1;
	struct g *next = find_nowait(m, prefer_new);
	if (next == cur) {
		atomic_store_explicit(&cur->status, G_RUNNING, memory_order_relaxed);
		m->in_sched = 0;
		return;
	}
	if (gs_move) {
		m->prevg = cur;
		if (next && atomic_load_explicit(&next->on_cpu, memory_order_acquire)) {
			/* Its last M is still on its stack, and may itself be
			 * waiting for cur: wait on g0, off cur's stack. */
			m->nextg = next;
			next = NULL;
		}
	}
	if (next) {
		run_g(m, &cur->ctx, next);
		return;
	}
	gs_cpuclock_at_switch(m, NULL);
	m->curg = NULL;
	if (gs_tls_tp)
		gs_tls_enter(m, m->tp, m->tid);
	gs_ctx_switch(&cur->ctx, &m->g0);
	after_switch(gs_move ? gs_curm : m);
}

/* ---- Ps and the M life cycle (mslock) ----
 *
 * Ps are handed between Ms only here and in gs_handoff (sysmon). An M without
 * a P that has nothing to run and no pinned G left retires; an idle M without
 * a P that still has pinned Gs takes the P of a sleeping surplus M (one with
 * no pinned G), which then retires: after a stall the OS threads come back to
 * about GOSHIM_PROCS plus the Ms that hold started Gs. */

static _Atomic int pfree;		/* Ps held by no M */
static int start_m(struct m *m);

static bool m_empty(struct m *m)
{
	return !m->npinned && !m->runnext && gs_mpsc_empty(&m->inbox) && !gs_runq_len(&m->runq) &&
	       (!gs_move || (!m->timers.n && !m->curg && !atomic_load(&m->nwired)));
}

/* A surplus M: holds a P, sleeps, and has nothing of its own. Under mslock. */
static struct m *find_surplus(struct m *self)
{
	int nm = atomic_load(&gs_nm);
	for (int i = 1; i < nm; i++) {
		struct m *t = &gs_allm[i];
		if (t != self && atomic_load(&t->state) == M_LIVE && atomic_load(&t->has_p) &&
		    atomic_load(&t->sleeping) && m_empty(t))
			return t;
	}
	return NULL;
}

/* A sleeping M without a P, to give one to. Under mslock. */
static struct m *find_pless_sleeper(void)
{
	int nm = atomic_load(&gs_nm);
	for (int i = 0; i < nm; i++) {
		struct m *x = &gs_allm[i];
		if (atomic_load(&x->state) == M_LIVE && !atomic_load(&x->has_p) &&
		    atomic_load(&x->sleeping))
			return x;
	}
	return NULL;
}

static _Noreturn void retire(struct m *m)
{
	if (m->tls_owner) {
		m->tls_owner = NULL;
		((void **)m->tp)[1] = m->own_dtv;
	}
	free(m->timers.v);
	m->timers.v = NULL;
	m->timers.n = m->timers.cap = 0;
	if (m->altstack) {
		stack_t ss = { .ss_flags = SS_DISABLE };
		sigaltstack(&ss, NULL);
		munmap(m->altstack, 64 * 1024);
		m->altstack = NULL;
	}
	atomic_fetch_sub(&gs_stats.threads, 1);
	gs_lock(&mslock);
	m->started = 0;
	atomic_store(&m->state, M_FREE);	/* the slot is reusable from here on */
	gs_unlock(&mslock);
	REAL(pthread_exit)(NULL);
}

/* Called by an idle M before it sleeps: P transfers and retirement. Returns
 * true when the M got a P (look for work again). */
static bool idle_p(struct m *m)
{
	bool m0 = m == &gs_allm[0];
	if (likely(atomic_load_explicit(&m->has_p, memory_order_relaxed))) {
		if (m0 || !m_empty(m) || !atomic_load_explicit(&ms_started, memory_order_relaxed))
			return false;
		/* Surplus: give the P to a sleeping M that lacks one, and retire. */
		gs_lock(&mslock);
		struct m *t = find_pless_sleeper();
		if (!t || !m_empty(m)) {
			gs_unlock(&mslock);
			return false;
		}
		atomic_store(&m->has_p, 0);
		atomic_store(&t->has_p, 1);
		gs_unlock(&mslock);
		wake_m(t);
		retire(m);
	}
	gs_lock(&mslock);
	if (atomic_load(&pfree) > 0) {
		atomic_fetch_sub(&pfree, 1);
		atomic_store(&m->has_p, 1);
		gs_unlock(&mslock);
		return true;
	}
	if (!m0 && m_empty(m)) {
		gs_unlock(&mslock);
		retire(m);
	}
	struct m *t = find_surplus(m);
	if (t) {
		atomic_store(&t->has_p, 0);
		atomic_store(&m->has_p, 1);
		gs_unlock(&mslock);
		wake_m(t);	/* it finds itself without a P and retires */
		return true;
	}
	gs_unlock(&mslock);
	return false;
}

/* A free slot for a new M, or NULL at GOSHIM_MAXTHREADS. Under mslock. */
static struct m *alloc_m(void)
{
	int nm = atomic_load(&gs_nm);
	for (int i = 0; i < nm; i++)
		if (atomic_load(&gs_allm[i].state) == M_FREE)
			return &gs_allm[i];
	if (nm >= gs_cfg.maxthreads)
		return NULL;
	struct m *m = &gs_allm[nm];
	m->id = nm;
	gs_mpsc_init(&m->inbox);
	atomic_store_explicit(&gs_nm, nm + 1, memory_order_release);
	return m;
}

bool gs_handoff(struct m *s)
{
	gs_lock(&mslock);
	if (!atomic_load(&s->has_p) || atomic_load(&s->state) != M_LIVE) {
		gs_unlock(&mslock);
		return true;
	}
	struct m *t = find_pless_sleeper();
	if (!t && !(t = alloc_m())) {
		gs_unlock(&mslock);
		return false;
	}
	bool sleeper = atomic_load(&t->state) == M_LIVE;
	atomic_store(&t->has_p, 1);
	if (!sleeper && start_m(t) != 0) {
		gs_unlock(&mslock);	/* s keeps its P; sysmon tries again later */
		return true;
	}
	/* A new M may run for a moment before s gives its P up: s is stuck
	 * in the kernel meanwhile, and both are under mslock's eye. */
	atomic_store(&s->has_p, 0);
	atomic_fetch_add(&gs_stats.handoffs, 1);
	gs_unlock(&mslock);
	if (sleeper)
		wake_m(t);
	return true;
}

void gs_sysmon_netpoll(uint64_t now)
{
	if (gs_np_watching() && !atomic_load(&np_blocker) && now - gs_np_lastpoll() > 10000000)
		gs_np_poll(0);	/* readies the Gs into their Ms' inboxes */
}

bool gs_all_idle(void)
{
	int nm = atomic_load(&gs_nm);
	for (int i = 0; i < nm; i++) {
		struct m *m = &gs_allm[i];
		if (atomic_load(&m->state) == M_LIVE && !atomic_load(&m->sleeping))
			return false;
	}
	return !gs_np_watching() || atomic_load(&np_blocker);
}

/* The g0 loop of an M: find a G, sleeping when there is none, run it. */
static void m_loop(struct m *m)
{
	for (;;) {
		m->in_sched = 1;
		m->curg = NULL;
		struct g *g = m->nextg;	/* move mode: found by a G, still on its last M */
		m->nextg = NULL;
		while (!g && !(g = find_nowait(m, false))) {
			if (idle_p(m))
				continue;
			int zero = 0;
			if (gs_np_watching() && atomic_compare_exchange_strong(&np_blocker, &zero, 1)) {
				atomic_store(&m->sleeping, 2);
				if (!work_visible(m)) {
					uint64_t next = gs_timer_next(&m->timers);
					int ms = -1;
					if (next != UINT64_MAX) {
						uint64_t now = gs_nanotime();
						ms = next <= now ? 0 : next - now > 1000000000000ull ? 1000000 :
						     (int)((next - now + 999999) / 1000000);
					}
					int saved = errno;
					gs_sig_idle_mask(m);	/* may run a handler that readies a G */
					if (atomic_load(&m->sleeping) == 2)
						gs_np_poll(ms);
					errno = saved;
				}
				atomic_store(&m->sleeping, 0);
				atomic_store(&np_blocker, 0);
				gs_sysmon_kick();
				continue;
			}
			atomic_store(&m->sleeping, 1);
			if (work_visible(m)) {
				atomic_store(&m->sleeping, 0);
				continue;
			}
			uint64_t next = gs_timer_next(&m->timers);
			struct timespec ts, *tsp = NULL;
			if (next != UINT64_MAX) {
				uint64_t now = gs_nanotime();
				uint64_t d = next > now ? next - now : 0;
				ts.tv_sec = (time_t)(d / 1000000000u);
				ts.tv_nsec = (long)(d % 1000000000u);
				tsp = &ts;
			}
			int saved = errno;
			gs_sig_idle_mask(m);
			gs_sys_futex(&m->sleeping, FUTEX_WAIT_PRIVATE, 1, tsp);
			errno = saved;
			atomic_store(&m->sleeping, 0);
			gs_sysmon_kick();
		}
		run_g(m, &m->g0, g);
	}
}

static void g0_entry(void *arg)
{
	struct m *m = arg;
	after_switch(m);
	m_loop(m);
}

void gs_park(struct g *g)
{
	int saved = errno;
	struct m *m = g->m;
	atomic_store_explicit(&g->status, G_WAITING, memory_order_relaxed);
	schedule(m, g, false);
	errno = saved;
	if (unlikely(atomic_load_explicit(&g->sigpending, memory_order_relaxed))) {
		/* A handler that runs here came during the wait: it ends an
		 * interruptible one, even if something else readied the G first. */
		if (g->interruptible && g->interruptible != GS_INTR_CANCEL)
			gs_sig_intr_self(g);
		gs_sig_deliver(g);
	}
}

void gs_preempt_yield(struct g *g)
{
	uint64_t seq = gs_park_prepare(g, "preempted", NULL);
	gs_ready(g, seq);
	schedule(g->m, g, true);
}

void gs_yield(void)
{
	struct g *g = gs_self();
	if (!g) {
		sched_yield();
		return;
	}
	struct m *m = g->m;
	uint64_t seq = gs_park_prepare(g, "yield", NULL);
	gs_ready(g, seq);
	int saved = errno;
	schedule(m, g, true);
	errno = saved;
}

int gs_sleep_until(uint64_t deadline)
{
	return gs_sleep_until_intr(deadline, GS_INTR_ALWAYS);
}

/* As gs_sleep_until, for a wait that a handler interrupts as intr says
 * (GS_INTR_NORESTART: g->intr_restart tells whether the call goes on). */
int gs_sleep_until_intr(uint64_t deadline, int intr)
{
	struct g *g = gs_self();
	if (atomic_exchange(&g->interrupted, 0))
		return -EINTR;
	g->interruptible = intr;	/* before the park word: see gs_interrupt */
	uint64_t seq = gs_park_prepare(g, "sleep", NULL);
	if (gs_g_timer_add(g, deadline, seq) != 0) {
		g->interruptible = 0;
		if (!gs_park_cancel(g, seq))
			gs_park(g);
		return -ENOMEM;
	}
	gs_park_check_intr(g, seq);
	gs_park(g);
	g->interruptible = 0;
	gs_g_timer_del(g);
	return gs_park_interrupted(g) ? -EINTR : 0;
}

/* ---- Gs ---- */

static void g_main(void *arg)
{
	struct g *g = arg;
	after_switch(g->m);
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
static gs_lock_t heapg_lock;
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

static struct g *new_g(void)
{
	struct g *g = alloc_heap_g();
	return g ? init_g(g) : NULL;
}

/* A G and its stack: the struct (with its saved TLS) at the top of the stack,
 * in the page every G touches anyway, when it fits well there; the context
 * starts below it (in tp mode below the G's TLS block, which gs_tls_init_g
 * puts just under the struct). One allocation fewer per thread, and 600-odd
 * bytes. */
static struct g *new_g_stack(size_t size, size_t guard, int *err)
{
	struct g s;
	memset(&s, 0, sizeof s);
	if ((*err = gs_stack_alloc(&s, size, guard)))
		return NULL;
	struct g *g;
	if (g_size() <= 1024) {
		g = (struct g *)(s.stack_hi - g_size());
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
	return init_g(g);
}

static void *m_thread(void *arg);

/* Reports, once per run of failures, that the kernel would not give the
 * runtime an OS thread (RLIMIT_NPROC, memory, threads-max): nobody asked for
 * it, so nobody can take an error; the runtime goes on with the Ms it has. */
static _Atomic int start_failing;

static void m_start_failed(struct m *m, int err)
{
	if (!atomic_exchange(&start_failing, 1))
		gs_printf("cannot start an OS thread (%s): going on with %d", strerror(err),
			  atomic_load(&gs_stats.threads));
	(void)m;
}

/* Starts an OS thread for the free slot m (its has_p already set). Returns 0,
 * or an error number with m back to M_FREE (the caller takes its P back).
 * Under mslock. */
static int start_m(struct m *m)
{
	m->runnext = NULL;
	m->curg = m->tls_owner = m->gdead = NULL;
	m->npinned = 0;
	m->sigmask_valid = 0;
	atomic_store(&m->sleeping, 0);
	atomic_store(&m->state, M_LIVE);
	atomic_fetch_add(&gs_stats.threads, 1);
	m->started = 1;
	int r = gs_start_thread(m_thread, m, G0_STACK);
	if (r == 0) {
		atomic_store(&start_failing, 0);
		return 0;
	}
	atomic_fetch_sub(&gs_stats.threads, 1);
	m->started = 0;
	atomic_store(&m->has_p, 0);
	atomic_store(&m->state, M_FREE);
	m_start_failed(m, r);
	return r;
}

static int start_thread(void *(*fn)(void *), void *arg, size_t stack)
{
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, stack);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	int r = REAL(pthread_create)(&t, &a, fn, arg);
	pthread_attr_destroy(&a);
	return r;
}

int gs_start_thread(void *(*fn)(void *), void *arg, size_t stack)
{
	struct gs_realtp rt;
	gs_tls_real_begin(&rt);	/* glibc's new thread is made from a real thread */
	int r = start_thread(fn, arg, stack);
	gs_tls_real_end(&rt);
	return r;
}

/* Starts an M for each free P, and the monitor, once (again after a fork). */
void gs_ensure_ms(void)
{
	if (atomic_load(&ms_started))
		return;
	gs_lock(&start_lock);
	if (!atomic_load(&ms_started)) {
		/* glibc's first pthread_create (sysmon's at the latest) clears
		 * __libc_single_threaded itself, and only then installs its
		 * SIGSETXID handler (setuid from any thread): clearing it here
		 * first left that handler out and setuid killed the process. */
		gs_tls_probe();
		gs_lock(&mslock);
		while (atomic_load(&pfree) > 0) {
			struct m *m = alloc_m();
			if (!m)
				break;
			atomic_fetch_sub(&pfree, 1);
			atomic_store(&m->has_p, 1);
			if (start_m(m) != 0) {
				atomic_fetch_add(&pfree, 1);	/* runs on the Ms there are */
				break;
			}
		}
		gs_unlock(&mslock);
		gs_sysmon_start();
		gs_tls_wrap_setxid();
		__libc_single_threaded = 0;
		atomic_store(&ms_started, 1);
	}
	gs_unlock(&start_lock);
}

int gs_spawn(struct g **out, void *(*fn)(void *), void *arg, size_t stacksize, size_t guard,
	     void *ustack, int detached, const struct gs_sched *sched)
{
	struct g *self = gs_self();
	struct g *g;
	if (ustack) {
		if (!(g = new_g()))
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
	memcpy(g->name, self ? self->name : main_name, sizeof g->name);
	if (self)
		g->sigmask = self->sigmask;
	else
		REAL(pthread_sigmask)(SIG_SETMASK, NULL, &g->sigmask);
	gs_ctx_make(&g->ctx, g->ctx_top ? g->ctx_top : g->in_stack ? (char *)g : g->stack_hi, g_main, g);
	atomic_store(&g->status, G_NEW);
	gs_sig_g_start(g);
	allg_add(g);
	atomic_fetch_add(&nlive, 1);
	*out = g;
	gs_ensure_ms();
	struct m *m = gs_curm;
	if (!self || !atomic_load_explicit(&m->has_p, memory_order_relaxed) ||
	    !gs_runq_put(&m->runq, g))
		globq_put(g);
	wakep(self ? m : NULL);
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
	schedule(m, g, false);
	gs_throw("a dead green thread %d was resumed", g->id);
}

/* ---- Ms ---- */

static void m_init_self(struct m *m)
{
	m->tid = (pid_t)gs_syscall(SYS_gettid);
	m->tp = gs_arch_tp();
	gs_tls_init_m(m);
	m->self_pt = (unsigned long)REAL(pthread_self)();
	gs_curm = m;
}

static void *m_thread(void *arg)
{
	struct m *m = arg;
	m_init_self(m);
	gs_overflow_init_m(m);
	/* Named as the program, as its threads are natively (one started by
	 * sysmon would otherwise inherit the monitor's name). */
	REAL(pthread_setname_np)(REAL(pthread_self)(), main_name);
	m->sigmask_valid = 0;	/* the creator's mask (sysmon's blocks all): set at the first switch */
	gs_sysmon_kick();	/* a new M is an M waking up */
	m_loop(m);
	return NULL;
}

/* ---- stack overflow: a fault in a G's guard page is reported as such ---- */

#define ALTSTACK (64 * 1024)

void gs_overflow_init_m(struct m *m)
{
	stack_t ss = { .ss_size = ALTSTACK };
	ss.ss_sp = mmap(NULL, ALTSTACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ss.ss_sp == MAP_FAILED)
		return;
	m->altstack = ss.ss_sp;
	sigaltstack(&ss, NULL);
}

bool gs_overflow_check(void *addr)
{
	struct m *m = gs_curm;
	struct g *g = m ? m->curg : NULL;
	if (!g || g->stack_kind != STACK_GUARDED)
		return false;
	if ((char *)addr >= g->stack_lo || (char *)addr < (char *)g->map)
		return false;
	gs_printf(OVERFLOW_FMT, g->id, (size_t)(g->stack_hi - g->stack_lo) / 1024);
	return true;
}

/* ---- start-up ---- */

static int parse_env_int(const char *name, long lo, long hi, long *out)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return 0;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi) {
		gs_printf("%s=%s: expected an integer from %ld to %ld", name, s, lo, hi);
		_exit(2);
	}
	*out = v;
	return 1;
}

static void parse_env_size(const char *name, size_t *out)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned long long mul = 1;
	if (*end == 'k' || *end == 'K')
		mul = 1024, end++;
	else if (*end == 'm' || *end == 'M')
		mul = 1024 * 1024, end++;
	if (errno || *end || v == 0 || v > (1ull << 40) / mul || v * mul < 16384) {
		gs_printf("%s=%s: expected a stack size of at least 16K, as bytes or with a K or M suffix",
			  name, s);
		_exit(2);
	}
	*out = (size_t)(v * mul);
}

/* GOSHIM_DEBUG=key=value,...: schedtrace=MS, asyncpreemptoff=0|1,
 * guardmarkers=0|1, pinned=0|1, move=0|1. */
static void parse_debug(void)
{
	const char *s = getenv("GOSHIM_DEBUG");
	if (!s || !*s)
		return;
	char buf[256];
	snprintf(buf, sizeof buf, "%s", s);
	for (char *save, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		char *end = NULL;
		long v = -1;
		if (eq) {
			*eq = 0;
			errno = 0;
			v = strtol(eq + 1, &end, 10);
			if (errno || *end || end == eq + 1)
				v = -1;
		}
		if (!strcmp(kv, "schedtrace") && v >= 0 && v <= 3600000) {
			gs_cfg.schedtrace = (int)v;
		} else if (!strcmp(kv, "asyncpreemptoff") && (v == 0 || v == 1)) {
			gs_cfg.asyncpreemptoff = (int)v;
		} else if (!strcmp(kv, "guardmarkers") && (v == 0 || v == 1)) {
			gs_cfg.noguardmarkers = !v;
		} else if (!strcmp(kv, "pinned") && (v == 0 || v == 1)) {
			gs_cfg.pinned = (int)v;
		} else if (!strcmp(kv, "move") && (v == 0 || v == 1)) {
			gs_cfg.move = (int)v;
		} else {
			gs_printf("GOSHIM_DEBUG=%s: expected schedtrace=MILLISECONDS, asyncpreemptoff=0|1, "
				  "guardmarkers=0|1, pinned=0|1 or move=0|1, separated by commas", s);
			_exit(2);
		}
	}
}

static void read_comm(char *name)
{
	FILE *f = fopen("/proc/self/comm", "re");
	if (f) {
		if (fgets(name, 16, f))
			name[strcspn(name, "\n")] = 0;
		fclose(f);
	}
}

void gs_init(void)
{
	static _Atomic int once;
	if (atomic_exchange(&once, 1))
		return;
	cpu_set_t set;
	long procs = 1;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		procs = CPU_COUNT(&set);
	parse_env_int("GOSHIM_PROCS", 1, 1024, &procs);
	gs_cfg.procs = (int)procs;
	long maxthreads = 10000;
	if (maxthreads < procs)
		maxthreads = procs;
	parse_env_int("GOSHIM_MAXTHREADS", procs, 1000000, &maxthreads);
	gs_cfg.maxthreads = (int)maxthreads;
	parse_env_size("GOSHIM_STACK", &gs_cfg.stack);
	parse_debug();

	gs_stack_init();
	gs_tls_init();
	gs_move = gs_tls_tp && gs_cfg.move;
	gs_dump_init();
	read_comm(main_name);

	/* Slots for every M there may be; untouched ones cost no memory.
	 * Under a tight RLIMIT_AS or strict overcommit, fewer slots rather than
	 * none (the table is about 2.7 KiB a slot). */
	for (;;) {
		gs_allm = mmap(NULL, (size_t)gs_cfg.maxthreads * sizeof *gs_allm, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (gs_allm != MAP_FAILED || gs_cfg.maxthreads <= gs_cfg.procs + 4)
			break;
		gs_cfg.maxthreads = gs_cfg.maxthreads / 2 > gs_cfg.procs + 4 ?
				    gs_cfg.maxthreads / 2 : gs_cfg.procs + 4;
	}
	if (gs_allm == MAP_FAILED) {	/* no memory at all: a small static table */
		static struct m allm_spare[16];
		gs_allm = allm_spare;
		gs_cfg.maxthreads = 16;
		if (gs_cfg.procs > 12)
			gs_cfg.procs = 12;
		gs_printf("out of memory at start-up: at most %d OS threads, GOSHIM_PROCS=%d",
			  gs_cfg.maxthreads, gs_cfg.procs);
	}
	gs_lock(&mslock);
	struct m *m0 = alloc_m();
	gs_unlock(&mslock);
	m_init_self(m0);
	gs_overflow_init_m(m0);
	m0->started = 1;
	m0->npinned = 1;	/* main */
	atomic_store(&m0->has_p, 1);
	atomic_store(&m0->state, M_LIVE);
	atomic_store(&gs_stats.threads, 1);
	atomic_store(&pfree, gs_cfg.procs - 1);
	gs_preempt_init();
	/* Out of memory this early, main's scheduler stack is a static one: the
	 * program would have run natively, so it runs here too. */
	static char g0_spare[G0_STACK] __attribute__((aligned(64)));
	void *g0 = mmap(NULL, G0_STACK, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (g0 == MAP_FAILED)
		g0 = g0_spare;
	gs_ctx_make(&m0->g0, (char *)g0 + G0_STACK, g0_entry, m0);

	/* main() becomes G 1, on the native main stack. */
	struct g *mg = new_g();
	if (!mg)
		gs_throw("out of memory at start-up");
	pthread_attr_t a;
	void *lo = NULL;
	size_t sz = 0;
	if (REAL(pthread_getattr_np)(REAL(pthread_self)(), &a) == 0) {
		pthread_attr_getstack(&a, &lo, &sz);
		pthread_attr_destroy(&a);
	}
	mg->stack_lo = lo;
	mg->stack_hi = (char *)lo + sz;
	mg->stack_kind = STACK_MAIN;
	mg->m = m0;
	mg->tp = gs_tls_tp ? m0->tp : NULL;	/* the main thread's own block */
	mg->dtv = m0->dtv_share ? NULL : m0->own_dtv;	/* main's own either way */
	memcpy(mg->name, main_name, sizeof mg->name);
	REAL(pthread_sigmask)(SIG_SETMASK, NULL, &mg->sigmask);
	gs_sig_apply(m0, &mg->sigmask);
	struct sched_param sp;
	if (REAL(pthread_getschedparam)(REAL(pthread_self)(), &mg->sched.policy, &sp) == 0)
		mg->sched.prio = sp.sched_priority;
	gs_sched_note(mg->sched.policy);
	atomic_store(&mg->status, G_RUNNING);
	atomic_store(&mg->joinstate, J_JOINABLE);
	m0->curg = mg;
	m0->tls_owner = mg;
	gs_maing = mg;
	gs_sig_g_start(mg);
	allg_add(mg);
	atomic_store(&nlive, 1);
	pthread_atfork(NULL, NULL, gs_fork_child);
	atomic_store(&gs_started, 1);
	(void)gs_nanotime();	/* resolves libc's clock_gettime here, not in a handler (timer.c) */
	gs_dumpsock_init();	/* after gs_fork_child's registration: its child handler runs after it */
}

/* In a forked child only the calling OS thread exists, running the G that
 * called fork: it becomes the only G, its M the only running M. */
void gs_fork_child(void)
{
	struct m *self = gs_curm;
	if (!self)
		return;
	struct g *g = self->curg;
	atomic_store(&glock.v, 0);
	atomic_store(&start_lock.v, 0);
	atomic_store(&heapg_lock.v, 0);
	atomic_store(&gs_allg_lock.v, 0);
	gs_allg = g;	/* the others are gone; their memory is not reclaimed */
	if (g)
		g->allnext = g->allprev = NULL;
	gq_head = gq_tail = NULL;
	atomic_store(&gq_len, 0);
	gs_futex_fork_child();
	gs_stack_fork_child();
	gs_np_fork_child();
	gs_sysmon_fork_child();
	gs_offload_fork_child();
	gs_tid_fork_child(g);
	atomic_store(&np_blocker, 0);
	atomic_store(&mslock.v, 0);
	int nm = atomic_load(&gs_nm);
	for (int i = 0; i < nm; i++) {
		struct m *m = &gs_allm[i];
		if (m != self) {
			m->started = 0;
			m->curg = m->tls_owner = m->gdead = NULL;
			atomic_store(&m->state, M_FREE);
			atomic_store(&m->has_p, 0);
		}
		gs_mpsc_init(&m->inbox);
		m->runnext = m->prevg = m->nextg = NULL;
		atomic_store(&m->nwired, g && atomic_load(&g->wired_m) == m ? 1 : 0);
		atomic_store(&m->runq.head, 0);
		atomic_store(&m->runq.tail, 0);
		m->timers.n = 0;
		atomic_store(&m->sleeping, 0);
	}
	self->tid = (pid_t)gs_syscall(SYS_gettid);
	self->cpu_mark_valid = 0;	/* a new OS thread: its CPU clock starts at 0 */
	if (g)
		g->cpu_ns = 0;
	gs_cpuclock_at_switch(self, g);
	self->npinned = g ? 1 : 0;
	atomic_store(&self->has_p, 1);
	atomic_store(&pfree, gs_cfg.procs - 1);
	atomic_store(&gs_stats.threads, 1);
	atomic_store(&ms_started, 0);
	atomic_store(&nlive, g ? 1 : 0);
	/* Ms other than this one start again at the next pthread_create. */
}
