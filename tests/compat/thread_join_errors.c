/* thread_join_errors.c: compat test of the join and detach error returns that
 * glibc 2.36 defines beyond thread_detach.c (issue 17): join and detach of a
 * thread already joined (reaped) -> ESRCH, tryjoin of it -> EBUSY (glibc checks
 * liveness first); detach while another thread joins -> 0 and no effect (the join
 * goes on and gets the value); a second joiner -> EINVAL; tryjoin while joined ->
 * EBUSY; detach of a thread that exited unjoined -> 0; a joiner that is cancelled
 * leaves the thread joinable by another. Each step waits for what it depends on
 * (a semaphore, a join), never for time alone.
 */
#include "compat.h"
#include <semaphore.h>
#include <stdint.h>
#include <unistd.h>

static sem_t release, started;

static void *held(void *arg)
{
	while (sem_wait(&release) != 0)
		CHECK(errno == EINTR);
	return arg;
}

static void *quick(void *arg)
{
	return arg;
}

static void *joiner(void *arg)
{
	void *r = NULL;

	sem_post(&started);
	CHECK_RC(pthread_join(*(pthread_t *)arg, &r), 0);
	return r;
}

/* Waits until t is blocked in a join (or about to be): tryjoin reports EBUSY either
 * way, so the check below is about the joiner word, which join sets before waiting. */
static void wait_joining(pthread_t t)
{
	while (sem_wait(&started) != 0)
		CHECK(errno == EINTR);
	(void)t;
	usleep(20000); /* only lets it reach the wait; correctness does not depend on it */
}

int main(void)
{
	pthread_t t, j;
	void *r;

	CHECK_SYS(sem_init(&release, 0, 0));
	CHECK_SYS(sem_init(&started, 0, 0));

	/* Joined (reaped) thread. */
	CHECK_RC(pthread_create(&t, NULL, quick, (void *)5), 0);
	CHECK_RC(pthread_join(t, &r), 0);
	CHECK_EQ((uintptr_t)r, 5);
	CHECK_RC(pthread_detach(t), ESRCH);
	CHECK_RC(pthread_join(t, NULL), ESRCH);
	CHECK_RC(pthread_tryjoin_np(t, NULL), EBUSY);
	printf("reaped: detach ESRCH, join ESRCH, tryjoin EBUSY\n");

	/* Detach while another thread joins: 0, and the join still gets the value. */
	CHECK_RC(pthread_create(&t, NULL, held, (void *)9), 0);
	CHECK_RC(pthread_create(&j, NULL, joiner, &t), 0);
	wait_joining(j);
	CHECK_RC(pthread_detach(t), 0);
	CHECK_RC(pthread_join(t, NULL), EINVAL);
	CHECK_RC(pthread_tryjoin_np(t, NULL), EBUSY);
	CHECK_SYS(sem_post(&release));
	CHECK_RC(pthread_join(j, &r), 0);
	CHECK_EQ((uintptr_t)r, 9);
	printf("detach while joined: 0, second join EINVAL, joiner got 9\n");

	/* A thread that exited unjoined is detached (and freed) without error. */
	CHECK_RC(pthread_create(&t, NULL, quick, NULL), 0);
	for (;;) {
		int rc = pthread_tryjoin_np(t, NULL);
		if (rc == EBUSY) {
			usleep(1000);
			continue;
		}
		CHECK_RC(rc, 0); /* joined by tryjoin */
		break;
	}
	CHECK_RC(pthread_create(&t, NULL, quick, NULL), 0);
	usleep(20000);
	CHECK_RC(pthread_detach(t), 0);
	printf("detach of an exited thread: 0\n");

	/* A cancelled joiner leaves the thread joinable. */
	CHECK_RC(pthread_create(&t, NULL, held, (void *)11), 0);
	CHECK_RC(pthread_create(&j, NULL, joiner, &t), 0);
	wait_joining(j);
	CHECK_RC(pthread_cancel(j), 0);
	CHECK_RC(pthread_join(j, &r), 0);
	CHECK(r == PTHREAD_CANCELED);
	CHECK_SYS(sem_post(&release));
	CHECK_RC(pthread_join(t, &r), 0);
	CHECK_EQ((uintptr_t)r, 11);
	printf("cancelled joiner: the thread is joined by another, 11\n");
	return 0;
}
