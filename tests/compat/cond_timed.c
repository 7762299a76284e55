/* cond_timed.c: compat test of timed condition waits (DESIGN.md §2.2, §2.6):
 * pthread_cond_timedwait ETIMEDOUT after at least the timeout with the default
 * (realtime) clock and with a condattr CLOCK_MONOTONIC clock, pthread_cond_clockwait on
 * both clocks, a deadline in the past, EINVAL for an unsupported clock and a bad
 * tv_nsec, the mutex held again on every return (an errorcheck mutex proves it), and
 * a wait that is signalled before its deadline returns 0.
 */
#include "compat.h"
#include <stdatomic.h>
#include <unistd.h>

static pthread_mutex_t mu;
static pthread_cond_t rt, mono;

/* The caller holds mu; after the call it must still (errorcheck: relock is EDEADLK). */
static void held(void)
{
	CHECK_RC(pthread_mutex_lock(&mu), EDEADLK);
}

static int flag;
static atomic_int waiting;

static void *signaller(void *arg)
{
	pthread_cond_t *c = arg;

	while (!atomic_load(&waiting))
		usleep(1000);
	usleep(10000);
	pthread_mutex_lock(&mu);
	flag = 1;
	pthread_cond_signal(c);
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* Waits on c with a long deadline while another thread signals; returns the result. */
static int signalled(pthread_cond_t *c, clockid_t clk, int use_clockwait)
{
	pthread_t t;
	struct timespec ts;
	int rc = 0;

	flag = 0;
	atomic_store(&waiting, 0);
	CHECK_RC(pthread_create(&t, NULL, signaller, c), 0);
	ts = deadline_ms(clk, 30000);
	pthread_mutex_lock(&mu);
	atomic_store(&waiting, 1);
	while (!flag && rc == 0)
		rc = use_clockwait ? pthread_cond_clockwait(c, &mu, clk, &ts)
				   : pthread_cond_timedwait(c, &mu, &ts);
	held();
	pthread_mutex_unlock(&mu);
	CHECK_RC(pthread_join(t, NULL), 0);
	return rc;
}

int main(void)
{
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	struct timespec ts;
	clockid_t clk;
	long long start;

	CHECK_RC(pthread_mutexattr_init(&ma), 0);
	CHECK_RC(pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK), 0);
	CHECK_RC(pthread_mutex_init(&mu, &ma), 0);
	CHECK_RC(pthread_cond_init(&rt, NULL), 0);
	CHECK_RC(pthread_condattr_init(&ca), 0);
	CHECK_RC(pthread_condattr_getclock(&ca, &clk), 0);
	CHECK_EQ(clk, CLOCK_REALTIME);
	CHECK_RC(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC), 0);
	CHECK_RC(pthread_condattr_setclock(&ca, CLOCK_PROCESS_CPUTIME_ID), EINVAL);
	CHECK_RC(pthread_condattr_getclock(&ca, &clk), 0);
	CHECK_EQ(clk, CLOCK_MONOTONIC);
	CHECK_RC(pthread_cond_init(&mono, &ca), 0);

	pthread_mutex_lock(&mu);

	start = now_ns(CLOCK_REALTIME);
	ts = deadline_ms(CLOCK_REALTIME, 100);
	CHECK_RC(pthread_cond_timedwait(&rt, &mu, &ts), ETIMEDOUT);
	CHECK_ELAPSED(CLOCK_REALTIME, start, 100);
	held();
	printf("timedwait realtime 100ms: ETIMEDOUT\n");

	start = now_ns(CLOCK_MONOTONIC);
	ts = deadline_ms(CLOCK_MONOTONIC, 100);
	CHECK_RC(pthread_cond_timedwait(&mono, &mu, &ts), ETIMEDOUT);
	CHECK_ELAPSED(CLOCK_MONOTONIC, start, 100);
	held();
	printf("timedwait with condattr monotonic 100ms: ETIMEDOUT\n");

	start = now_ns(CLOCK_MONOTONIC);
	ts = deadline_ms(CLOCK_MONOTONIC, 100);
	CHECK_RC(pthread_cond_clockwait(&rt, &mu, CLOCK_MONOTONIC, &ts), ETIMEDOUT);
	CHECK_ELAPSED(CLOCK_MONOTONIC, start, 100);
	held();
	start = now_ns(CLOCK_REALTIME);
	ts = deadline_ms(CLOCK_REALTIME, 100);
	CHECK_RC(pthread_cond_clockwait(&mono, &mu, CLOCK_REALTIME, &ts), ETIMEDOUT);
	CHECK_ELAPSED(CLOCK_REALTIME, start, 100);
	held();
	printf("clockwait monotonic and realtime 100ms: ETIMEDOUT\n");

	ts.tv_sec = 1;
	ts.tv_nsec = 0;
	CHECK_RC(pthread_cond_timedwait(&rt, &mu, &ts), ETIMEDOUT);
	CHECK_RC(pthread_cond_timedwait(&mono, &mu, &ts), ETIMEDOUT);
	held();
	ts.tv_sec = -1;
	CHECK_RC(pthread_cond_timedwait(&rt, &mu, &ts), ETIMEDOUT);
	held();
	printf("deadline in the past: ETIMEDOUT\n");

	ts = deadline_ms(CLOCK_REALTIME, 100);
	CHECK_RC(pthread_cond_clockwait(&rt, &mu, CLOCK_PROCESS_CPUTIME_ID, &ts), EINVAL);
	held();
	ts.tv_nsec = 1000000000;
	printf("timedwait tv_nsec 1e9: %s\n", errname(pthread_cond_timedwait(&rt, &mu, &ts)));
	held();
	ts.tv_nsec = -1;
	printf("clockwait tv_nsec -1: %s\n",
	       errname(pthread_cond_clockwait(&rt, &mu, CLOCK_MONOTONIC, &ts)));
	held();
	pthread_mutex_unlock(&mu);

	printf("signalled timedwait realtime: %s\n", errname(signalled(&rt, CLOCK_REALTIME, 0)));
	printf("signalled timedwait monotonic: %s\n", errname(signalled(&mono, CLOCK_MONOTONIC, 0)));
	printf("signalled clockwait monotonic: %s\n", errname(signalled(&rt, CLOCK_MONOTONIC, 1)));
	return 0;
}
