/* sleep_eintr.c: compat test of sleeps interrupted by a signal (DESIGN.md §2.6, §2.7):
 * with a SIGALRM handler installed without SA_RESTART, nanosleep returns -1/EINTR with
 * the remaining time > 0 and <= the request, clock_nanosleep returns EINTR (relative:
 * with the remainder; absolute), usleep -1/EINTR, sleep() returns the unslept seconds
 * (> 0, <= requested; errno is printed); with SA_RESTART nanosleep is still EINTR,
 * as Linux never restarts it. A repeating 100 ms timer makes the signal certain to come
 * while the call sleeps; the handler runs in this (the only) thread.
 */
#include "compat.h"
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <unistd.h>

static atomic_int alarms;

static void on_alarm(int sig)
{
	(void)sig;
	atomic_fetch_add(&alarms, 1);
}

static void handler(int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGALRM, &sa, NULL));
}

static void timer(int on)
{
	struct itimerval it = { { 0, on ? 100000 : 0 }, { 0, on ? 100000 : 0 } };

	CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
}

static long long ts_ns(struct timespec ts)
{
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void)
{
	struct timespec req, rem;
	unsigned left;
	int rc, before, err;

	handler(0);

	timer(1);
	req = ts_ms(5000);
	rem.tv_sec = -1;
	CHECK_ERRNO(nanosleep(&req, &rem), EINTR);
	timer(0);
	printf("nanosleep: EINTR, remaining > 0 %d, <= requested %d\n",
	       ts_ns(rem) > 0, ts_ns(rem) <= ts_ns(req));
	CHECK(ts_ns(rem) > 0 && ts_ns(rem) <= ts_ns(req));

	timer(1);
	rem.tv_sec = -1;
	rc = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem);
	timer(0);
	printf("clock_nanosleep relative: %s, remaining > 0 %d, <= requested %d\n", errname(rc),
	       ts_ns(rem) > 0, ts_ns(rem) <= ts_ns(req));
	CHECK(rc == EINTR && ts_ns(rem) > 0 && ts_ns(rem) <= ts_ns(req));

	timer(1);
	req = deadline_ms(CLOCK_REALTIME, 5000);
	rc = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &req, NULL);
	timer(0);
	printf("clock_nanosleep absolute: %s\n", errname(rc));
	CHECK_RC(rc, EINTR);

	timer(1);
	CHECK_ERRNO(usleep(5000000), EINTR);
	timer(0);
	printf("usleep: EINTR\n");

	timer(1);
	errno = 4321;
	left = sleep(5);
	err = errno;
	timer(0);
	printf("sleep(5): unslept seconds > 0 %d, <= 5 %d, errno %s\n", left > 0, left <= 5,
	       err == 4321 ? "kept" : errname(err));
	CHECK(left > 0 && left <= 5);

	handler(SA_RESTART);
	timer(1);
	req = ts_ms(5000);
	CHECK_ERRNO(nanosleep(&req, &rem), EINTR);
	timer(0);
	printf("nanosleep with SA_RESTART: EINTR\n");

	before = atomic_load(&alarms);
	printf("handler ran: %d\n", before >= 6);
	CHECK(before >= 6);
	return 0;
}
