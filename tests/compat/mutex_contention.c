/* mutex_contention.c: compat test of a contended mutex (DESIGN.md §2.2): N threads x M
 * increments under one mutex give an exact total; the same with critical sections
 * that sleep (so waiters really park), and with trylock-and-yield loops; mutual
 * exclusion is checked inside the critical section, not just by the total.
 */
#include "compat.h"
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#define N 16
#define M 20000
#define SLEEPERS 8
#define SLEEPS 20

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static long total;
static atomic_int inside, overlaps;

static void enter(void)
{
	if (atomic_fetch_add(&inside, 1) != 0)
		atomic_fetch_add(&overlaps, 1);
}

static void leave(void)
{
	atomic_fetch_sub(&inside, 1);
}

static void *adder(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < M; i++) {
		pthread_mutex_lock(&m);
		enter();
		total++;
		leave();
		pthread_mutex_unlock(&m);
	}
	return NULL;
}

static void *sleeper(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < SLEEPS; i++) {
		pthread_mutex_lock(&m);
		enter();
		total++;
		usleep(500);
		leave();
		pthread_mutex_unlock(&m);
	}
	return NULL;
}

static void *tryer(void *arg)
{
	int i, rc;

	(void)arg;
	for (i = 0; i < M / 10; i++) {
		while ((rc = pthread_mutex_trylock(&m)) == EBUSY)
			sched_yield();
		CHECK_RC(rc, 0);
		enter();
		total++;
		leave();
		pthread_mutex_unlock(&m);
	}
	return NULL;
}

static void run(const char *name, void *(*fn)(void *), int n, long want)
{
	pthread_t t[N];
	int i;

	total = 0;
	for (i = 0; i < n; i++)
		CHECK_RC(pthread_create(&t[i], NULL, fn, NULL), 0);
	for (i = 0; i < n; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	printf("%s: total %ld, overlaps %d\n", name, total, atomic_load(&overlaps));
	CHECK_EQ(total, want);
	CHECK_EQ(overlaps, 0);
}

int main(void)
{
	run("lock/unlock", adder, N, (long)N * M);
	run("sleeping holders", sleeper, SLEEPERS, SLEEPERS * SLEEPS);
	run("trylock+yield", tryer, 4, 4L * (M / 10));
	return 0;
}
