/* barrier_1m.c: scale test (c): N threads (default 1,000,000) with a 16 KiB stack
 * attribute, all alive at once: each waits on one barrier of N + 1 (main is the last to
 * arrive), then all are joined. Asserts exactly one PTHREAD_BARRIER_SERIAL_THREAD and
 * N successful joins; prints the count. Run preloaded only: natively a million kernel
 * threads exceed the process limits. Usage: barrier_1m [N]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_barrier_t bar;
static atomic_long serial, bad;

static void *body(void *arg)
{
	int rc = pthread_barrier_wait(&bar);

	if (rc == PTHREAD_BARRIER_SERIAL_THREAD)
		atomic_fetch_add(&serial, 1);
	else if (rc != 0)
		atomic_fetch_add(&bad, 1);
	return arg;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000, i, joined = 0;
	pthread_attr_t a;
	pthread_t *t;
	int rc;

	t = calloc(n, sizeof(*t));
	if (!t || pthread_attr_init(&a) || pthread_attr_setstacksize(&a, 16 * 1024) ||
	    pthread_barrier_init(&bar, NULL, (unsigned)n + 1)) {
		fprintf(stderr, "barrier_1m: setup failed\n");
		return 1;
	}
	for (i = 0; i < n; i++) {
		rc = pthread_create(&t[i], &a, body, NULL);
		if (rc) {
			fprintf(stderr, "barrier_1m: pthread_create #%ld: %s\n", i, strerror(rc));
			return 1;
		}
	}
	rc = pthread_barrier_wait(&bar);
	if (rc == PTHREAD_BARRIER_SERIAL_THREAD)
		atomic_fetch_add(&serial, 1);
	else if (rc != 0)
		atomic_fetch_add(&bad, 1);
	for (i = 0; i < n; i++) {
		rc = pthread_join(t[i], NULL);
		if (rc) {
			fprintf(stderr, "barrier_1m: pthread_join #%ld: %s\n", i, strerror(rc));
			return 1;
		}
		joined++;
	}
	if (atomic_load(&serial) != 1 || atomic_load(&bad) != 0) {
		fprintf(stderr, "barrier_1m: %ld serial returns (want 1), %ld errors\n",
			atomic_load(&serial), atomic_load(&bad));
		return 1;
	}
	printf("%ld threads with 16 KiB stacks met at one barrier and joined\n", joined);
	return 0;
}
