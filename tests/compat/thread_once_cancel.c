/* thread_once_cancel.c: compat test of pthread_once whose init routine is cancelled
 * (issue 17; POSIX: "if an init_routine is a cancellation point and is canceled,
 * the effect on once_control shall be as if pthread_once() was never called"):
 * the cancelled thread's cleanup handlers run, a thread already waiting in
 * pthread_once on the same control then runs the routine itself, and later calls
 * return at once.
 */
#include "compat.h"
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_int runs, cleanups;
static sem_t in_init;

static void init(void)
{
	if (atomic_fetch_add(&runs, 1) == 0) {
		sem_post(&in_init);
		for (;;)
			pause(); /* a cancellation point; only cancellation ends it */
	}
}

static void cleanup(void *arg)
{
	(void)arg;
	atomic_fetch_add(&cleanups, 1);
}

static void *caller(void *arg)
{
	if (arg)
		*(_Atomic pid_t *)arg = gettid();
	pthread_cleanup_push(cleanup, NULL);
	CHECK_RC(pthread_once(&once, init), 0);
	pthread_cleanup_pop(0);
	return (void *)1;
}

int main(void)
{
	pthread_t a, b;
	void *r;
	static _Atomic pid_t b_tid;

	CHECK_SYS(sem_init(&in_init, 0, 0));
	CHECK_RC(pthread_create(&a, NULL, caller, NULL), 0);
	while (sem_wait(&in_init) != 0)
		CHECK(errno == EINTR);
	CHECK_RC(pthread_create(&b, NULL, caller, (void *)&b_tid), 0);
	while (!atomic_load(&b_tid))
		sched_yield();
	wait_blocked(atomic_load(&b_tid), -1, -1); /* b waits in pthread_once */
	CHECK_RC(pthread_cancel(a), 0);
	CHECK_RC(pthread_join(a, &r), 0);
	CHECK(r == PTHREAD_CANCELED);
	CHECK_RC(pthread_join(b, &r), 0);
	CHECK_EQ((uintptr_t)r, 1);
	CHECK_RC(pthread_once(&once, init), 0);
	printf("runs %d, cleanups %d\n", atomic_load(&runs), atomic_load(&cleanups));
	return 0;
}
