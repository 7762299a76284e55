/* thread_create_join.c: compat test of pthread_create/pthread_join (DESIGN.md §2.1):
 * arguments reach the thread, return values and pthread_exit values reach the joiner,
 * join in an order unrelated to creation order, threads that create and join threads,
 * joining threads that finished long ago, and many threads alive at once.
 */
#include "compat.h"
#include <stdint.h>
#include <unistd.h>

#define N 200
#define WAVES 5

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int started;
static int released;

/* Returns arg*arg+1, odd ones through pthread_exit. All wait until main has created
 * every thread, so that N threads are alive at once. */
static void *square(void *arg)
{
	uintptr_t i = (uintptr_t)arg;

	pthread_mutex_lock(&mu);
	started++;
	pthread_cond_broadcast(&cv);
	while (!released)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	if (i & 1)
		pthread_exit((void *)(i * i + 1));
	return (void *)(i * i + 1);
}

/* Creates a chain: thread depth d creates thread d-1 and returns its value + 1. */
static void *chain(void *arg)
{
	uintptr_t d = (uintptr_t)arg;
	pthread_t t;
	void *r;

	if (d == 0)
		return (void *)0;
	CHECK_RC(pthread_create(&t, NULL, chain, (void *)(d - 1)), 0);
	CHECK_RC(pthread_join(t, &r), 0);
	return (void *)((uintptr_t)r + 1);
}

static void *quick(void *arg)
{
	return arg;
}

int main(void)
{
	static pthread_t t[N];
	uint64_t sum = 0, want = 0;
	void *r;
	int i, w;

	/* N threads alive together, joined in a scrambled order. */
	for (i = 0; i < N; i++)
		CHECK_RC(pthread_create(&t[i], NULL, square, (void *)(uintptr_t)i), 0);
	pthread_mutex_lock(&mu);
	while (started < N)
		pthread_cond_wait(&cv, &mu);
	released = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (i = 0; i < N; i++) {
		int k = (i * 7 + 3) % N; /* 7 is prime to N: a permutation */

		CHECK_RC(pthread_join(t[k], &r), 0);
		CHECK_EQ((uintptr_t)r, (uint64_t)k * k + 1);
		sum += (uintptr_t)r;
		want += (uint64_t)k * k + 1;
	}
	CHECK_EQ(sum, want);
	printf("joined %d threads, sum of results %llu\n", N, (unsigned long long)sum);

	/* Waves of threads that finish long before they are joined. */
	for (w = 0; w < WAVES; w++) {
		for (i = 0; i < N; i++)
			CHECK_RC(pthread_create(&t[i], NULL, quick, (void *)(uintptr_t)(w * N + i)), 0);
		usleep(20000);
		for (i = N - 1; i >= 0; i--) {
			CHECK_RC(pthread_join(t[i], &r), 0);
			CHECK_EQ((uintptr_t)r, w * N + i);
		}
	}
	printf("joined %d waves of %d finished threads\n", WAVES, N);

	/* Join with a NULL result pointer. */
	CHECK_RC(pthread_create(&t[0], NULL, quick, NULL), 0);
	CHECK_RC(pthread_join(t[0], NULL), 0);

	/* Threads creating and joining threads. */
	CHECK_RC(pthread_create(&t[0], NULL, chain, (void *)(uintptr_t)50), 0);
	CHECK_RC(pthread_join(t[0], &r), 0);
	CHECK_EQ((uintptr_t)r, 50);
	printf("chain of 50 nested creates returned %lu\n", (unsigned long)(uintptr_t)r);
	return 0;
}
