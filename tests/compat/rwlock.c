/* rwlock.c: compat test of read-write locks (DESIGN.md §2.2): N readers hold the
 * (statically initialised) lock together (they meet at a barrier inside it, which would
 * hang if readers were exclusive); tryrdlock/trywrlock EBUSY against a writer or reader;
 * timed and clock variants ETIMEDOUT after at least the timeout and EINVAL for a bad
 * clock; a writer relocking (read or write) EDEADLK; writers exclude everyone (a pair of
 * counters is always seen equal) with exact totals.
 */
#include "compat.h"
#include <stdatomic.h>
#include <unistd.h>

#define READERS 8
#define WRITERS 4
#define WITERS 5000
#define RITERS 5000

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t inside;
static long a, b;
static atomic_int torn;
static int res[8];

static void *parallel_reader(void *arg)
{
	(void)arg;
	CHECK_RC(pthread_rwlock_rdlock(&rw), 0);
	pthread_barrier_wait(&inside);
	CHECK_RC(pthread_rwlock_unlock(&rw), 0);
	return NULL;
}

/* Runs while main holds the lock for reading (arg 0) or writing (arg 1). */
static void *prober(void *arg)
{
	int writer_holds = (int)(long)arg;
	struct timespec ts;
	long long start;

	res[0] = pthread_rwlock_tryrdlock(&rw);
	if (res[0] == 0)
		pthread_rwlock_unlock(&rw);
	res[1] = pthread_rwlock_trywrlock(&rw);

	start = now_ns(CLOCK_REALTIME);
	ts = deadline_ms(CLOCK_REALTIME, 100);
	res[2] = pthread_rwlock_timedwrlock(&rw, &ts);
	CHECK_ELAPSED(CLOCK_REALTIME, start, 100);
	start = now_ns(CLOCK_MONOTONIC);
	ts = deadline_ms(CLOCK_MONOTONIC, 100);
	res[3] = pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &ts);
	CHECK_ELAPSED(CLOCK_MONOTONIC, start, 100);
	if (writer_holds) {
		start = now_ns(CLOCK_REALTIME);
		ts = deadline_ms(CLOCK_REALTIME, 100);
		res[4] = pthread_rwlock_timedrdlock(&rw, &ts);
		CHECK_ELAPSED(CLOCK_REALTIME, start, 100);
		start = now_ns(CLOCK_MONOTONIC);
		ts = deadline_ms(CLOCK_MONOTONIC, 100);
		res[5] = pthread_rwlock_clockrdlock(&rw, CLOCK_MONOTONIC, &ts);
		CHECK_ELAPSED(CLOCK_MONOTONIC, start, 100);
	} else {
		ts = deadline_ms(CLOCK_REALTIME, 100);
		res[4] = pthread_rwlock_timedrdlock(&rw, &ts);
		if (res[4] == 0)
			pthread_rwlock_unlock(&rw);
		ts.tv_sec = 1;
		res[5] = pthread_rwlock_timedwrlock(&rw, &ts);
	}
	ts = deadline_ms(CLOCK_REALTIME, 100);
	res[6] = pthread_rwlock_clockwrlock(&rw, CLOCK_PROCESS_CPUTIME_ID, &ts);
	ts.tv_nsec = 1000000000;
	res[7] = pthread_rwlock_timedwrlock(&rw, &ts);
	return NULL;
}

static void probe(const char *held_by, int writer)
{
	const char *what[] = { "tryrdlock", "trywrlock", "timedwrlock", "clockwrlock",
			       writer ? "timedrdlock" : "timedrdlock (shared)",
			       writer ? "clockrdlock" : "timedwrlock in the past",
			       "clockwrlock cputime clock", "timedwrlock tv_nsec 1e9" };
	pthread_t t;
	int i;

	CHECK_RC(pthread_create(&t, NULL, prober, (void *)(long)writer), 0);
	CHECK_RC(pthread_join(t, NULL), 0);
	for (i = 0; i < 8; i++)
		printf("%s holds, %s: %s\n", held_by, what[i], errname(res[i]));
}

static void *writer(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < WITERS; i++) {
		CHECK_RC(pthread_rwlock_wrlock(&rw), 0);
		a++;
		if (i % 100 == 0)
			usleep(100);
		b++;
		CHECK_RC(pthread_rwlock_unlock(&rw), 0);
	}
	return NULL;
}

static void *reader(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < RITERS; i++) {
		CHECK_RC(pthread_rwlock_rdlock(&rw), 0);
		if (a != b)
			atomic_fetch_add(&torn, 1);
		CHECK_RC(pthread_rwlock_unlock(&rw), 0);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[READERS + WRITERS];
	pthread_rwlockattr_t at;
	int i;

	/* Readers in parallel. */
	CHECK_RC(pthread_barrier_init(&inside, NULL, READERS), 0);
	for (i = 0; i < READERS; i++)
		CHECK_RC(pthread_create(&t[i], NULL, parallel_reader, NULL), 0);
	for (i = 0; i < READERS; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	printf("%d readers held the lock together\n", READERS);

	/* Probes against a reader and against a writer. */
	CHECK_RC(pthread_rwlock_rdlock(&rw), 0);
	probe("reader", 0);
	CHECK(res[0] == 0 && res[1] == EBUSY && res[2] == ETIMEDOUT && res[3] == ETIMEDOUT);
	CHECK(res[4] == 0 && res[5] == ETIMEDOUT && res[6] == EINVAL);
	CHECK_RC(pthread_rwlock_unlock(&rw), 0);

	CHECK_RC(pthread_rwlock_wrlock(&rw), 0);
	probe("writer", 1);
	CHECK(res[0] == EBUSY && res[1] == EBUSY && res[2] == ETIMEDOUT && res[3] == ETIMEDOUT);
	CHECK(res[4] == ETIMEDOUT && res[5] == ETIMEDOUT && res[6] == EINVAL);
	CHECK_RC(pthread_rwlock_wrlock(&rw), EDEADLK);
	CHECK_RC(pthread_rwlock_rdlock(&rw), EDEADLK);
	printf("writer relock: EDEADLK, writer rdlock: EDEADLK\n");
	CHECK_RC(pthread_rwlock_unlock(&rw), 0);

	/* Writers and readers mixed, on a writer-preferring lock as well. */
	for (int round = 0; round < 2; round++) {
		if (round == 1) {
			CHECK_RC(pthread_rwlock_destroy(&rw), 0);
			CHECK_RC(pthread_rwlockattr_init(&at), 0);
			CHECK_RC(pthread_rwlockattr_setkind_np(&at,
					PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP), 0);
			CHECK_RC(pthread_rwlock_init(&rw, &at), 0);
		}
		a = b = 0;
		for (i = 0; i < READERS + WRITERS; i++)
			CHECK_RC(pthread_create(&t[i], NULL, i < WRITERS ? writer : reader, NULL), 0);
		for (i = 0; i < READERS + WRITERS; i++)
			CHECK_RC(pthread_join(t[i], NULL), 0);
		printf("%s: writes %ld/%ld, torn reads %d\n",
		       round ? "prefer-writer" : "default", a, b, atomic_load(&torn));
		CHECK_EQ(a, WRITERS * WITERS);
		CHECK_EQ(b, WRITERS * WITERS);
		CHECK_EQ(torn, 0);
	}
	return 0;
}
