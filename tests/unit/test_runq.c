/* tests/unit/test_runq.c: the run queues of sched/runq.c.
 *
 * gs_runq (owner puts and gets, thieves steal half) and gs_mpsc (Vyukov's
 * intrusive MPSC inbox), first single-threaded against exact expectations,
 * then under contention from real OS threads: this binary is not preloaded, so
 * pthread_create gives kernel threads. The Gs are fake: only their addresses
 * matter, no field of them is read or written. */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include "gs.h"

/* Fake Gs for the single-threaded tests. */
static struct g fake[2 * RUNQ_SIZE];

static struct gs_runq *new_runq(void)
{
	struct gs_runq *q = calloc(1, sizeof *q);
	ck_assert_ptr_nonnull(q);
	return q;
}

START_TEST(runq_fifo)
{
	struct gs_runq *q = new_runq();
	ck_assert_ptr_null(gs_runq_get(q));
	ck_assert_uint_eq(gs_runq_len(q), 0);
	for (int i = 0; i < 10; i++) {
		ck_assert(gs_runq_put(q, &fake[i]));
		ck_assert_uint_eq(gs_runq_len(q), i + 1);
	}
	for (int i = 0; i < 10; i++) {
		ck_assert_ptr_eq(gs_runq_get(q), &fake[i]);
		ck_assert_uint_eq(gs_runq_len(q), 9 - i);
	}
	ck_assert_ptr_null(gs_runq_get(q));
	free(q);
}
END_TEST

START_TEST(runq_full)
{
	struct gs_runq *q = new_runq();
	for (int i = 0; i < RUNQ_SIZE; i++)
		ck_assert(gs_runq_put(q, &fake[i]));
	ck_assert_uint_eq(gs_runq_len(q), RUNQ_SIZE);
	ck_assert(!gs_runq_put(q, &fake[RUNQ_SIZE]));
	ck_assert_uint_eq(gs_runq_len(q), RUNQ_SIZE);
	/* One out makes room for exactly one more, which goes last. */
	ck_assert_ptr_eq(gs_runq_get(q), &fake[0]);
	ck_assert(gs_runq_put(q, &fake[RUNQ_SIZE]));
	ck_assert(!gs_runq_put(q, &fake[RUNQ_SIZE + 1]));
	for (int i = 1; i <= RUNQ_SIZE; i++)
		ck_assert_ptr_eq(gs_runq_get(q), &fake[i]);
	ck_assert_ptr_null(gs_runq_get(q));
	ck_assert_uint_eq(gs_runq_len(q), 0);
	free(q);
}
END_TEST

/* head and tail are free-running 32-bit counters: cross their wrap. */
START_TEST(runq_index_wrap)
{
	struct gs_runq *q = new_runq();
	atomic_store(&q->head, UINT32_MAX - 100);
	atomic_store(&q->tail, UINT32_MAX - 100);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < RUNQ_SIZE; i++)
			ck_assert(gs_runq_put(q, &fake[i]));
		ck_assert(!gs_runq_put(q, &fake[0]));
		ck_assert_uint_eq(gs_runq_len(q), RUNQ_SIZE);
		for (int i = 0; i < RUNQ_SIZE / 2; i++)
			ck_assert_ptr_eq(gs_runq_get(q), &fake[i]);
		struct gs_runq *to = new_runq();
		ck_assert_uint_eq(gs_runq_steal(to, q), RUNQ_SIZE / 4);
		for (int i = RUNQ_SIZE / 2; i < RUNQ_SIZE * 3 / 4; i++)
			ck_assert_ptr_eq(gs_runq_get(to), &fake[i]);
		for (int i = RUNQ_SIZE * 3 / 4; i < RUNQ_SIZE; i++)
			ck_assert_ptr_eq(gs_runq_get(q), &fake[i]);
		ck_assert_ptr_null(gs_runq_get(q));
		ck_assert_ptr_null(gs_runq_get(to));
		free(to);
	}
	free(q);
}
END_TEST

/* For every length 0..RUNQ_SIZE: a thief takes the first ceil(n/2), in order. */
START_TEST(runq_steal_half)
{
	for (uint32_t n = 0; n <= RUNQ_SIZE; n++) {
		struct gs_runq *from = new_runq(), *to = new_runq();
		for (uint32_t i = 0; i < n; i++)
			ck_assert(gs_runq_put(from, &fake[i]));
		uint32_t k = gs_runq_steal(to, from);
		ck_assert_uint_eq(k, (n + 1) / 2);
		ck_assert_uint_eq(gs_runq_len(to), k);
		ck_assert_uint_eq(gs_runq_len(from), n - k);
		for (uint32_t i = 0; i < k; i++)
			ck_assert_ptr_eq(gs_runq_get(to), &fake[i]);
		ck_assert_ptr_null(gs_runq_get(to));
		for (uint32_t i = k; i < n; i++)
			ck_assert_ptr_eq(gs_runq_get(from), &fake[i]);
		ck_assert_ptr_null(gs_runq_get(from));
		free(from);
		free(to);
	}
}
END_TEST

START_TEST(runq_steal_empty)
{
	struct gs_runq *from = new_runq(), *to = new_runq();
	ck_assert(gs_runq_put(to, &fake[7]));
	ck_assert_uint_eq(gs_runq_steal(to, from), 0);
	ck_assert_uint_eq(gs_runq_len(to), 1);
	ck_assert_uint_eq(gs_runq_len(from), 0);
	/* After a put and a get, from is empty again at a non-zero index. */
	ck_assert(gs_runq_put(from, &fake[1]));
	ck_assert_ptr_eq(gs_runq_get(from), &fake[1]);
	ck_assert_uint_eq(gs_runq_steal(to, from), 0);
	ck_assert_ptr_eq(gs_runq_get(to), &fake[7]);
	ck_assert_ptr_null(gs_runq_get(to));
	free(from);
	free(to);
}
END_TEST

/* Stealing appends after what the thief's own queue already holds. */
START_TEST(runq_steal_appends)
{
	struct gs_runq *from = new_runq(), *to = new_runq();
	for (int i = 0; i < 3; i++)
		ck_assert(gs_runq_put(to, &fake[100 + i]));
	ck_assert_ptr_eq(gs_runq_get(to), &fake[100]);
	for (int i = 0; i < 10; i++)
		ck_assert(gs_runq_put(from, &fake[i]));
	ck_assert_uint_eq(gs_runq_steal(to, from), 5);
	ck_assert_uint_eq(gs_runq_len(to), 7);
	ck_assert_ptr_eq(gs_runq_get(to), &fake[101]);
	ck_assert_ptr_eq(gs_runq_get(to), &fake[102]);
	for (int i = 0; i < 5; i++)
		ck_assert_ptr_eq(gs_runq_get(to), &fake[i]);
	ck_assert_ptr_null(gs_runq_get(to));
	free(from);
	free(to);
}
END_TEST

/* ---- run queue under contention ---- */

#define CONC_G 1000000
#define THIEVES 3

static struct g *conc_g;		/* CONC_G fake Gs */
static _Atomic int *conc_taken;		/* per G: how many times it was taken */
static struct gs_runq *conc_q;		/* the owner's queue */
static _Atomic int conc_done;		/* the owner has put all and drained */
static _Atomic long conc_fail;		/* order violations seen by a consumer */

/* Records that this consumer took g. Each consumer must see indices rising:
 * the owner puts them in order and both get and steal take from the head. */
static void take(struct g *g, long *last)
{
	long i = g - conc_g;
	if (i < 0 || i >= CONC_G || i <= *last)
		atomic_fetch_add(&conc_fail, 1);
	else
		atomic_fetch_add_explicit(&conc_taken[i], 1, memory_order_relaxed);
	*last = i;
}

struct thief {
	pthread_t t;
	struct gs_runq q;		/* its own queue: it is the owner of this one */
	long stolen, steals;
};

static void *thief_main(void *arg)
{
	struct thief *th = arg;
	long last = -1;
	for (;;) {
		/* Read done before stealing: once the owner is done its queue
		 * stays empty, so a failed steal after that means the end. */
		int done = atomic_load(&conc_done);
		uint32_t n = gs_runq_steal(&th->q, conc_q);
		if (n > RUNQ_SIZE / 2)
			atomic_fetch_add(&conc_fail, 1);
		if (n) {
			th->steals++;
			th->stolen += n;
		}
		if (gs_runq_len(&th->q) != n)
			atomic_fetch_add(&conc_fail, 1);
		struct g *g;
		uint32_t got = 0;
		while ((g = gs_runq_get(&th->q))) {
			take(g, &last);
			got++;
		}
		if (got != n)
			atomic_fetch_add(&conc_fail, 1);
		if (!n && done)
			return NULL;
		if (!n)
			sched_yield();
	}
}

START_TEST(runq_concurrent_steal)
{
	conc_g = calloc(CONC_G, sizeof *conc_g);	/* never touched: stays unbacked */
	conc_taken = calloc(CONC_G, sizeof *conc_taken);
	conc_q = new_runq();
	ck_assert_ptr_nonnull(conc_g);
	ck_assert_ptr_nonnull(conc_taken);
	static struct thief th[THIEVES];
	for (int i = 0; i < THIEVES; i++)
		ck_assert_int_eq(pthread_create(&th[i].t, NULL, thief_main, &th[i]), 0);

	/* The owner keeps its queue nearly full (thieves get big batches) and
	 * takes some itself: one get every third put, and one whenever full. */
	long last = -1, owner_got = 0;
	struct g *g;
	for (long i = 0; i < CONC_G; i++) {
		while (!gs_runq_put(conc_q, &conc_g[i])) {
			if ((g = gs_runq_get(conc_q))) {
				take(g, &last);
				owner_got++;
			}
		}
		if (i % 3 == 0 && (g = gs_runq_get(conc_q))) {
			take(g, &last);
			owner_got++;
		}
	}
	while ((g = gs_runq_get(conc_q))) {
		take(g, &last);
		owner_got++;
	}
	ck_assert_uint_eq(gs_runq_len(conc_q), 0);
	atomic_store(&conc_done, 1);

	long stolen = 0;
	for (int i = 0; i < THIEVES; i++) {
		ck_assert_int_eq(pthread_join(th[i].t, NULL), 0);
		stolen += th[i].stolen;
	}
	long fails = atomic_load(&conc_fail);
	ck_assert_msg(fails == 0, "%ld Gs taken out of order or not stolen as reported", fails);
	ck_assert_int_eq(owner_got + stolen, CONC_G);
	for (long i = 0; i < CONC_G; i++)
		if (atomic_load(&conc_taken[i]) != 1)
			ck_abort_msg("G %ld taken %d times", i, atomic_load(&conc_taken[i]));
	free(conc_g);
	free(conc_taken);
	free(conc_q);
}
END_TEST

/* ---- MPSC inbox ---- */

struct item {
	struct gs_node node;
	int producer, seq;
};

static struct item *item_of(struct gs_node *n)
{
	return (struct item *)((char *)n - offsetof(struct item, node));
}

START_TEST(mpsc_fifo)
{
	struct gs_mpsc q;
	struct item it[20];
	gs_mpsc_init(&q);
	ck_assert(gs_mpsc_empty(&q));
	ck_assert_ptr_null(gs_mpsc_pop(&q));
	ck_assert(gs_mpsc_empty(&q));
	for (int i = 0; i < 20; i++) {
		it[i].seq = i;
		gs_mpsc_push(&q, &it[i].node);
		ck_assert(!gs_mpsc_empty(&q));
	}
	for (int i = 0; i < 20; i++) {
		struct gs_node *n = gs_mpsc_pop(&q);
		ck_assert_ptr_eq(n, &it[i].node);
		ck_assert_int_eq(item_of(n)->seq, i);
	}
	ck_assert_ptr_null(gs_mpsc_pop(&q));
	ck_assert(gs_mpsc_empty(&q));
	ck_assert_ptr_null(gs_mpsc_pop(&q));
}
END_TEST

/* One at a time: each last pop goes through re-pushing the stub. Nodes are
 * reused as soon as they are popped, as the scheduler reuses a G's link. */
START_TEST(mpsc_one_at_a_time)
{
	struct gs_mpsc q;
	struct item it[3];
	gs_mpsc_init(&q);
	for (int round = 0; round < 1000; round++) {
		int k = round % 3 + 1;
		for (int i = 0; i < k; i++)
			gs_mpsc_push(&q, &it[i].node);
		for (int i = 0; i < k; i++)
			ck_assert_ptr_eq(gs_mpsc_pop(&q), &it[i].node);
		ck_assert_ptr_null(gs_mpsc_pop(&q));
		ck_assert(gs_mpsc_empty(&q));
	}
	/* Interleaved: push a, push b, pop a, push c, pop b, pop c. */
	gs_mpsc_push(&q, &it[0].node);
	gs_mpsc_push(&q, &it[1].node);
	ck_assert_ptr_eq(gs_mpsc_pop(&q), &it[0].node);
	gs_mpsc_push(&q, &it[2].node);
	ck_assert_ptr_eq(gs_mpsc_pop(&q), &it[1].node);
	ck_assert(!gs_mpsc_empty(&q));
	ck_assert_ptr_eq(gs_mpsc_pop(&q), &it[2].node);
	ck_assert_ptr_null(gs_mpsc_pop(&q));
	ck_assert(gs_mpsc_empty(&q));
}
END_TEST

#define PRODUCERS 4
#define PER_PRODUCER 250000

static struct gs_mpsc mq;
static struct item *mitems;		/* PRODUCERS * PER_PRODUCER */

static void *producer_main(void *arg)
{
	int p = (int)(intptr_t)arg;
	for (int i = 0; i < PER_PRODUCER; i++) {
		struct item *it = &mitems[p * PER_PRODUCER + i];
		it->producer = p;
		it->seq = i;
		gs_mpsc_push(&mq, &it->node);
	}
	return NULL;
}

START_TEST(mpsc_concurrent)
{
	mitems = calloc((size_t)PRODUCERS * PER_PRODUCER, sizeof *mitems);
	ck_assert_ptr_nonnull(mitems);
	gs_mpsc_init(&mq);
	pthread_t t[PRODUCERS];
	for (int p = 0; p < PRODUCERS; p++)
		ck_assert_int_eq(pthread_create(&t[p], NULL, producer_main, (void *)(intptr_t)p), 0);
	/* next[p]: the seq expected next from producer p. Exact per-producer
	 * order plus the total count means each node came out exactly once. */
	int next[PRODUCERS] = { 0 };
	long total = 0;
	while (total < (long)PRODUCERS * PER_PRODUCER) {
		struct gs_node *n = gs_mpsc_pop(&mq);
		if (!n) {		/* empty, or a push half done: retry */
			sched_yield();
			continue;
		}
		struct item *it = item_of(n);
		ck_assert_ptr_eq(n, &it->node);
		ck_assert(it >= mitems && it < mitems + (long)PRODUCERS * PER_PRODUCER);
		ck_assert_int_ge(it->producer, 0);
		ck_assert_int_lt(it->producer, PRODUCERS);
		if (it->seq != next[it->producer])
			ck_abort_msg("producer %d: got seq %d, expected %d", it->producer, it->seq,
				     next[it->producer]);
		ck_assert_ptr_eq(it, &mitems[it->producer * PER_PRODUCER + it->seq]);
		next[it->producer]++;
		total++;
	}
	for (int p = 0; p < PRODUCERS; p++) {
		ck_assert_int_eq(pthread_join(t[p], NULL), 0);
		ck_assert_int_eq(next[p], PER_PRODUCER);
	}
	ck_assert_ptr_null(gs_mpsc_pop(&mq));
	ck_assert(gs_mpsc_empty(&mq));
	free(mitems);
}
END_TEST

/* The priority queue: highest priority first, first-come among equals, a
 * front put before its equals only; top and topseq mirror the head. */
START_TEST(prioq_order)
{
	struct gs_prioq q = { 0 };
	static const int prio[] = { 10, 50, 10, 30, 50, 1 };
	static const int want[] = { 7, 4, 1, 6, 3, 0, 2, 5 };
	struct g *g;
	int n = 0;

	gs_lock_init(&q.lock, PRIOQ);
	ck_assert_ptr_null(gs_prioq_get(&q));
	ck_assert_int_eq(atomic_load(&q.top), 0);
	for (int i = 0; i < 6; i++)
		gs_prioq_put(&q, &fake[i], prio[i], (uint32_t)i, false);
	ck_assert_int_eq(atomic_load(&q.top), 50);
	ck_assert_uint_eq(atomic_load(&q.topseq), 1);
	gs_prioq_put(&q, &fake[6], 30, 6, true);	/* before fake[3], after the 50s */
	ck_assert_ptr_eq(gs_prioq_get(&q), &fake[1]);
	ck_assert_uint_eq(atomic_load(&q.topseq), 4);
	gs_prioq_put(&q, &fake[1], 50, 7, false);	/* behind fake[4] */
	gs_prioq_put(&q, &fake[7], 50, 8, true);	/* before both */
	ck_assert_int_eq(atomic_load(&q.top), 50);
	ck_assert_uint_eq(atomic_load(&q.topseq), 8);
	while ((g = gs_prioq_get(&q))) {
		ck_assert_int_lt(n, 8);
		ck_assert_int_eq((int)(g - fake), want[n]);
		n++;
	}
	ck_assert_int_eq(n, 8);
	ck_assert_int_eq(atomic_load(&q.top), 0);
	ck_assert_ptr_null(q.head);
}
END_TEST

static Suite *runq_suite(void)
{
	Suite *s = suite_create("runq");
	TCase *tc = tcase_create("runq");
	tcase_add_test(tc, runq_fifo);
	tcase_add_test(tc, runq_full);
	tcase_add_test(tc, runq_index_wrap);
	tcase_add_test(tc, runq_steal_half);
	tcase_add_test(tc, runq_steal_empty);
	tcase_add_test(tc, runq_steal_appends);
	suite_add_tcase(s, tc);

	tc = tcase_create("mpsc");
	tcase_add_test(tc, mpsc_fifo);
	tcase_add_test(tc, mpsc_one_at_a_time);
	suite_add_tcase(s, tc);

	tc = tcase_create("prioq");
	tcase_add_test(tc, prioq_order);
	suite_add_tcase(s, tc);

	/* Generous: two cores shared by four or five spinning threads. */
	tc = tcase_create("concurrent");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, runq_concurrent_steal);
	tcase_add_test(tc, mpsc_concurrent);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(runq_suite());
	srunner_run_all(sr, CK_ENV);	/* CK_VERBOSITY, normal by default */
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
