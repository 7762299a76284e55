/* thread_self_equal.c: compat test of pthread_self/pthread_equal (DESIGN.md §2.1, §2.3):
 * each thread's pthread_self() is the handle its creator got, stays the same across
 * blocking calls (which may resume it on another OS thread), and differs from every
 * other live thread's; pthread_equal agrees.
 */
#include "compat.h"
#include <unistd.h>

#define N 64

static pthread_t handles[N];
static pthread_t selves[N];
static pthread_barrier_t bar;
static int stable[N];

static void *body(void *arg)
{
	long i = (long)arg;
	pthread_t me = pthread_self();
	int k, ok = 1;

	selves[i] = me;
	/* Block a few times; pthread_self must not change. */
	for (k = 0; k < 5; k++) {
		pthread_barrier_wait(&bar);
		usleep(1000);
		ok &= pthread_equal(me, pthread_self()) != 0;
	}
	stable[i] = ok;
	return NULL;
}

int main(void)
{
	pthread_t main_self = pthread_self();
	int i, j, distinct = 1, match = 1, stable_all = 1;

	CHECK_RC(pthread_barrier_init(&bar, NULL, N), 0);
	for (i = 0; i < N; i++)
		CHECK_RC(pthread_create(&handles[i], NULL, body, (void *)(long)i), 0);
	for (i = 0; i < N; i++)
		CHECK_RC(pthread_join(handles[i], NULL), 0);
	for (i = 0; i < N; i++) {
		match &= pthread_equal(handles[i], selves[i]) != 0;
		stable_all &= stable[i];
		distinct &= !pthread_equal(selves[i], main_self);
		for (j = 0; j < i; j++)
			distinct &= !pthread_equal(selves[i], selves[j]);
	}
	printf("self equals creator's handle %d, stable across blocking %d, all distinct %d\n",
	       match, stable_all, distinct);
	printf("main self stable %d, equal to itself %d\n",
	       pthread_equal(main_self, pthread_self()) != 0,
	       pthread_equal(pthread_self(), pthread_self()) != 0);
	CHECK(match && stable_all && distinct);
	CHECK(pthread_equal(main_self, pthread_self()));
	return 0;
}
