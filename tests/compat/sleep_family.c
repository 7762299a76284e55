/* sleep_family.c: compat test of the sleep family (DESIGN.md §2.6): sleep, usleep,
 * nanosleep, clock_nanosleep relative and TIMER_ABSTIME on CLOCK_REALTIME and
 * CLOCK_MONOTONIC: return values, elapsed time at least the request (never an upper
 * bound), errno untouched on success, EINVAL for a bad tv_nsec, a negative tv_sec or
 * an unsupported clock, zero and past requests returning at once, and ten threads
 * sleeping together.
 */
#include "compat.h"
#include <unistd.h>

#define ERRNO_MARK 12345

static void *sleeper(void *arg)
{
	struct timespec ts = ts_ms(100);
	long long start = now_ns(CLOCK_MONOTONIC);

	(void)arg;
	errno = ERRNO_MARK;
	CHECK_EQ(nanosleep(&ts, NULL), 0);
	CHECK_EQ(errno, ERRNO_MARK);
	CHECK_ELAPSED(CLOCK_MONOTONIC, start, 100);
	return NULL;
}

int main(void)
{
	struct timespec ts, rem;
	long long start;
	pthread_t t[10];
	int i;

	start = now_ns(CLOCK_MONOTONIC);
	errno = ERRNO_MARK;
	CHECK_EQ(sleep(1), 0);
	CHECK_EQ(errno, ERRNO_MARK);
	CHECK_ELAPSED(CLOCK_MONOTONIC, start, 1000);
	CHECK_EQ(sleep(0), 0);
	printf("sleep(1): 0, sleep(0): 0\n");

	start = now_ns(CLOCK_MONOTONIC);
	errno = ERRNO_MARK;
	CHECK_EQ(usleep(100000), 0);
	CHECK_EQ(errno, ERRNO_MARK);
	CHECK_ELAPSED(CLOCK_MONOTONIC, start, 100);
	CHECK_EQ(usleep(0), 0);
	printf("usleep(100000): 0, usleep(0): 0\n");

	start = now_ns(CLOCK_MONOTONIC);
	ts = ts_ms(50);
	rem.tv_sec = 77;
	errno = ERRNO_MARK;
	CHECK_EQ(nanosleep(&ts, &rem), 0);
	CHECK_EQ(errno, ERRNO_MARK);
	CHECK_ELAPSED(CLOCK_MONOTONIC, start, 50);
	ts = ts_ms(0);
	CHECK_SYS(nanosleep(&ts, NULL));
	ts.tv_sec = 0;
	ts.tv_nsec = 1000000000;
	CHECK_ERRNO(nanosleep(&ts, NULL), EINVAL);
	ts.tv_nsec = -1;
	CHECK_ERRNO(nanosleep(&ts, &rem), EINVAL);
	ts.tv_sec = -1;
	ts.tv_nsec = 0;
	CHECK_ERRNO(nanosleep(&ts, NULL), EINVAL);
	printf("nanosleep 50ms: 0; zero: 0; tv_nsec 1e9, -1, tv_sec -1: EINVAL\n");

	/* clock_nanosleep returns the error number and leaves errno alone. */
	clockid_t clocks[] = { CLOCK_REALTIME, CLOCK_MONOTONIC };
	for (i = 0; i < 2; i++) {
		clockid_t c = clocks[i];

		errno = ERRNO_MARK;
		start = now_ns(c);
		ts = ts_ms(50);
		CHECK_RC(clock_nanosleep(c, 0, &ts, &rem), 0);
		CHECK_ELAPSED(c, start, 50);
		start = now_ns(c);
		ts = deadline_ms(c, 50);
		CHECK_RC(clock_nanosleep(c, TIMER_ABSTIME, &ts, NULL), 0);
		CHECK_ELAPSED(c, start, 50);
		CHECK(now_ns(c) >= ts.tv_sec * 1000000000LL + ts.tv_nsec);
		ts.tv_sec = 1; /* long past */
		ts.tv_nsec = 0;
		CHECK_RC(clock_nanosleep(c, TIMER_ABSTIME, &ts, NULL), 0);
		ts.tv_nsec = 1000000000;
		CHECK_RC(clock_nanosleep(c, 0, &ts, NULL), EINVAL);
		CHECK_RC(clock_nanosleep(c, TIMER_ABSTIME, &ts, NULL), EINVAL);
		ts.tv_sec = -1;
		ts.tv_nsec = 0;
		CHECK_RC(clock_nanosleep(c, 0, &ts, NULL), EINVAL);
		CHECK_EQ(errno, ERRNO_MARK);
		printf("clock_nanosleep %s: relative 0, absolute 0, past 0, bad tv_nsec EINVAL, "
		       "negative EINVAL\n", c == CLOCK_REALTIME ? "realtime" : "monotonic");
	}
	ts = ts_ms(10);
	printf("clock_nanosleep thread cputime clock: %s\n",
	       errname(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &ts, NULL)));
	printf("clock_nanosleep bad clock 99: %s\n", errname(clock_nanosleep(99, 0, &ts, NULL)));
	CHECK_EQ(errno, ERRNO_MARK);

	for (i = 0; i < 10; i++)
		CHECK_RC(pthread_create(&t[i], NULL, sleeper, NULL), 0);
	for (i = 0; i < 10; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	printf("10 threads slept 100ms each\n");
	return 0;
}
