/* shim/sync.c: the synchronisation hooks (DESIGN.md §2.2). Process-private
 * objects are run by sched/sync.c on the green futex, whoever calls.
 * Process-shared ones stay glibc's, since another process, preloaded or not,
 * uses the same words: a caller that is not a G calls glibc, and a G waits on
 * them live (the try-variant, gs_nap() between attempts), so that it never
 * blocks its M, and with it the other Gs pinned there, for long. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <linux/futex.h>
#include "shim.h"
#include "sync.h"


static void testcancel(void)
{
	struct g *g = gs_self();
	if (g)
		gs_testcancel(g);
}

static bool clock_ok(clockid_t clock)
{
	return clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC;
}

/* ---- process-shared mutexes (glibc's) ----
 *
 * glibc records the holder of a mutex as the OS thread's tid, which all Gs of
 * an M share. For the kinds whose owner glibc checks (recursive, errorcheck,
 * robust, PI) the G that holds one is recorded beside it, in __spins and
 * __elision, which glibc uses only for adaptive and elided (normal) mutexes;
 * the tag is read only when glibc's holder is this M, so only by Gs of this
 * M, which do not run at the same time. */

enum { HELD_ELSEWHERE, HELD_BY_ME, HELD_BY_SIBLING };	/* pm_held() */

static bool pm_owner_checked(pthread_mutex_t *m)
{
	int k = m->__data.__kind, type = k & 3;
	return type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK ||
	       (k & (GS_MUTEX_ROBUST | GS_MUTEX_PI));
}

static int *pm_tag(pthread_mutex_t *m)
{
	return (int *)&m->__data.__spins;
}

static int pm_held(pthread_mutex_t *m, struct g *g)
{
	if (!pm_owner_checked(m))
		return HELD_ELSEWHERE;
	/* Robust and PI mutexes keep the tid in the lock word (__owner may say
	 * "inconsistent"); the others in __owner. */
	int tid = (m->__data.__kind & (GS_MUTEX_ROBUST | GS_MUTEX_PI)) ?
		  (int)(atomic_load((_Atomic unsigned *)&m->__data.__lock) & FUTEX_TID_MASK) :
		  m->__data.__owner;
	if (tid != gs_g_tid(g))
		return HELD_ELSEWHERE;
	return *pm_tag(m) == g->id ? HELD_BY_ME : HELD_BY_SIBLING;
}

static void pm_took(pthread_mutex_t *m, struct g *g, int r)
{
	if ((r == 0 || r == EOWNERDEAD) && pm_owner_checked(m))
		*pm_tag(m) = g->id;
}

/* Lock from a G: a live wait on glibc's mutex. */
static int pm_lock(pthread_mutex_t *m, struct g *g, struct gs_when w, bool try)
{
	struct gs_backoff bo = { 0 };
	uint64_t deadline = 0;
	bool have_deadline = false;
	for (;;) {
		int held = pm_held(m, g), type = m->__data.__kind & 3, r;
		if (held == HELD_BY_ME && (try || type == PTHREAD_MUTEX_RECURSIVE))
			return REAL(pthread_mutex_trylock)(m);	/* glibc's answer: count, EBUSY, EDEADLK */
		if (held == HELD_BY_ME && type == PTHREAD_MUTEX_ERRORCHECK)
			return EDEADLK;
		/* Held by me and normal: natively a deadlock (or a timeout); so here. */
		if (held == HELD_ELSEWHERE) {
			r = REAL(pthread_mutex_trylock)(m);
			if (r != EBUSY) {
				pm_took(m, g, r);
				return r;
			}
		}
		if (try)
			return EBUSY;
		if (!have_deadline) {
			if ((r = gs_when_deadline(w, &deadline)))
				return r;
			have_deadline = true;
		}
		if (gs_nap(&bo, deadline, 0) == ETIMEDOUT)
			return ETIMEDOUT;
	}
}

static int pm_unlock(pthread_mutex_t *m)
{
	struct g *g = gs_self();
	if (g && pm_owner_checked(m)) {
		int held = pm_held(m, g);
		if (held == HELD_BY_SIBLING)
			return EPERM;	/* natively another thread's */
		if (held == HELD_BY_ME && ((m->__data.__kind & 3) != PTHREAD_MUTEX_RECURSIVE ||
					   m->__data.__count <= 1))
			*pm_tag(m) = 0;
	}
	return REAL(pthread_mutex_unlock)(m);
}

/* ---- mutex ---- */

static bool mutex_special(pthread_mutex_t *m)
{
	return ((struct gs_mutex *)m)->kind & GS_MUTEX_KIND_SPECIAL;
}

GS_EXPORT int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
	int type = PTHREAD_MUTEX_DEFAULT, pshared = 0, robust = 0, proto = 0;
	if (a) {
		pthread_mutexattr_gettype(a, &type);
		pthread_mutexattr_getpshared(a, &pshared);
		pthread_mutexattr_getrobust(a, &robust);
		pthread_mutexattr_getprotocol(a, &proto);
	}
	if (pshared)
		return REAL(pthread_mutex_init)(m, a);
	memset(m, 0, sizeof *m);
	((struct gs_mutex *)m)->kind = type | (robust ? GS_MUTEX_ROBUST : 0) |
		(proto == PTHREAD_PRIO_INHERIT ? GS_MUTEX_PI : proto == PTHREAD_PRIO_PROTECT ? GS_MUTEX_PP : 0);
	return 0;
}

GS_EXPORT int pthread_mutex_destroy(pthread_mutex_t *m)
{
	if (mutex_special(m))
		return REAL(pthread_mutex_destroy)(m);
	return gs_mutex_destroy((struct gs_mutex *)m);
}

GS_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
	if (mutex_special(m)) {
		struct g *g = gs_self();
		return g ? pm_lock(m, g, GS_FOREVER, false) : REAL(pthread_mutex_lock)(m);
	}
	return gs_mutex_lock((struct gs_mutex *)m, GS_FOREVER, false);
}

GS_EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
	if (mutex_special(m)) {
		struct g *g = gs_self();
		return g ? pm_lock(m, g, GS_FOREVER, true) : REAL(pthread_mutex_trylock)(m);
	}
	int r = gs_mutex_lock((struct gs_mutex *)m, GS_FOREVER, true);
	gs_preempt_point();
	return r;
}

GS_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abs)
{
	if (mutex_special(m)) {
		struct g *g = gs_self();
		return g ? pm_lock(m, g, (struct gs_when){ abs, CLOCK_REALTIME }, false) :
			   REAL(pthread_mutex_timedlock)(m, abs);
	}
	return gs_mutex_lock((struct gs_mutex *)m, (struct gs_when){ abs, CLOCK_REALTIME }, false);
}

GS_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clock, const struct timespec *abs)
{
	if (mutex_special(m)) {
		struct g *g = gs_self();
		if (!g)
			return REAL(pthread_mutex_clocklock)(m, clock, abs);
		if (!clock_ok(clock))
			return EINVAL;
		return pm_lock(m, g, (struct gs_when){ abs, clock }, false);
	}
	if (!clock_ok(clock))
		return EINVAL;
	return gs_mutex_lock((struct gs_mutex *)m, (struct gs_when){ abs, clock }, false);
}

GS_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
	int r = mutex_special(m) ? pm_unlock(m) : gs_mutex_unlock((struct gs_mutex *)m);
	gs_preempt_point();
	return r;
}

GS_EXPORT int pthread_mutex_consistent(pthread_mutex_t *m)
{
	if (mutex_special(m))
		return REAL(pthread_mutex_consistent)(m);
	return gs_mutex_consistent((struct gs_mutex *)m);
}

/* The pre-2.12 name, still exported by glibc for old binaries. */
GS_EXPORT int gs_mutex_consistent_np(pthread_mutex_t *m) __asm__("pthread_mutex_consistent_np");
int gs_mutex_consistent_np(pthread_mutex_t *m)
{
	return pthread_mutex_consistent(m);
}

/* ---- condition variable ---- */

#define COND_PSHARED 1
#define COND_MONOTONIC 2

static bool cond_special(pthread_cond_t *c)
{
	return ((struct gs_cond *)c)->wrefs & COND_PSHARED;
}

GS_EXPORT int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
	int pshared = 0;
	clockid_t clock = CLOCK_REALTIME;
	if (a) {
		pthread_condattr_getpshared(a, &pshared);
		pthread_condattr_getclock(a, &clock);
	}
	if (pshared)
		return REAL(pthread_cond_init)(c, a);
	memset(c, 0, sizeof *c);
	if (clock == CLOCK_MONOTONIC)
		((struct gs_cond *)c)->wrefs = COND_MONOTONIC;
	return 0;
}

GS_EXPORT int pthread_cond_destroy(pthread_cond_t *c)
{
	if (cond_special(c))
		return REAL(pthread_cond_destroy)(c);
	return 0;
}

static int mx_lock(pthread_mutex_t *m)
{
	return pthread_mutex_lock(m);
}

static int mx_unlock(pthread_mutex_t *m)
{
	return pthread_mutex_unlock(m);
}

static int cond_wait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abs, clockid_t clock)
{
	testcancel();
	int r = gs_cond_wait((struct gs_cond *)c, m, mx_unlock, mx_lock, (struct gs_when){ abs, clock });
	testcancel();	/* natively cancellation in a wait returns with the mutex held */
	return r;
}

/* A wait of a G on a process-shared (glibc's) condition variable. Only glibc
 * can enqueue a waiter where a signal from another process finds it, so the
 * G waits in glibc, but a slice of at most COND_SLICE at a time, since its M
 * runs nothing else meanwhile. When a slice ends before the caller's deadline
 * and another G could run on this M (or this one is being cancelled), the G
 * lets the mutex go, yields, takes the mutex back and reports a spurious
 * wakeup, which POSIX allows and callers loop on; when no other G could run,
 * it waits another slice without letting the mutex out of glibc's hands, up
 * to COND_SLICES_MAX slices, and then reports a spurious wakeup too, so that
 * the caller's own loop looks at its condition again: a forked child missed a
 * broadcast in 3 of 480 loaded runs of tests/compat/pshared_mutex_fork and
 * waited in slices for ever (glibc's condition variable is known to lose
 * a wake-up to a waiter whose timed wait ends just then, its bug 25847, which
 * waiting in slices makes likely). The M is
 * blocked for at most a slice, plus glibc's relock of the mutex at its end,
 * which only another M or process can hold then (every G of this M is held
 * up). A mutex of ours cannot be handed to glibc: the G then waits with a
 * glibc mutex of its own, and a signal sent between our unlock and glibc's
 * enqueue is seen at the end of the slice. abs NULL: no deadline; clockwait:
 * the call named the clock. */
#define COND_SLICE 2000000ull	/* 2 ms */
#define COND_SLICES_MAX 25	/* then a spurious wakeup: 50 ms */

static int pcond_wait(pthread_cond_t *c, pthread_mutex_t *m, struct g *g, const struct timespec *abs,
		      clockid_t clock, bool clockwait)
{
	uint64_t deadline = 0;
	int r = gs_when_deadline((struct gs_when){ abs, clock }, &deadline);
	if (r == EINVAL)
		return r;
	bool expired = r == ETIMEDOUT;
	testcancel();
	bool theirs = mutex_special(m);
	pthread_mutex_t stand_in, *wm = m;
	if (!theirs) {
		REAL(pthread_mutex_init)(&stand_in, NULL);
		REAL(pthread_mutex_lock)(&stand_in);
		if ((r = pthread_mutex_unlock(m))) {
			REAL(pthread_mutex_unlock)(&stand_in);
			return r;
		}
		wm = &stand_in;
	}
	bool spurious = false;
	for (int slices = 1;; slices++) {
		uint64_t until = gs_nanotime() + COND_SLICE;
		if (abs && (expired || deadline <= until)) {
			/* The last slice: glibc's own call, for glibc's own errors. */
			r = clockwait ? REAL(pthread_cond_clockwait)(c, wm, clock, abs) :
					REAL(pthread_cond_timedwait)(c, wm, abs);
			break;
		}
		struct timespec ts = { (time_t)(until / 1000000000u), (long)(until % 1000000000u) };
		r = REAL(pthread_cond_clockwait)(c, wm, CLOCK_MONOTONIC, &ts);
		if (r != ETIMEDOUT)
			break;
		if (gs_m_has_work(g) || atomic_load(&g->cancel_pending) || slices >= COND_SLICES_MAX) {
			spurious = true;
			r = 0;
			break;
		}
	}
	if (theirs) {
		pm_took(m, g, r);	/* glibc took it back for this M */
		if (spurious && (r = pm_unlock(m)) == 0) {
			gs_yield();
			r = pm_lock(m, g, GS_FOREVER, false);
		}
	} else {
		REAL(pthread_mutex_unlock)(&stand_in);
		if (spurious)
			gs_yield();
		int lr = pthread_mutex_lock(m);
		if (lr)
			r = lr;
	}
	testcancel();
	return r;
}

GS_EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	if (cond_special(c)) {
		struct g *g = gs_self();
		return g ? pcond_wait(c, m, g, NULL, CLOCK_REALTIME, false) : REAL(pthread_cond_wait)(c, m);
	}
	return cond_wait(c, m, NULL, CLOCK_REALTIME);
}

GS_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abs)
{
	clockid_t clock = (((struct gs_cond *)c)->wrefs & COND_MONOTONIC) ? CLOCK_MONOTONIC : CLOCK_REALTIME;
	if (cond_special(c)) {
		struct g *g = gs_self();
		return g ? pcond_wait(c, m, g, abs, clock, false) : REAL(pthread_cond_timedwait)(c, m, abs);
	}
	return cond_wait(c, m, abs, clock);
}

GS_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clock,
				     const struct timespec *abs)
{
	if (cond_special(c)) {
		struct g *g = gs_self();
		if (!g)
			return REAL(pthread_cond_clockwait)(c, m, clock, abs);
		if (!clock_ok(clock))
			return EINVAL;
		return pcond_wait(c, m, g, abs, clock, true);
	}
	if (!clock_ok(clock))
		return EINVAL;
	return cond_wait(c, m, abs, clock);
}

GS_EXPORT int pthread_cond_signal(pthread_cond_t *c)
{
	if (cond_special(c))
		return REAL(pthread_cond_signal)(c);
	int r = gs_cond_wake((struct gs_cond *)c, false);
	gs_preempt_point();
	return r;
}

GS_EXPORT int pthread_cond_broadcast(pthread_cond_t *c)
{
	if (cond_special(c))
		return REAL(pthread_cond_broadcast)(c);
	int r = gs_cond_wake((struct gs_cond *)c, true);
	gs_preempt_point();
	return r;
}

/* ---- rwlock ---- */

static bool rw_special(pthread_rwlock_t *l)
{
	return ((struct gs_rwlock *)l)->shared != 0;
}

GS_EXPORT int pthread_rwlock_init(pthread_rwlock_t *l, const pthread_rwlockattr_t *a)
{
	int pshared = 0, kind = PTHREAD_RWLOCK_PREFER_READER_NP;
	if (a) {
		pthread_rwlockattr_getpshared(a, &pshared);
		pthread_rwlockattr_getkind_np(a, &kind);
	}
	if (pshared)
		return REAL(pthread_rwlock_init)(l, a);
	memset(l, 0, sizeof *l);
	((struct gs_rwlock *)l)->flags = (uint32_t)kind;
	return 0;
}

GS_EXPORT int pthread_rwlock_destroy(pthread_rwlock_t *l)
{
	return rw_special(l) ? REAL(pthread_rwlock_destroy)(l) : 0;
}

/* Process-shared rwlocks (glibc's). glibc's writer is a tid (__cur_writer),
 * shared by the Gs of an M; the G that holds the write lock is recorded in
 * __pad3, which glibc never uses, to tell a G's own relock (EDEADLK) from a
 * sibling's lock (a wait). */
static int *prw_tag(pthread_rwlock_t *l)
{
	return (int *)&l->__data.__pad3;
}

static bool prw_mine(pthread_rwlock_t *l, struct g *g)
{
	return l->__data.__cur_writer == gs_g_tid(g) && *prw_tag(l) == g->id;
}

static int prw_lock(pthread_rwlock_t *l, struct g *g, bool write, struct gs_when w, bool try)
{
	struct gs_backoff bo = { 0 };
	uint64_t deadline = 0;
	bool have_deadline = false;
	if (!try && prw_mine(l, g))
		return EDEADLK;
	for (;;) {
		int r = write ? REAL(pthread_rwlock_trywrlock)(l) : REAL(pthread_rwlock_tryrdlock)(l);
		if (r != EBUSY) {
			if (!r && write)
				*prw_tag(l) = g->id;
			return r;
		}
		if (try)
			return EBUSY;
		if (!have_deadline) {
			if ((r = gs_when_deadline(w, &deadline)))
				return r;
			have_deadline = true;
		}
		if (gs_nap(&bo, deadline, 0) == ETIMEDOUT)
			return ETIMEDOUT;
	}
}

#define RW_HOOK(name, write, try)						\
	GS_EXPORT int name(pthread_rwlock_t *l)					\
	{									\
		if (rw_special(l)) {						\
			struct g *g = gs_self();				\
			return g ? prw_lock(l, g, write, GS_FOREVER, try) : REAL(name)(l); \
		}								\
		return (write ? gs_rwlock_wrlock : gs_rwlock_rdlock)((struct gs_rwlock *)l, \
								     GS_FOREVER, try); \
	}
RW_HOOK(pthread_rwlock_rdlock, false, false)
RW_HOOK(pthread_rwlock_tryrdlock, false, true)
RW_HOOK(pthread_rwlock_wrlock, true, false)
RW_HOOK(pthread_rwlock_trywrlock, true, true)

GS_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *abs)
{
	struct gs_when w = { abs, CLOCK_REALTIME };
	if (rw_special(l)) {
		struct g *g = gs_self();
		return g ? prw_lock(l, g, false, w, false) : REAL(pthread_rwlock_timedrdlock)(l, abs);
	}
	return gs_rwlock_rdlock((struct gs_rwlock *)l, w, false);
}

GS_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *abs)
{
	struct gs_when w = { abs, CLOCK_REALTIME };
	if (rw_special(l)) {
		struct g *g = gs_self();
		return g ? prw_lock(l, g, true, w, false) : REAL(pthread_rwlock_timedwrlock)(l, abs);
	}
	return gs_rwlock_wrlock((struct gs_rwlock *)l, w, false);
}

GS_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t clock, const struct timespec *abs)
{
	struct gs_when w = { abs, clock };
	struct g *g = gs_self();
	if (rw_special(l) && !g)
		return REAL(pthread_rwlock_clockrdlock)(l, clock, abs);
	if (!clock_ok(clock))
		return EINVAL;
	if (rw_special(l))
		return prw_lock(l, g, false, w, false);
	return gs_rwlock_rdlock((struct gs_rwlock *)l, w, false);
}

GS_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t clock, const struct timespec *abs)
{
	struct gs_when w = { abs, clock };
	struct g *g = gs_self();
	if (rw_special(l) && !g)
		return REAL(pthread_rwlock_clockwrlock)(l, clock, abs);
	if (!clock_ok(clock))
		return EINVAL;
	if (rw_special(l))
		return prw_lock(l, g, true, w, false);
	return gs_rwlock_wrlock((struct gs_rwlock *)l, w, false);
}

GS_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
	if (rw_special(l)) {
		struct g *g = gs_self();
		if (g && prw_mine(l, g))
			*prw_tag(l) = 0;
		return REAL(pthread_rwlock_unlock)(l);
	}
	int r = gs_rwlock_unlock((struct gs_rwlock *)l);
	gs_preempt_point();
	return r;
}

/* ---- barrier ---- */

static bool barrier_ours(pthread_barrier_t *b)
{
	return ((struct gs_barrier *)b)->shared == GS_BARRIER_OURS;
}

GS_EXPORT int pthread_barrier_init(pthread_barrier_t *b, const pthread_barrierattr_t *a, unsigned count)
{
	int pshared = 0;
	if (a)
		pthread_barrierattr_getpshared(a, &pshared);
	if (pshared)
		return REAL(pthread_barrier_init)(b, a, count);
	if (count == 0)
		return EINVAL;
	memset(b, 0, sizeof *b);
	struct gs_barrier *gb = (struct gs_barrier *)b;
	gb->count = count;
	gb->shared = GS_BARRIER_OURS;
	return 0;
}

GS_EXPORT int pthread_barrier_destroy(pthread_barrier_t *b)
{
	if (barrier_ours(b))
		return 0;
	if (gs_self())
		return gs_pbarrier_destroy((struct gs_pbarrier *)b);
	return REAL(pthread_barrier_destroy)(b);
}

GS_EXPORT int pthread_barrier_wait(pthread_barrier_t *b)
{
	if (barrier_ours(b))
		return gs_barrier_wait((struct gs_barrier *)b);
	if (gs_self())
		return gs_pbarrier_wait((struct gs_pbarrier *)b);
	return REAL(pthread_barrier_wait)(b);
}

/* ---- spinlock: a G that spins on a lock held by a parked G of its own M
 * would spin forever, so contenders yield between attempts ---- */

GS_EXPORT int pthread_spin_init(pthread_spinlock_t *l, int pshared)
{
	*l = 0;
	return 0;
}

GS_EXPORT int pthread_spin_destroy(pthread_spinlock_t *l)
{
	return 0;
}

GS_EXPORT int pthread_spin_trylock(pthread_spinlock_t *l)
{
	int z = 0;
	int r = atomic_compare_exchange_strong((_Atomic int *)l, &z, 1) ? 0 : EBUSY;
	gs_preempt_point();
	return r;
}

GS_EXPORT int pthread_spin_lock(pthread_spinlock_t *l)
{
	for (int i = 0;; i++) {
		int z = 0;
		if (atomic_load_explicit((_Atomic int *)l, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak((_Atomic int *)l, &z, 1))
			return 0;
		if (i < 100 && gs_cfg.procs > 1)
			gs_arch_relax();
		else
			gs_yield();
	}
}

GS_EXPORT int pthread_spin_unlock(pthread_spinlock_t *l)
{
	atomic_store((_Atomic int *)l, 0);
	gs_preempt_point();
	return 0;
}

/* ---- semaphores ----
 * Unnamed process-private ones are ours. Process-shared ones (sem_init with
 * pshared, and every named one from sem_open) are glibc's; a G waits on them
 * live with sem_trywait, and a signal handler without SA_RESTART ends the
 * wait with EINTR, as natively. */

static bool sem_ours(sem_t *s)
{
	return ((struct gs_sem *)s)->private == GS_SEM_OURS;
}

static int sem_result(int r)
{
	if (!r)
		return 0;
	errno = r;
	return -1;
}

/* A G's wait on glibc's semaphore; an error number, or 0. The caller has
 * checked abs->tv_nsec, as glibc does before anything else. */
static int psem_wait(sem_t *s, struct gs_when w)
{
	struct gs_backoff bo = { 0 };
	uint64_t deadline = 0;
	bool have_deadline = false;
	int saved = errno, r;
	testcancel();
	for (;;) {
		if (REAL(sem_trywait)(s) == 0) {
			r = 0;
			break;
		}
		if (errno != EAGAIN) {
			r = errno;
			break;
		}
		if (!have_deadline) {
			if ((r = gs_when_deadline(w, &deadline)))
				break;
			have_deadline = true;
		}
		if ((r = gs_nap(&bo, deadline, GS_INTR_NORESTART))) {
			if (r == EINTR)
				testcancel();
			break;
		}
	}
	errno = saved;
	return r;
}

GS_EXPORT int sem_init(sem_t *s, int pshared, unsigned value)
{
	if (pshared)
		return REAL(sem_init)(s, pshared, value);
	if (value > SEM_VALUE_MAX)
		return sem_result(EINVAL);
	memset(s, 0, sizeof *s);
	struct gs_sem *gs = (struct gs_sem *)s;
	atomic_store(&gs->data, value);
	gs->private = GS_SEM_OURS;
	return 0;
}

GS_EXPORT int sem_destroy(sem_t *s)
{
	return sem_ours(s) ? 0 : REAL(sem_destroy)(s);
}

GS_EXPORT int sem_wait(sem_t *s)
{
	if (!sem_ours(s)) {
		if (!gs_self())
			return REAL(sem_wait)(s);
		return sem_result(psem_wait(s, GS_FOREVER));
	}
	testcancel();
	int r = gs_sem_wait((struct gs_sem *)s, GS_FOREVER, false);
	if (r == EINTR)
		testcancel();
	return sem_result(r);
}

GS_EXPORT int sem_trywait(sem_t *s)
{
	if (!sem_ours(s))
		return REAL(sem_trywait)(s);
	int r = gs_sem_wait((struct gs_sem *)s, GS_FOREVER, true);
	gs_preempt_point();
	return sem_result(r);
}

static int sem_timed(sem_t *s, clockid_t clock, const struct timespec *abs)
{
	if (abs->tv_nsec < 0 || abs->tv_nsec >= 1000000000L)
		return sem_result(EINVAL);
	struct gs_when w = { abs, clock };
	if (!sem_ours(s))
		return sem_result(psem_wait(s, w));
	testcancel();
	int r = gs_sem_wait((struct gs_sem *)s, w, false);
	if (r == EINTR)
		testcancel();
	return sem_result(r);
}

GS_EXPORT int sem_timedwait(sem_t *s, const struct timespec *abs)
{
	if (!sem_ours(s) && !gs_self())
		return REAL(sem_timedwait)(s, abs);
	return sem_timed(s, CLOCK_REALTIME, abs);
}

GS_EXPORT int sem_clockwait(sem_t *s, clockid_t clock, const struct timespec *abs)
{
	if (!sem_ours(s) && !gs_self())
		return REAL(sem_clockwait)(s, clock, abs);
	if (!clock_ok(clock))
		return sem_result(EINVAL);
	return sem_timed(s, clock, abs);
}

GS_EXPORT int sem_post(sem_t *s)
{
	if (!sem_ours(s))
		return REAL(sem_post)(s);
	int r = gs_sem_post((struct gs_sem *)s);
	gs_preempt_point();
	return sem_result(r);
}

GS_EXPORT int sem_getvalue(sem_t *s, int *v)
{
	if (!sem_ours(s))
		return REAL(sem_getvalue)(s, v);
	*v = (int)(uint32_t)atomic_load(&((struct gs_sem *)s)->data);
	return 0;
}
