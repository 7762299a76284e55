/* cond_basic.c: compat test of condition variables (DESIGN.md §2.2): a bounded
 * producer/consumer queue with statically initialised mutex and condvars, signal-based
 * handoff; every item is consumed exactly once (exact sums and counts); a second round
 * with a dynamically initialised condvar and many more threads than slots.
 */
#include "compat.h"
#include <stdint.h>

#define SLOTS 8
#define PRODUCERS 3
#define CONSUMERS 3
#define ITEMS 20000 /* per producer */

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	long buf[SLOTS];
	int head, len;
	int producers_left;
};

static struct queue sq = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
			   PTHREAD_COND_INITIALIZER, { 0 }, 0, 0, PRODUCERS };
static struct queue dq;
static long consumed_sum[64], consumed_n[64];

struct arg {
	struct queue *q;
	int id;
	int items;
};

static void *producer(void *p)
{
	struct arg *a = p;
	struct queue *q = a->q;
	int i;

	for (i = 1; i <= a->items; i++) {
		pthread_mutex_lock(&q->mu);
		while (q->len == SLOTS)
			pthread_cond_wait(&q->not_full, &q->mu);
		q->buf[(q->head + q->len) % SLOTS] = (long)a->id * 1000000 + i;
		q->len++;
		pthread_cond_signal(&q->not_empty);
		pthread_mutex_unlock(&q->mu);
	}
	pthread_mutex_lock(&q->mu);
	if (--q->producers_left == 0)
		pthread_cond_broadcast(&q->not_empty); /* wake consumers to see the end */
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

static void *consumer(void *p)
{
	struct arg *a = p;
	struct queue *q = a->q;
	long v;

	for (;;) {
		pthread_mutex_lock(&q->mu);
		while (q->len == 0 && q->producers_left > 0)
			pthread_cond_wait(&q->not_empty, &q->mu);
		if (q->len == 0) {
			pthread_mutex_unlock(&q->mu);
			return NULL;
		}
		v = q->buf[q->head];
		q->head = (q->head + 1) % SLOTS;
		q->len--;
		pthread_cond_signal(&q->not_full);
		pthread_mutex_unlock(&q->mu);
		consumed_sum[a->id] += v;
		consumed_n[a->id]++;
	}
}

static void round_(const char *name, struct queue *q, int np, int nc, int items)
{
	pthread_t t[64];
	struct arg args[64];
	long sum = 0, n = 0, want = 0;
	int i;

	memset(consumed_sum, 0, sizeof(consumed_sum));
	memset(consumed_n, 0, sizeof(consumed_n));
	for (i = 0; i < nc; i++) {
		args[i] = (struct arg){ q, i, 0 };
		CHECK_RC(pthread_create(&t[i], NULL, consumer, &args[i]), 0);
	}
	for (i = 0; i < np; i++) {
		args[nc + i] = (struct arg){ q, i + 1, items };
		CHECK_RC(pthread_create(&t[nc + i], NULL, producer, &args[nc + i]), 0);
		want += (long)(i + 1) * 1000000 * items + (long)items * (items + 1) / 2;
	}
	for (i = 0; i < np + nc; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	for (i = 0; i < nc; i++) {
		sum += consumed_sum[i];
		n += consumed_n[i];
	}
	printf("%s: %d producers, %d consumers: %ld items, sum %ld\n", name, np, nc, n, sum);
	CHECK_EQ(n, (long)np * items);
	CHECK_EQ(sum, want);
}

int main(void)
{
	round_("static", &sq, PRODUCERS, CONSUMERS, ITEMS);

	CHECK_RC(pthread_mutex_init(&dq.mu, NULL), 0);
	CHECK_RC(pthread_cond_init(&dq.not_empty, NULL), 0);
	CHECK_RC(pthread_cond_init(&dq.not_full, NULL), 0);
	dq.producers_left = 20;
	round_("dynamic", &dq, 20, 30, 2000);
	CHECK_RC(pthread_cond_destroy(&dq.not_empty), 0);
	CHECK_RC(pthread_cond_destroy(&dq.not_full), 0);
	CHECK_RC(pthread_mutex_destroy(&dq.mu), 0);
	return 0;
}
