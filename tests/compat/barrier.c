/* barrier.c: compat test of pthread barriers (DESIGN.md §2.2): over many rounds
 * PTHREAD_BARRIER_SERIAL_THREAD is returned exactly once per round and 0 to all others,
 * and no thread gets a round ahead (a per-round counter reaches N before anyone leaves);
 * a barrier of one always returns SERIAL; count 0 is EINVAL.
 */
#include "compat.h"
#include <stdatomic.h>

#define N 8
#define ROUNDS 1000

static pthread_barrier_t bar;
static atomic_int arrived[ROUNDS], serial[ROUNDS], early, others;

static void *body(void *arg)
{
	int r, rc;

	(void)arg;
	for (r = 0; r < ROUNDS; r++) {
		atomic_fetch_add(&arrived[r], 1);
		rc = pthread_barrier_wait(&bar);
		if (atomic_load(&arrived[r]) != N)
			atomic_fetch_add(&early, 1);
		if (rc == PTHREAD_BARRIER_SERIAL_THREAD)
			atomic_fetch_add(&serial[r], 1);
		else if (rc == 0)
			atomic_fetch_add(&others, 1);
		else
			FAIL("pthread_barrier_wait returned %d", rc);
	}
	return NULL;
}

int main(void)
{
	pthread_barrier_t one;
	pthread_t t[N];
	int i, bad = 0;

	CHECK_RC(pthread_barrier_init(&one, NULL, 0), EINVAL);
	CHECK_RC(pthread_barrier_init(&one, NULL, 1), 0);
	for (i = 0; i < 10; i++)
		CHECK_RC(pthread_barrier_wait(&one), PTHREAD_BARRIER_SERIAL_THREAD);
	CHECK_RC(pthread_barrier_destroy(&one), 0);
	printf("barrier of 1: SERIAL every time; count 0: EINVAL\n");

	CHECK_RC(pthread_barrier_init(&bar, NULL, N), 0);
	for (i = 0; i < N; i++)
		CHECK_RC(pthread_create(&t[i], NULL, body, NULL), 0);
	for (i = 0; i < N; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	for (i = 0; i < ROUNDS; i++)
		bad += atomic_load(&serial[i]) != 1;
	printf("%d rounds x %d threads: rounds without exactly one serial %d, others %d, early %d\n",
	       ROUNDS, N, bad, atomic_load(&others), atomic_load(&early));
	CHECK_EQ(bad, 0);
	CHECK_EQ(others, ROUNDS * (N - 1));
	CHECK_EQ(early, 0);
	CHECK_RC(pthread_barrier_destroy(&bar), 0);
	return 0;
}
