/* limit_as_threads: under setrlimit(RLIMIT_AS, 768 MiB), threads with an
 * explicit 8 MiB stack are created until pthread_create fails; every made
 * thread is then released and joined. Prints the count, the error and the
 * joins; limit_as_threads.sh compares the count with the native one. Also
 * checks that a thread with default attributes can still be made and joined
 * once the big ones are gone (their memory is reusable).
 *
 * Natively (glibc 2.36, 2026-12-06): 95 threads, then EAGAIN. Before the
 * stack reservations fell back to smaller chunks, preloaded made none: one
 * 8 MiB stack reserved a chunk of 256 of them (2 GiB). */
#include "compat.h"
#include <sys/resource.h>

#define LIMIT (768UL << 20)
#define STACK (8UL << 20)
#define MAXT 4096

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int go, started;

static void *waiter(void *arg)
{
	pthread_mutex_lock(&mu);
	started++;
	while (!go)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return arg;
}

static pthread_t t[MAXT];

int main(void)
{
	struct rlimit rl = { LIMIT, LIMIT };
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_max != RLIM_INFINITY && rl.rlim_max < LIMIT)
		FAIL("the hard RLIMIT_AS is below %lu", LIMIT);
	rl.rlim_cur = LIMIT;
	if (setrlimit(RLIMIT_AS, &rl) != 0)
		FAIL("setrlimit: %s", strerror(errno));
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, STACK);
	int n = 0, r = 0;
	while (n < MAXT && (r = pthread_create(&t[n], &a, waiter, (void *)(long)n)) == 0)
		n++;
	pthread_attr_destroy(&a);
	printf("created %d\n", n);
	printf("pthread_create: %s\n", errname(r));
	pthread_mutex_lock(&mu);
	go = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	int joined = 0;
	for (int i = 0; i < n; i++) {
		void *ret;
		if (pthread_join(t[i], &ret) == 0 && ret == (void *)(long)i)
			joined++;
	}
	printf("joined %d of %d\n", joined, n);
	pthread_t d;
	r = pthread_create(&d, NULL, waiter, NULL);
	printf("a default thread afterwards: %s\n", errname(r));
	if (r == 0)
		printf("joined it: %s\n", errname(pthread_join(d, NULL)));
	return 0;
}
