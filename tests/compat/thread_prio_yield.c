/* thread_prio_yield.c: compat test of sched_yield by priority (issue 17 point 3): main,
 * SCHED_FIFO 99 on one CPU (prio_common.h), creates E (SCHED_OTHER), D (SCHED_FIFO 10),
 * A and B (SCHED_FIFO 20) and C (SCHED_FIFO 30), then blocks in pthread_join; each
 * thread appends its letter to a shared string and calls sched_yield, five times (B with
 * pthread_yield). Natively C, above every runnable thread, keeps the CPU across its
 * yields; A and B, of equal priority, alternate, B first (glibc creates a thread with its
 * creator's policy, then sets the attribute's: the kernel puts a thread whose priority
 * was lowered at the head of its list, so B, created after A, goes before it); D runs
 * after them and E last: "CCCCCBABABABABADDDDDEEEEE", as goshim must give (a yield goes
 * behind the runnable threads of its own priority only), where before a yield went
 * behind everyone (and C's first yield let E run). */
// compat-cflags: -Wno-deprecated-declarations
// compat-procs: 1: the order is defined on one processor (the native run pins itself to one CPU; at GOSHIM_PROCS=4 four OS threads run the threads at once, as four CPUs would)
#include "prio_common.h"
#include <stdatomic.h>

#define ROUNDS 5
static const struct {
	char name;
	int prio;
} th[] = { { 'E', 0 }, { 'D', 10 }, { 'A', 20 }, { 'B', 20 }, { 'C', 30 } };
#define N (int)(sizeof th / sizeof th[0])

static char seq[N * ROUNDS + 1];
static atomic_int len;

static void *yielder(void *arg)
{
	int i = (int)(long)arg;

	for (int k = 0; k < ROUNDS; k++) {
		seq[atomic_fetch_add(&len, 1)] = th[i].name;
		CHECK_EQ(th[i].name == 'B' ? pthread_yield() : sched_yield(), 0);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[N];
	int r = prio_setup();

	if (r) {
		printf("main to SCHED_FIFO 99: %s\n", errname(r));
		return 0;
	}
	CHECK_EQ(sched_yield(), 0);	/* main alone at 99: goes on */
	for (int i = 0; i < N; i++)
		prio_create(&t[i], th[i].prio, yielder, (void *)(long)i);
	CHECK_EQ(sched_yield(), 0);	/* above every runnable thread: keeps the CPU */
	CHECK_EQ(atomic_load(&len), 0);
	for (int i = 0; i < N; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	printf("yields ran: %s\n", seq);
	return 0;
}
