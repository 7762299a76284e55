/* compat.h: helpers shared by the compat tests in tests/compat/ (header only).
 *
 * Every check fails loudly: it prints file:line and what it saw on stderr and exits
 * with status 1, natively too. Tests print their results on stdout in a fixed order,
 * so that the runner can compare a preloaded run with the native one byte for byte.
 * Time checks only ever assert a lower bound (elapsed >= requested), never an upper
 * one: the machine is shared and noisy. stdout is made line buffered, so that a test
 * that hangs and is killed still shows how far it got (and a fork copies no pending
 * output); the runner sees the same bytes either way.
 * testenv.h (included) checks at start that a preloaded run has the library, and
 * gives wait_blocked(): wait until another thread is blocked in its call.
 */
#ifndef GOSHIM_COMPAT_H
#define GOSHIM_COMPAT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <string.h>
#include <time.h>
#include "testenv.h"	/* the preload check, wait_blocked() */

__attribute__((constructor)) static void compat_line_buffered(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* The symbolic name of an error number, "0" for success. */
static inline const char *errname(int e)
{
	const char *s;

	if (e == 0)
		return "0";
	s = strerrorname_np(e);
	return s ? s : "E?";
}

#define FAIL(...)                                                       \
	do {                                                            \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);         \
		fprintf(stderr, __VA_ARGS__);                           \
		fputc('\n', stderr);                                    \
		exit(1);                                                \
	} while (0)

#define CHECK(c)                                                        \
	do {                                                            \
		if (!(c))                                               \
			FAIL("check failed: %s", #c);                   \
	} while (0)

/* Two integers that must be equal. */
#define CHECK_EQ(a, b)                                                  \
	do {                                                            \
		long long a_ = (long long)(a), b_ = (long long)(b);     \
		if (a_ != b_)                                           \
			FAIL("%s == %lld, want %s == %lld", #a, a_, #b, b_); \
	} while (0)

/* A call that returns an error number (pthread_*, clock_nanosleep). */
#define CHECK_RC(expr, want)                                            \
	do {                                                            \
		int rc_ = (expr), w_ = (want);                          \
		if (rc_ != w_)                                          \
			FAIL("%s returned %d (%s), want %s", #expr, rc_, \
			     errname(rc_), errname(w_));                \
	} while (0)

/* A call that returns -1 and sets errno on failure. */
#define CHECK_ERRNO(expr, want)                                         \
	do {                                                            \
		errno = 0;                                              \
		long r_ = (long)(expr);                                 \
		int e_ = errno, w_ = (want);                            \
		if (r_ != -1 || e_ != w_)                               \
			FAIL("%s returned %ld errno %s, want -1 errno %s", \
			     #expr, r_, errname(e_), errname(w_));      \
	} while (0)

/* A call that returns 0 on success and -1/errno on failure. */
#define CHECK_SYS(expr)                                                 \
	do {                                                            \
		errno = 0;                                              \
		long r_ = (long)(expr);                                 \
		if (r_ != 0)                                            \
			FAIL("%s returned %ld errno %s, want 0", #expr, \
			     r_, errname(errno));                       \
	} while (0)

static inline long long now_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts) != 0)
		FAIL("clock_gettime(%d) failed", (int)clk);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The absolute time ms milliseconds from now on clock clk. */
static inline struct timespec deadline_ms(clockid_t clk, long ms)
{
	long long t = now_ns(clk) + ms * 1000000LL;
	struct timespec ts = { t / 1000000000LL, t % 1000000000LL };

	return ts;
}

static inline struct timespec ts_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	return ts;
}

/* Fails unless at least ms milliseconds have passed on clk since start (ns). */
#define CHECK_ELAPSED(clk, start, ms)                                   \
	do {                                                            \
		long long el_ = now_ns(clk) - (start);                  \
		if (el_ < (long long)(ms) * 1000000LL)                  \
			FAIL("only %lld ns elapsed, want >= %ld ms",    \
			     el_, (long)(ms));                          \
	} while (0)

/* True when this run is preloaded with started green threads moving between OS
 * threads: the default on x86-64 where the CPU has FSGSBASE (AT_HWCAP2 bit 1),
 * unless GOSHIM_DEBUG has move=0 or pinned=1 (scripts/run-compat.sh sets
 * GOSHIM_TEST_PRELOADED=1 for preloaded runs). aarch64 runs pinned only (there
 * AT_HWCAP2 bit 1 is SVE2). */
static inline int compat_moving(void)
{
#if defined(__x86_64__)
	const char *pre = getenv("GOSHIM_TEST_PRELOADED"), *dbg = getenv("GOSHIM_DEBUG");
	if (!pre || atoi(pre) != 1)
		return 0;
	if (dbg && (strstr(dbg, "move=0") || strstr(dbg, "pinned=1")))
		return 0;
	return (getauxval(AT_HWCAP2) & 2) != 0;
#else
	return 0;
#endif
}

/* True when this run is preloaded in the pinned mode: GOSHIM_DEBUG has pinned=1,
 * or the architecture has no other (aarch64). */
static inline int compat_pinned(void)
{
	const char *pre = getenv("GOSHIM_TEST_PRELOADED");
	if (!pre || atoi(pre) != 1)
		return 0;
#if defined(__x86_64__)
	const char *dbg = getenv("GOSHIM_DEBUG");
	return dbg && strstr(dbg, "pinned=1") != NULL;
#else
	return 1;
#endif
}

#endif
