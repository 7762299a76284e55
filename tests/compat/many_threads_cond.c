/* many_threads_cond.c: compat test of many waiters on one condvar (DESIGN.md §2.2):
 * 1000 threads wait on one condition variable; once all are waiting, one broadcast
 * wakes every one of them (exact count); then they are joined.
 */
#include "compat.h"
#include <limits.h>

#define N 1000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t all_in = PTHREAD_COND_INITIALIZER;
static int waiting, go, woke;

static void *waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	if (++waiting == N)
		pthread_cond_signal(&all_in);
	while (!go)
		pthread_cond_wait(&cv, &mu);
	woke++;
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(void)
{
	static pthread_t t[N];
	pthread_attr_t a;
	int i;

	CHECK_RC(pthread_attr_init(&a), 0);
	/* 64 KiB, or the least the architecture allows (128 KiB on aarch64). */
	CHECK_RC(pthread_attr_setstacksize(&a, 64 * 1024 > PTHREAD_STACK_MIN ? 64 * 1024 : PTHREAD_STACK_MIN), 0);
	for (i = 0; i < N; i++)
		CHECK_RC(pthread_create(&t[i], &a, waiter, NULL), 0);
	pthread_mutex_lock(&mu);
	while (waiting < N)
		pthread_cond_wait(&all_in, &mu);
	printf("%d threads waiting\n", waiting);
	go = 1;
	CHECK_RC(pthread_cond_broadcast(&cv), 0);
	pthread_mutex_unlock(&mu);
	for (i = 0; i < N; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	printf("%d threads woke\n", woke);
	CHECK_EQ(woke, N);
	return 0;
}
