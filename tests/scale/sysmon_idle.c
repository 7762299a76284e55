/* sysmon_idle.c: an idle process, then a stall only sysmon can see.
 *
 * A reader thread waits on a pipe and main reads a line from stdin with read(2)
 * (both parked by the shim; stdio's fgets would block its OS thread instead): no green thread runs, and sysmon_idle.sh counts how often the monitor
 * thread wakes meanwhile. After the line main creates a helper, then reads stdin
 * again with a raw syscall the shim cannot see. With GOSHIM_PROCS=1 the helper (not
 * started yet, so free to move) runs only once sysmon, which the waking OS thread
 * brought back from its park, hands the P to another OS thread: it prints "helper
 * ran", which the script waits for before it sends the line that ends the raw read.
 * The helper then wakes the reader through the pipe. Natively the same output. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include "../raw_syscall.h"
#include <unistd.h>

static int p[2];

static void *reader(void *arg)
{
	char c;
	return (void *)read(p[0], &c, 1);
}

static void *helper(void *arg)
{
	printf("helper ran\n");
	fflush(stdout);
	return (void *)write(p[1], "x", 1);
}

int main(void)
{
	pthread_t r, h;
	char line[64];
	if (pipe(p))
		return 2;
	pthread_create(&r, NULL, reader, NULL);
	printf("idle\n");
	fflush(stdout);
	if (read(0, line, sizeof line) <= 0)	/* parked by the shim */
		return 2;
	pthread_create(&h, NULL, helper, NULL);
	long n = raw_syscall3(SYS_read, 0, (long)line, sizeof line);	/* the shim cannot see it */
	void *rn, *hn;
	pthread_join(h, &hn);
	pthread_join(r, &rn);
	printf("raw read %s, helper wrote %ld, reader read %ld\n", n > 0 ? "ok" : "failed",
	       (long)hn, (long)rn);
	return 0;
}
