/* mutex_static.c: compat test of statically initialised mutexes (DESIGN.md §2.2):
 * PTHREAD_MUTEX_INITIALIZER (and an all-zero .bss mutex, which glibc treats alike) under
 * contention, PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP relocked by its owner,
 * PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP relock EDEADLK, PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
 * the first use of each happens in a new thread, so the shim meets them there first.
 */
#include "compat.h"

#define N 8
#define ITERS 20000

static pthread_mutex_t plain = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t zeroed; /* all zero bytes */
static pthread_mutex_t rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t err = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
static pthread_mutex_t adapt = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
static long c_plain, c_zeroed, c_rec, c_err, c_adapt;

static void *worker(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < ITERS; i++) {
		CHECK_RC(pthread_mutex_lock(&plain), 0);
		c_plain++;
		CHECK_RC(pthread_mutex_unlock(&plain), 0);

		CHECK_RC(pthread_mutex_lock(&zeroed), 0);
		c_zeroed++;
		CHECK_RC(pthread_mutex_unlock(&zeroed), 0);

		CHECK_RC(pthread_mutex_lock(&rec), 0);
		CHECK_RC(pthread_mutex_lock(&rec), 0);
		c_rec++;
		CHECK_RC(pthread_mutex_unlock(&rec), 0);
		CHECK_RC(pthread_mutex_unlock(&rec), 0);

		CHECK_RC(pthread_mutex_lock(&err), 0);
		if (i == 0)
			CHECK_RC(pthread_mutex_lock(&err), EDEADLK);
		c_err++;
		CHECK_RC(pthread_mutex_unlock(&err), 0);

		CHECK_RC(pthread_mutex_lock(&adapt), 0);
		c_adapt++;
		CHECK_RC(pthread_mutex_unlock(&adapt), 0);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[N];
	int i;

	for (i = 0; i < N; i++)
		CHECK_RC(pthread_create(&t[i], NULL, worker, NULL), 0);
	for (i = 0; i < N; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	printf("counts: plain %ld zeroed %ld recursive %ld errorcheck %ld adaptive %ld\n",
	       c_plain, c_zeroed, c_rec, c_err, c_adapt);
	CHECK(c_plain == N * ITERS && c_zeroed == N * ITERS && c_rec == N * ITERS &&
	      c_err == N * ITERS && c_adapt == N * ITERS);
	CHECK_RC(pthread_mutex_unlock(&err), EPERM);
	CHECK_RC(pthread_mutex_unlock(&rec), EPERM);
	return 0;
}
