/* cond_10k.c: scale test (a): N threads (default 10,000) with a 64 KiB stack attribute
 * all wait on one condition variable. While they wait, and only when preloaded
 * (GOSHIM_TEST_PRELOADED=1), the program reads Threads: from /proc/self/status and
 * fails unless it is <= GOSHIM_PROCS + 3 (the kernel threads behind N green threads).
 * Then one broadcast wakes them, all are joined, and the count is printed; the output
 * is the same natively and preloaded. Usage: cond_10k [N]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t all_in = PTHREAD_COND_INITIALIZER;
static long n, waiting, woke;
static int go;

static void *waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	if (++waiting == n)
		pthread_cond_signal(&all_in);
	while (!go)
		pthread_cond_wait(&cv, &mu);
	woke++;
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* The Threads: line of /proc/self/status, or -1. */
static long kernel_threads(void)
{
	char line[256];
	long t = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %ld", &t) == 1)
			break;
	fclose(f);
	return t;
}

int main(int argc, char **argv)
{
	const char *pre = getenv("GOSHIM_TEST_PRELOADED");
	pthread_attr_t a;
	pthread_t *t;
	long i, kt;
	int rc;

	n = argc > 1 ? atol(argv[1]) : 10000;
	t = calloc(n, sizeof(*t));
	if (!t || pthread_attr_init(&a) || pthread_attr_setstacksize(&a, 64 * 1024)) {
		fprintf(stderr, "cond_10k: setup failed\n");
		return 1;
	}
	for (i = 0; i < n; i++) {
		rc = pthread_create(&t[i], &a, waiter, NULL);
		if (rc) {
			fprintf(stderr, "cond_10k: pthread_create #%ld: %s\n", i, strerror(rc));
			return 1;
		}
	}
	pthread_mutex_lock(&mu);
	while (waiting < n)
		pthread_cond_wait(&all_in, &mu);
	kt = kernel_threads();
	fprintf(stderr, "cond_10k: %ld threads waiting, %ld kernel threads\n", waiting, kt);
	if (pre && strcmp(pre, "1") == 0) {
		const char *p = getenv("GOSHIM_PROCS");
		long procs = p ? atol(p) : 0;

		if (procs <= 0 || kt < 0 || kt > procs + 3) {
			fprintf(stderr, "cond_10k: FAIL: %ld kernel threads with GOSHIM_PROCS=%s, "
				"want <= GOSHIM_PROCS + 3\n", kt, p ? p : "(unset)");
			return 1;
		}
	}
	go = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (i = 0; i < n; i++) {
		rc = pthread_join(t[i], NULL);
		if (rc) {
			fprintf(stderr, "cond_10k: pthread_join #%ld: %s\n", i, strerror(rc));
			return 1;
		}
	}
	printf("%ld threads with 64 KiB stacks waited on one condvar; %ld woke and joined\n", n, woke);
	return woke == n ? 0 : 1;
}
