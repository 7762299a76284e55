/* sched/m.c: OS threads (Ms) and Ps: starting an M for a P, the P hand-off
 * from a stuck M (sysmon), idle Ms trading Ps and retiring, the monitor's and
 * Ms' own start. */
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
#include "proc.h"

static gs_lock_t start_lock = GS_LOCK_INIT(START);
static gs_lock_t mslock = GS_LOCK_INIT(MS);		/* M life cycle: start, retire, P transfer */

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
	return !__atomic_load_n(&m->npinned, __ATOMIC_RELAXED) && !__atomic_load_n(&m->runnext, __ATOMIC_RELAXED) &&
	       gs_mpsc_empty(&m->inbox) && !gs_runq_len(&m->runq) && !atomic_load(&m->prioq.top) &&
	       (!gs_move || (!gs_timer_count(&m->timers) && !__atomic_load_n(&m->curg, __ATOMIC_RELAXED) &&
			     !atomic_load(&m->nwired)));
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
		GS_ARCH_TCB_DTV(m->tp) = m->own_dtv;
	}
	free(m->timers.v);
	m->timers.v = NULL;
	__atomic_store_n(&m->timers.n, 0, __ATOMIC_RELAXED);
	m->timers.cap = 0;
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

bool gs_wire_to(pid_t tid)
{
	struct g *g = gs_self();
	struct m *cur = g->m, *to = NULL, *was = atomic_load(&g->wired_m);
	if (!tid || tid == cur->tid)
		to = cur;
	if (!gs_move || g == gs_maing)
		return to == cur;
	if (was)
		return was == to || (!to && was->tid == tid);
	gs_lock(&mslock);	/* a live M that has not decided to retire keeps it */
	int nm = atomic_load(&gs_nm);
	for (int i = 0; !to && i < nm; i++) {
		struct m *x = &gs_allm[i];
		if (atomic_load(&x->state) == M_LIVE && !atomic_load(&x->retiring) && x->tid == tid)
			to = x;
	}
	if (to) {
		atomic_fetch_add(&to->nwired, 1);
		atomic_store(&g->wired_m, to);
	}
	gs_unlock(&mslock);
	if (!to)
		return false;
	while (g->m != to)
		gs_yield();	/* gs_ready puts a wired G in its M's inbox */
	return true;
}

/* Called by an idle M before it sleeps: P transfers and retirement. Returns
 * true when the M got a P (look for work again). */
bool gs_idle_p(struct m *m)
{
	bool m0 = m == &gs_allm[0];
	if (likely(atomic_load_explicit(&m->has_p, memory_order_relaxed))) {
		if (m0 || !m_empty(m) || !atomic_load_explicit(&gs_ms_started, memory_order_relaxed))
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
		atomic_store(&m->retiring, 1);
		gs_unlock(&mslock);
		gs_wake_m(t);
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
		atomic_store(&m->retiring, 1);
		gs_unlock(&mslock);
		retire(m);
	}
	struct m *t = find_surplus(m);
	if (t) {
		atomic_store(&t->has_p, 0);
		atomic_store(&m->has_p, 1);
		gs_unlock(&mslock);
		gs_wake_m(t);	/* it finds itself without a P and retires */
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
	gs_lock_init(&m->tlock, MTIMERS);
	gs_lock_init(&m->prioq.lock, PRIOQ);
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
		gs_wake_m(t);
	return true;
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
	atomic_store(&m->retiring, 0);
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
	if (atomic_load(&gs_ms_started))
		return;
	gs_lock(&start_lock);
	if (!atomic_load(&gs_ms_started)) {
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
		atomic_store(&gs_ms_started, 1);
	}
	gs_unlock(&start_lock);
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
	REAL(pthread_setname_np)(REAL(pthread_self)(), gs_main_name);
	m->sigmask_valid = 0;	/* the creator's mask (sysmon's blocks all): set at the first switch */
	gs_sysmon_kick();	/* a new M is an M waking up */
	gs_m_loop(m);
	return NULL;
}

/* Main's M, the first slot, at start-up; the other Ps are free. */
struct m *gs_m0_init(void)
{
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
	return m0;
}

/* In a forked child only self exists, running g (or none): it holds the one
 * busy P; the others start again at the next pthread_create. */
void gs_m_fork_child(struct m *self, struct g *g)
{
	gs_lock_reset(&start_lock);
	gs_lock_reset(&mslock);
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
		gs_lock_reset(&m->tlock);	/* another M (gone here) may have held it */
		gs_lock_reset(&m->prioq.lock);
		m->prioq.head = NULL;
		atomic_store(&m->prioq.top, 0);
		m->rt_skip = m->rt_preempted = 0;
		m->rt_hog_since = m->rt_hog_last = 0;
		m->runnext = m->prevg = m->nextg = NULL;
		atomic_store(&m->nwired, g && atomic_load(&g->wired_m) == m ? 1 : 0);
		atomic_store(&m->runq.head, 0);
		atomic_store(&m->runq.tail, 0);
		__atomic_store_n(&m->timers.n, 0, __ATOMIC_RELAXED);
		atomic_store(&m->sleeping, 0);
	}
	self->tid = (pid_t)gs_syscall(SYS_gettid);
	__atomic_store_n(&self->cpu_mark_valid, 0, __ATOMIC_RELAXED);	/* a new OS thread: its CPU clock starts at 0 */
	if (g)
		g->cpu_ns = 0;
	gs_cpuclock_at_switch(self, g);
	self->npinned = g ? 1 : 0;
	atomic_store(&self->has_p, 1);
	atomic_store(&pfree, gs_cfg.procs - 1);
	atomic_store(&gs_stats.threads, 1);
	atomic_store(&gs_ms_started, 0);
}
