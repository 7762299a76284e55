/* sched/sync.c: the synchronisation objects of sync.h on the green futex.
 * Return values are pthread-style positive error numbers (0 on success), since
 * every caller is a pthread_* or sem_* hook. A wait parks the G, never the M. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
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
		outside_tid = (int)gs_syscall(SYS_gettid);
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
		if (gs_futex_wait(l, 2, deadline, GS_INTR_SIGNAL, why) == -ETIMEDOUT)
			return ETIMEDOUT;
	}
	return 0;
}

static void word_unlock(_Atomic uint32_t *l)
{
	if (atomic_exchange(l, 0) == 2)
		gs_futex_wake(l, 1);
}

/* ---- robust mutexes ----
 *
 * glibc keeps a list of the robust mutexes each OS thread holds, and the
 * kernel marks them FUTEX_OWNER_DIED when the thread ends; an M never ends
 * when one of its Gs does. So a robust mutex held by a G is linked (through
 * the mutex's own __list bytes) into a list of the bucket of its owner's id,
 * and gs_robust_exit() releases those of the exiting G. A bucket's list is
 * touched by the Gs whose ids fall in it, each for its own mutexes, under the
 * bucket's lock (a leaf lock: nothing else is taken while it is held).
 * A holder that is not a G (a thread the shim did not create) is not linked:
 * its end is not seen, and its robust mutexes stay locked.
 *
 * m->rstate, written under the mutex's lock word (or by the dying owner
 * before it releases the word), says what the next locker finds: */
enum {
	ROBUST_OK,		/* consistent */
	ROBUST_DEAD,		/* the owner died: the next locker gets EOWNERDEAD */
	ROBUST_INCONSISTENT,	/* held after EOWNERDEAD, not yet made consistent */
	ROBUST_NOTRECOVERABLE,	/* unlocked while inconsistent: unusable for good */
};

#define NRBUCKET 64
static struct rbucket {
	gs_lock_t lock;
	struct gs_mutex *head;	/* lock */
} __attribute__((aligned(64))) rbuckets[NRBUCKET] = { [0 ... NRBUCKET - 1] = { .lock = GS_LOCK_INIT(RBUCKET) } };

static struct rbucket *rbucket_of(int id)
{
	return &rbuckets[(unsigned)id % NRBUCKET];
}

static void robust_link(struct gs_mutex *m, int owner)
{
	if (owner <= 0)
		return;		/* not a G */
	struct rbucket *b = rbucket_of(owner);
	gs_lock(&b->lock);
	m->rprev = NULL;
	m->rnext = b->head;
	if (b->head)
		b->head->rprev = m;
	b->head = m;
	gs_unlock(&b->lock);
}

static void unlink_r(struct rbucket *b, struct gs_mutex *m)	/* b->lock held */
{
	if (m->rprev)
		m->rprev->rnext = m->rnext;
	else if (b->head == m)
		b->head = m->rnext;
	else
		return;		/* not linked (destroyed while held, then unlocked) */
	if (m->rnext)
		m->rnext->rprev = m->rprev;
	m->rprev = m->rnext = NULL;
}

static void robust_unlink(struct gs_mutex *m, int owner)
{
	if (owner <= 0)
		return;
	struct rbucket *b = rbucket_of(owner);
	gs_lock(&b->lock);
	unlink_r(b, m);
	gs_unlock(&b->lock);
}

void gs_robust_exit(struct g *g)
{
	struct rbucket *b = rbucket_of(g->id);
	for (;;) {
		struct gs_mutex *m;
		gs_lock(&b->lock);
		for (m = b->head; m && m->owner != g->id; m = m->rnext)
			;
		if (m)
			unlink_r(b, m);
		gs_unlock(&b->lock);
		if (!m)
			return;
		m->rstate = ROBUST_DEAD;
		m->owner = 0;
		m->count = 0;
		word_unlock(&m->lock);	/* wakes one locker, which gets EOWNERDEAD */
	}
}

/* A fork while another M edits a bucket would leave the child a held lock
 * and a half-linked list: hold them all across fork (fork.c's handlers). */
void gs_robust_fork_prepare(void)
{
	for (int i = 0; i < NRBUCKET; i++)
		gs_lock(&rbuckets[i].lock);
}

void gs_robust_fork_release(void)
{
	for (int i = NRBUCKET - 1; i >= 0; i--)
		gs_unlock(&rbuckets[i].lock);
}

/* glibc's robust mutex: relocking by the owner is EDEADLK for the errorcheck
 * type, even by trylock; ENOTRECOVERABLE once unusable. */
static int robust_lock(struct gs_mutex *m, struct gs_when w, bool try)
{
	int type = m->kind & 3, self = gs_self_id();
	if (m->owner == self) {
		if (type == PTHREAD_MUTEX_ERRORCHECK)
			return EDEADLK;
		if (type == PTHREAD_MUTEX_RECURSIVE) {
			if (m->count == UINT_MAX)
				return EAGAIN;
			m->count++;
			return 0;
		}
		/* Normal: trylock is EBUSY, lock deadlocks, as natively. */
	}
	int r = word_lock(&m->lock, w, try, "mutex");
	if (r)
		return r;
	if (m->rstate == ROBUST_NOTRECOVERABLE) {
		word_unlock(&m->lock);	/* passes the news on to the next waiter */
		return ENOTRECOVERABLE;
	}
	if (m->rstate == ROBUST_DEAD) {
		m->rstate = ROBUST_INCONSISTENT;
		r = EOWNERDEAD;
	}
	m->owner = self;
	m->count = 1;
	robust_link(m, self);
	return r;
}

static int robust_unlock(struct gs_mutex *m)
{
	int self = gs_self_id();
	if (m->owner != self || atomic_load(&m->lock) == 0)
		return EPERM;
	if ((m->kind & 3) == PTHREAD_MUTEX_RECURSIVE && --m->count) {
		/* glibc: a recursive level given back while inconsistent. */
		return m->rstate == ROBUST_INCONSISTENT ? ENOTRECOVERABLE : 0;
	}
	if (m->rstate == ROBUST_INCONSISTENT)
		m->rstate = ROBUST_NOTRECOVERABLE;
	robust_unlink(m, self);
	m->owner = 0;
	m->count = 0;
	word_unlock(&m->lock);
	return 0;
}

int gs_mutex_consistent(struct gs_mutex *m)
{
	if (!(m->kind & GS_MUTEX_ROBUST) || m->rstate != ROBUST_INCONSISTENT)
		return EINVAL;
	m->rstate = ROBUST_OK;
	return 0;
}

/* ---- mutex ---- */

int gs_mutex_lock(struct gs_mutex *m, struct gs_when w, bool try)
{
	if (unlikely(m->kind & GS_MUTEX_ROBUST))
		return robust_lock(m, w, try);
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
	if (unlikely(m->kind & GS_MUTEX_ROBUST))
		return robust_unlock(m);
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

/* glibc: EBUSY while held, except for robust mutexes, which it lets go. A
 * held robust one is unlinked, so that its owner's exit does not write to
 * memory the program may reuse. */
int gs_mutex_destroy(struct gs_mutex *m)
{
	if (m->kind & GS_MUTEX_ROBUST) {
		int owner = m->owner;
		if (atomic_load(&m->lock))
			robust_unlink(m, owner);
		return 0;
	}
	return atomic_load(&m->lock) ? EBUSY : 0;
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
		/* A signal handler that ran during the wait does not end it (glibc
		 * waits on, to its deadline); a cancellation does. */
		struct g *g = gs_self();
		do
			r = gs_futex_wait(&c->seq, seq, deadline, GS_INTR_CANCEL, "cond");
		while (r == -EINTR && g && !(atomic_load(&g->cancel_pending) && !g->cancel_disabled));
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
	if (all)
		gs_futex_wake(&c->seq, INT_MAX);
	else
		gs_futex_wake_changed(&c->seq);
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
	int r = gs_futex_wait(seqw, s, deadline, GS_INTR_SIGNAL, "rwlock");
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
	/* A signal handler runs during the wait, which then goes on, as in
	 * glibc (its futex wait restarts after the handler); cancellation does
	 * not end it (no cancellation point). Tried once before at 4,
	 * reverted when tests/scale/barrier_1m (1,000,000 waiters on 16 KiB
	 * stacks) died of an overflowed signal frame: that was the nesting of
	 * queued preemption signals and a hook's preemption point yielding
	 * with the all-G lock held, both since fixed. */
	while (atomic_load(&b->seq) == seq)
		gs_futex_wait(&b->seq, seq, 0, GS_INTR_SIGNAL, "barrier");
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
		struct g *g = gs_self();
		if (r == -EINTR && g && g->intr_restart) {	/* SA_RESTART handler ran */
			g->intr_restart = 0;
			continue;
		}
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

/* ---- live waits on glibc's objects (process-shared) ---- */

/* ---- once: 0 not run, 1 running, 2 done, 3 running with waiters ----
 * The caller of gs_once_begin() that gets true runs the init routine and then
 * calls gs_once_end(once, true); if the routine is cancelled it calls
 * gs_once_end(once, false) from its cleanup, and the next caller runs the
 * routine (glibc's clear_once_control). */

bool gs_once_begin(_Atomic int *once)
{
	for (;;) {
		int v = 0;
		if (atomic_compare_exchange_strong(once, &v, 1))
			return true;
		if (v == 2)
			return false;
		if (v == 1 && !atomic_compare_exchange_strong(once, &v, 3) && v != 3)
			continue;
		gs_futex_wait((_Atomic uint32_t *)once, 3, 0, GS_INTR_SIGNAL, "once");
	}
}

void gs_once_end(_Atomic int *once, bool done)
{
	if (atomic_exchange(once, done ? 2 : 0) == 3)
		gs_futex_wake((_Atomic uint32_t *)once, INT_MAX);
}
