/* thread_main_returns.c: compat test of main returning while other threads are blocked
 * forever (DESIGN.md §2.1): the process exits at once with main's status (3), atexit
 * handlers run and stdio is flushed, whatever the other threads are blocked in
 * (condition wait, mutex lock, semaphore, join, sleep, barrier, rwlock).
 */
// compat-exit: 3
#include "compat.h"
#include <semaphore.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t ready_cv = PTHREAD_COND_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t bar;
static sem_t sem;
static int ready;
static pthread_t cond_thread;

static void arrived(void)
{
	pthread_mutex_lock(&mu);
	ready++;
	pthread_cond_broadcast(&ready_cv);
	pthread_mutex_unlock(&mu);
}

static void *on_cond(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	ready++;
	pthread_cond_broadcast(&ready_cv);
	for (;;)
		pthread_cond_wait(&cv, &mu);
	return NULL;
}

static void *on_mutex(void *arg)
{
	(void)arg;
	arrived();
	pthread_mutex_lock(&held);
	FAIL("got a mutex main holds");
}

static void *on_sem(void *arg)
{
	(void)arg;
	arrived();
	for (;;)
		sem_wait(&sem);
	return NULL;
}

static void *on_join(void *arg)
{
	(void)arg;
	arrived();
	pthread_join(cond_thread, NULL);
	FAIL("joined a thread that never ends");
}

static void *on_sleep(void *arg)
{
	(void)arg;
	arrived();
	for (;;)
		sleep(1000);
	return NULL;
}

static void *on_barrier(void *arg)
{
	(void)arg;
	arrived();
	pthread_barrier_wait(&bar);
	FAIL("passed a barrier of 3 alone");
}

static void *on_rwlock(void *arg)
{
	(void)arg;
	arrived();
	pthread_rwlock_wrlock(&rw);
	FAIL("got a write lock while main reads");
}

static void at_exit(void)
{
	printf("atexit handler ran\n");
}

int main(void)
{
	void *(*fn[])(void *) = { on_mutex, on_sem, on_join, on_sleep, on_barrier, on_rwlock };
	int nfn = sizeof(fn) / sizeof(fn[0]), i;
	pthread_t t;

	CHECK_SYS(atexit(at_exit));
	CHECK_SYS(sem_init(&sem, 0, 0));
	CHECK_RC(pthread_barrier_init(&bar, NULL, 3), 0);
	CHECK_RC(pthread_mutex_lock(&held), 0);
	CHECK_RC(pthread_rwlock_rdlock(&rw), 0);
	CHECK_RC(pthread_create(&cond_thread, NULL, on_cond, NULL), 0);
	for (i = 0; i < nfn; i++)
		CHECK_RC(pthread_create(&t, NULL, fn[i], NULL), 0);
	pthread_mutex_lock(&mu);
	while (ready < nfn + 1)
		pthread_cond_wait(&ready_cv, &mu);
	pthread_mutex_unlock(&mu);
	usleep(100000); /* let them reach their blocking calls */
	printf("main returning 3 with %d threads blocked\n", nfn + 1);
	return 3;
}
