/* thread_yield.c: compat test of sched_yield/pthread_yield (DESIGN.md §2.1): two threads
 * hand a token back and forth by spinning on an atomic with sched_yield (never blocking),
 * which must finish even on one processor; both calls return 0.
 */
// compat-cflags: -Wno-deprecated-declarations
#include "compat.h"
#include <sched.h>
#include <stdatomic.h>

#define ROUNDS 2000

static atomic_int turn;
static long count[2];
static atomic_int bad;

static void *player(void *arg)
{
	int me = (int)(long)arg, i;

	for (i = 0; i < ROUNDS; i++) {
		while (atomic_load(&turn) != me) {
			int rc = me ? pthread_yield() : sched_yield();

			if (rc != 0)
				atomic_fetch_add(&bad, 1);
		}
		count[me]++;
		atomic_store(&turn, !me);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[2];
	int i;

	CHECK_EQ(sched_yield(), 0);
	for (i = 0; i < 2; i++)
		CHECK_RC(pthread_create(&t[i], NULL, player, (void *)(long)i), 0);
	for (i = 0; i < 2; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	printf("rounds %ld %ld, bad yields %d\n", count[0], count[1], atomic_load(&bad));
	CHECK_EQ(count[0], ROUNDS);
	CHECK_EQ(count[1], ROUNDS);
	CHECK_EQ(bad, 0);
	return 0;
}
