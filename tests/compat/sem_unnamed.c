/* sem_unnamed.c: compat test of unnamed POSIX semaphores (DESIGN.md §2.2, §2.6):
 * sem_trywait -1/EAGAIN on zero, sem_post/sem_getvalue, sem_timedwait and
 * sem_clockwait -1/ETIMEDOUT after at least the timeout, -1/EINVAL for a bad tv_nsec
 * or clock, sem_init above SEM_VALUE_MAX EINVAL, sem_post at SEM_VALUE_MAX EOVERFLOW,
 * a timed wait that is posted in time, and producers/consumers with exact counts.
 */
#include "compat.h"
#include <limits.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <unistd.h>

#define PAIRS 4
#define ITEMS 20000

static sem_t s, items;
static atomic_long consumed;
static atomic_int waiting;

static void *producer(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < ITEMS; i++)
		CHECK_SYS(sem_post(&items));
	return NULL;
}

static void *consumer(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < ITEMS; i++) {
		while (sem_wait(&items) != 0)
			CHECK(errno == EINTR);
		atomic_fetch_add(&consumed, 1);
	}
	return NULL;
}

static void *poster(void *arg)
{
	(void)arg;
	while (!atomic_load(&waiting))
		usleep(1000);
	usleep(10000);
	CHECK_SYS(sem_post(&s));
	return NULL;
}

int main(void)
{
	struct timespec ts;
	long long start;
	pthread_t t[2 * PAIRS];
	sem_t big;
	int v, i;

	CHECK_SYS(sem_init(&s, 0, 0));
	CHECK_ERRNO(sem_trywait(&s), EAGAIN);
	CHECK_SYS(sem_post(&s));
	CHECK_SYS(sem_post(&s));
	CHECK_SYS(sem_getvalue(&s, &v));
	CHECK_EQ(v, 2);
	CHECK_SYS(sem_trywait(&s));
	CHECK_SYS(sem_wait(&s));
	CHECK_SYS(sem_getvalue(&s, &v));
	CHECK_EQ(v, 0);
	printf("trywait on 0: EAGAIN; post, post, getvalue 2, trywait, wait, getvalue 0\n");

	start = now_ns(CLOCK_REALTIME);
	ts = deadline_ms(CLOCK_REALTIME, 100);
	CHECK_ERRNO(sem_timedwait(&s, &ts), ETIMEDOUT);
	CHECK_ELAPSED(CLOCK_REALTIME, start, 100);
	start = now_ns(CLOCK_MONOTONIC);
	ts = deadline_ms(CLOCK_MONOTONIC, 100);
	CHECK_ERRNO(sem_clockwait(&s, CLOCK_MONOTONIC, &ts), ETIMEDOUT);
	CHECK_ELAPSED(CLOCK_MONOTONIC, start, 100);
	ts.tv_sec = 1;
	ts.tv_nsec = 0;
	CHECK_ERRNO(sem_timedwait(&s, &ts), ETIMEDOUT);
	printf("timedwait and clockwait 100ms: ETIMEDOUT; deadline in the past: ETIMEDOUT\n");

	ts.tv_nsec = 1000000000;
	CHECK_ERRNO(sem_timedwait(&s, &ts), EINVAL);
	ts.tv_nsec = -1;
	CHECK_ERRNO(sem_clockwait(&s, CLOCK_MONOTONIC, &ts), EINVAL);
	ts = deadline_ms(CLOCK_REALTIME, 100);
	CHECK_ERRNO(sem_clockwait(&s, CLOCK_PROCESS_CPUTIME_ID, &ts), EINVAL);
	CHECK_SYS(sem_post(&s));
	ts.tv_nsec = 1000000000;
	errno = 0;
	i = sem_timedwait(&s, &ts); /* available; glibc checks the time first */
	printf("bad tv_nsec: EINVAL; bad clock: EINVAL; bad tv_nsec when available: %d %s\n",
	       i, errname(i ? errno : 0));
	if (i == 0)
		CHECK_SYS(sem_post(&s));
	CHECK_SYS(sem_trywait(&s));

	CHECK_ERRNO(sem_init(&big, 0, (unsigned)SEM_VALUE_MAX + 1), EINVAL);
	CHECK_SYS(sem_init(&big, 0, SEM_VALUE_MAX));
	CHECK_ERRNO(sem_post(&big), EOVERFLOW);
	CHECK_SYS(sem_getvalue(&big, &v));
	CHECK_EQ(v, SEM_VALUE_MAX);
	CHECK_SYS(sem_destroy(&big));
	printf("init above SEM_VALUE_MAX: EINVAL; post at SEM_VALUE_MAX: EOVERFLOW\n");

	CHECK_RC(pthread_create(&t[0], NULL, poster, NULL), 0);
	ts = deadline_ms(CLOCK_REALTIME, 30000);
	atomic_store(&waiting, 1);
	CHECK_SYS(sem_timedwait(&s, &ts));
	CHECK_RC(pthread_join(t[0], NULL), 0);
	printf("timedwait posted in time: 0\n");

	CHECK_SYS(sem_init(&items, 0, 0));
	for (i = 0; i < PAIRS; i++) {
		CHECK_RC(pthread_create(&t[i], NULL, consumer, NULL), 0);
		CHECK_RC(pthread_create(&t[PAIRS + i], NULL, producer, NULL), 0);
	}
	for (i = 0; i < 2 * PAIRS; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	CHECK_SYS(sem_getvalue(&items, &v));
	printf("%d producers, %d consumers: consumed %ld, left %d\n", PAIRS, PAIRS,
	       atomic_load(&consumed), v);
	CHECK_EQ(consumed, PAIRS * ITEMS);
	CHECK_EQ(v, 0);
	CHECK_SYS(sem_destroy(&items));
	CHECK_SYS(sem_destroy(&s));
	return 0;
}
