/* thread_prio_run.c: compat test of the run order by priority (issue 17 point 1): main,
 * SCHED_FIFO 99 on one CPU (prio_common.h), makes six threads runnable while it holds
 * the CPU, then blocks in pthread_join; the threads record the order they run in.
 * First as new threads (created with SCHED_FIFO 10, 30, 50, 20, 40 and one SCHED_OTHER),
 * then as threads blocked in sem_wait on a semaphore each, posted by main in that order.
 * Natively the kernel runs the real-time ones highest first and the SCHED_OTHER one last;
 * so must goshim (a run queue by priority once a real-time policy was used), where
 * before they ran first-come (10 30 50 20 40 0). Prints both orders. */
// compat-procs: 1: the order is defined on one processor (the native run pins itself to one CPU; at GOSHIM_PROCS=4 four OS threads run the threads at once, as four CPUs would)
#include "prio_common.h"
#include <semaphore.h>
#include <stdatomic.h>
#include <unistd.h>

#define N 6
static const int prios[N] = { 10, 30, 50, 20, 40, 0 };

static sem_t sems[N];
static atomic_int ready, done;
static int order[N];

static void record(int prio)
{
	order[atomic_fetch_add(&done, 1)] = prio;
}

static void *fresh(void *arg)
{
	record((int)(long)arg);
	return NULL;
}

static void *sleeper(void *arg)
{
	int i = (int)(long)arg;

	atomic_fetch_add(&ready, 1);
	while (sem_wait(&sems[i]) != 0)
		CHECK(errno == EINTR);
	record(prios[i]);
	return NULL;
}

static void print(const char *what)
{
	printf("%s:", what);
	for (int i = 0; i < N; i++)
		printf(" %d", order[i]);
	printf("\n");
}

int main(void)
{
	pthread_t t[N];
	int r = prio_setup();

	if (r) {
		printf("main to SCHED_FIFO 99: %s\n", errname(r));
		return 0;
	}
	for (int i = 0; i < N; i++)
		prio_create(&t[i], prios[i], fresh, (void *)(long)prios[i]);
	for (int i = 0; i < N; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	print("new threads ran");

	atomic_store(&done, 0);
	for (int i = 0; i < N; i++) {
		CHECK_SYS(sem_init(&sems[i], 0, 0));
		prio_create(&t[i], prios[i], sleeper, (void *)(long)i);
	}
	while (atomic_load(&ready) < N)
		usleep(1000);
	usleep(50000);	/* lets the last to arrive block */
	for (int i = 0; i < N; i++)
		CHECK_SYS(sem_post(&sems[i]));
	CHECK_EQ(atomic_load(&done), 0);	/* main kept the CPU */
	for (int i = 0; i < N; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	print("woken threads ran");
	return 0;
}
