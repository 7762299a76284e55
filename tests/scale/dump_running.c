/* dump_running.c: green threads that are running on OS threads of their own when
 * a dump is asked for from outside (GOSHIM_DUMP_SIGNAL, sent by dump_running.sh).
 *
 * With GOSHIM_PROCS=1: main creates the blocker, then the spinner, and joins both.
 * The blocker (created first, run first) reads stdin with a raw syscall, which the
 * shim cannot see: its OS thread stays in the kernel, sysmon hands the P to a new
 * OS thread, and that one starts the spinner, which loops in spin_here without a
 * call. Both are then running, each on its own OS thread, while main waits. The
 * spinner prints "spinning" once. When a byte arrives on stdin the blocker stops
 * the spinner and both end. With the argument "mask" the blocker blocks SIGUSR2
 * first, so that a process-directed USR2 is taken by the spinner's OS thread; with
 * "maskspin" the spinner does, so that the blocker's takes it. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include "../raw_syscall.h"
#include <unistd.h>

static atomic_int stop;
static int mask, maskspin;

static void block_usr2(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static __attribute__((noinline)) void spin_here(void)
{
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		;
}

static void *spinner(void *arg)
{
	if (maskspin)
		block_usr2();
	printf("spinning\n");
	fflush(stdout);
	spin_here();
	return NULL;
}

static __attribute__((noinline)) long raw_read_here(void)
{
	char c;
	return raw_syscall3(SYS_read, 0, (long)&c, 1);
}

static void *blocker(void *arg)
{
	if (mask)
		block_usr2();
	long n = raw_read_here();
	atomic_store(&stop, 1);
	return (void *)n;
}

int main(int argc, char **argv)
{
	mask = argc > 1 && !strcmp(argv[1], "mask");
	maskspin = argc > 1 && !strcmp(argv[1], "maskspin");
	pthread_t s, b;
	void *n;
	pthread_create(&b, NULL, blocker, NULL);
	pthread_create(&s, NULL, spinner, NULL);
	pthread_join(b, &n);
	pthread_join(s, NULL);
	printf("read %ld, done\n", (long)n);
	return 0;
}
