/* sleep_100k.c: scale test (b): N threads (default 100,000) with default attributes,
 * each sleeping 2 s, created and then joined; every join must succeed with the
 * thread's own return value; prints the count. Run preloaded only: natively N default
 * stacks exceed vm.max_map_count. Usage: sleep_100k [N [SECONDS]]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned secs = 2;
static atomic_long alive, peak;

static void *sleeper(void *arg)
{
	long now = atomic_fetch_add(&alive, 1) + 1, p = atomic_load(&peak);

	while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
		;
	sleep(secs);
	atomic_fetch_sub(&alive, 1);
	return arg;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000, i, joined = 0;
	pthread_t *t;
	void *r;
	int rc;

	if (argc > 2)
		secs = (unsigned)atoi(argv[2]);
	t = calloc(n, sizeof(*t));
	if (!t)
		return 1;
	for (i = 0; i < n; i++) {
		rc = pthread_create(&t[i], NULL, sleeper, (void *)(uintptr_t)i);
		if (rc) {
			fprintf(stderr, "sleep_100k: pthread_create #%ld: %s\n", i, strerror(rc));
			return 1;
		}
	}
	for (i = 0; i < n; i++) {
		rc = pthread_join(t[i], &r);
		if (rc || (uintptr_t)r != (uintptr_t)i) {
			fprintf(stderr, "sleep_100k: pthread_join #%ld: %s, result %lu\n", i,
				strerror(rc), (unsigned long)(uintptr_t)r);
			return 1;
		}
		joined++;
	}
	fprintf(stderr, "sleep_100k: at most %ld sleeping at once\n", atomic_load(&peak));
	printf("%ld threads slept %u s and joined\n", joined, secs);
	return 0;
}
