/* sched/runq.c: the run queues.
 *
 * gs_runq is Go's per-P queue: a bounded ring that its owner M fills and drains
 * without locks (it alone writes tail; head moves by CAS because thieves take
 * from it too). It holds only Gs that have never run, the ones free to move.
 *
 * gs_mpsc is Dmitry Vyukov's intrusive multi-producer single-consumer queue:
 * any M makes a G pinned to this M runnable with one exchange; only the owner
 * pops. A pop may see an empty queue while a push is half done; the pusher
 * wakes the owner after the push completes, so nothing is lost. */
#include "gs.h"

bool gs_runq_put(struct gs_runq *q, struct g *g)	/* owner only */
{
	uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	if (t - h >= RUNQ_SIZE)
		return false;
	atomic_store_explicit(&q->buf[t % RUNQ_SIZE], g, memory_order_relaxed);
	atomic_store_explicit(&q->tail, t + 1, memory_order_release);
	return true;
}

struct g *gs_runq_get(struct gs_runq *q)	/* owner only */
{
	for (;;) {
		uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
		if (t == h)
			return NULL;
		struct g *g = atomic_load_explicit(&q->buf[h % RUNQ_SIZE], memory_order_relaxed);
		if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + 1, memory_order_release,
							  memory_order_relaxed))
			return g;
	}
}

uint32_t gs_runq_len(struct gs_runq *q)
{
	uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
	return t - h;
}

/* Moves half of from's Gs to to (whose owner calls this); returns how many. */
uint32_t gs_runq_steal(struct gs_runq *to, struct gs_runq *from)
{
	uint32_t tt = atomic_load_explicit(&to->tail, memory_order_relaxed);
	for (;;) {
		uint32_t h = atomic_load_explicit(&from->head, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&from->tail, memory_order_acquire);
		uint32_t n = t - h;
		n -= n / 2;
		if (n == 0)
			return 0;
		if (n > RUNQ_SIZE / 2)	/* read inconsistent h and t */
			continue;
		for (uint32_t i = 0; i < n; i++) {
			struct g *g = atomic_load_explicit(&from->buf[(h + i) % RUNQ_SIZE],
							   memory_order_relaxed);
			atomic_store_explicit(&to->buf[(tt + i) % RUNQ_SIZE], g, memory_order_relaxed);
		}
		if (atomic_compare_exchange_weak_explicit(&from->head, &h, h + n, memory_order_acq_rel,
							  memory_order_relaxed)) {
			atomic_store_explicit(&to->tail, tt + n, memory_order_release);
			return n;
		}
	}
}

void gs_mpsc_init(struct gs_mpsc *q)
{
	atomic_store(&q->stub.next, NULL);
	atomic_store(&q->head, &q->stub);
	q->tail = &q->stub;
}

void gs_mpsc_push(struct gs_mpsc *q, struct gs_node *n)
{
	atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
	struct gs_node *prev = atomic_exchange_explicit(&q->head, n, memory_order_acq_rel);
	atomic_store_explicit(&prev->next, n, memory_order_release);
}

struct gs_node *gs_mpsc_pop(struct gs_mpsc *q)	/* owner only */
{
	struct gs_node *tail = q->tail;
	struct gs_node *next = atomic_load_explicit(&tail->next, memory_order_acquire);
	if (tail == &q->stub) {
		if (!next)
			return NULL;
		__atomic_store_n(&q->tail, next, __ATOMIC_RELAXED);
		tail = next;
		next = atomic_load_explicit(&next->next, memory_order_acquire);
	}
	if (next) {
		__atomic_store_n(&q->tail, next, __ATOMIC_RELAXED);
		return tail;
	}
	if (tail != atomic_load_explicit(&q->head, memory_order_acquire))
		return NULL;	/* a push is half done; its pusher wakes us */
	gs_mpsc_push(q, &q->stub);
	next = atomic_load_explicit(&tail->next, memory_order_acquire);
	if (next) {
		__atomic_store_n(&q->tail, next, __ATOMIC_RELAXED);
		return tail;
	}
	return NULL;
}

bool gs_mpsc_empty(struct gs_mpsc *q)
{
	return __atomic_load_n(&q->tail, __ATOMIC_RELAXED) == &q->stub &&
	       !atomic_load_explicit(&q->stub.next, memory_order_acquire) &&
	       atomic_load_explicit(&q->head, memory_order_acquire) == &q->stub;
}

/* ---- priority run queues (used once gs_rt_used) ----
 *
 * A sorted list under a lock: a program with real-time threads has few, and
 * a queue holds only the ones runnable. g goes behind the Gs of its priority
 * and above (before them with front: a preempted SCHED_FIFO G keeps its
 * place at the head, as in the kernel). */
static void prioq_mirror(struct gs_prioq *q)
{
	struct g *h = q->head;
	if (h)
		atomic_store_explicit(&q->topseq, h->rq_seq, memory_order_relaxed);
	atomic_store_explicit(&q->top, h ? h->rq_prio : 0, memory_order_release);
}

void gs_prioq_put(struct gs_prioq *q, struct g *g, int prio, uint32_t seq, bool front)
{
	g->rq_prio = prio;
	g->rq_seq = seq;
	gs_lock(&q->lock);
	struct g **pp = &q->head;
	while (*pp && ((*pp)->rq_prio > prio || (!front && (*pp)->rq_prio == prio)))
		pp = &(*pp)->schedlink;
	g->schedlink = *pp;
	*pp = g;
	prioq_mirror(q);
	gs_unlock(&q->lock);
}

struct g *gs_prioq_get(struct gs_prioq *q)
{
	if (!atomic_load_explicit(&q->top, memory_order_acquire))
		return NULL;
	gs_lock(&q->lock);
	struct g *g = q->head;
	if (g) {
		q->head = g->schedlink;
		g->schedlink = NULL;
		prioq_mirror(q);
	}
	gs_unlock(&q->lock);
	return g;
}
