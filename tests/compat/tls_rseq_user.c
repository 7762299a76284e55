/* tls_rseq_user.c: a program that reads glibc's rseq area itself, through
 * __rseq_offset and __rseq_size (<sys/rseq.h>, glibc 2.35), as libraries with
 * restartable sequences of their own do. In every thread, across parks that
 * may move it to another OS thread, the area's cpu_id must be what the kernel
 * keeps there (the CPU the thread runs on: getcpu just before and after agree
 * with it) or say that rseq is not registered (negative: such a program falls
 * back to sched_getcpu), never another CPU. Under goshim's tp mode a green
 * thread's block is not the area the kernel updates: the runtime writes -2
 * ("registration failed") there when a loaded object imports __rseq_offset
 * (sched/tls.c), here the executable. All threads run on the highest CPU
 * allowed, so a block that said CPU 0 fails the test unless that CPU is 0.
 * tls_rseq_dlopen.c: the reader is a library dlopen'ed while threads exist.
 */
#include "compat.h"
#include <sched.h>
#include <stdatomic.h>
#include <sys/rseq.h>
#include <unistd.h>

#define THREADS 8
#define SAMPLES 100

static atomic_int bad;

static int rseq_cpu_id(void)
{
	if (__rseq_size == 0)
		return -1;
	char *tp = __builtin_thread_pointer();
	return ((volatile struct rseq *)(tp + __rseq_offset))->cpu_id;
}

static void sample(void)
{
	unsigned a, b;
	if (getcpu(&a, NULL) != 0)
		FAIL("getcpu: %s", errname(errno));
	int c = rseq_cpu_id();
	if (getcpu(&b, NULL) != 0)
		FAIL("getcpu: %s", errname(errno));
	if (c >= 0 && a == b && c != (int)a)
		atomic_fetch_add(&bad, 1);
}

static void *worker(void *arg)
{
	for (int i = 0; i < SAMPLES; i++) {
		sample();
		if (i % 2)
			sched_yield();
		else
			usleep(50);
	}
	return NULL;
}

int main(void)
{
	cpu_set_t set;
	int top = -1;
	CHECK_EQ(sched_getaffinity(0, sizeof set, &set), 0);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			top = c;
	CPU_ZERO(&set);
	CPU_SET(top, &set);
	CHECK_EQ(sched_setaffinity(0, sizeof set, &set), 0);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		CHECK_RC(pthread_create(&t[i], NULL, worker, NULL), 0);
	sample();
	for (int i = 0; i < THREADS; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	printf("rseq cpu_id read by the program in %d threads and main: %d wrong\n", THREADS,
	       atomic_load(&bad));
	CHECK_EQ(bad, 0);
	return 0;
}
