/* shim/time.c: the sleep family (DESIGN.md §2.6). A sleeping G parks on its
 * M's timer heap; a signal handler ends the sleep with EINTR and the remaining
 * time, as natively. Each is a cancellation point. Clocks other than
 * CLOCK_REALTIME and CLOCK_MONOTONIC go to glibc (and block the OS thread). */
#include <errno.h>
#include <time.h>
#include <unistd.h>
#include "shim.h"


/* CLOCK_THREAD_CPUTIME_ID in a G and the clocks of pthread_getcpuclockid
 * read the G's own CPU time (sched/cpuclock.c); the rest is glibc's. CPU
 * clocks are the negative ids and 2, 3; the fast path is one comparison. */
GS_EXPORT int clock_gettime(clockid_t clock, struct timespec *ts)
{
	if (likely(clock >= 0 && clock != CLOCK_THREAD_CPUTIME_ID))
		return REAL(clock_gettime)(clock, ts);
	int r = gs_cpuclock_read(clock, ts);
	if (r > 0)
		return REAL(clock_gettime)(clock, ts);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 0;
}

/* Sleeps the calling G until the monotonic deadline; on EINTR fills rem (if
 * given) with what was left. Returns 0 or an error number. */
static int sleep_until(struct g *g, uint64_t deadline, struct timespec *rem)
{
	gs_testcancel(g);
	int r = gs_sleep_until(deadline);
	if (r == -EINTR) {
		gs_testcancel(g);
		if (rem) {
			uint64_t now = gs_nanotime();
			uint64_t left = deadline > now ? deadline - now : 0;
			rem->tv_sec = (time_t)(left / 1000000000u);
			rem->tv_nsec = (long)(left % 1000000000u);
		}
		return EINTR;
	}
	return r ? -r : 0;
}

static bool bad_ts(const struct timespec *ts)
{
	return ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L || ts->tv_sec < 0;
}

static uint64_t after(const struct timespec *ts)
{
	return gs_nanotime() + (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

GS_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	struct g *g = gs_self();
	if (!g)
		return REAL(nanosleep)(req, rem);
	if (bad_ts(req)) {
		errno = EINVAL;
		return -1;
	}
	int r = sleep_until(g, after(req), rem);
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}

GS_EXPORT int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem)
{
	struct g *g = gs_self();
	if (!g || (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC))
		return REAL(clock_nanosleep)(clock, flags, req, rem);
	if (bad_ts(req))	/* Linux: EINVAL for a negative time, absolute or not */
		return EINVAL;
	if (flags & TIMER_ABSTIME)
		return sleep_until(g, gs_deadline(clock, req), NULL);
	return sleep_until(g, after(req), rem);
}

GS_EXPORT unsigned int sleep(unsigned int s)
{
	struct g *g = gs_self();
	if (!g)
		return REAL(sleep)(s);
	struct timespec ts = { (time_t)s, 0 }, rem;
	int saved = errno;
	if (sleep_until(g, after(&ts), &rem) == EINTR) {
		errno = EINTR;	/* glibc's sleep leaves nanosleep's errno */
		return (unsigned int)rem.tv_sec;
	}
	errno = saved;
	return 0;
}

GS_EXPORT int usleep(useconds_t us)
{
	struct g *g = gs_self();
	if (!g)
		return REAL(usleep)(us);
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
	int r = sleep_until(g, after(&ts), NULL);
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}
