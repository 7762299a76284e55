/* thread_prio_wake.c: compat test of wake order by priority (issue 17 point 1): five
 * threads created with PTHREAD_EXPLICIT_SCHED, SCHED_FIFO priorities 10, 40, 20, 50, 30
 * in that order, and a sixth with SCHED_OTHER, block in sem_wait, then in
 * pthread_mutex_lock, then in pthread_cond_wait; main releases them one at a time
 * (sem_post; the mutex handed on by each unlock; pthread_cond_signal) and waits for each
 * to record its priority before the next. Natively the kernel wakes the real-time
 * futex waiter of highest priority first and SCHED_OTHER ones after them; so does
 * goshim's green futex once the program has used a real-time policy. Without
 * CAP_SYS_NICE the creates fail with EPERM both ways (printed). The threads only block,
 * never spin (natively they do run SCHED_FIFO). Prints the order of each kind. */
#include "compat.h"
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <unistd.h>

#define N 6
static const int prios[N] = { 10, 40, 20, 50, 30, 0 };	/* 0: SCHED_OTHER */

enum { SEM, MUTEX, COND, NKINDS };
static const char *const names[NKINDS] = { "sem_post", "mutex unlock", "cond_signal" };

static sem_t sem;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int tokens;			/* cmu */
static atomic_int ready, done;
static int order[N];

static void record(int prio)
{
	order[atomic_load(&done)] = prio;
	atomic_fetch_add(&done, 1);
}

static void *waiter(void *arg)
{
	int kind = (int)((long)arg >> 8), prio = (int)((long)arg & 0xff);

	switch (kind) {
	case SEM:
		atomic_fetch_add(&ready, 1);
		while (sem_wait(&sem) != 0)
			CHECK(errno == EINTR);
		record(prio);
		break;
	case MUTEX:
		atomic_fetch_add(&ready, 1);
		CHECK_RC(pthread_mutex_lock(&mu), 0);
		record(prio);
		CHECK_RC(pthread_mutex_unlock(&mu), 0);
		break;
	case COND:
		CHECK_RC(pthread_mutex_lock(&cmu), 0);
		atomic_fetch_add(&ready, 1);
		while (tokens == 0)
			CHECK_RC(pthread_cond_wait(&cv, &cmu), 0);
		tokens--;
		record(prio);
		CHECK_RC(pthread_mutex_unlock(&cmu), 0);
		break;
	}
	return NULL;
}

static void wait_done(int n)
{
	while (atomic_load(&done) < n)
		usleep(1000);
}

static int one(int kind)
{
	pthread_t t[N];
	int made = 0, r = 0;

	atomic_store(&ready, 0);
	atomic_store(&done, 0);
	if (kind == MUTEX)
		CHECK_RC(pthread_mutex_lock(&mu), 0);
	for (int i = 0; i < N; i++) {
		pthread_attr_t a;
		struct sched_param sp = { .sched_priority = prios[i] };

		CHECK_RC(pthread_attr_init(&a), 0);
		CHECK_RC(pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED), 0);
		CHECK_RC(pthread_attr_setschedpolicy(&a, prios[i] ? SCHED_FIFO : SCHED_OTHER), 0);
		CHECK_RC(pthread_attr_setschedparam(&a, &sp), 0);
		r = pthread_create(&t[i], &a, waiter, (void *)(long)(kind << 8 | prios[i]));
		pthread_attr_destroy(&a);
		if (r)
			break;
		made++;
	}
	if (r) {
		printf("%s: create: %s\n", names[kind], errname(r));
	} else {
		while (atomic_load(&ready) < N)
			usleep(1000);
		usleep(100000); /* lets the last to arrive block */
	}
	/* Releases them one at a time (all that were made, also after a failure). */
	for (int i = 0; i < made; i++) {
		switch (kind) {
		case SEM:
			CHECK_SYS(sem_post(&sem));
			break;
		case MUTEX:
			if (i == 0)
				CHECK_RC(pthread_mutex_unlock(&mu), 0);
			break;
		case COND:
			CHECK_RC(pthread_mutex_lock(&cmu), 0);
			tokens++;
			CHECK_RC(pthread_cond_signal(&cv), 0);
			CHECK_RC(pthread_mutex_unlock(&cmu), 0);
			break;
		}
		wait_done(i + 1);
	}
	if (kind == MUTEX && made == 0)
		CHECK_RC(pthread_mutex_unlock(&mu), 0);
	for (int i = 0; i < made; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	if (!r) {
		printf("%s woke:", names[kind]);
		for (int i = 0; i < N; i++)
			printf(" %d", order[i]);
		printf("\n");
	}
	return r;
}

int main(void)
{
	CHECK_SYS(sem_init(&sem, 0, 0));
	for (int k = 0; k < NKINDS; k++)
		if (one(k))
			break;
	return 0;
}
