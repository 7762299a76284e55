/* sched/pshared.c: a G's waits on process-shared objects. These stay glibc's
 * (mutexes, condition variables, rwlocks, semaphores; barriers on glibc's
 * layout with glibc's algorithm), since another process, preloaded or not,
 * uses the same words. A caller that is not a G calls glibc (the shim does
 * that); a G waits on them live: the try-variant, and gs_nap() between
 * attempts, so that it never blocks its M, and with it the other Gs pinned
 * there, for long. Return values are pthread-style error numbers. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include "real.h"
#include "sync.h"

/* ---- naps ---- */

/* 50 us is about what a wake-up through the scheduler costs anyway; 2 ms
 * bounds the delay a waiter adds after the object becomes free. */
#define NAP_MIN 50000ull
#define NAP_MAX 2000000ull

int gs_nap(struct gs_backoff *b, uint64_t deadline, int intr)
{
	uint64_t now = gs_nanotime();
	if (deadline && now >= deadline)
		return ETIMEDOUT;
	b->ns = b->ns ? (b->ns * 2 < NAP_MAX ? b->ns * 2 : NAP_MAX) : NAP_MIN;
	uint64_t until = now + b->ns;
	if (deadline && deadline < until)
		until = deadline;
	if (!intr) {
		gs_sleep_until(until);	/* a signal ends it early: just try again */
		return 0;
	}
	/* A futex word nobody wakes: a nap with the interruptibility asked for. */
	_Atomic uint32_t never = 0;
	if (gs_futex_wait(&never, 0, until, intr, "nap") != -EINTR)
		return 0;
	struct g *g = gs_self();
	if (g && g->intr_restart) {	/* a SA_RESTART handler ran: go on */
		g->intr_restart = 0;
		return 0;
	}
	return EINTR;
}

/* ---- barriers ----
 *
 * glibc's process-shared barrier (nptl/pthread_barrier_wait.c, 2.34+), the
 * same algorithm on the same words, so that glibc's waiters in another
 * process and ours meet in the same rounds; only the futex waits become naps.
 * Wakes go to the kernel futex for glibc's waiters. */
#define BARRIER_IN_THRESHOLD (UINT_MAX / 2)

static void pbarrier_wake(struct gs_pbarrier *b, _Atomic uint32_t *word)
{
	int op = FUTEX_WAKE | (b->shared ^ FUTEX_PRIVATE_FLAG);
	int saved = errno;
	gs_sys_futex(word, op, INT_MAX, NULL);
	errno = saved;
}

int gs_pbarrier_wait(struct gs_pbarrier *b)
{
	struct gs_backoff bo = { 0 };
	uint32_t i, count, max_in;
reset_restart:
	i = atomic_fetch_add(&b->in, 1) + 1;
	count = b->count;
	max_in = BARRIER_IN_THRESHOLD - BARRIER_IN_THRESHOLD % count;
	if (i > max_in) {
		/* A reset round: wait for the reset, then enter again. */
		while (i > max_in) {
			gs_nap(&bo, 0, 0);
			i = atomic_load_explicit(&b->in, memory_order_relaxed);
		}
		goto reset_restart;
	}
	uint32_t cr = atomic_load_explicit(&b->round, memory_order_relaxed);
	while (cr + count <= i) {
		uint32_t newcr = i - i % count;
		if (atomic_compare_exchange_weak_explicit(&b->round, &cr, newcr,
							  memory_order_release, memory_order_relaxed)) {
			cr = newcr;
			pbarrier_wake(b, &b->round);
			if (i <= cr)
				goto ready_to_leave;
			break;
		}
	}
	bo.ns = 0;
	while (i > cr) {
		gs_nap(&bo, 0, 0);
		cr = atomic_load_explicit(&b->round, memory_order_relaxed);
	}
	atomic_thread_fence(memory_order_acquire);
ready_to_leave:;
	uint32_t o = atomic_fetch_add_explicit(&b->out, 1, memory_order_release) + 1;
	if (o == max_in) {
		/* The last to leave before the reset threshold resets. */
		atomic_store_explicit(&b->round, 0, memory_order_relaxed);
		atomic_store_explicit(&b->out, 0, memory_order_relaxed);
		atomic_store_explicit(&b->in, 0, memory_order_release);
		pbarrier_wake(b, &b->in);
	}
	return i % count == 0 ? PTHREAD_BARRIER_SERIAL_THREAD : 0;
}

/* glibc's destroy waits for the threads still leaving, which may be Gs of
 * this M: so it naps too. */
int gs_pbarrier_destroy(struct gs_pbarrier *b)
{
	struct gs_backoff bo = { 0 };
	uint32_t count = b->count;
	uint32_t max_in = BARRIER_IN_THRESHOLD - BARRIER_IN_THRESHOLD % count;
	uint32_t in = atomic_load_explicit(&b->in, memory_order_relaxed);
	if (atomic_fetch_add_explicit(&b->out, max_in - in, memory_order_relaxed) < in) {
		while (in != 0) {
			gs_nap(&bo, 0, 0);
			in = atomic_load_explicit(&b->in, memory_order_relaxed);
		}
	}
	atomic_thread_fence(memory_order_acquire);
	return 0;
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

/* One nap of a timed wait; the deadline is worked out at the first (a bad
 * time is then the call's error). 0, ETIMEDOUT or that error. */
static int timed_nap(struct gs_backoff *bo, struct gs_when w, uint64_t *deadline, bool *have)
{
	if (!*have) {
		int r = gs_when_deadline(w, deadline);
		if (r)
			return r;
		*have = true;
	}
	return gs_nap(bo, *deadline, 0) == ETIMEDOUT ? ETIMEDOUT : 0;
}

static void pm_took(pthread_mutex_t *m, struct g *g, int r)
{
	if ((r == 0 || r == EOWNERDEAD) && pm_owner_checked(m))
		*pm_tag(m) = g->id;
}

int gs_pmutex_lock(pthread_mutex_t *m, struct g *g, struct gs_when w, bool try)
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
		if ((r = timed_nap(&bo, w, &deadline, &have_deadline)))
			return r;
	}
}

int gs_pmutex_unlock(pthread_mutex_t *m)
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

/* ---- condition variables ---- */

/* The unlock of a process-private mutex of ours, as its hook makes it. */
static int own_unlock(pthread_mutex_t *m)
{
	int r = gs_mutex_unlock((struct gs_mutex *)m);
	gs_preempt_point();
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

int gs_pcond_wait(pthread_cond_t *c, pthread_mutex_t *m, struct g *g, const struct timespec *abs,
		  clockid_t clock, bool clockwait)
{
	uint64_t deadline = 0;
	int r = gs_when_deadline((struct gs_when){ abs, clock }, &deadline);
	if (r == EINVAL)
		return r;
	bool expired = r == ETIMEDOUT;
	gs_testcancel(g);
	bool theirs = ((struct gs_mutex *)m)->kind & GS_MUTEX_KIND_SPECIAL;
	pthread_mutex_t stand_in, *wm = m;
	if (!theirs) {
		REAL(pthread_mutex_init)(&stand_in, NULL);
		REAL(pthread_mutex_lock)(&stand_in);
		if ((r = own_unlock(m))) {
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
		if (spurious && (r = gs_pmutex_unlock(m)) == 0) {
			gs_yield();
			r = gs_pmutex_lock(m, g, GS_FOREVER, false);
		}
	} else {
		REAL(pthread_mutex_unlock)(&stand_in);
		if (spurious)
			gs_yield();
		int lr = gs_mutex_lock((struct gs_mutex *)m, GS_FOREVER, false);
		if (lr)
			r = lr;
	}
	gs_testcancel(g);
	return r;
}

/* ---- rwlocks ---- */

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

int gs_prwlock_lock(pthread_rwlock_t *l, struct g *g, bool write, struct gs_when w, bool try)
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
		if ((r = timed_nap(&bo, w, &deadline, &have_deadline)))
			return r;
	}
}

int gs_prwlock_unlock(pthread_rwlock_t *l)
{
	struct g *g = gs_self();
	if (g && prw_mine(l, g))
		*prw_tag(l) = 0;
	return REAL(pthread_rwlock_unlock)(l);
}

/* ---- semaphores ---- */

/* A G's wait on glibc's semaphore; an error number, or 0. The caller has
 * checked abs->tv_nsec, as glibc does before anything else. */
int gs_psem_wait(sem_t *s, struct gs_when w)
{
	struct g *g = gs_self();
	struct gs_backoff bo = { 0 };
	uint64_t deadline = 0;
	bool have_deadline = false;
	int saved = errno, r;
	gs_testcancel(g);
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
				gs_testcancel(g);
			break;
		}
	}
	errno = saved;
	return r;
}
