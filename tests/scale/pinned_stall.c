/* pinned_stall.c: the liveness cost of keeping started threads on their OS thread
 * (README, Limits), asserted preloaded with GOSHIM_PROCS=1 in tp mode
 * (GOSHIM_DEBUG=move=0) and the pinned mode: a thread blocked in a raw read (the
 * syscall instruction) that the shim cannot see stops every other green thread of
 * its OS thread (here all) until it returns; then all of them go on. Where started
 * green threads move (the default with FSGSBASE) the counting thread goes on.
 * Natively the counting thread runs during the stall. A process the shim does not run (sh, preload removed) writes the byte.
 * Prints "stalled: <counted during the stall> resumed: 1". With the argument
 * "thread" the raw read is made by a second thread while main waits in join.
 * tests/scale/pinned_stall.sh and move_stall.sh run it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include "../raw_syscall.h"
#include <unistd.h>

static atomic_int counter, stop;

static void *counting(void *arg)
{
	while (!atomic_load(&stop)) {
		atomic_fetch_add(&counter, 1);
		usleep(1000);
	}
	return NULL;
}

static int p[2];
static long r;
static int before, during;

static void *reader(void *arg)
{
	char ch;
	before = atomic_load(&counter);
	r = raw_syscall3(SYS_read, p[0], (long)&ch, 1);	/* the shim cannot see this one */
	during = atomic_load(&counter) - before;
	return NULL;
}

int main(int argc, char **argv)
{
	if (pipe(p))
		return 2;
	pthread_t c;
	pthread_create(&c, NULL, counting, NULL);
	while (atomic_load(&counter) < 3)
		usleep(1000);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "env -u LD_PRELOAD sh -c 'sleep 0.3; printf x >&%d' &", p[1]);
	if (system(cmd) != 0)
		return 2;
	if (argc > 1 && !strcmp(argv[1], "thread")) {
		pthread_t t;
		pthread_create(&t, NULL, reader, NULL);
		pthread_join(t, NULL);
	} else {
		reader(NULL);
	}
	usleep(20000);
	int after = atomic_load(&counter);
	atomic_store(&stop, 1);
	pthread_join(c, NULL);
	printf("stalled: %d resumed: %d read: %ld\n", during, after > before + during, r);
	return 0;
}
