/* ticker.h: an already running thread's pace while another thread waits in a call
 * (header only, C and C++). ticker_start() starts a thread that counts a tick per
 * millisecond of sleep; it is started first, so with GOSHIM_PROCS=1 it shares the OS
 * thread of every thread started later. ticker_mark() / ticker_since() bracket a
 * wait: natively the ticker goes on during it (ticks > 0); a call that blocked the
 * OS thread instead of parking the green thread would stop it (0 ticks). Only
 * "more than zero" is asserted, never a rate: the machine is shared. With
 * TICKER_COUNTS set in the environment, the counts go to stderr (for figures). */
#ifndef GOSHIM_TICKER_H
#define GOSHIM_TICKER_H
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static unsigned long ticker_ticks;	/* __atomic builtins: C and C++ alike */
static int ticker_stop;
static pthread_t ticker_thread;

static void *ticker_main(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&ticker_stop, __ATOMIC_RELAXED)) {
		usleep(1000);
		__atomic_fetch_add(&ticker_ticks, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static inline void ticker_start(void)
{
	pthread_create(&ticker_thread, NULL, ticker_main, NULL);
	/* Running for sure before the test goes on. */
	while (__atomic_load_n(&ticker_ticks, __ATOMIC_RELAXED) < 2)
		usleep(1000);
}

static inline unsigned long ticker_mark(void)
{
	return __atomic_load_n(&ticker_ticks, __ATOMIC_RELAXED);
}

/* Prints "NAME: ticked" if the ticker went on since mark, else a line that differs
 * from the native run's. */
static inline void ticker_report(const char *name, unsigned long mark)
{
	unsigned long d = __atomic_load_n(&ticker_ticks, __ATOMIC_RELAXED) - mark;
	if (getenv("TICKER_COUNTS"))	/* figures for a report, on stderr */
		fprintf(stderr, "ticks %s: %lu\n", name, d);
	if (d > 0)
		printf("%s: ticked\n", name);
	else
		printf("%s: the running thread stopped (0 ticks during the wait)\n", name);
	fflush(stdout);
}

/* A thread that sends sig to the calling thread every 20 ms until kicker_stop(): a
 * wait that a signal must end gets one even if the first came before the wait began
 * (a loaded machine can delay the caller by more than any fixed sleep). */
struct kicker {
	pthread_t target, thr;
	int sig, done;
};

static void *kicker_main(void *arg)
{
	struct kicker *k = (struct kicker *)arg;
	do {
		usleep(20000);
		if (!__atomic_load_n(&k->done, __ATOMIC_SEQ_CST))
			pthread_kill(k->target, k->sig);
	} while (!__atomic_load_n(&k->done, __ATOMIC_SEQ_CST));
	return NULL;
}

static inline void kicker_start(struct kicker *k, int sig)
{
	k->target = pthread_self();
	k->sig = sig;
	k->done = 0;
	pthread_create(&k->thr, NULL, kicker_main, k);
}

static inline void kicker_stop(struct kicker *k)
{
	__atomic_store_n(&k->done, 1, __ATOMIC_SEQ_CST);
	pthread_join(k->thr, NULL);
}

static inline void ticker_end(void)
{
	__atomic_store_n(&ticker_stop, 1, __ATOMIC_RELAXED);
	pthread_join(ticker_thread, NULL);
}
#endif
