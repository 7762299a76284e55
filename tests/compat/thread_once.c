/* thread_once.c: compat test of pthread_once (DESIGN.md §2.1): with many threads racing
 * on one control, the init routine runs exactly once and every caller returns only after
 * it has completed (even when it blocks); separate controls are independent; an init
 * routine may itself use another once control.
 */
#include "compat.h"
#include <stdatomic.h>
#include <unistd.h>

#define N 32

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_once_t inner_once = PTHREAD_ONCE_INIT;
static pthread_once_t per[4] = { PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
				 PTHREAD_ONCE_INIT };
static atomic_int init_runs, inner_runs, per_runs[4], done, early;

static void inner_init(void)
{
	atomic_fetch_add(&inner_runs, 1);
}

/* Blocks for a while so that the other callers have to wait for it. */
static void init(void)
{
	atomic_fetch_add(&init_runs, 1);
	usleep(50000);
	CHECK_RC(pthread_once(&inner_once, inner_init), 0);
	atomic_store(&done, 1);
}

static void init0(void) { atomic_fetch_add(&per_runs[0], 1); }
static void init1(void) { atomic_fetch_add(&per_runs[1], 1); }
static void init2(void) { atomic_fetch_add(&per_runs[2], 1); }
static void init3(void) { atomic_fetch_add(&per_runs[3], 1); }
static void (*per_init[4])(void) = { init0, init1, init2, init3 };

static void *caller(void *arg)
{
	int i;

	(void)arg;
	CHECK_RC(pthread_once(&once, init), 0);
	if (!atomic_load(&done))
		atomic_fetch_add(&early, 1);
	for (i = 0; i < 4; i++)
		CHECK_RC(pthread_once(&per[i], per_init[i]), 0);
	return NULL;
}

int main(void)
{
	pthread_t t[N];
	int i;

	for (i = 0; i < N; i++)
		CHECK_RC(pthread_create(&t[i], NULL, caller, NULL), 0);
	CHECK_RC(pthread_once(&once, init), 0);
	for (i = 0; i < N; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	printf("init ran %d times, inner %d times, %d callers returned early\n",
	       atomic_load(&init_runs), atomic_load(&inner_runs), atomic_load(&early));
	printf("per-control inits: %d %d %d %d\n", atomic_load(&per_runs[0]),
	       atomic_load(&per_runs[1]), atomic_load(&per_runs[2]), atomic_load(&per_runs[3]));
	CHECK_EQ(init_runs, 1);
	CHECK_EQ(inner_runs, 1);
	CHECK_EQ(early, 0);
	for (i = 0; i < 4; i++)
		CHECK_EQ(per_runs[i], 1);
	return 0;
}
