/* prio_common.h: what the priority-order compat tests share (thread_prio_run,
 * thread_prio_wakeall, thread_prio_yield): main pins itself, and so every thread it
 * creates, to one CPU and raises itself to SCHED_FIFO 99, so that natively the kernel
 * runs the program's threads one at a time by priority; threads are created with
 * explicit SCHED_FIFO priorities (0: SCHED_OTHER). Without CAP_SYS_NICE the raise fails
 * with EPERM both ways: the test prints that and stops. */
#ifndef PRIO_COMMON_H
#define PRIO_COMMON_H
#include "compat.h"
#include <sched.h>

/* 0, or the error of raising main to SCHED_FIFO 99 (printed by the caller). */
static int prio_setup(void)
{
	cpu_set_t set;
	int cpu = 0;
	struct sched_param sp = { .sched_priority = 99 };

	CHECK_SYS(sched_getaffinity(0, sizeof set, &set));
	while (!CPU_ISSET(cpu, &set))
		cpu++;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	CHECK_SYS(sched_setaffinity(0, sizeof set, &set));
	return pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
}

/* Creates a thread with SCHED_FIFO prio (SCHED_OTHER for 0). */
static void prio_create(pthread_t *t, int prio, void *(*fn)(void *), void *arg)
{
	pthread_attr_t a;
	struct sched_param sp = { .sched_priority = prio };

	CHECK_RC(pthread_attr_init(&a), 0);
	CHECK_RC(pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED), 0);
	CHECK_RC(pthread_attr_setschedpolicy(&a, prio ? SCHED_FIFO : SCHED_OTHER), 0);
	CHECK_RC(pthread_attr_setschedparam(&a, &sp), 0);
	CHECK_RC(pthread_create(t, &a, fn, arg), 0);
	pthread_attr_destroy(&a);
}
#endif
