/* mutex_timed.c: compat test of pthread_mutex_timedlock/clocklock (DESIGN.md §2.2, §2.6):
 * ETIMEDOUT after at least the timeout (realtime and monotonic), at once for a deadline
 * in the past, EINVAL for an unsupported clock and for a bad tv_nsec when the lock would
 * block, success when the holder lets go in time, and the type rules (errorcheck relock
 * EDEADLK, recursive relock 0) through the timed calls.
 */
#include "compat.h"
#include <stdatomic.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static atomic_int waiting;

static void *contender(void *arg)
{
	struct timespec ts;
	long long start;
	int *res = arg;

	start = now_ns(CLOCK_REALTIME);
	ts = deadline_ms(CLOCK_REALTIME, 100);
	res[0] = pthread_mutex_timedlock(&m, &ts);
	CHECK_ELAPSED(CLOCK_REALTIME, start, 100);

	start = now_ns(CLOCK_MONOTONIC);
	ts = deadline_ms(CLOCK_MONOTONIC, 100);
	res[1] = pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &ts);
	CHECK_ELAPSED(CLOCK_MONOTONIC, start, 100);

	ts = deadline_ms(CLOCK_REALTIME, 100);
	res[2] = pthread_mutex_clocklock(&m, CLOCK_REALTIME, &ts);

	ts.tv_sec = 1; /* 1970 */
	ts.tv_nsec = 0;
	res[3] = pthread_mutex_timedlock(&m, &ts);
	ts.tv_sec = -1;
	res[4] = pthread_mutex_timedlock(&m, &ts);

	ts = deadline_ms(CLOCK_REALTIME, 100);
	res[5] = pthread_mutex_clocklock(&m, CLOCK_PROCESS_CPUTIME_ID, &ts);
	ts.tv_nsec = 1000000000;
	res[6] = pthread_mutex_timedlock(&m, &ts);
	ts.tv_nsec = -1;
	res[7] = pthread_mutex_timedlock(&m, &ts);

	/* This one succeeds: main unlocks after it starts waiting. */
	atomic_store(&waiting, 1);
	ts = deadline_ms(CLOCK_MONOTONIC, 30000);
	res[8] = pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &ts);
	if (res[8] == 0)
		pthread_mutex_unlock(&m);
	return NULL;
}

int main(void)
{
	const char *what[] = { "timedlock 100ms", "clocklock monotonic 100ms",
			       "clocklock realtime 100ms", "timedlock in the past",
			       "timedlock negative tv_sec", "clocklock cputime clock",
			       "timedlock tv_nsec 1e9", "timedlock tv_nsec -1",
			       "clocklock released in time" };
	int res[9], i;
	pthread_mutexattr_t a;
	pthread_t t;
	struct timespec ts;

	CHECK_RC(pthread_mutex_lock(&m), 0);
	CHECK_RC(pthread_create(&t, NULL, contender, res), 0);
	while (!atomic_load(&waiting))
		usleep(1000);
	usleep(20000);
	CHECK_RC(pthread_mutex_unlock(&m), 0);
	CHECK_RC(pthread_join(t, NULL), 0);
	for (i = 0; i < 9; i++)
		printf("%s: %s\n", what[i], errname(res[i]));
	CHECK(res[0] == ETIMEDOUT && res[1] == ETIMEDOUT && res[2] == ETIMEDOUT);
	CHECK(res[3] == ETIMEDOUT && res[4] == ETIMEDOUT && res[5] == EINVAL);
	CHECK(res[6] == EINVAL && res[7] == EINVAL && res[8] == 0);

	/* Uncontended: the lock is taken whatever the deadline (glibc checks it only to
	 * block), except an unsupported clock. */
	ts.tv_sec = 0;
	ts.tv_nsec = 0;
	CHECK_RC(pthread_mutex_timedlock(&m, &ts), 0);
	CHECK_RC(pthread_mutex_unlock(&m), 0);
	ts.tv_nsec = 1000000000;
	printf("uncontended, tv_nsec 1e9: %s\n", errname(pthread_mutex_timedlock(&m, &ts)));
	pthread_mutex_trylock(&m);
	CHECK_RC(pthread_mutex_unlock(&m), 0);
	printf("uncontended, cputime clock: %s\n",
	       errname(pthread_mutex_clocklock(&m, CLOCK_THREAD_CPUTIME_ID, &ts)));
	pthread_mutex_trylock(&m);
	CHECK_RC(pthread_mutex_unlock(&m), 0);

	/* Errorcheck and recursive through the timed calls. */
	CHECK_RC(pthread_mutexattr_init(&a), 0);
	CHECK_RC(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK), 0);
	CHECK_RC(pthread_mutex_init(&m, &a), 0);
	ts = deadline_ms(CLOCK_REALTIME, 50);
	CHECK_RC(pthread_mutex_timedlock(&m, &ts), 0);
	CHECK_RC(pthread_mutex_timedlock(&m, &ts), EDEADLK);
	CHECK_RC(pthread_mutex_unlock(&m), 0);
	CHECK_RC(pthread_mutex_destroy(&m), 0);
	CHECK_RC(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE), 0);
	CHECK_RC(pthread_mutex_init(&m, &a), 0);
	ts = deadline_ms(CLOCK_MONOTONIC, 50);
	CHECK_RC(pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &ts), 0);
	CHECK_RC(pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &ts), 0);
	CHECK_RC(pthread_mutex_unlock(&m), 0);
	CHECK_RC(pthread_mutex_unlock(&m), 0);
	CHECK_RC(pthread_mutex_unlock(&m), EPERM);
	printf("errorcheck timedlock relock: EDEADLK, recursive clocklock relock: 0\n");
	return 0;
}
