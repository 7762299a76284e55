/* thread_prio_rr.c: compat test of SCHED_RR's time slice (issue 17 point 1): main,
 * SCHED_FIFO 99 on one CPU (prio_common.h), creates C (SCHED_OTHER), then A and B
 * (SCHED_RR 20), and blocks in pthread_join. A and B each count up until the other's
 * count is above zero, never blocking; C only records that it ran. Natively B runs first
 * (see thread_prio_yield: created last, at the head of its list), spins until its time
 * slice ends and goes behind A; A counts once, sees B's count and finishes; then B, and C
 * last: "A B C". goshim must give the same: sysmon's preemption (10 ms) is the end of
 * the slice for SCHED_RR (it goes behind its peers), and the SCHED_OTHER thread waits
 * (with SCHED_FIFO they would spin for ever, natively too). Prints the finishing order. */
// compat-procs: 1: the order is defined on one processor (the native run pins itself to one CPU; at GOSHIM_PROCS=4 A and B run at once on two OS threads, as on two CPUs)
#include "prio_common.h"
#include <stdatomic.h>

static atomic_long count[2];
static char fin[4];
static atomic_int nfin;

static void finished(char c)
{
	fin[atomic_fetch_add(&nfin, 1)] = c;
}

static void *spinner(void *arg)
{
	int me = (int)(long)arg;

	do
		atomic_fetch_add(&count[me], 1);
	while (atomic_load(&count[!me]) == 0);
	finished(me ? 'B' : 'A');
	return NULL;
}

static void *other(void *arg)
{
	(void)arg;
	finished('C');
	return NULL;
}

static void create_rr(pthread_t *t, int prio, void *(*fn)(void *), void *arg)
{
	pthread_attr_t a;
	struct sched_param sp = { .sched_priority = prio };

	CHECK_RC(pthread_attr_init(&a), 0);
	CHECK_RC(pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED), 0);
	CHECK_RC(pthread_attr_setschedpolicy(&a, SCHED_RR), 0);
	CHECK_RC(pthread_attr_setschedparam(&a, &sp), 0);
	CHECK_RC(pthread_create(t, &a, fn, arg), 0);
	pthread_attr_destroy(&a);
}

int main(void)
{
	pthread_t t[3];
	int r = prio_setup();

	if (r) {
		printf("main to SCHED_FIFO 99: %s\n", errname(r));
		return 0;
	}
	prio_create(&t[0], 0, other, NULL);
	create_rr(&t[1], 20, spinner, (void *)0L);
	create_rr(&t[2], 20, spinner, (void *)1L);
	for (int i = 0; i < 3; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	printf("finished: %c %c %c\n", fin[0], fin[1], fin[2]);
	return 0;
}
