/* shim/sync.c: the synchronisation hooks (DESIGN.md §2.2). Process-private
 * objects are run by sched/sync.c on the green futex, whoever calls.
 * Process-shared ones stay glibc's, since another process, preloaded or not,
 * uses the same words: a caller that is not a G calls glibc, and a G waits on
 * them live through sched/pshared.c. */
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
		return g ? gs_pmutex_lock(m, g, GS_FOREVER, false) : REAL(pthread_mutex_lock)(m);
	}
	return gs_mutex_lock((struct gs_mutex *)m, GS_FOREVER, false);
}

GS_EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
	if (mutex_special(m)) {
		struct g *g = gs_self();
		return g ? gs_pmutex_lock(m, g, GS_FOREVER, true) : REAL(pthread_mutex_trylock)(m);
	}
	int r = gs_mutex_lock((struct gs_mutex *)m, GS_FOREVER, true);
	gs_preempt_point();
	return r;
}

GS_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abs)
{
	if (mutex_special(m)) {
		struct g *g = gs_self();
		return g ? gs_pmutex_lock(m, g, (struct gs_when){ abs, CLOCK_REALTIME }, false) :
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
		return gs_pmutex_lock(m, g, (struct gs_when){ abs, clock }, false);
	}
	if (!clock_ok(clock))
		return EINVAL;
	return gs_mutex_lock((struct gs_mutex *)m, (struct gs_when){ abs, clock }, false);
}

GS_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
	int r = mutex_special(m) ? gs_pmutex_unlock(m) : gs_mutex_unlock((struct gs_mutex *)m);
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

GS_EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	if (cond_special(c)) {
		struct g *g = gs_self();
		return g ? gs_pcond_wait(c, m, g, NULL, CLOCK_REALTIME, false) : REAL(pthread_cond_wait)(c, m);
	}
	return cond_wait(c, m, NULL, CLOCK_REALTIME);
}

GS_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abs)
{
	clockid_t clock = (((struct gs_cond *)c)->wrefs & COND_MONOTONIC) ? CLOCK_MONOTONIC : CLOCK_REALTIME;
	if (cond_special(c)) {
		struct g *g = gs_self();
		return g ? gs_pcond_wait(c, m, g, abs, clock, false) : REAL(pthread_cond_timedwait)(c, m, abs);
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
		return gs_pcond_wait(c, m, g, abs, clock, true);
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

#define RW_HOOK(name, write, try)						\
	GS_EXPORT int name(pthread_rwlock_t *l)					\
	{									\
		if (rw_special(l)) {						\
			struct g *g = gs_self();				\
			return g ? gs_prwlock_lock(l, g, write, GS_FOREVER, try) : REAL(name)(l); \
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
		return g ? gs_prwlock_lock(l, g, false, w, false) : REAL(pthread_rwlock_timedrdlock)(l, abs);
	}
	return gs_rwlock_rdlock((struct gs_rwlock *)l, w, false);
}

GS_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *abs)
{
	struct gs_when w = { abs, CLOCK_REALTIME };
	if (rw_special(l)) {
		struct g *g = gs_self();
		return g ? gs_prwlock_lock(l, g, true, w, false) : REAL(pthread_rwlock_timedwrlock)(l, abs);
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
		return gs_prwlock_lock(l, g, false, w, false);
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
		return gs_prwlock_lock(l, g, true, w, false);
	return gs_rwlock_wrlock((struct gs_rwlock *)l, w, false);
}

GS_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
	if (rw_special(l))
		return gs_prwlock_unlock(l);
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
	if (barrier_ours(b)) {
		int r = gs_barrier_wait((struct gs_barrier *)b);
		gs_preempt_point();	/* the last to arrive: a released thread of higher priority runs first */
		return r;
	}
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
		return sem_result(gs_psem_wait(s, GS_FOREVER));
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
		return sem_result(gs_psem_wait(s, w));
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
