/* tls_errno_cached.c: thread identity across parks (DESIGN.md §2.3, issue 4):
 * 64 threads x 200 rounds, compiled -O2 -fPIC, each sets errno, parks in read()
 * on a pipe and checks errno through the pointer gcc kept from before the call.
 * Then 8 threads x 5,000 sched_yield()s, errno checked the same way. Also counts
 * how many times a thread resumed on another OS thread (sched_getcpu is not it:
 * the kernel thread id is, via gettid): preloaded in tp mode (GOSHIM_DEBUG=move=0)
 * and the pinned mode a started green thread stays on its OS thread (0); where
 * started green threads move (the default with FSGSBASE, compat.h's
 * compat_moving) it must be more than 0 at GOSHIM_PROCS > 1.
 */
// compat-cflags: -fPIC
#include "compat.h"
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include "../raw_syscall.h"
#include <unistd.h>

#define THREADS 64
#define ROUNDS 200

static int pipes[THREADS][2];
static atomic_int mismatches, moved;

static void *worker(void *arg)
{
	long id = (long)arg;
	int *e = __errno_location();	/* kept in a register across read() */
	char c;
	for (int i = 0; i < ROUNDS; i++) {
		pid_t before = raw_gettid();
		*e = 1000 + (int)id;
		if (read(pipes[id][0], &c, 1) != 1)
			FAIL("read");
		/* read succeeded: errno must be untouched, through the old pointer too */
		if (*e != 1000 + (int)id || errno != 1000 + (int)id)
			atomic_fetch_add(&mismatches, 1);
		if (raw_gettid() != before)
			atomic_fetch_add(&moved, 1);
	}
	return NULL;
}

#define YIELDERS 8
#define YIELDS 5000

static void *yielder(void *arg)
{
	long id = (long)arg;
	int *e = __errno_location();
	for (int i = 0; i < YIELDS; i++) {
		pid_t before = raw_gettid();
		*e = 2000 + (int)id;
		sched_yield();
		if (*e != 2000 + (int)id || errno != 2000 + (int)id)
			atomic_fetch_add(&mismatches, 1);
		if (raw_gettid() != before)
			atomic_fetch_add(&moved, 1);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[THREADS];
	for (long i = 0; i < THREADS; i++) {
		CHECK_SYS(pipe(pipes[i]));
		CHECK_RC(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	}
	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < THREADS; i++)
			CHECK(write(pipes[i][1], "x", 1) == 1);
	for (int i = 0; i < THREADS; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	pthread_t y[YIELDERS];
	for (long i = 0; i < YIELDERS; i++)
		CHECK_RC(pthread_create(&y[i], NULL, yielder, (void *)i), 0);
	for (int i = 0; i < YIELDERS; i++)
		CHECK_RC(pthread_join(y[i], NULL), 0);
	printf("errno mismatches: %d\n", atomic_load(&mismatches));
	CHECK(atomic_load(&mismatches) == 0);
	if (getenv("GOSHIM_TEST_PRELOADED") && atoi(getenv("GOSHIM_TEST_PRELOADED")) == 1) {
		const char *procs = getenv("GOSHIM_PROCS");
		int move = compat_moving();
		fprintf(stderr, "resumed on another OS thread: %d\n", atomic_load(&moved));
		if (!move)
			CHECK(atomic_load(&moved) == 0);
		else if (procs && atoi(procs) > 1)
			CHECK(atomic_load(&moved) > 0);
	}
	printf("done\n");
	return 0;
}
