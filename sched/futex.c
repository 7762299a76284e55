/* sched/futex.c: the green futex, a wait queue keyed by address.
 *
 * Every synchronisation object (sync.c) is built on two calls, as glibc's and
 * musl's are built on the kernel futex: gs_futex_wait(addr, val) sleeps while
 * *addr == val, gs_futex_wake(addr, n) wakes up to n sleepers. A G parks; any
 * other caller (a thread the shim did not create, a hook called inside the
 * runtime) sleeps in the kernel futex on the same word, and wakers wake both
 * kinds, so a mutex shared by a G and a library's own thread works.
 *
 * Waiters are records on the waiting G's stack, queued FIFO in a bucket of a
 * hash table under the bucket's lock. A waker unlinks the record under the lock
 * and readies the G after dropping it; a G woken by its timer or an interruption
 * finds its record still queued, and unlinks it itself. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include "gs.h"

/* A wake walks its bucket's whole list: a bucket holding many waiters of one
 * word (a barrier of a million) makes every other word hashed to it slow to
 * wake. With 1,024 buckets the exits of barrier_1m's released threads (each
 * wakes its joiner's word) met its bucket a thousand times: 100,000 threads
 * took 10.5 s instead of 3.2 when released threads ran at once on another M
 * (moving mode); with 65,536 (4 MiB of address space, a page touched per 64
 * buckets used) 3.6 s. */
#define NBUCKET 65536
#define NBUCKET_BITS 16

struct waiter {
	struct waiter *next, *prev;
	_Atomic uint32_t *addr;
	struct g *g;
	uint64_t seq;
	uint32_t bits;			/* FUTEX_WAIT_BITSET's mask; ~0 for a plain wait */
	uint32_t val;			/* the value it waits to see change */
	bool queued;			/* bucket lock */
};

struct bucket {
	gs_lock_t lock;
	struct waiter *head, *tail;	/* lock */
	_Atomic int native;		/* callers in the kernel futex on this bucket */
} __attribute__((aligned(64)));

static struct bucket buckets[NBUCKET] = { [0 ... NBUCKET - 1] = { .lock = GS_LOCK_INIT(FUTEX) } };

void (*gs_async_cancel)(struct g *g);

static struct bucket *bucket_of(const void *a)
{
	uint64_t x = (uint64_t)(uintptr_t)a;
	x = (x >> 2) * 0x9E3779B97F4A7C15ull;
	return &buckets[x >> (64 - NBUCKET_BITS)];
}

static void unlink_w(struct bucket *b, struct waiter *w)	/* lock held */
{
	if (w->prev)
		w->prev->next = w->next;
	else
		b->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		b->tail = w->prev;
	w->queued = false;
}

static int native_wait(_Atomic uint32_t *addr, uint32_t val, uint64_t deadline, int interruptible)
{
	struct bucket *b = bucket_of(addr);
	struct timespec ts, *tsp = NULL;
	int r = 0;
	if (deadline) {
		uint64_t now = gs_nanotime();
		uint64_t d = deadline > now ? deadline - now : 0;
		ts.tv_sec = (time_t)(d / 1000000000u);
		ts.tv_nsec = (long)(d % 1000000000u);
		tsp = &ts;
	}
	atomic_fetch_add(&b->native, 1);
	int k = gs_sys_futex(addr, FUTEX_WAIT_PRIVATE, val, tsp);
	if (k == -ETIMEDOUT || k == -EAGAIN || (k == -EINTR && interruptible))
		r = k;
	atomic_fetch_sub(&b->native, 1);
	return r;
}

/* The wait, inlined into both entries so that a G parked in gs_futex_wait has
 * one frame of it on its (maybe small) stack. */
static inline __attribute__((always_inline)) int wait_bits(_Atomic uint32_t *addr, uint32_t val,
							   uint64_t deadline, int interruptible,
							   const char *why, uint32_t bits)
{
	struct g *g = gs_self();
	if (!g)
		return native_wait(addr, val, deadline, interruptible);
	if (gs_async_cancel_due(g))
		gs_async_cancel(g);
	struct bucket *b = bucket_of(addr);
	struct waiter w = { .addr = addr, .g = g, .bits = bits, .val = val };
	gs_lock(&b->lock);
	if (atomic_load(addr) != val) {
		gs_unlock(&b->lock);
		return -EAGAIN;
	}
	if (interruptible && atomic_load_explicit(&g->interrupted, memory_order_relaxed) &&
	    atomic_exchange(&g->interrupted, 0)) {	/* read first: as gs_park_interrupted */
		gs_unlock(&b->lock);
		return -EINTR;
	}
	__atomic_store_n(&g->interruptible, interruptible, __ATOMIC_RELAXED);	/* before the park word: see gs_interrupt */
	g->in_futex = 1;
	w.seq = gs_park_prepare_locked(g, why, (void *)addr);	/* gs_unlock below */
	w.prev = b->tail;
	if (b->tail)
		b->tail->next = &w;
	else
		b->head = &w;
	b->tail = &w;
	w.queued = true;
	gs_unlock(&b->lock);
	if (deadline && gs_g_timer_add(g, deadline, w.seq) != 0)
		deadline = 0;	/* no memory for the timer: wait without it */
	if (interruptible)
		gs_park_check_intr(g, w.seq);
	if (gs_async_cancel_due(g))	/* cancelled before the park was published */
		gs_ready(g, w.seq);
	gs_park(g);
	g->in_futex = 0;
	__atomic_store_n(&g->interruptible, 0, __ATOMIC_RELAXED);
	if (deadline)
		gs_g_timer_del(g);
	bool intr = interruptible && gs_park_interrupted(g);
	int r = 0;
	if (w.queued) {		/* racy peek; decided under the lock */
		gs_lock(&b->lock);
		if (w.queued) {
			unlink_w(b, &w);
			r = intr ? -EINTR : -ETIMEDOUT;
		}
		gs_unlock(&b->lock);
	}
	if (gs_async_cancel_due(g))	/* the record is off the queue: unwind */
		gs_async_cancel(g);
	return r;
}

int gs_futex_wait(_Atomic uint32_t *addr, uint32_t val, uint64_t deadline, int interruptible,
		  const char *why)
{
	return wait_bits(addr, val, deadline, interruptible, why, ~0u);
}

int gs_futex_wait_bits(_Atomic uint32_t *addr, uint32_t val, uint64_t deadline, int interruptible,
		       const char *why, uint32_t bits)
{
	return wait_bits(addr, val, deadline, interruptible, why, bits);
}

_Atomic int gs_rt_used;

/* A waiter's rank for a wake of one: its SCHED_FIFO/SCHED_RR priority (1-99),
 * 0 for the other policies. Written by any thread (pthread_setschedparam):
 * a stale read only orders one wake differently. */
static int rank(const struct waiter *w)
{
	return gs_g_rank(w->g);
}

/* The wake of one once the program has used a real-time policy: the waiter of
 * highest rank, FIFO among equals, as the kernel's futex wakes real-time
 * waiters (so sem_post, a mutex unlock and pthread_cond_signal reach the
 * highest-priority waiter). With changed, only waiters whose value differs
 * from the word's now are ranked (a condition variable's sequence: those that
 * came after the signal wait on its new value and are not for it); if there
 * are none, the first. One walk of the bucket under its lock. */
static inline __attribute__((always_inline)) int wake_ranked(struct bucket *b,
							     _Atomic uint32_t *addr, uint32_t bits,
							     bool changed)
{
	uint32_t now = atomic_load(addr);
	struct waiter *best = NULL, *first = NULL;
	int br = -1;
	gs_lock(&b->lock);
	for (struct waiter *w = b->head; w; w = w->next) {
		if (w->addr != addr || !(w->bits & bits))
			continue;
		if (!first)
			first = w;
		int r = !changed || w->val != now ? rank(w) : -1;
		if (r > br)
			best = w, br = r;
	}
	if (!best || br < 0)
		best = first;
	struct g *g = NULL;
	uint64_t seq = 0;
	if (best) {
		unlink_w(b, best);
		g = best->g;
		seq = best->seq;
	}
	gs_unlock(&b->lock);
	if (g)
		gs_ready(g, seq);
	return g ? 1 : 0;
}

/* Wakes up to n green waiters on addr whose mask meets bits. Inlined into both
 * wakers so that gs_futex_wake keeps one frame (a G may call it on a small stack). */
static inline __attribute__((always_inline)) int wake_green(_Atomic uint32_t *addr, int n,
							    uint32_t bits)
{
	struct bucket *b = bucket_of(addr);
	int woken = 0;
	if (n == 1 && unlikely(atomic_load_explicit(&gs_rt_used, memory_order_relaxed)))
		return wake_ranked(b, addr, bits, false);
	for (;;) {
		struct { struct g *g; uint64_t seq; } batch[64];
		int k = 0;
		gs_lock(&b->lock);
		for (struct waiter *w = b->head, *next; w && woken < n && k < 64; w = next) {
			next = w->next;
			if (w->addr != addr || !(w->bits & bits))
				continue;
			unlink_w(b, w);
			batch[k].g = w->g;
			batch[k].seq = w->seq;
			k++;
			woken++;
		}
		bool more = k == 64 && woken < n;
		gs_unlock(&b->lock);
		if (k > 1 && unlikely(atomic_load_explicit(&gs_rt_used, memory_order_relaxed))) {
			/* A wake of several: made runnable highest priority
			 * first, first-come among equals (a stable sort). */
			for (int i = 1; i < k; i++) {
				struct g *x = batch[i].g;
				uint64_t xs = batch[i].seq;
				int r = gs_g_rank(x), j = i;
				for (; j > 0 && gs_g_rank(batch[j - 1].g) < r; j--)
					batch[j] = batch[j - 1];
				batch[j].g = x;
				batch[j].seq = xs;
			}
		}
		for (int i = 0; i < k; i++)
			gs_ready(batch[i].g, batch[i].seq);
		if (!more)
			break;
	}
	return woken;
}


int gs_futex_wake(_Atomic uint32_t *addr, int n)
{
	struct bucket *b = bucket_of(addr);
	int woken = wake_green(addr, n, ~0u);
	if (woken < n && atomic_load(&b->native) > 0) {
		int r = gs_sys_futex(addr, FUTEX_WAKE_PRIVATE, (uint32_t)(n - woken), NULL);
		if (r > 0)
			woken += r;
	}
	return woken;
}

int gs_futex_wake_green(_Atomic uint32_t *addr, int n, uint32_t bits)
{
	return wake_green(addr, n, bits);
}

int gs_futex_wake_changed(_Atomic uint32_t *addr)
{
	struct bucket *b = bucket_of(addr);
	if (!atomic_load_explicit(&gs_rt_used, memory_order_relaxed))
		return gs_futex_wake(addr, 1);
	int woken = wake_ranked(b, addr, ~0u, true);
	if (!woken && atomic_load(&b->native) > 0)
		woken = gs_sys_futex(addr, FUTEX_WAKE_PRIVATE, 1, NULL) > 0;
	return woken;
}

/* In a forked child only the forking thread exists: nobody waits. */
void gs_futex_fork_child(void)
{
	for (int i = 0; i < NBUCKET; i++) {
		gs_lock_reset(&buckets[i].lock);
		buckets[i].head = buckets[i].tail = NULL;
		atomic_store(&buckets[i].native, 0);
	}
}
