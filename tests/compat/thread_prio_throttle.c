/* thread_prio_throttle.c: compat test of a real-time thread that never blocks (issue 17
 * point 1): main, SCHED_FIFO 99 on one CPU (prio_common.h), creates O (SCHED_OTHER),
 * which sets a flag, and H (SCHED_FIFO 20), which spins until it sees the flag, then
 * joins both (what it prints does not depend on which ran first). On one CPU H runs first and keeps the CPU; natively the kernel's real-time
 * throttling (sched_rt_runtime_us, 950 ms a second) lets O run after about a second;
 * goshim lets the others of a P run one slice after 950 ms of real-time threads on end.
 * With more CPUs (GOSHIM_PROCS=4) O runs beside H at once. Either way both finish;
 * prints what each saw. (The throttling is what keeps such a program alive: without it
 * the run would hang at GOSHIM_PROCS=1; the library before priorities passes too, as
 * it ignored them.) */
#include "prio_common.h"
#include <stdatomic.h>

static atomic_int flag;
static long spins;

static void *hog(void *arg)
{
	(void)arg;
	while (!atomic_load(&flag))
		spins++;
	return NULL;
}

static void *other(void *arg)
{
	(void)arg;
	atomic_store(&flag, 1);
	return NULL;
}

int main(void)
{
	pthread_t o, h;
	int r = prio_setup();

	if (r) {
		printf("main to SCHED_FIFO 99: %s\n", errname(r));
		return 0;
	}
	prio_create(&o, 0, other, NULL);
	prio_create(&h, 20, hog, NULL);
	CHECK_RC(pthread_join(h, NULL), 0);
	CHECK_RC(pthread_join(o, NULL), 0);
	printf("the SCHED_OTHER thread ran: flag %d; both finished\n", atomic_load(&flag));
	return 0;
}
