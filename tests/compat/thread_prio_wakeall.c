/* thread_prio_wakeall.c: compat test of wakes of all by priority (issue 17 point 2):
 * six threads, SCHED_FIFO 10, 40, 20, 50, 30 and one SCHED_OTHER, wait in
 * pthread_cond_wait, then in pthread_barrier_wait, then in pthread_rwlock_rdlock; main,
 * SCHED_FIFO 99 on one CPU (prio_common.h), releases them all at once
 * (pthread_cond_broadcast; the barrier's last arrival; pthread_rwlock_unlock of its write
 * lock) and blocks in pthread_join; the threads record the order they run in. Natively
 * the real-time ones run highest first and the SCHED_OTHER one last; so must goshim
 * (the woken made runnable by priority into a run queue by priority), where before they
 * ran in queue order. Prints the order of each kind. */
// compat-procs: 1: the order is defined on one processor (the native run pins itself to one CPU; at GOSHIM_PROCS=4 four OS threads run the woken threads at once, as four CPUs would)
#include "prio_common.h"
#include <stdatomic.h>
#include <unistd.h>

#define N 6
static const int prios[N] = { 10, 40, 20, 50, 30, 0 };

enum { COND, BARRIER, RWLOCK, NKINDS };
static const char *const names[NKINDS] = { "cond_broadcast", "barrier", "rwlock unlock" };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t bar;
static int go;				/* mu */
static atomic_int ready, done;
static int order[N];

static void record(int prio)
{
	order[atomic_fetch_add(&done, 1)] = prio;
}

static void *waiter(void *arg)
{
	int kind = (int)((long)arg >> 8), prio = (int)((long)arg & 0xff);

	switch (kind) {
	case COND:
		CHECK_RC(pthread_mutex_lock(&mu), 0);
		atomic_fetch_add(&ready, 1);
		while (!go)
			CHECK_RC(pthread_cond_wait(&cv, &mu), 0);
		record(prio);
		CHECK_RC(pthread_mutex_unlock(&mu), 0);
		break;
	case BARRIER: {
		atomic_fetch_add(&ready, 1);
		int r = pthread_barrier_wait(&bar);

		CHECK(r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD);
		record(prio);
		break;
	}
	case RWLOCK:
		atomic_fetch_add(&ready, 1);
		CHECK_RC(pthread_rwlock_rdlock(&rw), 0);
		record(prio);
		CHECK_RC(pthread_rwlock_unlock(&rw), 0);
		break;
	}
	return NULL;
}

static void one(int kind)
{
	pthread_t t[N];

	atomic_store(&ready, 0);
	atomic_store(&done, 0);
	if (kind == RWLOCK)
		CHECK_RC(pthread_rwlock_wrlock(&rw), 0);
	for (int i = 0; i < N; i++)
		prio_create(&t[i], prios[i], waiter, (void *)(long)(kind << 8 | prios[i]));
	while (atomic_load(&ready) < N)
		usleep(1000);
	usleep(50000);	/* lets the last to arrive block */
	switch (kind) {
	case COND:
		CHECK_RC(pthread_mutex_lock(&mu), 0);
		go = 1;
		CHECK_RC(pthread_cond_broadcast(&cv), 0);
		CHECK_RC(pthread_mutex_unlock(&mu), 0);
		break;
	case BARRIER: {
		int r = pthread_barrier_wait(&bar);

		CHECK(r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD);
		break;
	}
	case RWLOCK:
		CHECK_RC(pthread_rwlock_unlock(&rw), 0);
		break;
	}
	CHECK_EQ(atomic_load(&done), 0);	/* main kept the CPU */
	for (int i = 0; i < N; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	printf("%s woke:", names[kind]);
	for (int i = 0; i < N; i++)
		printf(" %d", order[i]);
	printf("\n");
}

int main(void)
{
	int r = prio_setup();

	if (r) {
		printf("main to SCHED_FIFO 99: %s\n", errname(r));
		return 0;
	}
	CHECK_RC(pthread_barrier_init(&bar, NULL, N + 1), 0);
	for (int k = 0; k < NKINDS; k++)
		one(k);
	return 0;
}
