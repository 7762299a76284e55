/* tsd_keys.c: compat test of thread-specific data (DESIGN.md §2.1, §2.3):
 * pthread_key_create/delete/getspecific/setspecific; values are per thread and survive
 * blocking; a new thread starts with NULL; destructors run at thread exit (by return and
 * by pthread_exit) with the thread's value, not for NULL values, not for deleted keys;
 * a destructor that sets the value again is called again, PTHREAD_DESTRUCTOR_ITERATIONS
 * times in all; a re-created key reads NULL.
 */
#include "compat.h"
#include <limits.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#define N 16
#define NKEYS 64

static pthread_key_t key, sticky, keys[NKEYS];
static atomic_long dtor_sum, dtor_calls, sticky_calls, keys_calls;
static pthread_barrier_t bar;

static void dtor(void *v)
{
	atomic_fetch_add(&dtor_sum, (long)(uintptr_t)v);
	atomic_fetch_add(&dtor_calls, 1);
}

/* Sets its value again every time: glibc calls it PTHREAD_DESTRUCTOR_ITERATIONS times. */
static void sticky_dtor(void *v)
{
	atomic_fetch_add(&sticky_calls, 1);
	CHECK_RC(pthread_setspecific(sticky, v), 0);
}

static void keys_dtor(void *v)
{
	(void)v;
	atomic_fetch_add(&keys_calls, 1);
}

static void *worker(void *arg)
{
	uintptr_t i = (uintptr_t)arg;
	int k;

	CHECK(pthread_getspecific(key) == NULL);
	CHECK_RC(pthread_setspecific(key, (void *)(i + 1)), 0);
	for (k = 0; k < NKEYS; k++)
		CHECK_RC(pthread_setspecific(keys[k], (void *)(i * 1000 + k + 1)), 0);
	/* Everyone has set their values; block a while, then check they are ours. */
	pthread_barrier_wait(&bar);
	usleep(1000);
	pthread_barrier_wait(&bar);
	CHECK_EQ((uintptr_t)pthread_getspecific(key), i + 1);
	for (k = 0; k < NKEYS; k++)
		CHECK_EQ((uintptr_t)pthread_getspecific(keys[k]), i * 1000 + k + 1);
	if (i % 4 == 1)
		CHECK_RC(pthread_setspecific(key, NULL), 0); /* no destructor call */
	if (i % 4 == 2)
		pthread_exit(NULL);
	return NULL;
}

static void *sticky_worker(void *arg)
{
	CHECK_RC(pthread_setspecific(sticky, arg), 0);
	return NULL;
}

static sem_t step;
static pthread_key_t doomed;
static int doomed_calls;
static void doomed_dtor(void *v)
{
	(void)v;
	doomed_calls++;
}

/* Sets a value, waits while main deletes the key, then exits: no destructor. */
static void *doomed_worker(void *arg)
{
	(void)arg;
	CHECK_RC(pthread_setspecific(doomed, (void *)1), 0);
	CHECK_SYS(sem_post(&step));
	usleep(50000);
	return NULL;
}

int main(void)
{
	pthread_t t[N];
	uintptr_t i;
	long want = 0;
	int k;

	CHECK_RC(pthread_key_create(&key, dtor), 0);
	CHECK_RC(pthread_key_create(&sticky, sticky_dtor), 0);
	for (k = 0; k < NKEYS; k++)
		CHECK_RC(pthread_key_create(&keys[k], keys_dtor), 0);
	CHECK_RC(pthread_setspecific(key, (void *)1000), 0); /* main's own value */
	CHECK_RC(pthread_barrier_init(&bar, NULL, N), 0);

	for (i = 0; i < N; i++)
		CHECK_RC(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	for (i = 0; i < N; i++) {
		CHECK_RC(pthread_join(t[i], NULL), 0);
		if (i % 4 != 1)
			want += i + 1;
	}
	CHECK_EQ((uintptr_t)pthread_getspecific(key), 1000);
	printf("destructor calls %ld (sum %ld), %ld calls for %d keys x %d threads\n",
	       atomic_load(&dtor_calls), atomic_load(&dtor_sum), atomic_load(&keys_calls), NKEYS, N);
	CHECK_EQ(dtor_calls, N - N / 4);
	CHECK_EQ(dtor_sum, want);
	CHECK_EQ(keys_calls, NKEYS * N);

	CHECK_RC(pthread_create(&t[0], NULL, sticky_worker, (void *)5), 0);
	CHECK_RC(pthread_join(t[0], NULL), 0);
	printf("re-setting destructor called %ld times (PTHREAD_DESTRUCTOR_ITERATIONS %d)\n",
	       atomic_load(&sticky_calls), PTHREAD_DESTRUCTOR_ITERATIONS);
	CHECK_EQ(sticky_calls, PTHREAD_DESTRUCTOR_ITERATIONS);

	/* A key deleted while a thread holds a value: no destructor at that thread's exit. */
	CHECK_SYS(sem_init(&step, 0, 0));
	CHECK_RC(pthread_key_create(&doomed, doomed_dtor), 0);
	CHECK_RC(pthread_create(&t[0], NULL, doomed_worker, NULL), 0);
	while (sem_wait(&step) != 0)
		CHECK(errno == EINTR);
	CHECK_RC(pthread_key_delete(doomed), 0);
	CHECK_RC(pthread_join(t[0], NULL), 0);
	printf("deleted key's destructor calls: %d\n", doomed_calls);
	CHECK_EQ(doomed_calls, 0);

	/* A key re-created in the same slot reads NULL in a thread that set the old one. */
	pthread_key_t k1, k2;
	CHECK_RC(pthread_key_create(&k1, NULL), 0);
	CHECK_RC(pthread_setspecific(k1, (void *)9), 0);
	CHECK_RC(pthread_key_delete(k1), 0);
	CHECK_RC(pthread_key_create(&k2, NULL), 0);
	printf("re-created key reads NULL: %d\n", pthread_getspecific(k2) == NULL);
	CHECK(pthread_getspecific(k2) == NULL);
	return 0;
}
