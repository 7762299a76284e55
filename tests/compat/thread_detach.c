/* thread_detach.c: compat test of detached threads and the join error paths
 * (DESIGN.md §2.1): detached threads run to completion; join of a detached thread
 * -> EINVAL; detach twice -> EINVAL; self-join -> EDEADLK (main and a thread);
 * tryjoin of a running thread -> EBUSY; timedjoin/clockjoin -> ETIMEDOUT, then
 * success; clockjoin with an unsupported clock -> EINVAL.
 */
#include "compat.h"
#include <semaphore.h>
#include <stdint.h>
#include <unistd.h>

#define NDET 50

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int finished;
/* A thread that holds until released: its own semaphore, so that a release meant for
 * one thread is never taken by another. */
struct hold {
	sem_t sem;
	void *ret;
};

static struct hold h1, h2, h3, h4;

/* Waits on its semaphore so that the thread is surely alive while main joins it. */
static void *held(void *arg)
{
	struct hold *h = arg;

	while (sem_wait(&h->sem) != 0)
		CHECK(errno == EINTR);
	return h->ret;
}

static void *counted(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	finished++;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *detach_self(void *arg)
{
	CHECK_RC(pthread_detach(pthread_self()), 0);
	return counted(arg);
}

static void *self_join(void *arg)
{
	(void)arg;
	CHECK_RC(pthread_join(pthread_self(), NULL), EDEADLK);
	return (void *)7;
}

int main(void)
{
	pthread_attr_t a;
	pthread_t t;
	struct timespec ts;
	void *r;
	int i;

	CHECK_SYS(sem_init(&h1.sem, 0, 0));
	CHECK_SYS(sem_init(&h2.sem, 0, 0));
	CHECK_SYS(sem_init(&h3.sem, 0, 0));
	CHECK_SYS(sem_init(&h4.sem, 0, 0));
	h3.ret = (void *)42;
	h4.ret = (void *)43;

	/* Detached threads (by pthread_detach, by attribute, by themselves) all finish. */
	CHECK_SYS(pthread_attr_init(&a));
	CHECK_RC(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED), 0);
	for (i = 0; i < NDET; i++) {
		CHECK_RC(pthread_create(&t, NULL, counted, NULL), 0);
		CHECK_RC(pthread_detach(t), 0);
		CHECK_RC(pthread_create(&t, &a, counted, NULL), 0);
		CHECK_RC(pthread_create(&t, NULL, detach_self, NULL), 0);
	}
	pthread_mutex_lock(&mu);
	while (finished < 3 * NDET)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	printf("%d detached threads finished\n", finished);

	/* A live detached thread: join and a second detach are EINVAL. */
	CHECK_RC(pthread_create(&t, NULL, held, &h1), 0);
	CHECK_RC(pthread_detach(t), 0);
	CHECK_RC(pthread_join(t, NULL), EINVAL);
	CHECK_RC(pthread_detach(t), EINVAL);
	CHECK_RC(pthread_tryjoin_np(t, NULL), EBUSY); /* glibc checks liveness first */
	CHECK_SYS(sem_post(&h1.sem));
	printf("join of detached: EINVAL, detach twice: EINVAL\n");

	/* Created detached by attribute, still alive. */
	CHECK_RC(pthread_create(&t, &a, held, &h2), 0);
	CHECK_RC(pthread_join(t, NULL), EINVAL);
	CHECK_SYS(sem_post(&h2.sem));
	pthread_attr_destroy(&a);

	/* Self-join, in main and in a thread. */
	CHECK_RC(pthread_join(pthread_self(), NULL), EDEADLK);
	CHECK_RC(pthread_create(&t, NULL, self_join, NULL), 0);
	CHECK_RC(pthread_join(t, &r), 0);
	CHECK_EQ((uintptr_t)r, 7);
	printf("self-join: EDEADLK\n");

	/* tryjoin and timedjoin of a running thread, then success. */
	CHECK_RC(pthread_create(&t, NULL, held, &h3), 0);
	CHECK_RC(pthread_tryjoin_np(t, NULL), EBUSY);
	long long start = now_ns(CLOCK_REALTIME);
	ts = deadline_ms(CLOCK_REALTIME, 100);
	CHECK_RC(pthread_timedjoin_np(t, NULL, &ts), ETIMEDOUT);
	CHECK_ELAPSED(CLOCK_REALTIME, start, 100);
	ts.tv_sec = 0; /* long past */
	ts.tv_nsec = 0;
	CHECK_RC(pthread_timedjoin_np(t, NULL, &ts), ETIMEDOUT);
	start = now_ns(CLOCK_MONOTONIC);
	ts = deadline_ms(CLOCK_MONOTONIC, 50);
	CHECK_RC(pthread_clockjoin_np(t, NULL, CLOCK_MONOTONIC, &ts), ETIMEDOUT);
	CHECK_ELAPSED(CLOCK_MONOTONIC, start, 50);
	CHECK_RC(pthread_clockjoin_np(t, NULL, CLOCK_PROCESS_CPUTIME_ID, &ts), EINVAL);
	CHECK_RC(pthread_tryjoin_np(t, NULL), EBUSY);
	CHECK_SYS(sem_post(&h3.sem));
	ts = deadline_ms(CLOCK_REALTIME, 30000);
	CHECK_RC(pthread_timedjoin_np(t, &r, &ts), 0);
	CHECK_EQ((uintptr_t)r, 42);
	printf("tryjoin: EBUSY, timedjoin: ETIMEDOUT, clockjoin: ETIMEDOUT, then joined 42\n");

	/* tryjoin succeeds once the thread has finished. */
	CHECK_RC(pthread_create(&t, NULL, held, &h4), 0);
	CHECK_SYS(sem_post(&h4.sem));
	for (;;) {
		int rc = pthread_tryjoin_np(t, &r);

		if (rc == 0)
			break;
		CHECK_RC(rc, EBUSY);
		usleep(1000);
	}
	CHECK_EQ((uintptr_t)r, 43);
	printf("tryjoin of a finished thread: 43\n");
	return 0;
}
