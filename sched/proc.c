/* sched/proc.c: the scheduler: queues, park/ready, the switch to the next G,
 * each M's g0 loop. Ms and Ps live in m.c, Gs' allocation, spawn and exit in
 * g.c, start-up and the fork child in start.c (proc.h holds what they share).
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "gs.h"
#include "real.h"
#include "netpoll.h"
#include "sync.h"
#include "proc.h"

struct gs_config gs_cfg;
GS_TLS struct m *gs_curm;
struct m *gs_allm;
_Atomic int gs_nm;
_Atomic int gs_started;
struct g *gs_maing;
struct gs_stats gs_stats;
int gs_move;
_Atomic int gs_ms_started;

#define gq_len gs_stats.globq
static gs_lock_t glock = GS_LOCK_INIT(GLOBALQ);			/* guards the global queue */
static struct g *gq_head, *gq_tail;	/* glock */

/* ---- queues ---- */

void gs_globq_put(struct g *g)
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

/* ---- priorities ----
 *
 * Once the program has given a thread SCHED_FIFO or SCHED_RR (gs_rt_used),
 * a real-time G made runnable goes to a run queue by priority instead of the
 * ones above: its M's (m->prioq) when it can run only there (main's G, a
 * wired G, a started G unless Gs move), else the global one, which every M
 * with a P looks at; the scheduler looks at both first and takes the higher
 * head (the earlier queued among equals), then the usual queues, where
 * SCHED_OTHER Gs stay first-come. Before any real-time policy the cost is
 * one relaxed load in gs_ready, gs_spawn and each search. A G preempted by
 * sysmon: a SCHED_FIFO one keeps the head of its priority, a SCHED_RR one
 * goes behind its peers; after 950 ms of real-time Gs on end the next search
 * of that M looks at the other queues first once (as the kernel's real-time
 * throttling leaves the others 50 ms a second). A G made runnable that
 * ranks above the running G of its P (or, for the global queue, of the
 * readier's P when no idle P takes it) makes that G yield at its next
 * preemption point (prio_preempt). */
static struct gs_prioq prioq_global = { .lock = GS_LOCK_INIT(PRIOQ) };
static _Atomic uint32_t prioq_seq;

static inline bool rt_used(void)
{
	return unlikely(atomic_load_explicit(&gs_rt_used, memory_order_relaxed));
}

/* The M whose queue a runnable real-time g goes to; NULL: the global one. */
static struct m *prio_home(struct g *g)
{
	struct m *w;
	if (g == gs_maing)
		return g->m;
	if ((w = atomic_load_explicit(&g->wired_m, memory_order_relaxed)))
		return w;
	return gs_move ? NULL : g->m;
}

/* A G of priority prio was queued where cm's G could run it: if that G ranks
 * lower, it yields at its next preemption point (a hook's, or its park), as
 * the kernel preempts a thread for a higher-priority one it wakes. */
static void prio_preempt(struct m *cm, int prio)
{
	struct g *cur = cm->curg;
	if (cur && !cm->in_sched && gs_g_rank(cur) < prio &&
	    !(atomic_load_explicit(&cm->preempt_req, memory_order_relaxed) & GS_PREEMPT_PRIO))
		atomic_fetch_or(&cm->preempt_req, GS_PREEMPT_PRIO);
}

static void prio_ready(struct g *g, bool front)
{
	struct m *t = prio_home(g), *cm = gs_curm;
	uint32_t seq = atomic_fetch_add_explicit(&prioq_seq, 1, memory_order_relaxed);
	int prio = g->sched.prio > 0 ? g->sched.prio : 1;
	if (front)
		seq -= 0x40000000u;	/* before every G queued lately */
	gs_prioq_put(t ? &t->prioq : &prioq_global, g, prio, seq, front);
	if (t && t != cm) {
		gs_wake_m(t);
		return;
	}
	if (cm && !cm->curg && atomic_exchange(&cm->sleeping, 0) == 2)
		gs_np_break();	/* a handler on its idle scheduler: see gs_ready */
	/* Global: an idle M with a P runs it now, else this one soon. */
	if (t ? cm && cm->curg != g : !gs_wakep(cm) && cm && cm->curg != g &&
					 atomic_load_explicit(&cm->has_p, memory_order_relaxed))
		prio_preempt(cm, prio);
}

void gs_prio_yield(struct g *g)
{
	struct m *m = g->m;
	int saved = errno;
	uint64_t seq = gs_park_prepare(g, "preempted", NULL);
	m->rt_preempted = 2;	/* a real-time G keeps the head of its priority */
	gs_ready(g, seq);
	m->rt_preempted = 0;
	gs_schedule(m, g, true);
	errno = saved;
}

void gs_prio_changed(struct g *g)
{
	struct m *m = g->m;
	if (!rt_used() || m->curg != g)
		return;
	int top = atomic_load(&m->prioq.top);
	if (atomic_load(&m->has_p) && atomic_load(&prioq_global.top) > top)
		top = atomic_load(&prioq_global.top);
	if (top)
		prio_preempt(m, top);
}

bool gs_prio_new(struct g *g, struct g *creator)
{
	if (!rt_used() || !gs_g_rt(g))
		return false;
	/* As natively: glibc creates a thread with its creator's policy and
	 * then gives it the attribute's; the kernel puts a queued thread whose
	 * priority was lowered at the head of its new priority's list (raised
	 * or unchanged: the tail). So threads of equal priority made by a
	 * higher-priority creator run last-created first. */
	int cp = creator && gs_g_rt(creator) ? creator->sched.prio : 0;
	prio_ready(g, g->sched.explicit_ && cp > g->sched.prio);
	return true;
}

/* The first G of m's priority queue and (with a P) the global one. */
static struct g *prio_get(struct m *m)
{
	struct gs_prioq *l = &m->prioq, *q = &prioq_global;
	int lt = atomic_load_explicit(&l->top, memory_order_acquire);
	int gt = atomic_load_explicit(&m->has_p, memory_order_relaxed) ?
		 atomic_load_explicit(&q->top, memory_order_acquire) : 0;
	struct g *g;
	if (!lt && !gt)
		return NULL;
	if ((gt > lt || (gt == lt && (int32_t)(atomic_load_explicit(&q->topseq, memory_order_relaxed) -
					       atomic_load_explicit(&l->topseq, memory_order_relaxed)) < 0)) &&
	    (g = gs_prioq_get(q)))
		return g;
	if (lt && (g = gs_prioq_get(l)))
		return g;
	return gt ? gs_prioq_get(q) : NULL;
}

/* The first search's look at the priority queues: skipped once after a
 * real-time G was preempted. */
static struct g *prio_first(struct m *m)
{
	if (atomic_load_explicit(&m->preempt_req, memory_order_relaxed) & GS_PREEMPT_PRIO)
		atomic_fetch_and(&m->preempt_req, ~GS_PREEMPT_PRIO);	/* it is done */
	if (m->rt_skip) {
		m->rt_skip = 0;
		return NULL;
	}
	return prio_get(m);
}

static bool prio_visible(struct m *m)
{
	return atomic_load(&m->prioq.top) || (atomic_load(&m->has_p) && atomic_load(&prioq_global.top));
}

void gs_wake_m(struct m *m)
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
bool gs_wakep(struct m *self)
{
	if (!atomic_load_explicit(&gs_ms_started, memory_order_relaxed))
		return false;
	int nm = atomic_load_explicit(&gs_nm, memory_order_acquire);
	for (int i = 0; i < nm; i++) {
		struct m *m = &gs_allm[i];
		if (m != self && atomic_load(&m->sleeping) && atomic_load(&m->has_p) &&
		    atomic_load(&m->state) == M_LIVE) {
			gs_wake_m(m);
			return true;
		}
	}
	return false;
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
		/* Yield, preemption: behind everything, as in Go. With more
		 * runnable than this M alone runs, an idle M with a P comes to
		 * share (Go keeps one spinning); a lone yielder wakes nobody,
		 * unless its M lost its P to a hand-off while the G ran long
		 * without a preemption point (inside dl_iterate_phdr, say):
		 * then an M with a P must run it, or it waits with every M
		 * asleep (proc_fork_loader stalled 1 run in 25 at PROCS=4). */
		bool more = gs_runq_len(&cm->runq) ||
			    atomic_load_explicit(&gq_len, memory_order_relaxed);
		gs_globq_put(g);
		if (more || !atomic_load(&cm->has_p))
			gs_wakep(cm);
		return;
	}
	if (cm) {
		if (cm->curg && !cm->in_sched) {
			/* A locked exchange: a cmpxchg without the lock prefix
			 * that fails writes the old value back, and so could put
			 * back a G a thief (take_runnext) took meanwhile, which
			 * then ran twice ("a dead green thread was resumed",
			 * tests/scale/barrier_1m, 3 runs in 5). */
			g = __atomic_exchange_n(&cm->runnext, g, __ATOMIC_ACQ_REL);
			if (!g)
				return;
		}
		if (gs_runq_put(&cm->runq, g)) {
			if (!cm->curg && atomic_exchange(&cm->sleeping, 0) == 2)
				gs_np_break();	/* a handler on its idle scheduler: see gs_ready */
			gs_wakep(cm);
			return;
		}
	}
	gs_globq_put(g);
	gs_wakep(NULL);
}

bool gs_ready(struct g *g, uint64_t seq)
{
	uint64_t want = (seq << 1) | PARK_WAITING;
	if (!atomic_compare_exchange_strong(&g->parkword, &want, seq << 1))
		return false;
	atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
	if (rt_used() && gs_g_rt(g)) {
		struct m *cm = gs_curm;
		prio_ready(g, cm && cm->curg == g &&
			      (cm->rt_preempted == 2 ||
			       (cm->rt_preempted == 1 && g->sched.policy == SCHED_FIFO)));
		return true;
	}
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
		__atomic_store_n(&m->runnext, g, __ATOMIC_RELAXED);
		if (!old)
			return true;
		g = old;
	}
	gs_mpsc_push(&m->inbox, &g->node);
	if (m != gs_curm)
		gs_wake_m(m);
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
	int intr = __atomic_load_n(&g->interruptible, __ATOMIC_RELAXED);
	if (!(w & PARK_WAITING) || !intr)
		return;
	/* Only a signal ends such a wait (the sender set sigpending first). */
	if (intr == GS_INTR_SIGNAL && !atomic_load(&g->sigpending))
		return;
	atomic_store(&g->interrupted, 1);
	if (!gs_ready(g, w >> 1))
		atomic_store(&g->interrupted, 0);
}

void gs_cancel_async_wake(struct g *g)
{
	uint64_t w = atomic_load(&g->parkword);
	int intr = __atomic_load_n(&g->interruptible, __ATOMIC_RELAXED);
	if (w & PARK_WAITING) {
		if (intr && intr != GS_INTR_SIGNAL)
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
	if (!gs_timer_count(&m->timers))	/* others may change it (move mode) */
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
	bool rt = rt_used();
	__atomic_store_n(&m->schedtick, m->schedtick + 1, __ATOMIC_RELAXED);	/* sysmon reads it */
	if ((m->schedtick & 7) == 0)
		run_timers(m);
	if (rt && (g = prio_first(m)))
		return g;
	if ((m->schedtick % 61) == 0) {
		if (atomic_load_explicit(&m->has_p, memory_order_relaxed) && (g = globq_get(m)))
			return g;
		if (gs_np_waiting())
			gs_np_poll(0);	/* a busy M still lets I/O in */
	}
	if (!prefer_new && m->runnext && (m->schedtick & 15) != 0) {
		g = m->runnext;	/* not every time: the others in the inbox must run too */
		__atomic_store_n(&m->runnext, NULL, __ATOMIC_RELAXED);
		return g;
	}
	if (!prefer_new && (n = gs_mpsc_pop(&m->inbox)))
		return from_node(n);
	if (atomic_load_explicit(&m->has_p, memory_order_relaxed)) {
		if ((g = gs_runq_get(&m->runq)) || (g = globq_get(m)) || (g = steal(m)))
			return g;
	}
	run_timers(m);
	if (rt && (g = prio_get(m)))
		return g;
	if ((n = gs_mpsc_pop(&m->inbox)))
		return from_node(n);
	if ((g = m->runnext)) {
		__atomic_store_n(&m->runnext, NULL, __ATOMIC_RELAXED);
		return g;
	}
	if (gs_np_waiting() && !atomic_load_explicit(&np_blocker, memory_order_relaxed) &&
	    gs_np_poll(0) > 0 && (n = gs_mpsc_pop(&m->inbox)))
		return from_node(n);
	if (rt && (g = prio_get(m)))
		return g;
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
		gs_wake_m(w);
	}
}

static struct g *find_move1(struct m *m, bool prefer_new)
{
	struct g *g;
	struct gs_node *n;
	bool has_p = atomic_load_explicit(&m->has_p, memory_order_relaxed);
	bool m0 = true;	/* the inbox: main's G on M0, wired Gs on any */
	bool rt = rt_used();
	__atomic_store_n(&m->schedtick, m->schedtick + 1, __ATOMIC_RELAXED);	/* sysmon reads it */
	if ((m->schedtick & 7) == 0)
		run_timers(m);
	if (rt && (g = prio_first(m)))
		return g;
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
			if (gs_timer_count(&v->timers))
				adopt_timers(m, v);
			if ((g = take_runnext(v)))
				return g;
		}
	}
	run_timers(m);
	if (rt && (g = prio_get(m)))
		return g;
	if (m0 && (n = gs_mpsc_pop(&m->inbox)))
		return from_node(n);
	if ((g = take_runnext(m)) || (g = gs_runq_get(&m->runq)))
		return g;
	if (gs_np_waiting() && !atomic_load_explicit(&np_blocker, memory_order_relaxed) &&
	    gs_np_poll(0) > 0 && ((g = gs_runq_get(&m->runq)) || (g = globq_get(m))))
		return g;
	if (rt && (g = prio_get(m)))
		return g;
	return NULL;
}

static bool work_visible(struct m *m)
{
	if (rt_used() && prio_visible(m))
		return true;
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
		if (gs_move && v != m && pless(v) && __atomic_load_n(&v->runnext, __ATOMIC_RELAXED))
			return true;
	}
	return false;
}

bool gs_m_has_work(struct g *g)
{
	struct m *m = g->m;
	return m->runnext || gs_runq_len(&m->runq) || !gs_mpsc_empty(&m->inbox) ||
	       (rt_used() && prio_visible(m)) || gs_timer_next(&m->timers) <= gs_nanotime();
}

static void release_dead(struct m *m, struct g *d)
{
	if (!gs_move)
		__atomic_store_n(&m->npinned, m->npinned - 1, __ATOMIC_RELAXED);
	else if (atomic_load(&d->wired_m))
		atomic_fetch_sub(&atomic_load(&d->wired_m)->nwired, 1);
	gs_allg_del(d);
	gs_tls_release(m, d);
	if (!d->in_stack)
		gs_stack_free(d);	/* else it goes with d (gs_free_g) */
	gs_exited(d);
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
		 * waits: gs_schedule() sends a G found so to g0). */
		while (atomic_load_explicit(&g->on_cpu, memory_order_acquire))
			gs_arch_relax();
		atomic_store_explicit(&g->on_cpu, 1, memory_order_relaxed);
		if (g->m != m && g->m)
			__atomic_store_n(&m->nmoves, m->nmoves + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&g->m, m, __ATOMIC_RELAXED);	/* dump, sysmon read it */
		if (unlikely(!g->tid))
			g->tid = g == gs_maing ? m->tid : gs_tid_of(g);
	} else if (unlikely(!g->m)) {
		__atomic_store_n(&g->m, m, __ATOMIC_RELAXED);	/* first run: pinned from now on */
		__atomic_store_n(&m->npinned, m->npinned + 1, __ATOMIC_RELAXED);
	}
	if (gs_tls_tp)
		gs_tls_enter(m, g->tp, gs_move ? g->tid : m->tid);
	else
		gs_tls_switch(m, g);
	apply_sigmask(m, g);
	gs_cpuclock_at_switch(m, g);
	__atomic_store_n(&m->curg, g, __ATOMIC_RELAXED);
	__atomic_store_n(&m->nruns, m->nruns + 1, __ATOMIC_RELAXED);
	atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
	m->in_sched = 0;
	gs_ctx_switch(from, &g->ctx);
	after_switch(gs_move ? gs_curm : m);	/* the M it resumed on */
}


static void check_stack(struct g *g)
{
	if (likely(g->stack_kind == STACK_MAIN))
		return;
	if (unlikely(gs_arch_sp() < (uintptr_t)g->stack_lo))
		gs_throw(OVERFLOW_FMT, g->id, (size_t)(g->stack_hi - g->stack_lo) / 1024);
}

struct find_args {
	struct m *m;
	bool prefer_new;
};

static void *find_nowait_on(void *arg)
{
	struct find_args *a = arg;
	return find_nowait(a->m, a->prefer_new);
}

/* Gives m to another G; returns when cur runs again. Runs on cur's stack;
 * the search for the next G (timers, the network poll, stealing: a few KiB
 * deep) on m's g0 stack, idle while a G runs, below its saved frame: a
 * parked G's stack holds only the frames down to the switch, so an idle G
 * costs the pages of its own frames (sched/tls.c, README). */
void gs_schedule(struct m *m, struct g *cur, bool prefer_new)
{
	check_stack(cur);
	m->in_sched = 1;
	struct find_args fa = { m, prefer_new };
	char *g0sp = gs_ctx_sp(&m->g0);
	struct g *next = likely(g0sp) ? gs_ctx_call_on(g0sp - 256, find_nowait_on, &fa) :
					find_nowait(m, prefer_new);
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
	__atomic_store_n(&m->curg, NULL, __ATOMIC_RELAXED);
	if (gs_tls_tp)
		gs_tls_enter(m, m->tp, m->tid);
	gs_ctx_switch(&cur->ctx, &m->g0);
	after_switch(gs_move ? gs_curm : m);
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
void gs_m_loop(struct m *m)
{
	for (;;) {
		m->in_sched = 1;
		__atomic_store_n(&m->curg, NULL, __ATOMIC_RELAXED);
		struct g *g = m->nextg;	/* move mode: found by a G, still on its last M */
		m->nextg = NULL;
		while (!g && !(g = find_nowait(m, false))) {
			if (gs_idle_p(m))
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

void gs_g0_entry(void *arg)
{
	struct m *m = arg;
	after_switch(m);
	gs_m_loop(m);
}

void gs_park(struct g *g)
{
	int saved = errno;
	struct m *m = g->m;
	atomic_store_explicit(&g->status, G_WAITING, memory_order_relaxed);
	gs_schedule(m, g, false);
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
	struct m *m = g->m;
	uint64_t seq = gs_park_prepare(g, "preempted", NULL);
	bool rt = rt_used() && gs_g_rt(g);
	if (rt)
		m->rt_preempted = 1;	/* SCHED_FIFO: back at the head (prio_ready) */
	gs_ready(g, seq);
	if (rt) {
		/* The kernel's real-time throttling: after 950 ms of real-time
		 * threads on end (sysmon preempting every 10 ms), one slice
		 * for the others of this P. */
		uint64_t now = gs_nanotime();
		m->rt_preempted = 0;
		if (!m->rt_hog_since || now - m->rt_hog_last > 100000000ull)
			m->rt_hog_since = now;
		m->rt_hog_last = now;
		if (now - m->rt_hog_since >= 950000000ull) {
			m->rt_skip = 1;
			m->rt_hog_since = now;
		}
	}
	gs_schedule(m, g, true);
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
	gs_schedule(m, g, true);
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
	__atomic_store_n(&g->interruptible, intr, __ATOMIC_RELAXED);	/* before the park word: see gs_interrupt */
	uint64_t seq = gs_park_prepare(g, "sleep", NULL);
	if (gs_g_timer_add(g, deadline, seq) != 0) {
		__atomic_store_n(&g->interruptible, 0, __ATOMIC_RELAXED);
		if (!gs_park_cancel(g, seq))
			gs_park(g);
		return -ENOMEM;
	}
	gs_park_check_intr(g, seq);
	gs_park(g);
	__atomic_store_n(&g->interruptible, 0, __ATOMIC_RELAXED);
	gs_g_timer_del(g);
	return gs_park_interrupted(g) ? -EINTR : 0;
}

void gs_sched_after_switch(struct m *m)
{
	after_switch(m);
}

/* In a forked child: the queues are empty, no M is in the netpoller. */
void gs_proc_fork_child(void)
{
	gs_lock_reset(&glock);
	gq_head = gq_tail = NULL;
	gs_lock_reset(&prioq_global.lock);
	prioq_global.head = NULL;
	atomic_store(&prioq_global.top, 0);
	atomic_store(&gq_len, 0);
	atomic_store(&np_blocker, 0);
}
