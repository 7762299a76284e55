/* sched/sync.c: the synchronisation objects of sync.h on the green futex.
 * Return values are pthread-style positive error numbers (0 on success), since
 * every caller is a pthread_* or sem_* hook. A wait parks the G, never the M. */
#include <errno.h>
#include <limits.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "sync.h"

static GS_TLS int outside_tid;	/* per OS thread: for callers that are not Gs */

int gs_self_id(void)
{
	struct g *g = gs_self();
	if (g)
		return g->id;
	if (!outside_tid)
		outside_tid = (int)syscall(SYS_gettid);
	return -outside_tid;
}

int gs_when_deadline(struct gs_when w, uint64_t *deadline)
{
	*deadline = 0;
	if (!w.abs)
		return 0;
	if (w.abs->tv_nsec < 0 || w.abs->tv_nsec >= 1000000000L)
		return EINVAL;
	if (w.abs->tv_sec < 0)
		return ETIMEDOUT;
	*deadline = gs_deadline(w.clock, w.abs);
	return 0;
}

/* ---- the lock word (0 free, 1 held, 2 held with waiters) ---- */

static int word_lock(_Atomic uint32_t *l, struct gs_when w, bool try, const char *why)
{
	uint32_t c = 0;
	if (likely(atomic_compare_exchange_strong(l, &c, 1)))
		return 0;
	if (try)
		return EBUSY;
	uint64_t deadline = 0;
	int r = gs_when_deadline(w, &deadline);
	if (r)
		return r;
	if (gs_cfg.procs > 1) {		/* a holder on another M is likely brief */
		for (int i = 0; i < 64; i++) {
			gs_arch_relax();
			c = 0;
			if (atomic_load_explicit(l, memory_order_relaxed) == 0 &&
			    atomic_compare_exchange_weak(l, &c, 1))
				return 0;
		}
	}
	while (atomic_exchange(l, 2) != 0) {
		if (gs_futex_wait(l, 2, deadline, 0, why) == -ETIMEDOUT)
			return ETIMEDOUT;
	}
	return 0;
}

static void word_unlock(_Atomic uint32_t *l)
{
	if (atomic_exchange(l, 0) == 2)
		gs_futex_wake(l, 1);
}

/* ---- mutex ---- */

int gs_mutex_lock(struct gs_mutex *m, struct gs_when w, bool try)
{
	int type = m->kind & 3;
	if (type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK) {
		int self = gs_self_id();
		if (m->owner == self) {
			if (type == PTHREAD_MUTEX_ERRORCHECK)	/* glibc: EBUSY, EDEADLK with PI */
				return try && !(m->kind & GS_MUTEX_PI) ? EBUSY : EDEADLK;
			if (m->count == UINT_MAX)
				return EAGAIN;
			m->count++;
			return 0;
		}
		int r = word_lock(&m->lock, w, try, "mutex");
		if (r)
			return r;
		m->owner = self;
		m->count = 1;
		return 0;
	}
	int r = word_lock(&m->lock, w, try, "mutex");
	if (!r)
		m->owner = gs_self_id();
	return r;
}

int gs_mutex_unlock(struct gs_mutex *m)
{
	int type = m->kind & 3;
	if (type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK || (m->kind & GS_MUTEX_PI)) {
		if (m->owner != gs_self_id() || atomic_load(&m->lock) == 0)
			return EPERM;
		if (type == PTHREAD_MUTEX_RECURSIVE && --m->count)
			return 0;
	}
	m->owner = 0;
	word_unlock(&m->lock);
	return 0;
}

/* ---- condition variable ---- */

int gs_cond_wait(struct gs_cond *c, pthread_mutex_t *mx, gs_mutex_fn unlock, gs_mutex_fn lock,
		 struct gs_when w)
{
	uint64_t deadline = 0;
	int r = gs_when_deadline(w, &deadline);
	if (r == EINVAL)
		return r;
	atomic_fetch_add(&c->waiters, 1);
	uint32_t seq = atomic_load(&c->seq);
	r = unlock(mx);
	if (r) {
		atomic_fetch_sub(&c->waiters, 1);
		return r;
	}
	if (w.abs && !deadline) {	/* already past: time out at once */
		r = ETIMEDOUT;
	} else {
		r = gs_futex_wait(&c->seq, seq, deadline, GS_INTR_CANCEL, "cond");
		r = r == -ETIMEDOUT ? ETIMEDOUT : 0;
	}
	atomic_fetch_sub(&c->waiters, 1);
	int lr = lock(mx);
	return lr ? lr : r;
}

int gs_cond_wake(struct gs_cond *c, bool all)
{
	if (atomic_load(&c->waiters) == 0)
		return 0;
	atomic_fetch_add(&c->seq, 1);
	gs_futex_wake(&c->seq, all ? INT_MAX : 1);
	return 0;
}

/* ---- rwlock ---- */

static bool prefer_writer(struct gs_rwlock *l)
{
	return l->flags != PTHREAD_RWLOCK_PREFER_READER_NP;
}

static int rw_wait(struct gs_rwlock *l, _Atomic uint32_t *seqw, uint64_t deadline)
{
	uint32_t s = atomic_load(seqw);
	word_unlock(&l->lk);
	int r = gs_futex_wait(seqw, s, deadline, 0, "rwlock");
	word_lock(&l->lk, GS_FOREVER, false, "rwlock");
	return r == -ETIMEDOUT ? ETIMEDOUT : 0;
}

int gs_rwlock_rdlock(struct gs_rwlock *l, struct gs_when w, bool try)
{
	int self = gs_self_id(), r = 0;
	uint64_t deadline = 0;
	bool have_deadline = false;
	word_lock(&l->lk, GS_FOREVER, false, "rwlock");
	if (l->writer == self) {
		r = EDEADLK;
		goto out;
	}
	while (l->writer || (prefer_writer(l) && l->wwait)) {
		if (try) {
			r = EBUSY;
			goto out;
		}
		if (!have_deadline) {
			if ((r = gs_when_deadline(w, &deadline)))
				goto out;
			have_deadline = true;
		}
		l->rwait++;
		r = rw_wait(l, &l->rseq, deadline);
		l->rwait--;
		if (r)
			goto out;
	}
	l->readers++;
out:
	word_unlock(&l->lk);
	return r;
}

int gs_rwlock_wrlock(struct gs_rwlock *l, struct gs_when w, bool try)
{
	int self = gs_self_id(), r = 0;
	uint64_t deadline = 0;
	bool have_deadline = false;
	word_lock(&l->lk, GS_FOREVER, false, "rwlock");
	if (l->writer == self) {
		r = EDEADLK;
		goto out;
	}
	while (l->writer || l->readers) {
		if (try) {
			r = EBUSY;
			goto out;
		}
		if (!have_deadline) {
			if ((r = gs_when_deadline(w, &deadline)))
				goto out;
			have_deadline = true;
		}
		l->wwait++;
		r = rw_wait(l, &l->wseq, deadline);
		l->wwait--;
		if (r) {
			if (!l->writer && l->rwait) {	/* readers held back for us */
				atomic_fetch_add(&l->rseq, 1);
				gs_futex_wake(&l->rseq, INT_MAX);
			}
			goto out;
		}
	}
	l->writer = self;
out:
	word_unlock(&l->lk);
	return r;
}

int gs_rwlock_unlock(struct gs_rwlock *l)
{
	int self = gs_self_id(), r = 0;
	word_lock(&l->lk, GS_FOREVER, false, "rwlock");
	if (l->writer == self)
		l->writer = 0;
	else if (l->readers)
		l->readers--;
	else
		r = EPERM;
	if (!r && !l->writer && !l->readers) {
		if (l->wwait) {
			atomic_fetch_add(&l->wseq, 1);
			gs_futex_wake(&l->wseq, 1);
		}
		if (l->rwait && !(prefer_writer(l) && l->wwait)) {
			atomic_fetch_add(&l->rseq, 1);
			gs_futex_wake(&l->rseq, INT_MAX);
		}
	}
	word_unlock(&l->lk);
	return r;
}

/* ---- barrier ---- */

int gs_barrier_wait(struct gs_barrier *b)
{
	uint32_t seq = atomic_load(&b->seq);
	uint32_t n = atomic_fetch_add(&b->arrived, 1) + 1;
	if (n == b->count) {
		/* Reset before releasing: a released thread may arrive again at once. */
		atomic_store(&b->arrived, 0);
		atomic_fetch_add(&b->seq, 1);
		gs_futex_wake(&b->seq, INT_MAX);
		return PTHREAD_BARRIER_SERIAL_THREAD;
	}
	while (atomic_load(&b->seq) == seq)
		gs_futex_wait(&b->seq, seq, 0, 0, "barrier");
	return 0;
}

/* ---- semaphore (glibc's encoding: value low, waiters high) ---- */

#define SEM_VALUE(d) ((uint32_t)(d))
#define SEM_WAITER (1ull << 32)

int gs_sem_wait(struct gs_sem *s, struct gs_when w, bool try)
{
	uint64_t d = atomic_load(&s->data);
	uint64_t deadline = 0;
	bool have_deadline = false;
	for (;;) {
		while (SEM_VALUE(d) > 0) {
			if (atomic_compare_exchange_weak(&s->data, &d, d - 1))
				return 0;
		}
		if (try)
			return EAGAIN;
		if (!have_deadline) {
			int r = gs_when_deadline(w, &deadline);
			if (r)
				return r;
			have_deadline = true;
		}
		atomic_fetch_add(&s->data, SEM_WAITER);
		int r = gs_futex_wait((_Atomic uint32_t *)&s->data, 0, deadline, GS_INTR_NORESTART, "semaphore");
		d = atomic_fetch_sub(&s->data, SEM_WAITER) - SEM_WAITER;
		if (r == -ETIMEDOUT || r == -EINTR) {
			/* A post may have come with the timeout: take it if so. */
			while (SEM_VALUE(d) > 0)
				if (atomic_compare_exchange_weak(&s->data, &d, d - 1))
					return 0;
			return -r;
		}
	}
}

int gs_sem_post(struct gs_sem *s)
{
	uint64_t d = atomic_load(&s->data);
	do {
		if (SEM_VALUE(d) == SEM_VALUE_MAX)
			return EOVERFLOW;
	} while (!atomic_compare_exchange_weak(&s->data, &d, d + 1));
	if (d >> 32)
		gs_futex_wake((_Atomic uint32_t *)&s->data, 1);
	return 0;
}

/* ---- once: 0 not run, 1 running, 2 done, 3 running with waiters ---- */

int gs_once(_Atomic int *once, void (*fn)(void))
{
	int v = atomic_load(once);
	if (likely(v == 2))
		return 0;
	for (;;) {
		v = 0;
		if (atomic_compare_exchange_strong(once, &v, 1)) {
			fn();
			if (atomic_exchange(once, 2) == 3)
				gs_futex_wake((_Atomic uint32_t *)once, INT_MAX);
			return 0;
		}
		if (v == 2)
			return 0;
		if (v == 1 && !atomic_compare_exchange_strong(once, &v, 3) && v != 3)
			continue;
		gs_futex_wait((_Atomic uint32_t *)once, 3, 0, 0, "once");
	}
}
