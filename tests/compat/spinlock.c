/* spinlock.c: compat test of pthread spinlocks (DESIGN.md §2.2): N threads x M
 * increments under a spinlock give an exact total with no overlap inside; trylock is
 * EBUSY while another thread holds it and 0 when free.
 */
#include "compat.h"
#include <semaphore.h>
#include <stdatomic.h>

#define N 4
#define M 50000

static pthread_spinlock_t sl;
static long total;
static atomic_int inside, overlaps;
static sem_t held, release;

static void *adder(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < M; i++) {
		CHECK_RC(pthread_spin_lock(&sl), 0);
		if (atomic_fetch_add(&inside, 1) != 0)
			atomic_fetch_add(&overlaps, 1);
		total++;
		atomic_fetch_sub(&inside, 1);
		CHECK_RC(pthread_spin_unlock(&sl), 0);
	}
	return NULL;
}

static void *holder(void *arg)
{
	(void)arg;
	CHECK_RC(pthread_spin_lock(&sl), 0);
	CHECK_SYS(sem_post(&held));
	while (sem_wait(&release) != 0)
		CHECK(errno == EINTR);
	CHECK_RC(pthread_spin_unlock(&sl), 0);
	return NULL;
}

int main(void)
{
	pthread_t t[N];
	int i;

	CHECK_RC(pthread_spin_init(&sl, PTHREAD_PROCESS_PRIVATE), 0);
	CHECK_SYS(sem_init(&held, 0, 0));
	CHECK_SYS(sem_init(&release, 0, 0));

	CHECK_RC(pthread_create(&t[0], NULL, holder, NULL), 0);
	while (sem_wait(&held) != 0)
		CHECK(errno == EINTR);
	CHECK_RC(pthread_spin_trylock(&sl), EBUSY);
	CHECK_SYS(sem_post(&release));
	CHECK_RC(pthread_join(t[0], NULL), 0);
	CHECK_RC(pthread_spin_trylock(&sl), 0);
	CHECK_RC(pthread_spin_unlock(&sl), 0);
	printf("trylock: EBUSY while held, 0 when free\n");

	for (i = 0; i < N; i++)
		CHECK_RC(pthread_create(&t[i], NULL, adder, NULL), 0);
	for (i = 0; i < N; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	printf("total %ld, overlaps %d\n", total, atomic_load(&overlaps));
	CHECK_EQ(total, (long)N * M);
	CHECK_EQ(overlaps, 0);
	CHECK_RC(pthread_spin_destroy(&sl), 0);
	return 0;
}
